"""CSV for spreadsheets: the report, the comparison and the budget frontier.

Numbers keep full precision (as the result file has them); a missing value is an empty
cell; yes/no values are ``true``/``false``.

The report and the comparison are one file each with several sections, so that one
download holds everything. A section is a title row with a single cell in square brackets
(``[costs]``), a header row, the data rows, and an empty row. Spreadsheets show it as
stacked tables; a program splits the file on the title rows. The report's sections are
``summary`` (with ``decided_by``, the result's sentence on what decided the plan, and
``pinned_scenarios``), ``costs``, ``depots``, ``shelters``, ``scenarios`` (with each
scenario's ``ceiling``, the most any plan could reach there, and ``pinned``, true when the
ceiling is the worst-case optimum; both empty for a result file that does not record them),
``unmet`` (every scenario and zone with unmet need or unsheltered people), when the result
records the solver's stages, ``stages`` (in order: the file's name of the stage, the stage in
words, its status, the value it reached and its seconds; the solver's internal recourse
polish is left out), and, when the result has a recovery analysis, ``recovery`` (the
restoration schedule: resilience after each repair) and ``recovery_zones`` (per scenario,
affected zone and kind of facility: cut off, out of reach, detour ratio, disjoint paths; an
empty cell is infinite or unbounded). The comparison's sections are ``options`` (with each
option's objective, ``pinned``, how many scenarios are pinned at their ceiling, empty when
the file does not say, ``pinned_scenarios`` and ``decided_by``), ``costs``, ``resilience``,
``facilities`` and ``scenarios``.

The frontier is one plain table (one header row), one row per point: ``kind`` is
``nothing`` (doing nothing, budget 0), ``budget`` (a swept budget) or ``target`` (the
cheapest plan reaching a worst-case target; its ``budget`` is the ceiling it was solved
under).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from optimizer.report import words
from optimizer.report.compare import Comparison
from optimizer.report.document import Cost
from optimizer.report.facts import Decided, Facts
from optimizer.safe_text import csv_cell

if TYPE_CHECKING:  # the sweep module brings the solver; CSV of a report does not need it
    from optimizer.report.sweep import Frontier


def _value(v: Any) -> Any:
    """A cell: booleans and nested values as JSON-like text, and never a formula."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return csv_cell(json.dumps(v, sort_keys=True))
    return csv_cell(v)


