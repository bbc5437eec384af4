"""From a question to a ``Reply``: ``route`` (which command a text asks for),
``dispatch`` (answer it, one database connection per request, every failure a short
reply) and ``precheck`` (a slash command's fast check). The commands themselves are
declared with ``commands.spec.command`` and listed in ``commands.registry``.
"""

from __future__ import annotations

import importlib
import logging
import re
import unicodedata
import uuid
from contextlib import nullcontext
from dataclasses import replace
from datetime import timedelta
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from commands import followup
from commands.arguments import UsageError
from commands.context import Context, NoData, Request, freshness
from commands.glossary import extract_term
from commands.language import clean_text, detect_language
from commands.messages import t, t_list
from commands.periods import PeriodError
from commands.query import Query
from commands.registry import load_commands
from commands.reply import Reply, error_reply
from commands.spec import CommandSpec
from commands.understand import missing, parse_query
from commands.vocabulary import prep
from metrics.db import DatabaseUnavailable, interactive_writes, is_empty, is_locked_error, scrub
from metrics.settings import Settings

logger = logging.getLogger(__name__)

# ---- routing -------------------------------------------------------------------

_QUESTION_SUFFIX = re.compile(r"[?？!！。.]+$")


def route(text: str, lang: str) -> tuple[CommandSpec | None, str, bool]:
    """Which command a text asks for, the command's arguments, and whether it was free-form.

    In order: the first word names a command (or an alias); a glossary question
    ("what is stickiness?", "NRRって何？") goes to ``term`` although its word may also
    be another command's keyword; otherwise the longest keyword found anywhere wins."""
    commands = load_commands()
    words = text.split(maxsplit=1)
    if words:
        first = words[0].lower()
        for spec in commands.values():
            if first == spec.name or first in spec.aliases:
                return spec, words[1] if len(words) > 1 else "", False
    term = extract_term(text)
    if term and "term" in commands:
        return commands["term"], term, True
    lowered = unicodedata.normalize("NFKC", text).lower()
    best: tuple[int, CommandSpec] | None = None
    for spec in commands.values():
        for kw in spec.keywords:
            if _keyword_in(kw, lowered) and (best is None or len(kw) > best[0]):
                best = (len(kw), spec)
    if best is not None:
        return best[1], _QUESTION_SUFFIX.sub("", text), True
    return None, text, True


def _keyword_in(keyword: str, text: str) -> bool:
    if keyword.isascii():
        return re.search(r"(?<![a-z0-9])" + re.escape(keyword) + r"(?![a-z0-9])", text) is not None
    return keyword in text


# The answers of the shapes of question that are not one command's own view: intent -> module.
# Each module has ``answer(req: Request) -> Reply`` reading ``req.query``; imported when first asked.
SHAPE_ANSWERS = {
    "breakdown": "commands.breakdown",
    "trend": "commands.trend",
    "compare": "commands.compare",
    "list": "commands.lists",
    "count": "commands.lists",
}


def _shape_answer(intent: str) -> Callable[[Request], Reply] | None:
    """The answer function of a shape of question, or None when its module is not in this csbot."""
    name = SHAPE_ANSWERS[intent]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
    return getattr(module, "answer", None)


# ---- dispatch ------------------------------------------------------------------

def dispatch(text: str, ctx: Context, *, command_name: str | None = None) -> Reply:
    """Answer one question. Never raises: every failure becomes a short reply.

    The text is understood first (``parse_query``, inside the request's one connection so the
    data's values are words it knows) and the ``Query`` is kept on the request. A question with
    words left over is not answered: the reply says what was understood and what was not.
    A command that needs data gets the connection on its ``Request`` (``req.conn``), opened
    here and closed when it has answered. A person is waiting: a write blocked by a running
    SQLite sync gives up after a few seconds (``interactive_writes``) and says so."""
    with interactive_writes():
        return _dispatch(text, ctx, command_name=command_name)


