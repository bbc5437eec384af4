"""Excel exports (.xlsx) load under the same contract as CSV: the same rows stored, the same
rejected rows (with the row number Excel shows), the same summary. The workbooks are built
here with openpyxl, as Excel would save them; no binary fixture is committed."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import delete, select
from sync_helpers import rejected, rows, write

from bot.cli import build_parser
from metrics import schema
from metrics.settings import Settings
from metrics.sync import CsvSource, run_sync

SUBS_HEADER = ["subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "quantity"]


def xlsx(path: Path, rows: list[list], *, sheets: dict[str, list[list]] | None = None, formats: dict[str, str] | None = None,
         first: str = "Sheet1") -> Path:
    """A workbook whose first sheet (``first``) holds ``rows``; ``sheets`` adds more sheets after it;
    ``formats`` sets a cell's number format, e.g. {"C3": "yyyy/m/d"}. Python dates and datetimes
    become Excel date cells (formats yyyy-mm-dd and yyyy-mm-dd h:mm:ss), "#N/A" an error cell."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.title = first
    for row in rows:
        sheet.append(row)
    for ref, fmt in (formats or {}).items():
        sheet[ref].number_format = fmt
    for title, more in (sheets or {}).items():
        extra = book.create_sheet(title)
        for row in more:
            extra.append(row)
    book.save(path)
    return path


def as_float_cells(path: Path, *numbers: str) -> None:
    """Rewrite stored numbers as another writer would store them (``30000`` as ``30000.0``), so that
    openpyxl reads them back as floats."""
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for number in numbers:
        assert f"<v>{number}</v>" in sheet
        sheet = sheet.replace(f"<v>{number}</v>", f"<v>{number}.0</v>")
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def sync(engine, folder: Path, settings, **kwargs):
    summary = run_sync(engine, CsvSource(folder), settings=settings, **kwargs)
    assert summary.status == "ok", summary.message
    return summary


def counts(summary) -> dict:
    return {t.table: (t.read, t.inserted, t.updated, t.unchanged, t.rejected) for t in summary.tables}


def typed_export(folder: Path) -> None:
    """Accounts and subscriptions typed as people type them in Excel: numeric IDs, numbers, date cells."""
    xlsx(folder / "accounts.xlsx", [
        ["account_id", "name", "seats", "renewal_date", "created_at", "crm_tier"],
        [1001, "Acme", 50, date(2027, 3, 31), datetime(2024, 4, 1, 9, 0), "gold"],
        ["A2", " Beta ", 5, datetime(2026, 12, 31), None, None],  # a date shown as yyyy/m/d (below)
    ], formats={"D3": "yyyy/m/d"})
    as_float_cells(folder / "accounts.xlsx", "5")  # seats 5 stored as 5.0
    xlsx(folder / "subscriptions.xlsx", [
        SUBS_HEADER,
        ["S1", 1001, "core", date(2025, 1, 1), None, 30000, 50],
        ["S2", "A2", "core", date(2025, 2, 1), date(2026, 2, 1), 29.99, 5],
        [1003, 1001, "addon", date(2025, 3, 1), None, 0, None],
    ])
    as_float_cells(folder / "subscriptions.xlsx", "1001", "30000")  # account 1001 and MRR 30000 as floats


