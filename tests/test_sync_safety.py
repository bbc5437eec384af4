"""A sync that cannot lose data: a full refresh deletes only what it saw was gone (and says so,
cascades included), refuses a removal too large to be an honest export; headers are checked;
a bad row never costs a good one; one oversized or NUL field costs only its row."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sync_helpers import rejected, rows, write

from bot.cli import build_parser
from bot.jobs.context import JobContext
from bot.jobs.sync_job import run_sync_job
from metrics import schema
from metrics.settings import Settings, load_settings
from metrics.sync import CsvSource, run_sync, scheduled_sync

BASIC = Path(__file__).parent / "fixtures" / "sync" / "basic"
NOT_FILES = ("events.csv", "nps.csv", "csat.csv", "onboarding.csv", "tickets.csv")


def dump(engine):
    """Every table that holds the team's data (not the run log, the lock or the rejected rows)."""
    out = {}
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name in ("sync_lock", "sync_log", "rejected_rows", "scheduler_runs"):
                continue
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return out


def loaded(engine, settings, tmp_path) -> Path:
    """The basic export (3 accounts, 3 subscriptions, 3 usage rows ...) synced once; its folder, to edit."""
    folder = tmp_path / "export"
    for f in BASIC.iterdir():
        write(folder, f.name, f.read_text(encoding="utf-8"))
    first = run_sync(engine, CsvSource(folder), settings=settings)
    assert first.status == "ok", first.message
    return folder


