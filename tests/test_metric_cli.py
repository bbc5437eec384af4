"""``csbot metric`` beyond one value: --by, --grain and --compare as the README's JSON shapes, and the
mistakes (a filter value no account has, an unknown dimension, a period not started yet) as exit 2
with one line saying what to do."""

import json
from datetime import date

import pytest

from bot.cli import main
from metrics import schema
from metrics.db import init_schema, make_engine

TODAY = date(2026, 11, 22)


@pytest.fixture
def team_db(monkeypatch, tmp_path):
    """A named SQLite database holding a small company, and a fixed today (Nov 22, 2026).
    Oct 2026 by segment: enterprise A 100 stays, B 200 leaves Oct 15 (churn 1/2, MRR 100 at the end);
    smb C 50 stays, D 50 leaves Oct 20 (churn 1/2, MRR 50); H (no segment) 40 stays (churn 0, MRR 40).
    In Oct 2025 everyone but H paid and nobody left."""
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "CSBOT_TIMEZONE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr("metrics.clock.local_today", lambda tz=None: TODAY)
    engine = make_engine(url)
    init_schema(engine)
    accounts = [("A", "enterprise"), ("B", "enterprise"), ("C", "smb"), ("D", "smb"), ("H", None)]
    subs = [("A", date(2025, 1, 1), None, 100), ("B", date(2025, 1, 1), date(2026, 10, 15), 200),
            ("C", date(2025, 1, 1), None, 50), ("D", date(2025, 1, 1), date(2026, 10, 20), 50),
            ("H", date(2026, 1, 1), None, 40)]
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": a, "name": a, "segment": s} for a, s in accounts])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": str(i), "account_id": a, "product": "core", "start_date": s, "end_date": e, "mrr": m}
            for i, (a, s, e, m) in enumerate(subs)])
    yield engine
    engine.dispose()


def run(capsys, *argv):
    code = main(["metric", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_by_segment_gives_each_group_its_value_parts_and_previous_and_the_total(team_db, capsys):
    code, out, _ = run(capsys, "customer_churn_rate", "--period", "2026-10", "--by", "segment", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["name"] == "customer_churn_rate" and data["by"] == "segment" and data["unit"] == "ratio"
    assert data["period"] == {"start": "2026-10-01", "end": "2026-11-01"} and data["filters"] is None
    assert [g["key"] for g in data["groups"]] == ["enterprise", "smb", None]
    assert [g["value"] for g in data["groups"]] == [0.5, 0.5, 0.0]
    assert [g["parts"]["customers_start"] for g in data["groups"]] == [2, 2, 1]
    assert data["groups"][0]["previous"]["period"] == {"start": "2026-09-01", "end": "2026-10-01"}
    assert data["groups"][0]["previous"]["value"] == 0.0
    assert data["total"]["value"] == pytest.approx(2 / 5) and data["total"]["parts"]["churned_accounts"] == 2


def test_touch_is_a_dimension_as_it_is_a_filter_key(team_db, capsys):
    code, out, _ = run(capsys, "mrr", "--period", "2026-10", "--by", "touch", "--json")
    data = json.loads(out)
    assert code == 0 and data["by"] == "touch_model"
    assert [(g["key"], g["value"]) for g in data["groups"]] == [(None, 190.0)]  # nobody has a touch model


def test_grain_month_over_a_year_gives_each_month_up_to_today(team_db, capsys):
    code, out, _ = run(capsys, "mrr", "--period", "2026", "--grain", "month", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["grain"] == "month" and data["period"] == {"start": "2026-01-01", "end": "2026-11-23"}  # the year to date
    points = data["points"]
    assert len(points) == 11 and points[0]["period"] == {"start": "2026-01-01", "end": "2026-02-01"}
    assert points[-1]["period"] == {"start": "2026-11-01", "end": "2026-11-23"} and points[-1]["to_date"] is True
    # MRR at the end of each month: 440 through September, 190 from October
    assert [p["value"] for p in points] == [440.0] * 9 + [190.0, 190.0]


def test_grain_without_a_period_is_the_last_12_complete_months(team_db, capsys):
    code, out, _ = run(capsys, "customer_churn_rate", "--grain", "month", "--json")
    points = json.loads(out)["points"]
    assert code == 0 and len(points) == 12
    assert points[0]["period"]["start"] == "2025-11-01" and points[-1]["period"]["end"] == "2026-11-01"
    assert not any(p["to_date"] for p in points)
    assert points[-1]["value"] == pytest.approx(2 / 5) and points[-2]["value"] == 0.0  # Oct 2026: 2 of 5 left


def test_compare_sets_two_periods_side_by_side_with_the_change(team_db, capsys):
    code, out, _ = run(capsys, "mrr", "--period", "2026-10", "--compare", "2025-10", "--json")
    assert code == 0
    data = json.loads(out)
    assert [c["period"]["start"] for c in data["comparison"]] == ["2026-10-01", "2025-10-01"]
    assert [c["value"] for c in data["comparison"]] == [190.0, 400.0]
    assert data["change"] == -210.0


def test_the_single_value_shape_is_unchanged(team_db, capsys):
    code, out, _ = run(capsys, "mrr", "--period", "2026-10", "--json")
    data = json.loads(out)
    assert code == 0 and list(data) == ["name", "period", "unit", "value", "parts", "previous", "filters"]
    assert data["value"] == 190.0


def test_a_filter_value_no_account_has_is_refused_with_the_closest_value(team_db, capsys):
    code, out, err = run(capsys, "mrr", "--period", "2026-10", "--filter", "segment=enterpise", "--json")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert "no account has segment 'enterpise'; did you mean enterprise?" in err


def test_an_unknown_dimension_lists_the_dimensions(team_db, capsys):
    code, out, err = run(capsys, "mrr", "--period", "2026-10", "--by", "industry", "--json")
    assert code == 2 and not out
    assert "segment, plan, region, owner, touch_model" in err


def test_a_metric_without_a_breakdown_says_so(team_db, capsys):
    code, out, err = run(capsys, "ltv", "--period", "2026-10", "--by", "segment", "--json")
    assert code == 2 and not out and "no breakdown" in err


@pytest.mark.parametrize("argv", [["--period", "2027-01"], ["--period", "2026-10", "--compare", "2027-03"]])
def test_a_period_not_started_yet_is_refused(team_db, capsys, argv):
    code, out, err = run(capsys, "mrr", *argv, "--json")
    assert code == 2 and not out and "not started yet" in err


def test_one_shape_at_a_time(team_db, capsys):
    code, out, err = run(capsys, "mrr", "--by", "segment", "--grain", "month", "--json")
    assert code == 2 and not out and "--by" in err and "--grain" in err
