"""The report, the comparison and the budget frontier as tidy typed tables, for machines.

Each function returns :class:`Sheet` objects: one table each, one header row, one value per
cell as the result file has it (numbers at full precision, ``None`` for a missing value,
booleans, lists), and the *kind* of every column, so that each renderer can type its cells:
CSV (``optimizer.report.tables``) writes one plain table per file that ``pandas.read_csv``
loads as it is; the spreadsheet (``optimizer.report.xlsx``) formats money with the
instance's currency and shares as percentages.

The report's tables are ``summary`` (key, value: with ``decided_by``, the result's sentence
on what decided the plan, and ``pinned_scenarios``), ``costs``, ``depots``, ``shelters``,
``scenarios`` (with each scenario's ``ceiling``, the most any plan could reach there, and
``pinned``, true when the ceiling is the worst-case optimum; both empty for a result file that
does not record them), ``unmet`` (every scenario and zone with unmet need or unsheltered
people), when the result records the solver's stages, ``stages`` (in order: the file's name
of the stage, the stage in words, its status, the value it reached and its seconds), and, when
the result has a recovery analysis, ``recovery`` (every step of the greedy schedule, and of
the optimal one where ``recover --exact`` solved it: period, road, crew, start, resilience),
``recovery_exact`` (greedy against optimal areas) and ``recovery_zones`` (per scenario,
affected zone and kind of facility: cut off, out of reach, detour ratio, disjoint paths; an
empty cell is infinite or unbounded), and ``recovery_pending`` (scenarios a time limit left
without recovery paths). The
comparison's are ``options`` (with each option's objective, ``pinned``, how many scenarios are
pinned at their ceiling, empty when the file does not say, ``pinned_scenarios`` and
``decided_by``), ``costs``, ``resilience``, ``facilities``, ``scenarios`` and, when the results
came from one ``sweep``, ``frontier``.

The frontier is one table, one row per point: ``kind`` is ``nothing`` (doing nothing, budget
0), ``budget`` (a swept budget) or ``target`` (the cheapest plan reaching a worst-case
target; its ``budget`` is the ceiling it was solved under).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from optimizer.report import words
from optimizer.report.compare import Comparison
from optimizer.report.facts import Decided, Facts
from optimizer.results.document import Cost, FrontierSection

if TYPE_CHECKING:  # the sweep module brings the solver; a report's tables do not need it
    from optimizer.results.frontier import Frontier


class Kind(StrEnum):
    """What a column holds, so that a renderer can type its cells."""

    TEXT = "text"
    MONEY = "money"  # in the instance's currency
    SHARE = "share"  # a fraction of 1: resilience, its terms, probabilities, budget shares
    UNITS = "units"  # supply units and people (fractions possible)
    COUNT = "count"  # whole numbers: modules, periods, ranks, paths
    NUMBER = "number"  # any other number: ratios, gains per 1,000, seconds
    FLAG = "flag"  # true or false
    LIST = "list"  # several ids; JSON text in a cell


T, M, S, U, C, N, F, L = (Kind.TEXT, Kind.MONEY, Kind.SHARE, Kind.UNITS, Kind.COUNT,
                          Kind.NUMBER, Kind.FLAG, Kind.LIST)


@dataclass(frozen=True)
class Sheet:
    """One tidy table: a name, its columns with their kinds, and its rows.

    ``value_kinds`` is for key/value tables (``summary``): the kind of each row's last cell.
    """

    name: str
    headers: tuple[str, ...]
    kinds: tuple[Kind, ...]
    rows: tuple[tuple[Any, ...], ...]
    value_kinds: tuple[Kind, ...] | None = None

    def kind(self, row: int, column: int) -> Kind:
        if self.value_kinds is not None and column == len(self.headers) - 1:
            return self.value_kinds[row]
        return self.kinds[column]


def _sheet(name: str, columns: Sequence[tuple[str, Kind]],
           rows: Sequence[Sequence[Any]]) -> Sheet:
    return Sheet(name, tuple(c for c, _ in columns), tuple(k for _, k in columns),
                 tuple(tuple(r) for r in rows))


def _pinned(d: Decided, scenario: str) -> bool | None:
    """Whether ``scenario`` is pinned at its ceiling; None when the file does not say."""
    return None if d.pinned is None else d.is_pinned(scenario)


def report_sheets(facts: Facts) -> list[Sheet]:
    """The report of one result, one table per section (module docstring)."""
    r = facts.result
    sheets = [_summary_sheet(facts), _costs_sheet(facts), _depots_sheet(facts),
              _shelters_sheet(facts), _scenarios_sheet(facts), _unmet_sheet(facts)]
    if facts.decided.stages:
        sheets.append(_stages_sheet(facts))
    if facts.recovery:
        sheets += _recovery_sheets(facts)
    if r.recovery_pending:
        sheets.append(_sheet("recovery_pending", [("scenario", T)],
                             [[sid] for sid in r.recovery_pending]))
    if r.frontier is not None:
        sheets.append(section_sheet(r.frontier))
    return sheets


def _summary_sheet(facts: Facts) -> Sheet:
    """``summary``: key, value, each value with its own kind."""
    r = facts.result
    base = facts.baseline
    summary: list[tuple[str, Any, Kind]] = [
        ("instance", r.instance.name, T), ("instance_sha256", r.instance.sha256, T),
        ("result", facts.source, T), ("status", r.status, T), ("objective", r.objective.kind, T),
        ("currency", facts.currency, T),
        ("budget", r.cost.budget, M), ("cost", r.cost.total, M),
        ("worst_case", r.resilience.worst_case, S), ("expected", r.resilience.expected, S),
        ("cvar_alpha", r.resilience.cvar.alpha, N), ("cvar", r.resilience.cvar.value, S),
        ("worst_scenario", facts.worst.id, T),
        ("do_nothing_worst_case", base and base.worst_case, S),
        ("do_nothing_expected", base and base.expected, S),
        ("do_nothing_cvar", base and base.cvar, S),
        ("worst_case_gain_per_1000", facts.gain_per_1000, N),
        ("decided_by", facts.decided.sentence or None, T),
        ("pinned_scenarios", None if facts.decided.pinned is None
         else list(facts.decided.pinned), L),
    ]
    return Sheet("summary", ("key", "value"), (T, T),
                 tuple((key, value) for key, value, _ in summary),
                 value_kinds=tuple(kind for _, _, kind in summary))


def _costs_sheet(facts: Facts) -> Sheet:
    """``costs``: every cost line, the total and the budget, with its share of the budget."""
    cost = facts.result.cost
    return _sheet("costs", [("line", T), ("amount", M), ("share_of_budget", S)],
                  [[line, getattr(cost, line),
                    getattr(cost, line) / cost.budget if cost.budget > 0 else None]
                   for line in Cost.ROWS])


def _depots_sheet(facts: Facts) -> Sheet:
    """``depots``: one row per depot, units bought and on hand per commodity."""
    ks = facts.commodities
    return _sheet(
        "depots", [("depot", T), ("node", T), ("existing", F), ("open", F),
                   *[(f"bought_{k}", U) for k in ks], *[(f"on_hand_{k}", U) for k in ks],
                   ("loss_in_worst_scenario", S)],
        [[f.id, f.node, f.existing, f.open, *[f.bought.get(k, 0.0) for k in ks],
          *[None if f.on_hand is None else f.on_hand.get(k, 0.0) for k in ks],
          f.loss_in_worst] for f in facts.facilities if f.kind == "depot"])


def _shelters_sheet(facts: Facts) -> Sheet:
    """``shelters``: one row per shelter."""
    return _sheet(
        "shelters", [("shelter", T), ("node", T), ("existing", F), ("open", F),
                     ("modules", C), ("capacity", U), ("loss_in_worst_scenario", S)],
        [[f.id, f.node, f.existing, f.open, f.modules, f.capacity, f.loss_in_worst]
         for f in facts.facilities if f.kind == "shelter"])


def _scenarios_sheet(facts: Facts) -> Sheet:
    """``scenarios``: each scenario's terms, doing nothing, rank, ceiling and pin."""
    base = facts.baseline
    nothing = base.resilience if base else {}
    rank = {s.id: n for n, s in enumerate(facts.ranked, start=1)}
    d = facts.decided
    return _sheet(
        "scenarios", [("scenario", T), ("probability", S), ("resilience", S), ("supply", S),
                      ("shelter", S), ("economic", S), ("do_nothing", S), ("rank", C),
                      ("ceiling", S), ("pinned", F)],
        [[s.id, s.probability, s.resilience, s.supply, s.shelter, s.economic,
          nothing.get(s.id), rank[s.id], d.ceiling(s.id), _pinned(d, s.id)]
         for s in facts.result.scenarios])


