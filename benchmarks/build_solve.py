"""Where the time goes: building the Pyomo model, handing it to HiGHS, and solving it.

Generates seeded synthetic instances (``optimizer.sources.synthetic.geometric_instance``) of the
requested sizes, solves each once with the engine's extensive form, and prints a markdown
table of the three timings the engine reports separately (``Solution.build_seconds``,
``handoff_seconds``, ``solve_seconds``), the model size, the status and the gap::

    python benchmarks/build_solve.py --sizes 100x60,200x100 --time-limit 120 --threads 1

Standard output carries only the markdown; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from optimizer.errors import ResilienceError
from optimizer.instance.reading import build_instance
from optimizer.instance.schema import InstanceFile
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.extensive import solve
from optimizer.sources.synthetic import geometric_instance


@dataclass(frozen=True)
class Row:
    """One instance's measurements; ``solution`` is None when the engine raised."""

    nodes: int
    scenarios: int
    generate_seconds: float
    wall_seconds: float
    solution: Solution | None
    error: str = ""


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"100x60,200x100"`` -> ``[(100, 60), (200, 100)]``."""
    sizes = []
    for part in text.split(","):
        try:
            nodes, scenarios = (int(v) for v in part.lower().strip().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"size {part!r} is not NODESxSCENARIOS, e.g. 100x60") from None
        sizes.append((nodes, scenarios))
    return sizes


def instance_for(nodes: int, scenarios: int, seed: int) -> dict:
    """The benchmark family: the medium instance's settings at another size.

    Depots and shelters are N/10 each (the generator's default, as in PERFORMANCE.md), two
    commodities, one existing depot with stock, one existing shelter, redundancy 1.
    """
    return geometric_instance(nodes, scenarios, seed=seed, commodities=2, redundancy=1,
                              existing_depots=1, existing_shelters=1,
                              name=f"bench-{nodes}x{scenarios}-s{seed}")


def measure(nodes: int, scenarios: int, seed: int, time_limit: float,
            threads: int) -> Row:
    """Generate, then solve once, timing each part; engine errors become a row too."""
    t0 = time.monotonic()
    doc = instance_for(nodes, scenarios, seed)
    instance = build_instance(InstanceFile.model_validate(doc))
    generated = time.monotonic() - t0

    def log(message: str) -> None:
        print(f"  [{nodes}x{scenarios}] {message}", file=sys.stderr, flush=True)

    # The time limit counts from ``started``, which is set here: it covers building and
    # hand-off as well as the solve, as it does for a user of ``resilience solve``.
    options = SolveOptions(time_limit=time_limit, threads=threads, log=log)
    t0 = time.monotonic()
    try:
        solution = solve(instance, options)
    except ResilienceError as exc:
        return Row(nodes, scenarios, generated, time.monotonic() - t0, None,
                   f"{type(exc).__name__}: {exc}")
    return Row(nodes, scenarios, generated, time.monotonic() - t0, solution)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    """The markdown table of the measurements."""
    lines = [
        "| nodes x scenarios | variables | integer | constraints | non-zeros | build s | "
        "hand-off s | solve s | total s | status | gap | worst case |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        s = row.solution
        if s is None:
            lines.append(f"| {row.nodes} x {row.scenarios} | - | - | - | - | - | - | - | "
                         f"{row.wall_seconds:.1f} | {row.error} | - | - |")
            continue
        size = s.size
        lines.append(
            f"| {row.nodes} x {row.scenarios} | {size['variables']:,} | "
            f"{size['integer_variables']:,} | {size['constraints']:,} | "
            f"{size['nonzeros']:,} | {s.build_seconds:.2f} | {s.handoff_seconds:.2f} | "
            f"{s.solve_seconds:.2f} | {row.wall_seconds:.1f} | {s.status.value} | "
            f"{_fmt(s.gap, '.4%')} | {_fmt(s.objective_value, '.4f')} |"
        )
    return "\n".join(lines)


def stage_table(rows: list[Row]) -> str:
    """Seconds of each HiGHS run inside ``solve_seconds``: primary, tie-breaks, recourse."""
    names = ["objective", "tiebreak_expected", "tiebreak_cost", "recourse"]
    lines = ["| nodes x scenarios | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]
    for row in rows:
        if row.solution is None:
            continue
        seconds = {st.objective: f"{st.seconds:.2f} ({st.status})"
                   for st in row.solution.stages}
        lines.append(f"| {row.nodes} x {row.scenarios} | "
                     + " | ".join(seconds.get(n, "skipped") for n in names) + " |")
    return "\n".join(lines)


def environment(rows: list[Row]) -> str:
    """Date, machine and versions, for the record."""
    # HiGHS's own version as the solves reported it; constructing a Highs object here
    # would print its banner on standard output.
    solver = next((r.solution.solver_version for r in rows if r.solution is not None), "?")
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; "
            f"HiGHS {solver} (highspy {metadata.version('highspy')}); "
            f"Pyomo {metadata.version('pyomo')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("100x60,200x100"),
                        help="comma-separated NODESxSCENARIOS (default 100x60,200x100)")
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="seconds per instance, building included (default 120)")
    parser.add_argument("--threads", type=int, default=1, help="HiGHS threads (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    args = parser.parse_args(argv)

    rows = []
    for nodes, scenarios in args.sizes:
        print(f"{nodes} x {scenarios}: generating and solving", file=sys.stderr, flush=True)
        rows.append(measure(nodes, scenarios, args.seed, args.time_limit, args.threads))
    print(f"Generated with seed {args.seed}; time limit {args.time_limit:g} s; "
          f"{args.threads} HiGHS thread(s); {environment(rows)}.\n")
    print(table(rows))
    print("\nHiGHS runs inside the solve time (seconds, status):\n")
    print(stage_table(rows))
    print("\nGeneration (not in the table): "
          + ", ".join(f"{r.nodes} x {r.scenarios} {r.generate_seconds:.2f} s" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
