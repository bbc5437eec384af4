"""What a command answers: plain data, no Slack.

``bot/blocks.py`` renders a ``Reply`` to Block Kit; ``render_text`` below
renders it for the console and for Slack's plain-text fallback.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from commands.format import SLACK_REF
from commands.messages import t
from metrics.catalog import any_revenue

Kind = Literal["answer", "error", "help", "choices", "info"]


@dataclass(frozen=True)
class Figure:
    """One headline number with its comparison to the previous period."""

    label: str
    value: str  # formatted: "5.0%", "¥1,234,000", "+32"
    previous: str | None = None  # formatted previous-period value
    change: str | None = None  # formatted change: "+1.2 pt", "-¥30,000"
    trend: int = 0  # +1 up, -1 down, 0 flat/unknown (direction of the number)
    good: bool | None = None  # whether the change is good news (churn up is bad)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str | None = None
    total_rows: int | None = None  # when rows were cut: how many there are in all


Role = Literal[
    "new", "reactivation", "expansion", "contraction", "churn",  # MRR movements
    "promoter", "passive", "detractor",  # NPS groups
    "band_red", "band_yellow", "band_green",  # health bands
    "start", "subtotal", "end", "net",  # waterfall levels (drawn from zero)
]


class Series(NamedTuple):
    """One line, bar series, layer or heatmap row. A tuple, so ``series[0][1]`` is its values."""

    name: str
    values: tuple[float | None, ...]
    role: Role | None = None  # what it is (its colour follows); None = the next palette colour


@dataclass(frozen=True)
class Chart:
    """Data for a chart; ``bot.charts`` draws it and never reads meaning from its words.

    What each part *is* comes in ``Series.role`` and ``roles`` (one per label: donut and
    share parts, waterfall bars); a headline number (the NPS in a donut's centre) comes
    formatted in ``center``. Waterfall: bars whose role is start/subtotal/end/net are levels
    drawn from zero, the others are movements floating on the running total.
    """

    kind: str  # "bars", "line", "waterfall", "stacked", "heatmap", "donut", "share" (100% bars)
    title: str
    subtitle: str | None = None  # the exact period
    labels: tuple[str, ...] = ()
    series: tuple[Series, ...] = ()
    unit: str = "count"  # ratio | money | count | score | days | minutes
    alt: str = ""
    roles: tuple[Role | None, ...] = ()  # one per label, or () when the labels are plain categories
    center: Figure | None = None  # a headline drawn in a donut's centre (or above a single share bar)
    signed: bool = False  # values are written with their sign: "+32" (NPS)
    # line: the last label is a unit still running (a month to date): its point is drawn hollow on a
    # dashed segment, so a partial month's low count does not read as a collapse
    partial_last: bool = False


@dataclass(frozen=True)
class Button:
    action_id: str  # e.g. "csbot_how", "csbot_accounts", "csbot_term", "csbot_pick"
    text: str
    value: str  # the command text the button runs, e.g. "churn 2026-10 how"


@dataclass(frozen=True)
class Attachment:
    """A file an answer offers (a long list of accounts as CSV): Slack receives it as an
    upload next to the answer, the console and ``csbot ask`` name it."""

    filename: str  # "churned-2026-11.csv"
    content: bytes
    title: str
    mimetype: str = "text/csv"


@dataclass(frozen=True)
class Reply:
    title: str
    summary: str  # one line: notification text and plain fallback
    kind: Kind = "answer"
    language: str = "en"
    period: str | None = None  # "Oct 1 – Oct 31, 2026"
    figures: tuple[Figure, ...] = ()
    lines: tuple[str, ...] = ()  # short paragraphs / bullet lines (*bold* allowed)
    table: Table | None = None
    chart: Chart | None = None
    how: tuple[str, ...] = ()  # how it was computed: formula with the real numbers
    footer: str | None = None  # data freshness: "synced 2026-11-22 06:00 JST"
    buttons: tuple[Button, ...] = ()
    # Privacy follows the metrics: ``metrics`` names the catalog metrics whose values the reply
    # shows; ``revenue`` is true when one of them is a revenue figure (derived, see
    # commands.privacy.carries_revenue), or when set by a reply that shows revenue outside the catalog.
    revenue: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable numbers
    metrics: tuple[str, ...] = ()
    # True when the reply quotes values as they came from the team's data (a rejected row's raw
    # MRR, say): kept out of public view like revenue (commands.privacy.carries_raw_data).
    raw_data: bool = False
    attachment: Attachment | None = None  # a file offered with the answer (a long list as CSV)

    def __post_init__(self) -> None:
        if not self.revenue and any_revenue(self.metrics):
            object.__setattr__(self, "revenue", True)


def error_reply(message: str, *, language: str = "en", hint: str | None = None) -> Reply:
    """A short, clear answer to bad input: what went wrong and what to do next."""
    lines = (hint,) if hint else ()
    return Reply(title=message, summary=message, kind="error", language=language, lines=lines)


def render_text(reply: Reply) -> str:
    """Plain text for the console (and Slack's fallback text)."""
    out: list[str] = [reply.title]
    if reply.period:
        out.append(reply.period)
    for fig in reply.figures:
        line = f"  {fig.label}: {fig.value}"
        if fig.change is not None and fig.previous is not None:
            arrow = "▲" if fig.trend > 0 else "▼" if fig.trend < 0 else "="
            line += "   " + t("reply.change", reply.language, arrow=arrow, change=fig.change, previous=fig.previous)
        out.append(line)
    if reply.lines:
        out.append("")
        out.extend(line.replace("*", "") for line in reply.lines)
    if reply.table is not None and reply.table.rows:
        out.append("")
        if reply.table.title:
            out.append(reply.table.title)
        out.extend(_text_table(reply.table))
        shown, total = len(reply.table.rows), reply.table.total_rows
        if total and total > shown:
            out.append("  " + t("reply.more_rows", reply.language, count=total - shown))
    if reply.how:
        out.append("")
        out.extend(f"  {line}" for line in reply.how)
    if reply.buttons:
        related = [b.text for b in reply.buttons if b.action_id in ("csbot_term", "csbot_pick")]
        if related:
            out.append("")
            label = t("reply.choose" if reply.kind == "choices" else "reply.see_also", reply.language)
            out.append(label + ", ".join(related))
    if reply.footer:
        out.append("")
        out.append(reply.footer)
    return SLACK_REF.sub(lambda m: m["sigil"] + m["id"], "\n".join(out))  # csbot's Slack references as words


def _text_table(table: Table) -> list[str]:
    cells = [table.columns, *table.rows]
    widths = [max(_width(str(row[i])) for row in cells) for i in range(len(table.columns))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  " + "  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(row, widths)).rstrip()

    return [fmt(table.columns), "  " + "  ".join("-" * w for w in widths)] + [fmt(r) for r in table.rows]


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
