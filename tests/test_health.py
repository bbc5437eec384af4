"""The health score on hand-made accounts, with hand-computed numbers.

The tests use their own small model (``MODEL`` below: straight-line score
functions, so every expected number can be worked out by hand); one test checks
that the shipped model carries the weights and bands of docs/metrics.md.

Today is 2026-11-22 (conftest.TODAY); "as of D" is the state at 00:00 of D.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from metrics import health as hm
from metrics import schema
from metrics.filters import Filters

D = date(2026, 11, 22)

MODEL_TEXT = """\
version = 1
onboarding_phase_days = 90

[bands]
red = [0, 50]
yellow = [51, 75]
green = [76, 100]

[weights]
usage = 30
seats = 15
last_activity = 15
nps = 15
support = 10
revenue = 10
onboarding = 5

[weights_onboarding]
usage = 10
seats = 10
last_activity = 10
nps = 10
support = 10
revenue = 0
onboarding = 50

[components.usage]
trend_days = 14
stickiness = [[0.0, 0], [1.0, 100]]
trend = [[-1.0, 0], [0.0, 100]]
trend_share = 0.5

[components.seats]
points = [[0.0, 0], [1.0, 100]]

[components.last_activity]
points = [[0, 100], [10, 0]]

[components.nps]
lookback_days = 365
points = [[-100, 0], [100, 100]]

[components.support]
penalty_per_open = 10
penalty_per_high = 20
penalty_per_urgent = 30

[components.revenue]
days = 90
points = [[-1.0, 0], [0.0, 100]]

