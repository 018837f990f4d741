"""Every stage, both routes, pinned and unpinned families (issue 10), side by side in one run.

Each measurement runs in its own process (HiGHS on 1 thread) and is timed in CPU seconds
(the process and the worker processes it waits for) and wall seconds. For every run the
table says whether the family is degenerate: the lowest scenario ceiling against the worst
case the plan reaches, and how many scenarios pin it.

    python benchmarks/stages.py --plan quick -o benchmarks/results/stages.json
    python benchmarks/stages.py --plan full --time-limit 300 -o benchmarks/results/stages.json
    python benchmarks/stages.py --plan mpisppy --time-limit 300 -o benchmarks/results/mpisppy.json

Methods: ``default`` (``solve`` as a user runs it, ``--method auto``), ``extensive`` (the
extensive form built straight from arrays and solved by highspy, every stage),
``decomposition`` (multi-cut Benders, every stage), ``mpisppy-ef`` (mpi-sppy's extensive
form of the same model, expected and cvar only, no tie-break).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLANS: dict[str, list[tuple[str, int, int, str, str]]] = {
    # family, nodes, scenarios, objective, method
    "quick": [
        ("pinned", 100, 60, "worst_case", "default"),
        ("pinned", 100, 60, "worst_case", "extensive"),
        ("unpinned", 100, 60, "worst_case", "default"),
        ("unpinned", 100, 60, "worst_case", "extensive"),
    ],
    "full": [
        ("pinned", 100, 60, "worst_case", "default"),
        ("pinned", 100, 60, "worst_case", "extensive"),
        ("pinned", 150, 300, "worst_case", "default"),
        ("pinned", 150, 300, "worst_case", "extensive"),
        ("unpinned", 100, 60, "worst_case", "default"),
        ("unpinned", 100, 60, "worst_case", "extensive"),
        ("unpinned", 150, 300, "worst_case", "default"),
        ("unpinned", 150, 300, "worst_case", "extensive"),
        ("unpinned", 100, 60, "expected", "default"),
        ("unpinned", 100, 60, "expected", "mpisppy-ef"),
        ("unpinned", 100, 60, "cvar", "default"),
        ("unpinned", 100, 60, "cvar", "mpisppy-ef"),
        ("unpinned", 200, 1000, "worst_case", "decomposition"),
        ("unpinned", 200, 1000, "expected", "decomposition"),
        ("unpinned", 200, 1000, "cvar", "decomposition"),
    ],
    "recheck": [
        ("pinned", 150, 300, "worst_case", "default"),
        ("unpinned", 200, 1000, "worst_case", "decomposition"),
    ],
    "mpisppy": [
        ("unpinned", 100, 60, "expected", "default"),
        ("unpinned", 100, 60, "expected", "mpisppy-ef"),
        ("unpinned", 100, 60, "cvar", "default"),
        ("unpinned", 100, 60, "cvar", "mpisppy-ef"),
        ("pinned", 100, 60, "expected", "default"),
        ("pinned", 100, 60, "expected", "mpisppy-ef"),
        ("pinned", 100, 60, "cvar", "default"),
        ("pinned", 100, 60, "cvar", "mpisppy-ef"),
    ],
}
ALPHA = 0.9


def _instance(family: str, nodes: int, scenarios: int, kind: str) -> Any:
    import dataclasses

    from benchmarks.families import FAMILIES
    from optimizer.instance.reading import build_instance
    from optimizer.instance.schema import InstanceFile, ObjectiveKind

    instance = build_instance(InstanceFile.model_validate(FAMILIES[family](nodes, scenarios,
                                                                           0)))
    objective = dataclasses.replace(instance.objective, kind=ObjectiveKind(kind),
                                    alpha=ALPHA if kind == "cvar" else instance.objective.alpha)
    return dataclasses.replace(instance, objective=objective)


def one(family: str, nodes: int, scenarios: int, kind: str, method: str,
        time_limit: float | None) -> dict[str, Any]:
    """One measurement, in this process."""
    import numpy as np

    from optimizer.evaluation.recourse import ceilings
    from optimizer.stages import pinned

    instance = _instance(family, nodes, scenarios, kind)
    ceil = ceilings(instance)
    started = time.monotonic()
    record: dict[str, Any] = {"family": family, "nodes": nodes, "scenarios": scenarios,
                              "objective": kind, "method": method}
    if method == "mpisppy-ef":
        record.update(_mpisppy(instance, time_limit))
    else:
        from optimizer.pipeline import solve_and_verify
        from optimizer.solvers.contract import SolveOptions

        options = SolveOptions(time_limit=time_limit, threads=1, started=started,
                               method="auto" if method == "default" else method)
        solved = solve_and_verify(instance, options)
        doc = solved.document
        s = solved.solution
        record.update({
            "route": doc["solver"]["method"], "status": doc["status"],
            "value": doc["objective"]["value"], "gap": doc["objective"]["gap"],
            "worst_case": doc["resilience"]["worst_case"],
            "expected": doc["resilience"]["expected"],
            "cost_share": doc["cost"]["total"] / max(doc["cost"]["budget"], 1e-9),
            "pinned": len(s.pinned),
            "stages": [(st.objective, st.status, st.value, round(st.seconds, 2))
                       for st in s.stages if st.objective != "recourse"],
            "verified": solved.verified,
        })
        worst = doc["resilience"]["worst_case"]
        record["pinned_at_plan"] = len(pinned(ceil, worst, 1e-4))
    record["lowest_ceiling"] = float(np.min(ceil))
    record["wall_seconds"] = round(time.monotonic() - started, 2)
    return record


def _mpisppy(instance: Any, time_limit: float | None) -> dict[str, Any]:
    from mpisppy.opt.ef import ExtensiveForm

    from models import mpisppy_model

    count = len(instance.scenarios)
    ef = ExtensiveForm({"solver": "appsi_highs"},
                       mpisppy_model.scenario_names_creator(count),
                       mpisppy_model.scenario_creator,
                       scenario_creator_kwargs={"instance": instance, "num_scens": count})
    options: dict[str, Any] = {"mip_rel_gap": 1e-4}
    if time_limit is not None:
        options["time_limit"] = time_limit
    results = ef.solve_extensive_form(solver_options=options)
    value = ef.get_objective_value()
    condition = str(getattr(getattr(results, "solver", None), "termination_condition", ""))
    return {"route": "mpi-sppy extensive form (appsi_highs)",
            "status": condition.split(".")[-1] or "solved",
            "value": None if value is None else -float(value), "gap": None}


def measure(spec: tuple[str, int, int, str, str], time_limit: float | None) -> dict[str, Any]:
    """One measurement in a child process, timed in CPU seconds (it and its children)."""
    family, nodes, scenarios, kind, method = spec
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--one", family, str(nodes), str(scenarios), kind, method]
    if time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        return {"family": family, "nodes": nodes, "scenarios": scenarios, "objective": kind,
                "method": method, "status": f"exit {done.returncode}",
                "error": done.stderr.strip().splitlines()[-1:] or [""],
                "cpu_seconds": round(cpu, 2)}
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["cpu_seconds"] = round(cpu, 2)
    return record


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| family | nodes x scenarios | objective | method (route) | status | CPU s | "
             "wall s | value | worst case | lowest ceiling | pinned | budget spent |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        def f(key: str, fmt: str = ".4f", r: dict[str, Any] = r) -> str:
            v = r.get(key)
            return "-" if v is None else format(v, fmt)
        route = r.get("route", "")
        lines.append(
            f"| {r['family']} | {r['nodes']} x {r['scenarios']} | {r['objective']} | "
            f"{r['method']} ({route}) | {r.get('status')} | {f('cpu_seconds', '.1f')} | "
            f"{f('wall_seconds', '.1f')} | {f('value', '.6g')} | {f('worst_case')} | "
            f"{f('lowest_ceiling')} | {r.get('pinned_at_plan', '-')} | "
            f"{'-' if r.get('cost_share') is None else format(r['cost_share'], '.0%')} |")
    return "\n".join(lines)


def write_run(path: Path, time_limit: float | None, records: list[dict[str, Any]]) -> None:
    """A benchmark run's records with the machine, the date and the time limit (JSON)."""
    path.write_text(json.dumps(
        {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                    f"{platform.python_version()}", "date": time.strftime("%Y-%m-%d"),
         "time_limit": time_limit, "records": records}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=sorted(PLANS), default="quick")
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--one", nargs=5, metavar=("FAMILY", "N", "S", "KIND", "METHOD"))
    args = parser.parse_args()
    if args.one:
        family, n, s, kind, method = args.one
        print(json.dumps(one(family, int(n), int(s), kind, method, args.time_limit)))
        return
    records = []
    for spec in PLANS[args.plan]:
        record = measure(spec, args.time_limit)
        records.append(record)
        print(json.dumps(record), file=sys.stderr, flush=True)
        if args.output is not None:
            write_run(args.output, args.time_limit, records)
    print(table(records))


if __name__ == "__main__":
    main()
