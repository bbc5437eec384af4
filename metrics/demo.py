"""The demo company: a deterministic, realistic fake B2B SaaS business.

``load_demo(engine)`` fills the data tables with about three years of a
Japanese B2B SaaS vendor selling to about 400 accounts (enterprise, mid-market
and SMB) in JPY: subscriptions with new business, expansion, contraction,
cross-sell, churn, downgrades to free, reactivations and early churn; daily
product usage for the last 13 months; quarterly NPS waves; support tickets with
CSAT; onboarding milestones.

Accounts that churn show it first: three to five months before they leave their
usage drops a step and keeps sliding, their NPS drops and they open more high / urgent tickets. Some
accounts are fading right now (they churn after ``today``, so their
subscriptions are still open), including "Acme Logistics".

Everything comes from one ``random.Random(seed)`` and from ``today``: the same
``(today, seed)`` gives byte-identical rows. Nothing is dated on or after
``today`` 00:00 (subscription end dates may equal ``today``, the first day they
no longer count).
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, insert, select

from metrics import schema
from metrics.db import set_meta

logger = logging.getLogger(__name__)

__all__ = ["DemoSummary", "load_demo", "clear_data", "DEMO_SOURCE"]

DEMO_SOURCE = "demo"
_CHUNK = 10_000
_HISTORY_MONTHS = 36  # the company's age at ``today``
_USAGE_DAYS = 395  # daily usage kept for the last ~13 months
_USAGE_ROWS = 285_000  # engagement is scaled so that usage_daily holds about this many rows
_LOOKAHEAD_MONTHS = 4  # simulated past today so that accounts about to churn fade now

CSMS = ("alice@example.com", "bob@example.com", "carol@example.com", "dan@example.com", "erin@example.com")


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` wrote."""

    accounts: int
    subscriptions: int
    usage_daily: int
    nps_responses: int
    csat_responses: int
    onboarding: int
    tickets: int
    first_day: date  # the first day with data (first subscription start)
    last_day: date  # the last day with data (yesterday)
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return {
            "accounts": self.accounts,
            "subscriptions": self.subscriptions,
            "usage_daily": self.usage_daily,
            "nps_responses": self.nps_responses,
            "csat_responses": self.csat_responses,
            "onboarding": self.onboarding,
            "tickets": self.tickets,
        }

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


# --------------------------------------------------------------------------- names

_EN_FIRST = (
    "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Soylent", "Cyberdyne", "Tyrell",
    "Vandelay", "Gringotts", "Oceanic", "Massive", "Pied Piper", "Dunder", "Bluth", "Prestige", "Monarch",
    "Vortex", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware", "Wingtip",
    "Blue Harbor", "Silver Peak", "Red Cedar", "Granite", "Bright Path", "Summit", "Evergreen", "Lakeside",
    "Ironwood", "Pinnacle", "Horizon", "Atlas", "Beacon", "Cobalt", "Crescent", "Falcon", "Harbor Point",
    "Keystone", "Lighthouse", "Meridian", "Nimbus", "Orion", "Polaris", "Quantum", "Riverbend", "Sequoia",
    "Starling", "Trident", "Union Square", "Vertex", "Westfield", "Zephyr", "Aurora", "Bramble", "Copperleaf",
    "Driftwood", "Emberly", "Foxglove", "Goldcrest", "Hawthorne", "Juniper", "Kestrel", "Larkspur", "Maple Lane",
    "Northstar", "Oakridge", "Palisade", "Redwood", "Saffron", "Thistle", "Upland", "Willow", "Yellowstone",
)
_EN_SECOND = (
    "Corp", "Inc", "Labs", "Analytics", "Logistics", "Systems", "Group", "Holdings", "Software", "Foods",
    "Health", "Retail", "Partners", "Industries", "Networks", "Media", "Energy", "Financial", "Robotics",
    "Manufacturing", "Consulting", "Learning", "Travel", "Pharma", "Capital",
)
_JA_STEMS = (
    "さくら", "富士", "青葉", "北斗", "大和", "浪速", "銀河", "東海", "若葉", "みなと", "ひかり", "朝日",
    "日本橋", "信濃", "瀬戸内", "白山", "紅葉", "つばさ", "琵琶湖", "みらい",
)
_JA_FORMS = ("株式会社{}", "{}商事", "{}テック株式会社", "{}ソリューションズ", "{}物産", "{}精機株式会社")

_INDUSTRIES = (
    ("SaaS", 14), ("Manufacturing", 14), ("Retail", 11), ("Financial Services", 9), ("Healthcare", 8),
    ("Logistics", 8), ("Media", 6), ("Education", 6), ("Professional Services", 10), ("Real Estate", 5),
    ("Hospitality", 4), ("Public Sector", 3),
)

# ------------------------------------------------------------------ plans and prices
# monthly list price = base + per_seat * seats (JPY); add-ons on top.
_PRICES = {"starter": (20_000, 2_800), "pro": (60_000, 4_200), "enterprise": (250_000, 6_500), "free": (0, 0)}
_SEGMENT_PLAN = {"smb": "starter", "mid-market": "pro", "enterprise": "enterprise"}
_SEATS = {"smb": (5, 16), "mid-market": (12, 45), "enterprise": (50, 500)}
_CHURN_HAZARD = {"smb": 0.030, "mid-market": 0.016, "enterprise": 0.008}  # per month
_TICKETS_PER_MONTH = {"smb": 0.35, "mid-market": 0.9, "enterprise": 2.2}