[components.onboarding]
expected_days = 60
points = [[-1.0, 0], [0.0, 100]]
"""

MODEL = hm.parse_model(MODEL_TEXT, "test-model.toml")
MILESTONES = ("kickoff", "setup", "first_value", "training")


def _days(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def _same_keys(rows: list[dict]) -> list[dict]:
    keys = {k for r in rows for k in r}
    return [{k: r.get(k) for k in keys} for r in rows]


def seed(engine):
    """Three accounts.

    A "Acme Corp" (mature, 10 seats): MRR 100,000 since 2025-01-01, cut to 80,000 on 2026-10-01.
      usage: u1, u2 every day Nov 8..21 (28 user-days); u1..u4 every day Oct 25..Nov 7 (56 user-days).
      NPS: r1 10 on Jun 1 then 3 on Nov 3 (latest: detractor), r2 9 on Oct 1, r3 7 in Sep 2025 (too old).
      tickets open at D: 2 urgent, 1 normal; a high one closed Nov 10; one opened on D itself (not yet).
      onboarding: all four milestones done in 2025.
    B "Globex" (mature, no seat count): MRR 50,000 since 2025-01-01; no usage, no NPS, no tickets;
      onboarding done.
    C "New Co" (first paid Nov 12, 10 days before D): no usage, nothing in onboarding yet.
    """
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), _same_keys([
            {"account_id": "A", "name": "Acme Corp", "seats": 10, "owner": "alice@example.com", "plan": "pro",
             "renewal_date": date(2027, 1, 1), "segment": "enterprise"},
            {"account_id": "B", "name": "Globex", "seats": None, "owner": "U0BOB", "plan": "starter", "segment": "smb"},
            {"account_id": "C", "name": "New Co", "seats": 5, "owner": "U0BOB", "plan": "starter", "segment": "smb"},
        ]))
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": "A1", "account_id": "A", "product": "core", "start_date": date(2025, 1, 1),
             "end_date": date(2026, 10, 1), "mrr": 100_000},
            {"subscription_id": "A2", "account_id": "A", "product": "core", "start_date": date(2026, 10, 1),
             "end_date": None, "mrr": 80_000},
            {"subscription_id": "B1", "account_id": "B", "product": "core", "start_date": date(2025, 1, 1),
             "end_date": None, "mrr": 50_000},
            {"subscription_id": "C1", "account_id": "C", "product": "core", "start_date": date(2026, 11, 12),
             "end_date": None, "mrr": 20_000},
        ])
        usage = [{"account_id": "A", "user_id": u, "day": d, "events": 3, "seconds": 600.0}
                 for u in ("u1", "u2") for d in _days(date(2026, 11, 8), date(2026, 11, 21))]
        usage += [{"account_id": "A", "user_id": u, "day": d, "events": 3, "seconds": 600.0}
                  for u in ("u1", "u2", "u3", "u4") for d in _days(date(2026, 10, 25), date(2026, 11, 7))]
        conn.execute(schema.usage_daily.insert(), usage)
        conn.execute(schema.nps_responses.insert(), [
            {"response_id": "n1", "account_id": "A", "respondent": "r1", "score": 10, "responded_at": datetime(2026, 6, 1, 10)},
            {"response_id": "n2", "account_id": "A", "respondent": "r1", "score": 3, "responded_at": datetime(2026, 11, 3, 10)},
            {"response_id": "n3", "account_id": "A", "respondent": "r2", "score": 9, "responded_at": datetime(2026, 10, 1, 10)},
            {"response_id": "n4", "account_id": "A", "respondent": "r3", "score": 7, "responded_at": datetime(2025, 9, 1, 10)},
        ])
        conn.execute(schema.tickets.insert(), _same_keys([
            {"ticket_id": "t1", "account_id": "A", "opened_at": datetime(2026, 11, 20, 9), "priority": "urgent", "status": "open"},
            {"ticket_id": "t2", "account_id": "A", "opened_at": datetime(2026, 11, 21, 9), "priority": "urgent", "status": "open"},
            {"ticket_id": "t3", "account_id": "A", "opened_at": datetime(2026, 11, 1, 9), "priority": "normal", "status": "open"},
            {"ticket_id": "t4", "account_id": "A", "opened_at": datetime(2026, 11, 1, 9), "closed_at": datetime(2026, 11, 10, 9),
             "priority": "high", "status": "closed"},
            {"ticket_id": "t5", "account_id": "A", "opened_at": datetime(2026, 11, 22, 10), "priority": "urgent", "status": "open"},
        ]))
        conn.execute(schema.csat_responses.insert(), [
            {"response_id": "c1", "account_id": "A", "score": 2, "responded_at": datetime(2026, 11, 11, 9)},
            {"response_id": "c2", "account_id": "A", "score": 4, "responded_at": datetime(2026, 11, 12, 9)},
        ])
        conn.execute(schema.onboarding.insert(), [
            {"account_id": acc, "milestone": m, "completed_at": datetime(2025, 2, 1 + i, 9)}
            for acc in ("A", "B") for i, m in enumerate(MILESTONES)
        ])


@pytest.fixture
def seeded(engine):
    seed(engine)
    return engine


@pytest.fixture
def model_path(tmp_path):
    """The test model written to a file, as a team's own model would be."""
    path = tmp_path / "test-model.toml"
    path.write_text(MODEL_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def model_settings(settings, model_path):
    """Settings naming the test model (Settings.health_model)."""
    from dataclasses import replace

    return replace(settings, health_model=model_path)


def scores(engine, day=D, **kw):
    with engine.connect() as conn:
        return hm.score_accounts(conn, day, Filters(), None, model=MODEL, **kw)


# --------------------------------------------------------------------------- components


def test_usage_mixes_stickiness_and_the_14_day_trend(seeded):
    usage = scores(seeded)["A"].components["usage"]
    # last 30 days: 28 + 56 = 84 user-days, 4 users -> stickiness (84/30)/4 = 0.7 -> 70
    # trend: 28 in the last 14 days vs 56 in the 14 before = -50% -> 50;  0.5 x 70 + 0.5 x 50 = 60
    assert usage.raw == pytest.approx(0.7)
    assert usage.detail["change"] == pytest.approx(-0.5)
    assert usage.score == pytest.approx(60.0)


def test_seat_utilisation_is_monthly_active_users_over_seats_bought(seeded):
    seats = scores(seeded)["A"].components["seats"]
    assert seats.detail["active_users"] == 4 and seats.raw == pytest.approx(0.4) and seats.score == pytest.approx(40.0)


def test_last_activity_counts_days_since_the_last_active_day(seeded):
    last = scores(seeded)["A"].components["last_activity"]
    # last active Nov 21, as of Nov 22: 1 day -> 100 - 10 = 90
    assert last.raw == 1 and last.score == pytest.approx(90.0)


def test_nps_takes_each_respondents_latest_answer_within_a_year(seeded):
    nps = scores(seeded)["A"].components["nps"]
    # r1's latest is 3 (detractor), r2 9 (promoter); r3's answer is older than 365 days -> (1 - 1) / 2 = 0
    assert nps.detail["respondents"] == 2 and nps.raw == 0 and nps.score == pytest.approx(50.0)
    assert nps.detail["last_detractor_at"] == datetime(2026, 11, 3, 10)


def test_support_loses_points_per_ticket_open_at_midnight_by_priority(seeded):
    support = scores(seeded)["A"].components["support"]
    # open at 00:00 Nov 22: t1, t2 urgent, t3 normal (t4 closed Nov 10, t5 opened later on Nov 22)
    assert (support.detail["open"], support.detail["urgent"], support.detail["high"]) == (3, 2, 0)
    assert support.score == pytest.approx(100 - 10 - 2 * 30)


def test_revenue_trend_scores_the_contraction_over_90_days(seeded):
    revenue = scores(seeded)["A"].components["revenue"]
    # 100,000 on Aug 24 -> 80,000 now: -20% -> 80
    assert revenue.raw == pytest.approx(-0.2) and revenue.score == pytest.approx(80.0)


def test_onboarding_complete_scores_full_marks(seeded):
    onboarding = scores(seeded)["A"].components["onboarding"]
    assert onboarding.detail["done"] == 4 and onboarding.score == pytest.approx(100.0)


def test_score_is_the_weighted_mean_of_the_components(seeded):
    a = scores(seeded)["A"]
    # (60x30 + 40x15 + 90x15 + 50x15 + 30x10 + 80x10 + 100x5) / 100 = 61.0 -> yellow
    assert a.score == pytest.approx(61.0) and a.band == "yellow" and a.left_out == ()


def test_components_without_data_are_left_out_and_the_weights_renormalised(seeded):
    b = scores(seeded)["B"]
    # no seat count and no NPS answer: left out. Usage is tracked (A has some) and B has paid for
    # almost two years, so no usage is a real zero: usage 0, last activity 0 (since its first paid day).
    # (0x30 + 0x15 + 100x10 support + 100x10 revenue + 100x5 onboarding) / 70 = 35.71 -> red
    assert b.left_out == ("seats", "nps")
    assert b.components["usage"].score == 0 and b.components["last_activity"].score == 0
    assert b.score == pytest.approx(2500 / 70)
    assert b.band == "red"
    assert sum(b.weights.values()) == pytest.approx(1.0)
    assert b.weights["usage"] == pytest.approx(30 / 70)


def test_a_new_account_uses_the_onboarding_weights_and_is_judged_against_the_schedule(seeded):
    c = scores(seeded)["C"]
    # first paid 10 days ago: onboarding phase. Nothing done, 10/60 expected -> gap -1/6 -> 83.33.
    # No usage yet in its first month: usage, seats and last activity have no data; no NPS; revenue weighs 0.
    # (100 support x 10 + 83.33 x 50) / 60 = 86.11
    assert c.onboarding_phase is True
    assert c.left_out == ("usage", "seats", "last_activity", "nps")
    assert c.components["onboarding"].score == pytest.approx(100 - 100 / 6)
    assert c.score == pytest.approx((1000 + (100 - 100 / 6) * 50) / 60)


def test_one_account_scored_alone_matches_the_whole_book(seeded):
    together = scores(seeded)
    alone = scores(seeded, account_ids=["A"])
    assert set(alone) == {"A"} and alone["A"].score == pytest.approx(together["A"].score)


def test_filters_limit_the_accounts_scored(seeded):
    with seeded.connect() as conn:
        only = hm.score_accounts(conn, D, Filters(owner=("U0BOB",)), None, model=MODEL)
    assert set(only) == {"B", "C"}


def test_an_account_that_stopped_paying_is_not_in_the_book(seeded):
    with seeded.begin() as conn:
        conn.execute(update(schema.subscriptions).where(schema.subscriptions.c.subscription_id == "B1")
                     .values(end_date=date(2026, 11, 1)))
    assert set(scores(seeded)) == {"A", "C"}


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize("score,band", [
    (0, "red"), (50, "red"), (50.49, "red"), (50.5, "yellow"), (51, "yellow"),
    (75, "yellow"), (75.49, "yellow"), (75.5, "green"), (76, "green"), (100, "green"),
])
def test_bands_round_half_up_then_0_50_red_51_75_yellow_76_100_green(score, band):
    assert MODEL.band(score) == band


def test_band_edges_through_the_weighted_mean():
    def comps(value):
        return {name: hm.ComponentScore(value, None) for name in hm.COMPONENTS}

    assert hm.combine("X", D, comps(50), MODEL).band == "red"
    assert hm.combine("X", D, comps(51), MODEL).band == "yellow"
    assert hm.combine("X", D, comps(75), MODEL).band == "yellow"
    assert hm.combine("X", D, comps(76), MODEL).band == "green"


def test_no_component_with_data_gives_no_score():
    none = {name: hm.ComponentScore(None, None) for name in hm.COMPONENTS}
    result = hm.combine("X", D, none, MODEL)
    assert result.score is None and result.band is None and result.left_out == hm.COMPONENTS


# --------------------------------------------------------------------------- the model file


def test_shipped_model_has_the_weights_and_bands_of_metrics_md():
    model = hm.load_model(hm.DEFAULT_MODEL_PATH)
    assert model.weights == {"usage": 30, "seats": 15, "last_activity": 15, "nps": 15, "support": 10,
                             "revenue": 10, "onboarding": 5}
    assert model.bands == (("red", 0, 50), ("yellow", 51, 75), ("green", 76, 100))
    assert model.weights_onboarding["onboarding"] > model.weights["onboarding"]


def _broken(old: str, new: str) -> str:
    assert old in MODEL_TEXT
    return MODEL_TEXT.replace(old, new, 1)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old,new,needle,reason", [
    ("usage = 30", "usage = 30 30", "usage = 30 30", "not valid TOML"),
    ("seats = 15\nlast_activity", "seatz = 15\nlast_activity", "seatz = 15", "unknown component 'seatz'"),
    ("nps = 15", 'nps = "fifteen"', 'nps = "fifteen"', "must be a number"),
    ("yellow = [51, 75]", "yellow = [50, 75]", "yellow = [50, 75]", "overlapping"),
    ("yellow = [51, 75]", "yellow = [53, 75]", "yellow = [53, 75]", "51..52 have no band"),
    ("[components.seats]", "[components.seat_use]", "[components.seat_use]", "unknown component"),
    ("points = [[0, 100], [10, 0]]", "points = [[10, 100], [0, 0]]", "points = [[10, 100], [0, 0]]", "must increase"),
])
def test_a_malformed_model_is_refused_with_the_line_and_the_reason(tmp_path, old, new, needle, reason):
    text = _broken(old, new)
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(hm.HealthModelError) as err:
        hm.load_model(path)
    message = str(err.value)
    assert "\n" not in message
    assert f"line {_line(text, needle)}:" in message
    assert reason in message
    assert str(path) in message