def _dispatch(text: str, ctx: Context, *, command_name: str | None) -> Reply:
    cleaned = clean_text(text)
    lang = detect_language(text, ctx.settings.language)  # as typed: "ｎｐｓ" is Japanese
    try:
        empty, down = _data_state(ctx)
        with nullcontext(None) if (empty or down) else ctx.db.engine.connect() as conn:
            query = parse_query(cleaned, ctx, lang, command=command_name, conn=conn)
            if conn is not None and query.understood and followup.is_follow_up(query):
                previous = followup.recall(conn, ctx)  # "and by segment?" under an answer: that question, reshaped
                if previous is not None:
                    query = followup.refine(previous, query)
            gaps = missing(query, lang) if query.understood else ()
            if gaps:
                query = query.refine(unknown=gaps)
            reply = _answer(query, cleaned, lang, ctx, conn, command_name=command_name, empty=empty, down=down)
            if conn is not None and reply.kind == "answer" and followup.thread_key(ctx) is not None:
                _remember(conn, ctx, query)
        if reply.footer is None and reply.kind == "answer" and _needs_data(query):
            reply = replace(reply, footer=freshness(ctx, lang))
        return reply
    except (PeriodError, UsageError) as exc:
        return replace(error_reply(str(exc), language=lang), data={"usage_error": True})
    except NoData:
        return error_reply(t("common.no_data", lang), language=lang, hint=t("common.no_data_hint", lang))
    except (DatabaseUnavailable, SQLAlchemyError) as exc:  # OperationalError, ProgrammingError among them
        logger.error("database error while answering %r: %s", cleaned, scrub(_one_line(exc)))
        if is_locked_error(exc):
            return _locked_reply(ctx, lang)
        return error_reply(t("common.db_down", lang), language=lang, hint=t("common.db_down_hint", lang))
    except Exception:  # a bug of ours: log it, tell the user briefly, never leak a traceback
        ref = uuid.uuid4().hex[:8]
        logger.exception("error %s while answering %r", ref, cleaned)
        return error_reply(t("router.internal_error", lang, ref=ref), language=lang)


def _needs_data(query: Query) -> bool:
    """Does the answer come from the data (and carry its freshness)? Help and the glossary do not."""
    if query.intent in SHAPE_ANSWERS:
        return True
    spec = load_commands().get({"help": "help", "define": "term"}.get(query.intent, query.command or ""))
    return spec is None or spec.needs_data


def _remember(conn, ctx: Context, query: Query) -> None:
    """Keep the question for the thread's follow-ups; an answer is never lost for want of it."""
    try:
        followup.remember(conn, ctx, query)
        conn.commit()
    except SQLAlchemyError as exc:
        conn.rollback()
        logger.warning("could not keep the thread's question: %s", scrub(_one_line(exc)))


def _data_state(ctx: Context) -> tuple[bool, BaseException | None]:
    """(no data yet, the database error) before a question is read: help and the glossary answer either way."""
    try:
        return is_empty(ctx.db.engine), None
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        return False, exc


def _answer(query: Query, cleaned: str, lang: str, ctx: Context, conn, *, command_name: str | None,
            empty: bool, down: BaseException | None) -> Reply:
    commands = load_commands()
    if query.intent in SHAPE_ANSWERS and query.understood:
        spec, fn = None, _shape_answer(query.intent)
        if fn is None:
            return not_yet_reply(query, lang)
    else:
        name = {"help": "help", "define": "term"}.get(query.intent, query.command)
        spec = commands.get(name) if name else None
        if spec is None and query.understood:
            query = query.refine(unknown=(cleaned,))
        fn = spec.fn if spec is not None else None
    needs_data = spec.needs_data if spec is not None else True
    if needs_data and down is not None:
        raise down
    if needs_data and empty:
        raise NoData()
    if not query.understood:
        return not_understood_reply(query, lang)
    args, natural = _arguments(cleaned, query, command_name)
    req = Request(command=spec.name if spec else query.intent, args=args, text=cleaned, lang=lang, ctx=ctx,
                  natural=natural, conn=conn if needs_data else None, commands=tuple(commands.values()), query=query)
    reply = fn(req)  # type: ignore[misc]
    if reply.kind == "answer" and query.intent in ("value", "command") and query.command not in ("health", "kpi") \
            and "accounts" not in query.words:  # (the accounts behind a number show no metric)
        # one command answers: a metric it does not show is said, never dropped ("mrr and nps")
        dropped = [m for m in query.metrics if m not in reply.metrics]
        if dropped:
            from metrics import catalog

            # answer what this command shows and say, first, which metric it left for its own question
            labels = t("query.word_sep", lang).join(catalog.get(m).text(lang, "label") for m in dropped)
            ask = catalog.get(dropped[0]).command or dropped[0]
            note = t("query.also_metric", lang, labels=labels, example=" ".join((ask, *query.period_words)))
            return replace(reply, lines=(note, *reply.lines), data={**reply.data, "not_shown": dropped})
    return reply


