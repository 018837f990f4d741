"""Tidy CSV: one table of ``optimizer.report.sheets`` per file, for spreadsheets and pandas.

Each file is one header row and its data rows, nothing else, so ``pandas.read_csv`` loads
it as it is. Numbers keep full precision (as the result file has them); a missing value is
an empty cell; flags are ``true``/``false``; lists are JSON text; a text that would start a
spreadsheet formula gets a leading apostrophe (``optimizer.safe_text``). A report or a
comparison is a folder of such files, one per table (``costs.csv``, ...), or the one table
asked for.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from optimizer.report.sheets import Sheet, frontier_sheet
from optimizer.safe_text import csv_cell

if TYPE_CHECKING:  # the sweep module brings the solver; CSV of a report does not need it
    from optimizer.results.frontier import Frontier


def _value(v: Any) -> Any:
    """A cell: flags and lists as text, and never a formula."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list | tuple):
        return csv_cell(json.dumps(v, sort_keys=True))
    return csv_cell(v)


def sheet_csv(sheet: Sheet) -> str:
    """One table as CSV text: a header row, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_value(h) for h in sheet.headers])
    writer.writerows([[_value(v) for v in row] for row in sheet.rows])
    return buffer.getvalue()


def frontier_csv(frontier: Frontier) -> str:
    """The budget frontier as one table (``optimizer.report.sheets.frontier_sheet``)."""
    return sheet_csv(frontier_sheet(frontier))