def test_the_model_file_comes_from_csbot_health_model(tmp_path):
    from metrics.settings import load_settings

    path = tmp_path / "custom.toml"
    path.write_text(MODEL_TEXT.replace("usage = 30", "usage = 40", 1), encoding="utf-8")
    assert hm.model_for(load_settings({"CSBOT_HEALTH_MODEL": str(path)})).weights["usage"] == 40
    missing = load_settings({"CSBOT_HEALTH_MODEL": str(tmp_path / "missing.toml")})
    with pytest.raises(hm.HealthModelError, match="file not found"):
        hm.model_for(missing)
    assert hm.model_for(load_settings({})).path == str(hm.DEFAULT_MODEL_PATH)


# --------------------------------------------------------------------------- snapshots and trend


def _snapshot_rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(schema.health_snapshots.c.account_id, schema.health_snapshots.c.day,
                                   schema.health_snapshots.c.score, schema.health_snapshots.c.band)
                            .order_by(schema.health_snapshots.c.account_id)).all()


def test_snapshots_are_written_once_per_account_and_day_however_often_they_run(seeded):
    with seeded.begin() as conn:
        assert hm.write_snapshots(conn, D, None, model=MODEL) == 3
    first = _snapshot_rows(seeded)
    with seeded.begin() as conn:
        hm.write_snapshots(conn, D, None, model=MODEL)
    assert _snapshot_rows(seeded) == first
    assert [(r[0], r[3]) for r in first] == [("A", "yellow"), ("B", "red"), ("C", "green")]
    assert first[0][2] == pytest.approx(61.0)
    # data changes (A's urgent tickets closed): the same rows are updated, not duplicated
    with seeded.begin() as conn:
        conn.execute(update(schema.tickets).where(schema.tickets.c.ticket_id.in_(["t1", "t2"]))
                     .values(closed_at=datetime(2026, 11, 21, 18), status="closed"))
        hm.write_snapshots(conn, D, None, model=MODEL)
    again = _snapshot_rows(seeded)
    assert len(again) == 3
    assert again[0][2] == pytest.approx(61.0 + 60 * 10 / 100)  # support 30 -> 90