def cli(argv: list[str], settings: Settings) -> int:
    try:
        args = build_parser().parse_args(["sync", *argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return args.run(args, settings)


@pytest.fixture
def db_settings(engine, tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=engine.url.render_as_string(hide_password=False))


# --------------------------------------------------------------------------- full refresh


def test_full_refresh_with_a_header_only_accounts_file_is_refused_and_changes_nothing(engine, settings, tmp_path):
    folder = loaded(engine, settings, tmp_path)
    write(folder, "accounts.csv", "account_id,name\n")
    before = dump(engine)

    summary = run_sync(engine, CsvSource(folder), settings=settings, full_refresh=True)

    assert summary.status == "failed"
    assert "accounts.csv" in summary.message and "would remove 3 of the 3 rows of accounts" in summary.message
    assert "CSBOT_SYNC_MAX_DELETE_SHARE" in summary.message and "--force" in summary.message
    assert "\n" not in summary.message
    assert dump(engine) == before
    with engine.connect() as conn:
        last = conn.execute(select(schema.sync_log.c.status).order_by(schema.sync_log.c.sync_id.desc())).first()
    assert last == ("failed",)


def test_full_refresh_never_deletes_rows_it_read_but_rejected_even_when_forced(engine, settings, tmp_path):
    folder = loaded(engine, settings, tmp_path)
    # a trailing comma on every row: each one rejected, each one's key read
    write(folder, "accounts.csv", "account_id,name\nA1,Acme,\nA2,Beta,\nA3,Gamma,\n")
    # S1 good, S2 with a negative MRR, S3 with an unknown column count: both rejected, both seen
    write(folder, "subscriptions.csv", "subscription_id,account_id,product,start_date,mrr\n"
                                       "S1,A1,core,2025-01-01,100000\nS2,A2,core,2025-02-01,-5\nS3,A3\n")
    for name in NOT_FILES:
        (folder / name).unlink()

    summary = run_sync(engine, CsvSource(folder), settings=settings, full_refresh=True, force=True)

    assert summary.status == "ok", summary.message
    accounts, subs = summary.table("accounts"), summary.table("subscriptions")
    assert (accounts.rejected, accounts.deleted, accounts.cascaded) == (3, 0, ())
    assert (subs.rejected, subs.deleted) == (2, 0)
    assert rows(engine, schema.accounts, "account_id") == [("A1",), ("A2",), ("A3",)]
    assert rows(engine, schema.subscriptions, "subscription_id") == [("S1",), ("S2",), ("S3",)]
    assert len(rows(engine, schema.usage_daily)) == 3


def test_full_refresh_beyond_the_allowed_share_is_refused_and_the_allowed_one_reports_what_went(engine, settings,
                                                                                                tmp_path):
    folder = loaded(engine, settings, tmp_path)
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\nA2,Beta\n")  # A3 gone: 1 of 3
    for name in NOT_FILES:
        (folder / name).unlink()
    before = dump(engine)

    refused = run_sync(engine, CsvSource(folder), settings=settings, full_refresh=True)
    assert refused.status == "failed"
    assert "would remove 1 of the 3 rows of accounts (33%; at most 20% without --force" in refused.message
    assert dump(engine) == before

    wider = replace(settings, sync_max_delete_share=0.5)
    summary = run_sync(engine, CsvSource(folder), settings=wider, full_refresh=True)

    assert summary.status == "ok", summary.message
    accounts = summary.table("accounts")
    subs = summary.table("subscriptions")
    # A3 had subscription S3 and two onboarding milestones, nothing else
    assert (accounts.deleted, accounts.cascaded) == (1, (("subscriptions", 1), ("onboarding", 2)))
    assert (subs.read, subs.unchanged, subs.deleted) == (3, 2, 0)
    assert summary.rows_changed == 4
    assert rows(engine, schema.accounts, "account_id") == [("A1",), ("A2",)]
    assert rows(engine, schema.onboarding) == []
    assert len(rows(engine, schema.tickets)) == 2  # no tickets file in this run: not refreshed
    with engine.connect() as conn:
        details = conn.execute(select(schema.sync_log.c.details).where(
            schema.sync_log.c.sync_id == summary.sync_id)).scalar_one()
    assert details["accounts"]["deleted"] == 1
    assert details["accounts"]["cascaded"] == {"subscriptions": 1, "onboarding": 2}


def test_setting_for_the_share_is_a_fraction_with_a_default_of_a_fifth():
    assert load_settings({}).sync_max_delete_share == 0.2
    assert load_settings({"CSBOT_SYNC_MAX_DELETE_SHARE": "0.5"}).sync_max_delete_share == 0.5
    with pytest.raises(ValueError, match="CSBOT_SYNC_MAX_DELETE_SHARE"):
        load_settings({"CSBOT_SYNC_MAX_DELETE_SHARE": "20%"})
    assert "CSBOT_SYNC_MAX_DELETE_SHARE=0.2" in (Path(__file__).parent.parent / ".env.example").read_text()


def test_rejected_rows_without_a_readable_key_stop_a_refresh_that_would_delete(engine, settings, tmp_path):
    folder = loaded(engine, settings, tmp_path)
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\nA2,Beta\n,Gamma\n")  # A3's id lost
    wide = replace(settings, sync_max_delete_share=1.0)
    before = dump(engine)

    summary = run_sync(engine, CsvSource(folder), settings=wide, full_refresh=True)

    assert summary.status == "failed"
    assert "accounts.csv: 1 rejected row has no readable account_id" in summary.message
    assert dump(engine) == before


def test_full_refresh_of_a_header_only_events_file_is_refused_rather_than_wiping_usage(engine, settings, tmp_path):
    folder = loaded(engine, settings, tmp_path)
    write(folder, "events.csv", "event_id,account_id,user_id,occurred_at\n")
    before = dump(engine)

    summary = run_sync(engine, CsvSource(folder), settings=settings, full_refresh=True)

    assert summary.status == "failed"
    assert "events.csv: a full refresh would remove 3 of the 3 rows of usage_daily" in summary.message
    assert dump(engine) == before


def test_cli_refresh_refused_exits_1_in_one_line_and_force_removes_and_reports(db_settings, engine, tmp_path, capsys):
    folder = loaded(engine, db_settings, tmp_path)
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\nA2,Beta\n")
    for name in NOT_FILES:
        (folder / name).unlink()

    assert cli(["--csv", str(folder), "--force"], db_settings) == 2
    assert "--force goes with --full-refresh" in capsys.readouterr().err
    assert cli(["--csv", str(folder), "--full-refresh"], db_settings) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("csbot sync: accounts.csv: a full refresh would remove 1 of the 3")
    assert len(rows(engine, schema.accounts)) == 3

    assert cli(["--csv", str(folder), "--full-refresh", "--force"], db_settings) == 0
    out = capsys.readouterr().out
    assert "deleted" in out.splitlines()[0]
    assert "1 deleted (not in this full export); with them 1 subscriptions and 2 onboarding rows" in out
    assert rows(engine, schema.accounts, "account_id") == [("A1",), ("A2",)]


class _Poster:
    def __init__(self):
        self.posts: list[tuple[str, str]] = []

    def post_text(self, channel, text, *, thread_ts=None):
        self.posts.append((channel, text))
        return "1.0"


def test_scheduled_full_refresh_is_refused_never_forced_and_the_admin_channel_is_told(db_settings, engine, tmp_path):
    folder = loaded(engine, db_settings, tmp_path)
    write(folder, "accounts.csv", "account_id,name\n")
    before = dump(engine)
    settings = replace(db_settings, sync_csv_dir=folder, sync_full_refresh=True, sync_schedule="0 6 * * *",
                       admin_channel="C0ADMIN")
    poster = _Poster()
    ctx = JobContext(poster=poster, settings=settings, engine=engine, worker="w1")

    key = run_sync_job(ctx, datetime(2026, 11, 22, 21, 0, tzinfo=timezone.utc), scheduled_sync)

    assert key == "sync|2026-11-22T21:00"
    assert dump(engine) == before
    assert len(poster.posts) == 1
    channel, text = poster.posts[0]
    assert channel == "C0ADMIN" and "would remove 3 of the 3 rows of accounts" in text
    with engine.connect() as conn:
        run = conn.execute(select(schema.scheduler_runs.c.status).where(schema.scheduler_runs.c.run_key == key)).scalar_one()
    assert run == "failed"


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "name, header, line, expected",
    [
        ("subscriptions.csv", "subscription_id,account_id,product,start_date,end_dat,mrr",
         "S9,A1,core,2025-01-01,2025-06-01,10", "'end_dat' is not a contract column: did you mean end_date?"),
        ("subscriptions.csv", "subscription_id,account_id,product,start_date,mrrr",
         "S9,A1,core,2025-01-01,10", "did you mean mrr?"),
        ("accounts.csv", "acount_id,name", "A9,Nine", "did you mean account_id?"),
    ],
)
def test_a_misspelled_contract_column_refuses_the_file_with_did_you_mean(engine, settings, tmp_path, name, header,
                                                                         line, expected):
    folder = loaded(engine, settings, tmp_path)
    for other in ("accounts.csv", "subscriptions.csv", *NOT_FILES):
        (folder / other).unlink()
    write(folder, name, f"{header}\n{line}\n")
    before = dump(engine)

    summary = run_sync(engine, CsvSource(folder), settings=settings)

    table = summary.table(name.removesuffix(".csv"))
    assert table.refused is not None and expected in table.refused
    assert expected in summary.message
    assert dump(engine) == before


def test_unknown_columns_are_reported_and_kept_as_attributes_only_for_accounts(engine, settings, tmp_path,
                                                                                db_settings, capsys):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name,crm_tier\nA1,Acme,gold\n")
    write(folder, "subscriptions.csv", "subscription_id,account_id,product,start_date,mrr,sales_rep\n"
                                       "S1,A1,core,2025-01-01,100,kim\n")

    summary = run_sync(engine, CsvSource(folder), settings=settings)

    assert summary.status == "ok"
    assert summary.table("accounts").unknown_columns == ("crm_tier",)
    assert summary.table("subscriptions").unknown_columns == ("sales_rep",)
    assert rows(engine, schema.accounts, "attributes") == [({"crm_tier": "gold"},)]
    assert rows(engine, schema.subscriptions, "subscription_id", "mrr") == [("S1", 100.0)]

    assert cli(["--csv", str(folder)], db_settings) == 0
    out = capsys.readouterr().out
    assert "accounts.csv: column crm_tier is not in the contract; kept as a custom attribute" in out
    assert "subscriptions.csv: column sales_rep is not in the contract; ignored" in out


# --------------------------------------------------------------------------- one bad row costs only itself


def test_a_corrected_row_after_a_bad_row_with_the_same_key_loads(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name,renewal_date\nA1,Acme,2027-13-01\nA1,Acme,2027-03-31\n"
                                  "A2,Beta,2026-12-31\n")
    write(folder, "subscriptions.csv", "subscription_id,account_id,product,start_date,mrr\n"
                                       "S1,A1,core,2025-01-01,-5\nS1,A1,core,2025-01-01,100\n")

    summary = run_sync(engine, CsvSource(folder), settings=settings)

    assert summary.status == "ok"
    assert rows(engine, schema.accounts, "account_id", "renewal_date") == [("A1", date(2027, 3, 31)),
                                                                           ("A2", date(2026, 12, 31))]
    assert rows(engine, schema.subscriptions, "subscription_id", "mrr") == [("S1", 100.0)]
    found = rejected(engine)
    assert [r[:3] for r in found] == [("accounts.csv", 2, "renewal_date"), ("subscriptions.csv", 2, "mrr")]
    assert "replaced by the row on line 3" in found[0][3]
    assert (summary.table("accounts").rejected, summary.table("subscriptions").rejected) == (1, 1)


def test_one_bad_optional_value_leaves_that_field_empty_and_keeps_the_row(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name,seats,renewal_date\nA1,Acme,10,2027-13-01\nA2,Beta,-3,2026-12-31\n")
    write(folder, "subscriptions.csv", "subscription_id,account_id,product,start_date,end_date,mrr\n"
                                       "S1,A1,core,2025-01-01,2026-13-01,100\n")

    summary = run_sync(engine, CsvSource(folder), settings=settings)

    assert rows(engine, schema.accounts, "account_id", "seats", "renewal_date") == [("A1", 10, None),
                                                                                    ("A2", None, date(2026, 12, 31))]
    assert rows(engine, schema.subscriptions) == []  # an end date that cannot be read is never taken as "running"
    accounts = summary.table("accounts")
    assert (accounts.inserted, accounts.rejected, accounts.dropped) == (2, 0, 2)
    found = {(f, line, col): reason for f, line, col, reason in rejected(engine)}
    assert set(found) == {("accounts.csv", 2, "renewal_date"), ("accounts.csv", 3, "seats"),
                          ("subscriptions.csv", 2, "end_date")}
    assert found[("accounts.csv", 2, "renewal_date")] == (
        "unparseable date '2027-13-01'; expected YYYY-MM-DD; the field was dropped (left empty), the row kept")
    assert found[("accounts.csv", 3, "seats")].endswith("the field was dropped (left empty), the row kept")


def test_an_oversized_field_or_a_nul_byte_costs_only_its_row(engine, settings, tmp_path):
    folder = tmp_path / "x"
    huge = "x" * (16 * 1024 * 1024 + 1)
    write(folder, "accounts.csv", f"account_id,name,notes\nA1,Acme,ok\nA2,Beta,{huge}\nA3,Gam\x00ma,\nA4,Delta,\n")
    write(folder, "nps.csv", "response_id,account_id,score,responded_at,comment\n"
                             "N1,A1,9,2026-10-01,fine\nN2,A1,3,2026-10-02,bad\x00\n")

    summary = run_sync(engine, CsvSource(folder), settings=settings)

    assert summary.status == "ok", summary.message
    assert rows(engine, schema.accounts, "account_id") == [("A1",), ("A4",)]
    assert rows(engine, schema.nps_responses, "response_id") == [("N1",)]
    assert rejected(engine) == [
        ("accounts.csv", 3, "notes", "value of 16,777,217 characters; a field holds at most 16,777,216"),
        ("accounts.csv", 4, "name", "contains a NUL character (\\x00); remove it from the export"),
        ("nps.csv", 3, "comment", "contains a NUL character (\\x00); remove it from the export"),
    ]
    with engine.connect() as conn:
        raws = list(conn.execute(select(func.length(schema.rejected_rows.c.raw))).scalars())
    assert max(raws) <= 1000