class _Sections:
    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")

    def add(self, name: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.writer.writerow([f"[{name}]"])
        self.writer.writerow([_value(h) for h in headers])
        self.writer.writerows([[_value(v) for v in row] for row in rows])
        self.writer.writerow([])

    def text(self) -> str:
        return self.buffer.getvalue()


def report_csv(facts: Facts) -> str:
    """The report of one result as CSV sections."""
    r = facts.result
    base = facts.baseline
    out = _Sections()
    summary = [
        ("instance", r.instance.name), ("instance_sha256", r.instance.sha256),
        ("result", facts.source), ("status", r.status), ("objective", r.objective.kind),
        ("budget", r.cost.budget), ("cost", r.cost.total),
        ("worst_case", r.resilience.worst_case), ("expected", r.resilience.expected),
        ("cvar_alpha", r.resilience.cvar.alpha), ("cvar", r.resilience.cvar.value),
        ("worst_scenario", facts.worst.id),
        ("do_nothing_worst_case", base and base.worst_case),
        ("do_nothing_expected", base and base.expected),
        ("do_nothing_cvar", base and base.cvar),
        ("worst_case_gain_per_1000", facts.gain_per_1000),
        ("decided_by", facts.decided.sentence or None),
        ("pinned_scenarios", None if facts.decided.pinned is None
         else list(facts.decided.pinned)),
    ]
    out.add("summary", ["key", "value"], summary)
    out.add("costs", ["line", "amount", "share_of_budget"],
            [[line, getattr(r.cost, line),
              getattr(r.cost, line) / r.cost.budget if r.cost.budget > 0 else None]
             for line in (*Cost.LINES, "total", "budget")])
    ks = facts.commodities
    out.add("depots", ["depot", "node", "existing", "open", *[f"bought_{k}" for k in ks],
                       *[f"on_hand_{k}" for k in ks], "loss_in_worst_scenario"],
            [[f.id, f.node, f.existing, f.open, *[f.bought.get(k, 0.0) for k in ks],
              *[None if f.on_hand is None else f.on_hand.get(k, 0.0) for k in ks],
              f.loss_in_worst] for f in facts.facilities if f.kind == "depot"])
    out.add("shelters", ["shelter", "node", "existing", "open", "modules", "capacity",
                         "loss_in_worst_scenario"],
            [[f.id, f.node, f.existing, f.open, f.modules, f.capacity, f.loss_in_worst]
             for f in facts.facilities if f.kind == "shelter"])
    nothing = base.resilience if base else {}
    rank = {s.id: n for n, s in enumerate(facts.ranked, start=1)}
    d = facts.decided
    out.add("scenarios", ["scenario", "probability", "resilience", "supply", "shelter",
                          "economic", "do_nothing", "rank", "ceiling", "pinned"],
            [[s.id, s.probability, s.resilience, s.supply, s.shelter, s.economic,
              nothing.get(s.id), rank[s.id], d.ceiling(s.id), _pinned(d, s.id)]
             for s in r.scenarios])
    population = ({} if facts.instance is None else
                  dict(zip(facts.instance.network.node_ids,
                           facts.instance.network.population.tolist(), strict=True)))
    unmet = []
    for s in r.scenarios:
        for zone in sorted(set(s.unmet.need) | set(s.unmet.evacuees)):
            need = s.unmet.need.get(zone, {})
            unmet.append([s.id, zone, population.get(zone), *[need.get(k, 0.0) for k in ks],
                          s.unmet.evacuees.get(zone, 0.0)])
    out.add("unmet", ["scenario", "zone", "population", *[f"unmet_{k}" for k in ks],
                      "unsheltered"], unmet)
    if d.stages:
        out.add("stages", ["order", "stage", "description", "status", "value", "seconds"],
                [[n, st.name, words.stage(st.name, r), st.status, st.value, st.seconds]
                 for n, st in enumerate(d.stages, start=1)])
    if facts.recovery:
        out.add("recovery", ["scenario", "period", "repaired_edge", "resilience",
                             "recovery_area"],
                [[rec.id, step.period, step.repaired_edge, step.resilience, rec.recovery_area]
                 for rec in facts.recovery for step in rec.restoration])
        _recovery_zones(out, facts)
    return out.text()


def _pinned(d: Decided, scenario: str) -> bool | None:
    """Whether ``scenario`` is pinned at its ceiling; None when the file does not say."""
    return None if d.pinned is None else d.is_pinned(scenario)


def _recovery_zones(out: _Sections, facts: Facts) -> None:
    """Per scenario, zone and kind (supply, shelter): the measures of design section 5.

    Written when the result gives them as the engine does (zone lists per kind, ratios and
    path counts per zone and kind); any other shape goes out as JSON text per scenario.
    """
    rows = []
    structured = True
    for rec in facts.recovery:
        cut, far = rec.cut_off, rec.out_of_reach
        detour, paths = rec.detour_ratio or {}, rec.disjoint_paths or {}
        if not (isinstance(cut, dict) and isinstance(far, dict) and isinstance(detour, dict)
                and isinstance(paths, dict)):
            structured = False
            break
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
    if structured:
        out.add("recovery_zones", ["scenario", "zone", "kind", "cut_off", "out_of_reach",
                                   "detour_ratio", "disjoint_paths"], rows)
    else:
        out.add("recovery_measures", ["scenario", "cut_off", "out_of_reach", "detour_ratio",
                                      "disjoint_paths"],
                [[r.id, r.cut_off, r.out_of_reach, r.detour_ratio, r.disjoint_paths]
                 for r in facts.recovery])


def comparison_csv(c: Comparison) -> str:
    """The comparison as CSV sections; option columns are named by the options' labels."""
    out = _Sections()
    names = [o.label for o in c.options]
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
    out.add("options", ["option", "file", "budget", "status", "cost", "worst_case", "expected",
                        "cvar_alpha", "cvar", "worst_case_gain_per_1000",
                        "expected_gain_per_1000", "worst_case_per_1000_vs_next_cheaper",
                        "objective", "pinned", "pinned_scenarios", "decided_by"], rows)
    out.add("costs", ["line", *names],
            [[line, *[getattr(o.result.cost, line) for o in c.options]]
             for line in (*Cost.LINES, "total", "budget")])
    out.add("resilience", ["measure", *names],
            [["worst_case", *[o.result.resilience.worst_case for o in c.options]],
             ["expected", *[o.result.resilience.expected for o in c.options]],
             ["cvar", *[o.result.resilience.cvar.value for o in c.options]]])
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
    out.add("facilities", ["kind", "facility", "field", *names, "changed"], rows)
    nothing = c.baseline
    rows = []
    for sid in c.scenario_ids:
        values = [o.scenario.get(sid) for o in c.options]
        rows.append([sid, c.probabilities.get(sid), *values,
                     *([nothing.get(sid)] if nothing else []),
                     *[None if v is None or values[0] is None else v - values[0]
                       for v in values[1:]]])
    out.add("scenarios", ["scenario", "probability", *names,
                          *(["do_nothing"] if nothing else []),
                          *[f"{n} - {names[0]}" for n in names[1:]]], rows)
    return out.text()


def frontier_csv(frontier: Frontier) -> str:
    """The frontier as one table (module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    marginal = f"marginal_{frontier.objective}_per_1000"
    writer.writerow(["kind", "budget", "target", "status", "worst_case", "expected", "cvar",
                     "cost", marginal, "diminishing_returns", "note"])
    n = frontier.nothing
    writer.writerow(["nothing", 0.0, "", "", n.worst_case, n.expected, n.cvar, 0.0, "", "",
                     "existing assets only"])
    knee = frontier.knee
    for p in frontier.points:
        note = p.note
        if knee is not None and p is knee:
            note = (f"returns diminish beyond this budget: every further 1,000 buys less than "
                    f"{frontier.diminishing_share:.0%} of the best rate on the frontier"
                    + (f"; {note}" if note else ""))
        writer.writerow([_value(v) for v in (
            "budget", p.budget, None, p.status, p.worst_case, p.expected, p.cvar, p.cost,
            p.marginal_per_1000, frontier.diminishing(p), note)])
    for t in frontier.targets:
        writer.writerow([_value(v) for v in (
            "target", t.ceiling, t.target, t.status, t.worst_case, t.expected, None, t.cost,
            None, None, t.note)])
    return buffer.getvalue()