def _unmet_sheet(facts: Facts) -> Sheet:
    """``unmet``: every scenario and zone with unmet need or unsheltered people."""
    ks = facts.commodities
    population = ({} if facts.instance is None else
                  dict(zip(facts.instance.network.node_ids,
                           facts.instance.network.population.tolist(), strict=True)))
    unmet = []
    for s in facts.result.scenarios:
        for zone in sorted(set(s.unmet.need) | set(s.unmet.evacuees)):
            need = s.unmet.need.get(zone, {})
            unmet.append([s.id, zone, population.get(zone), *[need.get(k, 0.0) for k in ks],
                          s.unmet.evacuees.get(zone, 0.0)])
    return _sheet("unmet", [("scenario", T), ("zone", T), ("population", U),
                            *[(f"unmet_{k}", U) for k in ks], ("unsheltered", U)], unmet)


def _stages_sheet(facts: Facts) -> Sheet:
    """``stages``: the solver's stages in the order they ran."""
    r = facts.result
    return _sheet(
        "stages", [("order", C), ("stage", T), ("description", T), ("status", T),
                   ("value", N), ("seconds", N)],
        [[n, st.name, words.stage(st.name, r), st.status, st.value, st.seconds]
         for n, st in enumerate(facts.decided.stages, start=1)])


