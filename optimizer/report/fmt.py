"""How numbers read for people: the HTML and Markdown reports and the terminal summary
(CSV, spreadsheets and GeoJSON keep full precision).

Money has two decimals and thousands separators, resilience and its terms four decimals,
units, people and counts thousands separators (``water 57,452``, ``10,212 places``), shares
such as a MIP gap a percentage, gains per 1,000 of money three significant figures.
Missing values read as an en dash. Light to import: the terminal uses it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optimizer.report.facts import Metric

MISSING = "–"


def money(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.2f}"


def share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"


def percent(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}%"


def signed(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.4f}"


def per_1000(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3g}"


def units(value: float | None) -> str:
    """Supply units and people: whole numbers stay whole, fractions keep one decimal."""
    if value is None:
        return MISSING
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def count(value: float | None, one: str = "", many: str = "") -> str:
    """A whole count with thousands separators, and its noun (``1 module``, ``3 modules``)."""
    if value is None:
        return MISSING
    noun = (one if abs(value) == 1 else many) if one or many else ""
    return f"{value:,.0f}" + (f" {noun}" if noun else "")


def gap(value: float | None) -> str:
    """A relative MIP gap as a percentage: ``0.01%`` (``0%`` when closed)."""
    if value is None:
        return MISSING
    if value == 0:
        return "0%"
    return f"{100 * value:.2g}%" if abs(value) < 1e-4 else f"{100 * value:.2f}%"


def number(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.6g}"


def metric(m: Metric) -> str:
    if m.value is None:
        return MISSING
    return {"share": percent, "money": money, "count": lambda v: f"{v:,.0f}"}.get(
        m.kind, number)(m.value)


def label(name: str) -> str:
    """``compensation_pool`` -> ``compensation pool``."""
    return name.replace("_", " ")
