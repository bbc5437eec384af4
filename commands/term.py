"""term: a Customer Success term explained in English or Japanese, tied to today's number."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from commands.context import Request
from commands.glossary import Term, extract_term, get_glossary
from commands.periods import parse_period
from commands.reply import Button, Reply
from commands.router import command
from metrics.db import DatabaseUnavailable, is_empty
from metrics.registry import compute_metric, get_metric

logger = logging.getLogger(__name__)

MAX_RELATED = 5


@command("term", example="term NRR",
         aliases=("glossary", "define", "用語", "用語集"),
         keywords=("glossary", "用語"), needs_data=False)
def term(req: Request) -> Reply:
    """term <word>"""
    lang = req.lang
    query = (extract_term(req.args) or req.args).strip() if req.natural else req.args.strip()
    glossary = get_glossary()
    if not query:
        return _index(glossary, lang)
    found = glossary.lookup(query)
    if found.term is None:
        candidates = found.ambiguous or found.suggestions
        if lang == "ja":
            title = f"「{query}」という用語は見つかりませんでした。" if not found.ambiguous else f"「{query}」に当てはまる用語が複数あります。"
            hint = "もしかして、次のどれかですか？" if candidates else "`term` だけで一覧を表示します。"
        else:
            title = f"I don't know the term “{query}”." if not found.ambiguous else f"“{query}” could mean several terms."
            hint = "Did you mean one of these?" if candidates else "Type `term` alone to list every term."
        return Reply(title=title, summary=title, kind="choices", language=lang, lines=(hint,),
                     buttons=tuple(Button("csbot_term", t.name(lang)[:75], f"term {t.key}") for t in candidates))
    return _entry(req, found.term, lang, shown_for=None if found.exact else query)


def _entry(req: Request, t: Term, lang: str, shown_for: str | None) -> Reply:
    other = "en" if lang == "ja" else "ja"
    title = f"{t.name(lang)} · {t.name(other)}"
    lines: list[str] = []
    if shown_for:
        lines.append(f"（「{shown_for}」の検索結果）" if lang == "ja" else f"(showing results for “{shown_for}”)")
    lines.append(f"*{t.text(lang, 'short')}*")
    body = t.text(lang, "body")
    if body:
        lines.append(body)
    how: list[str] = []
    formula = _formula(t, lang)
    if formula:
        lines.append(("*計算式*: " if lang == "ja" else "*Formula*: ") + formula)
    example = t.text(lang, "example")
    if example:
        lines.append(("*例*: " if lang == "ja" else "*Example*: ") + example)
    live, data = _today(req, t, lang)
    if live:
        lines.append(live)
    related = [r for r in get_glossary().related_terms(t)][:MAX_RELATED]
    buttons = tuple(Button("csbot_term", r.name(lang)[:75], f"term {r.key}") for r in related)
    return Reply(title=title, summary=f"{t.name(lang)}: {t.text(lang, 'short')}", language=lang,
                 lines=tuple(lines), how=tuple(how), buttons=buttons, data={"term": t.key, **data})


def _formula(t: Term, lang: str) -> str | None:
    """A metric term's formula comes from the metric's declaration, never written twice."""
    if t.metric:
        try:
            return get_metric(t.metric).formula(lang)
        except KeyError:
            logger.warning("glossary term %s names undeclared metric %s", t.key, t.metric)
            return None
    return t.text(lang, "formula")


def _today(req: Request, t: Term, lang: str) -> tuple[str | None, dict]:
    """"NRR last month: 104.2% (see /nrr)" from the team's own data, when there is some."""
    if not t.metric:
        return None, {}
    try:
        metric = get_metric(t.metric)
        engine = req.ctx.db.engine
        if is_empty(engine):
            return None, {}
        period = parse_period(None, req.ctx.today)
        result = compute_metric(engine, metric.name, period, settings=req.ctx.settings)
    except (KeyError, SQLAlchemyError, DatabaseUnavailable) as exc:
        logger.warning("no live value for %s: %s", t.key, type(exc).__name__)
        return None, {}
    value = metric.format_value(result.value, req.ctx.settings.currency)
    cmd = f"/{t.command}" if t.command else f"csbot metric {metric.name}"
    if lang == "ja":
        text = f":bar_chart: あなたのチームの{metric.label('ja')}（{period.describe('ja')}）: *{value}* — 詳しくは `{cmd}`"
    else:
        text = f":bar_chart: Your {metric.label('en')} last month ({period.describe('en')}): *{value}* — more with `{cmd}`"
    return text, {"metric": metric.name, "value": result.value, "period": period.iso()}


def _index(glossary, lang: str) -> Reply:
    lines = []
    for label, terms in glossary.by_category(lang):
        lines.append(f"*{label}*: " + ", ".join(t.name(lang) for t in terms))
    title = "用語集" if lang == "ja" else "Customer Success glossary"
    hint = "`term <用語>` で説明を表示します（例: term NRR、term チャーンレート）。" if lang == "ja" else \
        "Ask `term <word>` for one (e.g. term NRR, term チャーンレート)."
    return Reply(title=title, summary=title, kind="info", language=lang, lines=(hint, *lines))
