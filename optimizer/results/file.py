"""The result file (design section 3): building it, writing it safely, reading it back."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.errors import InputError, Problem
from optimizer.evaluation.evaluate import Verification
from optimizer.evaluation.outcome import ResilienceSummary, ScenarioOutcome
from optimizer.evaluation.recourse import ceilings
from optimizer.evaluation.recovery import (
    KINDS,
    PENDING_PREFIX,
    RecoveryRun,
    ScenarioRecovery,
    pending_warning,
)
from optimizer.evaluation.restoration import Schedule
from optimizer.instance.data import Instance
from optimizer.instance.reading import max_file_bytes
from optimizer.plan import Plan, plan_cost
from optimizer.results.document import parse_decisions, read_document
from optimizer.solvers.contract import Solution
from optimizer.stages import pinned

RESULT_SCHEMA_VERSION = 1
# Units below this are rounding noise from the solver, not unmet need worth reporting.
REPORT_TOL = 1e-7


def _clean(value: float, digits: int = 10) -> float:
    """Round away solver noise so results read well and compare byte for byte."""
    rounded = round(float(value), digits)
    return 0.0 if rounded == 0 else rounded


def decisions(instance: Instance, plan: Plan) -> dict[str, Any]:
    capacity = plan.shelter_capacity(instance)
    return {
        "depots": [
            {"id": d.id, "open": bool(plan.open_depots[j]),
             "stock": {c.id: _clean(plan.stock[j, k])
                       for k, c in enumerate(instance.commodities)}}
            for j, d in enumerate(instance.depots)
        ],
        "shelters": [
            {"id": h.id, "open": bool(plan.open_shelters[j]), "modules": int(plan.modules[j]),
             "capacity": _clean(capacity[j])}
            for j, h in enumerate(instance.shelters)
        ],
        "compensation_pool": _clean(plan.compensation_pool),
    }


def cost_section(instance: Instance, plan: Plan) -> dict[str, float]:
    c = plan_cost(instance, plan)
    return {"depots": _clean(c.depots), "stock": _clean(c.stock), "shelters": _clean(c.shelters),
            "modules": _clean(c.modules), "compensation_pool": _clean(c.compensation_pool),
            "total": _clean(c.total), "budget": _clean(c.budget)}


def scenario_section(instance: Instance, outcomes: list[ScenarioOutcome]) -> list[dict]:
    zones = instance.network.node_ids
    out = []
    for s, o in zip(instance.scenarios, outcomes, strict=True):
        need = {
            zones[i]: {c.id: _clean(o.unmet_need[i, k], 6)
                       for k, c in enumerate(instance.commodities)
                       if o.unmet_need[i, k] > REPORT_TOL}
            for i in range(len(zones)) if (o.unmet_need[i] > REPORT_TOL).any()
        }
        evacuees = {zones[i]: _clean(o.unmet_evacuees[i], 6)
                    for i in range(len(zones)) if o.unmet_evacuees[i] > REPORT_TOL}
        out.append({
            "id": s.id, "probability": _clean(s.probability),
            "resilience": _clean(o.resilience), "supply": _clean(o.supply),
            "shelter": _clean(o.shelter), "economic": _clean(o.economic),
            "unmet": {"need": need, "evacuees": evacuees},
        })
    return out


def resilience_section(instance: Instance, outcomes: list[ScenarioOutcome],
                       solution: Solution | None = None) -> dict[str, Any]:
    """Worst case, expected, CVaR; each scenario's ceiling, the scenarios that pin the
    worst case at theirs, and what decided the plan (design section 2)."""
    r = np.array([o.resilience for o in outcomes])
    summary = ResilienceSummary.of(r, instance.probabilities, instance.objective.alpha)
    ceil = None if solution is None else solution.ceilings
    if ceil is None:
        ceil = ceilings(instance)
    if solution is not None and solution.ceilings is not None:
        pinned_at = list(solution.pinned)
    else:  # a route without stages: the scenarios whose ceiling is the plan's worst case
        pinned_at = [int(s) for s in pinned(ceil, float(r.min()), 0.0)] if len(r) else []
    ids = [s.id for s in instance.scenarios]
    return {"worst_case": _clean(summary.worst_case), "expected": _clean(summary.expected),
            "cvar": {"alpha": summary.cvar_alpha, "value": _clean(summary.cvar)},
            "ceilings": {sid: _clean(float(c)) for sid, c in zip(ids, ceil, strict=True)},
            "pinned": [ids[s] for s in pinned_at],
            "decided_by": "" if solution is None else solution.decided}


@dataclass(frozen=True)
class RecordedPath:
    """The instance's path as a result records it (``instance.path``, which ``report`` and
    ``compare`` follow): see :func:`path_seen_from`; None (null) for an instance read from
    standard input. ``resilience solve`` records one; a result made through the API none."""

    path: str | None


def path_seen_from(folder: str | Path, instance: str | Path) -> str:
    """Where the file ``instance`` is, seen from ``folder`` (the result's): the path a
    result written there records, so that a report finds the instance from it later."""
    return os.path.relpath(Path(instance).resolve(), Path(folder).resolve())


def instance_section(instance: Instance,
                     recorded_path: RecordedPath | None = None) -> dict[str, Any]:
    """Which instance was solved, and where it is (``recorded_path``; None: not said)."""
    section: dict[str, Any] = {"name": instance.name, "sha256": instance.sha256,
                               "budget": instance.budget}
    if instance.currency is not None:  # so that reports label money without the instance
        section["currency"] = instance.currency
    if recorded_path is not None:
        section["path"] = recorded_path.path
    return section


def objective_section(instance: Instance, solution: Solution | None) -> dict[str, Any]:
    o = instance.objective
    value = None if solution is None else _finite(solution.objective_value)
    bound = None if solution is None else _finite(solution.bound)
    section = {
        "kind": o.kind.value, "alpha": o.alpha, "target": o.target,
        "value": None if value is None else _clean(value),
        "bound": None if bound is None else _clean(bound),
        "gap": None if solution is None or _finite(solution.gap) is None
        else _clean(solution.gap),
    }
    if solution is not None and bound is None:
        # JSON has no infinity: a bound the solver never proved is null, and says why.
        section["bound_reason"] = ("the solver stopped before proving a finite bound"
                                   + (" (interrupted)" if solution.interrupted else ""))
    return section


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def solver_section(solution: Solution) -> dict[str, Any]:
    return {
        "name": solution.solver_name, "version": solution.solver_version,
        "method": solution.method,
        "build_seconds": round(solution.build_seconds, 4),
        "handoff_seconds": round(solution.handoff_seconds, 4),
        "solve_seconds": round(solution.solve_seconds, 4),
        "nodes": solution.nodes, "iterations": solution.iterations,
        "size": solution.size,
        "stages": [{"objective": st.objective, "status": st.status,
                    "value": None if st.value is None else _clean(st.value),
                    "seconds": round(st.seconds, 4)} for st in solution.stages],
        "progress": list(solution.progress),
    }


def _ratio(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else _clean(value)


def restoration_steps(instance: Instance, schedule: Schedule) -> list[dict[str, Any]]:
    """A schedule's steps with road ids: the start (period 0), then each road as it comes
    back, with the crew that repaired it and the period its repair began."""
    roads = instance.network.edge_ids
    out: list[dict[str, Any]] = []
    for step in schedule.steps:
        entry: dict[str, Any] = {
            "period": step.period,
            "repaired_edge": None if step.edge is None else roads[step.edge],
            "resilience": _clean(step.resilience)}
        if step.edge is not None:
            entry["crew"] = None if step.crew is None else step.crew + 1
            entry["start"] = step.start
        out.append(entry)
    return out


def exact_entry(instance: Instance, found: Any) -> dict[str, Any]:
    """An exact restoration schedule (``resilience recover --exact``) as the result holds it
    beside the greedy one: its status, area, bound and gap, and its steps."""
    return {
        "status": found.status.value,
        "recovery_area": _clean(found.schedule.area),
        "bound": _clean(found.bound),
        "gap": _clean(found.gap),
        "greedy_area": _clean(found.greedy_area),
        "scheduled_roads": found.scheduled_roads,
        "seconds": round(found.seconds, 4),
        "crews": found.schedule.crews,
        "restoration": restoration_steps(instance, found.schedule),
    }


def recovery_section(instance: Instance,
                     recoveries: list[ScenarioRecovery]) -> list[dict[str, Any]]:
    """Design section 5, one entry per scenario, with ids; ``null`` for infinite values
    (a detour ratio when cut off, disjoint paths when the zone hosts the facility)."""
    zones = instance.network.node_ids
    out = []
    for r in recoveries:
        out.append({
            "id": r.scenario_id,
            "cut_off": {kind: [zones[z] for z in r.cut_off[kind]] for kind in KINDS},
            "out_of_reach": {kind: [zones[z] for z in r.out_of_reach[kind]] for kind in KINDS},
            "detour_ratio": {zones[z]: {kind: _ratio(r.detour_ratio[z][kind]) for kind in KINDS}
                             for z in r.affected},
            "disjoint_paths": {zones[z]: {kind: r.disjoint_paths[z][kind] for kind in KINDS}
                               for z in r.affected},
            "crews": r.schedule.crews,
            "horizon": r.schedule.horizon,
            "restoration": restoration_steps(instance, r.schedule),
            "recovery_area": _clean(r.area),
        })
    return out


def merge_recovery(document: dict[str, Any], instance: Instance,
                   run: RecoveryRun) -> dict[str, Any]:
    """``document`` with the scenarios of ``run`` analysed in its recovery section (what
    ``resilience recover`` writes back): their entries replaced or added in instance order,
    ``recovery_pending`` and the warnings brought up to date."""
    out = dict(document)
    entries = {e.get("id"): e for e in out.get("recovery") or [] if isinstance(e, dict)}
    for entry in recovery_section(instance, list(run.scenarios)):
        entries[entry["id"]] = entry
    order = [s.id for s in instance.scenarios]
    out["recovery"] = [entries[sid] for sid in order if sid in entries]
    # A section that does not hold every scenario names the others.
    pending = {sid for sid in order if sid not in entries} | set(run.pending)
    out["recovery_pending"] = [sid for sid in order if sid in pending]
    warnings = [w for w in out.get("warnings") or [] if not w.startswith(PENDING_PREFIX)]
    if out["recovery_pending"]:
        warnings.append(pending_warning(out["recovery_pending"]))
    out["warnings"] = warnings
    return out


def result_document(instance: Instance, solution: Solution, verification: Verification,
                    recovery: RecoveryRun | None = None, *, failure: str = "",
                    warnings: Sequence[str] = (),
                    recorded_path: RecordedPath | None = None) -> dict[str, Any]:
    """The full result of a solve that produced a plan, built once and whole.

    ``recovery_pending`` names the scenarios whose recovery paths the time limit left out
    (``resilience recover`` fills them in); ``recovery`` is ``null`` when the analysis
    failed (the warnings say why). ``failure``: why the independent check rejects the
    plan (the status is then ``error``); ``warnings`` come after the instance's own;
    ``recorded_path``: where the instance is (None: the document does not say).
    """
    assert solution.plan is not None and solution.outcomes is not None
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "instance": instance_section(instance, recorded_path),
        "status": "error" if failure else solution.status.value,
        "message": ("independent check failed: " + failure) if failure else solution.message,
        "objective": objective_section(instance, solution),
        "decisions": decisions(instance, solution.plan),
        "cost": cost_section(instance, solution.plan),
        "resilience": resilience_section(instance, solution.outcomes, solution),
        "scenarios": scenario_section(instance, solution.outcomes),
        "recovery": (None if recovery is None or recovery.interrupted
                     else recovery_section(instance, list(recovery.scenarios))),
        "recovery_pending": [] if recovery is None else list(recovery.pending),
        "solver": solver_section(solution),
        "verification": {"method": verification.method,
                         "max_difference": float(f"{verification.max_difference:.3e}"),
                         "plan_violations": list(verification.violations)},
        "warnings": [*instance.warnings, *warnings],
    }


def failure_document(instance: Instance, status: str, message: str) -> dict[str, Any]:
    """What is written when no plan was found: the status and why, nothing invented."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "instance": instance_section(instance),
        "status": status,
        "message": message,
        "objective": objective_section(instance, None),
        "decisions": None, "cost": None, "resilience": None, "scenarios": [],
        "recovery": None, "recovery_pending": [], "solver": None, "verification": None,
        "warnings": list(instance.warnings),
    }


