"""One dispatch for every way a user asks: slash commands, ``/cs <command>``,
mentions, DMs, ``csbot ask`` and the console.

A command is one decorated function; its docstring's first line is its help
("churn [period] [filters]: customer and revenue churn ..."), so help is
generated, never written twice.
"""

from __future__ import annotations

import importlib
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Callable

from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from commands.periods import PeriodError, find_period, parse_period
from commands.reply import Reply, error_reply
from metrics.db import Database, DatabaseUnavailable, is_empty, last_successful_sync
from metrics.filters import FILTER_KEYS, Filters
from metrics.periods import Period
from metrics.settings import Settings

logger = logging.getLogger(__name__)

# Modules that register commands (each uses @command at import).
COMMAND_MODULES: list[str] = ["commands.churn", "commands.help", "commands.term", "commands.mrr", "commands.retention", "commands.voice", "commands.usage", "commands.onboarding", "commands.ltv", "commands.kpi", "commands.health", "commands.digest", "commands.sync"]

# Functions that may claim a free-form question before keyword routing:
# text -> (command name, its arguments) or None. "what is stickiness?" is a
# glossary question although "stickiness" is also a usage keyword.
INTENT_HOOKS: list[Callable[[str], tuple[str, str] | None]] = []


class UsageError(ValueError):
    """The user's input is not what the command takes. The message says what to do."""


class NoData(RuntimeError):
    """The named database holds no synced data yet."""


@dataclass
class Context:
    """Who is asking, where, and against which data."""

    db: Database
    settings: Settings
    today: date
    now: datetime
    user_id: str | None = None
    user_email: str | None = None
    channel_id: str | None = None
    surface: str = "console"  # console | cli | slash | mention | dm | home | digest

    @classmethod
    def create(cls, db: Database, settings: Settings, *, now: datetime | None = None, **kwargs) -> "Context":
        now = now or datetime.now(timezone.utc)
        today = now.astimezone(settings.tz).date()
        return cls(db=db, settings=settings, today=today, now=now, **kwargs)


@dataclass(frozen=True)
class Request:
    command: str
    args: str  # the text after the command word, as typed
    text: str  # the whole question
    lang: str
    ctx: Context
    natural: bool = False  # a free-form question rather than "command args"

    def parse(self) -> "Args":
        return parse_args(self.args, self.ctx, self.lang, strict=not self.natural)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    fn: Callable[[Request], Reply]
    usage: str  # "churn [period] [filters]"
    help_en: str
    help_ja: str
    example: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # words that point a free-form question here (EN and JA)
    needs_data: bool = True


COMMANDS: dict[str, CommandSpec] = {}


def command(name: str, *, help_ja: str, example: str, aliases: tuple[str, ...] = (),
            keywords: tuple[str, ...] = (), needs_data: bool = True):
    """Register a command. The docstring's first line is ``usage: help``."""

    def register(fn: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        first = (fn.__doc__ or "").strip().splitlines()[0]
        usage, _, help_en = first.partition(": ")
        if name in COMMANDS:
            raise ValueError(f"command {name!r} registered twice")
        COMMANDS[name] = CommandSpec(name=name, fn=fn, usage=usage.strip(), help_en=help_en.strip(),
                                     help_ja=help_ja, example=example, aliases=aliases,
                                     keywords=keywords, needs_data=needs_data)
        return fn

    return register


def load_commands() -> dict[str, CommandSpec]:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    return COMMANDS


# ---- language and text ---------------------------------------------------------

_JA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def detect_language(text: str, default: str = "auto") -> str:
    """Japanese script in the question -> ja; otherwise CSBOT_LANGUAGE, or en."""
    if _JA.search(text or ""):
        return "ja"
    return default if default in ("en", "ja") else "en"


_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


def clean_text(text: str) -> str:
    """Drop the bot mention, a leading slash and the /cs prefix; NFKC spaces."""
    text = _MENTION.sub("", text or "")
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"^/", "", text)
    text = re.sub(r"^(?:cs|csbot)\s+", "", text, flags=re.I)
    return text.strip()


# ---- arguments -----------------------------------------------------------------

@dataclass(frozen=True)
class Args:
    period: Period | None
    filters: Filters
    words: tuple[str, ...]  # what is left: subcommands, account names
    period_text: str | None = None

    def period_or_default(self, today: date) -> Period:
        return self.period or parse_period(None, today)

    @property
    def rest(self) -> str:
        return " ".join(self.words)


