"""The demo company as the rows of the data contract (docs: docs/data-contract.md).

``build_rows(today, seed)`` runs the story of ``metrics.demo.company`` and tells
it in rows, keyed by the contract's file names and column names: accounts,
subscriptions, events (product usage for the last 13 months), nps (quarterly
waves), tickets with csat, onboarding milestones. Churners show it first: their
usage drops a step and keeps sliding, their NPS drops and they open more high /
urgent tickets.

Everything comes from one ``random.Random(seed)`` and from ``today``: the same
``(today, seed)`` gives identical rows. Nothing is dated on or after ``today``
00:00 (subscription end dates may equal ``today``, the first day they no longer
count). Timestamps are naive workspace time, as the contract reads them.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from metrics.demo.company import Account, Company, add_months, month_start, trouble_on

logger = logging.getLogger(__name__)

_USAGE_DAYS = 395  # daily usage kept for the last ~13 months
_USAGE_ROWS = 285_000  # engagement is scaled so that usage holds about this many user-days
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



class _Builder:
    """The company's story as rows, drawn from the same ``rng`` in a fixed order."""

    def __init__(self, company: Company, rng: random.Random):
        self.c = company
        self.rng = rng
        self.today = company.today
        self.accounts = [a for a in company.accounts if a.rows and min(r.start for r in a.rows) < self.today]
        for acct in self.accounts:
            self._truncate(acct)

    def _truncate(self, acct: Account) -> None:
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
                renewal = add_months(acct.anchor, 12 * years)
                while renewal < self.today:
                    renewal = add_months(renewal, 12)
            created = datetime.combine(acct.created - timedelta(days=rng.randint(0, 10)), datetime.min.time())
            created = created.replace(hour=rng.randint(9, 18), minute=rng.randrange(60))
            out.append({
                "account_id": acct.account_id, "name": acct.name, "plan": current.plan, "segment": acct.segment,
                "touch_model": acct.touch, "owner": acct.owner, "region": acct.region, "industry": acct.industry,
                "seats": current.quantity if current.plan != "free" else acct.seats, "renewal_date": renewal,
                "created_at": created,
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

    def event_rows(self) -> list[tuple]:
        """One "session" event per active user-day (events.csv columns, in ``EVENT_COLUMNS`` order),
        carrying the day's minutes: the sync rolls it up into one usage row."""
        rng = self.rng
        first = self.today - timedelta(days=_USAGE_DAYS)
        days = [first + timedelta(days=i) for i in range(_USAGE_DAYS)]
        day_text = [d.isoformat() for d in days]
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
                    h = 1.0 - 0.85 * trouble_on(acct, d)
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
        out: list[tuple] = []
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
                    start = int((rng.uniform(0.6, 1.6) - 0.6) * 8 * 3600)  # the session starts 09:00 .. 17:00
                    clock = f"T{9 + start // 3600:02d}:{start // 60 % 60:02d}:{start % 60:02d}"
                    out.append((acct.account_id, user_id, day_text[i] + clock, "session", int(minutes * 60)))
        return out

    # ----------------------------------------------------------- tickets and csat

    def _paying_days(self, acct: Account) -> list[tuple[date, date]]:
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
                month = month_start(start)
                while month < end:
                    nxt = add_months(month, 1)
                    lo, hi = max(month, start), min(nxt, end)
                    if lo < hi:
                        trouble = trouble_on(acct, lo + (hi - lo) / 2)
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

    def _ticket(self, acct: Account, opened: datetime, trouble: float, midnight: datetime,
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
            wave = add_months(wave, 3)
        waves = []
        while wave < self.today:
            waves.append(wave + timedelta(days=4))
            wave = add_months(wave, 3)
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
                    trouble = trouble_on(acct, day)
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



# ------------------------------------------------------------------ the contract files

DEFAULT_SEED = 2026

# The files and columns of the data contract (docs/data-contract.md), in the sync's load order.
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id", "name", "plan", "segment", "touch_model", "owner", "region", "industry", "seats",
                 "renewal_date", "created_at"),
    "subscriptions": ("subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "quantity",
                      "bill_period_months", "discount"),
    "events": ("account_id", "user_id", "occurred_at", "event_type", "duration_seconds"),
    "nps": ("response_id", "account_id", "respondent", "score", "responded_at", "comment"),
    "csat": ("response_id", "account_id", "score", "responded_at", "ticket_id", "comment"),
    "onboarding": ("account_id", "milestone", "completed_at"),
    "tickets": ("ticket_id", "account_id", "opened_at", "closed_at", "priority", "status", "subject"),
}


@dataclass(frozen=True)
class ContractFile:
    """One file of the data contract: its name (``accounts``, ``events`` ...), columns and rows."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class DemoRows:
    """The demo company of ``(today, seed)`` as the contract's files."""

    today: date
    seed: int
    files: tuple[ContractFile, ...]

    def file(self, name: str) -> ContractFile:
        return next(f for f in self.files if f.name == name)


def build_rows(today: date, seed: int = DEFAULT_SEED) -> DemoRows:
    """Run the company of ``(today, seed)`` and tell it as contract rows (no database, no clock)."""
    rng = random.Random(seed)
    company = Company(rng, today)
    company.run()
    builder = _Builder(company, rng)
    tables: dict[str, list] = {
        "accounts": builder.account_rows(),
        "subscriptions": builder.subscription_rows(),
        "events": builder.event_rows(),
        "nps": builder.nps_rows(),
    }
    tables["tickets"], tables["csat"] = builder.ticket_and_csat_rows()
    tables["onboarding"] = builder.onboarding_rows()
    files = []
    for name, columns in CONTRACT_COLUMNS.items():
        rows = tables[name]
        if rows and isinstance(rows[0], dict):
            rows = [tuple(r[c] for c in columns) for r in rows]
        files.append(ContractFile(name, columns, tuple(rows)))
    return DemoRows(today=today, seed=seed, files=tuple(files))
