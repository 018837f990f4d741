"""``resilience solve``'s extensive form against the floor: the same model built from arrays.

For each size, one seeded synthetic instance (the family of ``build_solve.py``) is solved
twice in the same process with the same HiGHS options and time limit: once through the
Pyomo route (``SolveOptions(builder="pyomo")``: models.resilience, Pyomo's standard-form
compiler, ``passModel``) and once through the direct builder (``builder="direct"``:
models.direct, numpy arrays straight to ``passModel``). Each is timed end to end: instance
preparation (reachability, scaling), building, hand-off, and every HiGHS run (primary
objective, tie-breaks, recourse polish). The two routes hand HiGHS the same model, column
for column and row for row (tests/test_direct.py), so HiGHS follows the same search; the
node and iteration counts in the table show it. MIP wall times still vary from run to run,
so building and hand-off are also timed on their own, the median of ``--repeats`` runs
without solving::

    python benchmarks/floor.py --sizes 100x60,150x300,200x100 --time-limit 300 --threads 1

Standard output carries only the markdown; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from build_solve import instance_for, parse_sizes

from models.resilience import build_model, prepare, tiebreaks
from optimizer.errors import ResilienceError
from optimizer.instance.data import Instance
from optimizer.instance.reading import build_instance
from optimizer.instance.schema import InstanceFile
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.extensive import compile_direct, compile_pyomo, solve

BUILDERS = ("pyomo", "direct")


@dataclass(frozen=True)
class Run:
    """One end-to-end solve; ``solution`` is None when the engine raised."""

    builder: str
    wall_seconds: float
    cpu_seconds: float  # this process's CPU time: less sensitive to other work on the machine
    solution: Solution | None
    error: str = ""


@dataclass(frozen=True)
class Size:
    nodes: int
    scenarios: int
    nonzeros: int
    prepare_seconds: float  # median, shared by both routes
    build_seconds: dict[str, float]  # median wall seconds of building and hand-off
    build_cpu: dict[str, float]  # the same in CPU seconds
    runs: dict[str, list[Run]]


def build_only(instance: Instance, builder: str, threads: int
               ) -> tuple[float, float, float, int]:
    """Seconds to prepare, then to build and hand off (wall and CPU; no solve), and the
    non-zeros."""
    options = SolveOptions(threads=threads)
    names = ["objective", *tiebreaks(instance.objective.kind)]
    # A Pyomo model is freed by the cycle collector: collect the previous one now, not
    # inside the next timed build.
    gc.collect()
    t0 = time.perf_counter()
    md = prepare(instance)
    prepared = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    if builder == "direct":
        compiled = compile_direct(md, names, options)
    else:
        compiled = compile_pyomo(build_model(md), md, names, options)
    return (prepared, time.perf_counter() - t0, time.process_time() - c0, compiled.nnz)


def solve_once(instance: Instance, builder: str, time_limit: float, threads: int,
               label: str) -> Run:
    def log(message: str) -> None:
        print(f"  [{label} {builder}] {message}", file=sys.stderr, flush=True)

    # The time limit counts from ``started``, set here: it covers preparation, building and
    # hand-off as well as the HiGHS runs, as for a user of ``resilience solve``.
    options = SolveOptions(time_limit=time_limit, threads=threads, log=log, builder=builder)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        solution = solve(instance, options)
    except ResilienceError as exc:
        return Run(builder, time.perf_counter() - t0, time.process_time() - c0, None,
                   f"{type(exc).__name__}: {exc}")
    return Run(builder, time.perf_counter() - t0, time.process_time() - c0, solution)


def measure(nodes: int, scenarios: int, seed: int, time_limit: float, threads: int,
            repeats: int, solves: int) -> Size:
    instance = build_instance(InstanceFile.model_validate(instance_for(nodes, scenarios, seed)))
    label = f"{nodes}x{scenarios}"
    prepared: list[float] = []
    built: dict[str, list[float]] = {b: [] for b in BUILDERS}
    cpu: dict[str, list[float]] = {b: [] for b in BUILDERS}
    nnz = 0
    for _ in range(repeats):
        for builder in BUILDERS:
            p, b, c, nnz = build_only(instance, builder, threads)
            prepared.append(p)
            built[builder].append(b)
            cpu[builder].append(c)
    print(f"{label}: {nnz:,} non-zeros; build and hand-off "
          + ", ".join(f"{b} {statistics.median(built[b]):.3f} s" for b in BUILDERS),
          file=sys.stderr, flush=True)
    runs: dict[str, list[Run]] = {b: [] for b in BUILDERS}
    for i in range(solves):
        # pyomo, direct, direct, pyomo, ...: drift in the machine's load hits both alike.
        for builder in (BUILDERS if i % 2 == 0 else BUILDERS[::-1]):
            runs[builder].append(solve_once(instance, builder, time_limit, threads, label))
    return Size(nodes, scenarios, nnz, statistics.median(prepared),
                {b: statistics.median(v) for b, v in built.items()},
                {b: statistics.median(v) for b, v in cpu.items()}, runs)


def _us(seconds: float, nnz: int) -> str:
    return f"{seconds / max(nnz, 1) * 1e6:.2f}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def tables(sizes: list[Size]) -> str:
    """The side-by-side table, the build-only table and the HiGHS stages."""
    lines = [
        "| nodes x scenarios | non-zeros | route | prepare + build + hand-off s | HiGHS s "
        "| total s (wall) | total s (CPU) | pyomo / direct, wall | pyomo / direct, CPU "
        "| pyomo / direct, same HiGHS time | status | objective | nodes | iterations |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for size in sizes:
        wall = {b: _median([r.wall_seconds for r in size.runs[b]]) for b in BUILDERS}
        cpu = {b: _median([r.cpu_seconds for r in size.runs[b]]) for b in BUILDERS}
        # Both routes hand HiGHS the same model, so their HiGHS times differ only by noise
        # (and by where a time-capped tie-break stops): pool them, and add each route's own
        # preparation, building and hand-off.
        highs = _median([r.solution.solve_seconds for b in BUILDERS for r in size.runs[b]
                         if r.solution is not None])
        own = {b: _median([r.solution.build_seconds + r.solution.handoff_seconds
                           for r in size.runs[b] if r.solution is not None])
               for b in BUILDERS}
        same = (own["pyomo"] + highs) / (own["direct"] + highs)
        for builder in BUILDERS:
            runs = size.runs[builder]
            done = [r.solution for r in runs if r.solution is not None]
            ratios = ["", "", ""]
            if builder == "pyomo":
                ratios = [f"{wall['pyomo'] / wall['direct']:.3f}",
                          f"{cpu['pyomo'] / cpu['direct']:.3f}", f"{same:.3f}"]
            errors = "; ".join(r.error for r in runs if r.error)
            status = ", ".join(s.status.value for s in done) + (f" ({errors})" if errors else "")
            lines.append(
                f"| {size.nodes} x {size.scenarios} | {size.nonzeros:,} | {builder} | "
                f"{_median([s.build_seconds + s.handoff_seconds for s in done]):.2f} | "
                f"{_median([s.solve_seconds for s in done]):.1f} | "
                + ", ".join(f"{r.wall_seconds:.1f}" for r in runs)
                + f" (median {wall[builder]:.1f}) | "
                + ", ".join(f"{r.cpu_seconds:.1f}" for r in runs)
                + f" (median {cpu[builder]:.1f}) | {ratios[0]} | {ratios[1]} | {ratios[2]} | "
                f"{status} | "
                + ", ".join(f"{s.objective_value:.6f}" for s in done) + " | "
                + ", ".join(f"{s.nodes:,}" for s in done) + " | "
                + ", ".join(f"{s.iterations:,}" for s in done) + " |")
    lines += [
        "",
        "Building and hand-off alone (median of the repeats, no solve); microseconds per "
        "non-zero, wall, without and with the shared preparation (reachability and "
        "scaling):",
        "",
        "| nodes x scenarios | non-zeros | prepare s | pyomo build + hand-off s (CPU) | "
        "direct build + hand-off s (CPU) | pyomo / direct | pyomo us/nz (with prepare) | "
        "direct us/nz (with prepare) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        p, d, prep = size.build_seconds["pyomo"], size.build_seconds["direct"], \
            size.prepare_seconds
        lines.append(
            f"| {size.nodes} x {size.scenarios} | {size.nonzeros:,} | {prep:.3f} | {p:.3f} "
            f"({size.build_cpu['pyomo']:.3f}) | {d:.3f} ({size.build_cpu['direct']:.3f}) | "
            f"{p / d:.0f}x | {_us(p, size.nonzeros)} ({_us(p + prep, size.nonzeros)})"
            f" | {_us(d, size.nonzeros)} ({_us(d + prep, size.nonzeros)}) |")
    lines += ["", "HiGHS runs inside the solve time (wall seconds, status), per solve:", "",
              "| nodes x scenarios | route | objective | tiebreak_expected | tiebreak_cost | "
              "recourse |", "|---|---|---:|---:|---:|---:|"]
    for size in sizes:
        for builder in BUILDERS:
            for run in size.runs[builder]:
                s = run.solution
                if s is None:
                    continue
                seconds = {st.objective: f"{st.seconds:.2f} ({st.status})" for st in s.stages}
                lines.append(f"| {size.nodes} x {size.scenarios} | {builder} | " + " | ".join(
                    seconds.get(n, "skipped") for n in
                    ("objective", "tiebreak_expected", "tiebreak_cost", "recourse")) + " |")
    return "\n".join(lines)


def environment(sizes: list[Size], load_before: float) -> str:
    solver = next((r.solution.solver_version for s in sizes for runs in s.runs.values()
                   for r in runs if r.solution is not None), "?")
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
            f"{os.cpu_count()} cores (load average {load_before:.1f} before the run, "
            f"{os.getloadavg()[0]:.1f} after: other work shared the machine when these "
            f"exceed about 1), Python {platform.python_version()}; "
            f"HiGHS {solver} (highspy {metadata.version('highspy')}); "
            f"Pyomo {metadata.version('pyomo')}; numpy {metadata.version('numpy')}, "
            f"scipy {metadata.version('scipy')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes,
                        default=parse_sizes("100x60,150x300,200x100"),
                        help="comma-separated NODESxSCENARIOS (default 100x60,150x300,200x100)")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds per solve, preparation included (default 300)")
    parser.add_argument("--threads", type=int, default=1, help="HiGHS threads (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="build-only runs per route for the median (default 3)")
    parser.add_argument("--solves", type=int, default=2,
                        help="end-to-end solves per route, alternating routes (default 2)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    # Warm up both routes (imports, first-call costs) on a small instance, not reported.
    warm = build_instance(InstanceFile.model_validate(instance_for(20, 4, args.seed)))
    for builder in BUILDERS:
        build_only(warm, builder, args.threads)
    sizes = []
    for nodes, scenarios in args.sizes:
        print(f"{nodes} x {scenarios}: generating, building, solving", file=sys.stderr,
              flush=True)
        sizes.append(measure(nodes, scenarios, args.seed, args.time_limit, args.threads,
                             args.repeats, args.solves))
    print(f"Generated with seed {args.seed}; time limit {args.time_limit:g} s per solve; "
          f"{args.threads} HiGHS thread(s), default MIP gap; {environment(sizes, load_before)}.\n")
    print(tables(sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
