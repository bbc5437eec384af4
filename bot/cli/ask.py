"""``csbot ask`` and ``csbot glossary``: one question through the same pipeline as Slack."""

from __future__ import annotations

import argparse

from metrics.settings import Settings

NAME = "ask"


def add_parser(sub) -> None:
    ask = sub.add_parser("ask", help='answer one question (e.g. csbot ask "churn last-month")',
                         epilog='examples:\n  csbot ask "churn last-month"\n  csbot ask "先月の解約率は？" --json',
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    ask.add_argument("text", help="the question, as you would type it in Slack")
    ask.add_argument("--json", action="store_true", help="print the Slack message payloads csbot would post")
    ask.set_defaults(run=run)
    glossary = sub.add_parser("glossary", help="explain a Customer Success term (e.g. csbot glossary NRR)",
                              epilog="examples:\n  csbot glossary NRR\n  csbot glossary チャーンレート",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    glossary.add_argument("term", nargs="*", help="the term; none lists them all")
    glossary.set_defaults(run=run_glossary)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return _ask_and_print(settings, args.text, as_json=args.json)


def run_glossary(args: argparse.Namespace, settings: Settings) -> int:
    return _ask_and_print(settings, "term " + " ".join(args.term), as_json=False)


def _ask_and_print(settings: Settings, text: str, *, as_json: bool) -> int:
    from bot.console import answer_once

    return answer_once(settings, text, as_json=as_json)
