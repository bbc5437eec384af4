"""What the answers' charts say, read from the chart's data (never its pixels), on the demo
company in English and Japanese: the revenue retention waterfall reconciles and shows the NRR,
a filtered answer's chart names its filter, the churn answer charts the monthly churn rate,
"Show accounts" for churn lists the early churners, and a small donut part stays visible."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.charts.data import MIN_SLICE, share_text, slice_sizes, waterfall_bars
from commands import format as fmt
from commands.context import Context
from commands.router import dispatch
from metrics.db import Database
from metrics.periods import Period
from metrics.settings import Settings

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
Q3 = Period(datetime(2026, 7, 1).date(), datetime(2026, 10, 1).date(), grain="quarter")


@pytest.fixture(scope="module")
def demo_db(shared_demo):
    """The test process's shared demo database (conftest): the answers only read it."""
    return Database(engine=shared_demo.engine, url="demo", embedded=False)


@pytest.fixture
def ask(demo_db, tmp_path):
    def run(question: str):
        ctx = Context.create(demo_db, Settings(data_dir=tmp_path), now=NOW, user_email="alice@example.com")
        reply = dispatch(question, ctx)
        assert reply.kind == "answer", reply.title
        return reply
    return run


@pytest.mark.parametrize("question, lang", [
    ("nrr 2026-Q3", "en"), ("2026年第3四半期の売上維持率", "ja"),
    ("grr 2026-Q3", "en"), ("2026年第3四半期のグロス売上維持率", "ja"),
])
def test_the_revenue_retention_waterfall_reconciles_and_shows_the_nrr(ask, question, lang):
    reply = ask(question)
    chart = reply.chart
    assert reply.language == lang and chart.kind == "waterfall"
    assert chart.roles == ("start", "churn", "contraction", "expansion", "end")
    start, churn, contraction, expansion, kept = chart.series[0].values
    # the movements are drawn as decreases (negative) and an increase; no bar of the chart's own
    assert churn <= 0 and contraction <= 0 and expansion >= 0 and len(chart.series) == 1
    assert start - abs(churn) - abs(contraction) + expansion == pytest.approx(kept, abs=0.01)
    # the last bar stands where the movements leave the running total (no extra "net" step)
    bars = waterfall_bars(chart)
    assert bars[-1].total and bars[-1].height == pytest.approx(bars[-2].bottom + bars[-2].height, abs=0.01)
    # the NRR shown is kept / start, and it is the answer's NRR
    assert kept / start == pytest.approx(reply.data["nrr"], abs=1e-4)
    shown = fmt.percent(kept / start)
    assert chart.center.value == shown == fmt.percent(reply.data["nrr"])
    assert chart.center.label == "NRR" and f"NRR {shown}" in chart.title
    assert chart.subtitle == fmt.period(Q3, lang)


@pytest.mark.parametrize("question, lang", [
    ("mrr 2026-Q3 segment:enterprise", "en"), ("2026年第3四半期のMRR segment:enterprise", "ja"),
    ("nrr 2026-Q3 segment:enterprise", "en"), ("2026年第3四半期の売上維持率 segment:enterprise", "ja"),
])
def test_a_filtered_answer_names_its_filter_on_the_chart(ask, question, lang):
    reply = ask(question)
    assert reply.chart.kind == "waterfall"
    assert reply.chart.subtitle.startswith(fmt.period(Q3, lang))
    assert reply.chart.subtitle.endswith(fmt.segment("enterprise", lang)) and " · " in reply.chart.subtitle
    # the whole company's chart of the same period does not name one
    whole = ask(question.replace(" segment:enterprise", ""))
    assert whole.chart.subtitle == fmt.period(Q3, lang)


@pytest.mark.parametrize("question, lang", [
    ("churn 2026-Q3 segment:smb", "en"), ("2026年第3四半期の解約率 segment:smb", "ja"),
])
def test_the_churn_chart_is_the_monthly_churn_rate_of_the_six_months_ending_with_the_period(ask, question, lang):
    reply = ask(question)
    chart = reply.chart
    assert chart.kind == "line" and chart.unit == "ratio"
    months = ("2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09")
    assert chart.labels == months
    assert chart.subtitle.startswith(fmt.period(Period(datetime(2026, 4, 1).date(), datetime(2026, 10, 1).date()),
                                                lang))
    assert chart.subtitle.endswith(fmt.segment("smb", lang))
    # each point is that month's customer churn rate, as the churn answer for the month says it
    expected = [ask(f"churn {m} segment:smb").data["customer_churn_rate"] for m in months]
    assert list(chart.series[0].values) == pytest.approx(expected, abs=1e-12)
    assert any(v for v in expected)  # the demo's SMB customers churn: not a flat line of zeros
    # the mrr answer keeps the movements waterfall
    assert ask("mrr 2026-Q3 segment:smb").chart.kind == "waterfall"


@pytest.mark.parametrize("lang, question, accounts, word", [
    ("en", "churn 2026-Q3", "churn 2026-Q3 accounts {page}", "Show accounts"),
    ("ja", "2026年第3四半期の解約率", "churn 2026-Q3 accounts {page}", "対象の顧客"),
])
def test_show_accounts_for_churn_lists_the_early_churners_too(ask, lang, question, accounts, word):
    reply = ask(question)
    early = reply.data["movements"]["early_churn_accounts"]
    churned = reply.data["churned_accounts"]
    assert early >= 1  # the demo has a customer who joined and left within 2026-Q3
    line = next(x for x in reply.lines if str(early) in x and word in x)
    assert line  # the answer says where the early churners are listed
    first = ask(accounts.format(page=1))
    assert first.data["total"] == churned + early
    pages = -(-first.data["total"] // 10)
    last = ask(accounts.format(page=pages))
    rows = [r for page in range(1, pages + 1) for r in ask(accounts.format(page=page)).table.rows]
    assert len(rows) == churned + early
    # the early churners come after the churned (no MRR between the period's ends: "—")
    assert [r[2] for r in rows[-early:]] == ["—"] * early
    assert all(r[2].startswith("-") for r in rows[:churned])
    assert last.table.rows[-1][1] in ("Early churn", "期間内に契約・解約")
    # "… and N more" counts what follows the page: on the first page the rest, on the last page nothing
    assert first.table.total_rows - len(first.table.rows) == first.data["total"] - 10
    assert last.table.total_rows == len(last.table.rows)


def test_a_small_donut_part_stays_visible_and_never_reads_zero():
    # one red account among 286: about 0.35% of the circle, drawn as at least MIN_SLICE
    sizes = slice_sizes([1.0, 24.0, 261.0])
    assert sizes[0] == MIN_SLICE and sum(sizes) == pytest.approx(1.0)
    assert sizes[1] / sizes[2] == pytest.approx(24 / 261)  # the larger parts keep their proportions
    assert slice_sizes([0.0, 10.0, 30.0]) == [0.0, 0.25, 0.75]  # a zero part has no slice
    assert slice_sizes([0.0, 0.0]) == [0.0, 0.0]
    assert share_text(1 / 286) == "<1%" and share_text(0) == "0%"
    assert share_text(285 / 286) == ">99%" and share_text(1.0) == "100%"
    assert share_text(24 / 286) == "8%" and share_text(0.005) == "1%"
