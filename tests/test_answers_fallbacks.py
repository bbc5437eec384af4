"""Answers for people fall back, clearly labelled, where the asked period cannot give a sensible
number (issue 12): NPS from the latest survey, the KPI board's onboarding rate from the latest
closed cohort (or "pending"), usage on the last synced day with the period's mean DAU. On the
demo company of 2026-11-22 (a Sunday): it surveys NPS in Feb, May, Aug and Nov; the default
period is October; usage is synced up to Saturday Nov 21."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import text

from commands.context import Context
from commands.home import home_reply
from commands.reply import render_text
from commands.router import dispatch
from metrics.db import Database
from metrics.onboarding import latest_mature_cohort
from metrics.periods import Period
from tests.conftest import _now

JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture
def demo_db(shared_demo):
    return Database(engine=shared_demo.engine, url=str(shared_demo.engine.url), embedded=False)


@pytest.fixture
def ask(demo_db, settings):
    def _ask(question: str, settings_=None, **kw):
        return dispatch(question, Context.create(demo_db, settings_ or settings, now=_now(), **kw))
    return _ask


def _scalar(shared_demo, sql: str):
    with shared_demo.engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def _no_english_sentence(reply) -> None:
    for line in (reply.title, *reply.lines, *(f.label for f in reply.figures)):
        assert JA.search(line), line
        assert not re.search(r"\b(the|of|and|no|from|latest)\b", line), line


# ---- NPS --------------------------------------------------------------------------------------

def test_the_demo_has_no_nps_answers_in_september_or_october_and_has_in_august(shared_demo):
    count = "SELECT COUNT(*) FROM nps_responses WHERE responded_at >= '{}' AND responded_at < '{}'"
    assert _scalar(shared_demo, count.format("2026-09-01", "2026-11-01")) == 0
    assert _scalar(shared_demo, count.format("2026-08-01", "2026-09-01")) == 296


def test_nps_with_no_answers_shows_the_latest_survey_with_its_dates(ask):
    august = ask("nps 2026-08")
    assert august.figures[0].value == "+15"
    reply = ask("nps")
    assert reply.title == ("NPS (Net Promoter Score) +15 from the latest survey (Aug 1 – Aug 31, 2026); "
                           "no answers in Oct 1 – Oct 31, 2026")
    assert reply.figures[0].label == "NPS (Net Promoter Score), latest survey (Aug 1 – Aug 31, 2026)"
    assert reply.figures[0].value == "+15"
    assert reply.lines[0] == ("No NPS answers in Oct 1 – Oct 31, 2026. The latest survey with answers is "
                              "Aug 1 – Aug 31, 2026: NPS +15 from 296 respondents.")
    assert not any("Not defined" in line for line in reply.lines)
    assert reply.chart.subtitle == "Aug 1 – Aug 31, 2026" and reply.chart.center.value == "+15"
    assert reply.chart.series[0].values == august.chart.series[0].values
    # the machine numbers keep the definition: no NPS in October
    assert reply.data["nps"] is None and reply.data["nps_latest"] == 15
    assert reply.data["nps_latest_period"] == {"start": "2026-08-01", "end": "2026-09-01"}


def test_nps_with_no_answers_in_japanese(ask):
    reply = ask("NPSは？")  # "NPSの推移" asks for a trend (issue 14)
    assert reply.language == "ja"
    assert reply.title == "NPS（ネットプロモータースコア） +15（直近の調査 2026年8月1日〜8月31日。2026年10月1日〜10月31日 は回答なし）"
    assert reply.figures[0].value == "+15"
    assert "2026年8月1日〜8月31日" in reply.figures[0].label
    _no_english_sentence(reply)


def test_nps_with_answers_and_nps_with_none_at_all_do_not_fall_back(ask):
    assert ask("nps last-week").title == "NPS (Net Promoter Score) +17 · Nov 9 – Nov 15, 2026"
    early = ask("nps 2023-10")  # nothing before the first survey (Nov 2023): no made-up number
    assert early.figures[0].value == "—"
    assert "nps_latest" not in early.data


# ---- KPI board ----------------------------------------------------------------------------------

def test_kpi_board_falls_back_for_nps_and_onboarding(ask):
    reply = ask("kpi")
    rows = {row[0]: row for row in reply.table.rows}
    assert rows["NPS (Net Promoter Score), latest survey (Aug 1 – Aug 31, 2026)"][1:] == ("+15", "—", "—")
    # October's 13 new customers are all inside their 90-day window: the board shows July's,
    # the latest month whose window has closed (Jul 31 + 90 days = Oct 29, before Nov 22; Aug 31 + 90 = Nov 29)
    july, june = ask("onboarding 2026-07"), ask("onboarding 2026-06")
    assert not any("still inside" in line for line in july.lines)
    label = "Onboarding completion rate, customers who started Jul 1 – Jul 31, 2026"
    assert rows[label][1:3] == (july.figures[0].value, june.figures[0].value) == ("80.0%", "66.7%")
    assert rows[label][3] == "+13.3 pt"
    assert "0.0%" not in [row[1] for row in reply.table.rows] + [f.value for f in reply.figures]
    assert "-66.7 pt" not in render_text(reply)
    assert ("Onboarding: 13 of the 13 customers who started paying in Oct 1 – Oct 31, 2026 are still inside their "
            "90-day window, so their rate can still rise; the board shows the latest group whose window has closed, "
            "customers who started Jul 1 – Jul 31, 2026.") in reply.lines
    figures = {f.label: f for f in reply.figures}
    assert figures[label].value == "80.0%" and figures[label].good is True
    assert figures["NPS (Net Promoter Score), latest survey (Aug 1 – Aug 31, 2026)"].value == "+15"


def test_kpi_board_in_japanese(ask):
    reply = ask("KPIボード")
    assert reply.language == "ja"
    labels = [row[0] for row in reply.table.rows]
    assert "オンボーディング完了率（2026年7月1日〜7月31日 に開始した顧客）" in labels
    assert "NPS（ネットプロモータースコア）（直近の調査: 2026年8月1日〜8月31日）" in labels
    for line in reply.lines:
        assert JA.search(line) and "the " not in line, line


def test_kpi_onboarding_is_pending_when_no_cohort_has_closed(ask, settings):
    # a 10-year window: no cohort of the last 12 months before it has closed, so no rate yet
    reply = ask("kpi", settings_=replace(settings, onboarding_days=3650))
    row = next(r for r in reply.table.rows if r[0] == "Onboarding completion rate")
    assert row[1] == "pending (13 of 13 still inside their window)"
    ja = ask("KPIボード", settings_=replace(settings, onboarding_days=3650))
    row = next(r for r in ja.table.rows if r[0].startswith("オンボーディング完了率"))
    assert row[1] == "確定待ち（13社中 13社が期限内）"


def test_latest_mature_cohort():
    assert latest_mature_cohort(date(2026, 11, 22), 90) == Period(date(2026, 7, 1), date(2026, 8, 1), "month")
    assert latest_mature_cohort(date(2026, 11, 30), 90) == Period(date(2026, 8, 1), date(2026, 9, 1), "month")
    assert latest_mature_cohort(date(2026, 11, 22), 90, before=date(2026, 5, 31)).start == date(2026, 5, 1)


# ---- App Home -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, label", [
    ("en", "NPS (Net Promoter Score), latest survey (Aug 1 – Aug 31, 2026)"),
    ("ja", "NPS（ネットプロモータースコア）（直近の調査: 2026年8月1日〜8月31日）"),
])
def test_app_home_nps_figure_falls_back(demo_db, settings, lang, label):
    reply = home_reply(Context.create(demo_db, replace(settings, language=lang), now=_now()))
    nps = reply.figures[-1]
    assert (nps.label, nps.value) == (label, "+15")


# ---- usage --------------------------------------------------------------------------------------

def test_usage_this_month_is_taken_on_the_last_synced_day(ask, shared_demo):
    assert str(_scalar(shared_demo, "SELECT MAX(day) FROM usage_daily"))[:10] == "2026-11-21"
    assert _scalar(shared_demo, "SELECT COUNT(*) FROM usage_daily WHERE day = '2026-11-21'") == 79
    user_days = _scalar(shared_demo, "SELECT COUNT(*) FROM usage_daily WHERE day >= '2026-11-01' AND day <= '2026-11-21'")
    assert user_days == 19459  # / 21 days = 926.6 mean DAU
    reply = ask("usage this-month")
    figures = {f.label: f.value for f in reply.figures}
    assert figures["DAU (daily active users) on Nov 21"] == "79"  # not today's 0
    assert figures["Mean DAU (Nov 1 – Nov 21, 2026)"] == "927"
    assert reply.lines[0] == ("No usage data after Nov 21, 2026 yet (not synced): this answer covers "
                              "Nov 1 – Nov 21, 2026, not all of Nov 1 – Nov 22, 2026.")
    assert "DAU 79 that day; mean DAU 927 over Nov 1 – Nov 21, 2026" in reply.lines[1]
    assert reply.data["as_of"] == "2026-11-21" and reply.data["dau"] == 79
    assert round(reply.data["mean_dau"], 4) == round(19459 / 21, 4)


def test_usage_last_week_shows_the_sunday_beside_the_weeks_mean(ask, shared_demo):
    user_days = _scalar(shared_demo, "SELECT COUNT(*) FROM usage_daily WHERE day >= '2026-11-09' AND day <= '2026-11-15'")
    assert user_days == 6526  # / 7 = 932.3
    reply = ask("usage last-week")
    figures = {f.label: f.value for f in reply.figures}
    assert figures["DAU (daily active users) on Nov 15"] == "50"
    assert figures["Mean DAU (Nov 9 – Nov 15, 2026)"] == "932"
    assert not any("not synced" in line for line in reply.lines)


def test_usage_says_why_two_mau_figures_differ(ask):
    reply = ask("usage")
    mau = next(f.value for f in reply.figures if f.label.startswith("MAU"))
    why = [line for line in reply.lines if line.startswith("Seat utilisation counts")]
    assert len(why) == 1 and f"MAU ({mau})" in why[0]


def test_usage_in_japanese(ask):
    reply = ask("利用状況 今月")
    assert reply.language == "ja"
    figures = {f.label: f.value for f in reply.figures}
    assert figures["DAU（日次アクティブユーザー）（11月21日）"] == "79"
    assert figures["平均DAU（2026年11月1日〜11月21日）"] == "927"
    assert reply.lines[0] == ("2026年11月21日 より後の利用データはまだ同期されていません。"
                              "2026年11月1日〜11月22日 のうち 2026年11月1日〜11月21日 の値です。")
    for line in reply.lines:
        assert JA.search(line) and not re.search(r"\b(the|of|and|as)\b", line), line


def test_metric_json_keeps_the_definitions(shared_demo):
    """csbot metric --json is for machines: October's NPS stays undefined, DAU stays the period's last day."""
    from metrics.compute import compute_metric
    from metrics.settings import Settings

    with shared_demo.engine.connect() as conn:
        oct_ = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
        assert compute_metric(conn, "nps", oct_, settings=Settings()).to_json()["value"] is None
        nov = Period(date(2026, 11, 1), date(2026, 11, 23), "month", to_date=True)
        dau = compute_metric(conn, "dau", nov, settings=Settings()).to_json()
        assert dau["value"] == 0 and dau["parts"]["day"] == "2026-11-22"
