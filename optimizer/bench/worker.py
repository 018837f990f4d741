"""One benchmark run, in a process of its own.

    python -m optimizer.bench.worker SPEC.json RESULT.json

SPEC.json holds the instance file, objective, solver, method and limits
(:func:`optimizer.bench.runner.spec_of`); RESULT.json receives the measured fields of one
results row. The parent (:mod:`optimizer.bench.runner`) kills this process when it overruns
its hard wall-clock limit and measures its peak memory, so a crash or a hang here costs
one row, not the run. Nothing goes to standard output; progress lines go to standard error,
which the parent keeps for the row's message if this process dies.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.bench.objectives import parse_objective
from optimizer.errors import InfeasibleError, ResilienceError, UsageError
from optimizer.evaluation.evaluate import verify
from optimizer.files import write_atomic
from optimizer.instance.reading import load_instance
from optimizer.pipeline import VERIFICATION_TOL
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.export import with_overrides


def _primary_seconds(solution: Solution) -> float:
    """Time of the primary objective's solve (a method without stages: the whole solve)."""
    for stage in solution.stages:
        if stage.objective == "objective":
            return stage.seconds
    return solution.solve_seconds


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Solve as ``spec`` says and return the row's fields; never raises for a solve outcome."""
    try:
        instance = load_instance(spec["file"])
        objective = parse_objective(spec["objective"])
        instance = with_overrides(instance, objective=objective.kind, alpha=objective.alpha,
                                  target=objective.target)
    except UsageError as exc:
        return {"status": "skipped", "message": str(exc)}
    except ResilienceError as exc:  # an instance file that does not load
        return {"status": "error", "message": str(exc)}
    options = SolveOptions(time_limit=spec.get("time_limit"), mip_gap=spec["mip_gap"],
                           threads=spec.get("threads"), method=spec["method"],
                           solver=spec["solver"],
                           log=lambda m: print(m, file=sys.stderr, flush=True))
    from optimizer.solvers.dispatch import run

    try:
        solution = run(instance, options)
    except UsageError as exc:  # includes a solver that is not installed
        return {"status": "skipped", "message": str(exc)}
    except InfeasibleError as exc:
        return {"status": "infeasible", "message": str(exc)}
    except ResilienceError as exc:
        return {"status": "error", "message": str(exc)}
    except ImportError as exc:  # a method whose module is not in this version
        return {"status": "skipped", "message": f"method {spec['method']} is not available "
                                                 f"here ({exc})"}
    row: dict[str, Any] = {
        "status": solution.status.value, "message": solution.message,
        "solver_version": solution.solver_version,
        "objective_value": solution.objective_value, "bound": solution.bound,
        "gap": solution.gap,
        **{key: solution.size.get(key) for key in ("variables", "constraints", "nonzeros",
                                                    "integer_variables", "scenarios")},
        "build_seconds": solution.build_seconds, "handoff_seconds": solution.handoff_seconds,
        "primary_seconds": _primary_seconds(solution), "solve_seconds": solution.solve_seconds,
        "nodes": solution.nodes, "iterations": solution.iterations,
    }
    row["time_seconds"] = (solution.build_seconds + solution.handoff_seconds
                           + row["primary_seconds"])
    if solution.plan is not None and solution.outcomes is not None:
        claimed = np.array([o.resilience for o in solution.outcomes])
        verification, _ = verify(instance, solution.plan, claimed)
        row["max_difference"] = verification.max_difference
        if verification.max_difference > VERIFICATION_TOL or verification.violations:
            row["status"] = "error"
            row["message"] = ("independent check failed: max difference "
                              f"{verification.max_difference:.3g}; "
                              + "; ".join(verification.violations))
    return row


def _finite(value: Any) -> Any:
    """JSON has no infinity: a bound HiGHS leaves at infinity is no bound."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m optimizer.bench.worker SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    started = time.monotonic()
    row = measure(spec)
    row["worker_seconds"] = time.monotonic() - started
    write_atomic(argv[2], json.dumps({k: _finite(v) for k, v in row.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