def test_ensure_snapshots_writes_only_when_the_day_has_none(seeded, model_settings):
    assert hm.ensure_snapshots(seeded, D, model_settings) == 3
    assert hm.ensure_snapshots(seeded, D, model_settings) == 0
    with seeded.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.health_snapshots)).scalar() == 3


def test_trend_is_computed_on_the_fly_without_a_snapshot_and_read_from_one_when_stored(seeded):
    before_day = D - timedelta(days=30)
    with seeded.connect() as conn:
        view = hm.account_view(conn, "A", D, None, model=MODEL)
    assert view.before is not None and view.before.stored is False
    # as of Oct 23: A paid 80,000 (cut on Oct 1) vs 100,000 on Jul 25 -> revenue 80; no usage in its windows yet
    assert view.before.components["revenue"] == pytest.approx(80.0)
    with seeded.begin() as conn:
        conn.execute(schema.health_snapshots.insert().values(account_id="A", day=before_day, score=12.0, band="red",
                                                             components={"usage": {"score": 10.0}}))
    with seeded.connect() as conn:
        view = hm.account_view(conn, "A", D, None, model=MODEL)
    assert view.before.stored is True and view.before.score == 12.0
    assert view.change == pytest.approx(61.0 - 12.0)
    # usage moved it by 0.3 x (60 - 10) = +15 points: the biggest mover
    assert view.movers()[0] == ("usage", pytest.approx(15.0))


