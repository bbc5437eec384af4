"""The metric family commands (mrr, nrr, grr, retention, nps, csat, usage, onboarding, ltv, kpi) through the
same dispatch as Slack, on small hand-made data with hand-computed numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from test_metrics_retention import load

from commands.privacy import carries_revenue
from commands.router import route
from metrics import schema


@pytest.fixture
def company(engine):
    # October 2026: MRR(start) 200,000 from A 100,000, B 50,000, C 50,000.
    # A expands to 130,000, B contracts to 40,000, C churns, N is new with 500,000.
    # NRR = 170,000 / 200,000 = 85.0%; GRR = 140,000 / 200,000 = 70.0%; expansion 15.0%.
    # September: only A, B, C paying all month and nothing moving: NRR 100.0%.
    load(engine, [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 10), 100_000), ("A", "core", date(2026, 10, 10), None, 130_000),
        ("B", "core", date(2026, 1, 1), date(2026, 10, 5), 50_000), ("B", "core", date(2026, 10, 5), None, 40_000),
        ("C", "core", date(2026, 1, 1), date(2026, 10, 31), 50_000),
        ("N", "core", date(2026, 10, 3), None, 500_000),
    ], accounts={"A": {"segment": "smb", "seats": 10}, "B": {"segment": "enterprise", "seats": 10},
                 "C": {"segment": "smb", "seats": 10}, "N": {"segment": "enterprise", "seats": 10}})
    with engine.begin() as conn:
        at = datetime(2026, 10, 12, 10)
        # NPS in October: 5 promoters, 3 passives, 2 detractors of 10 -> +30
        conn.execute(schema.nps_responses.insert(), [
            {"response_id": f"n{i}", "account_id": "A", "respondent": f"u{i}", "score": s, "responded_at": at}
            for i, s in enumerate([9, 10, 9, 10, 9, 7, 8, 7, 0, 6])])
        # CSAT in October: 5, 4, 3, 2 -> 2 / 4 = 50, mean 3.5
        conn.execute(schema.csat_responses.insert(), [
            {"response_id": f"c{i}", "account_id": "B", "score": s, "responded_at": at} for i, s in enumerate([5, 4, 3, 2])])
        # Usage: A/u1 every day of the 30 days ending Oct 31, B/u1 on Oct 31 only.
        conn.execute(schema.usage_daily.insert(), [
            {"account_id": "A", "user_id": "u1", "day": date(2026, 10, 31) - timedelta(days=i), "events": 2,
             "seconds": 1200} for i in range(30)] + [
            {"account_id": "B", "user_id": "u1", "day": date(2026, 10, 31), "events": 2, "seconds": 600}])
        # N started paying Oct 3 and reached every milestone by Oct 20 (first_value Oct 13: 10 days).
        conn.execute(schema.onboarding.insert(), [
            {"account_id": "N", "milestone": m, "completed_at": datetime(2026, 10, d, 9)}
            for m, d in (("kickoff", 5), ("setup", 8), ("first_value", 13), ("training", 20))])
    return engine


def test_nrr_question_in_english_gets_the_hand_computed_nrr_with_grr_and_the_previous_month(company, ask):
    reply = ask("what was NRR in 2026-10?")
    assert reply.kind == "answer" and reply.language == "en"
    assert reply.data["nrr"] == pytest.approx(0.85) and reply.data["previous_nrr"] == pytest.approx(1.0)
    assert reply.data["grr"] == pytest.approx(0.70) and reply.data["expansion_rate"] == pytest.approx(0.15)
    assert "85.0%" in reply.title and "Oct 1 – Oct 31, 2026" in reply.title
    nrr_fig = reply.figures[0]
    assert (nrr_fig.value, nrr_fig.previous, nrr_fig.change, nrr_fig.good) == ("85.0%", "100.0%", "-15.0 pt", False)
    assert carries_revenue(reply) is True
    assert any("¥170,000" not in line and "¥200,000" in line for line in reply.how)


def test_japanese_nps_question_answers_in_japanese_with_a_signed_score(company, ask):
    reply = ask("<@U0BOT> 2026-10のNPS")
    assert reply.language == "ja" and reply.data["nps"] == 30
    assert "+30" in reply.title and "2026年10月1日" in reply.title
    assert "推奨者 5" in reply.lines[0] and "批判者 2" in reply.lines[0]
    assert carries_revenue(reply) is False


def test_grr_command_shows_revenue_churn_beside_it(company, ask):
    reply = ask("grr 2026-10")
    # revenue churn = (50,000 + 10,000) / 200,000 = 30.0%
    assert reply.data["grr"] == pytest.approx(0.70) and reply.data["revenue_churn_rate"] == pytest.approx(0.30)


def test_mrr_command_shows_mrr_arr_arpa_and_the_movements(company, ask):
    reply = ask("mrr 2026-10")
    # Nov 1: A 130,000 + B 40,000 + N 500,000 = 670,000 from 3 customers; ARR 8,040,000; ARPA 223,333.33
    assert reply.data["mrr"] == 670_000 and reply.data["arr"] == 8_040_000
    assert reply.data["arpa"] == pytest.approx(223_333.33)
    # net new = 670,000 - 200,000 = 470,000
    assert reply.data["net_new_mrr"] == 470_000
    # the waterfall: new, reactivation, expansion, contraction, churn, then the net the command computed
    assert reply.chart is not None and reply.chart.series[0][1] == (500_000, 0, 30_000, -10_000, -50_000, 470_000)
    assert reply.chart.roles == ("new", "reactivation", "expansion", "contraction", "churn", "net")
    assert "¥670,000" in reply.title


def test_a_question_naming_one_movement_leads_with_it_and_the_month_before(company, ask):
    # October: N is new with 500,000 (1 account); September moved nothing (0 accounts)
    reply = ask("new MRR in 2026-10")
    assert reply.data["part"] == "new" and (reply.data["new"], reply.data["new_accounts"]) == (500_000, 1)
    assert (reply.data["previous_new"], reply.data["previous_new_accounts"]) == (0, 0)
    assert reply.title.startswith("New MRR ¥500,000 from 1 account · Oct 1 – Oct 31, 2026")
    assert reply.lines[0] == "New MRR in the period before (Sep 1 – Sep 30, 2026): ¥0 from 0 accounts; change +¥500,000."
    assert carries_revenue(reply) is True
    # in Japanese, the churned MRR: C left with 50,000
    ja = ask("2026-10の解約MRRは？")
    assert ja.language == "ja" and (ja.data["churn"], ja.data["churn_accounts"]) == (50_000, 1)
    assert ja.title.startswith("解約MRR ¥50,000・1社（2026年10月1日〜10月31日）")
    assert "前期（2026年9月1日〜9月30日）の解約MRRは ¥0（0社）" in ja.lines[0]
    # the MRR itself still leads "mrr 2026-10" (no movement named)
    assert "part" not in ask("mrr 2026-10").data


def test_how_many_customers_by_segment_and_over_time_counts_the_paying_customers(company, ask):
    # paying at 00:00 Nov 1: A (smb), B and N (enterprise); at 00:00 Oct 1: A and C (smb), B (enterprise)
    reply = ask("how many customers by segment in 2026-10")
    assert reply.data["metric"] == "paying_customers" and reply.data["by"] == "segment"
    assert reply.data["groups"] == {"smb": 1, "enterprise": 2} and reply.data["total"] == 3
    assert carries_revenue(reply) is False  # a count of customers is not a revenue figure
    # month by month in smb: A and C paying at the end of each month to September, only A at the end of October
    ja = ask("2026年の中小企業の顧客数の推移")
    assert ja.language == "ja" and ja.title.startswith("月別の有料顧客数") and ja.data["metric"] == "paying_customers"
    values = {p["label"]: p["value"] for p in ja.data["points"]}
    assert (values["2026-01"], values["2026-09"], values["2026-10"]) == (2, 2, 1)


def test_retention_command_shows_the_cohort_table(engine, ask):
    # the seeds' cohort: 200 start paying in September, 40 of them leave in October -> 80.0% a month later
    load(engine, [(f"K{i:03d}", "core", date(2026, 9, 1 + i % 30), date(2026, 10, 1 + i % 28) if i < 40 else None,
                   8_000) for i in range(200)])
    reply = ask("retention 2026-09")
    assert reply.data["cohort_retention"] == pytest.approx(0.8)
    rows = {row[0]: row for row in reply.table.rows}
    assert rows["2026-09"][1] == "200" and rows["2026-09"][2] == "80.0%"
    assert len(reply.table.rows) == 12  # the 12 cohort months ending with September


def test_retention_questions_in_japanese_route_to_retention_and_churn_still_to_churn(company):
    assert route("先月の継続率は？", "ja")[0].name == "retention"
    assert route("what was our customer retention last quarter?", "en")[0].name == "retention"
    assert route("先月の解約率は？", "ja")[0].name == "churn"
    assert route("churn last month", "en")[0].name == "churn"
    assert route("revenue churn last month", "en")[0].name == "churn"
    assert route("@csbot 今月のNPS", "ja")[0].name == "nps"
    assert route("先月の売上維持率", "ja")[0].name == "nrr"
    assert route("アクティブユーザーは？", "ja")[0].name == "usage"
    assert route("オンボーディングの完了率", "ja")[0].name == "onboarding"
    assert route("先月の顧客生涯価値は？", "ja")[0].name == "ltv"
    assert route("show me the kpi board", "en")[0].name == "kpi"


def test_csat_and_usage_and_onboarding_commands(company, ask):
    csat = ask("csat 2026-10")
    assert csat.data["csat"] == pytest.approx(50.0) and "3.50" in csat.lines[0]
    usage = ask("usage 2026-10")
    # Oct 31: DAU 2 (A/u1, B/u1), MAU 2; stickiness = (30 + 1) / 30 / 2 = 0.5167
    assert (usage.data["dau"], usage.data["mau"]) == (2, 2)
    assert usage.data["stickiness"] == pytest.approx(31 / 30 / 2)
    # paying on Oct 31: A, B, N (C ended that day) with 30 seats; MAU among them 2 -> 6.7%
    assert usage.data["seat_utilization"] == pytest.approx(2 / 30)
    onboarding = ask("onboarding 2026-10")
    assert onboarding.data["onboarding_completion_rate"] == 1.0 and onboarding.data["ttv"] == 10.0


def test_ltv_says_not_defined_when_nobody_churned(engine, ask):
    load(engine, [("A", "core", date(2026, 1, 1), None, 10_000)])
    reply = ask("ltv 2026-10")
    assert reply.data["ltv"] is None
    assert any("not defined" in line for line in reply.lines)
    assert reply.figures[0].value == "—"


def test_kpi_board_lists_every_headline_number(company, ask):
    reply = ask("kpi 2026-10")
    labels = [row[0] for row in reply.table.rows]
    assert labels[:2] == ["MRR", "ARR"] and len(labels) == 9
    values = {row[0]: row[1] for row in reply.table.rows}
    assert values["NRR (net revenue retention)"] == "85.0%"
    assert values["NPS (Net Promoter Score)"] == "+30"
    assert values["Customer churn rate"] == "33.3%"  # C of A, B, C
    assert reply.title.startswith("KPI board")
    ja = ask("先月のKPI segment:smb")
    assert ja.kind == "answer" and ja.language == "ja" and ja.title.startswith("KPIボード")
    assert ja.table.columns == ("指標", "今期", "前期", "変化")


def test_a_filter_narrows_the_family_answer(company, ask):
    # smb: A 100,000 -> 130,000 and C 50,000 -> 0: NRR = 130,000 / 150,000 = 86.7%
    reply = ask("nrr 2026-10 segment:smb")
    assert reply.data["nrr"] == pytest.approx(130_000 / 150_000)
    assert "segment:smb" in reply.title


def test_how_shows_only_the_formula_with_the_numbers(company, ask):
    reply = ask("nrr 2026-10 how")
    assert reply.lines == () and reply.chart is None
    assert any("¥200,000" in line and "85.0%" in line for line in reply.how)


def test_a_mistyped_period_gets_a_one_line_error(company, ask):
    reply = ask("nps lastmonth")
    assert reply.kind == "error" and "\n" not in reply.title
    assert "Traceback" not in reply.title


def test_empty_period_answers_not_defined_instead_of_failing(company, ask):
    reply = ask("nps 2026-09")
    assert reply.kind == "answer" and reply.data["nps"] is None
    assert "Not defined" in reply.lines[0]


def test_retention_of_last_month_says_the_cohort_is_not_known_yet(company, ask):
    # October's cohort (N) is checked at the end of November, after today (Nov 22)
    reply = ask("retention 2026-10")
    assert reply.data["cohort_retention"] is None
    assert any("not known yet" in line for line in reply.lines)


NAMES = ("mrr arr arpa paying_customers mrr_movements net_new_mrr customer_churn_rate revenue_churn_rate net_mrr_churn_rate "
         "annualized_churn_rate grr nrr expansion_rate retention_rate cohort_retention ltv upsell_rate cross_sell_rate "
         "quick_ratio nps csat dau wau mau stickiness avg_usage_minutes seat_utilization onboarding_completion_rate "
         "ttv").split()


def test_csbot_metric_json_works_for_every_name_of_metrics_md(company, monkeypatch, capsys, tmp_path):
    import json
    import math

    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", company.url.render_as_string(hide_password=False))
    expected = {"paying_customers": 3, "nrr": 0.85, "grr": 0.70, "expansion_rate": 0.15, "nps": 30, "csat": 50.0, "mau": 2,
                "retention_rate": 2 / 3, "onboarding_completion_rate": 1.0, "ttv": 10.0}
    for name in NAMES:
        code = main(["metric", name, "--period", "2026-10", "--json"])
        out, err = capsys.readouterr()
        assert code == 0, (name, err)
        data = json.loads(out)
        assert data["name"] == name and data["period"] == {"start": "2026-10-01", "end": "2026-11-01"}
        value = data["value"]
        assert value is None or (isinstance(value, (int, float)) and math.isfinite(value)), (name, value)
        if name in expected:
            assert value == pytest.approx(expected[name]), name
    # a filter: smb is A and C only -> NRR 130,000 / 150,000
    assert main(["metric", "nrr", "--period", "2026-10", "--filter", "segment=smb", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(130_000 / 150_000, abs=1e-6)


def test_each_metric_is_shown_by_the_command_the_catalog_names_and_privacy_follows_it(company, ask):
    from metrics import catalog

    commands = {info.command for info in catalog.all()} - {"health"}  # health: its own answer
    for name in sorted(commands):
        reply = ask(f"{name} 2026-10")
        assert reply.kind == "answer", name
        assert set(reply.metrics) <= set(catalog.names()), name
        for info in catalog.all():
            if info.command == name:
                assert info.name in reply.metrics, (info.name, name)
        assert carries_revenue(reply) == any(catalog.get(m).revenue for m in reply.metrics), name
    assert carries_revenue(ask("churn 2026-10")) and carries_revenue(ask("mrr 2026-10 accounts"))
    assert not carries_revenue(ask("usage 2026-10")) and not carries_revenue(ask("retention 2026-10"))


def test_the_accounts_view_signs_gains_in_the_reporting_currency(company, ask, settings):
    reply = ask("mrr 2026-10 accounts")
    changes = {row[0]: row[2] for row in reply.table.rows}
    assert changes["Account N"] == "+¥500,000" and changes["Account C"] == "-¥50,000"
    from commands.movements import movement_table

    usd = movement_table([{"name": "N", "movement": "new", "amount": 30.0, "segment": None, "owner": None},
                          {"name": "C", "movement": "churn", "amount": 5.0, "segment": None, "owner": None}],
                         "en", "USD", "Accounts", 2)
    assert [row[2] for row in usd.rows] == ["+$30.00", "-$5.00"]  # USD gets its sign too