_FILTER_TOKEN = re.compile(r"^([a-z_]+):(.*)$", re.I)
_SLACK_USER = re.compile(r"^<@([A-Z0-9]+)(?:\|([^>]*))?>$")


def parse_args(text: str, ctx: Context, lang: str, *, strict: bool = True) -> Args:
    """Split the command's text into filters (``key:value``), a period and the rest.

    ``strict``: text that is neither a filter, a period nor an expected word is
    an error (slash commands); free-form questions are lenient.
    """
    filters: dict[str, object] = {}
    rest: list[str] = []
    for token in (text or "").split():
        m = _FILTER_TOKEN.match(token)
        if m and not m.group(2).startswith("//"):
            key, value = m.group(1).lower(), m.group(2).strip()
            if key not in FILTER_KEYS:
                raise UsageError(_unknown_filter(key, lang))
            if not value:
                raise UsageError(_empty_filter(key, lang))
            field_name = FILTER_KEYS[key]
            filters[field_name] = _owner_ids(value, ctx) if field_name == "owner" else value
            continue
        rest.append(token)
    remaining = " ".join(rest)
    period, period_text = None, None
    if remaining:
        period, leftover = find_period(remaining, ctx.today)
        if period is not None:
            period_text = remaining
            remaining = leftover
    words = tuple(w for w in re.split(r"\s+", remaining.strip()) if w)
    return Args(period=period, filters=Filters(**filters), words=words, period_text=period_text)


def _owner_ids(value: str, ctx: Context) -> tuple[str, ...]:
    if value.lower() in ("me", "mine", "自分", "私"):
        ids = tuple(x for x in (ctx.user_id, ctx.user_email) if x)
        if not ids:
            raise UsageError("owner:me needs to know who you are: ask in Slack, or use owner:<e-mail>.")
        return ids
    m = _SLACK_USER.match(value)
    if m:
        return tuple(x for x in (m.group(1), m.group(2)) if x)
    return (value.lstrip("@"),)


def _unknown_filter(key: str, lang: str) -> str:
    known = "segment:, touch:, owner:, plan:, region:"
    if lang == "ja":
        return f"フィルター「{key}:」は使えません。使えるのは {known} です（例: segment:enterprise）。"
    return f"Unknown filter “{key}:”. Use one of {known} (e.g. segment:enterprise)."


def _empty_filter(key: str, lang: str) -> str:
    if lang == "ja":
        return f"フィルター「{key}:」に値がありません（例: {key}:enterprise）。"
    return f"The filter “{key}:” needs a value, e.g. {key}:enterprise."


def strict_words(args: Args, allowed: tuple[str, ...], lang: str) -> None:
    """Refuse words a command does not take (a typo in a period, say)."""
    paging = any(w.lower() == "accounts" for w in args.words)  # "accounts 2": a page number
    extra = [w for w in args.words if w.lower() not in allowed and not (paging and w.isdigit())]
    if not extra:
        return
    word = " ".join(extra)
    # Most stray words are mistyped periods: say so, with examples.
    raise PeriodError(word, lang)


# ---- dispatch ------------------------------------------------------------------

_QUESTION_SUFFIX = re.compile(r"[?？!！。.]+$")


def route(text: str, lang: str) -> tuple[CommandSpec | None, str, bool]:
    """Which command a text asks for, the command's arguments, and whether it was free-form."""
    commands = load_commands()
    words = text.split(maxsplit=1)
    if words:
        first = words[0].lower()
        for spec in commands.values():
            if first == spec.name or first in spec.aliases:
                return spec, words[1] if len(words) > 1 else "", False
    for hook in INTENT_HOOKS:
        claimed = hook(text)
        if claimed and claimed[0] in commands:
            return commands[claimed[0]], claimed[1], True
    # A free-form question: the longest keyword found anywhere wins.
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