def _recovery_sheets(facts: Facts) -> list[Sheet]:
    """``recovery`` (every step of the greedy schedule and of the optimal one where it was
    solved), ``recovery_exact`` when some was, and the zones' measures."""
    steps = []
    for rec in facts.recovery:
        schedules = [("greedy", rec.restoration, rec.recovery_area)]
        if rec.exact is not None:
            schedules.append(("optimal", rec.exact.restoration, rec.exact.recovery_area))
        steps += [[rec.id, name, step.period, step.repaired_edge, step.crew, step.start,
                   step.resilience, area, rec.crews]
                  for name, schedule, area in schedules for step in schedule]
    sheets = [_sheet(
        "recovery", [("scenario", T), ("schedule", T), ("period", C),
                     ("repaired_edge", T), ("crew", C), ("start", C), ("resilience", S),
                     ("recovery_area", S), ("crews", C)], steps)]
    exact = [[rec.id, rec.exact.crews, rec.recovery_area, rec.exact.recovery_area,
              rec.exact.status, rec.exact.bound, rec.exact.gap]
             for rec in facts.recovery if rec.exact is not None]
    if exact:
        sheets.append(_sheet(
            "recovery_exact", [("scenario", T), ("crews", C), ("greedy_area", S),
                               ("optimal_area", S), ("status", T), ("bound", S),
                               ("gap", N)], exact))
    sheets.append(_recovery_zones(facts))
    return sheets


