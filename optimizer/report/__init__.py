"""Reports for budget officers: one result (HTML, Markdown, CSV, GeoJSON), several results
side by side, and the budget frontier.

The format modules are imported only when a format is asked for, so that writing a CSV or
a Markdown memo never loads matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.report.output import format_of, write_bytes, write_text

if TYPE_CHECKING:
    from optimizer.data import Instance
    from optimizer.report.compare import Comparison
    from optimizer.report.document import Result
    from optimizer.report.sweep import Frontier

REPORT_FORMATS = ("html", "md", "csv", "geojson")
COMPARE_FORMATS = ("html", "md", "csv")
PLOT_FORMATS = ("png", "svg")


def render_report(result: Result, fmt: str, instance: Instance | None = None, *,
                  source: str = "<result>", notes: Sequence[str] = (),
                  local_coordinates: bool = False) -> str:
    """The report of ``result`` in ``fmt`` (html, md, csv or geojson) as text.

    ``local_coordinates`` lets GeoJSON carry the instance's own x and y when it names no
    CRS (``optimizer.report.geo``).
    """
    from optimizer.report.facts import build_facts

    if fmt == "geojson":
        from optimizer.report.geo import geojson

        return geojson(build_facts(result, instance, source=source, notes=tuple(notes)),
                       local=local_coordinates)
    facts = build_facts(result, instance, source=source, notes=tuple(notes))
    if fmt == "html":
        from optimizer.report.html import report_html

        return report_html(facts)
    if fmt == "md":
        from optimizer.report.markdown import report_markdown

        return report_markdown(facts)
    if fmt == "csv":
        from optimizer.report.tables import report_csv

        return report_csv(facts)
    raise ValueError(f"unknown report format {fmt!r}")


def write_report(document: dict[str, Any], path: str | Path, instance: Instance | None = None,
                 *, fmt: str | None = None, source: str | None = None,
                 notes: Sequence[str] = ()) -> None:
    """Write the report of a result document, in the format ``path``'s extension names.

    Parameters
    ----------
    document
        A result document (what ``solve_and_verify`` returns, or a result file's JSON).
    path
        ``.html``, ``.md``, ``.csv`` or ``.geojson``.
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

    Raises
    ------
    optimizer.errors.InputError
        The document holds no plan, or is not a result document.
    optimizer.errors.UsageError
        Unknown extension; GeoJSON without coordinates.
    """
    from optimizer.report.document import parse_result

    chosen = format_of(path, REPORT_FORMATS, fmt)
    result = parse_result(document, source or "the result")
    write_text(path, render_report(result, chosen, instance,
                                   source=source or f"{result.instance.name} result",
                                   notes=notes))


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The comparison in ``fmt`` (html, md or csv) as text."""
    if fmt == "html":
        from optimizer.report.html import comparison_html

        return comparison_html(comparison)
    if fmt == "md":
        from optimizer.report.markdown import comparison_markdown

        return comparison_markdown(comparison)
    if fmt == "csv":
        from optimizer.report.tables import comparison_csv

        return comparison_csv(comparison)
    raise ValueError(f"unknown comparison format {fmt!r}")


def write_frontier(frontier: Frontier, path: str | Path, plot: str | Path | None = None) -> None:
    """The frontier as CSV at ``path``, and its picture (PNG or SVG) at ``plot``."""
    from optimizer.report.tables import frontier_csv

    if plot is not None:
        format_of(plot, PLOT_FORMATS)
    write_text(path, frontier_csv(frontier))
    if plot is not None:
        write_frontier_plot(frontier, plot)


def write_frontier_plot(frontier: Frontier, plot: str | Path) -> None:
    """The picture of the frontier, PNG or SVG by ``plot``'s extension (imports matplotlib)."""
    from optimizer.report.plots import frontier_picture

    write_bytes(plot, frontier_picture(frontier, format_of(plot, PLOT_FORMATS)))


__all__ = ["COMPARE_FORMATS", "PLOT_FORMATS", "REPORT_FORMATS", "format_of", "render_comparison",
           "render_report", "write_bytes", "write_frontier", "write_frontier_plot", "write_report",
           "write_text"]