def test_who_dropped_to_red_reads_the_snapshots(seeded):
    rows = [
        ("A", date(2026, 11, 10), "yellow"), ("A", date(2026, 11, 18), "red"), ("A", date(2026, 11, 19), "red"),
        ("B", date(2026, 11, 10), "red"), ("B", date(2026, 11, 17), "red"),  # already red before
        ("C", date(2026, 11, 16), "green"), ("C", date(2026, 11, 18), "red"), ("C", date(2026, 11, 20), "green"),
    ]
    with seeded.begin() as conn:
        conn.execute(schema.health_snapshots.insert(), [
            {"account_id": a, "day": d, "score": 40.0 if b == "red" else 80.0, "band": b, "components": {}}
            for a, d, b in rows])
        report = hm.dropped_to_red(conn, date(2026, 11, 16), date(2026, 11, 23), Filters(), None, today=D, model=MODEL)
    assert report.from_snapshots is True
    # C recovered to green by the end; B was red already
    assert [(d.account_id, d.day, d.from_band) for d in report.drops] == [("A", date(2026, 11, 18), "yellow")]


# --------------------------------------------------------------------------- backtest


def test_roc_auc_is_the_mann_whitney_probability_with_ties_counting_half():
    # churners 10, 40; stayers 30, 50, 60: pairs where the stayer scored higher: 3 + 2 of 6
    assert hm.roc_auc([10, 40], [30, 50, 60]) == pytest.approx(5 / 6)
    # a tie counts half: (0.5 + 1) / 2
    assert hm.roc_auc([50], [50, 70]) == pytest.approx(0.75)
    assert hm.roc_auc([], [1, 2]) is None


