"""How numbers read in the HTML and Markdown reports (CSV and GeoJSON keep full precision).

Money has two decimals and thousands separators, resilience and its terms four decimals
(the precision of the terminal summary), gains per 1,000 of money three significant
figures. Missing values read as an en dash.
"""

from __future__ import annotations

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
