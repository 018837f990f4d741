"""The tables of the report and the comparison, formatted once for HTML and Markdown.

Each function returns a :class:`Table` of display strings (numbers as ``fmt`` writes them);
the HTML and Markdown modules only lay them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer.report import fmt, words
from optimizer.report.compare import Comparison
from optimizer.report.facts import Decided, Dimension, Facts, Shortfall, Stage
from optimizer.results.document import (
    Cost,
    FrontierSection,
    Result,
    ScenarioRecovery,
    ScenarioResult,
)

ZONES_SHOWN = 15  # rows per worst scenario in the table of who goes without
ALL_SCENARIOS_UP_TO = 60  # list every scenario up to this many, else the worst ones


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    classes: tuple[str, ...] = field(default=())  # per row: "", "total", "changed", ...

    def row_class(self, n: int) -> str:
        return self.classes[n] if n < len(self.classes) else ""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = (),
           classes: Sequence[str] = ()) -> Table:
    return Table(tuple(headers), tuple(tuple(str(v) for v in r) for r in rows),
                 frozenset(numeric), tuple(classes))


def _state(open_: bool, existing: bool | None) -> str:
    if not open_:
        return "closed"
    return "existing" if existing else "new" if existing is False else "open"


def key_figures(facts: Facts) -> Table:
    r, base = facts.result, facts.baseline
    res, cost = r.resilience, r.cost

    def row(name: str, value: float, nothing: float | None) -> list[str]:
        return [name, fmt.share(value), fmt.share(nothing),
                fmt.signed(None if nothing is None else value - nothing)]

    return _table(["", "the plan", "doing nothing", "difference"], [
        row("worst-case resilience", res.worst_case, base and base.worst_case),
        row("expected resilience", res.expected, base and base.expected),
        row(f"CVaR({res.cvar.alpha:g}) resilience", res.cvar.value, base and base.cvar),
        ["money spent", fmt.money(cost.total), fmt.money(0.0 if base else None),
         fmt.money(cost.total if base else None)],
    ], numeric=(1, 2, 3))


def facilities(facts: Facts) -> Table:
    rows, classes = [], []
    for f in facts.facilities:
        if f.kind == "depot":
            plan = ", ".join(f"{fmt.units(v)} {k}" for k, v in f.bought.items() if v) or "–"
            on_hand = ("–" if f.on_hand is None or not f.open else
                       ", ".join(f"{fmt.units(v)} {k}" for k, v in f.on_hand.items()))
        else:
            plan = f"{fmt.units(f.capacity)} places, {f.modules} modules" if f.open else "–"
            on_hand = "–"
        rows.append([f"{f.kind} {f.id}", f.node or "–", _state(f.open, f.existing), plan,
                     on_hand])
        classes.append("" if f.open else "closed")
    rows.append(["compensation pool", "–", "reserved",
                 fmt.money(facts.result.decisions.compensation_pool), "–"])
    classes.append("")
    return _table(["facility", "at", "state", "the plan buys", "on hand"], rows,
                  classes=classes)


def costs(cost: Cost, currency: str | None = None) -> Table:
    def share(amount: float) -> str:
        return fmt.percent(amount / cost.budget) if cost.budget > 0 else fmt.MISSING

    rows = [[fmt.label(line), fmt.money(getattr(cost, line)), share(getattr(cost, line))]
            for line in Cost.LINES]
    rows += [["total", fmt.money(cost.total), share(cost.total)],
             ["budget", fmt.money(cost.budget), share(cost.budget)],
             ["left unspent", fmt.money(cost.budget - cost.total),
              share(cost.budget - cost.total)]]
    amount = f"amount ({currency})" if currency else "amount"
    return _table(["line", amount, "share of budget"], rows, numeric=(1, 2),
                  classes=[""] * len(Cost.LINES) + ["total", "", ""])


def scenarios(facts: Facts, shown: Sequence[ScenarioResult]) -> Table:
    """Scenarios with their terms; the ceiling column when the result records ceilings,
    pinned scenarios marked ``(pinned)`` (row class "pinned")."""
    base = facts.baseline.resilience if facts.baseline else {}
    d = facts.decided
    ceilings = bool(d.ceilings)
    rows, classes = [], []
    for s in shown:
        b = base.get(s.id)
        pinned = d.is_pinned(s.id)
        rows.append([s.id + (words.PINNED_MARK if pinned else ""), fmt.percent(s.probability),
                     fmt.share(s.resilience),
                     *([fmt.share(d.ceiling(s.id))] if ceilings else []),
                     fmt.share(s.supply), fmt.share(s.shelter), fmt.share(s.economic),
                     fmt.share(b), fmt.signed(None if b is None else s.resilience - b)])
        classes.append("pinned" if pinned else "")
    head = ["scenario", "probability", "resilience", *(["ceiling"] if ceilings else []),
            "supply", "shelter", "economic", "doing nothing", "gain"]
    return _table(head, rows, numeric=range(1, len(head)), classes=classes)


def stages(d: Decided, result: Result) -> Table:
    """The solver's stages in order, each in words with the value it reached."""
    def value(stage: Stage) -> str:
        if stage.unit == "money":
            return fmt.money(stage.value)
        return (fmt.share if stage.unit == "share" else fmt.number)(stage.value)

    return _table(["#", "stage", "value", "status"],
                  [[n, words.stage(st.name, result), value(st), st.status or fmt.MISSING]
                   for n, st in enumerate(d.stages, start=1)], numeric=(0, 2))


