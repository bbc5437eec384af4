"""From a question to a ``Reply``: ``route`` (which command a text asks for),
``dispatch`` (answer it, one database connection per request, every failure a short
reply) and ``precheck`` (a slash command's fast check). The commands themselves are
declared with ``commands.spec.command`` and listed in ``commands.registry``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from commands.arguments import UsageError, parse_args
from commands.context import Context, NoData, Request, freshness
from commands.glossary import extract_term
from commands.language import clean_text, detect_language
from commands.messages import t, t_list
from commands.periods import PeriodError
from commands.registry import load_commands
from commands.reply import Reply, error_reply
from commands.spec import CommandSpec
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


def _which(cleaned: str, lang: str, command_name: str | None) -> tuple[CommandSpec | None, str, bool]:
    if command_name:
        return load_commands().get(command_name), cleaned, False
    if not cleaned:
        return load_commands()["help"], "", False
    return route(cleaned, lang)


# ---- dispatch ------------------------------------------------------------------

def dispatch(text: str, ctx: Context, *, command_name: str | None = None) -> Reply:
    """Answer one question. Never raises: every failure becomes a short reply.

    A command that needs data gets one connection on its ``Request`` (``req.conn``),
    opened here and closed when it has answered. A person is waiting: a write blocked by a
    running SQLite sync gives up after a few seconds (``interactive_writes``) and says so."""
    with interactive_writes():
        return _dispatch(text, ctx, command_name=command_name)


def _dispatch(text: str, ctx: Context, *, command_name: str | None) -> Reply:
    cleaned = clean_text(text)
    lang = detect_language(text, ctx.settings.language)  # as typed: "ｎｐｓ" is Japanese
    try:
        spec, args, natural = _which(cleaned, lang, command_name)
        if spec is None:
            return _not_understood(lang)
        every = tuple(load_commands().values())
        if not spec.needs_data:
            return spec.fn(Request(command=spec.name, args=args, text=cleaned, lang=lang, ctx=ctx, natural=natural,
                                   commands=every))
        if is_empty(ctx.db.engine):
            raise NoData()
        with ctx.db.engine.connect() as conn:
            reply = spec.fn(Request(command=spec.name, args=args, text=cleaned, lang=lang, ctx=ctx,
                                    natural=natural, conn=conn, commands=every))
        if reply.footer is None and reply.kind == "answer":
            reply = replace(reply, footer=freshness(ctx, lang))
        return reply
    except (PeriodError, UsageError) as exc:
        return error_reply(str(exc), language=lang)
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


def _not_understood(lang: str) -> Reply:
    title = t("router.not_understood", lang)
    lines = (t("router.try_these", lang), *(f"• {e}" for e in t_list("router.example_questions", lang)),
             t("router.see_help", lang))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=lines)


def precheck(text: str, command_name: str | None, settings: Settings, *, user_id: str | None = None) -> str | None:
    """A fast check without the database, for a slash command's ack: the
    message to show when the input is plainly wrong (a bad filter or period), else None."""
    cleaned = clean_text(text)
    lang = detect_language(text, settings.language)
    if command_name:
        spec, args, natural = load_commands().get(command_name), cleaned, False
    else:
        spec, args, natural = route(cleaned, lang) if cleaned else (None, "", True)
    if spec is None or natural:
        return None
    ctx = Context.create(None, settings, user_id=user_id)  # type: ignore[arg-type]
    try:
        parse_args(args, ctx, lang, strict=True)
    except (PeriodError, UsageError) as exc:
        usage = t("router.usage_line", lang, name=spec.name, usage_args=spec.usage.partition(" ")[2],
                  example=spec.example)
        return f"{exc}\n{usage}"
    return None
