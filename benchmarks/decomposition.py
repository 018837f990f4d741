"""The decomposition against the extensive form, and the executors, on one instance family.

Cases (a registry of specs, each a name, a builder and its sizes; STYLE.md habit 11):

* ``extensive`` at 100 and 1,000 scenarios, with a time limit; past it the time is
  reported as "> limit". Not run at 10,000: its Pyomo model alone would hold some 25 million
  non-zeros (about 25 microseconds and several hundred bytes each, PERFORMANCE.md).
* ``decomposition`` at 100, 1,000 and 10,000 scenarios, on the default executor (local
  processes, one per core).
* ``executors``: the same decomposition run in process, on a local process pool and on a
  Dask cluster (a local scheduler and two worker processes, all on 127.0.0.1).

The family is ``benchmarks/build_solve.py``'s: ``geometric_instance(200, S, seed=0,
commodities=2, redundancy=1, existing_depots=1, existing_shelters=1)``, worst-case
objective, default MIP gap (1e-4), HiGHS on 1 thread. Every case runs in a fresh child
process, so its peak memory (the process and every process it started, sampled every
0.2 s) is its own::

    python benchmarks/decomposition.py --time-limit 300 > table.md

Standard output carries only the markdown; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

NODES = 200


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    scenarios: int
    executor: str  # "default", "in-process", "processes", "dask"


def registry(sizes: list[int], executor_sizes: list[int], extensive_sizes: list[int]
             ) -> list[Case]:
    cases = [Case(f"extensive {s}", "extensive", s, "in-process") for s in extensive_sizes]
    cases += [Case(f"decomposition {s}", "decomposition", s, "processes") for s in sizes]
    for s in executor_sizes:
        cases += [Case(f"{kind} {s}", "decomposition", s, kind)
                  for kind in ("in-process", "dask")]
    return cases


# ------------------------------------------------------------------- inside a child


class PeakMemory:
    """Largest resident memory of this process and all its descendants, sampled."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil  # comes with dask[distributed]

        self._psutil = psutil
        self._me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        total = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except self._psutil.Error:
                pass
        return total

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self._sample())


def run_case(case: Case, time_limit: float, seed: int,
             log: Callable[[str], None]) -> dict[str, Any]:
    """One case, timed; returns a JSON-able record."""
    from optimizer.instance.reading import build_instance
    from optimizer.instance.schema import InstanceFile
    from optimizer.solvers.contract import SolveOptions
    from optimizer.solvers.decomposition import solve_decomposition
    from optimizer.solvers.extensive import solve
    from optimizer.sources.synthetic import geometric_instance

    memory = PeakMemory()
    t0 = time.monotonic()
    doc = geometric_instance(NODES, case.scenarios, seed=seed, commodities=2, redundancy=1,
                             existing_depots=1, existing_shelters=1,
                             name=f"bench-{NODES}x{case.scenarios}-s{seed}")
    instance = build_instance(InstanceFile.model_validate(doc))
    generate = time.monotonic() - t0
    log(f"instance generated in {generate:.1f} s")
    cluster = None
    options = SolveOptions(threads=1, log=log)
    if case.method == "extensive":
        options = SolveOptions(threads=1, log=log, time_limit=time_limit)
    elif case.executor == "in-process":
        options = SolveOptions(threads=1, log=log, workers=1)
    elif case.executor == "processes":
        options = SolveOptions(threads=1, log=log, workers=os.cpu_count() or 1)
    elif case.executor == "dask":
        from dask.distributed import LocalCluster

        started = time.monotonic()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0")
        log(f"Dask scheduler {cluster.scheduler_address}, 2 workers, up in "
            f"{time.monotonic() - started:.1f} s")
        options = SolveOptions(threads=1, log=log, scheduler=cluster.scheduler_address)
    try:
        started = time.monotonic()
        options = SolveOptions(**{**options.__dict__, "started": started})
        solution = (solve(instance, options) if case.method == "extensive"
                    else solve_decomposition(instance, options))
        wall = time.monotonic() - started
    finally:
        peak = memory.stop()
        if cluster is not None:
            cluster.close()
    primary = next(st for st in solution.stages if st.objective == "objective")
    primary_done = (solution.build_seconds + solution.handoff_seconds + primary.seconds
                    if case.method == "extensive" else
                    max((p["seconds"] for p in solution.progress
                         if p.get("stage") == "objective"), default=wall))
    record = {
        "case": case.name, "method": case.method, "scenarios": case.scenarios,
        "executor": case.executor, "wall_seconds": round(wall, 2),
        "primary_seconds": round(primary_done, 2),
        "generate_seconds": round(generate, 2), "peak_bytes": peak,
        "status": solution.status.value, "value": solution.objective_value,
        "bound": solution.bound, "gap": solution.gap,
        "stages": [(st.objective, st.status, round(st.seconds, 2)) for st in solution.stages],
        "size": solution.size, "solver_version": solution.solver_version,
        "iterations": len(solution.progress),
        "master_seconds": round(sum(p.get("master_seconds", 0.0)
                                    for p in solution.progress), 2),
        "evaluation_seconds": round(sum(p.get("evaluation_seconds", 0.0)
                                        for p in solution.progress), 2),
        "message": solution.message,
    }
    return record