def dumps(document: dict[str, Any]) -> str:
    """The document as JSON text. A number that is not finite never reaches the writer
    (JSON has none, and the write would fail with the plan in hand): it is written as
    ``null``, and the document's ``warnings`` (when it has them) say where."""
    replaced: list[str] = []
    clean = _finite_only(document, "", replaced)
    if replaced and isinstance(clean.get("warnings"), list):
        clean["warnings"] = [*clean["warnings"], "not a finite number, written as null: "
                             + ", ".join(replaced[:10])
                             + (f" and {len(replaced) - 10} more" if len(replaced) > 10
                                else "")]
    return json.dumps(clean, indent=2, allow_nan=False) + "\n"


def _finite_only(value: Any, at: str, replaced: list[str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        replaced.append(at or "(top)")
        return None
    if isinstance(value, dict):
        return {k: _finite_only(v, f"{at}.{k}" if at else str(k), replaced)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_only(v, f"{at}[{i}]", replaced) for i, v in enumerate(value)]
    if isinstance(value, np.floating | np.integer):
        return _finite_only(value.item(), at, replaced)
    return value


def holds_plan(path: str | Path) -> bool:
    """Whether ``path`` is a regular file holding a result with a plan (``decisions``).

    Read leniently and never waits: anything that is not such a file (missing, a device, a
    pipe, too large, not JSON) holds no plan that a failure document could destroy.
    """
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size > max_file_bytes():
            return False
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(document, dict) and isinstance(document.get("decisions"), dict)


def beside(path: str | Path) -> Path:
    """Where a failure document goes when ``path`` holds a plan: ``NAME.error.json`` next to
    ``NAME.result.json`` (or ``NAME.json``)."""
    path = Path(path)
    name = path.name
    for suffix in (".result.json", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return path.with_name(name[: -len(suffix)] + ".error.json")
    return path.with_name(name + ".error.json")


def failure_target(path: str | Path, force: bool = False) -> Path:
    """Where a document without a trustworthy plan (status ``infeasible`` or ``error``) is
    written: ``path``, unless ``path`` holds a plan and ``force`` is not given, then
    :func:`beside` it. A last good result is never replaced by a failure unasked."""
    path = Path(path)
    return path if force or not holds_plan(path) else beside(path)


def read_plan(path: str | Path, instance: Instance) -> tuple[Plan, dict[str, Any]]:
    """The plan a result file states, read through the same strict model as the reports
    (booleans are booleans, numbers numbers) and checked against ``instance``'s ids."""
    doc = read_document(path)
    return plan_of(doc, instance, path), doc


def plan_of(doc: Any, instance: Instance, source: str | Path = "<result>") -> Plan:
    """The plan a result document states (see :func:`read_plan`); problems name ``source``."""
    path = source
    dec = parse_decisions(doc, path)
    problems: list[Problem] = []
    depot_index = {d.id: j for j, d in enumerate(instance.depots)}
    shelter_index = {h.id: j for j, h in enumerate(instance.shelters)}
    commodity_index = {c.id: k for k, c in enumerate(instance.commodities)}
    opened = [d.existing for d in instance.depots]
    stock = np.zeros((len(instance.depots), len(instance.commodities)))
    shelters_open = [h.existing for h in instance.shelters]
    modules = [0] * len(instance.shelters)
    for j, depot in enumerate(dec.depots):
        at = f"decisions.depots[{j}]"
        d = depot_index.get(depot.id)
        if d is None:
            problems.append(Problem(f"{at}.id", f"unknown depot {depot.id!r:.60}"))
            continue
        opened[d] = depot.open
        for k_id, units in depot.stock.items():
            if k_id not in commodity_index:
                problems.append(Problem(f"{at}.stock.{k_id}", "unknown commodity"))
                continue
            stock[d, commodity_index[k_id]] = units
    for j, shelter in enumerate(dec.shelters):
        at = f"decisions.shelters[{j}]"
        h = shelter_index.get(shelter.id)
        if h is None:
            problems.append(Problem(f"{at}.id", f"unknown shelter {shelter.id!r:.60}"))
            continue
        shelters_open[h] = shelter.open
        modules[h] = shelter.modules
    if problems:
        raise InputError(path, problems)
    return Plan(tuple(opened), stock, tuple(shelters_open), tuple(modules),
                dec.compensation_pool)
