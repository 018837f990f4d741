"""Charts with matplotlib: SVG strings to inline in HTML, and the frontier picture file.

matplotlib is imported by this module only, and only the HTML report, the HTML comparison
and ``sweep --plot`` import this module, so the other formats never load it. Figures are
drawn on the Agg canvas through the object interface (no pyplot, no global state); SVG text
stays text (smaller, crisp, selectable) and element ids are made unique per chart so that
several charts can live in one page.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from optimizer.results.document import Cost, RestorationStep, ScenarioRecovery, ScenarioResult
from optimizer.safe_text import plain

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from optimizer.report.compare import Comparison
    from optimizer.report.facts import Facts
    from optimizer.results.frontier import Frontier, FrontierPoint

# Figures are drawn on FigureCanvasAgg explicitly; the default backend is set too, so that
# nothing here ever tries a display.
matplotlib.use("Agg")

PLAN, NOTHING, WORST, EXPECTED = "#1f77b4", "#9a9a9a", "#d62728", "#333333"
EXPECTED_LINE = "#ff7f0e"
COST_COLOURS = ("#4e79a7", "#76b7b2", "#59a14f", "#edc948", "#b07aa1")
OPTION_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                  "#17becf", "#bcbd22")
HISTOGRAM_ABOVE = 60  # more scenarios than this: a histogram instead of one bar each
# text.parse_math off: ids and names from the files are plain text; mathtext would read
# "$\\undefinedmacro$" as a formula and fail, and nested braces make it recurse for seconds.
RC = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "community-resilience",
      "font.size": 9,
      "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False,
      "axes.titlesize": 10, "axes.titleweight": "bold", "axes.titlelocation": "left"}

def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _unique_ids(svg: str, prefix: str) -> str:
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg
    names = "|".join(map(re.escape, ids))
    pattern = re.compile(r'(\bid="|url\(#|href="#)(' + names + r')(?=["\)])')
    return pattern.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def _plain_texts(fig: Figure) -> None:
    """Every text of the figure without control characters (ids and names come from the
    files; a font has no glyph for ESC, and matplotlib warns for each)."""
    for artist in fig.findobj(Text):
        artist.set_text(plain(artist.get_text()))


def inline_svg(fig: Figure, label: str) -> str:
    """The figure as an ``<svg>`` element that scales to its container.

    Ids are prefixed with a key made from ``label``, which must be unique in the page.
    """
    key = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        _plain_texts(fig)
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                  lambda m: f'<svg{m.group(1)} width="100%" role="img" '
                            f'aria-label="{label}"', text, count=1)
    return _unique_ids(text, key)


def _scenario_axes(fig: Figure, ranked: Sequence[ScenarioResult],
                   baseline: dict[str, float] | None, worst: float, expected: float) -> None:
    ax = fig.add_subplot()
    order = sorted(ranked, key=lambda s: (s.resilience, s.id))
    values = [s.resilience for s in order]
    if len(order) > HISTOGRAM_ABOVE:
        bins = [i / 20 for i in range(21)]
        ax.hist(values, bins=bins, color=PLAN, label="plan", alpha=0.85)
        if baseline:
            ax.hist(list(baseline.values()), bins=bins, color=NOTHING, alpha=0.6,
                    label="doing nothing")
        ax.axvline(worst, color=WORST, ls="--", lw=1.2, label=f"worst case {worst:.4f}")
        ax.axvline(expected, color=EXPECTED, ls=":", lw=1.2, label=f"expected {expected:.4f}")
        ax.set_xlabel("scenario resilience R_s")
        ax.set_ylabel("scenarios")
    else:
        xs = range(len(order))
        ax.bar(xs, values, color=PLAN, width=0.7, label="plan")
        if baseline:
            ax.scatter(xs, [baseline.get(s.id, float("nan")) for s in order], color=NOTHING,
                       zorder=3, s=18, label="doing nothing")
        ax.axhline(worst, color=WORST, ls="--", lw=1.2, label=f"worst case {worst:.4f}")
        ax.axhline(expected, color=EXPECTED, ls=":", lw=1.2, label=f"expected {expected:.4f}")
        ax.set_xticks(list(xs), [s.id for s in order], rotation=90 if len(order) > 12 else 0,
                      fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("resilience R_s")
        ax.set_xlabel("scenarios, worst first")
    fig.legend(loc="outside upper center", fontsize=8, frameon=False, ncols=4)


def scenario_chart(facts: Facts) -> str:
    """Every scenario's resilience, worst first, with doing nothing for comparison."""
    with matplotlib.rc_context(RC):
        fig = _figure(8.0, 3.2)
        res = facts.result.resilience
        _scenario_axes(fig, facts.ranked, None if facts.baseline is None
                       else facts.baseline.resilience, res.worst_case, res.expected)
        return inline_svg(fig, "Resilience of every scenario")


