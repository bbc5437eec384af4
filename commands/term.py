"""term: a Customer Success term explained in English or Japanese, tied to today's number.

A metric term's formula, the label of its number and the command that shows it come
from the metric catalog; the reply carries the metric whose value it shows, so today's
MRR stays private outside revenue channels like any other MRR answer."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from commands import format as fmt
from commands import metric_text
from commands.context import Request
from commands.glossary import Term, extract_term, get_glossary
from commands.messages import t
from commands.periods import default_period
from commands.reply import Button, Reply
from commands.spec import command
from metrics import catalog
from metrics.compute import compute_metric
from metrics.db import DatabaseUnavailable, is_empty

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
        title = t("term.ambiguous" if found.ambiguous else "term.unknown", lang, query=query)
        hint = t("term.did_you_mean" if candidates else "term.list_hint", lang)
        return Reply(title=title, summary=title, kind="choices", language=lang, lines=(hint,),
                     buttons=tuple(Button("csbot_term", c.name(lang)[:75], f"term {c.key}") for c in candidates))
    return _entry(req, found.term, lang, shown_for=None if found.exact else query)


def _entry(req: Request, term_: Term, lang: str, shown_for: str | None) -> Reply:
    other = "en" if lang == "ja" else "ja"
    title = f"{term_.name(lang)} · {term_.name(other)}"
    lines: list[str] = []
    if shown_for:
        lines.append(t("term.showing_for", lang, query=shown_for))
    lines.append(f"*{term_.text(lang, 'short')}*")
    body = term_.text(lang, "body")
    if body:
        lines.append(body)
    if term_.metric == "health_score":  # the band ranges are the health model's, never written twice
        from commands.health import bands_text
        from metrics.health import model_for

        lines.append(t("term.health_bands", lang, bands=bands_text(model_for(req.ctx.settings), lang)))
    formula = _formula(term_, lang)
    if formula:
        lines.append(t("term.formula", lang, formula=formula))
    example = term_.text(lang, "example")
    if example:
        lines.append(t("term.example", lang, example=example))
    live, data = _today(req, term_, lang)
    if live:
        lines.append(live)
    related = get_glossary().related_terms(term_)[:MAX_RELATED]
    buttons = tuple(Button("csbot_term", r.name(lang)[:75], f"term {r.key}") for r in related)
    return Reply(title=title, summary=f"{term_.name(lang)}: {term_.text(lang, 'short')}", language=lang,
                 lines=tuple(lines), buttons=buttons, data={"term": term_.key, **data},
                 metrics=(data["metric"],) if "metric" in data else ())


def _formula(term_: Term, lang: str) -> str | None:
    """A metric term's formula comes from the metric catalog, never written twice."""
    if term_.metric:
        return metric_text.formula(catalog.get(term_.metric), lang)
    return term_.text(lang, "formula")


def _today(req: Request, term_: Term, lang: str) -> tuple[str | None, dict]:
    """"NRR last month: 104.2% (see /nrr)" from the team's own data, when there is some."""
    if not term_.metric:
        return None, {}
    metric = catalog.get(term_.metric)
    try:
        engine = req.ctx.db.engine
        if is_empty(engine):
            return None, {}
        period = default_period(req.ctx.today)
        result = compute_metric(engine, metric.name, period, settings=req.ctx.settings)
    except (SQLAlchemyError, DatabaseUnavailable) as exc:
        logger.warning("no live value for %s: %s", term_.key, type(exc).__name__)
        return None, {}
    text = t("term.today", lang, label=metric_text.label(metric, lang), period=fmt.period(period, lang),
             value=metric_text.headline(metric, result.value, req.ctx.settings.currency, lang), command=f"/{metric.command}")
    return text, {"metric": metric.name, "value": result.value, "period": period.iso()}


def _index(glossary, lang: str) -> Reply:
    lines = [f"*{label}*: " + ", ".join(x.name(lang) for x in terms) for label, terms in glossary.by_category(lang)]
    title = t("term.index_title", lang)
    return Reply(title=title, summary=title, kind="info", language=lang, lines=(t("term.index_hint", lang), *lines))