def _recovery_zones(facts: Facts) -> Sheet:
    """Per scenario, zone and kind (supply, shelter): the measures of design section 5.

    One row per zone and kind when the result gives them as the engine does (zone lists per
    kind, ratios and path counts per zone and kind); any other shape goes out as JSON text
    per scenario.
    """
    rows = []
    for rec in facts.recovery:
        cut, far = rec.cut_off, rec.out_of_reach
        detour, paths = rec.detour_ratio or {}, rec.disjoint_paths or {}
        if not (isinstance(cut, dict) and isinstance(far, dict) and isinstance(detour, dict)
                and isinstance(paths, dict)):
            return _sheet("recovery_measures", [("scenario", T), ("cut_off", L),
                                                ("out_of_reach", L), ("detour_ratio", L),
                                                ("disjoint_paths", L)],
                          [[r.id, r.cut_off, r.out_of_reach, r.detour_ratio, r.disjoint_paths]
                           for r in facts.recovery])
        kinds = list(dict.fromkeys([*cut, *far, *(k for v in detour.values() if isinstance(
            v, dict) for k in v)]))
        zones = list(dict.fromkeys([*detour, *paths, *(z for v in cut.values() for z in v),
                                    *(z for v in far.values() for z in v)]))
        for zone in zones:
            for kind in kinds:
                rows.append([rec.id, zone, kind, zone in (cut.get(kind) or []),
                             zone in (far.get(kind) or []),
                             (detour.get(zone) or {}).get(kind),
                             (paths.get(zone) or {}).get(kind)])
    return _sheet("recovery_zones", [("scenario", T), ("zone", T), ("kind", T),
                                     ("cut_off", F), ("out_of_reach", F), ("detour_ratio", N),
                                     ("disjoint_paths", C)], rows)


def comparison_sheets(c: Comparison) -> list[Sheet]:
    """The comparison, one table per section; option columns are named by the labels."""
    names = [o.label for o in c.options]
    sheets = [_options_sheet(c),
              _sheet("costs", [("line", T), *[(n, M) for n in names]],
                     [[line, *[getattr(o.result.cost, line) for o in c.options]]
                      for line in Cost.ROWS]),
              _sheet("resilience", [("measure", T), *[(n, S) for n in names]],
                     [["worst_case", *[o.result.resilience.worst_case for o in c.options]],
                      ["expected", *[o.result.resilience.expected for o in c.options]],
                      ["cvar", *[o.result.resilience.cvar.value for o in c.options]]]),
              _facilities_sheet(c, names), _compared_scenarios_sheet(c, names)]
    if c.frontier is not None:
        sheets.append(section_sheet(c.frontier))
    return sheets


def _options_sheet(c: Comparison) -> Sheet:
    """``options``: one row per option (doing nothing first, when known)."""
    marginal = c.marginal()
    rows: list[list[Any]] = []
    base = c.baseline_summary
    if base is not None:
        rows.append(["doing nothing", "", None, "", 0.0, base.worst_case, base.expected,
                     c.options[0].result.resilience.cvar.alpha, base.cvar, None, None, None,
                     None, None, None, None])
    for o in c.options:
        r, d = o.result, o.decided
        rows.append([o.label, o.source, r.cost.budget, r.status, r.cost.total,
                     r.resilience.worst_case, r.resilience.expected, r.resilience.cvar.alpha,
                     r.resilience.cvar.value, o.gain_worst_per_1000, o.gain_expected_per_1000,
                     marginal[o.label], r.objective.kind,
                     None if d.pinned is None else len(d.pinned),
                     None if d.pinned is None else list(d.pinned), d.sentence or None])
    return _sheet("options", [
        ("option", T), ("file", T), ("budget", M), ("status", T), ("cost", M),
        ("worst_case", S), ("expected", S), ("cvar_alpha", N), ("cvar", S),
        ("worst_case_gain_per_1000", N), ("expected_gain_per_1000", N),
        ("worst_case_per_1000_vs_next_cheaper", N), ("objective", T), ("pinned", C),
        ("pinned_scenarios", L), ("decided_by", T)], rows)


