"""Lists of accounts and counts of customers (commands/lists.py, metrics/lists.py), checked
against hand-computed lists on a small company, and against the churn answer and the MRR
movements on the demo company."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from conftest import TODAY

from commands.context import Context, Request
from commands.lists import TABLE_ROWS, answer
from commands.privacy import carries_revenue
from commands.query import Query
from commands.router import dispatch
from metrics import schema
from metrics.calc import Calc
from metrics.db import Database
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period
from metrics.revenue import movements
from metrics.settings import Settings

OCT = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
SEP = Period(date(2026, 9, 1), date(2026, 10, 1), "month")
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # 09:30 in Tokyo, TODAY
BEFORE = TODAY - timedelta(days=30)  # Oct 23: the health drop's "before" side

# (id, name, segment, owner, renewal date)
ACCOUNTS = [
    ("K", "Kestrel", "smb", "alice@example.com", date(2026, 11, 30)),
    ("K2", "Kite Corp", "enterprise", "bob@example.com", None),
    ("N", "Nova", "smb", "alice@example.com", date(2026, 12, 22)),
    ("R", "Robin", "smb", "bob@example.com", None),
    ("E", "Egret", "enterprise", "bob@example.com", TODAY),
    ("C", "Condor", "smb", "carol@example.com", date(2026, 12, 21)),
    ("X", "Xenops", "smb", None, None),
    ("S", "Swift", "mid-market", "alice@example.com", date(2026, 12, 1)),
    ("F", "Finch", "smb", "carol@example.com", None),
]
# (account, product, start, end (exclusive), MRR)
SUBSCRIPTIONS = [
    ("K", "core", date(2026, 1, 1), date(2026, 10, 20), 12_000),      # churned in Oct: 12,000
    ("K2", "core", date(2026, 1, 1), date(2026, 10, 5), 30_000),      # churned in Oct: 30,000
    ("N", "core", date(2026, 10, 10), None, 10_000),                  # new in Oct: 10,000
    ("R", "core", date(2025, 1, 1), date(2025, 6, 1), 5_000),         # paid before ...
    ("R", "core", date(2026, 10, 20), None, 7_000),                   # ... came back in Oct: 7,000
    ("E", "core", date(2026, 1, 1), date(2026, 10, 15), 20_000),
    ("E", "core", date(2026, 10, 15), None, 30_000),                  # expanded in Oct: +10,000
    ("C", "core", date(2026, 1, 1), date(2026, 10, 15), 50_000),
    ("C", "core", date(2026, 10, 15), None, 35_000),                  # contracted in Oct: -15,000
    ("X", "core", date(2026, 10, 5), date(2026, 10, 25), 20_000),     # joined and left in Oct: early churn
    ("S", "core", date(2026, 1, 1), None, 8_000),                     # steady
    ("F", "free", date(2026, 1, 1), None, 0),                         # never paid
]
# Health snapshots: today and 30 days before, (account, day, score, band)
SNAPSHOTS = [
    ("N", TODAY, 90.0, "green"), ("R", TODAY, 70.0, "yellow"), ("E", TODAY, 82.4, "green"),
    ("C", TODAY, 59.6, "yellow"), ("S", TODAY, 45.0, "red"),
    ("N", BEFORE, 88.0, "green"), ("R", BEFORE, 75.0, "green"), ("E", BEFORE, 94.5, "green"),
    ("C", BEFORE, 64.6, "yellow"), ("S", BEFORE, 60.0, "yellow"),
]


def seed(engine, accounts=ACCOUNTS, subscriptions=SUBSCRIPTIONS, snapshots=SNAPSHOTS):
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": a, "name": n, "segment": seg, "owner": o, "renewal_date": r} for a, n, seg, o, r in accounts])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": f"S{i}", "account_id": a, "product": p, "start_date": s, "end_date": e, "mrr": m}
            for i, (a, p, s, e, m) in enumerate(subscriptions)])
        if snapshots:
            conn.execute(schema.health_snapshots.insert(), [
                {"account_id": a, "day": d, "score": sc, "band": b, "components": {}} for a, d, sc, b in snapshots])


@pytest.fixture
def seeded(engine):
    seed(engine)
    return engine


def _list(engine, settings, lang="en", **query):
    """The answer to ``Query(**query)`` (intent "list" unless given), as dispatch would ask it."""
    query.setdefault("intent", "list")
    ctx = Context.create(Database(engine=engine, url=str(engine.url), embedded=False), settings, now=NOW)
    with engine.connect() as conn:
        return answer(Request(command="list", args="", text="", lang=lang, ctx=ctx, conn=conn, query=Query(**query)))


def _names(reply) -> list[str]:
    return [row[0] for row in reply.table.rows] if reply.table else []


def _csv_rows(reply) -> list[list[str]]:
    content = reply.attachment.content
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the UTF-8 (and the Japanese) right
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


# --------------------------------------------------------------------------- movements


@pytest.mark.parametrize("listing, ids, amounts", [
    ("churn", ["K2", "K"], ["¥30,000", "¥12,000"]),
    ("new", ["N"], ["¥10,000"]),
    ("reactivation", ["R"], ["¥7,000"]),
    ("expansion", ["E"], ["¥10,000"]),
    ("contraction", ["C"], ["¥15,000"]),
])
def test_movement_lists_are_the_hand_computed_accounts_largest_amount_first(seeded, settings, listing, ids, amounts):
    reply = _list(seeded, settings, listing=listing, periods=(OCT,))
    assert reply.data["accounts"] == ids and reply.data["count"] == len(ids)
    assert reply.data["listing"] == listing
    assert [row[2] for row in reply.table.rows] == amounts
    assert reply.table.total_rows == len(ids)
    assert "Oct 1 – Oct 31, 2026" in reply.title and reply.period == "Oct 1 – Oct 31, 2026"
    assert "mrr_movements" in reply.metrics and carries_revenue(reply)
    assert reply.attachment is None  # short lists come whole in the table


def test_churn_list_title_table_and_total(seeded, settings):
    reply = _list(seeded, settings, listing="churn", periods=(OCT,))
    assert reply.title == "2 accounts churned · Oct 1 – Oct 31, 2026"
    assert reply.table.columns == ("Account", "Segment", "MRR lost", "Owner")
    assert reply.table.rows[0] == ("Kite Corp", "enterprise", "¥30,000", "bob@example.com")
    assert "MRR lost, all 2: ¥42,000." in reply.lines
    assert reply.how == ("Churned: paying at the start of the period (00:00 Oct 1, 2026) and not at its end "
                         "(00:00 Nov 1, 2026); the amount is the MRR at the start.",)


def test_early_churn_lists_who_joined_and_left_and_shows_no_revenue(seeded, settings):
    reply = _list(seeded, settings, listing="early_churn", periods=(OCT,))
    assert reply.data["accounts"] == ["X"]
    assert reply.title.startswith("1 account joined and left")
    assert reply.metrics == () and not carries_revenue(reply)


def test_lists_of_accounts_paying_at_the_end_show_their_health_today(seeded, settings):
    reply = _list(seeded, settings, listing="expansion", periods=(OCT,))
    assert reply.table.columns[-1] == "Health"
    assert reply.table.rows[0][-1] == "82 (green)"
    assert "health_score" in reply.metrics


def test_the_default_period_is_last_month(seeded, settings):
    assert _list(seeded, settings, listing="churn").data == _list(seeded, settings, listing="churn", periods=(OCT,)).data


def test_filters_apply_to_movement_lists(seeded, settings):
    assert _list(seeded, settings, listing="churn", periods=(OCT,), filters=Filters(segment="smb")).data["accounts"] == ["K"]
    by_owner = _list(seeded, settings, listing="churn", periods=(OCT,), filters=Filters(owner=("alice",)))
    assert by_owner.data["accounts"] == ["K"]
    assert by_owner.title == "1 account churned · Oct 1 – Oct 31, 2026 · owner:alice"


def test_an_empty_list_names_the_period_and_the_filter(seeded, settings):
    reply = _list(seeded, settings, listing="churn", periods=(SEP,), filters=Filters(segment="enterprise"))
    assert reply.kind == "answer" and reply.table is None and reply.data["count"] == 0
    assert reply.title == "No account churned · Sep 1 – Sep 30, 2026 · segment:enterprise."
    assert "customers yet" not in reply.title.lower()


def test_a_filter_that_matches_no_account_says_so_beside_how_many_there_are(seeded, settings):
    reply = _list(seeded, settings, listing="churn", periods=(OCT,), filters=Filters(segment="entreprise"))
    assert reply.data["count"] == 0
    assert reply.lines == ("No account has segment:entreprise; there are 9 accounts in all. Check the filter's spelling.",)


def test_japanese_list_is_in_japanese(seeded, settings):
    reply = _list(seeded, settings, "ja", listing="churn", periods=(OCT,))
    assert reply.language == "ja"
    assert reply.title == "解約した顧客 2社（2026年10月1日〜10月31日）"
    assert reply.table.columns == ("顧客", "セグメント", "失ったMRR", "担当")
    assert reply.table.rows[0][1] == "エンタープライズ"
    empty = _list(seeded, settings, "ja", listing="churn", periods=(SEP,), filters=Filters(segment="enterprise"))
    assert empty.title == "解約した顧客はいません（2026年9月1日〜9月30日 · セグメント：エンタープライズ）。"


# --------------------------------------------------------------------------- a long list comes as CSV


def test_a_list_longer_than_the_table_attaches_every_row_as_csv_with_a_bom(engine, settings):
    n = TABLE_ROWS + 5
    accounts = [(f"A{i:02d}", f"会社{i:02d}, Ltd" if i % 2 else f"Account {i:02d}", "smb", None, None) for i in range(n)]
    subs = [(f"A{i:02d}", "core", date(2026, 1, 1), date(2026, 10, 2 + i), 1_000 * (i + 1)) for i in range(n)]
    seed(engine, accounts, subs, snapshots=())
    reply = _list(engine, settings, listing="churn", periods=(OCT,))
    assert reply.data["count"] == n and len(reply.table.rows) == TABLE_ROWS and reply.table.total_rows == n
    att = reply.attachment
    assert att is not None and att.filename == "churned-2026-10.csv" and att.mimetype == "text/csv"
    rows = _csv_rows(reply)
    assert rows[0] == ["Account ID", "Account", "Segment", "MRR lost", "Owner"]
    assert len(rows) == n + 1  # the header and every account, not just the table's 20
    assert [r[0] for r in rows[1:]] == reply.data["accounts"]
    assert sum(int(r[3]) for r in rows[1:]) == sum(1_000 * (i + 1) for i in range(n))
    assert rows[1] == ["A24", "Account 24", "smb", "25000", ""]
    assert ["A23", "会社23, Ltd", "smb", "24000", ""] in rows  # a comma in a name stays in its cell
    assert any(f"full list of {n} accounts is attached" in line and att.filename in line for line in reply.lines)
    ja = _list(engine, settings, "ja", listing="churn", periods=(OCT,))
    header = ja.attachment.content.decode("utf-8-sig").splitlines()[0]
    assert header == "顧客ID,顧客,セグメント,失ったMRR,担当"


# --------------------------------------------------------------------------- health bands and drops


def test_at_risk_is_red_then_yellow_lowest_score_first(seeded, settings):
    reply = _list(seeded, settings, listing="band")
    assert reply.data["accounts"] == ["S", "C", "R"]
    assert reply.title == "3 accounts at risk (red, then yellow) · as of Nov 22, 2026"
    assert reply.table.columns == ("Account", "Segment", "Health", "MRR", "Owner")
    assert reply.table.rows[0] == ("Swift", "mid-market", "45 (red)", "¥8,000", "alice@example.com")
    assert reply.table.rows[1][2] == "60 (yellow)"  # 59.6 shown as the bands round it
    assert set(reply.metrics) == {"mrr", "health_score"}


def test_top_n_shows_the_first_rows_of_the_list_and_keeps_its_whole_count(seeded, settings):
    reply = _list(seeded, settings, listing="band", list_top=2)
    assert reply.data["accounts"] == ["S", "C"] and reply.data["count"] == 3 and reply.data["top"] == 2
    assert reply.title == "3 accounts at risk (red, then yellow) · as of Nov 22, 2026"
    assert _names(reply) == ["Swift", "Condor"] and reply.table.total_rows == 2
    assert reply.lines[0] == "Showing the first 2 of 3, in the list's order."
    ja = _list(seeded, settings, "ja", listing="churn", periods=(OCT,), list_top=1)
    assert ja.data["accounts"] == ["K2"] and ja.lines[0] == "全2社のうち上位1社を表示しています。"
    assert _names(ja) == ["Kite Corp"] and ja.table.rows[0][2] == "¥30,000"  # the largest loss of the two
    whole = _list(seeded, settings, listing="band", list_top=10)  # more than there are: the list as it is
    assert whole.data["accounts"] == ["S", "C", "R"] and "top" not in whole.data
    assert not any(line.startswith("Showing") for line in whole.lines)
    bad = _list(seeded, settings, listing="band", list_top=5000)
    assert bad.table is None and "between 1 and 1000" in bad.title + " ".join(bad.lines)


@pytest.mark.parametrize("band, ids", [("red", ["S"]), ("yellow", ["C", "R"]), ("green", ["E", "N"])])
def test_a_band_lists_its_accounts(seeded, settings, band, ids):
    assert _list(seeded, settings, listing="band", list_band=band).data["accounts"] == ids


def test_band_names_are_in_the_askers_language(seeded, settings):
    assert _list(seeded, settings, listing="band", list_band="red").title == "1 account in red · as of Nov 22, 2026"
    ja = _list(seeded, settings, "ja", listing="band", list_band="red")
    assert ja.title == "ヘルスが赤の顧客 1社（2026年11月22日時点）"
    assert ja.table.rows[0][2] == "45（赤）"


def test_a_band_named_in_japanese_or_in_capitals_is_the_same_band(seeded, settings):
    assert _list(seeded, settings, listing="band", list_band="赤").data["accounts"] == ["S"]
    assert _list(seeded, settings, listing="band", list_band="Yellow").data["accounts"] == ["C", "R"]
    unknown = _list(seeded, settings, listing="band", list_band="purple")
    assert unknown.kind == "error" and "health band" in unknown.title


def test_band_list_follows_the_filters(seeded, settings):
    assert _list(seeded, settings, listing="band", filters=Filters(owner=("bob@example.com",))).data["accounts"] == ["R"]


def test_health_drop_lists_who_lost_the_points_in_30_days_largest_drop_first(seeded, settings):
    # S 60 -> 45 (15), E 94.5 -> 82.4 shown 95 -> 82 (13); C 65 -> 60 and R 75 -> 70 lost 5; N rose
    reply = _list(seeded, settings, listing="health_drop")
    assert reply.data["accounts"] == ["S", "E"]
    assert reply.title == "2 accounts' health scores dropped 10 points or more · Oct 23 → Nov 22, 2026"
    assert reply.table.rows[0][2:4] == ("60 → 45 (red)", "-15")
    assert reply.table.rows[1][2:4] == ("95 → 82 (green)", "-13")
    # whole points as shown: E lost 13 shown points (12.1 of the unrounded score)
    assert _list(seeded, settings, listing="health_drop", list_n=13).data["accounts"] == ["S", "E"]
    # 5 points: C and R tie, the lower score first
    assert _list(seeded, settings, listing="health_drop", list_n=5).data["accounts"] == ["S", "E", "C", "R"]
    assert _list(seeded, settings, listing="health_drop", list_n=16).title == (
        "No account's health score dropped 16 points or more · Oct 23 → Nov 22, 2026.")


def test_health_drop_follows_the_filters(seeded, settings):
    assert _list(seeded, settings, listing="health_drop", filters=Filters(segment="enterprise")).data["accounts"] == ["E"]


# --------------------------------------------------------------------------- renewals


def test_renewals_in_the_next_30_days_with_arr_and_health(seeded, settings):
    reply = _list(seeded, settings, listing="renewals")
    # [Nov 22, Dec 22): E today, K Nov 30 (churned: no ARR, no score), S Dec 1, C Dec 21; N on Dec 22 is out
    assert reply.data["accounts"] == ["E", "K", "S", "C"]
    assert reply.title == "4 renewals due · next 30 days: Nov 22 – Dec 21, 2026"
    assert reply.table.columns == ("Account", "Renewal date", "Segment", "ARR", "Health", "Owner")
    assert [row[3] for row in reply.table.rows] == ["¥360,000", "¥0", "¥96,000", "¥420,000"]
    assert [row[4] for row in reply.table.rows] == ["82 (green)", "—", "45 (red)", "60 (yellow)"]
    assert reply.table.rows[0][1] == "Nov 22, 2026"
    assert set(reply.metrics) == {"arr", "health_score"}
    assert "ARR, all 4: ¥876,000." in reply.lines


def test_renewals_window_follows_the_number_of_days_and_the_filters(seeded, settings):
    assert _list(seeded, settings, listing="renewals", list_n=9).data["accounts"] == ["E", "K"]
    assert _list(seeded, settings, listing="renewals", list_n=31).data["accounts"] == ["E", "K", "S", "C", "N"]
    mine = _list(seeded, settings, listing="renewals", filters=Filters(owner=("alice",)))
    assert mine.data["accounts"] == ["K", "S"]


def test_renewals_of_this_month_are_those_of_the_whole_month(seeded, settings):
    this_month = Period(date(2026, 11, 1), TODAY + timedelta(days=1), "month", to_date=True)  # Nov 1 to today
    reply = _list(seeded, settings, listing="renewals", periods=(this_month,))
    assert reply.data["accounts"] == ["E", "K"]  # Nov 22 and Nov 30; S (Dec 1) is next month
    assert reply.title == "2 renewals due · Nov 1 – Nov 30, 2026"


def test_renewals_in_japanese(seeded, settings):
    reply = _list(seeded, settings, "ja", listing="renewals", list_n=9)
    assert reply.title == "更新予定の顧客 2社（今後9日間：2026年11月22日〜11月30日）"
    assert reply.table.rows[0][4] == "82（緑）"


def test_a_number_out_of_range_is_a_short_answer_saying_what_to_do(seeded, settings):
    reply = _list(seeded, settings, listing="renewals", list_n=0)
    assert reply.kind == "error" and "between 1 and" in reply.title


# --------------------------------------------------------------------------- accounts and counts


def test_accounts_of_an_owner_with_segment_mrr_and_health(seeded, settings):
    reply = _list(seeded, settings, listing="accounts", filters=Filters(owner=("alice",)))
    assert reply.data["accounts"] == ["N", "S", "K"]  # largest MRR today first; K churned
    assert reply.title == "3 accounts · as of Nov 22, 2026 · owner:alice"
    assert reply.table.rows == (
        ("Nova", "smb", "¥10,000", "90 (green)", "alice@example.com"),
        ("Swift", "mid-market", "¥8,000", "45 (red)", "alice@example.com"),
        ("Kestrel", "smb", "¥0", "—", "alice@example.com"),
    )


def test_how_many_customers_counts_the_paying_ones_today_and_every_account(seeded, settings):
    reply = _list(seeded, settings, intent="count")
    # paying today: N, R, E, C, S; K, K2 and X left, F never paid
    assert reply.data["count"] == 5 and reply.data["accounts"] == 9
    assert reply.title == "5 paying customers · as of Nov 22, 2026"
    assert "9 accounts in the data, 4 of them not paying (no MRR on that day)." in reply.lines
    assert reply.metrics == () and not carries_revenue(reply)


def test_a_count_for_a_period_is_taken_at_its_end_and_follows_the_filters(seeded, settings):
    sep = _list(seeded, settings, intent="count", periods=(SEP,), filters=Filters(segment="enterprise"))
    assert sep.data["count"] == 2  # K2 and E paid at 00:00 Oct 1
    assert sep.title == "2 paying customers · at the end of Sep 1 – Sep 30, 2026 · segment:enterprise"
    now = _list(seeded, settings, intent="count", filters=Filters(segment="enterprise"))
    assert now.data["count"] == 1 and now.title.startswith("1 paying customer ·")


def test_count_in_japanese(seeded, settings):
    reply = _list(seeded, settings, "ja", intent="count")
    assert reply.title == "有料顧客数 5社（2026年11月22日時点）"


def test_a_count_of_a_listing_answers_with_that_list(seeded, settings):
    reply = _list(seeded, settings, intent="count", listing="band", list_band="red")
    assert reply.data["count"] == 1 and reply.title.startswith("1 account in red")


# --------------------------------------------------------------------------- on the demo company


@pytest.fixture(scope="module")
def demo_settings():
    return Settings(database_url="sqlite:///unused-in-tests.db")


def test_on_the_demo_movement_lists_agree_with_the_churn_answer_and_the_movements(shared_demo, demo_settings):
    engine = shared_demo.engine
    ctx = Context.create(Database(engine=engine, url=str(engine.url), embedded=False), demo_settings, now=NOW)
    churn = dispatch("churn last-month", ctx)
    with engine.connect() as conn:
        moves = movements(Calc(conn, demo_settings, today=TODAY), OCT, NO_FILTERS)
    for listing in ("churn", "early_churn", "new", "reactivation", "expansion", "contraction"):
        reply = _list(engine, demo_settings, listing=listing)
        assert reply.data["count"] == moves.counts[listing], listing
        assert len(set(reply.data["accounts"])) == reply.data["count"]
        if listing != "early_churn" and reply.data["count"] > 1:
            total = next(line for line in reply.lines if ", all " in line)
            assert total.endswith(f": ¥{moves.amounts[listing]:,.0f}."), listing
    assert _list(engine, demo_settings, listing="churn").data["count"] == churn.data["churned_accounts"]
    # a filter: the same agreement for one segment
    smb = Filters(segment="smb")
    with engine.connect() as conn:
        smb_moves = movements(Calc(conn, demo_settings, today=TODAY), OCT, smb)
    assert _list(engine, demo_settings, listing="churn", filters=smb).data["count"] == smb_moves.counts["churn"]


def test_on_the_demo_the_whole_book_comes_as_csv_and_the_count_matches_the_mrr_metric(shared_demo, demo_settings):
    engine = shared_demo.engine
    reply = _list(engine, demo_settings, listing="accounts")
    with engine.connect() as conn:
        total = conn.execute(schema.accounts.select()).fetchall()
    assert reply.data["count"] == len(total) > TABLE_ROWS
    rows = _csv_rows(reply)
    assert len(rows) == len(total) + 1
    assert sorted(r[0] for r in rows[1:]) == sorted(a.account_id for a in total)
    assert reply.attachment.filename == "accounts-2026-11-22.csv"
    from metrics.compute import compute_metric
    count = _list(engine, demo_settings, intent="count", periods=(OCT,))
    mrr = compute_metric(engine, "mrr", OCT, NO_FILTERS, demo_settings)
    assert count.data["count"] == mrr.current.parts["paying_customers"]
    ja = _list(engine, demo_settings, "ja", listing="band")
    assert ja.title.startswith("リスクの高い顧客") and ja.data["count"] > 0