def test_typed_excel_cells_are_stored_exactly_as_their_csv_export(engine, settings, tmp_path):
    typed_export(tmp_path / "xlsx")

    summary = sync(engine, tmp_path / "xlsx", settings)

    assert counts(summary) == {"accounts": (2, 2, 0, 0, 0), "subscriptions": (3, 3, 0, 0, 0)}
    a = schema.accounts
    assert rows(engine, a, "account_id", "name", "seats", "renewal_date", "created_at", "attributes") == [
        ("1001", "Acme", 50, date(2027, 3, 31), datetime(2024, 4, 1, 9, 0), {"crm_tier": "gold"}),  # no zone: workspace time
        ("A2", "Beta", 5, date(2026, 12, 31), None, None),
    ]
    s = schema.subscriptions
    assert rows(engine, s, "subscription_id", "account_id", "mrr", "start_date", "end_date", "quantity") == [
        ("1003", "1001", 0.0, date(2025, 3, 1), None, None),
        ("S1", "1001", 30000.0, date(2025, 1, 1), None, 50),
        ("S2", "A2", 29.99, date(2025, 2, 1), date(2026, 2, 1), 5),
    ]

    # The CSV export of the same sheets, loaded into the same database, changes nothing.
    csv = tmp_path / "csv"
    write(csv, "accounts.csv", """
        account_id,name,seats,renewal_date,created_at,crm_tier
        1001,Acme,50,2027-03-31,2024-04-01T09:00:00,gold
        A2, Beta ,5,2026-12-31,,
        """)
    write(csv, "subscriptions.csv", """
        subscription_id,account_id,product,start_date,end_date,mrr,quantity
        S1,1001,core,2025-01-01,,30000,50
        S2,A2,core,2025-02-01,2026-02-01,29.99,5
        1003,1001,addon,2025-03-01,,0,
        """)
    again = sync(engine, csv, settings)
    assert counts(again) == {"accounts": (2, 0, 0, 2, 0), "subscriptions": (3, 0, 0, 3, 0)}


def test_second_identical_excel_sync_changes_nothing(engine, settings, tmp_path):
    typed_export(tmp_path / "x")
    sync(engine, tmp_path / "x", settings)

    again = sync(engine, tmp_path / "x", settings)

    assert counts(again) == {"accounts": (2, 0, 0, 2, 0), "subscriptions": (3, 0, 0, 3, 0)}
    assert again.rows_changed == 0


BAD_SUBSCRIPTIONS = [
    SUBS_HEADER,                                                                   # row 1
    ["S1", "A1", "core", date(2025, 1, 1), None, 100, 1],                          # 2: good
    ["S2", "ZZ", "core", date(2025, 1, 1), None, 100, 1],                          # 3: unknown account
    [],                                                                            # 4: blank, skipped
    ["S3", "A1", "core", datetime(2025, 1, 5, 10, 30), None, 100, 1],              # 5: a time in a date column
    ["S4", "A1", "core", date(2025, 1, 1), None, -5, 1],                           # 6: negative MRR
    ["S5", "A1", "core", date(2025, 3, 1), date(2025, 2, 1), 100, 1],              # 7: ends before it starts
    ["S6", "A1", "core", date(2025, 1, 1), None, "#N/A", 1],                       # 8: a formula error
    ["S1", "A1", "core", date(2025, 5, 1), None, 200, 1],                          # 9: duplicate key
    ["S7", "A1", "core", "2025-13-01", None, 100, 1],                              # 10: date typed as bad text
    ["S8", "A1", None, date(2025, 1, 1), None, 100, 1],                            # 11: product empty
    ["S9", "A1", "core, premium", date(2025, 2, 1), None, 300.5],                  # 12: good, last cell empty
]

CSV_REASONS = {  # (line, column): the reason a CSV export of the same rows gets
    (3, "account_id"): "unknown account 'ZZ' (not in accounts)",
    (5, "start_date"): "unparseable date '2025-01-05T10:30:00'; expected YYYY-MM-DD",
    (6, "mrr"): "negative amount '-5'",
    (7, "end_date"): "end_date 2025-02-01 is before start_date 2025-03-01",
    (9, "subscription_id"): "duplicate key 'S1' in this file (first on line 2)",
    (10, "start_date"): "unparseable date '2025-13-01'; expected YYYY-MM-DD",
    (11, "product"): "required value is empty",
}


def csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return f'"{value}"' if "," in str(value) else str(value)


