"""A command's arguments: filters (``segment:enterprise``, ``owner:me``), a period
and the words left over; who "me" is; and the same filters as the CLI's
``--filter KEY=VALUE``. Filter keys come from ``metrics.filters.FILTER_KEYS``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Iterable

from commands.messages import t, table
from commands.periods import PeriodError, default_period, find_period
from metrics.filters import FILTER_KEYS, TYPED_KEYS, Filters
from metrics.periods import Period

if TYPE_CHECKING:
    from commands.context import Context, Request

logger = logging.getLogger(__name__)

# The words that mean the asker: "owner:me", "health mine", "digest subscribe me", "自分".
ME_WORDS = ("me", "mine", "my", "自分", "自分の", "私", "わたし")


class UsageError(ValueError):
    """The user's input is not what the command takes. The message says what to do."""


@dataclass(frozen=True)
class Args:
    period: Period | None
    filters: Filters
    words: tuple[str, ...]  # what is left: subcommands, account names
    period_text: str | None = None

    def period_or_default(self, today: date) -> Period:
        return self.period or default_period(today)

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
    pairs: list[tuple[str, str]] = []
    rest: list[str] = []
    for token in (text or "").split():
        m = _FILTER_TOKEN.match(token)
        if m and not m.group(2).startswith("//"):
            pairs.append((m.group(1), m.group(2)))
            continue
        rest.append(token)
    remaining = " ".join(rest)
    if not strict:  # a free-form question may name a filter in words: "エンタープライズの先月のNRR"
        typed = {key.lower() for key, _ in pairs}
        pairs += [(key, value) for key, value in named_filters(remaining) if key not in typed]
    filters = parse_filters(pairs, ctx, lang)
    period, period_text = None, None
    if remaining:
        period, leftover = find_period(remaining, ctx.today, lang, fiscal_start=ctx.settings.fiscal_year_start)
        if period is not None:
            period_text = remaining
            remaining = leftover
    words = tuple(w for w in re.split(r"\s+", remaining.strip()) if w)
    return Args(period=period, filters=filters, words=words, period_text=period_text)


def named_filters(text: str) -> list[tuple[str, str]]:
    """Filter values a question names in words, as (key, value): the data contract's known
    segments and touch models by their Japanese names ("エンタープライズ", "テックタッチ"), an
    English segment as a word ("enterprise churn"), an English touch model before "touch"
    ("high touch"). The names are the message table's (``values.segment_*``, ``values.touch_*``)."""
    found: dict[str, str] = {}
    lowered = text.lower()
    for key, entry in table().items():
        field, _, value = key.removeprefix("values.").partition("_")
        if not key.startswith("values.") or field not in ("segment", "touch") or field in found:
            continue
        english = re.escape(str(entry["en"]).lower()) + (r"[\s-]+touch" if field == "touch" else "")
        if str(entry["ja"]) in text or re.search(rf"(?<![\w-]){english}(?![\w-])", lowered):
            found[field] = value
    return list(found.items())


def request_args(req: Request) -> Args:
    """The arguments of a request: from the ``Query`` the router understood (its first period, its
    filters, its command words), else read from the text (strict for a command typed as such,
    lenient for a free-form question)."""
    query = req.query
    if query is not None:
        return Args(period=query.period, filters=query.filters, words=tuple(query.words),
                    period_text=query.period_words[0] if query.period_words else None)
    return parse_args(req.args, req.ctx, req.lang, strict=not req.natural)


def parse_filters(pairs: Iterable[tuple[str, str]], ctx: Context | None, lang: str) -> Filters:
    """``[("segment", "enterprise"), ("owner", "me")]`` as ``Filters``. An unknown
    key or an empty value is a ``UsageError``; the owner goes through ``owner_ids``."""
    values: dict[str, object] = {}
    for raw_key, raw_value in pairs:
        key, value = raw_key.strip().lower(), raw_value.strip()
        if key not in FILTER_KEYS:
            raise UsageError(t("arguments.unknown_filter", lang, key=key, known=_known(":")))
        if not value:
            raise UsageError(t("arguments.empty_filter", lang, key=key))
        field_name = FILTER_KEYS[key]
        values[field_name] = owner_ids(value, ctx, lang) if field_name == "owner" else value
    return Filters(**values)


def parse_assignments(items: Iterable[str], lang: str = "en") -> Filters:
    """The CLI's ``--filter KEY=VALUE`` items as ``Filters`` (no asker: ``owner=me`` is refused)."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key.strip().lower() not in FILTER_KEYS or not value.strip():
            raise UsageError(t("arguments.bad_assignment", lang, item=item, known=_known("")))
        pairs.append((key, value))
    return parse_filters(pairs, None, lang)


def _known(suffix: str) -> str:
    return ", ".join(key + suffix for key in TYPED_KEYS)


def asker_ids(ctx: Context | None) -> tuple[str, ...]:
    """Every identifier the asker is known by (Slack user ID, e-mail): what "me" matches."""
    if ctx is None:
        return ()
    return tuple(x for x in (ctx.user_id, ctx.user_email) if x)


def owner_ids(value: str, ctx: Context | None, lang: str) -> tuple[str, ...]:
    """An owner as every identifier it may be stored under: "me" -> the asker's
    ``asker_ids`` (a ``UsageError`` when the asker is unknown); a Slack mention
    ``<@U123|alice>`` -> both parts; ``@alice`` -> ``alice``."""
    if value.lower() in ME_WORDS:
        ids = asker_ids(ctx)
        if not ids:
            raise UsageError(t("arguments.me_unknown", lang))
        return ids
    m = _SLACK_USER.match(value)
    if m:
        return tuple(x for x in (m.group(1), m.group(2)) if x)
    return (value.lstrip("@"),)


def strict_words(args: Args, allowed: tuple[str, ...], lang: str) -> None:
    """Refuse words a command does not take (a typo in a period, say)."""
    paging = any(w.lower() == "accounts" for w in args.words)  # "accounts 2": a page number
    extra = [w for w in args.words if w.lower() not in allowed and not (paging and w.isdigit())]
    if not extra:
        return
    if any(PERIOD_LIKE.search(w) for w in extra):  # a mistyped period: say so, with examples
        raise PeriodError(" ".join(extra), lang)
    words = t("query.word_sep", lang).join(t("query.quote", lang, word=w) for w in extra)
    raise UsageError(t("query.unknown_words", lang, words=words))


# A word that looks like a period: digits, or a period word's pieces ("lastmonth", "先先月"), not "日本".
PERIOD_LIKE = re.compile(r"\d|last|this|next|prev|month|quarter|year|week|day|ytd|mtd|qtd|"
                         r"[先今来前昨翌]々?(?:月|週|年|期)|四半期|上期|下期|年度", re.I)
