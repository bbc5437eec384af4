"""The promises of a sync (docs/data-contract.md), checked on random exports: any accounts and
subscriptions export, as CSV or Excel, with any mix of bad rows (an unknown account, a negative
MRR, an end before the start, an unreadable date, a duplicate key, a missing name, a trailing
comma), loaded over a database that already holds rows.

- every good row is stored exactly as given, every bad row is in ``rejected_rows`` with its file,
  line and reason, and nothing else changes;
- a second identical sync changes nothing;
- a full refresh with rejected rows deletes nothing it could not see.

Runs on SQLite, or on CSBOT_TEST_DATABASE_URL through the ``engine`` fixture; every example
starts from emptied tables.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import delete, insert, select

from metrics import schema
from metrics.sync import CsvSource, run_sync

EXAMPLES = 35
PROPERTY = hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ACCOUNT_HEADER = ("account_id", "name", "seats", "renewal_date")
SUB_HEADER = ("subscription_id", "account_id", "product", "start_date", "end_date", "mrr")
ACCOUNT_IDS = ("A1", "A2", "A3", "A4", "A5")
SUB_IDS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7")
NAMES = ("Acme", "Beta Co", "株式会社デルタ", "O'Neil, Inc.")
PRODUCTS = ("core", "addon")
BAD_DATES = ("2025-13-01", "2025-02-30", "next monday", "01/02/2025")

# Each kind of bad row: the column the rejection names and a part of its reason.
REJECTED = {
    "dup": (None, "duplicate key"),  # column: the table's key column
    "wide": (None, "values but the header has"),
    "noname": ("name", "required value is empty"),
    "unknown": ("account_id", "unknown account"),
    "negative": ("mrr", "negative amount"),
    "ends_early": ("end_date", "is before start_date"),
    "bad_date": ("start_date", "unparseable date"),
}
KEY_COLUMN = {"accounts": "account_id", "subscriptions": "subscription_id"}


@dataclass(frozen=True)
class Line:
    """One data row of an export: its kind ("good" or a key of REJECTED), its key, the cells as
    written (dates as dates, MRR as a number) and, for a good row, the row the database must hold."""

    kind: str
    key: str
    cells: tuple
    stored: tuple | None = None


@dataclass(frozen=True)
class Scenario:
    base_accounts: tuple[tuple, ...]  # rows the database holds before the sync (as stored)
    base_subs: tuple[tuple, ...]
    accounts: tuple[Line, ...]  # the export
    subs: tuple[Line, ...]
    formats: tuple[str, str]  # "csv" or "xlsx", for accounts and subscriptions


days = st.dates(date(2024, 1, 1), date(2026, 12, 31))
maybe_day = st.none() | days
seats = st.none() | st.integers(0, 500)
cents = st.integers(0, 10**8)  # MRR up to 1,000,000.00


@st.composite
def scenarios(draw) -> Scenario:
    base_ids = sorted(draw(st.lists(st.sampled_from(ACCOUNT_IDS), unique=True, max_size=4)))
    base_accounts = tuple((a, draw(st.sampled_from(NAMES)), draw(seats), draw(maybe_day)) for a in base_ids)
    base_subs = []
    if base_ids:
        for s in sorted(draw(st.lists(st.sampled_from(SUB_IDS), unique=True, max_size=4))):
            start = draw(days)
            end = draw(st.none() | st.integers(0, 700).map(lambda n: start + timedelta(days=n)))
            base_subs.append((s, draw(st.sampled_from(base_ids)), draw(st.sampled_from(PRODUCTS)), start, end, draw(cents) / 100))

    accounts: list[Line] = []
    used: set[str] = set()
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(("good", "good", "good", "dup", "wide", "noname")))
        goods = [line.key for line in accounts if line.kind == "good"]
        if kind == "dup" and not goods:
            kind = "good"
        if kind == "dup":
            key = draw(st.sampled_from(goods))
        else:
            free = [a for a in ACCOUNT_IDS if a not in used]
            if not free:
                break
            key = draw(st.sampled_from(free))
            used.add(key)
        cells = (key, None if kind == "noname" else draw(st.sampled_from(NAMES)), draw(seats), draw(maybe_day))
        accounts.append(Line(kind, key, cells, cells if kind == "good" else None))

    known = [line.key for line in accounts if line.kind == "good"]
    subs: list[Line] = []
    used = set()
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(("good", "good", "good", "dup", "wide", "unknown", "negative", "ends_early", "bad_date")))
        goods = [line.key for line in subs if line.kind == "good"]
        if not known and kind not in ("unknown", "wide"):
            kind = "unknown"  # a good row needs an account of this export
        if kind == "dup" and not goods:
            kind = "good"
        if kind == "dup":
            key = draw(st.sampled_from(goods))
        else:
            free = [s for s in SUB_IDS if s not in used]
            if not free:
                break
            key = draw(st.sampled_from(free))
            used.add(key)
        account = f"ZZ{draw(st.integers(1, 9))}" if kind == "unknown" else draw(st.sampled_from(known)) if known else "ZZ0"
        start = draw(days)
        end = draw(st.none() | st.integers(0, 700).map(lambda n: start + timedelta(days=n)))
        mrr = draw(cents) / 100
        if kind == "negative":
            mrr = -(draw(cents) + 1) / 100
        if kind == "ends_early":
            end = start - timedelta(days=draw(st.integers(1, 400)))
        shown_start = draw(st.sampled_from(BAD_DATES)) if kind == "bad_date" else start
        cells = (key, account, draw(st.sampled_from(PRODUCTS)), shown_start, end, mrr)
        subs.append(Line(kind, key, cells, cells if kind == "good" else None))

    formats = (draw(st.sampled_from(("csv", "xlsx"))), draw(st.sampled_from(("csv", "xlsx"))))
    return Scenario(base_accounts, tuple(base_subs), tuple(accounts), tuple(subs), formats)


# An export whose every row is rejected, over a database that holds those very rows: the case of
# issue 13 (a trailing comma on every line), which a full refresh must not read as "all gone".
ALL_REJECTED = Scenario(
    base_accounts=(("A1", "Acme", 10, None), ("A2", "Beta Co", None, date(2026, 3, 31))),
    base_subs=(("S1", "A1", "core", date(2025, 1, 1), None, 1000.0), ("S2", "A2", "core", date(2025, 2, 1), None, 20.5)),
    accounts=(Line("wide", "A1", ("A1", "Acme", 10, None)), Line("wide", "A2", ("A2", "Beta Co", None, date(2026, 3, 31)))),
    subs=(Line("wide", "S1", ("S1", "A1", "core", date(2025, 1, 1), None, 1000.0)),
          Line("wide", "S2", ("S2", "A2", "core", date(2025, 2, 1), None, 20.5))),
    formats=("csv", "csv"),
)


# --------------------------------------------------------------------------- writing and reading


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_export(folder: Path, table: str, header: tuple, lines: tuple[Line, ...], fmt: str) -> None:
    """The file as a person's tool would write it: a trailing comma (CSV) or a stray cell (Excel)
    makes a "wide" row."""
    if fmt == "csv":
        with open(folder / f"{table}.csv", "w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(header)
            for line in lines:
                out.writerow([_text(v) for v in line.cells] + ([""] if line.kind == "wide" else []))
        return
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for line in lines:
        sheet.append(list(line.cells) + (["x"] if line.kind == "wide" else []))
    book.save(folder / f"{table}.xlsx")


def file_name(table: str, fmt: str) -> str:
    return f"{table}.{fmt}"


def reset(engine, scenario: Scenario) -> None:
    """Every table emptied, then the scenario's rows stored (as an earlier sync left them)."""
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(delete(table))
        if scenario.base_accounts:
            conn.execute(insert(schema.accounts), [dict(zip(ACCOUNT_HEADER, row)) for row in scenario.base_accounts])
        if scenario.base_subs:
            conn.execute(insert(schema.subscriptions), [dict(zip(SUB_HEADER, row)) for row in scenario.base_subs])