def _facilities_sheet(c: Comparison, names: list[str]) -> Sheet:
    """``facilities``: per facility and field (open, stock, modules, capacity), each
    option's value and whether they differ; the compensation pool last."""
    rows = []
    for row in c.facilities:
        fields = (["open", *[f"bought_{k}" for k in c.commodities]] if row.kind == "depot"
                  else ["open", "modules", "capacity"])
        for name in fields:
            values = []
            for state in row.states:
                if state is None:
                    values.append(None)
                elif name == "open":
                    values.append(state.open)
                elif name.startswith("bought_"):
                    values.append(state.stock.get(name.removeprefix("bought_"), 0.0))
                else:
                    values.append(getattr(state, name))
            rows.append([row.kind, row.id, name, *values,
                         any(v != values[0] for v in values[1:])])
    pool = [o.result.decisions.compensation_pool for o in c.options]
    rows.append(["pool", "compensation_pool", "amount", *pool,
                 any(v != pool[0] for v in pool[1:])])
    # One column per option holds flags, units and money by row: typed as plain numbers.
    return _sheet("facilities", [("kind", T), ("facility", T), ("field", T),
                                 *[(n, N) for n in names], ("changed", F)], rows)


def _compared_scenarios_sheet(c: Comparison, names: list[str]) -> Sheet:
    """``scenarios``: each option's R_s per scenario, doing nothing, and each option's
    difference from the first."""
    nothing = c.baseline
    rows = []
    for sid in c.scenario_ids:
        values = [o.scenario.get(sid) for o in c.options]
        rows.append([sid, c.probabilities.get(sid), *values,
                     *([nothing.get(sid)] if nothing else []),
                     *[None if v is None or values[0] is None else v - values[0]
                       for v in values[1:]]])
    return _sheet("scenarios", [("scenario", T), ("probability", S),
                                *[(n, S) for n in names],
                                *([("do_nothing", S)] if nothing else []),
                                *[(f"{n} - {names[0]}", S) for n in names[1:]]], rows)


FRONTIER_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("kind", T), ("budget", M), ("target", S), ("status", T), ("worst_case", S),
    ("expected", S), ("cvar", S), ("cost", M), ("marginal_per_1000", N),
    ("diminishing_returns", F), ("note", T))


def frontier_records(frontier: Frontier) -> dict[str, object]:
    """The frontier as a result file's ``frontier`` section (``sweep --results``)."""
    sheet = frontier_sheet(frontier)
    keys = [name for name, _ in FRONTIER_COLUMNS]
    return {"objective": frontier.objective,
            "points": [dict(zip(keys, row, strict=True)) for row in sheet.rows]}


def section_sheet(section: FrontierSection) -> Sheet:
    """A result's ``frontier`` section as the same table as the sweep's CSV."""
    marginal = f"marginal_{section.objective}_per_1000"
    return _sheet("frontier", [(marginal if name == "marginal_per_1000" else name, kind)
                               for name, kind in FRONTIER_COLUMNS],
                  [[getattr(p, name) for name, _ in FRONTIER_COLUMNS] for p in section.points])


def frontier_sheet(frontier: Frontier) -> Sheet:
    """The frontier as one table (module docstring)."""
    marginal = f"marginal_{frontier.objective}_per_1000"
    n = frontier.nothing
    rows: list[list[Any]] = [["nothing", 0.0, None, None, n.worst_case, n.expected, n.cvar,
                              0.0, None, None, "existing assets only"]]
    knee = frontier.knee
    for p in frontier.points:
        note = p.note
        if knee is not None and p is knee:
            note = (f"returns diminish beyond this budget: every further 1,000 buys less than "
                    f"{frontier.diminishing_share:.0%} of the best rate on the frontier"
                    + (f"; {note}" if note else ""))
        rows.append(["budget", p.budget, None, p.status, p.worst_case, p.expected, p.cvar,
                     p.cost, p.marginal_per_1000, frontier.diminishing(p), note])
    for t in frontier.targets:
        rows.append(["target", t.ceiling, t.target, t.status, t.worst_case, t.expected, None,
                     t.cost, None, None, t.note])
    return _sheet("frontier", [("kind", T), ("budget", M), ("target", S), ("status", T),
                               ("worst_case", S), ("expected", S), ("cvar", S), ("cost", M),
                               (marginal, N), ("diminishing_returns", F), ("note", T)], rows)