_SUBJECTS = (
    "Cannot log in with SSO", "CSV export times out", "How do I add a new user?", "Invoice address change",
    "Dashboard shows wrong totals", "API rate limit questions", "Request: bulk edit", "Slow page loads",
    "Webhook not firing", "Permission settings for managers", "Data import failed", "Billing question",
    "SAML configuration", "Report scheduling", "Mobile app crashes", "Integration with Salesforce",
    "ログインできません", "請求書の宛名変更について", "CSVの文字化け", "ユーザー追加の方法", "APIの仕様について",
    "ダッシュボードの数値が合わない", "権限設定の相談", "データ連携エラー",
)
_URGENT_SUBJECTS = (
    "Outage: nobody can log in", "Data missing since yesterday", "Sync stopped - urgent", "Production API errors",
    "障害: 全ユーザーがログイン不可", "至急: データが消えています",
)
_NPS_COMMENTS = {
    "promoter": (
        "Great product, the team loves it.", "Support is fast and helpful.", "Saves us hours every week.",
        "Easy to roll out to new teams.", "とても使いやすいです。", "サポートの対応が早くて助かります。",
        "業務時間が大幅に減りました。",
    ),
    "passive": (
        "Good, but reporting could be better.", "Works well; pricing is a bit high.", "Solid, a few bugs.",
        "機能は十分ですが、少し高いです。", "概ね満足しています。",
    ),
    "detractor": (
        "Too slow and buggy lately.", "We are not getting value for the price.", "Hard to get adoption.",
        "Support took days to answer.", "Missing features we need.", "最近不具合が多いです。",
        "価格に見合う効果が出ていません。", "社内で定着しませんでした。",
    ),
}
_CSAT_COMMENTS = {
    5: ("Quick fix, thanks!", "Very helpful.", "迅速な対応ありがとうございました。"),
    4: ("Resolved, thanks.", "Good answer.", "解決しました。"),
    3: ("Took a while.", "OK in the end.", "少し時間がかかりました。"),
    2: ("Slow response.", "Not really solved.", "対応が遅かったです。"),
    1: ("Still broken.", "Very disappointed.", "解決していません。"),
}
_MILESTONES = ("kickoff", "setup", "first_value", "training")


