"""The answers for a breakdown, a trend and a comparison, built from a hand-made ``Query``:
per-segment churn checked by hand on a small company, and on the demo company every number
equal to ``compute_metric`` for the same group, month or side; the change of a comparison is
B − A; Japanese answers carry no English words of the table; the charts draw."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest

from bot.charts import alt_text, draw
from commands import breakdown as breakdown_answer
from commands import compare as compare_answer
from commands import trend as trend_answer
from commands.context import Context, Request
from commands.query import Query
from commands.reply import render_text
from metrics import schema
from metrics.compute import compute_metric
from metrics.db import Database
from metrics.filters import Filters
from metrics.periods import Period
from metrics.settings import Settings

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # Nov 22, 2026 in Tokyo: last month is October
OCT = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
SEP = Period(date(2026, 9, 1), date(2026, 10, 1), "month")
Q2 = Period(date(2026, 4, 1), date(2026, 7, 1), "quarter")
Q3 = Period(date(2026, 7, 1), date(2026, 10, 1), "quarter")
PNG = b"\x89PNG\r\n\x1a\n"
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


def ask(engine, module, query: Query, lang: str = "en", tmp_path=None):
    """Run one answer on ``engine`` with a hand-made query, as the router would."""
    db = Database(engine=engine, url="test", embedded=False)
    ctx = Context.create(db, Settings(data_dir=tmp_path or "/tmp", database_url="sqlite:///unused-in-tests.db"),
                         now=NOW)
    with engine.connect() as conn:
        req = Request(command=query.intent, args="", text="", lang=lang, ctx=ctx, natural=True, conn=conn, query=query)
        return module.answer(req)


def value_of(engine, name, period, filters=Filters()):
    with engine.connect() as conn:
        return compute_metric(conn, name, period, filters, Settings(database_url="sqlite:///unused-in-tests.db")).value


# ---- a small company, checked by hand -----------------------------------------------------

@pytest.fixture
def small(engine):
    """Two enterprise accounts (one leaves Oct 10), four smb (one leaves Oct 20) and one
    mid-market account that only starts paying on Oct 5: in October, enterprise churn is
    1 / 2 = 50%, smb 1 / 4 = 25%, mid-market has nobody at the start (no rate), the whole
    2 / 6 = 33.3%; in September nobody left (0%)."""
    accounts = [("E1", "enterprise"), ("E2", "enterprise"), ("S1", "smb"), ("S2", "smb"), ("S3", "smb"),
                ("S4", "smb"), ("M1", "mid-market")]
    ends = {"E2": date(2026, 10, 10), "S1": date(2026, 10, 20)}
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": a, "name": f"Account {a}", "segment": s}
                                                 for a, s in accounts])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": a, "account_id": a, "product": "core", "mrr": 10_000,
             "start_date": date(2026, 10, 5) if a == "M1" else date(2026, 1, 1), "end_date": ends.get(a)}
            for a, _ in accounts])
    return engine


CHURN_BY_SEGMENT = Query(intent="breakdown", metrics=("customer_churn_rate",), by="segment")


def test_churn_by_segment_is_the_hand_counted_rate_of_each_segment(small):
    reply = ask(small, breakdown_answer, CHURN_BY_SEGMENT)
    assert reply.kind == "answer"
    assert reply.title == "Customer churn rate by segment — Oct 1 – Oct 31, 2026"  # no period asked: last month
    assert reply.table.columns == ("segment", "Customer churn rate", "vs previous period", "Churned / at start")
    # sorted by the rate, the group with nothing to count last, the whole as the last row
    assert reply.table.rows == (
        ("enterprise", "50.0%", "+50.0 pt", "1 / 2"),
        ("smb", "25.0%", "+25.0 pt", "1 / 4"),
        ("mid-market", "—", "—", "0 / 0"),
        ("All", "33.3%", "+33.3 pt", "2 / 6"),
    )
    assert reply.data["by"] == "segment"
    assert reply.data["groups"] == {"enterprise": 0.5, "smb": 0.25, "mid-market": None}
    assert reply.data["total"] == pytest.approx(2 / 6)
    assert reply.metrics == ("customer_churn_rate",) and not reply.revenue
    assert reply.chart.kind == "bars" and reply.chart.unit == "ratio"
    assert reply.chart.labels == ("enterprise", "smb", "mid-market")
    assert reply.chart.series[0].values == (0.5, 0.25, None)
    assert any("mid-market" in line for line in reply.lines)  # the "—" is explained
    assert "    enterprise: 1 churned / 2 customers at the start = 50.0%" in reply.how


SEP_OCT = Period(date(2026, 9, 1), date(2026, 11, 1), "months")
CHURN_TREND_BY_SEGMENT = Query(intent="trend", metrics=("customer_churn_rate",), grain="month", by="segment",
                               periods=(SEP_OCT,))


def test_a_trend_by_segment_is_a_line_per_segment_and_the_whole_each_hand_counted(small):
    reply = ask(small, trend_answer, CHURN_TREND_BY_SEGMENT)
    assert reply.kind == "answer" and reply.data["by"] == "segment"
    assert reply.title == "Customer churn rate by month and segment — Sep – Oct 2026"
    # September: nobody left; October: enterprise 1/2, smb 1/4, mid-market nobody at the start, the whole 2/6
    assert [p["value"] for p in reply.data["points"]] == [0.0, pytest.approx(2 / 6)]
    assert {v: [p["value"] for p in pts] for v, pts in reply.data["groups"].items()} == {
        "enterprise": [0.0, 0.5], "mid-market": [None, None], "smb": [0.0, 0.25]}
    assert reply.chart.kind == "line" and [s.name for s in reply.chart.series] == ["All", "enterprise", "mid-market", "smb"]
    assert reply.chart.series[1].values == (0.0, 0.5)
    assert reply.table.columns == ("Month", "All", "enterprise", "mid-market", "smb")
    assert reply.table.rows[0] == ("2026-10", "33.3%", "50.0%", "—", "25.0%")  # latest first
    assert "enterprise went from 0.0% (2026-09) to 50.0% (2026-10): +50.0 pt, for the worse." in \
        [line.replace("*", "") for line in reply.lines]
    ja = ask(small, trend_answer, CHURN_TREND_BY_SEGMENT, "ja")
    assert ja.title.startswith("セグメント別・月別の")
    assert ja.table.columns[1:] == ("全体", "エンタープライズ", "ミッドマーケット", "中小企業")


def test_a_trend_by_a_dimension_with_too_many_values_says_how_to_ask(small):
    with small.begin() as conn:  # nine owners: the seven accounts' and two more without subscriptions
        conn.execute(schema.accounts.update().values(owner=schema.accounts.c.account_id + "@example.com"))
        conn.execute(schema.accounts.insert(), [{"account_id": a, "name": a, "owner": f"{a}@example.com"}
                                                 for a in ("X1", "X2")])
    reply = ask(small, trend_answer, Query(intent="trend", metrics=("customer_churn_rate",), by="owner"))
    assert reply.kind == "info" and reply.chart is None and reply.table is None
    assert reply.title == "9 values of owner: too many lines for one chart (at most 8)."
    assert reply.lines == ("Ask for one of them over time (`Customer churn rate trend for alice`), or for every owner "
                           "in one period (`Customer churn rate by owner last month`).",)


def test_churn_by_segment_in_japanese_has_no_english_in_its_table(small):
    reply = ask(small, breakdown_answer, CHURN_BY_SEGMENT, "ja")
    assert reply.language == "ja"
    assert reply.title.startswith("セグメント別の") and "2026年10月1日〜10月31日" in reply.title
    assert [row[0] for row in reply.table.rows] == ["エンタープライズ", "中小企業", "ミッドマーケット", "全体"]
    for cell in (*reply.table.columns, *(c for row in reply.table.rows for c in row), reply.chart.title,
                 *reply.chart.labels):
        assert not ENGLISH_WORD.search(cell), cell
    english = ask(small, breakdown_answer, CHURN_BY_SEGMENT, "en")
    text = render_text(reply)
    for word in ("segment", "previous", "Churned", "All", "enterprise", "smb"):
        assert word in render_text(english) and word not in text


def test_a_metric_that_cannot_be_broken_down_says_so_and_suggests_another(small):
    reply = ask(small, breakdown_answer, Query(intent="breakdown", metrics=("cohort_retention",), by="segment"))
    assert reply.kind == "info" and reply.table is None and reply.chart is None
    assert "can't be broken down by segment" in reply.title
    assert "Customer retention rate by segment" in reply.lines[0]
    ja = ask(small, breakdown_answer, Query(intent="breakdown", metrics=("cohort_retention",), by="segment"), "ja")
    assert "セグメント別に分けられません" in ja.title and not ENGLISH_WORD.search(ja.lines[0])


@pytest.mark.parametrize("query, lang, words", [
    (Query(intent="breakdown", by="segment"), "en", "Which number"),
    (Query(intent="breakdown", metrics=("nrr",)), "en", "by what"),
    (Query(intent="breakdown", metrics=("nrr",)), "ja", "何別"),
    (Query(intent="trend"), "ja", "どの指標"),
    (Query(intent="compare"), "en", "Which number"),
    (Query(intent="compare", metrics=("nrr",), periods=(Q2, Q3), compare_filters=(Filters(segment="smb"),
                                                                                  Filters(segment="enterprise"))),
     "en", "not both"),
])
def test_a_question_missing_its_metric_or_dimension_gets_a_short_answer_saying_what_to_do(small, query, lang, words):
    module = {"breakdown": breakdown_answer, "trend": trend_answer, "compare": compare_answer}[query.intent]
    reply = ask(small, module, query, lang)
    assert reply.kind == "error" and words in reply.title and reply.lines  # the hint: an example to type


def test_dimension_values_read_as_people_write_them():
    assert breakdown_answer.value_name("segment", "smb", "ja") == "中小企業"
    assert breakdown_answer.value_name("touch_model", "tech", "ja") == "テックタッチ"
    assert breakdown_answer.value_name("owner", None, "en") == "(none)"
    assert breakdown_answer.value_name("region", None, "ja") == "（未設定）"
    assert breakdown_answer.value_name("region", "apac", "ja") == "apac"


# ---- the demo company: every number is the one-number answer's ----------------------------

@pytest.fixture(scope="module")
def demo(shared_demo):
    return shared_demo.engine


@pytest.mark.parametrize("name, by, field", [
    ("customer_churn_rate", "segment", "segment"),
    ("mrr", "touch_model", "touch_model"),
    ("nrr", "region", "region"),
])
def test_each_group_of_a_breakdown_is_compute_metric_for_that_group(demo, name, by, field):
    reply = ask(demo, breakdown_answer, Query(intent="breakdown", metrics=(name,), by=by, periods=(OCT,)))
    groups = reply.data["groups"]
    assert len(groups) >= 3
    for value, number in groups.items():
        assert number == pytest.approx(value_of(demo, name, OCT, Filters(**{field: value})))
    assert reply.data["total"] == pytest.approx(value_of(demo, name, OCT))
    shown = [v for v in reply.chart.series[0].values if v is not None]
    assert shown == sorted(shown, reverse=True)  # the bars are sorted by the metric
    assert reply.metrics == (name,)


def test_a_breakdown_of_two_metrics_lists_both_for_privacy(demo):
    reply = ask(demo, breakdown_answer, Query(intent="breakdown", metrics=("customer_churn_rate", "mrr"), by="segment"))
    assert reply.metrics == ("customer_churn_rate", "mrr") and reply.revenue
    assert set(reply.data["metrics"]) == {"customer_churn_rate", "mrr"}
    assert len(reply.chart.series) == 1  # MRR is money: in the table, not on the percent chart
    assert len(reply.table.columns) == 5


def test_a_monthly_trend_is_compute_metric_for_each_month(demo):
    reply = ask(demo, trend_answer, Query(intent="trend", metrics=("customer_churn_rate",)))
    points = reply.data["points"]
    assert reply.data["grain"] == "month" and len(points) == 12  # the 12 complete months ending last month
    assert [p["label"] for p in points][0] == "2025-11" and points[-1]["label"] == "2026-10"
    for p in points:
        start, end = date.fromisoformat(p["period"]["start"]), date.fromisoformat(p["period"]["end"])
        assert p["value"] == pytest.approx(value_of(demo, "customer_churn_rate", Period(start, end, "month")))
    assert reply.title == "Customer churn rate by month — Nov 2025 – Oct 2026"
    assert reply.chart.kind == "line" and reply.chart.series[0].values == tuple(p["value"] for p in points)
    assert reply.table.rows[0][0] == "2026-10"  # latest first
    first, last = points[0]["value"], points[-1]["value"]
    assert any(f"{first * 100:.1f}%" in line and f"{last * 100:.1f}%" in line for line in reply.lines)


def test_a_quarterly_trend_marks_the_quarter_in_progress_to_date(demo):
    for lang, mark in (("en", "2026-Q4 (to date)"), ("ja", "2026-Q4（途中）")):
        reply = ask(demo, trend_answer, Query(intent="trend", metrics=("mrr",), grain="quarter",
                                              periods=(Period(date(2026, 1, 1), date(2027, 1, 1), "year"),)), lang)
        assert [p["label"] for p in reply.data["points"]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
        assert reply.data["points"][-1]["to_date"] and reply.chart.labels[-1] == mark
        assert reply.table.rows[0][0] == mark
        assert reply.data["points"][1]["value"] == pytest.approx(value_of(demo, "mrr", Q2))
        assert reply.metrics == ("mrr",) and reply.revenue


def test_a_weekly_trend_keeps_its_table_to_twenty_rows(demo):
    reply = ask(demo, trend_answer, Query(intent="trend", metrics=("customer_churn_rate",), grain="week"))
    assert len(reply.data["points"]) > 50
    assert len(reply.table.rows) == 20 and reply.table.total_rows == len(reply.data["points"])
    assert "… and" in render_text(reply)


def test_comparing_two_periods_gives_b_minus_a_in_calendar_order(demo):
    reply = ask(demo, compare_answer, Query(intent="compare", metrics=("nrr", "grr"), periods=(Q3, Q2)))
    a, b = reply.data["comparison"]
    assert (a["label"], b["label"]) == ("Q2 2026", "Q3 2026")  # asked "Q3 vs Q2": read forward in time
    assert a["value"] == pytest.approx(value_of(demo, "nrr", Q2))
    assert b["value"] == pytest.approx(value_of(demo, "nrr", Q3))
    assert reply.data["change"] == pytest.approx(b["value"] - a["value"])
    grr = reply.data["metrics"]["grr"]
    assert grr["change"] == pytest.approx(value_of(demo, "grr", Q3) - value_of(demo, "grr", Q2))
    assert reply.metrics == ("nrr", "grr") and reply.revenue
    # grouped bars: a pair (Q2, Q3) per metric
    assert reply.chart.labels == ("NRR (net revenue retention)", "GRR (gross revenue retention)")
    assert [s.name for s in reply.chart.series] == ["Q2 2026", "Q3 2026"]
    verdict = "better" if b["value"] > a["value"] else "worse"  # NRR: higher is better
    assert reply.lines[0].endswith(f"{verdict}.")


def test_comparing_two_segments_counts_each_in_the_same_period(demo):
    sides = (Filters(segment="enterprise"), Filters(segment="smb"))
    for lang, labels in (("en", ("enterprise", "smb")), ("ja", ("エンタープライズ", "中小企業"))):
        reply = ask(demo, compare_answer, Query(intent="compare", metrics=("customer_churn_rate",), compare_filters=sides),
                    lang)
        a, b = reply.data["comparison"]
        assert (a["label"], b["label"]) == labels and reply.chart.labels == labels
        assert a["value"] == pytest.approx(value_of(demo, "customer_churn_rate", OCT, sides[0]))
        assert b["value"] == pytest.approx(value_of(demo, "customer_churn_rate", OCT, sides[1]))
        assert reply.data["change"] == pytest.approx(b["value"] - a["value"])
        assert reply.chart.series[0].values == (a["value"], b["value"])
    for cell in (*reply.table.columns, *(c for row in reply.table.rows for c in row)):
        assert not ENGLISH_WORD.search(cell), cell


def test_comparing_one_segment_sets_it_against_the_whole(demo):
    reply = ask(demo, compare_answer, Query(intent="compare", metrics=("customer_churn_rate",),
                                            compare_filters=(Filters(segment="smb"),)))
    a, b = reply.data["comparison"]
    assert (a["label"], b["label"]) == ("All", "smb")
    assert a["value"] == pytest.approx(value_of(demo, "customer_churn_rate", OCT))
    assert b["value"] == pytest.approx(value_of(demo, "customer_churn_rate", OCT, Filters(segment="smb")))


def test_a_breakdown_asked_for_two_periods_says_which_one_it_shows(small):
    reply = ask(small, breakdown_answer, CHURN_BY_SEGMENT.refine(periods=(SEP, OCT)))
    assert reply.title.endswith("Sep 1 – Sep 30, 2026")
    assert any("Sep 1 – Sep 30, 2026 only" in line and "compare" in line for line in reply.lines)


def test_compare_without_periods_is_last_month_against_the_month_before(demo):
    reply = ask(demo, compare_answer, Query(intent="compare", metrics=("mrr",)))
    a, b = reply.data["comparison"]
    assert (a["label"], b["label"]) == ("Sep 2026", "Oct 2026")
    assert reply.data["change"] == pytest.approx(value_of(demo, "mrr", OCT) - value_of(demo, "mrr", SEP))


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_charts_of_all_three_answers_draw(demo, lang, tmp_path):
    replies = [
        ask(demo, breakdown_answer, Query(intent="breakdown", metrics=("customer_churn_rate",), by="segment"), lang),
        ask(demo, trend_answer, Query(intent="trend", metrics=("nrr", "grr")), lang),
        ask(demo, compare_answer, Query(intent="compare", metrics=("nrr", "grr"), periods=(Q2, Q3)), lang),
    ]
    for reply in replies:
        png = draw(reply.chart, lang)
        assert png.startswith(PNG) and len(png) > 5_000
        alt = alt_text(reply.chart, lang)
        assert alt.startswith(reply.chart.title) and reply.chart.subtitle in alt
