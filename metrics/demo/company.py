"""The demo company: a deterministic, realistic fake B2B SaaS business, as a story.

``Company(random.Random(seed), today).run()`` simulates about three years of a
Japanese B2B SaaS vendor selling to about 400 accounts (enterprise, mid-market
and SMB) in JPY: accounts with a segment, a touch model, an owner and a plan;
subscriptions with new business, expansion, contraction, cross-sell, churn,
downgrades to free, reactivations and early churn.

Accounts that churn show it first: three to five months before they leave they
start to fade (``trouble_on(account, day)`` says how deep), which ``metrics.demo.rows``
turns into falling usage, worse NPS and more high / urgent tickets. Some
accounts are fading right now (they churn after ``today``, so their
subscriptions are still open), including "Acme Logistics".

Nothing here reads the clock or the database: the same ``(today, seed)`` always
tells the same story.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

logger = logging.getLogger(__name__)

HISTORY_MONTHS = 36  # the company's age at ``today``
_LOOKAHEAD_MONTHS = 4  # simulated past today so that accounts about to churn fade now

CSMS = ("alice@example.com", "bob@example.com", "carol@example.com", "dan@example.com", "erin@example.com")

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


# ------------------------------------------------------------------ date helpers


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    last = (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


def month_start(d: date) -> date:
    return d.replace(day=1)


def _days_between(a: date, b: date) -> int:
    return (b - a).days

# ------------------------------------------------------------------ the simulation


@dataclass
class Subscription:
    """One subscription row as the simulation changes it (``end`` None: still running)."""

    product: str
    plan: str
    start: date
    end: date | None
    mrr: float
    quantity: int
    bill: int
    discount: float


@dataclass
class Account:
    """A customer: who it is, its latent traits, its subscriptions and the stretches it fades."""

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
    rows: list[Subscription] = field(default_factory=list)
    churns: list[date] = field(default_factory=list)
    fades: list[tuple[date, date]] = field(default_factory=list)  # (start, end) of usage fading / trouble
    dips: list[tuple[date, date]] = field(default_factory=list)  # trouble that recovers
    first_paid: date | None = None
    protected: bool = False  # never churned at random
    forced_churn: date | None = None
    never_finish: str | None = None  # onboarding milestone never completed

    def open_rows(self) -> list[Subscription]:
        return [r for r in self.rows if r.end is None]

    def open_row(self, product: str) -> Subscription | None:
        for r in self.rows:
            if r.product == product and r.end is None:
                return r
        return None

    def mrr(self) -> float:
        return sum(r.mrr for r in self.rows if r.end is None)

    @property
    def paying(self) -> bool:
        return self.mrr() > 0


class Company:
    """The vendor, month by month from ``today - 36 months`` to 4 months past ``today``."""

    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self.start = add_months(month_start(today), -HISTORY_MONTHS)
        self.sim_end = add_months(month_start(today), _LOOKAHEAD_MONTHS)
        self.accounts: list[Account] = []
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

    def _core_mrr(self, acct: Account, plan: str, seats: int) -> tuple[float, float]:
        price = self._price(plan, seats)
        mrr = round(price * (1 - acct.discount_rate), -2)
        return float(mrr), float(price - mrr)

    def _addon_mrr(self, acct: Account, product: str) -> float:
        core = acct.open_row("core")
        base = core.mrr if core else 0.0
        if product == "analytics":
            return float(max(10_000, round(base * 0.15, -2)))
        return float({"smb": 10_000, "mid-market": 30_000, "enterprise": 90_000}[acct.segment])

    def new_account(self, day: date, *, name: str | None = None, segment: str | None = None,
                    forced: dict | None = None) -> Account:
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
        acct = Account(
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

    def _open(self, acct: Account, product: str, plan: str, day: date, mrr: float, disc: float, qty: int,
              bill: int) -> None:
        acct.rows.append(Subscription(product, plan, day, None, mrr, qty, bill, disc))

    def _end(self, acct: Account, product: str, day: date) -> None:
        row = acct.open_row(product)
        if row is not None:
            row.end = day

    def _change(self, acct: Account, product: str, day: date, plan: str, mrr: float, disc: float, qty: int) -> None:
        row = acct.open_row(product)
        assert row is not None and day > row.start
        row.end = day
        self._open(acct, product, plan, day, mrr, disc, qty, row.bill)

    def _latest_open_start(self, acct: Account) -> date:
        return max(r.start for r in acct.open_rows())

    # ----------------------------------------------------------- events

    def _churn(self, acct: Account, day: date, fade_days: int | None = None) -> None:
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

    def _split_contraction(self, acct: Account, row: Subscription, day: date) -> None:
        seats = max(3, int(row.quantity * self.rng.uniform(0.6, 0.85)))
        if seats >= row.quantity:
            return
        mrr, disc = self._core_mrr(acct, row.plan, seats)
        tail = Subscription(row.product, row.plan, day, row.end, mrr, seats, row.bill, disc)
        row.end = day
        acct.rows.insert(acct.rows.index(row) + 1, tail)

    def _expand(self, acct: Account, day: date) -> None:
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

    def _contract(self, acct: Account, day: date) -> None:
        core = acct.open_row("core")
        seats = max(3, int(acct.seats * self.rng.uniform(0.65, 0.9)))
        if seats >= acct.seats:
            return
        mrr, disc = self._core_mrr(acct, core.plan, seats)
        if mrr >= core.mrr:
            return
        acct.seats = seats
        self._change(acct, "core", day, core.plan, mrr, disc, seats)

    def _cross_sell(self, acct: Account, day: date) -> bool:
        options = [p for p in ("analytics", "api") if acct.open_row(p) is None]
        if acct.segment == "smb" and "api" in options and self.rng.random() < 0.7:
            options.remove("api")
        if not options:
            return False
        product = self.rng.choice(options)
        self._open(acct, product, product, day, self._addon_mrr(acct, product), 0.0, 1, acct.bill)
        return True

    def _reactivate(self, acct: Account, day: date) -> None:
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
        acme_logistics_month = HISTORY_MONTHS - 21
        while month < self.sim_end:
            nxt = add_months(month, 1)
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
            n_new = max(3, int(round(7 + 8.5 * index / HISTORY_MONTHS + rng.uniform(-2.5, 2.5))))
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
                elif index == HISTORY_MONTHS // 2 and k == 0:
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

    def _month_churn(self, month: date, nxt: date, paying: list[Account]) -> None:
        rng = self.rng
        forced = [a for a in paying if a.forced_churn and month <= a.forced_churn < nxt]
        for acct in forced:
            self._churn(acct, acct.forced_churn, fade_days=130)
        if not paying:
            return
        candidates: list[tuple[Account, date, float]] = []
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



def trouble_on(acct: Account, day: date) -> float:
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

