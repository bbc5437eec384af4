"""``csbot digest``: the daily KPI digest from the command line: print it, post it now, or show
the delivery log."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from metrics.settings import Settings

NAME = "digest"
EXAMPLES = """examples:
  csbot digest --dry-run                  print today's digest (every figure, as in a DM)
  csbot digest --dry-run --channel C0123  print it as that channel would see it
  csbot digest --channel '#cs-team'       post it to #cs-team now (needs SLACK_BOT_TOKEN)
  csbot digest --log --limit 10           the last 10 deliveries: sent, failed, skipped and why
"""


def add_parser(sub) -> None:
    p = sub.add_parser("digest", help="the daily KPI digest (e.g. csbot digest --dry-run)",
                       description="The daily KPI digest: print it, post it now, or show the delivery log.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channel", metavar="C", help="post the digest to this channel now (ID, #name or <#C123|name>)")
    p.add_argument("--dry-run", action="store_true", help="print the digest instead of posting it")
    p.add_argument("--log", action="store_true", help="print the delivery log: sent, failed and skipped digests")
    p.add_argument("--limit", type=int, default=30, help="rows of the log (default 30)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, *, now: datetime | None = None) -> int:
    """Exit codes: 0 done, 1 no database / no data / the post failed, 2 a bad command line."""
    # Imported here so that `csbot --help` and the other subcommands start fast.
    from bot.database import open_for_answers
    from commands.digest import Target, build_digest, log_lines, parse_channel
    from commands.messages import t
    from commands.privacy import is_revenue_channel
    from commands.reply import render_text
    from metrics import digest_store as store
    from metrics.clock import utcnow
    from metrics.db import DatabaseUnavailable, is_empty

    lang = settings.language if settings.language in ("en", "ja") else "en"
    target = None
    if args.channel:
        word = args.channel.strip()
        target = parse_channel(word)
        if target is None:
            if not word or " " in word:
                print("csbot digest: --channel takes a channel ID (C0123ABC) or #name.", file=sys.stderr)
                return 2
            target = Target("channel", "#" + word, word)
    if args.channel and not args.dry_run and not args.log and not settings.slack_bot_token:
        print("csbot digest: posting needs SLACK_BOT_TOKEN (xoxb-...) in .env; use --dry-run to print the digest "
              "instead.", file=sys.stderr)
        return 2
    try:
        db = open_for_answers(settings)
    except DatabaseUnavailable as exc:
        print(f"csbot digest: {exc}", file=sys.stderr)
        return 1
    now = now or utcnow()
    if args.log:
        entries = store.delivery_log(db.engine, limit=max(1, args.limit))
        if not entries:
            print(t("digest.log_empty", "en"))
            return 0
        for line in log_lines(entries, settings.tz, lang, slack=False):
            print(line)
        return 0
    if is_empty(db.engine):
        print("csbot digest: there is no data in this database yet; load it with `csbot sync --csv <folder>` "
              "or try `csbot demo`.", file=sys.stderr)
        return 1
    if target is not None and not args.dry_run:
        return _post(target, settings, db, now, lang)
    revenue = True
    if target is not None:
        revenue = is_revenue_channel(settings, target.channel, target.name)
    digest = build_digest(db, settings, now=now, lang=lang, revenue=revenue)
    text = render_text(digest.headline) + "\n\n" + render_text(digest.thread)
    print(text)
    if digest.chart is not None:  # saved as a PNG, as the console does, and its path printed
        from bot.console import print_chart

        print()
        print_chart(digest.chart, lang, settings, sys.stdout)
    return 0


def _post(target, settings: Settings, db, now: datetime, lang: str) -> int:
    """Post the digest to ``target`` (a ``commands.digest.Target``) now, through Slack."""
    from bot.jobs.scheduler import Scheduler
    from bot.slack.client import make_client
    from bot.slack.poster import SlackPoster

    scheduler = Scheduler(SlackPoster(make_client(settings), settings), settings, db)
    ok, reason = scheduler.post_now(target, now=now, lang=lang)
    if ok:
        where = target.name and "#" + target.name.lstrip("#") or target.channel
        print(f"Posted the KPI digest to {where}." + (f" ({reason})" if reason else ""))
        return 0
    print(f"csbot digest: could not post to {target.channel}: {reason}", file=sys.stderr)
    return 1