def dispatch(text: str, ctx: Context, *, command_name: str | None = None) -> Reply:
    """Answer one question. Never raises: every failure becomes a short reply."""
    cleaned = clean_text(text)
    lang = detect_language(cleaned, ctx.settings.language)
    try:
        if command_name:
            spec = load_commands().get(command_name)
            if spec is None:
                return _not_understood(cleaned or command_name, lang)
            args, natural = cleaned, False
        else:
            if not cleaned:
                spec, args, natural = load_commands()["help"], "", False
            else:
                spec, args, natural = route(cleaned, lang)
            if spec is None:
                return _not_understood(cleaned, lang)
        if spec.needs_data and is_empty(ctx.db.engine):
            raise NoData()
        reply = spec.fn(Request(command=spec.name, args=args, text=cleaned, lang=lang, ctx=ctx, natural=natural))
        if spec.needs_data and reply.footer is None and reply.kind == "answer":
            reply = replace(reply, footer=freshness(ctx, lang))
        return reply
    except PeriodError as exc:
        return error_reply(str(exc), language=lang)
    except UsageError as exc:
        return error_reply(str(exc), language=lang)
    except NoData:
        return _no_data(ctx, lang)
    except (DatabaseUnavailable, OperationalError, ProgrammingError) as exc:
        logger.error("database error while answering %r: %s", cleaned, _one_line(exc))
        return _db_down(lang)
    except SQLAlchemyError as exc:
        logger.error("database error while answering %r: %s", cleaned, _one_line(exc))
        return _db_down(lang)
    except Exception:  # a bug of ours: log it, tell the user briefly, never leak a traceback
        ref = uuid.uuid4().hex[:8]
        logger.exception("error %s while answering %r", ref, cleaned)
        if lang == "ja":
            msg = f"回答中にエラーが発生しました（参照 {ref}）。管理者がログで詳細を確認できます。"
        else:
            msg = f"Something went wrong on my side while answering (ref {ref}); the details are in the bot's log."
        return error_reply(msg, language=lang)


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _no_data(ctx: Context, lang: str) -> Reply:
    if lang == "ja":
        return error_reply("まだデータがありません。", language=lang,
                           hint="`csbot sync --csv <フォルダ>` でデータを取り込むか、`csbot demo` でデモデータを入れてください。")
    return error_reply("There is no data in this database yet.", language=lang,
                       hint="Load your data with `csbot sync --csv <folder>`, or try the demo company with `csbot demo`.")


def _db_down(lang: str) -> Reply:
    if lang == "ja":
        return error_reply("データベースに接続できません。", language=lang,
                           hint="DATABASE_URL とデータベースの稼働状況を確認してから、もう一度お試しください。")
    return error_reply("I can't reach the database right now.", language=lang,
                       hint="Check DATABASE_URL and that the database is running, then ask again.")


EXAMPLE_QUESTIONS = {
    "en": ("churn last-month", "what was NRR in Q3?", "what is stickiness?"),
    "ja": ("先月の解約率は？", "今月のNPS", "NRRって何？"),
}


def _not_understood(text: str, lang: str) -> Reply:
    examples = EXAMPLE_QUESTIONS[lang]
    if lang == "ja":
        title = "すみません、その質問はまだ分かりません。"
        lines = ("例えばこんなふうに聞いてください:", *[f"• {e}" for e in examples], "`help` で使えるコマンドの一覧を表示します。")
    else:
        title = "Sorry, I didn't understand that."
        lines = ("Try one of these:", *[f"• {e}" for e in examples], "Type `help` to see every command.")
    return Reply(title=title, summary=title, kind="info", language=lang, lines=lines)


def freshness(ctx: Context, lang: str) -> str:
    synced = last_successful_sync(ctx.db.engine)
    if synced is None:
        return "同期記録なし" if lang == "ja" else "never synced"
    local = synced.astimezone(ctx.settings.tz)
    stamp = local.strftime("%Y-%m-%d %H:%M %Z")
    return f"{stamp} 同期" if lang == "ja" else f"synced {stamp}"


def precheck(text: str, command_name: str | None, settings: Settings, *, user_id: str | None = None) -> str | None:
    """A fast check without the database, for a slash command's ack: the
    message to show when the input is plainly wrong (a bad filter or period), else None."""
    cleaned = clean_text(text)
    lang = detect_language(cleaned, settings.language)
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
        usage = f"\nUsage: /{spec.name} {spec.usage.partition(' ')[2]}  e.g. /{spec.example}" if lang != "ja" else f"\n使い方: /{spec.example}"
        return f"{exc}{usage}"
    return None