def _arguments(cleaned: str, query: Query, command_name: str | None) -> tuple[str, bool]:
    """The text a command reads (after its name when named first) and whether the question was free-form."""
    if query.intent == "define":
        return query.term or "", True
    if command_name:
        return cleaned, False
    first, _, rest = cleaned.partition(" ")
    spec = load_commands().get(query.command or "")
    if spec is not None and prep(first).lower() in (prep(w).lower() for w in (spec.name, *spec.aliases)):
        return rest.strip(), False
    return _QUESTION_SUFFIX.sub("", cleaned), True


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _locked_reply(ctx: Context, lang: str) -> Reply:
    """SQLite's write lock is held: by a running sync (say since when, in the workspace's time), or by
    another write (try again in a moment)."""
    from metrics.clock import naive_utc
    from metrics.sync.lock import running_sync

    try:
        with ctx.db.engine.connect() as conn:  # reading still works while a sync writes (WAL)
            running = running_sync(conn, ttl=timedelta(minutes=ctx.settings.sync_lock_ttl_minutes),
                                   now=naive_utc(ctx.now))
    except SQLAlchemyError:
        running = None
    if running is None:
        return error_reply(t("router.db_busy", lang), language=lang)
    started = running.acquired_at.astimezone(ctx.settings.tz).strftime("%H:%M")
    return error_reply(t("router.sync_running", lang, started=started), language=lang)


def not_understood_reply(query: Query, lang: str) -> Reply:
    """What was understood and what was not (the words, quoted), a "did you mean" and an example
    to try: never a number."""
    words = t("query.word_sep", lang).join(t("query.quote", lang, word=w) for w in query.unknown)
    title = t("query.not_understood", lang, words=words)
    parts = understood_parts(query, lang)
    lines = [t("query.understood", lang, parts=t("query.word_sep", lang).join(parts)) if parts
             else t("query.understood_nothing", lang)]
    if query.suggestions:
        lines.append(t("query.did_you_mean", lang, words=t("query.word_sep", lang).join(
            t("query.quote", lang, word=w) for w in query.suggestions)))
    spec = load_commands().get(query.command or "")
    if spec is not None and query.intent in ("command", "value"):
        lines.append(t("query.try", lang, example=spec.example))
    else:
        lines.extend((t("router.try_these", lang), *(f"• {e}" for e in t_list("router.example_questions", lang))))
    lines.append(t("router.see_help", lang))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines),
                 data={"not_understood": True, "unknown": list(query.unknown), "suggestions": list(query.suggestions),
                       "intent": query.intent, "metrics": list(query.metrics),
                       "periods": [p.iso() for p in query.periods], "filters": query.filters.describe()})


def understood_parts(query: Query, lang: str) -> list[str]:
    """The parts of a query that were understood, in words: metric, period (its dates), filters, shape."""
    from commands import format as fmt
    from commands import metric_text
    from metrics import catalog

    parts = []
    if query.intent in SHAPE_ANSWERS:
        parts.append(t("query.part_shape", lang, shape=t(f"query.shape_{query.intent}", lang)))
    if query.metrics:
        names = t("query.word_sep", lang).join(metric_text.label(catalog.get(m), lang) for m in query.metrics)
        parts.append(t("query.part_metrics", lang, names=names))
    for period in query.periods:
        parts.append(t("query.part_period", lang, period=fmt.period(period, lang)))
    if not query.filters.empty:
        parts.append(t("query.part_filters", lang, filters=fmt.scope(query.filters, lang)))
    if query.by:
        parts.append(t("query.part_by", lang, dimension=fmt.dimension(query.by, lang)))
    if query.grain:
        parts.append(t("query.part_grain", lang, grain=t(f"query.grain_{query.grain}", lang)))
    return parts


def not_yet_reply(query: Query, lang: str) -> Reply:
    """A shape of question understood, whose answer this csbot does not have."""
    shape = t(f"query.shape_{query.intent}", lang)
    title = t("query.not_yet", lang, shape=shape)
    parts = understood_parts(query, lang)
    lines = (t("query.understood", lang, parts=t("query.word_sep", lang).join(parts)), t("router.see_help", lang))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=lines,
                 data={"not_available": True, "intent": query.intent})


def precheck(text: str, command_name: str | None, settings: Settings, *, user_id: str | None = None) -> str | None:
    """A fast check without the database, for a slash command's ack: the
    message to show when the input is plainly wrong (a bad filter or period), else None."""
    cleaned = clean_text(text)
    lang = detect_language(text, settings.language)
    if command_name:
        spec = load_commands().get(command_name)
    else:
        spec, _, natural = route(cleaned, lang) if cleaned else (None, "", True)
        if natural:
            return None
    if spec is None:
        return None
    ctx = Context.create(None, settings, user_id=user_id)  # type: ignore[arg-type]
    try:
        parse_query(cleaned, ctx, lang, command=command_name)
    except (PeriodError, UsageError) as exc:
        usage = t("router.usage_line", lang, name=spec.name, usage_args=spec.usage.partition(" ")[2],
                  example=spec.example)
        return f"{exc}\n{usage}"
    return None