def stored(engine, table, header) -> dict:
    with engine.connect() as conn:
        return {row[0]: tuple(row) for row in conn.execute(select(*[table.c[c] for c in header]))}


def data_tables(engine) -> dict:
    """What a sync may change, except its own log: every data table and the derived ones."""
    out = {}
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name in ("sync_lock", "sync_log", "rejected_rows"):
                continue
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return out


def rejections(engine, sync_id: int) -> list[tuple]:
    r = schema.rejected_rows
    with engine.connect() as conn:
        return sorted(
            tuple(row) for row in conn.execute(
                select(r.c.table_name, r.c.file, r.c.line, r.c.column_name, r.c.reason, r.c.raw).where(r.c.sync_id == sync_id)
            )
        )


def sync(engine, scenario: Scenario, settings, **kwargs):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_export(folder, "accounts", ACCOUNT_HEADER, scenario.accounts, scenario.formats[0])
        write_export(folder, "subscriptions", SUB_HEADER, scenario.subs, scenario.formats[1])
        return run_sync(engine, CsvSource(folder), settings=settings, **kwargs)


def exports(scenario: Scenario):
    return (("accounts", scenario.accounts, scenario.formats[0]), ("subscriptions", scenario.subs, scenario.formats[1]))


def check_rejections(engine, scenario: Scenario, sync_id: int) -> None:
    """Every bad row, and nothing else, is in rejected_rows: its file, line, column and reason."""
    expected, found, kinds = [], [], {}
    for table, lines, fmt in exports(scenario):
        for number, line in enumerate(lines, start=2):  # line 1 is the header
            kinds[table, number] = line.kind
            if line.kind != "good":
                column, _ = REJECTED[line.kind]
                expected.append((table, file_name(table, fmt), number, KEY_COLUMN[table] if line.kind == "dup" else column))
    for table, file, number, column, reason, _raw in rejections(engine, sync_id):
        found.append((table, file, number, column))
        assert REJECTED[kinds[table, number]][1] in reason, (table, number, reason)
    assert sorted(found) == sorted(expected)


