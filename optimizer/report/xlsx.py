"""A spreadsheet (.xlsx) of tidy tables: one sheet per table, typed cells.

Numbers are numbers (never text), shares are percentages, money carries the instance's
currency in its number format (the cell still holds the plain number, so sums work), flags
are booleans, lists are JSON text. Every sheet has its header row frozen, an autofilter and
column widths fitted to its contents. Text from other people's files goes through
:func:`optimizer.safe_text.csv_cell`: openpyxl would store a string that starts with ``=`` as
a live formula.

openpyxl is imported here only, so nothing else pays for it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from typing import Any

from optimizer.report.sheets import Kind, Sheet
from optimizer.safe_text import csv_cell, plain

# Widest column, in characters: long sentences (decided_by, notes) wrap instead.
MAX_WIDTH = 60
# Excel refuses sheet names over 31 characters and some characters (``[]:*?/\``).
SHEET_NAME_LIMIT = 31
# One time for every file: openpyxl stamps the workbook's created and modified properties
# and every zip entry with the clock, so the same result gave other bytes each time. A
# result carries no time of its own (nor do the plots, optimizer.bench.plot).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can hold
FIXED_STAMP = b"1980-01-01T00:00:00Z"  # the same, for the workbook's properties
_STAMP = re.compile(rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*(</dcterms:)")


def _money_format(currency: str | None) -> str:
    if not currency:
        return "#,##0.00"
    # A quoted literal after the number: "USD", "EUR", "£" all read as written.
    return '#,##0.00 "' + currency.replace('"', "") + '"'


def _formats(currency: str | None) -> dict[Kind, str]:
    return {Kind.MONEY: _money_format(currency), Kind.SHARE: "0.00%", Kind.UNITS: "#,##0.0",
            Kind.COUNT: "#,##0", Kind.NUMBER: "#,##0.0000", Kind.TEXT: "@",
            Kind.FLAG: "General", Kind.LIST: "@"}


def _cell(value: Any, kind: Kind) -> Any:
    """The value a cell holds: numbers stay numbers, text is inert."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict | list | tuple):
        return csv_cell(plain(json.dumps(value, sort_keys=True)))
    return csv_cell(plain(str(value)))


def _shown(value: Any, kind: Kind) -> str:
    """About what the cell shows, to fit the column's width."""
    if value is None:
        return ""
    if isinstance(value, float) and kind is Kind.SHARE:
        return f"{100 * value:.2f}%"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.4f}" if kind is Kind.NUMBER else f"{value:,.2f}"
    return str(value)


def _title(name: str, taken: set[str]) -> str:
    title = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:SHEET_NAME_LIMIT]
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" {n}"
        title = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix
        n += 1
    taken.add(title.lower())
    return title


def workbook(sheets: Sequence[Sheet], currency: str | None = None) -> bytes:
    """The .xlsx file of ``sheets``; money labelled with ``currency`` when given."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    formats = _formats(currency)
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(_title(sheet.name, taken))
        ws.append([_cell(h, Kind.TEXT) for h in sheet.headers])
        for cell in ws[1]:
            cell.font = bold
        widths = [len(str(h)) for h in sheet.headers]
        for r, row in enumerate(sheet.rows):
            ws.append([_cell(v, sheet.kind(r, c)) for c, v in enumerate(row)])
            for c, value in enumerate(row):
                kind = sheet.kind(r, c)
                cell = ws.cell(row=r + 2, column=c + 1)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    cell.number_format = formats[kind]
                elif isinstance(cell.value, str) and len(cell.value) > MAX_WIDTH:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                widths[c] = max(widths[c], len(_shown(value, kind)))
        ws.freeze_panes = "A2"
        if sheet.rows:
            ws.auto_filter.ref = ws.dimensions
        for c, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(c)].width = min(MAX_WIDTH, width + 2)
    buffer = io.BytesIO()
    book.save(buffer)
    return _without_clock(buffer.getvalue())


def _without_clock(data: bytes) -> bytes:
    """The same .xlsx with every time in it fixed (:data:`FIXED_TIME`)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "docProps/core.xml":
                content = _STAMP.sub(rb"\g<1>" + FIXED_STAMP + rb"\g<2>", content)
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = entry.external_attr
            target.writestr(fixed, content)
    return out.getvalue()