def terms(facts: Facts) -> Table:
    return _table(["term", "weight", f"in {facts.worst.id}", "lowest over scenarios",
                   "expected"],
                  [[t.name, fmt.share(t.weight), fmt.share(t.in_worst), fmt.share(t.worst_case),
                    fmt.share(t.expected)] for t in facts.terms], numeric=range(1, 5))


def dimension(d: Dimension) -> Table:
    return _table(["measure", "value"], [[m.label, fmt.metric(m)] for m in d.metrics],
                  numeric=(1,))


def shortfall(facts: Facts, s: Shortfall) -> Table:
    head = ["zone", "population", *[f"{c} not delivered" for c in facts.commodities],
            "people unsheltered"]
    rows = [[z.zone, fmt.units(z.population),
             *[fmt.units(z.need.get(c, 0.0)) for c in facts.commodities],
             fmt.units(z.unsheltered)] for z in s.zones[:ZONES_SHOWN]]
    rows.append(["total", "",
                 *[fmt.units(sum(z.need.get(c, 0.0) for z in s.zones))
                   for c in facts.commodities],
                 fmt.units(sum(z.unsheltered for z in s.zones))])
    return _table(head, rows, numeric=range(1, len(head)), classes=[""] * (len(rows) - 1)
                  + ["total"])


def against_nothing(facts: Facts) -> Table:
    return key_figures(facts)


def brief(value: Any) -> str:
    """A measure in a shape this module does not know, in a few words."""
    if value is None:
        return fmt.MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return fmt.number(float(value))
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:4]) + ("…" if len(value) > 4 else "")
        return f"{len(value)}" + (f" ({shown})" if value else "")
    if isinstance(value, dict):
        return f"{len(value)} entries"
    return str(value)


def _by_kind(value: Any) -> dict[str, Any] | None:
    """``{"supply": ..., "shelter": ...}`` as the recovery section gives zone lists."""
    if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
        return value
    return None


def _per_zone(value: Any) -> dict[str, dict[str, Any]] | None:
    """``{zone: {"supply": x, "shelter": y}}`` as the recovery section gives ratios."""
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return value
    return None


def zones_by_kind(value: Any) -> str:
    """Zones listed per kind: ``supply: z8; shelter: none``."""
    kinds = _by_kind(value)
    if kinds is None:
        return brief(value)
    if not any(kinds.values()):
        return "none"

    def names(zones: list[Any]) -> str:
        shown = ", ".join(map(str, zones[:5])) + (f" +{len(zones) - 5}" if len(zones) > 5
                                                   else "")
        return shown or "none"

    return "; ".join(f"{kind}: {names(zones)}" for kind, zones in kinds.items())


def extreme_by_kind(value: Any, largest: bool) -> str:
    """Per kind, the largest (detour ratio) or smallest (disjoint paths) value and where.

    ``null`` values are left out: an infinite detour (no path at all, listed as cut off)
    or an unbounded number of paths (the zone hosts the facility).
    """
    zones = _per_zone(value)
    if zones is None:
        return brief(value)
    kinds = dict.fromkeys(k for by_kind in zones.values() for k in by_kind)
    parts = []
    for kind in kinds:
        values = {z: float(v[kind]) for z, v in zones.items()
                  if isinstance(v.get(kind), int | float) and not isinstance(v.get(kind), bool)}
        if not values:
            parts.append(f"{kind}: {fmt.MISSING}")
            continue
        pick = (max if largest else min)(values, key=lambda z: (values[z], z))
        parts.append(f"{kind}: {values[pick]:.3g} ({pick})")
    return "; ".join(parts) or fmt.MISSING