def cost_chart(costs: Sequence[tuple[str, Cost]], width: float = 7.2,
               currency: str | None = None) -> str:
    """Cost lines stacked against the budget, one bar per plan."""
    from optimizer.report.fmt import label, money

    with matplotlib.rc_context(RC):
        fig = _figure(width, 1.25 + 0.42 * len(costs))
        ax = fig.add_subplot()
        for row, (_, cost) in enumerate(costs):
            left = 0.0
            for n, line in enumerate(Cost.LINES):
                amount = getattr(cost, line)
                ax.barh(row, amount, left=left, color=COST_COLOURS[n], height=0.55,
                        label=label(line) if row == 0 else None)
                left += amount
            ax.plot([cost.budget, cost.budget], [row - 0.38, row + 0.38], color=WORST, lw=2,
                    label="budget" if row == 0 else None)
            ax.text(max(left, cost.budget) * 1.01, row, f"{money(cost.total)} of "
                    f"{money(cost.budget)}", va="center", fontsize=8)
        ax.set_yticks(range(len(costs)), [name for name, _ in costs])
        ax.invert_yaxis()
        top = max(max(c.total, c.budget) for _, c in costs)
        ax.set_xlim(0, top * 1.32 if top > 0 else 1)
        ax.set_xlabel(f"money ({currency})" if currency else "money")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        fig.legend(loc="outside upper center", ncols=6, fontsize=8, frameon=False)
        return inline_svg(fig, "Cost lines against the budget")


def curve_points(steps: Sequence[RestorationStep], start: float | None,
                 horizon: int | None) -> tuple[list[int], list[float]]:
    """A schedule's recovery curve as (period, resilience) corners: the value at period t
    is the resilience with every road back by t (roads that return together count once),
    drawn to ``horizon`` (one crew's time for every repair) when the file gives it.

    Results from before crews list one road per period; their periods are the same.
    """
    points: dict[int, float] = {}
    if steps and steps[0].repaired_edge is None:
        points[steps[0].period] = steps[0].resilience
    elif start is not None:
        points[0] = start
    for step in steps:
        if step.repaired_edge is not None:
            points[step.period] = step.resilience  # the last of a period holds
    if not points:
        return [], []
    xs = sorted(points)
    ys = [points[x] for x in xs]
    if horizon is not None and horizon > xs[-1]:
        xs.append(horizon)
        ys.append(ys[-1])
    return xs, ys