def test_bad_excel_rows_are_rejected_on_the_row_excel_shows_with_the_csv_reasons(engine, settings, tmp_path):
    folder = tmp_path / "bad"
    xlsx(folder / "accounts.xlsx", [["account_id", "name"], ["A1", "Acme"], ["A2", "#N/A"]])
    xlsx(folder / "subscriptions.xlsx", BAD_SUBSCRIPTIONS)

    summary = sync(engine, folder, settings)

    assert counts(summary) == {"accounts": (2, 1, 0, 0, 1), "subscriptions": (10, 2, 0, 0, 8)}
    assert summary.rejected == 9
    assert rows(engine, schema.subscriptions, "subscription_id", "product", "mrr") == [
        ("S1", "core", 100.0),
        ("S9", "core, premium", 300.5),
    ]
    error = "the cell holds the formula error #N/A; fix the formula or clear the cell"
    assert rejected(engine) == sorted(
        [("accounts.xlsx", 3, "name", error), ("subscriptions.xlsx", 8, "mrr", error)]
        + [("subscriptions.xlsx", line, column, reason) for (line, column), reason in CSV_REASONS.items()]
    )
    with engine.connect() as conn:
        raw = conn.execute(select(schema.rejected_rows.c.raw).where(schema.rejected_rows.c.line == 8)).scalar()
    assert raw == "S6,A1,core,2025-01-01,,#N/A,1"

    # The same rows as CSV text (the formula error row left out) get the same lines and reasons.
    with engine.begin() as conn:
        for table in (schema.rejected_rows, schema.subscriptions, schema.accounts):
            conn.execute(delete(table))
    csv = tmp_path / "csv"
    write(csv, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(csv, "subscriptions.csv", "\n".join(
        "" if not row else ",".join(csv_text(v) for v in row + [None] * (len(SUBS_HEADER) - len(row)))
        for row in BAD_SUBSCRIPTIONS[:7] + [["S6", "A1", "core", "2025-01-01", None, 100, 1]] + BAD_SUBSCRIPTIONS[8:]
    ) + "\n")
    sync(engine, csv, settings)
    assert rejected(engine) == sorted(("subscriptions.csv", line, column, reason) for (line, column), reason in CSV_REASONS.items())


def test_the_sheet_named_like_the_table_is_read_else_the_first_sheet(engine, settings, tmp_path):
    folder = tmp_path / "x"
    xlsx(folder / "accounts.xlsx", [["account_id", "name"], ["A1", "Acme"], ["A2", "Beta"]],
         sheets={"Notes": [["exported by hand"]]})
    xlsx(folder / "subscriptions.xlsx", [["read me first"]], first="Notes", sheets={
        "Subscriptions": [SUBS_HEADER, ["S1", "A1", "core", date(2025, 1, 1), None, 100, 1],
                          ["S2", "A3", "core", date(2025, 1, 1), None, 100, 1]],
    })

    summary = sync(engine, folder, settings)

    assert counts(summary) == {"accounts": (2, 2, 0, 0, 0), "subscriptions": (2, 1, 0, 0, 1)}
    assert summary.table("subscriptions").file == "subscriptions.xlsx (sheet Subscriptions)"
    assert rejected(engine) == [
        ("subscriptions.xlsx (sheet Subscriptions)", 3, "account_id", "unknown account 'A3' (not in accounts)"),
    ]


def test_blank_rows_above_the_header_and_empty_cells_are_skipped_and_empty(engine, settings, tmp_path):
    folder = tmp_path / "x"
    xlsx(folder / "accounts.xlsx", [[], [], ["account_id", "name", "plan", "seats"], ["A1", "Acme", None, None],
                                    ["A2", None, "pro", 3]])

    summary = sync(engine, folder, settings)

    assert counts(summary) == {"accounts": (2, 1, 0, 0, 1)}
    assert rows(engine, schema.accounts, "account_id", "plan", "seats") == [("A1", None, None)]
    assert rejected(engine) == [("accounts.xlsx", 5, "name", "required value is empty")]


def test_events_in_excel_are_rolled_up_like_csv_events(engine, settings, tmp_path):
    folder = tmp_path / "x"
    xlsx(folder / "accounts.xlsx", [["account_id", "name"], [1001, "Acme"]])
    xlsx(folder / "events.xlsx", [
        ["event_id", "account_id", "user_id", "occurred_at", "duration_seconds"],
        ["e1", 1001, "u1", datetime(2026, 11, 21, 8, 30), 60],
        ["e2", 1001.0, "u1", datetime(2026, 11, 21, 23, 59, 59), 30.5],
        ["e3", 1001, 7, date(2026, 11, 22), None],  # a date cell: midnight, as "2026-11-22" would be
        ["e4", 1001, "#N/A", datetime(2026, 11, 22, 9, 0), 1],
    ])

    summary = sync(engine, folder, settings)

    assert counts(summary)["events"] == (4, 3, 0, 0, 1)
    assert rows(engine, schema.usage_daily, "account_id", "user_id", "day", "events", "seconds") == [
        ("1001", "7", date(2026, 11, 22), 1, 0.0),
        ("1001", "u1", date(2026, 11, 21), 2, 90.5),
    ]
    assert rejected(engine) == [
        ("events.xlsx", 5, "user_id", "the cell holds the formula error #N/A; fix the formula or clear the cell"),
    ]


def test_a_folder_may_mix_csv_and_excel_but_two_files_for_one_table_are_refused(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    xlsx(folder / "subscriptions.xlsx", [SUBS_HEADER, ["S1", "A1", "core", date(2025, 1, 1), None, 100, 1]])
    assert counts(sync(engine, folder, settings)) == {"accounts": (1, 1, 0, 0, 0), "subscriptions": (1, 1, 0, 0, 0)}

    xlsx(folder / "accounts.xlsx", [["account_id", "name"], ["A2", "Beta"]])
    summary = run_sync(engine, CsvSource(folder), settings=settings)

    assert summary.status == "failed"
    assert summary.message == f"{folder}: both accounts.csv and accounts.xlsx; keep one of them"
    assert rows(engine, schema.accounts, "account_id") == [("A1",)]


def test_a_file_that_is_not_a_workbook_or_an_old_xls_gets_a_one_line_answer(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.xlsx", "account_id,name\nA1,Acme\n")  # a CSV renamed to .xlsx
    summary = run_sync(engine, CsvSource(folder), settings=settings)
    assert summary.status == "failed"
    assert summary.message == (
        "accounts.xlsx: not an Excel workbook that can be read; "
        "save it from Excel as an Excel Workbook (.xlsx) without a password, or as CSV UTF-8"
    )

    (folder / "accounts.xlsx").unlink()
    (folder / "accounts.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    summary = run_sync(engine, CsvSource(folder), settings=settings)
    assert summary.status == "failed"
    assert summary.message == (
        f"{folder / 'accounts.xls'}: the old Excel format (.xls) is not read; "
        "save it as an Excel Workbook (.xlsx) or as CSV UTF-8"
    )
    assert rows(engine, schema.accounts, "account_id") == []


def test_csbot_sync_prints_the_same_summary_for_an_excel_folder(engine, tmp_path, capsys):
    folder = tmp_path / "x"
    xlsx(folder / "accounts.xlsx", [["account_id", "name"], ["A1", "Acme"], ["A2", "#N/A"]])
    settings = Settings(data_dir=tmp_path / "data", database_url=engine.url.render_as_string(hide_password=False))
    args = build_parser().parse_args(["sync", "--csv", str(folder)])

    assert args.run(args, settings) == 0

    out = capsys.readouterr().out
    line = next(line.split() for line in out.splitlines() if line.startswith("accounts"))
    assert line[1:6] == ["2", "1", "0", "0", "1"]  # read inserted updated unchanged rejected


def test_a_formula_error_in_a_custom_account_column_is_not_kept_as_a_value(engine, settings, tmp_path):
    folder = tmp_path / "custom"
    xlsx(folder / "accounts.xlsx", [["account_id", "name", "crm_tier"], ["A1", "Acme", "#N/A"], ["A2", "Beta", "gold"]])

    summary = sync(engine, folder, settings)

    assert counts(summary) == {"accounts": (2, 2, 0, 0, 0)}
    assert rows(engine, schema.accounts, "account_id", "attributes") == [("A1", None), ("A2", {"crm_tier": "gold"})]
