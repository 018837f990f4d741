"""Decomposition masters with stock in whole units against continuous stock (issue 10),
side by side in one run.

Both variants of the same case start at the same moment in two child processes, so they
share whatever load the machine has; each is timed in CPU seconds (the child and the
worker processes it waits for) and its peak resident memory (the child and its
descendants, sampled). ``continuous`` is the default
(``optimizer.solvers.decomposition.tuning.RELAX_STOCK``: MIP masters buy stock as a continuous
amount until whole units matter); ``whole`` solves every MIP master with whole units, as
before.

    python benchmarks/stock_units.py --case unpinned,200,1000,worst_case --time-limit 300

With ``--only continuous`` a single variant runs (e.g. the 200 x 10,000 case, where two
at once would not fit the memory budget). ``--variants every,lazy`` sets the master that
holds every scenario from the start against the one that holds only those that matter
(``optimizer.solvers.decomposition.tuning.LAZY_FROM``; for expected resilience and CVaR, the
curves of ``optimizer.solvers.decomposition.curves``, which hold none), both with continuous
stock:

    python benchmarks/stock_units.py --case unpinned,200,1000,worst_case --variants every,lazy

``--variants continuous,heuristics`` sets the default masters (HiGHS's primal heuristics
off, ``optimizer.solvers.decomposition.tuning.MASTER_HEURISTICS``) against the same masters
with them on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = ("continuous", "whole")
# Which scenarios the master holds on its own (optimizer.solvers.decomposition.tuning.LAZY_FROM),
# with
# continuous stock: "every" scenario from the start (as before "Scenarios that matter"), or
# only those that "matter" (lazy; expected resilience and CVaR on curves, none held)
# whatever the number of scenarios.
HELD = {"every": 10**9, "lazy": 0}


def one(family: str, nodes: int, scenarios: int, kind: str, variant: str,
        time_limit: float) -> dict[str, Any]:
    """One variant, in this process (a child of :func:`main`)."""
    from benchmarks.decomposition import PeakMemory
    from benchmarks.stages import _instance
    from optimizer.evaluation.recourse import ceilings
    from optimizer.solvers.contract import SolveOptions
    from optimizer.solvers.decomposition import solve_decomposition, tuning

    tuning.RELAX_STOCK = variant != "whole"
    tuning.MASTER_HEURISTICS = variant == "heuristics"
    if variant in HELD:
        tuning.LAZY_FROM = HELD[variant]
    instance = _instance(family, nodes, scenarios, kind)
    memory = PeakMemory()
    started = time.monotonic()
    solved = solve_decomposition(
        instance, SolveOptions(time_limit=time_limit, threads=1, started=started,
                               method="decomposition"))
    wall = time.monotonic() - started
    peak = memory.stop()
    return {"family": family, "nodes": nodes, "scenarios": scenarios, "objective": kind,
            "variant": variant, "status": solved.status.value,
            "value": solved.objective_value, "bound": solved.bound, "gap": solved.gap,
            "masters": len(solved.progress), "nodes_explored": solved.nodes,
            "lp_iterations": solved.iterations,
            "stages": [(st.objective, st.status, st.value, round(st.seconds, 1))
                       for st in solved.stages if st.objective != "recourse"],
            "lowest_ceiling": float(ceilings(instance).min()),
            "wall_seconds": round(wall, 1), "peak_mb": round(peak / 2**20)}


def side_by_side(case: tuple[str, int, int, str], variants: list[str],
                 time_limit: float) -> list[dict[str, Any]]:
    """Start every variant at once; CPU seconds per child from its own rusage."""
    family, nodes, scenarios, kind = case
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    children = {}
    for variant in variants:
        cmd = [sys.executable, __file__, "--one", family, str(nodes), str(scenarios), kind,
               variant, "--time-limit", str(time_limit)]
        children[variant] = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True, env=env,
                                             cwd=ROOT)
    records = []
    for variant, child in children.items():
        out, err = child.communicate()  # the child reports its own CPU seconds
        if child.returncode != 0:
            records.append({"variant": variant, "status": f"exit {child.returncode}",
                            "error": err.strip().splitlines()[-1:]})
            continue
        records.append(json.loads(out.strip().splitlines()[-1]))
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| case | variant | status (stage not proven) | CPU s | wall s | value | bound | "
             "gap | lowest ceiling | masters | B&B nodes | peak memory |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        if "value" not in r:
            lines.append(f"| - | {r['variant']} | {r['status']} | | | | | | | | | |")
            continue
        gap = "-" if r["gap"] is None else f"{r['gap']:.2%}"
        # The bound and gap are the first stage's; name the stage the time limit stopped.
        open_stage = next((st[0] for st in r["stages"] if st[1] != "optimal"), None)
        status = r["status"] + (f" ({open_stage})" if open_stage else "")
        bound = "-" if r["bound"] is None else f"{r['bound']:.6f}"
        lines.append(
            f"| {r['family']} {r['nodes']} x {r['scenarios']} {r['objective']} | "
            f"{r['variant']} | {status} | {r['cpu_seconds']:.1f} | "
            f"{r['wall_seconds']:.1f} | {r['value']:.6f} | {bound} | {gap} | "
            f"{r['lowest_ceiling']:.4f} | {r['masters']} | {r['nodes_explored']:,} | "
            f"{r['peak_mb']:,} MB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", default=[],
                        help="FAMILY,NODES,SCENARIOS,OBJECTIVE (repeatable)")
    parser.add_argument("--only", choices=VARIANTS + tuple(HELD), default=None)
    parser.add_argument("--variants", default=None,
                        help="comma-separated variants side by side, e.g. every,lazy "
                             f"(default: {','.join(VARIANTS)})")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--table", type=Path, default=None,
                        help="print the table of a saved run (-o) and stop")
    parser.add_argument("--one", nargs=5, metavar=("FAMILY", "N", "S", "KIND", "VARIANT"))
    args = parser.parse_args()
    if args.one:
        family, n, s, kind, variant = args.one
        record = one(family, int(n), int(s), kind, variant, args.time_limit)
        usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN)]
        record["cpu_seconds"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 1)
        print(json.dumps(record))
        return
    if args.table is not None:
        print(table(json.loads(args.table.read_text())["records"]))
        return
    variants = [args.only] if args.only else (
        args.variants.split(",") if args.variants else list(VARIANTS))
    records: list[dict[str, Any]] = []
    for spec in args.case or ["unpinned,200,1000,worst_case"]:
        family, n, s, kind = spec.split(",")
        load = os.getloadavg()[0]
        for record in side_by_side((family, int(n), int(s), kind), variants, args.time_limit):
            record["load_at_start"] = round(load, 1)
            records.append(record)
            print(json.dumps(record), file=sys.stderr, flush=True)
    if args.output is not None:
        from benchmarks.stages import write_run

        write_run(args.output, args.time_limit, records)
    print(table(records))


if __name__ == "__main__":
    main()