# ------------------------------------------------------------------ date helpers


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    last = (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _days_between(a: date, b: date) -> int:
    return (b - a).days


# ------------------------------------------------------------------ the simulation


@dataclass
class _Row:
    product: str
    plan: str
    start: date
    end: date | None
    mrr: float
    quantity: int
    bill: int
    discount: float


@dataclass
class _Account:
    n: int
    account_id: str
    name: str
    segment: str
    touch: str
    region: str
    industry: str
    owner: str | None
    created: date
    bill: int  # 1 or 12
    discount_rate: float
    seats: int
    plan: str
    anchor: date  # the day billing anniversaries count from
    util: float  # share of seats that are real users
    minutes: float  # mean minutes per active user-day
    satisfaction: float  # latent NPS shift
    risk: float  # latent churn propensity
    rows: list[_Row] = field(default_factory=list)
    churns: list[date] = field(default_factory=list)
    fades: list[tuple[date, date]] = field(default_factory=list)  # (start, end) of usage fading / trouble
    dips: list[tuple[date, date]] = field(default_factory=list)  # trouble that recovers
    first_paid: date | None = None
    protected: bool = False  # never churned at random
    forced_churn: date | None = None
    never_finish: str | None = None  # onboarding milestone never completed

    def open_rows(self) -> list[_Row]:
        return [r for r in self.rows if r.end is None]

    def open_row(self, product: str) -> _Row | None:
        for r in self.rows:
            if r.product == product and r.end is None:
                return r
        return None

    def mrr(self) -> float:
        return sum(r.mrr for r in self.rows if r.end is None)

    @property
    def paying(self) -> bool:
        return self.mrr() > 0


class _Company:
    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self.start = _add_months(_month_start(today), -_HISTORY_MONTHS)
        self.sim_end = _add_months(_month_start(today), _LOOKAHEAD_MONTHS)
        self.accounts: list[_Account] = []
        self._names = self._name_pool()

    # ----------------------------------------------------------- accounts

    def _name_pool(self) -> list[str]:
        rng = self.rng
        en = [f"{a} {b}" for a in _EN_FIRST for b in _EN_SECOND]
        rng.shuffle(en)
        ja = [form.format(stem) for stem in _JA_STEMS for form in _JA_FORMS]
        rng.shuffle(ja)
        bare = list(_EN_FIRST)  # one-word names ("Globex", "Initech"), each used once
        rng.shuffle(bare)
        pool: list[str] = []
        ji = ei = bi = 0
        for i in range(600):
            if i % 10 == 4:
                pool.append(ja[ji])
                ji += 1
            elif i % 10 == 7 and bi < len(bare):
                pool.append(bare[bi])
                bi += 1
            else:
                pool.append(en[ei])
                ei += 1
        return pool

    def _price(self, plan: str, seats: int) -> float:
        base, per_seat = _PRICES[plan]
        return float(base + per_seat * seats)

    def _core_mrr(self, acct: _Account, plan: str, seats: int) -> tuple[float, float]:
        price = self._price(plan, seats)
        mrr = round(price * (1 - acct.discount_rate), -2)
        return float(mrr), float(price - mrr)

    def _addon_mrr(self, acct: _Account, product: str) -> float:
        core = acct.open_row("core")
        base = core.mrr if core else 0.0
        if product == "analytics":
            return float(max(10_000, round(base * 0.15, -2)))
        return float({"smb": 10_000, "mid-market": 30_000, "enterprise": 90_000}[acct.segment])

    def new_account(self, day: date, *, name: str | None = None, segment: str | None = None,
                    forced: dict | None = None) -> _Account:
        rng = self.rng
        n = len(self.accounts) + 1
        if segment is None:
            segment = rng.choices(("smb", "mid-market", "enterprise"), (52, 36, 12))[0]
        if name is None:
            name = self._names[n - 1]
        is_ja = not name.isascii()
        if segment == "smb":
            touch = "community" if rng.random() < 0.08 else "tech"
        elif segment == "mid-market":
            touch = "low"
        else:
            touch = "high"
        if is_ja:
            region = "japan"
        else:
            region = rng.choices(("japan", "apac", "na", "emea"), (38, 22, 22, 18))[0]
        industry = rng.choices([i for i, _ in _INDUSTRIES], [w for _, w in _INDUSTRIES])[0]
        if touch == "high":
            owner = rng.choice(CSMS[:2])
        elif touch == "low":
            owner = rng.choice(CSMS[1:])
        elif touch == "tech":
            owner = rng.choice(CSMS[3:]) if rng.random() < 0.35 else None
        else:
            owner = None
        lo, hi = _SEATS[segment]
        if segment == "enterprise":
            seats = min(hi, int(lo * math.exp(rng.expovariate(2.0))))
        else:
            seats = int(round(lo * math.exp(rng.random() * math.log(hi / lo))))
        bill = 12 if (segment == "enterprise" or (segment == "mid-market" and rng.random() < 0.6)
                      or (segment == "smb" and rng.random() < 0.2)) else 1
        discount_rate = 0.0
        if rng.random() < {"smb": 0.12, "mid-market": 0.3, "enterprise": 0.55}[segment]:
            discount_rate = rng.choice((0.05, 0.1, 0.1, 0.15, 0.2))
        acct = _Account(
            n=n, account_id=f"A{n:04d}", name=name, segment=segment, touch=touch, region=region,
            industry=industry, owner=owner, created=day, bill=bill, discount_rate=discount_rate, seats=seats,
            plan=_SEGMENT_PLAN[segment], anchor=day,
            util=rng.uniform(0.4, 0.85) if segment != "enterprise" else rng.uniform(0.3, 0.65),
            minutes=rng.uniform(14, 42), satisfaction=rng.gauss(0, 0.9), risk=math.exp(rng.gauss(0, 0.45)),
        )
        if segment == "smb" and rng.random() < 0.15:
            acct.plan = "pro"
        if forced:
            for k, v in forced.items():
                setattr(acct, k, v)
        self.accounts.append(acct)
        # a third of the self-serve accounts try the free plan first
        paid_day = day
        if segment == "smb" and rng.random() < 0.3:
            paid_day = day + timedelta(days=rng.randint(7, 30))
            self._open(acct, "core", "free", day, 0.0, 0.0, acct.seats, 1)
            self._end(acct, "core", paid_day)
        acct.first_paid = paid_day
        acct.anchor = paid_day
        mrr, disc = self._core_mrr(acct, acct.plan, acct.seats)
        self._open(acct, "core", acct.plan, paid_day, mrr, disc, acct.seats, acct.bill)
        if segment != "smb" and rng.random() < 0.35:
            self._open(acct, "analytics", "analytics", paid_day, self._addon_mrr(acct, "analytics"), 0.0, 1, acct.bill)
        if segment == "enterprise" and rng.random() < 0.3:
            self._open(acct, "api", "api", paid_day, self._addon_mrr(acct, "api"), 0.0, 1, acct.bill)
        roll = rng.random()
        if roll < 0.08:
            acct.never_finish = "training"
        elif roll < 0.13:
            acct.never_finish = "first_value"
        return acct

    # ----------------------------------------------------------- row operations

    def _open(self, acct: _Account, product: str, plan: str, day: date, mrr: float, disc: float, qty: int,
              bill: int) -> None:
        acct.rows.append(_Row(product, plan, day, None, mrr, qty, bill, disc))

    def _end(self, acct: _Account, product: str, day: date) -> None:
        row = acct.open_row(product)
        if row is not None:
            row.end = day

    def _change(self, acct: _Account, product: str, day: date, plan: str, mrr: float, disc: float, qty: int) -> None:
        row = acct.open_row(product)
        assert row is not None and day > row.start
        row.end = day
        self._open(acct, product, plan, day, mrr, disc, qty, row.bill)

    def _latest_open_start(self, acct: _Account) -> date:
        return max(r.start for r in acct.open_rows())

    # ----------------------------------------------------------- events

    def _churn(self, acct: _Account, day: date, fade_days: int | None = None) -> None:
        rng = self.rng
        to_free = acct.segment != "enterprise" and rng.random() < (0.35 if acct.segment == "smb" else 0.15)
        for row in acct.open_rows():
            row.end = day
        if to_free:
            self._open(acct, "core", "free", day, 0.0, 0.0, min(acct.seats, 3), 1)
            acct.plan = "free"
        acct.churns.append(day)
        # most churners fade first; some leave abruptly (acquired, budget cut)
        if fade_days is not None or rng.random() < 0.82:
            length = fade_days or rng.randint(90, 150)
            acct.fades.append((day - timedelta(days=length), day))
            # a third of the fading monthly payers cut seats on the way out
            prev = next(r for r in reversed(acct.rows) if r.product == "core" and r.end == day and r.mrr > 0)
            cut = day - timedelta(days=rng.randint(30, 50))
            if acct.bill == 1 and cut > prev.start + timedelta(days=1) and rng.random() < 0.35:
                self._split_contraction(acct, prev, cut)

    def _split_contraction(self, acct: _Account, row: _Row, day: date) -> None:
        seats = max(3, int(row.quantity * self.rng.uniform(0.6, 0.85)))
        if seats >= row.quantity:
            return
        mrr, disc = self._core_mrr(acct, row.plan, seats)
        tail = _Row(row.product, row.plan, day, row.end, mrr, seats, row.bill, disc)
        row.end = day
        acct.rows.insert(acct.rows.index(row) + 1, tail)

    def _expand(self, acct: _Account, day: date) -> None:
        rng = self.rng
        core = acct.open_row("core")
        if acct.segment == "smb" and core.plan == "starter" and rng.random() < 0.25:
            plan, seats = "pro", max(acct.seats, 10)
        else:
            plan = core.plan
            seats = min(500, acct.seats + max(1, int(acct.seats * rng.uniform(0.1, 0.5))))
        mrr, disc = self._core_mrr(acct, plan, seats)
        if mrr <= core.mrr:
            return
        acct.seats, acct.plan = seats, plan
        self._change(acct, "core", day, plan, mrr, disc, seats)

    def _contract(self, acct: _Account, day: date) -> None:
        core = acct.open_row("core")
        seats = max(3, int(acct.seats * self.rng.uniform(0.65, 0.9)))
        if seats >= acct.seats:
            return
        mrr, disc = self._core_mrr(acct, core.plan, seats)
        if mrr >= core.mrr:
            return
        acct.seats = seats
        self._change(acct, "core", day, core.plan, mrr, disc, seats)

    def _cross_sell(self, acct: _Account, day: date) -> bool:
        options = [p for p in ("analytics", "api") if acct.open_row(p) is None]
        if acct.segment == "smb" and "api" in options and self.rng.random() < 0.7:
            options.remove("api")
        if not options:
            return False
        product = self.rng.choice(options)
        self._open(acct, product, product, day, self._addon_mrr(acct, product), 0.0, 1, acct.bill)
        return True

    def _reactivate(self, acct: _Account, day: date) -> None:
        rng = self.rng
        free = acct.open_row("core")
        if free is not None:
            free.end = day
        acct.plan = _SEGMENT_PLAN[acct.segment] if acct.segment != "smb" else "starter"
        acct.seats = max(5, int(acct.seats * rng.uniform(0.7, 1.1)))
        acct.bill = 1
        acct.anchor = day
        acct.risk *= 0.8
        mrr, disc = self._core_mrr(acct, acct.plan, acct.seats)
        self._open(acct, "core", acct.plan, day, mrr, disc, acct.seats, 1)

    # ----------------------------------------------------------- the months

    def run(self) -> None:
        rng = self.rng
        month = self.start
        index = 0
        acme_corp_month = 0
        acme_logistics_month = _HISTORY_MONTHS - 21
        while month < self.sim_end:
            nxt = _add_months(month, 1)
            ndays = _days_between(month, nxt)
            paying_at_start = [a for a in self.accounts if a.paying and self._latest_open_start(a) < month]
            self._month_churn(month, nxt, paying_at_start)
            churned_now = {a.n for a in paying_at_start if not a.paying}
            for acct in paying_at_start:
                if acct.n in churned_now:
                    continue
                lo = max(self._latest_open_start(acct) + timedelta(days=1), month + timedelta(days=1))
                if lo >= nxt:
                    continue
                day = lo + timedelta(days=rng.randrange(_days_between(lo, nxt)))
                renewal_month = acct.bill == 1 or acct.anchor.month == month.month
                p_expand = (0.07 if acct.segment == "enterprise" else 0.05) / acct.risk
                p_cross = p_expand + 0.015
                p_contract = p_cross + (0.016 * acct.risk if renewal_month else 0.0)
                p_drop = p_contract + 0.003
                p_dip = p_drop + 0.007
                roll = rng.random()
                if roll < p_expand:
                    self._expand(acct, day)
                elif roll < p_cross:
                    self._cross_sell(acct, day)
                elif roll < p_contract:
                    self._contract(acct, day)
                elif roll < p_drop:
                    if acct.open_row("analytics") is not None:
                        self._end(acct, "analytics", day)
                elif roll < p_dip and not acct.dips and not acct.protected:
                    # a rough patch that passes
                    acct.dips.append((day, day + timedelta(days=rng.randint(30, 50))))
            # win-backs: churned accounts paying again some months later
            for acct in self.accounts:
                if acct.paying or not acct.churns or acct.protected:
                    continue
                gone = _days_between(acct.churns[-1], month)
                if 60 <= gone <= 700 and rng.random() < 0.012:
                    self._reactivate(acct, month + timedelta(days=rng.randrange(ndays)))
            # new business: grows from ~7 to ~15 a month
            n_new = max(3, int(round(7 + 8.5 * index / _HISTORY_MONTHS + rng.uniform(-2.5, 2.5))))
            if index == 0:
                n_new += 6
            new_days = sorted(month + timedelta(days=rng.randrange(ndays)) for _ in range(n_new))
            for k, day in enumerate(new_days):
                if index == acme_corp_month and k == 0:
                    self.new_account(day, name="Acme Corp", segment="enterprise",
                                     forced={"protected": True, "owner": CSMS[0], "region": "na",
                                             "satisfaction": 1.0, "risk": 0.6})
                elif index == acme_logistics_month and k == 0:
                    self.new_account(day, name="Acme Logistics", segment="mid-market",
                                     forced={"protected": True, "owner": CSMS[2], "region": "japan",
                                             "industry": "Logistics", "bill": 1,
                                             "forced_churn": self.today + timedelta(days=38)})
                elif index == _HISTORY_MONTHS // 2 and k == 0:
                    self.new_account(day, name="株式会社アクメ", segment="mid-market")
                else:
                    acct = self.new_account(day)
                    # early churn: joins and leaves inside the month
                    if (acct.segment == "smb" and acct.bill == 1 and rng.random() < 0.06
                            and self._latest_open_start(acct) + timedelta(days=8) < nxt):
                        s = self._latest_open_start(acct)
                        end = s + timedelta(days=rng.randint(7, max(7, min(25, _days_between(s, nxt) - 1))))
                        for row in acct.open_rows():
                            row.end = end
                        acct.churns.append(end)
                        acct.protected = True  # no win-back for these
            month = nxt
            index += 1

    def _month_churn(self, month: date, nxt: date, paying: list[_Account]) -> None:
        rng = self.rng
        forced = [a for a in paying if a.forced_churn and month <= a.forced_churn < nxt]
        for acct in forced:
            self._churn(acct, acct.forced_churn, fade_days=130)
        if not paying:
            return
        candidates: list[tuple[_Account, date, float]] = []
        expected = 0.0
        for acct in paying:
            if acct.protected or acct.forced_churn:
                continue
            hazard = _CHURN_HAZARD[acct.segment] * acct.risk
            expected += hazard
            lo = self._latest_open_start(acct) + timedelta(days=1)
            if acct.bill == 12:
                years = month.year - acct.anchor.year
                try:
                    anniversary = acct.anchor.replace(year=month.year)
                except ValueError:
                    anniversary = date(month.year, 3, 1)
                if years < 1 or not (month <= anniversary < nxt) or anniversary < lo:
                    continue
                candidates.append((acct, anniversary, hazard * 12))
            else:
                lo = max(lo, month + timedelta(days=1))
                if lo >= nxt:
                    continue
                candidates.append((acct, lo + timedelta(days=rng.randrange(_days_between(lo, nxt))), hazard))
        floor = math.ceil(0.007 * len(paying))
        ceiling = math.floor(0.04 * len(paying))
        target = int(round(expected + rng.uniform(-1.5, 1.5)))
        target = max(floor, min(ceiling, target)) - len(forced)
        target = min(target, len(candidates))
        for _ in range(max(0, target)):
            total = sum(w for _, _, w in candidates)
            pick = rng.random() * total
            for i, (acct, day, w) in enumerate(candidates):
                pick -= w
                if pick <= 0 or i == len(candidates) - 1:
                    break
            candidates.pop(i)
            self._churn(acct, day)


# ------------------------------------------------------------------ building rows


def _business_time(rng: random.Random, day: date) -> datetime:
    """A weekday business-hours timestamp on ``day`` (moved to the next Monday on weekends)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, rng.randint(9, 17), rng.randrange(60), rng.randrange(60))


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _trouble(acct: _Account, day: date) -> float:
    """0 (fine) .. 1 (about to leave): how deep into a fade or a rough patch ``day`` is."""
    worst = 0.0
    for start, end in acct.fades:
        if start <= day < end:
            # disengagement starts with a step (a champion leaves, a budget is cut) and slides from there
            worst = max(worst, 0.35 + 0.65 * (day - start).days / max(1, (end - start).days))
    for start, end in acct.dips:
        if start <= day < end:
            worst = max(worst, 0.55)
    return worst


class _Builder:
    def __init__(self, company: _Company, rng: random.Random):
        self.c = company
        self.rng = rng
        self.today = company.today
        self.accounts = [a for a in company.accounts if a.rows and min(r.start for r in a.rows) < self.today]
        for acct in self.accounts:
            self._truncate(acct)

    def _truncate(self, acct: _Account) -> None:
        kept = []
        for row in acct.rows:
            if row.start >= self.today:
                continue
            if row.end is not None and row.end >= self.today:  # ends on or after today: still open in the data
                row.end = None
            kept.append(row)
        acct.rows = kept
        acct.churns = [d for d in acct.churns if d <= self.today + timedelta(days=120)]

    # ----------------------------------------------------------- accounts & subscriptions

    def account_rows(self) -> list[dict]:
        rng = self.rng
        out = []
        for acct in self.accounts:
            core = [r for r in acct.rows if r.product == "core"]
            current = next((r for r in core if r.end is None), core[-1])
            paying = current.end is None and current.mrr > 0
            renewal = None
            if paying and current.bill == 12:
                years = max(1, self.today.year - acct.anchor.year)
                renewal = _add_months(acct.anchor, 12 * years)
                while renewal < self.today:
                    renewal = _add_months(renewal, 12)
            created = datetime.combine(acct.created - timedelta(days=rng.randint(0, 10)), datetime.min.time())
            created = created.replace(hour=rng.randint(9, 18), minute=rng.randrange(60))
            out.append({
                "account_id": acct.account_id, "name": acct.name, "plan": current.plan, "segment": acct.segment,
                "touch_model": acct.touch, "owner": acct.owner, "region": acct.region, "industry": acct.industry,
                "seats": current.quantity if current.plan != "free" else acct.seats, "renewal_date": renewal,
                "created_at": created, "attributes": None,
            })
        return out

    def subscription_rows(self) -> list[dict]:
        out = []
        for acct in self.accounts:
            for row in sorted(acct.rows, key=lambda r: (r.start, r.product)):
                out.append({
                    "subscription_id": f"S{len(out) + 1:05d}", "account_id": acct.account_id,
                    "product": row.product, "start_date": row.start, "end_date": row.end, "mrr": row.mrr,
                    "quantity": row.quantity, "bill_period_months": row.bill, "discount": row.discount,
                })
        return out

    # ----------------------------------------------------------- usage

    def usage_rows(self) -> list[dict]:
        rng = self.rng
        first = self.today - timedelta(days=_USAGE_DAYS)
        days = [first + timedelta(days=i) for i in range(_USAGE_DAYS)]
        base_factor = []
        japan_factor = []
        for d in days:
            f = 1.0 if d.weekday() < 5 else (0.06 if d.weekday() == 5 else 0.03)
            if (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3):
                f *= 0.12
            j = f
            if (d.month == 5 and 3 <= d.day <= 5) or (d.month == 8 and 13 <= d.day <= 15):
                j *= 0.3
            base_factor.append(f)
            japan_factor.append(j)
        # pass 1: who could be active when, and how engaged each user is
        plans = []
        expected = 0.0
        prefix = {"base": [0.0], "japan": [0.0]}
        for f, j in zip(base_factor, japan_factor):
            prefix["base"].append(prefix["base"][-1] + f)
            prefix["japan"].append(prefix["japan"][-1] + j)
        for acct in self.accounts:
            kind = "japan" if acct.region == "japan" else "base"
            # the account's health on each day: ramp-up after the first paid day, fades, dips
            health = None
            if acct.fades or acct.dips or (acct.first_paid and acct.first_paid > first - timedelta(days=45)):
                health = []
                for d in days:
                    h = 1.0 - 0.85 * _trouble(acct, d)
                    if acct.first_paid and d >= acct.first_paid:
                        h *= min(1.0, 0.35 + 0.65 * (d - acct.first_paid).days / 45)
                    health.append(h)
            engagement: list[float] = []
            for row in acct.rows:
                if row.product != "core" or (row.end is not None and row.end <= first):
                    continue
                a = max(0, (row.start - first).days)
                b = _USAGE_DAYS if row.end is None else min(_USAGE_DAYS, (row.end - first).days)
                n_users = 2 if row.mrr == 0 else max(2, int(round(row.quantity * acct.util)))
                while len(engagement) < n_users:
                    engagement.append(rng.betavariate(1.4, 3.6))
                weight = 0.35 if row.mrr == 0 else 1.0
                expected += weight * sum(engagement[:n_users]) * (prefix[kind][b] - prefix[kind][a])
                plans.append((acct, kind, health, engagement, a, b, n_users, weight))
        # the same number of rows (about _USAGE_ROWS) whatever the seed draws
        scale = min(1.0, _USAGE_ROWS / max(1.0, expected))
        # pass 2: the active days
        out: list[dict] = []
        for acct, kind, health, engagement, a, b, n_users, weight in plans:
            factor = japan_factor if kind == "japan" else base_factor
            for u in range(n_users):
                p = min(0.92, max(0.01, engagement[u] * weight * scale))
                user_id = f"{acct.account_id}-u{u + 1:02d}"
                mins = acct.minutes * rng.uniform(0.6, 1.4)
                log_q = math.log(1.0 - p)
                i = a - 1
                while True:
                    i += 1 + int(math.log(1.0 - rng.random()) / log_q)
                    if i >= b:
                        break
                    accept = factor[i] if health is None else factor[i] * health[i]
                    if accept < 1.0 and rng.random() >= accept:
                        continue
                    h = 1.0 if health is None else health[i]
                    minutes = mins * (0.5 + 0.5 * h) * math.exp(rng.gauss(-0.12, 0.5))
                    out.append({
                        "account_id": acct.account_id, "user_id": user_id, "day": days[i],
                        "events": max(1, int(minutes * rng.uniform(0.6, 1.6))),
                        "seconds": float(int(minutes * 60)),
                    })
        return out

    # ----------------------------------------------------------- tickets and csat

    def _paying_days(self, acct: _Account) -> list[tuple[date, date]]:
        spans = []
        for row in acct.rows:
            if row.product == "core" and row.mrr > 0:
                spans.append((row.start, row.end or self.today))
        return spans

    def ticket_and_csat_rows(self) -> tuple[list[dict], list[dict]]:
        rng = self.rng
        midnight = datetime.combine(self.today, datetime.min.time())
        tickets: list[dict] = []
        csat: list[dict] = []
        for acct in self.accounts:
            rate = _TICKETS_PER_MONTH[acct.segment]
            for start, end in self._paying_days(acct):
                month = _month_start(start)
                while month < end:
                    nxt = _add_months(month, 1)
                    lo, hi = max(month, start), min(nxt, end)
                    if lo < hi:
                        trouble = _trouble(acct, lo + (hi - lo) / 2)
                        share = (hi - lo).days / (nxt - month).days
                        for _ in range(_poisson(rng, rate * share * (1 + 2.2 * trouble))):
                            opened = _business_time(rng, lo + timedelta(days=rng.randrange((hi - lo).days)))
                            if opened >= midnight:
                                continue
                            self._ticket(acct, opened, trouble, midnight, tickets, csat)
                    month = nxt
        tickets.sort(key=lambda t: (t["opened_at"], t["account_id"]))
        ids = {}
        for i, t in enumerate(tickets, 1):
            ids[t["ticket_id"]] = f"T{i:05d}"
            t["ticket_id"] = ids[t["ticket_id"]]
        for c in csat:
            c["ticket_id"] = ids[c["ticket_id"]]
        csat.sort(key=lambda c: (c["responded_at"], c["ticket_id"]))
        for i, c in enumerate(csat, 1):
            c["response_id"] = f"C{i:05d}"
        return tickets, csat

    def _ticket(self, acct: _Account, opened: datetime, trouble: float, midnight: datetime,
                tickets: list[dict], csat: list[dict]) -> None:
        rng = self.rng
        if trouble > 0.2:
            weights = (10, 35, 33, 22)
        else:
            weights = (26, 52, 16, 6)
        priority = rng.choices(("low", "normal", "high", "urgent"), weights)[0]
        median_hours = {"low": 96, "normal": 40, "high": 16, "urgent": 5}[priority]
        hours = median_hours * math.exp(rng.gauss(0, 0.8))
        if rng.random() < 0.08:  # waiting on the customer, escalated to engineering ...
            hours *= 6
        if trouble > 0.4:  # the accounts in trouble have the hard problems, and they drag on
            hours *= rng.uniform(4, 20) if priority in ("high", "urgent") else 3
        closed = opened + timedelta(hours=hours)
        subject = rng.choice(_URGENT_SUBJECTS if priority == "urgent" and rng.random() < 0.6 else _SUBJECTS)
        key = f"tmp{len(tickets)}-{acct.n}"
        row = {"ticket_id": key, "account_id": acct.account_id, "opened_at": opened, "closed_at": closed,
               "priority": priority, "status": "closed", "subject": subject}
        if closed >= midnight:
            row["closed_at"], row["status"] = None, "open"
        tickets.append(row)
        if row["closed_at"] is None or rng.random() > 0.45:
            return
        responded = closed + timedelta(hours=rng.uniform(1, 60))
        if responded >= midnight:
            return
        mood = 1.2 * trouble + (0.5 if priority == "urgent" else 0) + (0.4 if hours > 3 * median_hours else 0)
        weights = (3 + 6 * mood, 4 + 5 * mood, 9 + 4 * mood, 28, max(5.0, 56 - 30 * mood))
        score = rng.choices((1, 2, 3, 4, 5), weights)[0]
        comment = rng.choice(_CSAT_COMMENTS[score]) if rng.random() < 0.3 else None
        csat.append({"response_id": "", "account_id": acct.account_id, "score": score,
                     "responded_at": responded.replace(microsecond=0), "ticket_id": key, "comment": comment})

    # ----------------------------------------------------------- nps

    def nps_rows(self) -> list[dict]:
        rng = self.rng
        midnight = datetime.combine(self.today, datetime.min.time())
        out: list[dict] = []
        wave = date(self.c.start.year, 2, 1)
        while wave < self.c.start:
            wave = _add_months(wave, 3)
        waves = []
        while wave < self.today:
            waves.append(wave + timedelta(days=4))
            wave = _add_months(wave, 3)
        for w in waves:
            for acct in self.accounts:
                row = next((r for r in acct.rows if r.product == "core" and r.start <= w
                            and (r.end is None or w < r.end) and r.mrr > 0), None)
                if row is None or rng.random() > 0.45:
                    continue
                n_users = max(2, int(round(row.quantity * acct.util)))
                k = min(n_users, rng.choice((1, 1, 2, 2, 3, 4) if acct.segment != "enterprise" else (2, 3, 4, 5, 6)))
                for u in sorted(rng.sample(range(1, n_users + 1), k)):
                    day = w + timedelta(days=min(20, int(rng.expovariate(1 / 4))))
                    at = _business_time(rng, day)
                    if at >= midnight:
                        continue
                    trouble = _trouble(acct, day)
                    if any(s - timedelta(days=40) <= day < s for s, _ in acct.fades):
                        trouble = max(trouble, 0.4)
                    x = 8.2 + acct.satisfaction + rng.gauss(0, 1.6) - 5.0 * trouble
                    score = max(0, min(10, int(round(x))))
                    kind = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
                    comment = None
                    if rng.random() < (0.45 if kind == "detractor" else 0.25):
                        options = _NPS_COMMENTS[kind]
                        ja = [c for c in options if not c.isascii()]
                        en = [c for c in options if c.isascii()]
                        comment = rng.choice(ja if acct.region == "japan" and rng.random() < 0.7 else en)
                    respondent = f"{acct.account_id}-u{u:02d}"
                    out.append({"response_id": "", "account_id": acct.account_id, "respondent": respondent,
                                "score": score, "responded_at": at, "comment": comment})
        out.sort(key=lambda r: (r["responded_at"], r["account_id"], r["respondent"]))
        for i, r in enumerate(out, 1):
            r["response_id"] = f"N{i:05d}"
        return out

    # ----------------------------------------------------------- onboarding

    def onboarding_rows(self) -> list[dict]:
        rng = self.rng
        midnight = datetime.combine(self.today, datetime.min.time())
        out = []
        gaps = {"kickoff": (1, 7), "setup": (4, 18), "first_value": (7, 40), "training": (5, 30)}
        for acct in self.accounts:
            if acct.first_paid is None:
                continue
            early_churn = acct.churns and (acct.churns[0] - acct.first_paid).days < 30
            day = acct.first_paid
            for milestone in _MILESTONES:
                lo, hi = gaps[milestone]
                if acct.segment == "enterprise":
                    hi = int(hi * 1.5)
                day = day + timedelta(days=rng.randint(lo, hi))
                if milestone == acct.never_finish or (early_churn and milestone != "kickoff"):
                    break
                at = _business_time(rng, day)
                if at >= midnight:
                    break
                out.append({"account_id": acct.account_id, "milestone": milestone, "completed_at": at})
        return out


# ------------------------------------------------------------------ public API


def _data_tables_empty(conn) -> bool:
    for table in schema.DATA_TABLES:
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            return False
    return True


def load_demo(engine: Engine, tz: ZoneInfo = ZoneInfo("Asia/Tokyo"), today: date | None = None,
              seed: int = 2026) -> DemoSummary:
    """Fill the empty data tables with the demo company (one transaction) and log a "demo" sync.

    Raises ``ValueError`` when any data table already holds rows (use ``clear_data`` first).
    """
    started = time.perf_counter()
    started_utc = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    if today is None:
        today = datetime.now(tz).date()
    with engine.connect() as conn:
        if not _data_tables_empty(conn):
            raise ValueError("the database already holds data; run `csbot demo --force` to replace it with the demo company")
    rng = random.Random(seed)
    company = _Company(rng, today)
    company.run()
    builder = _Builder(company, rng)
    data = {
        "accounts": builder.account_rows(),
        "subscriptions": builder.subscription_rows(),
        "usage_daily": builder.usage_rows(),
        "nps_responses": builder.nps_rows(),
    }
    data["tickets"], data["csat_responses"] = builder.ticket_and_csat_rows()
    data["onboarding"] = builder.onboarding_rows()
    built = time.perf_counter()
    tables = {t.name: t for t in schema.DATA_TABLES}
    order = ("accounts", "subscriptions", "usage_daily", "nps_responses", "tickets", "csat_responses", "onboarding")
    with engine.begin() as conn:
        if not _data_tables_empty(conn):  # someone else loaded meanwhile
            raise ValueError("the database already holds data; run `csbot demo --force` to replace it with the demo company")
        for name in order:
            rows = data[name]
            for i in range(0, len(rows), _CHUNK):
                conn.execute(tables[name].insert(), rows[i:i + _CHUNK])
        counts = {name: len(data[name]) for name in order}
        conn.execute(insert(schema.sync_log).values(
            source=DEMO_SOURCE, started_at=started_utc,
            finished_at=datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0),
            status="ok", rows_in=sum(counts.values()), rows_changed=sum(counts.values()), rows_rejected=0,
            message=f"demo company (seed {seed}, today {today.isoformat()})", details=counts,
        ))
        set_meta(conn, "data_source", DEMO_SOURCE)
    seconds = time.perf_counter() - started
    first_day = min(r["start_date"] for r in data["subscriptions"])
    logger.info("demo company loaded: %s rows in %.1f s (built in %.1f s)", sum(counts.values()), seconds,
                built - started)
    return DemoSummary(first_day=first_day, last_day=today - timedelta(days=1), seconds=round(seconds, 3), **counts)


def clear_data(engine: Engine) -> None:
    """Delete every row of the data tables, the sync log, rejected rows, health snapshots, the
    data-source key, and what the sync remembers about events (seen ids, the watermark): with
    the usage gone, a later sync must count those events again."""
    from metrics.sync.events import WATERMARK_KEY

    children = [t for t in schema.DATA_TABLES if t is not schema.accounts]
    with engine.begin() as conn:
        for table in children:
            conn.execute(delete(table))
        conn.execute(delete(schema.accounts))
        for table in (schema.sync_log, schema.rejected_rows, schema.health_snapshots, schema.sync_seen_events):
            conn.execute(delete(table))
        conn.execute(delete(schema.meta).where(schema.meta.c.key.in_(("data_source", WATERMARK_KEY))))