def recovery(facts: Facts) -> Table:
    order = {s.id: n for n, s in enumerate(facts.ranked)}
    rows = []
    items: list[ScenarioRecovery] = sorted(
        facts.recovery, key=lambda r: (order.get(r.id, len(order)), r.id))
    for rec in items:
        steps = sorted(rec.restoration, key=lambda x: x.period)
        repairs = sum(1 for x in steps if x.repaired_edge is not None)
        back = max((x.period for x in steps), default=0)
        rows.append([rec.id, zones_by_kind(rec.cut_off), zones_by_kind(rec.out_of_reach),
                     extreme_by_kind(rec.detour_ratio, largest=True),
                     extreme_by_kind(rec.disjoint_paths, largest=False), str(repairs),
                     fmt.MISSING if rec.crews is None else str(rec.crews), str(back),
                     fmt.share(steps[0].resilience if steps else None),
                     fmt.share(steps[-1].resilience if steps else None),
                     fmt.share(rec.recovery_area)])
    return _table(["scenario", "zones cut off", "out of reach", "largest detour ratio",
                   "fewest disjoint paths", "repairs", "crews", "all back by period",
                   "resilience at first", "after all repairs", "recovery area"], rows,
                  numeric=(5, 6, 7, 8, 9, 10))


# Scenarios whose order of repairs the reports spell out (the worst first).
REPAIR_ORDERS_SHOWN = 3


def repair_order(facts: Facts, shown: int = REPAIR_ORDERS_SHOWN) -> Table:
    """For the worst scenarios that cut roads: each repair in the order roads come back,
    with its crew, when it began and ended, and the resilience then (greedy schedule, and
    the optimal one where ``recover --exact`` solved it)."""
    order = {s.id: n for n, s in enumerate(facts.ranked)}
    hit = sorted((r for r in facts.recovery
                  if any(x.repaired_edge is not None for x in r.restoration)),
                 key=lambda r: (order.get(r.id, len(order)), r.id))[:shown]
    rows = []
    for rec in hit:
        schedules = [("greedy", rec.restoration)]
        if rec.exact is not None and rec.exact.restoration:
            schedules.append(("optimal", rec.exact.restoration))
        for name, steps in schedules:
            for n, step in enumerate(x for x in steps if x.repaired_edge is not None):
                rows.append([rec.id, name, str(n + 1), str(step.repaired_edge),
                             fmt.MISSING if step.crew is None else str(step.crew),
                             fmt.MISSING if step.start is None else str(step.start),
                             str(step.period), fmt.share(step.resilience)])
    return _table(["scenario", "schedule", "#", "road", "crew", "begun", "back at period",
                   "resilience then"], rows, numeric=(2, 4, 5, 6, 7))


def exact_against_greedy(facts: Facts) -> Table:
    """Scenarios solved exactly: the greedy area, the optimal one, the gain and the proof."""
    rows = []
    for rec in facts.recovery:
        ex = rec.exact
        if ex is None:
            continue
        gain = (None if ex.recovery_area is None or rec.recovery_area is None
                else ex.recovery_area - rec.recovery_area)
        rows.append([rec.id, fmt.MISSING if ex.crews is None else str(ex.crews),
                     fmt.share(rec.recovery_area), fmt.share(ex.recovery_area),
                     fmt.share(gain), ex.status, fmt.share(ex.bound)])
    return _table(["scenario", "crews", "greedy area", "optimal area", "gain", "status",
                   "bound"], rows, numeric=(1, 2, 3, 4, 6))


# --------------------------------------------------------------------- the comparison


def _deltas(c: Comparison) -> list[str]:
    names = [o.label for o in c.options]
    return [f"{n} − {names[0]}" for n in names[1:]]


def options(c: Comparison) -> Table:
    marginal = c.marginal()
    rows = []
    base = c.baseline_summary
    if base is not None:
        rows.append(["doing nothing", fmt.MISSING, fmt.MISSING, fmt.money(0.0),
                     fmt.share(base.worst_case), fmt.share(base.expected),
                     fmt.share(base.cvar), fmt.MISSING, fmt.MISSING, fmt.MISSING])
    for o in c.options:
        r = o.result
        rows.append([o.label, fmt.money(r.cost.budget), r.status, fmt.money(r.cost.total),
                     fmt.share(r.resilience.worst_case), fmt.share(r.resilience.expected),
                     fmt.share(r.resilience.cvar.value), fmt.per_1000(o.gain_worst_per_1000),
                     fmt.per_1000(o.gain_expected_per_1000), fmt.per_1000(marginal[o.label])])
    alpha = c.options[0].result.resilience.cvar.alpha
    return _table(["option", "budget", "status", "cost", "worst case", "expected",
                   f"CVaR({alpha:g})", "worst case per 1,000 vs nothing",
                   "expected per 1,000 vs nothing", "worst case per 1,000 vs next cheaper"],
                  rows, numeric=(1, 3, 4, 5, 6, 7, 8, 9))