def expected_after(scenario: Scenario) -> tuple[dict, dict]:
    """Accounts and subscriptions as a sync of the export over the base must leave them."""
    accounts = {row[0]: row for row in scenario.base_accounts}
    accounts.update({line.key: line.stored for line in scenario.accounts if line.kind == "good"})
    subs = {row[0]: row for row in scenario.base_subs}
    subs.update({line.key: line.stored for line in scenario.subs if line.kind == "good"})
    return accounts, subs


# --------------------------------------------------------------------------- the promises


@PROPERTY
@given(scenario=scenarios())
@example(scenario=ALL_REJECTED)
def test_every_good_row_is_stored_as_given_every_bad_row_is_rejected_and_nothing_else_changes(engine, settings, scenario):
    reset(engine, scenario)

    summary = sync(engine, scenario, settings)

    assert summary.status == "ok", summary.message
    accounts, subs = expected_after(scenario)
    assert stored(engine, schema.accounts, ACCOUNT_HEADER) == accounts
    assert stored(engine, schema.subscriptions, SUB_HEADER) == subs
    check_rejections(engine, scenario, summary.sync_id)
    bases = {"accounts": {r[0]: r for r in scenario.base_accounts}, "subscriptions": {r[0]: r for r in scenario.base_subs}}
    for table, lines, _ in exports(scenario):
        good = [line for line in lines if line.kind == "good"]
        new = [line for line in good if line.key not in bases[table]]
        changed = [line for line in good if line.key in bases[table] and bases[table][line.key] != line.stored]
        t = summary.table(table)
        assert (t.read, t.inserted, t.updated, t.unchanged, t.rejected, t.deleted) == (
            len(lines), len(new), len(changed), len(good) - len(new) - len(changed), len(lines) - len(good), 0)
    others = {name: rows for name, rows in data_tables(engine).items() if name not in ("accounts", "subscriptions")}
    assert others == {name: [] for name in others}
    assert summary.rejected == sum(1 for _, lines, _ in exports(scenario) for line in lines if line.kind != "good")


@PROPERTY
@given(scenario=scenarios())
@example(scenario=ALL_REJECTED)
def test_a_second_identical_sync_changes_nothing_and_rejects_the_same_rows(engine, settings, scenario):
    reset(engine, scenario)
    first = sync(engine, scenario, settings)
    assert first.status == "ok", first.message
    before = data_tables(engine)

    second = sync(engine, scenario, settings)

    assert second.status == "ok", second.message
    assert [(t.table, t.inserted, t.updated, t.deleted) for t in second.tables] == [
        ("accounts", 0, 0, 0), ("subscriptions", 0, 0, 0)]
    assert [(t.unchanged, t.rejected) for t in second.tables] == [
        (sum(line.kind == "good" for line in lines), sum(line.kind != "good" for line in lines)) for _, lines, _ in exports(scenario)]
    assert second.rows_changed == 0 and second.rejected == first.rejected
    assert rejections(engine, second.sync_id) == rejections(engine, first.sync_id)
    assert data_tables(engine) == before


@PROPERTY
@given(scenario=scenarios())
@example(scenario=ALL_REJECTED)
def test_a_full_refresh_with_rejected_rows_deletes_nothing_it_could_not_see(engine, settings, scenario):
    reset(engine, scenario)
    before = data_tables(engine)

    summary = sync(engine, scenario, settings, full_refresh=True)

    if summary.status != "ok":  # a refresh refused as a whole leaves everything as it was
        assert summary.message
        assert data_tables(engine) == before
        return
    accounts = stored(engine, schema.accounts, ACCOUNT_HEADER)
    subs = stored(engine, schema.subscriptions, SUB_HEADER)
    seen_accounts = {line.key for line in scenario.accounts}  # good or rejected: the export holds it
    seen_subs = {line.key for line in scenario.subs}
    for row in scenario.base_accounts:
        assert row[0] in accounts or row[0] not in seen_accounts, f"account {row[0]} deleted, yet the export holds it"
    for row in scenario.base_subs:
        if row[1] in accounts:  # (a subscription may go with an account the export does not hold)
            assert row[0] in subs or row[0] not in seen_subs, f"subscription {row[0]} deleted, yet the export holds it"
    for line in scenario.accounts:
        if line.kind == "good":
            assert accounts[line.key] == line.stored
    for line in scenario.subs:
        if line.kind == "good":
            assert subs[line.key] == line.stored
    gone = {row[0] for row in scenario.base_accounts} - set(accounts)
    assert summary.table("accounts").deleted == len(gone)
    check_rejections(engine, scenario, summary.sync_id)
