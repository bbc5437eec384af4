"""Product usage (metrics.md, "Usage"): DAU, WAU, MAU, stickiness, average
usage time and seat utilisation, from ``usage_daily`` (one row per account,
user and active day, rolled up from the raw events by the sync).

A user is an (account, user id) pair. DAU, WAU, MAU, stickiness and seat
utilisation are taken on the period's last day ``d``: DAU on ``d``, WAU over
``d-6..d``, MAU over ``d-29..d``. DAU and user-days are plain counts of rows
(one row per user and day); WAU and MAU de-duplicate users over a range of the
day index.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select

from metrics import schema
from metrics.filters import Filters
from metrics.periods import Period
from metrics.registry import Calc, Measurement, MetricDef, declare, ratio

logger = logging.getLogger(__name__)

u = schema.usage_daily
s = schema.subscriptions
acc = schema.accounts


def _window(day: date, days: int):
    return and_(u.c.day >= day - timedelta(days=days - 1), u.c.day <= day)


def users_per_account(day: date, days: int):
    """Per account, its distinct users in the window. (Grouping by account and counting
    distinct users is about twice as fast on SQLite as grouping by account and user.)"""
    return select(u.c.account_id, func.count(u.c.user_id.distinct()).label("users")) \
        .where(_window(day, days)).group_by(u.c.account_id)


def distinct_users(calc: Calc, day: date, days: int, filters: Filters) -> int:
    """Distinct (account, user) pairs active in the ``days`` days ending ``day``."""
    def compute() -> int:
        per_account = filters.restrict(users_per_account(day, days), u.c.account_id).subquery("per_account")
        return int(calc.conn.execute(select(func.coalesce(func.sum(per_account.c.users), 0))).scalar_one())

    return calc.memo(("distinct_users", day, days, filters), compute)


def user_days(calc: Calc, day: date, days: int, filters: Filters) -> int:
    """Active user-days in the ``days`` days ending ``day`` (a row of usage_daily is one)."""
    def compute() -> int:
        stmt = filters.restrict(select(func.count()).select_from(u).where(_window(day, days)), u.c.account_id)
        return int(calc.conn.execute(stmt).scalar_one())

    return calc.memo(("user_days", day, days, filters), compute)


def _dau(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    dau = user_days(calc, d, 1, filters)  # one row per user and day: no need to de-duplicate
    return Measurement(dau, {"dau": dau, "day": d})


def _wau(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    wau = distinct_users(calc, d, 7, filters)
    return Measurement(wau, {"wau": wau, "day": d})


def _mau(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    mau = distinct_users(calc, d, 30, filters)
    return Measurement(mau, {"mau": mau, "day": d})


def _stickiness(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    mau = distinct_users(calc, d, 30, filters)
    wau = distinct_users(calc, d, 7, filters)
    dau = user_days(calc, d, 1, filters)
    days30 = user_days(calc, d, 30, filters)
    mean_dau = days30 / 30
    parts = {"numerator": round(mean_dau, 4), "denominator": mau, "mean_dau_30": round(mean_dau, 4),
             "user_days_30": days30, "dau": dau, "wau": wau, "mau": mau, "day": d,
             "dau_wau": ratio(dau, wau), "wau_mau": ratio(wau, mau)}
    return Measurement(ratio(mean_dau, mau), parts)


def _avg_usage(calc: Calc, period: Period, filters: Filters) -> Measurement:
    stmt = select(func.count().label("user_days"), func.coalesce(func.sum(u.c.seconds), 0).label("seconds")) \
        .where(u.c.day >= period.start, u.c.day < period.end)
    row = calc.conn.execute(filters.restrict(stmt, u.c.account_id)).mappings().one()
    user_days, minutes = int(row["user_days"]), float(row["seconds"]) / 60
    value = ratio(minutes, user_days)
    return Measurement(None if value is None else round(value, 2),
                       {"numerator": round(minutes, 2), "denominator": user_days, "minutes": round(minutes, 2),
                        "user_days": user_days})


def _seat_utilization(calc: Calc, period: Period, filters: Filters) -> Measurement:
    day = period.last_day
    paying = (
        select(s.c.account_id)
        .where(s.c.start_date <= day, or_(s.c.end_date.is_(None), s.c.end_date > day))
        .group_by(s.c.account_id)
        .having(func.sum(s.c.mrr) > 0)
    )
    seated = select(acc.c.account_id, acc.c.seats).where(acc.c.seats > 0, acc.c.account_id.in_(paying))
    cond = filters.account_condition()
    if cond is not None:
        seated = seated.where(cond)
    seated = seated.subquery("seated")
    # the month's users per account (a range of the day index), then only the seated accounts
    per_account = users_per_account(day, 30).subquery("per_account")
    row = calc.conn.execute(
        select(func.count(), func.coalesce(func.sum(seated.c.seats), 0),
               func.coalesce(func.sum(per_account.c.users), 0))
        .select_from(seated.outerjoin(per_account, per_account.c.account_id == seated.c.account_id))
    ).one()
    accounts, seats, mau = int(row[0]), int(row[1]), int(row[2])
    return Measurement(ratio(int(mau), seats),
                       {"numerator": int(mau), "denominator": seats, "mau": int(mau), "seats": seats,
                        "accounts": accounts, "day": day})


_POINT = "on the period's last day"
_POINT_JA = "期間の最終日"

declare(MetricDef(
    name="dau", unit="count", family="usage",
    label_en="DAU (daily active users)", label_ja="DAU（日次アクティブユーザー）",
    description_en=f"Distinct users active on one day, {_POINT}.",
    description_ja=f"1日に利用したユーザーの数（{_POINT_JA}）。",
    formula_en="distinct users with activity on the day", formula_ja="その日に利用したユーザー数（重複なし）",
    compute=_dau, how_en="users active on {day} = {value}", how_ja="{day}に利用したユーザー = {value}",
    higher_is_better=True, point_in_time=True,
))

declare(MetricDef(
    name="wau", unit="count", family="usage",
    label_en="WAU (weekly active users)", label_ja="WAU（週次アクティブユーザー）",
    description_en=f"Distinct users active in the 7 days ending {_POINT}.",
    description_ja=f"{_POINT_JA}までの7日間に利用したユーザーの数。",
    formula_en="distinct users with activity in the 7 days ending the day",
    formula_ja="その日までの7日間に利用したユーザー数（重複なし）",
    compute=_wau, how_en="users active in the 7 days ending {day} = {value}",
    how_ja="{day}までの7日間に利用したユーザー = {value}", point_in_time=True,
))

declare(MetricDef(
    name="mau", unit="count", family="usage",
    label_en="MAU (monthly active users)", label_ja="MAU（月次アクティブユーザー）",
    description_en=f"Distinct users active in the 30 days ending {_POINT}.",
    description_ja=f"{_POINT_JA}までの30日間に利用したユーザーの数。",
    formula_en="distinct users with activity in the 30 days ending the day",
    formula_ja="その日までの30日間に利用したユーザー数（重複なし）",
    compute=_mau, how_en="users active in the 30 days ending {day} = {value}",
    how_ja="{day}までの30日間に利用したユーザー = {value}", point_in_time=True,
))

declare(MetricDef(
    name="stickiness", unit="ratio", family="usage",
    label_en="Stickiness (DAU/MAU)", label_ja="スティッキネス（DAU/MAU）",
    description_en="How often monthly users come back: the mean DAU over the 30 days ending the period's last day, divided by MAU on that day.",
    description_ja="月間ユーザーがどれだけ頻繁に戻ってくるか。期間最終日までの30日間の平均DAUを、その日のMAUで割った値です。",
    formula_en="mean DAU over 30 days / MAU", formula_ja="30日間の平均DAU ÷ MAU",
    compute=_stickiness, how_en="{user_days_30} user-days / 30 = {mean_dau_30} mean DAU / {mau} MAU = {value}",
    how_ja="利用のべ {user_days_30}人日 ÷ 30 = 平均DAU {mean_dau_30} ÷ MAU {mau} = {value}",
    part_units={"mean_dau_30": "count"}, point_in_time=True,
))

declare(MetricDef(
    name="avg_usage_minutes", unit="minutes", family="usage",
    label_en="Average usage time", label_ja="平均利用時間",
    description_en="Minutes of use per active user per active day over the period.",
    description_ja="期間中、利用のあったユーザー1人・1日あたりの利用時間（分）です。",
    formula_en="minutes of use / active user-days", formula_ja="利用時間（分）÷ 利用のべ人日",
    compute=_avg_usage, how_en="{minutes} minutes / {user_days} user-days = {value}",
    how_ja="{minutes}分 ÷ {user_days}人日 = {value}",
))

declare(MetricDef(
    name="seat_utilization", unit="ratio", family="usage",
    label_en="Seat utilisation", label_ja="シート利用率（ライセンス稼働率）",
    description_en="Monthly active users as a share of the seats bought, over the accounts paying on the period's last day that have a seat count.",
    description_ja="購入されたシート数（ライセンス数）のうち、月間アクティブユーザーが占める割合。期間最終日に有料でシート数のある顧客が対象です。",
    formula_en="MAU / seats bought", formula_ja="MAU ÷ 購入シート数",
    compute=_seat_utilization, how_en="{mau} MAU / {seats} seats ({accounts} accounts) = {value}",
    how_ja="MAU {mau} ÷ シート {seats}（{accounts}社）= {value}", point_in_time=True,
))
