"""The one typed question every surface asks: ``Query``.

Slash commands, ``/cs``, mentions, DMs, the console, ``csbot ask`` and buttons all turn
their text into a ``Query`` (``commands.understand.parse_query``) before anything is
answered. A query says *what* is asked (``intent``), about which metrics, for which
periods and filters, broken down by which dimension or traced at which grain, and which
words were left over. Words left over that could change the answer make the router say
what it understood and what it did not, instead of answering another question.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period

# What a question asks for.
INTENTS = (
    "command",    # a command answers with its own view (/churn, /mrr, /health acme, /digest ..., /sync, help)
    "value",      # one or more metrics for one period (and filters)
    "breakdown",  # a metric by a dimension: "churn by segment", "セグメント別のNRR"
    "trend",      # a metric over time at a grain: "monthly churn for 2026", "NRRの推移"
    "compare",    # a metric for two periods ("Q2 vs Q3", "前年比") or two filter values ("enterprise vs smb")
    "list",       # a list of accounts: churned last month, in red, renewals next 30 days, owned by alice
    "count",      # how many accounts: "how many customers", "顧客数は？"
    "define",     # what a term means: "what is NRR?", "NRRって何？"
    "help",       # help
)

# The dimensions a breakdown or a comparison of filter values may use: ``Filters`` fields,
# columns of the accounts table.
DIMENSIONS = ("segment", "plan", "region", "owner", "touch_model")

# The time grains of a trend.
GRAINS = ("month", "quarter", "week")

# What a list of accounts shows (``Query.listing``).
LISTINGS = (
    "churn",          # accounts that churned in the period
    "early_churn",    # joined and left inside the period
    "new",            # new paying accounts in the period
    "reactivation",   # came back in the period
    "expansion",      # MRR went up
    "contraction",    # MRR went down
    "band",           # accounts in a health band (``list_band``: red / yellow / green)
    "health_drop",    # health fell by ``list_n`` points or more over the period (default 10 points, 30 days)
    "renewals",       # renewal date in the next ``list_n`` days (default 30)
    "accounts",       # accounts passing the filters (e.g. "accounts owned by alice")
)


@dataclass(frozen=True)
class Query:
    """One question, understood. Every field has the meaning "not given" when empty:
    an answer applies its default (last month, the whole company) only then."""

    intent: str = "value"
    command: str | None = None  # the command that answers ("churn", "nrr" ...), when one is named or implied
    metrics: tuple[str, ...] = ()  # catalog metric names, in the order asked
    part: str | None = None  # the one part of a metric named ("new MRR": the MRR movements' "new"; catalog part_aliases)
    periods: tuple[Period, ...] = ()  # () = none given; two for a comparison of periods
    period_words: tuple[str, ...] = ()  # the words each period was read from, as typed
    filters: Filters = NO_FILTERS
    compare_filters: tuple[Filters, ...] = ()  # "enterprise vs smb": one Filters per side (each on top of ``filters``)
    by: str | None = None  # a DIMENSIONS entry
    grain: str | None = None  # a GRAINS entry (trend)
    listing: str | None = None  # a LISTINGS entry (list, count)
    list_band: str | None = None  # health band for listing == "band"
    list_n: int | None = None  # days (renewals) or points (health_drop)
    list_top: int | None = None  # "top 10": only the first rows of the list, in its order
    account: str | None = None  # an account's name or id, as typed, when it matched an account
    term: str | None = None  # the glossary term (define)
    words: tuple[str, ...] = ()  # command words understood: "accounts", "how", "subscribe", a page number ...
    unknown: tuple[str, ...] = ()  # words not understood that could change the answer
    suggestions: tuple[str, ...] = ()  # "did you mean": filter values, metric names, command words, account names
    text: str = ""  # the whole question, cleaned

    @property
    def understood(self) -> bool:
        return not self.unknown

    @property
    def period(self) -> Period | None:
        """The one period asked for (the first of a comparison), or None."""
        return self.periods[0] if self.periods else None

    def refine(self, **changes) -> Query:
        return replace(self, **changes)