def recovery_chart(recovery: Sequence[ScenarioRecovery],
                   scenarios: Sequence[ScenarioResult], highlight: int = 3) -> str:
    """Resilience over the periods after the event, per scenario; the worst in colour.

    The x axis is time in periods: a road is back when its crew has finished it (its
    repair time), several crews working in parallel. For a scenario solved exactly
    (``recover --exact``), the optimal schedule's curve is drawn dashed beside the greedy.
    """
    start = {s.id: s.resilience for s in scenarios}
    ranked = sorted((r for r in recovery if r.restoration),
                    key=lambda r: (start.get(r.id, 1.0), r.id))
    crews = sorted({r.crews for r in ranked if r.crews is not None})
    with matplotlib.rc_context(RC):
        fig = _figure(8.0, 3.0)
        ax = fig.add_subplot()
        for n, rec in enumerate(ranked):
            xs, ys = curve_points(rec.restoration, start.get(rec.id), rec.horizon)
            if n < highlight:
                area = "" if rec.recovery_area is None else f" (area {rec.recovery_area:.3g})"
                ax.step(xs, ys, where="post", lw=1.8, color=OPTION_COLOURS[n], marker="o",
                        ms=3, label=f"{rec.id}{area}", zorder=3)
            else:
                ax.step(xs, ys, where="post", lw=0.8, color=NOTHING, alpha=0.6)
            if rec.exact is not None and rec.exact.restoration:
                xs, ys = curve_points(rec.exact.restoration, start.get(rec.id), rec.horizon)
                colour = OPTION_COLOURS[n] if n < highlight else NOTHING
                area = ("" if rec.exact.recovery_area is None
                        else f" (area {rec.exact.recovery_area:.3g})")
                ax.step(xs, ys, where="post", lw=1.4, ls="--", color=colour,
                        label=f"{rec.id} optimal{area}", zorder=4)
        team = ("" if not crews else
                f", {'/'.join(map(str, crews))} crew{'s' if crews[-1] > 1 else ''}")
        ax.set_xlabel(f"periods after the event{team}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("resilience")
        ax.set_ylim(0, 1.05)
        if ranked:
            fig.legend(loc="outside upper center", fontsize=8, frameon=False, ncols=4)
        return inline_svg(fig, "Recovery curves")


def comparison_chart(comparison: Comparison) -> str:
    """Each option's resilience per scenario (sorted by the first option), and doing nothing."""
    first = comparison.options[0]
    order = sorted(comparison.scenario_ids,
                   key=lambda s: (first.scenario.get(s, 0.0), s))
    with matplotlib.rc_context(RC):
        fig = _figure(8.0, 3.2)
        ax = fig.add_subplot()
        xs = range(len(order))
        if comparison.baseline is not None:
            ax.plot(xs, [comparison.baseline.get(s, float("nan")) for s in order], "o",
                    color=NOTHING, ms=4, label="doing nothing")
        for n, option in enumerate(comparison.options):
            colour = OPTION_COLOURS[n % len(OPTION_COLOURS)]
            ax.plot(xs, [option.scenario.get(s, float("nan")) for s in order], "-o",
                    color=colour, ms=3.5, lw=1.3, label=option.label)
        ax.set_xticks(list(xs), order, rotation=90 if len(order) > 12 else 0, fontsize=8)
        if len(order) > HISTOGRAM_ABOVE:
            ax.set_xticks([])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("resilience R_s")
        ax.set_xlabel(f"scenarios, worst first under {first.label}")
        fig.legend(loc="outside upper center", fontsize=8, frameon=False, ncols=5)
        return inline_svg(fig, "Resilience per scenario, by option")


def frontier_picture(frontier: Frontier, fmt: str) -> bytes:
    """The budget frontier and its marginal gains, as PNG or SVG bytes.

    Drawn in a fixed order (resilience above, gains below, then the knee on both): the
    order of the artists is the order of the SVG's elements.
    """
    points = [p for p in frontier.points if p.value is not None]
    from optimizer.report.words import kind

    label = kind(frontier.objective)
    with matplotlib.rc_context(RC):
        fig = _figure(7.5, 5.6)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        _frontier_resilience(top, frontier, points, label)
        _frontier_gains(bottom, frontier, points, label)
        _frontier_knee(top, bottom, frontier)
        bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        bottom.set_ylabel("gain per 1,000")
        bottom.set_xlabel("budget")
        top.legend(loc="lower right", fontsize=8)
        bottom.legend(loc="upper right", fontsize=8)
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        _plain_texts(fig)
        fig.savefig(buffer, format=fmt, dpi=150, metadata=metadata)
        return buffer.getvalue()


def _frontier_resilience(ax: Axes, frontier: Frontier, points: list[FrontierPoint],
                         label: str) -> None:
    """Worst-case and expected resilience against the budget, doing nothing at budget 0,
    and the budgets no plan fits, plans carried forward and targets reached."""
    failed = [p for p in frontier.points if p.value is None]
    xs = [p.budget for p in points]
    nothing = frontier.nothing
    if points:  # from doing nothing to the first plan: no budget in between was solved
        ax.plot([0.0, xs[0]], [nothing.worst_case, points[0].worst_case], ":",
                color=PLAN, lw=1)
        ax.plot([0.0, xs[0]], [nothing.expected, points[0].expected], ":",
                color=EXPECTED_LINE, lw=1)
    ax.plot(xs, [p.worst_case for p in points], "-o", color=PLAN, label="worst case", ms=4)
    ax.plot(xs, [p.expected for p in points], "--s", color=EXPECTED_LINE,
            label="expected", ms=3.5)
    ax.plot([0.0, 0.0], [nothing.worst_case, nothing.expected], "o", color=NOTHING,
            ms=7, label="doing nothing (budget 0)")
    if failed:
        ax.plot([p.budget for p in failed], [0.0] * len(failed), "v", color=WORST, ms=7,
                clip_on=False, label="no plan fits the budget")
    carried = [p for p in points if p.carried_from is not None]
    if carried:
        ax.plot([p.budget for p in carried], [p.value for p in carried], "x",
                color=WORST, ms=8, label="plan carried forward")
    reached = [t for t in frontier.targets if t.cost is not None]
    if reached:
        ax.plot([t.cost for t in reached], [t.worst_case for t in reached], "D",
                color="#2ca02c", ms=5, label="cheapest plan for a worst-case target")
    ax.set_ylabel("resilience")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Budget frontier of {frontier.instance_name} ({label} maximised)")


def _frontier_gains(ax: Axes, frontier: Frontier, points: list[FrontierPoint],
                    label: str) -> None:
    """Resilience gained per 1,000 between successive budgets, and the diminishing-returns
    threshold."""
    budgets = [0.0, *(p.budget for p in points)]
    marginal = [p.marginal_per_1000 or 0.0 for p in points]
    widths = [b - a for a, b in itertools.pairwise(budgets)]
    ax.bar(budgets[:-1], marginal, width=widths, align="edge", color=PLAN, alpha=0.75,
           edgecolor="white", label=f"{label} gained per 1,000")
    if frontier.threshold_per_1000 is not None and frontier.threshold_per_1000 > 0:
        ax.axhline(frontier.threshold_per_1000, color=WORST, ls=":", lw=1.2,
                   label=f"{frontier.diminishing_share:.0%} of the best rate")


def _frontier_knee(top: Axes, bottom: Axes, frontier: Frontier) -> None:
    """Where returns diminish: a line across both axes, and a note above."""
    knee = frontier.knee
    if knee is not None and knee.value is not None:
        for ax in (top, bottom):
            ax.axvline(knee.budget, color=WORST, ls="--", lw=1.2)
        top.annotate(f"returns diminish\nbeyond {knee.budget:,.0f}",
                     (knee.budget, knee.value), textcoords="offset points",
                     xytext=(8, -34), fontsize=8, color=WORST)