def test_backtest_scores_accounts_60_days_before_the_month_and_checks_who_churned(engine):
    # months=1 with today Nov 22: October; scored as of Aug 2 (60 days before Oct 1).
    # P stays and was active; Q churns on Oct 15 and had no use; R started paying after Aug 2: not in the sample.
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": x, "name": x, "seats": 2} for x in ("P", "Q", "R")])
        conn.execute(schema.subscriptions.insert(), _same_keys([
            {"subscription_id": "P", "account_id": "P", "product": "core", "start_date": date(2025, 1, 1), "mrr": 1000},
            {"subscription_id": "Q", "account_id": "Q", "product": "core", "start_date": date(2025, 1, 1),
             "end_date": date(2026, 10, 15), "mrr": 1000},
            {"subscription_id": "R", "account_id": "R", "product": "core", "start_date": date(2026, 9, 1), "mrr": 1000},
        ]))
        conn.execute(schema.usage_daily.insert(), [
            {"account_id": "P", "user_id": u, "day": d, "events": 1, "seconds": 60.0}
            for u in ("u1", "u2") for d in _days(date(2026, 7, 1), date(2026, 8, 1))])
    result = hm.backtest(engine, 1, None, today=D, model=MODEL)
    (month,) = result.months
    assert month.month == date(2026, 10, 1) and month.as_of == date(2026, 8, 2)
    assert (result.accounts, result.churned, result.stayed) == (2, 1, 1)
    assert result.auc == pytest.approx(1.0)
    assert result.share_churned_flagged == pytest.approx(1.0)  # Q was red
    assert result.share_stayed_flagged == pytest.approx(0.0)  # P was green


# --------------------------------------------------------------------------- the metric


def test_health_score_metric_is_the_mean_score_with_counts_per_band(seeded, model_settings):
    from metrics.calc import Calc
    from metrics.periods import Period

    with seeded.connect() as conn:
        res = hm.health_score_measure(Calc(conn, model_settings, today=D), Period(date(2026, 11, 1), D, "range"),
                                      Filters())
    # as of Nov 22: A 61.0, B 35.71, C 86.11
    expected = (61.0 + 2500 / 70 + (1000 + (100 - 100 / 6) * 50) / 60) / 3
    assert res.value == pytest.approx(expected, abs=0.01)
    parts = res.parts
    assert (parts["red_accounts"], parts["yellow_accounts"], parts["green_accounts"]) == (1, 1, 1)
    assert parts["yellow_mrr"] == 80_000


# --------------------------------------------------------------------------- CLI


def cli(argv: list[str], settings) -> int:
    """``csbot health <argv>`` with these settings (the parser and runner of bot/cli)."""
    from bot.cli import build_parser

    args = build_parser().parse_args(["health", *argv])
    return args.run(args, settings)


def test_cli_refuses_bad_arguments_with_one_line(settings, capsys):
    assert cli([], settings) == 2
    assert "choose --backtest N or --snapshot" in capsys.readouterr().err
    assert cli(["--backtest", "99"], settings) == 2
    err = capsys.readouterr().err.strip()
    assert err == "csbot health: --backtest takes a number of months from 1 to 36, e.g. --backtest 6"


def test_cli_writes_snapshots_and_runs_the_backtest(seeded, tmp_path, capsys, model_path):
    from metrics.settings import Settings

    url = seeded.url.render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path, database_url=url, health_model=model_path)
    assert cli(["--snapshot", "--day", "2026-11-22"], settings) == 0
    assert "Health snapshots for 2026-11-22: 3 paying accounts." in capsys.readouterr().out
    assert cli(["--backtest", "2", "--json"], settings) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert len(out["months"]) == 2 and "auc" in out


def test_the_portfolio_reads_todays_snapshot_when_there_is_one_and_says_the_same(seeded):
    model = hm.load_model(hm.DEFAULT_MODEL_PATH)
    with seeded.begin() as conn:
        computed = hm.portfolio(conn, D, model=model)
        hm.write_snapshots(conn, D, model=model)
        stored = hm.portfolio(conn, D, model=model)
        # a snapshot that differs from a fresh computation shows it is really the one read
        conn.execute(update(schema.health_snapshots).where(schema.health_snapshots.c.day == D)
                     .values(score=10.0, band="red"))
        altered = hm.portfolio(conn, D, model=model)
    assert [(r.account_id, r.mrr, r.band) for r in stored.rows] == [(r.account_id, r.mrr, r.band) for r in computed.rows]
    assert [r.score for r in stored.rows] == pytest.approx([r.score for r in computed.rows], abs=1e-3)  # stored rounded
    assert stored.counts == computed.counts and stored.mrr == computed.mrr
    assert {r.band for r in altered.rows} == {"red"} and altered.counts["red"] == len(computed.rows)