def decisions(c: Comparison) -> Table:
    """Per option: its objective, its pinned scenarios and what decided its plan."""
    rows = []
    for o in c.options:
        d = o.decided
        rows.append([o.label, words.objective(o.result), words.pinned_brief(d),
                     words.decided_by(d) or (fmt.MISSING if d.recorded else "not recorded")])
    return _table(["option", "objective", "pinned at the ceiling", "what decided the plan"],
                  rows)


def cost_lines(c: Comparison) -> Table:
    rows, classes = [], []
    for line in Cost.ROWS:
        values = [getattr(o.result.cost, line) for o in c.options]
        rows.append([fmt.label(line), *[fmt.money(v) for v in values],
                     *[fmt.money(v - values[0]) for v in values[1:]]])
        classes.append("total" if line == "total" else "")
    width = 1 + len(c.options) + len(c.options) - 1
    return _table(["line", *[o.label for o in c.options], *_deltas(c)], rows,
                  numeric=range(1, width), classes=classes)


def resilience(c: Comparison) -> Table:
    alpha = c.options[0].result.resilience.cvar.alpha
    rows = []
    for key, name in (("worst_case", "worst case"), ("expected", "expected"),
                      ("cvar", f"CVaR({alpha:g})")):
        values = [o.result.resilience.cvar.value if key == "cvar"
                  else getattr(o.result.resilience, key) for o in c.options]
        rows.append([name, *[fmt.share(v) for v in values],
                     *[fmt.signed(v - values[0]) for v in values[1:]]])
    width = 1 + len(c.options) + len(c.options) - 1
    return _table(["", *[o.label for o in c.options], *_deltas(c)], rows,
                  numeric=range(1, width))


def facility_changes(c: Comparison) -> Table:
    rows, classes = [], []
    for row in c.facilities:
        rows.append([f"{row.kind} {row.id}",
                     *[fmt.MISSING if s is None else s.describe(row.kind) for s in row.states],
                     "changed" if row.changed else ""])
        classes.append("changed" if row.changed else "")
    pool = [o.result.decisions.compensation_pool for o in c.options]
    changed = any(abs(v - pool[0]) > 0.005 for v in pool)
    rows.append(["compensation pool", *[fmt.money(v) for v in pool],
                 "changed" if changed else ""])
    classes.append("changed" if changed else "")
    return _table(["facility", *[o.label for o in c.options], ""], rows, classes=classes)


def scenario_differences(c: Comparison) -> Table:
    nothing = c.baseline
    head = ["scenario", "probability", *[o.label for o in c.options],
            *(["doing nothing"] if nothing else []), *_deltas(c)]
    rows = []
    for sid in sorted(c.scenario_ids, key=lambda s: (c.options[0].scenario.get(s, 2.0), s)):
        values = [o.scenario.get(sid) for o in c.options]
        rows.append([sid, fmt.percent(c.probabilities.get(sid)),
                     *[fmt.share(v) for v in values],
                     *([fmt.share(nothing.get(sid))] if nothing else []),
                     *[fmt.signed(None if v is None or values[0] is None else v - values[0])
                       for v in values[1:]]])
    return _table(head, rows, numeric=range(1, len(head)))


def frontier(section: FrontierSection, here: Sequence[float] = ()) -> Table:
    """The budget frontier a sweep solved; rows at the budgets in ``here`` (this result's,
    or the compared ones) marked."""
    body, classes = [], []
    for p in section.points:
        kind = {"nothing": "doing nothing", "budget": "budget", "target": "target"}.get(
            p.kind, p.kind)
        if p.kind == "target" and p.target is not None:
            kind = f"target {fmt.share(p.target)}"
        body.append([kind, fmt.money(p.budget), fmt.share(p.worst_case), fmt.share(p.expected),
                     fmt.share(p.cvar), fmt.money(p.cost), fmt.per_1000(p.marginal_per_1000),
                     "yes" if p.diminishing_returns else "", p.note or ""])
        mine = p.kind == "budget" and p.budget is not None and any(
            abs(p.budget - b) <= 1e-9 * max(1.0, abs(b)) for b in here)
        classes.append("changed" if mine else "")
    objective = section.objective.replace("_", " ")
    return _table(["point", "budget", "worst case", "expected", "CVaR", "spent",
                   f"{objective} per 1,000", "returns diminish", "note"], body,
                  numeric=(1, 2, 3, 4, 5, 6), classes=classes)
