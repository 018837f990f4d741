"""Reports for budget officers: one result (HTML, Markdown, CSV, spreadsheet, GeoJSON),
several results side by side, and the budget frontier.

The format modules are imported only when a format is asked for, so that writing a CSV or
a Markdown memo never loads matplotlib (nor a spreadsheet openpyxl before it is asked for).
A rendering is text, bytes (a spreadsheet), or for CSV without a table named, every table by
name (:data:`Rendered`; ``optimizer.report.output.emit`` writes each to a file or a folder).

``optimizer.report(result, "x.xlsx")`` calls :func:`optimizer.api.report`
(``optimizer.callable_module``).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.callable_module import make_callable
from optimizer.errors import UsageError
from optimizer.report.output import Rendered, emit, format_of, write_bytes, write_text

if TYPE_CHECKING:
    from optimizer.instance.data import Instance
    from optimizer.report.compare import Comparison
    from optimizer.report.sheets import Sheet
    from optimizer.results.document import Result
    from optimizer.results.frontier import Frontier



@dataclass(frozen=True)
class Format:
    """One output format: the module that renders it (imported when it is asked for) and
    the functions there for one result's report and for a comparison (None: not offered).

    A renderer takes the report's :class:`~optimizer.report.facts.Facts` (or a
    :class:`~optimizer.report.compare.Comparison`) and returns text or bytes; with
    ``sheets`` it returns tidy tables instead, which :func:`tabular` writes as CSV or a
    spreadsheet. ``options`` are the keywords of :func:`render_report` it takes.
    """

    module: str
    report: str | None
    comparison: str | None = None
    sheets: bool = False
    options: tuple[str, ...] = ()


# A new format is its module and a row here.
FORMATS: dict[str, Format] = {
    "html": Format("optimizer.report.html", "report_html", "comparison_html"),
    "md": Format("optimizer.report.markdown", "report_markdown", "comparison_markdown"),
    "csv": Format("optimizer.report.sheets", "report_sheets", "comparison_sheets", sheets=True),
    "xlsx": Format("optimizer.report.sheets", "report_sheets", "comparison_sheets",
                   sheets=True),
    "geojson": Format("optimizer.report.geo", "geojson", options=("local",)),
}
REPORT_FORMATS = tuple(name for name, f in FORMATS.items() if f.report)
COMPARE_FORMATS = tuple(name for name, f in FORMATS.items() if f.comparison)
PLOT_FORMATS = ("png", "svg")


def _renderer(fmt: str, which: str) -> Any:
    """The function that renders ``fmt`` for a report or a comparison (``which``)."""
    chosen = FORMATS.get(fmt)
    name = None if chosen is None else getattr(chosen, which)
    if chosen is None or name is None:
        raise ValueError(f"unknown {which} format {fmt!r}")
    return getattr(importlib.import_module(chosen.module), name)


def tabular(sheets: Sequence[Sheet], fmt: str, table: str | None = None,
            currency: str | None = None) -> Rendered:
    """Tidy tables as a spreadsheet (bytes), one CSV table (text), or every CSV table by name.

    Raises
    ------
    optimizer.errors.UsageError
        ``table`` names no table of ``sheets``.
    """
    if table is not None:
        chosen = [s for s in sheets if s.name == table]
        if not chosen:
            raise UsageError(f"no table {table!r} here; the tables are "
                             f"{', '.join(s.name for s in sheets)}")
        sheets = chosen
    if fmt == "xlsx":
        from optimizer.report.xlsx import workbook

        return workbook(sheets, currency)
    from optimizer.report.tables import sheet_csv

    if table is not None:
        return sheet_csv(sheets[0])
    return {s.name: sheet_csv(s) for s in sheets}


def render_report(result: Result, fmt: str, instance: Instance | None = None, *,
                  source: str = "<result>", notes: Sequence[str] = (),
                  local_coordinates: bool = False, table: str | None = None) -> Rendered:
    """The report of ``result`` in ``fmt`` (html, md, csv, xlsx or geojson).

    ``local_coordinates`` lets GeoJSON carry the instance's own x and y when it names no
    CRS (``optimizer.report.geo``); ``table`` picks one table of a CSV or spreadsheet
    (``optimizer.report.sheets``), and CSV without it is every table by name.
    """
    from optimizer.report.facts import build_facts

    render = _renderer(fmt, "report")
    facts = build_facts(result, instance, source=source, notes=tuple(notes))
    given = {"local": local_coordinates}
    rendered = render(facts, **{k: given[k] for k in FORMATS[fmt].options})
    return tabular(rendered, fmt, table, facts.currency) if FORMATS[fmt].sheets else rendered


def write_report(document: dict[str, Any], path: str | Path, instance: Instance | None = None,
                 *, fmt: str | None = None, source: str | None = None,
                 notes: Sequence[str] = (), table: str | None = None) -> None:
    """Write the report of a result document, in the format ``path``'s extension names.

    Parameters
    ----------
    document
        A result document (what ``solve_and_verify`` returns, or a result file's JSON).
    path
        ``.html``, ``.md``, ``.xlsx``, ``.geojson``, a folder (``out/``: every table as
        CSV) or ``.csv`` with ``table``.
    instance
        The instance that was solved. Without it the report leaves out the map, the
        comparison with doing nothing and the social and institutional measures, and says
        so; GeoJSON cannot be written without it.
    fmt
        Overrides the extension.
    source
        How the report names the result (say, the result file's name); default
        ``INSTANCE_NAME result``.
    notes
        Warnings to print in the report (say, an instance whose sha256 differs).
    table
        The one table of a ``.csv`` (or spreadsheet) to write: ``costs``, ``scenarios``, ...

    Raises
    ------
    optimizer.errors.InputError
        The document holds no plan, or is not a result document.
    optimizer.errors.UsageError
        Unknown extension; GeoJSON without coordinates.
    """
    from optimizer.results.document import parse_result

    format_of(path, REPORT_FORMATS, fmt)  # a bad extension fails before the document is read
    write_result_report(parse_result(document, source or "the result"), path, instance,
                        fmt=fmt, source=source, notes=notes, table=table)


def write_result_report(result: Result, path: str | Path, instance: Instance | None = None,
                        *, fmt: str | None = None, source: str | None = None,
                        notes: Sequence[str] = (), table: str | None = None) -> None:
    """:func:`write_report` of a result already read (say, ``Solved.result``)."""
    chosen = format_of(path, REPORT_FORMATS, fmt)
    emit(path, render_report(result, chosen, instance,
                             source=source or f"{result.instance.name} result", notes=notes,
                             table=table))


def render_comparison(comparison: Comparison, fmt: str, table: str | None = None) -> Rendered:
    """The comparison in ``fmt`` (html, md, csv or xlsx); ``table`` as for
    :func:`render_report`."""
    rendered = _renderer(fmt, "comparison")(comparison)
    return (tabular(rendered, fmt, table, comparison.currency) if FORMATS[fmt].sheets
            else rendered)


def write_frontier(frontier: Frontier, path: str | Path, plot: str | Path | None = None) -> None:
    """The frontier as CSV at ``path``, and its picture (PNG or SVG) at ``plot``."""
    from optimizer.report.tables import frontier_csv

    if plot is not None:
        format_of(plot, PLOT_FORMATS)
    write_text(path, frontier_csv(frontier))
    if plot is not None:
        write_frontier_plot(frontier, plot)


def write_sweep_results(frontier: Frontier, folder: str | Path, *, stem: str,
                        instance_path: str | None = None) -> list[Path]:
    """Each swept budget's result file in ``folder``, ``STEM-budget-B.result.json``, with
    the whole frontier as its ``frontier`` section (so that its report and a comparison of
    them show it). Budgets whose previous plan was carried forward have no file of their
    own. Returns the paths written.
    """
    import copy
    import json

    from optimizer.report.sheets import frontier_records
    from optimizer.results.file import path_seen_from

    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the folder {target}: {exc.strerror or exc}") from None
    section = frontier_records(frontier)
    written = []
    for point in frontier.points:
        if point.document is None:
            continue
        document = copy.deepcopy(point.document)
        document["frontier"] = section
        path = target / f"{stem}-budget-{point.budget:g}.result.json"
        if instance_path is not None and instance_path != "-":
            # As `solve` records it: where the instance is, seen from the result's folder.
            document["instance"]["path"] = path_seen_from(target, instance_path)
        write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
        written.append(path)
    return written


def write_frontier_plot(frontier: Frontier, plot: str | Path) -> None:
    """The picture of the frontier, PNG or SVG by ``plot``'s extension (imports matplotlib)."""
    from optimizer.report.plots import frontier_picture

    write_bytes(plot, frontier_picture(frontier, format_of(plot, PLOT_FORMATS)))


__all__ = ["COMPARE_FORMATS", "FORMATS", "PLOT_FORMATS", "REPORT_FORMATS", "Rendered", "emit",
           "format_of", "render_comparison", "render_report", "tabular", "write_bytes",
           "write_frontier", "write_frontier_plot", "write_report", "write_result_report",
           "write_sweep_results",
           "write_text"]


make_callable(__name__, "report")  # optimizer.report(result, ...): optimizer.callable_module
