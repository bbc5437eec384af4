"""The demo's contract rows written as the CSV files a team would export (docs/data-contract.md).

``write_files(rows, folder)`` writes ``accounts.csv``, ``subscriptions.csv``,
``events.csv`` ... with a header of the contract's column names: dates as
``YYYY-MM-DD``, timestamps as ISO 8601 without a zone (workspace time), empty
cells for missing values. The same rows always give the same bytes.
"""

from __future__ import annotations

import csv
import logging
from datetime import date, datetime
from pathlib import Path

from metrics.demo.rows import DemoRows

logger = logging.getLogger(__name__)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def write_files(rows: DemoRows, folder: Path) -> dict[str, Path]:
    """Write one CSV file per contract file into ``folder``; returns the paths by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for contract_file in rows.files:
        path = folder / f"{contract_file.name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(contract_file.columns)
            if contract_file.name == "events":  # already text and numbers: the bulk of the rows, written as they are
                writer.writerows(contract_file.rows)
            else:
                writer.writerows([_cell(v) for v in row] for row in contract_file.rows)
        written[contract_file.name] = path
    logger.debug("demo files written to %s", folder)
    return written
