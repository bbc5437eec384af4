"""The /health portfolio at scale reads stored snapshots instead of re-scoring the book, and stays
honest about it: when the day ``compare_days`` back has no snapshots, it compares with the nearest
earlier stored day within the tolerance and names that day; beyond it, it scores that day.

On the hand-made accounts of test_health (its model; today is 2026-11-22). Today's snapshots are
written by ``write_snapshots`` (A 61.0 yellow, B 2500/70 = 35.71 red, C 86.11 green, as
test_health computes them by hand); the earlier snapshots are hand-made rows whose scores no
computation would give, so a test sees which side was read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from test_health import MODEL, MODEL_TEXT, D, seed

from metrics import health as hm
from metrics import schema
from metrics.filters import Filters
from metrics.health.views import SNAPSHOT_TOLERANCE_DAYS

THIRTY_BACK = D - timedelta(days=30)  # 2026-10-23


@pytest.fixture
def seeded(engine):
    seed(engine)
    return engine


def _store(engine, day: date, scores: dict[str, tuple[float, str]]) -> None:
    with engine.begin() as conn:
        conn.execute(schema.health_snapshots.insert(), [
            {"account_id": acc, "day": day, "score": score, "band": band, "components": {}}
            for acc, (score, band) in scores.items()])


def _today_stored(engine) -> None:
    with engine.begin() as conn:
        assert hm.write_snapshots(conn, D, None, model=MODEL) == 3


def _portfolio(engine, filters: Filters = Filters()):
    with engine.connect() as conn:
        return hm.portfolio(conn, D, filters, None, model=MODEL)


def test_without_snapshots_30_days_back_the_nearest_earlier_stored_day_is_compared_and_named(seeded):
    _today_stored(seeded)
    _store(seeded, D - timedelta(days=33), {"A": (70.0, "yellow"), "B": (30.0, "red")})  # Oct 20; C did not pay yet
    pf = _portfolio(seeded)
    assert pf.before_day == date(2026, 10, 20) and pf.before_stored is True
    rows = {r.account_id: r for r in pf.rows}
    assert rows["A"].previous == 70.0 and rows["A"].change == pytest.approx(61.0 - 70.0)
    assert rows["B"].previous == 30.0 and rows["B"].change == pytest.approx(2500 / 70 - 30.0, abs=1e-3)  # stored: 4 decimals
    assert rows["C"].previous is None and rows["C"].change is None
    # red first, then yellow, then green; counts and MRR per band from today's snapshots
    assert [r.account_id for r in pf.rows] == ["B", "A", "C"]
    assert pf.counts == {"red": 1, "yellow": 1, "green": 1}
    assert pf.mrr == {"red": 50_000.0, "yellow": 80_000.0, "green": 20_000.0}
    assert pf.mean_score == pytest.approx((61.0 + 2500 / 70 + (1000 + (100 - 100 / 6) * 50) / 60) / 3, abs=1e-3)


def test_the_exact_day_30_days_back_wins_over_an_earlier_one(seeded):
    _today_stored(seeded)
    _store(seeded, D - timedelta(days=33), {"A": (70.0, "yellow")})
    _store(seeded, THIRTY_BACK, {"A": (55.0, "yellow")})
    _store(seeded, D - timedelta(days=29), {"A": (99.0, "green")})  # later than 30 days back: never used
    pf = _portfolio(seeded)
    assert pf.before_day == THIRTY_BACK and pf.before_stored is True
    assert {r.account_id: r.previous for r in pf.rows}["A"] == 55.0


def test_beyond_the_tolerance_the_day_30_days_back_is_scored_not_guessed(seeded):
    _today_stored(seeded)
    _store(seeded, THIRTY_BACK - timedelta(days=SNAPSHOT_TOLERANCE_DAYS + 1), {"A": (70.0, "yellow")})
    pf = _portfolio(seeded)
    assert pf.before_day == THIRTY_BACK and pf.before_stored is False
    with seeded.connect() as conn:
        then = hm.score_accounts(conn, THIRTY_BACK, Filters(), None, model=MODEL)
    # on Oct 23 A and B paid, C did not: their computed scores, never the stale 70
    assert set(then) == {"A", "B"}
    assert {r.account_id: r.previous for r in pf.rows} == {"A": then["A"].score, "B": then["B"].score, "C": None}
    assert {r.account_id: r.previous for r in pf.rows}["A"] != 70.0


def test_computed_today_with_a_stored_earlier_day_still_names_that_day(seeded):
    _store(seeded, D - timedelta(days=35), {"A": (70.0, "yellow"), "B": (30.0, "red")})
    pf = _portfolio(seeded)  # no snapshot today: today's side is scored
    assert pf.before_day == D - timedelta(days=35) and pf.before_stored is True
    rows = {r.account_id: r for r in pf.rows}
    assert rows["A"].score == pytest.approx(61.0) and rows["A"].previous == 70.0
    assert rows["B"].score == pytest.approx(2500 / 70) and rows["B"].previous == 30.0


def test_stored_and_computed_portfolios_agree_on_every_row(seeded):
    _store(seeded, D - timedelta(days=33), {"A": (70.0, "yellow"), "B": (30.0, "red")})
    computed = _portfolio(seeded)
    _today_stored(seeded)
    stored = _portfolio(seeded)
    assert [(r.account_id, r.name, r.owner, r.mrr, r.band, r.previous, r.renewal_date) for r in stored.rows] == \
        [(r.account_id, r.name, r.owner, r.mrr, r.band, r.previous, r.renewal_date) for r in computed.rows]
    assert [r.score for r in stored.rows] == pytest.approx([r.score for r in computed.rows], abs=1e-3)
    assert {r.account_id: r.renewal_date for r in stored.rows}["A"] == date(2027, 1, 1)  # read back as a date


def test_filters_limit_the_stored_portfolio_and_its_before_side(seeded):
    _today_stored(seeded)
    _store(seeded, D - timedelta(days=31), {"A": (70.0, "yellow"), "B": (30.0, "red")})
    pf = _portfolio(seeded, Filters(owner=("U0BOB",)))
    assert {r.account_id for r in pf.rows} == {"B", "C"}
    assert {r.account_id: r.previous for r in pf.rows} == {"B": 30.0, "C": None}
    assert pf.counts == {"red": 1, "yellow": 0, "green": 1}


# --------------------------------------------------------------------------- what the user reads


@pytest.fixture
def settings(settings, tmp_path):
    path = tmp_path / "health_model.toml"
    path.write_text(MODEL_TEXT, encoding="utf-8")
    return replace(settings, health_model=path)


def test_the_answer_names_the_day_it_compares_with_in_english_and_japanese(seeded, ask):
    _today_stored(seeded)
    _store(seeded, D - timedelta(days=33), {"A": (70.0, "yellow"), "B": (30.0, "red")})
    reply = ask("/health")
    assert reply.kind == "answer", reply.title
    assert reply.data["compared_with"] == "2026-10-20"
    assert reply.table.columns[2] == "33-day change"
    assert any("Oct 20, 2026" in line and "30 days ago" in line for line in reply.lines)
    assert {row[0]: row[2] for row in reply.table.rows}["Acme Corp"] == "-9"
    ja = ask("ヘルス")
    assert ja.language == "ja" and ja.table.columns[2] == "33日の変化"
    assert any("2026年10月20日" in line and "30日前" in line for line in ja.lines)


def test_the_answer_says_nothing_extra_when_it_compares_with_30_days_back(seeded, ask):
    _today_stored(seeded)
    _store(seeded, THIRTY_BACK, {"A": (70.0, "yellow")})
    reply = ask("/health")
    assert reply.data["compared_with"] == THIRTY_BACK.isoformat()
    assert reply.table.columns[2] == "30-day change"
    assert not any("measured from" in line for line in reply.lines)


def test_stored_scores_read_back_the_components_that_were_written(seeded):
    _today_stored(seeded)
    with seeded.connect() as conn:
        stored = hm.scores_as_of(conn, D, Filters(), None, model=MODEL)
        computed = hm.score_accounts(conn, D, Filters(), None, model=MODEL)
    assert all(x.stored for x in stored.values())
    # A by hand (test_health): usage 60, seats 40, last activity 90, NPS 50, support 30, revenue 80, onboarding 100
    assert dict(stored["A"].components) == pytest.approx(
        {"usage": 60.0, "seats": 40.0, "last_activity": 90.0, "nps": 50.0, "support": 30.0, "revenue": 80.0,
         "onboarding": 100.0})
    for acc, hl in computed.items():
        assert dict(stored[acc].components) == pytest.approx({k: v.score for k, v in hl.components.items()}, abs=1e-2)
    assert stored["B"].components.get("seats") is None and "seats" in stored["B"].components  # no seat count: no score


def test_the_stored_portfolio_comes_in_the_risk_order_ties_by_the_larger_mrr(seeded):
    _store(seeded, D, {"A": (60.0, "yellow"), "B": (60.0, "yellow"), "C": (80.0, "green")})
    _store(seeded, THIRTY_BACK, {"C": (90.0, "green")})
    pf = _portfolio(seeded)
    # A and B tie at 60: A's 80,000 before B's 50,000; C green, down 10
    assert [(r.account_id, r.change) for r in pf.rows] == [("A", None), ("B", None), ("C", -10.0)]
    from metrics.health.views import _risk_key
    assert list(pf.rows) == sorted(pf.rows, key=_risk_key)


# --------------------------------------------------------------------------- the health_score metric


def test_the_health_score_metric_reads_the_days_snapshots_when_the_day_has_them(seeded):
    from metrics.breakdown import breakdown
    from metrics.calc import Calc
    from metrics.periods import Period
    from metrics.settings import Settings

    # scores no computation gives (computed: A 61, B 35.71, C 86.11): the stored ones are read
    _store(seeded, D, {"A": (40.0, "red"), "B": (80.0, "green"), "C": (60.0, "yellow")})
    period = Period(date(2026, 11, 1), D, "range")
    with seeded.connect() as conn:
        res = hm.health_score_measure(Calc(conn, Settings(), today=D), period, Filters())
        by_segment = breakdown(Calc(conn, Settings(), today=D), "health_score", period, Filters(), "segment")
    assert res.value == 60.0 and res.parts["accounts"] == 3
    # MRR on Nov 22 per band: A 80,000 red, B 50,000 green, C 20,000 yellow
    assert (res.parts["red_mrr"], res.parts["yellow_mrr"], res.parts["green_mrr"]) == (80_000, 20_000, 50_000)
    groups = {g.value: g.current.value for g in by_segment.groups}
    assert groups == {"enterprise": 40.0, "smb": 70.0}  # A alone; B and C: (80 + 60) / 2
    assert by_segment.total.value == 60.0


def test_without_snapshots_that_day_the_metric_scores_the_book(seeded, settings):
    from metrics.calc import Calc
    from metrics.periods import Period

    _store(seeded, D - timedelta(days=1), {"A": (40.0, "red")})  # another day's snapshots are not this day's
    with seeded.connect() as conn:  # settings name the test model (the fixture above)
        res = hm.health_score_measure(Calc(conn, settings, today=D), Period(date(2026, 11, 1), D, "range"), Filters())
    # scored as of Nov 22 (test_health, by hand): A 61.0, B 2500/70, C (1000 + (100 - 100/6) x 50) / 60
    assert res.parts["accounts"] == 3
    assert res.value == pytest.approx((61.0 + 2500 / 70 + (1000 + (100 - 100 / 6) * 50) / 60) / 3, abs=0.01)


# --------------------------------------------------------------------------- who dropped to red


def test_dropped_to_red_reads_only_the_accounts_red_in_the_period_and_their_band_before_it(seeded):
    rows = {
        "A": [(date(2026, 10, 1), "green"), (date(2026, 11, 1), "yellow"), (date(2026, 11, 17), "red")],  # fell from yellow
        "B": [(date(2026, 11, 15), "red"), (date(2026, 11, 17), "red")],  # red already before the period
        "C": [(date(2026, 11, 14), "green"), (date(2026, 11, 17), "red"), (date(2026, 11, 18), "green"),
              (date(2026, 11, 20), "red")],  # first fell on the 17th, red again at the end
    }
    with seeded.begin() as conn:
        conn.execute(schema.health_snapshots.insert(), [
            {"account_id": acc, "day": d, "score": 40.0 if b == "red" else 70.0, "band": b, "components": {}}
            for acc, seq in rows.items() for d, b in seq])
        report = hm.dropped_to_red(conn, date(2026, 11, 16), date(2026, 11, 23), Filters(), None, today=D, model=MODEL)
        smb = hm.dropped_to_red(conn, date(2026, 11, 16), date(2026, 11, 23), Filters(segment="smb"), None, today=D,
                                model=MODEL)
    assert report.from_snapshots is True
    # A's band before the period is its latest snapshot within 60 days (Nov 1, yellow), not Oct 1's green
    assert sorted((d.account_id, d.day, d.from_band) for d in report.drops) == [
        ("A", date(2026, 11, 17), "yellow"), ("C", date(2026, 11, 17), "green")]
    assert [(d.account_id, d.day) for d in smb.drops] == [("C", date(2026, 11, 17))]  # A is enterprise


# --------------------------------------------------------------------------- the lists read the day's snapshots


def _lists(engine, day_before: date = THIRTY_BACK, points: int = 10, filters: Filters = Filters()):
    from metrics import lists as ml

    with engine.connect() as conn:
        return (ml.band_list(conn, D, filters, ("red", "yellow", "green"), None, model=MODEL),
                ml.health_drop_list(conn, day_before, D, points, filters, None, model=MODEL),
                ml.account_list(conn, D, filters, None, model=MODEL))


def _shown(rows):
    return [(r.account_id, r.name, r.segment, r.owner, r.amount, r.band, r.previous, r.renewal_date) for r in rows]


def test_stored_and_computed_lists_agree_on_every_row(seeded):
    # Oct 23: hand-made scores, stored both times; today computed first, then stored by write_snapshots
    _store(seeded, THIRTY_BACK, {"A": (75.0, "yellow"), "B": (50.0, "red"), "C": (99.0, "green")})
    computed = _lists(seeded)
    with seeded.connect() as conn:
        assert not hm.has_snapshots(conn, D)
    _today_stored(seeded)
    stored = _lists(seeded)
    for c, s in zip(computed, stored):
        assert _shown(s) == _shown(c)
        assert [r.score for r in s] == pytest.approx([r.score for r in c], abs=1e-3)
    bands, dropped, accounts = stored
    # B 35.71 red, A 61 yellow, C 86.11 green; MRR on Nov 22: A 80,000, B 50,000, C 20,000
    assert [(r.account_id, r.band, r.amount) for r in bands] == [("B", "red", 50_000.0), ("A", "yellow", 80_000.0),
                                                                 ("C", "green", 20_000.0)]
    # B 50 -> 36 and A 75 -> 61 (14 points each: the lower score first), C 99 -> 86 (13)
    assert [(r.account_id, r.drop) for r in dropped] == [("B", 14), ("A", 14), ("C", 13)]
    assert [r.account_id for r in accounts] == ["A", "B", "C"]  # largest MRR first
    assert bands[1].renewal_date == date(2027, 1, 1)  # read back as a date


def test_a_health_drop_counts_the_points_as_shown_not_the_unrounded_difference(seeded):
    # shown: 71 -> 61 is 10 (unrounded 9.01); 70 -> 61 is 9 (unrounded 9.99): only A drops 10
    _store(seeded, THIRTY_BACK, {"A": (70.5, "yellow"), "B": (70.49, "yellow")})
    _store(seeded, D, {"A": (61.49, "yellow"), "B": (60.5, "yellow")})
    _, dropped, _ = _lists(seeded)
    assert [(r.account_id, r.drop) for r in dropped] == [("A", 10)]
    _, nine, _ = _lists(seeded, points=9)
    assert [(r.account_id, r.drop) for r in nine] == [("A", 10), ("B", 9)]


def test_ties_are_ordered_by_name_as_written_whatever_the_databases_collation(seeded):
    # same band, score and MRR: names by code point ("Zeta" before "alpha" before "Ärzte"), as Python sorts them
    with seeded.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": f"T{i}", "name": n, "segment": "smb"}
                                                for i, n in enumerate(("alpha", "Ärzte", "Zeta"))])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": f"T{i}", "account_id": f"T{i}", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": None, "mrr": 1_000} for i in range(3)])
    tied = {f"T{i}": (40.0, "red") for i in range(3)}
    _store(seeded, D, tied)
    _store(seeded, THIRTY_BACK, {k: (60.0, "yellow") for k in tied})
    bands, dropped, accounts = _lists(seeded, filters=Filters(segment="smb"))
    assert [r.name for r in bands] == ["Zeta", "alpha", "Ärzte"]
    assert [r.name for r in dropped] == ["Zeta", "alpha", "Ärzte"]
    assert [r.name for r in accounts] == ["Globex", "New Co", "Zeta", "alpha", "Ärzte"]  # 50,000, 20,000, then 1,000 each


# --------------------------------------------------------------------------- the health_score metric


def _totals(engine, **kw):
    with engine.connect() as conn:
        return hm.book_totals(conn, D, model=MODEL, **kw)


def test_the_health_score_totals_are_added_up_in_the_database_and_equal_the_scored_ones(seeded):
    computed_whole, computed_by_owner = _totals(seeded), _totals(seeded, by="owner")
    _today_stored(seeded)
    stored_whole, stored_by_owner = _totals(seeded), _totals(seeded, by="owner")
    assert stored_whole == computed_whole and stored_by_owner == computed_by_owner
    from metrics import revenue_state

    with seeded.begin() as conn:
        revenue_state.build(conn)  # each account's MRR that day read off its interval: the same totals
    assert _totals(seeded) == stored_whole and _totals(seeded, by="owner") == stored_by_owner
    assert stored_whole[None]["yellow"].mrr > 0  # A pays that day: the MRR is really summed
    with seeded.begin() as conn:  # rows written before snapshots kept their MRR: it is read off the revenue
        conn.execute(schema.health_snapshots.update().values(mrr=None))
        hm.forget_day_totals(conn)  # (such rows have no day totals: they came before them)
    assert _totals(seeded) == stored_whole and _totals(seeded, by="owner") == stored_by_owner
    # A 61.0 yellow, B 2500/70 = 35.7143 red, C 86.1111 green, summed exactly in 1/10,000ths
    bands = stored_whole[None]
    assert {b: (t.accounts, t.score_units) for b, t in bands.items()} == {
        "yellow": (1, 610_000), "red": (1, 357_143), "green": (1, 861_111)}
    assert set(stored_by_owner) == {"alice@example.com", "u0bob"}  # group keys are lower-cased
    assert sum(t.score_units for t in stored_by_owner["u0bob"].values()) == 357_143 + 861_111


def test_the_health_score_metric_is_the_exact_mean_of_the_stored_scores(seeded):
    from metrics.calc import Calc
    from metrics.health.metric import health_score_measure
    from metrics.periods import Period
    from metrics.settings import Settings

    _today_stored(seeded)
    with seeded.connect() as conn:
        calc = Calc(conn, Settings(), today=D)
        m = health_score_measure(calc, Period(date(2026, 11, 1), D, "month"), Filters())
    assert m.value == 60.94  # (61.0 + 35.7143 + 86.1111) / 3 = 60.9418
    assert m.parts["accounts"] == 3 and m.parts["score_sum"] == 182.83
    assert (m.parts["red_accounts"], m.parts["yellow_accounts"], m.parts["green_accounts"]) == (1, 1, 1)


def test_the_stored_portfolio_reads_each_mrr_off_the_revenue_state_the_same(seeded):
    from metrics import revenue_state

    _today_stored(seeded)
    counted = _portfolio(seeded)
    with seeded.begin() as conn:
        revenue_state.build(conn)
        assert revenue_state.is_fresh(conn)
    derived = _portfolio(seeded)
    assert [(r.account_id, r.mrr, r.band) for r in derived.rows] == [(r.account_id, r.mrr, r.band) for r in counted.rows]
    assert derived.mrr == counted.mrr and sum(r.mrr for r in derived.rows) > 0


def test_the_health_score_without_filters_reads_the_day_totals_written_with_the_snapshots_while_the_day_is_unchanged(seeded):
    from sqlalchemy import delete, select, update

    from metrics.health.snapshots import stored_day_totals

    ht = schema.health_day_totals
    computed, computed_by_owner = _totals(seeded), _totals(seeded, by="owner")
    _today_stored(seeded)
    with seeded.connect() as conn:
        rows = {r.band: (r.accounts, r.score_units, r.day_rows)
                for r in conn.execute(select(ht).where(ht.c.day == D))}
        mrr = {r.band: r.mrr for r in conn.execute(select(ht.c.band, ht.c.mrr).where(ht.c.day == D))}
    # A 61.0 yellow, B 2500/70 = 35.7143 red, C 86.1111 green: 3 snapshot rows that day
    assert rows == {"yellow": (1, 610_000, 3), "red": (1, 357_143, 3), "green": (1, 861_111, 3)}
    assert mrr == {b: t.mrr for b, t in computed[None].items()} and mrr["yellow"] > 0
    assert _totals(seeded) == computed and _totals(seeded, by="owner") == computed_by_owner
    with seeded.begin() as conn:  # an altered total shows: the unfiltered answer reads them ...
        conn.execute(update(ht).where(ht.c.day == D, ht.c.band == "red").values(score_units=1))
    assert _totals(seeded)[None]["red"].score_units == 1
    # ... and only it: a filter or a breakdown adds up the snapshots
    assert _totals(seeded, by="owner") == computed_by_owner
    assert _totals(seeded, filters=Filters(segment="smb")) == {None: {**computed_by_owner["u0bob"]}}  # B, C
    with seeded.begin() as conn:  # a snapshot row deleted since: the day adds up its snapshots again
        conn.execute(delete(schema.health_snapshots).where(schema.health_snapshots.c.account_id == "B"))
        assert stored_day_totals(conn, D) is None
    assert "red" not in _totals(seeded)[None] and _totals(seeded)[None]["green"] == computed[None]["green"]
    _today_stored(seeded)  # rewritten: totals again, equal to the sums
    assert _totals(seeded) == computed
    from metrics.health.snapshots import prune_snapshots

    march_5, march_9 = date(2026, 3, 5), date(2026, 3, 9)
    for day in (march_5, march_9):
        _store(seeded, day, {"A": (70.0, "yellow"), "B": (30.0, "red")})
    with seeded.begin() as conn:  # the older days of a month are pruned, the first kept: their totals alike
        for day in (march_5, march_9):
            hm.write_day_totals(conn, day)
        assert prune_snapshots(conn, D, 30) == 2
        days = {r[0] for r in conn.execute(select(ht.c.day).distinct())}
        assert {date.fromisoformat(d) if isinstance(d, str) else d for d in days} == {march_5, D}
        assert stored_day_totals(conn, march_5)["red"].score_units == 300_000


def test_the_day_totals_on_duckdb_equal_the_scored_and_the_summed_snapshots():
    """DuckDB (when installed): the day's snapshots and their totals written, then the unfiltered
    answer off the totals, the by-owner one off the snapshots, equal to scoring every account now."""
    pytest.importorskip("duckdb_engine")
    from sqlalchemy import create_engine

    from metrics.filters import NO_FILTERS
    from metrics.health.snapshots import _stored_totals, stored_day_totals

    engine = create_engine("duckdb:///:memory:")
    schema.metadata.create_all(engine)
    seed(engine)
    computed, computed_by_owner = _totals(engine), _totals(engine, by="owner")
    _today_stored(engine)
    with engine.connect() as conn:
        assert stored_day_totals(conn, D) == computed[None] == _stored_totals(conn, D, NO_FILTERS, None)[None]
    assert _totals(engine) == computed and _totals(engine, by="owner") == computed_by_owner
    engine.dispose()
