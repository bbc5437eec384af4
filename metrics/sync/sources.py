"""Where synced rows come from: a folder of files (CSV, gzipped CSV, Parquet, Excel),
or queries on a SQL database.

``source_from_settings`` picks the source of a scheduled (or argument-less) sync
from ``Settings``: ``sync_csv_dir``, or ``sync_sql_url`` + ``sync_mapping``.

Both give, per contract table, a ``RowStream``: the header (contract column
names), the rows (sequences of raw values, read lazily so memory stays flat)
and a ``reader.line_num`` the loader uses to tell the user where a bad row is
(for CSV: the line in the file, 1-based, header included; for Excel: the row
number Excel shows; for SQL: the row number of the query's result).

An Excel workbook (``accounts.xlsx`` ...) is read as text, the way its CSV
export would read, so every row rule and reason is the CSV one: a date cell
gives ``YYYY-MM-DD``, a date-and-time cell ``YYYY-MM-DDTHH:MM:SS`` (no zone: the
workspace time zone), a whole number ``30000`` whatever Excel stored, an empty
cell an empty value, and a formula error (``#N/A``) a ``CellError`` that every
parser rejects. openpyxl (the library pandas reads .xlsx with) streams the
sheet in read-only mode: pandas' ``read_excel`` would hold the whole sheet in
memory and turn an error cell into an empty one.
"""

from __future__ import annotations

import csv
import gzip
import logging
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from metrics.db import DatabaseUnavailable, make_engine, safe_url
from metrics.settings import Settings
from metrics.sync.errors import SourceError, first_line
from metrics.sync.tables import LOAD_ORDER
from metrics.sync.values import CellError

logger = logging.getLogger(__name__)

# As large as the reader allows: a longer value is read, then its row rejected (metrics.sync.run.MAX_FIELD).
csv.field_size_limit(2**31 - 1)

FETCH_ROWS = 20_000

FILE_TYPES = (".csv", ".csv.gz", ".parquet", ".xlsx")  # a contract file's name is the table + one of these


@dataclass
class _Counter:
    line_num: int = 0


@dataclass
class RowStream:
    table: str
    label: str  # what the user sees as "file" in rejected rows
    header: list[str]  # contract names (lower-cased) or, for extra columns, as given
    rows: Iterator[Sequence[Any]]
    reader: Any  # has .line_num: the last line (CSV) or row number (SQL) read
    first_line: int  # line_num before the first data row (1 for a CSV header)
    path: Path | None = None  # a CSV file, .csv or .csv.gz (a plain .csv may be read in parallel byte ranges)


def _normal(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip()


def _contract_name(name: str) -> str:
    return _normal(name).lower()


# --------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvSource:
    """A folder holding any of accounts.csv, subscriptions.csv, events.csv, nps.csv,
    csat.csv, onboarding.csv, tickets.csv (each may be .csv.gz, .xlsx, or .parquet
    when pyarrow is installed; one file per table)."""

    directory: Path

    def describe(self) -> str:
        return f"csv:{Path(self.directory).expanduser().resolve()}"

    def files(self) -> dict[str, Path]:
        folder = Path(self.directory).expanduser()
        if not folder.is_dir():
            raise SourceError(f"{folder}: no such folder; give the folder that holds accounts.csv, subscriptions.csv ...")
        found: dict[str, Path] = {}
        for table in LOAD_ORDER:
            candidates = [folder / f"{table}{ext}" for ext in FILE_TYPES]
            present = [p for p in candidates if p.is_file()]
            if len(present) > 1:
                names = " and ".join(p.name for p in present)
                raise SourceError(f"{folder}: both {names}; keep one of them")
            if present:
                found[table] = present[0]
            elif (folder / f"{table}.xls").is_file():
                raise SourceError(f"{folder / f'{table}.xls'}: the old Excel format (.xls) is not read; "
                                  "save it as an Excel Workbook (.xlsx) or as CSV UTF-8")
        if not found:
            raise SourceError(
                f"{folder}: none of the contract files found (expected accounts.csv, subscriptions.csv, events.csv, "
                "nps.csv, csat.csv, onboarding.csv or tickets.csv; each may also be .csv.gz, .xlsx or .parquet)"
            )
        return found

    @contextmanager
    def open(self, table: str, path: Path) -> Iterator[RowStream]:
        if path.name.endswith(".parquet"):
            with _open_parquet(table, path) as stream:
                yield stream
            return
        if path.name.endswith(".xlsx"):
            with _open_xlsx(table, path) as stream:
                yield stream
            return
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                header = []
            header = [_contract_name(h) if _contract_name(h) else _normal(h) for h in header]
            yield RowStream(table, path.name, header, reader, reader, reader.line_num, path)


@contextmanager
def _open_parquet(table: str, path: Path) -> Iterator[RowStream]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found]
    except ImportError:
        raise SourceError(f"{path.name}: reading Parquet needs pyarrow (pip install pyarrow), or export CSV") from None
    handle = pq.ParquetFile(path)
    names = list(handle.schema_arrow.names)
    counter = _Counter()

    def rows() -> Iterator[Sequence[Any]]:
        for batch in handle.iter_batches(batch_size=FETCH_ROWS):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for values in zip(*columns):
                counter.line_num += 1
                yield values

    yield RowStream(table, path.name, [_contract_name(n) for n in names], rows(), counter, 0)


