"""Revenue state and its movements (metrics.md, "Revenue state", "Movements",
"Churn and retention"), counted in SQL.

One statement per period does the work: subscriptions are grouped per account
into the MRR at the start (``m0``, state at 00:00 of ``start``), the MRR at the
end (``m1``, state at 00:00 of ``end``) and whether the account ever paid
before ``start``; an outer query sums those into the movements. A row is
active on day ``d`` when ``start_date <= d`` and (``end_date`` is empty or
``d < end_date``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql import Subquery

from metrics import schema
from metrics.active import active_on
from metrics.filters import Filters
from metrics.periods import Period
from metrics.registry import Calc, Measurement, MetricDef, declare, ratio

s = schema.subscriptions
a = schema.accounts


def account_mrr(period: Period, filters: Filters) -> Subquery:
    """Per account: m0 (MRR at start), m1 (MRR at end), paid_before (0/1), paid_within (0/1)."""
    start, end = period.start, period.end
    m0 = func.round(func.sum(case((active_on(start), s.c.mrr), else_=0)), 2)
    m1 = func.round(func.sum(case((active_on(end), s.c.mrr), else_=0)), 2)
    paid_before = func.max(
        case(
            (and_(s.c.mrr > 0, s.c.start_date < start,
                  or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)), 1),
            else_=0,
        )
    )
    # Paid on some day inside [start, end): the "early churn" of a customer who came and went.
    paid_within = func.max(
        case(
            (and_(s.c.mrr > 0, s.c.start_date < end,
                  or_(s.c.end_date.is_(None), and_(s.c.end_date > start, s.c.end_date > s.c.start_date))), 1),
            else_=0,
        )
    )
    stmt = (
        select(
            s.c.account_id,
            m0.label("m0"),
            m1.label("m1"),
            paid_before.label("paid_before"),
            paid_within.label("paid_within"),
        )
        .where(s.c.start_date <= end)
        .group_by(s.c.account_id)
    )
    stmt = filters.restrict(stmt, s.c.account_id)
    return stmt.subquery("account_mrr")


def _movement_cases(q: Subquery) -> dict[str, object]:
    """The movement each account made, as SQL conditions on the account_mrr subquery."""
    in_s, in_e = q.c.m0 > 0, q.c.m1 > 0
    return {
        "new": and_(~in_s, in_e, q.c.paid_before == 0),
        "reactivation": and_(~in_s, in_e, q.c.paid_before == 1),
        "expansion": and_(in_s, in_e, q.c.m1 > q.c.m0),
        "contraction": and_(in_s, in_e, q.c.m1 < q.c.m0),
        "churn": and_(in_s, ~in_e),
        "early_churn": and_(~in_s, ~in_e, q.c.paid_within == 1),
    }


MOVEMENT_AMOUNT = {
    "new": lambda q: q.c.m1,
    "reactivation": lambda q: q.c.m1,
    "expansion": lambda q: q.c.m1 - q.c.m0,
    "contraction": lambda q: q.c.m0 - q.c.m1,
    "churn": lambda q: q.c.m0,
    "early_churn": lambda q: literal(0),
}


@dataclass(frozen=True)
class Movements:
    customers_start: int
    customers_end: int
    mrr_start: float
    mrr_end: float
    counts: dict[str, int]
    amounts: dict[str, float]

    @property
    def net_new(self) -> float:
        a = self.amounts
        return round(a["new"] + a["reactivation"] + a["expansion"] - a["contraction"] - a["churn"], 2)

    def parts(self) -> dict[str, object]:
        out: dict[str, object] = {
            "mrr_start": self.mrr_start,
            "mrr_end": self.mrr_end,
            "customers_start": self.customers_start,
            "customers_end": self.customers_end,
        }
        for name in ("new", "reactivation", "expansion", "contraction", "churn"):
            out[name] = self.amounts[name]
            out[f"{name}_accounts"] = self.counts[name]
        out["early_churn_accounts"] = self.counts["early_churn"]
        out["net_new_mrr"] = self.net_new
        return out


def movements(calc: Calc, period: Period, filters: Filters) -> Movements:
    return calc.memo(("movements", period, filters), lambda: _movements(calc, period, filters))


def _movements(calc: Calc, period: Period, filters: Filters) -> Movements:
    q = account_mrr(period, filters)
    cols = [
        func.coalesce(func.sum(cast(q.c.m0 > 0, Integer)), 0).label("customers_start"),
        func.coalesce(func.sum(cast(q.c.m1 > 0, Integer)), 0).label("customers_end"),
        func.coalesce(func.sum(q.c.m0), 0).label("mrr_start"),
        func.coalesce(func.sum(q.c.m1), 0).label("mrr_end"),
    ]
    for name, cond in _movement_cases(q).items():
        cols.append(func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(f"n_{name}"))
        cols.append(func.coalesce(func.sum(case((cond, MOVEMENT_AMOUNT[name](q)), else_=0)), 0).label(f"a_{name}"))
    row = calc.conn.execute(select(*cols)).mappings().one()
    names = list(MOVEMENT_AMOUNT)
    return Movements(
        customers_start=int(row["customers_start"]),
        customers_end=int(row["customers_end"]),
        mrr_start=round(float(row["mrr_start"]), 2),
        mrr_end=round(float(row["mrr_end"]), 2),
        counts={n: int(row[f"n_{n}"]) for n in names},
        amounts={n: round(float(row[f"a_{n}"]), 2) for n in names},
    )


def movement_accounts(calc: Calc, period: Period, filters: Filters, movement: str, limit: int = 20,
                      offset: int = 0) -> tuple[list[dict], int]:
    """The accounts behind one movement, largest amount first, and how many there are in all."""
    q = account_mrr(period, filters)
    cond = _movement_cases(q)[movement]
    amount = MOVEMENT_AMOUNT[movement](q).label("amount")
    stmt = (
        select(a.c.account_id, a.c.name, a.c.segment, a.c.owner, q.c.m0, q.c.m1, amount)
        .join(a, a.c.account_id == q.c.account_id)
        .where(cond)
        .order_by(amount.desc(), a.c.name)
        .limit(limit)
        .offset(offset)
    )
    total = calc.conn.execute(select(func.count()).select_from(q).where(cond)).scalar_one()
    rows = [dict(r) for r in calc.conn.execute(stmt).mappings()]
    return rows, int(total)


def mrr_on(calc: Calc, day, filters: Filters) -> tuple[float, int]:
    """MRR and paying customers at 00:00 of ``day`` (counted once per answer: mrr, arr,
    arpa and ltv all start from it)."""
    return calc.memo(("mrr_on", day, filters), lambda: _mrr_on(calc, day, filters))


def _mrr_on(calc: Calc, day, filters: Filters) -> tuple[float, int]:
    per_account = (
        select(s.c.account_id, func.sum(s.c.mrr).label("m"))
        .where(active_on(day))
        .group_by(s.c.account_id)
    )
    per_account = filters.restrict(per_account, s.c.account_id).subquery()
    row = calc.conn.execute(
        select(
            func.coalesce(func.sum(per_account.c.m), 0),
            func.coalesce(func.sum(case((per_account.c.m > 0, 1), else_=0)), 0),
        )
    ).one()
    return round(float(row[0]), 2), int(row[1])


# ---- declarations ------------------------------------------------------------

MONEY_PARTS = {k: "money" for k in (
    "mrr_start", "mrr_end", "new", "reactivation", "expansion", "contraction", "churn", "net_new_mrr",
    "lost", "mrr", "arr", "numerator", "denominator")}


def _mrr(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    return Measurement(mrr, {"mrr": mrr, "paying_customers": customers, "as_of": period.end})


def _arr(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    return Measurement(round(mrr * 12, 2), {"mrr": mrr, "arr": round(mrr * 12, 2), "paying_customers": customers,
                                            "as_of": period.end})


def _arpa(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    value = ratio(mrr, customers)
    return Measurement(None if value is None else round(value, 2),
                       {"numerator": mrr, "denominator": customers, "mrr": mrr, "paying_customers": customers,
                        "as_of": period.end})


def _mrr_movements(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    return Measurement(m.net_new, m.parts())


def _net_new(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    return Measurement(m.net_new, m.parts())


def _customer_churn(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    churned = m.counts["churn"]
    parts = {"numerator": churned, "denominator": m.customers_start, "churned_accounts": churned,
             "customers_start": m.customers_start, "customers_end": m.customers_end,
             "early_churn_accounts": m.counts["early_churn"]}
    return Measurement(ratio(churned, m.customers_start), parts)


def _revenue_churn(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    lost = round(m.amounts["churn"] + m.amounts["contraction"], 2)
    parts = {"numerator": lost, "denominator": m.mrr_start, "churn": m.amounts["churn"],
             "contraction": m.amounts["contraction"], "mrr_start": m.mrr_start}
    return Measurement(ratio(lost, m.mrr_start), parts)


declare(MetricDef(
    name="mrr", unit="money", family="mrr",
    label_en="MRR", label_ja="MRR（月次経常収益）",
    description_en="Monthly recurring revenue: the sum of every paying account's monthly subscription fees at the end of the period.",
    description_ja="月次経常収益。期間末時点で契約中のサブスクリプション月額の合計です。",
    formula_en="sum of active subscriptions' monthly fees at 00:00 of the period's end",
    formula_ja="期間末（翌日0時）時点で有効な契約の月額の合計",
    compute=_mrr, how_en="MRR on {as_of} = {value} from {paying_customers} paying customers",
    how_ja="{as_of}時点のMRR = {value}（有料顧客 {paying_customers}社）",
    part_units={"mrr": "money"}, revenue=True, point_in_time=True,
))

declare(MetricDef(
    name="arr", unit="money", family="mrr",
    label_en="ARR", label_ja="ARR（年次経常収益）",
    description_en="Annual recurring revenue: MRR × 12.",
    description_ja="年次経常収益。MRRの12倍です。",
    formula_en="MRR × 12", formula_ja="MRR × 12",
    compute=_arr, how_en="{mrr} × 12 = {value}", how_ja="{mrr} × 12 = {value}",
    part_units={"mrr": "money", "arr": "money"}, revenue=True, point_in_time=True,
))

declare(MetricDef(
    name="arpa", unit="money", family="mrr",
    label_en="ARPA", label_ja="ARPA（顧客あたり平均収益）",
    description_en="Average revenue per account: MRR divided by paying customers at the end of the period.",
    description_ja="1社あたりの平均月額収益。期間末のMRRを有料顧客数で割った値です。",
    formula_en="MRR / paying customers", formula_ja="MRR ÷ 有料顧客数",
    compute=_arpa, how_en="{numerator} / {denominator} paying customers = {value}",
    how_ja="{numerator} ÷ 有料顧客 {denominator}社 = {value}",
    part_units={"numerator": "money", "mrr": "money"}, revenue=True, point_in_time=True,
))

declare(MetricDef(
    name="mrr_movements", unit="money", family="mrr",
    label_en="MRR movements", label_ja="MRRの増減内訳",
    description_en="How MRR moved over the period: new, reactivation, expansion, contraction and churn.",
    description_ja="期間中のMRRの動き。新規・再開・拡大・縮小・解約に分けて示します。",
    formula_en="new + reactivation + expansion − contraction − churn",
    formula_ja="新規 + 再開 + 拡大 − 縮小 − 解約",
    compute=_mrr_movements,
    how_en="{new} new + {reactivation} reactivation + {expansion} expansion − {contraction} contraction − {churn} churn = {value}",
    how_ja="新規 {new} + 再開 {reactivation} + 拡大 {expansion} − 縮小 {contraction} − 解約 {churn} = {value}",
    part_units=MONEY_PARTS, revenue=True, higher_is_better=True,
))

declare(MetricDef(
    name="net_new_mrr", unit="money", family="mrr",
    label_en="Net new MRR", label_ja="純増MRR",
    description_en="The net change of MRR over the period; it always equals MRR at the end minus MRR at the start.",
    description_ja="期間中のMRRの純増額。期末MRRから期首MRRを引いた値と必ず一致します。",
    formula_en="new + reactivation + expansion − contraction − churn = MRR(end) − MRR(start)",
    formula_ja="新規 + 再開 + 拡大 − 縮小 − 解約 = 期末MRR − 期首MRR",
    compute=_net_new, how_en="{mrr_end} − {mrr_start} = {value}", how_ja="{mrr_end} − {mrr_start} = {value}",
    part_units=MONEY_PARTS, revenue=True,
))

declare(MetricDef(
    name="customer_churn_rate", unit="ratio", family="churn",
    label_en="Customer churn rate", label_ja="カスタマーチャーンレート（顧客解約率）",
    description_en="The share of customers paying at the start of the period who no longer pay at its end.",
    description_ja="期首に有料だった顧客のうち、期末に有料でなくなった顧客の割合です。",
    formula_en="churned customers / paying customers at the start",
    formula_ja="解約した顧客数 ÷ 期首の有料顧客数",
    compute=_customer_churn, how_en="{numerator} churned / {denominator} customers at the start = {value}",
    how_ja="解約 {numerator}社 ÷ 期首顧客 {denominator}社 = {value}", higher_is_better=False,
))

declare(MetricDef(
    name="revenue_churn_rate", unit="ratio", family="churn",
    label_en="Revenue churn rate", label_ja="レベニューチャーンレート（収益解約率）",
    description_en="The share of MRR at the start of the period lost to churn and contraction (gross MRR churn).",
    description_ja="期首MRRのうち、解約と縮小（ダウングレード）で失われた割合です（グロスMRRチャーン）。",
    formula_en="(churned MRR + contraction MRR) / MRR at the start",
    formula_ja="（解約MRR + 縮小MRR）÷ 期首MRR",
    compute=_revenue_churn,
    how_en="({churn} churn + {contraction} contraction) / {denominator} MRR at the start = {value}",
    how_ja="（解約 {churn} + 縮小 {contraction}）÷ 期首MRR {denominator} = {value}",
    part_units=MONEY_PARTS, higher_is_better=False, revenue=True,
))