# ----------------------------------------------------------------------- the parent


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def _value(r: dict[str, Any]) -> str:
    return f"{r['value']:.6f}" if r.get("value") is not None else "-"


def tables(records: list[dict[str, Any]], time_limit: float) -> str:
    lines = ["| method | scenarios | executor | primary optimum s | total s | status | "
             "worst case | bound | gap | active / evaluated | iterations | peak memory |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['method']} | {r['scenarios']:,} | {r['executor']} | - | - | "
                         f"{r['error']} | - | - | - | - | - | - |")
            continue
        over = r["method"] == "extensive" and r["status"] != "optimal"
        total = f"> {time_limit:g}" if over else f"{r['wall_seconds']:.1f}"
        primary = (f"> {time_limit:g}" if over else f"{r['primary_seconds']:.1f}")
        size = r["size"]
        active = (f"{size.get('scenarios', 0):,} / {size.get('scenarios_evaluated', 0):,}"
                  if r["method"] == "decomposition" else f"{size.get('scenarios', 0):,} (all)")
        lines.append(
            f"| {r['method']} | {r['scenarios']:,} | {r['executor']} | {primary} | {total} | "
            f"{r['status']} | {_value(r)} | {r['bound']:.6f} | {r['gap']:.4%} | {active} | "
            f"{r['iterations'] or '-'} | {_mb(r['peak_bytes'])} |")
    lines += ["", "Where the decomposition's time goes (seconds: master MIP solves, "
              "evaluation rounds of every scenario, and HiGHS stages):", "",
              "| case | master | evaluation | stages |", "|---|---:|---:|---|"]
    for r in records:
        if "error" in r:
            continue
        stages = ", ".join(f"{name} {sec:.1f} ({status})" for name, status, sec in r["stages"])
        lines.append(f"| {r['case']} | {r['master_seconds']:.1f} | "
                     f"{r['evaluation_seconds']:.1f} | {stages} |")
    return "\n".join(lines)


def environment(records: list[dict[str, Any]]) -> str:
    version = next((r["solver_version"] for r in records if "solver_version" in r), "?")
    try:
        one, five, fifteen = os.getloadavg()
        load = f"load average {one:.1f}, {five:.1f}, {fifteen:.1f} at the end"
    except OSError:
        load = "load unknown"
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; HiGHS {version} "
            f"(highspy {metadata.version('highspy')}); Pyomo {metadata.version('pyomo')}; "
            f"dask {metadata.version('distributed')}; {load}")


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_ints, default=[100, 1000, 10000],
                        help="decomposition scenario counts (default 100,1000,10000)")
    parser.add_argument("--extensive-sizes", type=_ints, default=[100, 1000],
                        help="extensive-form scenario counts (default 100,1000)")
    parser.add_argument("--executor-sizes", type=_ints, default=[1000, 10000],
                        help="sizes also run in process and on Dask (default 1000,10000)")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="extensive form's limit in seconds, building included "
                             "(default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case
    args = parser.parse_args(argv)

    if args.case:
        method, scenarios, executor = args.case.split(":")
        case = Case(args.case, method, int(scenarios), executor)

        def log(message: str) -> None:
            print(f"  [{case.name}] {message}", file=sys.stderr, flush=True)

        print(json.dumps(run_case(case, args.time_limit, args.seed, log)), flush=True)
        return 0

    records = []
    for case in registry(args.sizes, args.executor_sizes, args.extensive_sizes):
        print(f"{case.name} ({case.executor})", file=sys.stderr, flush=True)
        spec = f"{case.method}:{case.scenarios}:{case.executor}"
        proc = subprocess.run(
            [sys.executable, __file__, "--case", spec, "--time-limit", str(args.time_limit),
             "--seed", str(args.seed)],
            stdout=subprocess.PIPE, text=True, check=False)
        try:
            record = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            record = {"case": case.name, "method": case.method, "scenarios": case.scenarios,
                      "executor": case.executor, "error": f"exit {proc.returncode}"}
        records.append(record)
        print(f"  -> {json.dumps(record)[:300]}", file=sys.stderr, flush=True)
    print(f"Seed {args.seed}; {NODES} nodes; extensive-form time limit "
          f"{args.time_limit:g} s; HiGHS on 1 thread; {environment(records)}.\n")
    print(tables(records, args.time_limit))
    print("\nRaw records:\n")
    for r in records:
        print(f"    {json.dumps(r)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