# --------------------------------------------------------------------------- Excel


def _xlsx_sheet(workbook: Any, table: str) -> Any:
    """The sheet named like the table (any case), else the first sheet."""
    for sheet in workbook.worksheets:
        if sheet.title.strip().lower() == table:
            return sheet
    return workbook.worksheets[0]


def _is_date_only(cell: Any, value: datetime) -> bool:
    from openpyxl.styles.numbers import is_datetime

    try:
        kind = is_datetime(cell.number_format or "")
    except Exception:  # noqa: BLE001 - a style we cannot read: judge by the value
        kind = None
    if kind in ("date", "datetime"):
        return kind == "date"
    return value.time() == time()


def _xlsx_text(cell: Any) -> str:
    """One cell as its CSV export would write it (see the module docstring)."""
    value = cell.value
    if value is None:
        return ""
    if value.__class__ is str:  # text, or the code of a formula error
        return CellError(value) if cell.data_type == "e" else value
    if value.__class__ is int:
        return str(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if _is_date_only(cell, value) else value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


@contextmanager
def _open_xlsx(table: str, path: Path) -> Iterator[RowStream]:
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise SourceError(f"{path.name}: reading Excel needs openpyxl (pip install openpyxl), or export CSV") from None
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a zip that is not a workbook, an encrypted file ...
        logger.info("cannot open %s: %s: %s", path.name, type(exc).__name__, first_line(exc))
        raise SourceError(f"{path.name}: not an Excel workbook that can be read; "
                          "save it from Excel as an Excel Workbook (.xlsx) without a password, or as CSV UTF-8") from None
    try:
        sheet = _xlsx_sheet(workbook, table)
        sheet.reset_dimensions()  # the stored size may be wrong: read every row there is
        label = path.name if len(workbook.worksheets) == 1 else f"{path.name} (sheet {sheet.title})"
        cells = sheet.iter_rows()
        counter = _Counter()

        def next_row() -> list | None:
            try:
                row = next(cells)
            except StopIteration:
                return None
            except Exception as exc:  # noqa: BLE001 - broken XML inside the workbook
                logger.info("cannot read %s: %s: %s", label, type(exc).__name__, first_line(exc))
                raise SourceError(f"{label}: the sheet cannot be read after row {counter.line_num}; "
                                  "open it in Excel and save it again, or save it as CSV UTF-8") from None
            counter.line_num += 1
            values = [_xlsx_text(cell) for cell in row]
            while values and values[-1] == "":
                values.pop()
            return values

        header: list[str] = []
        while (first := next_row()) is not None:
            if first:  # blank rows above the header are skipped
                header = [_contract_name(h) if _contract_name(h) else _normal(h) for h in first]
                break
        header_line = counter.line_num
        width = len(header)

        def rows() -> Iterator[Sequence[Any]]:
            while (values := next_row()) is not None:
                if values and len(values) < width:
                    values.extend([""] * (width - len(values)))  # Excel has no "fewer values": they are empty
                yield values  # [] is a blank row: skipped, as a blank line of a CSV file

        yield RowStream(table, label, header, rows(), counter, header_line)
    finally:
        workbook.close()


# --------------------------------------------------------------------------- SQL


@dataclass(frozen=True)
class TableQuery:
    table: str
    query: str
    renames: tuple[tuple[str, str], ...] = ()  # (column in the result, contract column)


@dataclass(frozen=True)
class SqlSource:
    """Any SQLAlchemy URL plus one query per contract table (see ``load_mapping``)."""

    url: str
    queries: tuple[TableQuery, ...]
    mapping_file: str | None = None
    _engine_cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_mapping(cls, url: str, mapping_file: str | Path) -> "SqlSource":
        return cls(url=url, queries=load_mapping(mapping_file), mapping_file=str(mapping_file))

    def describe(self) -> str:
        return f"sql:{safe_url(self.url)}"

    def files(self) -> dict[str, TableQuery]:
        by_table = {q.table: q for q in self.queries}
        return {t: by_table[t] for t in LOAD_ORDER if t in by_table}

    def _engine(self) -> Engine:
        if "engine" not in self._engine_cache:
            try:
                parsed = make_url(self.url)
            except Exception:
                raise SourceError("--sql: cannot parse the URL; expected e.g. postgresql://user@host/warehouse") from None
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
                if not Path(parsed.database).expanduser().is_file():
                    raise SourceError(f"--sql: no SQLite file at {parsed.database}")
            try:
                self._engine_cache["engine"] = make_engine(self.url)
            except DatabaseUnavailable as exc:
                raise SourceError(f"--sql: {str(exc).removeprefix('DATABASE_URL: ')}") from None
        return self._engine_cache["engine"]

    def dispose(self) -> None:
        engine = self._engine_cache.pop("engine", None)
        if engine is not None:
            engine.dispose()

    @contextmanager
    def open(self, table: str, query: TableQuery) -> Iterator[RowStream]:
        engine = self._engine()
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot reach the source database {safe_url(self.url)}: {first_line(exc)}") from None
        try:
            try:
                result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(text(query.query))
            except SQLAlchemyError as exc:
                raise SourceError(f"query for {table} failed: {first_line(exc)}") from None
            renames = dict(query.renames)
            header = [renames.get(k, renames.get(_contract_name(k), _contract_name(k))) for k in result.keys()]
            counter = _Counter()

            def rows() -> Iterator[Sequence[Any]]:
                try:
                    while True:
                        chunk = result.fetchmany(FETCH_ROWS)
                        if not chunk:
                            return
                        for row in chunk:
                            counter.line_num += 1
                            yield row
                except SQLAlchemyError as exc:
                    raise SourceError(f"query for {table} failed while reading: {first_line(exc)}") from None

            yield RowStream(table, f"query {table}", header, rows(), counter, 0)
        finally:
            conn.close()


def load_mapping(path: str | Path) -> tuple[TableQuery, ...]:
    """Read a TOML mapping: ``[tables.<contract table>]`` with ``query`` and optional
    ``columns = { source_column = "contract_column" }``."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"--mapping: no file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"--mapping: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"--mapping: {path.name} is not valid TOML ({exc})") from None
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise SourceError(f"--mapping: {path.name} has no [tables.<name>] sections (e.g. [tables.subscriptions] query = \"...\")")
    queries = []
    for name, body in tables.items():
        if name not in LOAD_ORDER:
            raise SourceError(f"--mapping: unknown table [tables.{name}]; use one of {', '.join(LOAD_ORDER)}")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
            raise SourceError(f"--mapping: [tables.{name}] needs query = \"SELECT ...\"")
        columns = body.get("columns", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise SourceError(f"--mapping: [tables.{name}.columns] should map source column = \"contract column\"")
        unknown = set(body) - {"query", "columns"}
        if unknown:
            raise SourceError(f"--mapping: [tables.{name}] has unknown key(s) {', '.join(sorted(unknown))}; use query and columns")
        renames = tuple((str(k), str(v).strip().lower()) for k, v in columns.items())
        queries.append(TableQuery(table=name, query=body["query"], renames=renames))
    return tuple(queries)


def source_from_settings(settings: Settings) -> CsvSource | SqlSource | None:
    """The source of scheduled (and argument-less) syncs: ``CSBOT_SYNC_CSV_DIR``, or
    ``CSBOT_SYNC_SQL_URL`` + ``CSBOT_SYNC_MAPPING``. None when neither is set."""
    if settings.sync_csv_dir and settings.sync_sql_url:
        raise SourceError("set CSBOT_SYNC_CSV_DIR or CSBOT_SYNC_SQL_URL, not both")
    if settings.sync_csv_dir:
        return CsvSource(Path(settings.sync_csv_dir).expanduser())
    if settings.sync_sql_url:
        if not settings.sync_mapping:
            raise SourceError("CSBOT_SYNC_SQL_URL needs CSBOT_SYNC_MAPPING (a TOML file with one query per table)")
        return SqlSource.from_mapping(settings.sync_sql_url, settings.sync_mapping)
    return None
