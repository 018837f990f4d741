"""Recovery paths side by side with the solve they follow (issue 11), in one run.

For each size: a generated instance (``optimizer.sources.synthetic.geometric_instance(N, S,
seed=0, commodities=2)``), solved as ``resilience solve`` would (``--method`` as given),
then the independent verification and the recovery section of design section 5, each
timed in CPU seconds (this process and the workers it waits for) and wall seconds. The
machine is shared and noisy: compare the ratios within a row, not rows across runs.

    python benchmarks/recovery.py --sizes 100x200,200x200 --method extensive
    python benchmarks/recovery.py --time-limit-check 200x100:10

``--against REV`` also times the recovery module of git revision REV (for instance the
commit before issue 11, 1e2e869) on the same plan in the same process, and says whether
its schedules and areas are the same.

``--time-limit-check NxS:T[:METHOD]`` runs the ``resilience solve`` command itself with
``--time-limit T`` (``--method METHOD``, default extensive) and reports its wall time from
outside the process (the limit bounds the whole command, the independent verification and
recovery included; writing the result comes on top). ``--limit-against REV`` runs the same
command from git revision REV's code (``python -m optimizer.cli`` with that tree first on
PYTHONPATH) just before, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    cpu, wall = _cpu(), time.perf_counter()
    value = fn()
    return value, _cpu() - cpu, time.perf_counter() - wall


def _instance_file(nodes: int, scenarios: int, folder: Path) -> Path:
    from optimizer.sources.synthetic import geometric_instance

    path = folder / f"geometric-{nodes}x{scenarios}.json"
    path.write_text(json.dumps(geometric_instance(nodes, scenarios, seed=0, commodities=2)),
                    encoding="utf-8")
    return path


def _old_recovery(revision: str, folder: Path) -> Any:
    """``optimizer/evaluation/recovery.py`` as it was at ``revision``, imported under another
    name."""
    import importlib.util

    source = subprocess.run(["git", "-C", str(ROOT), "show",
                             f"{revision}:optimizer/evaluation/recovery.py"],
                            capture_output=True, text=True, check=True).stdout
    path = folder / "recovery_at_revision.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("recovery_at_revision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def measure(nodes: int, scenarios: int, method: str, workers: int | None,
            folder: Path, against: str | None = None) -> dict[str, Any]:
    from optimizer.evaluation.evaluate import verify
    from optimizer.evaluation.recovery import analyse
    from optimizer.instance.reading import load_instance
    from optimizer.solvers.contract import SolveOptions
    from optimizer.solvers.dispatch import run

    instance = load_instance(_instance_file(nodes, scenarios, folder))
    options = SolveOptions(method=method, threads=1)
    solution, solve_cpu, solve_wall = _timed(lambda: run(instance, options))
    claimed = [o.resilience for o in solution.outcomes]
    (_, outcomes), verify_cpu, verify_wall = _timed(
        lambda: verify(instance, solution.plan, claimed))
    starts = {n: o.resilience for n, o in enumerate(outcomes)}
    rec, rec_cpu, rec_wall = _timed(
        lambda: analyse(instance, solution.plan, starts, workers=workers))
    failed = sum(len(s.failed_edges) for s in instance.scenarios)
    old: dict[str, Any] = {}
    if against:
        module = _old_recovery(against, folder)
        before, old_cpu, old_wall = _timed(lambda: module.recovery(instance, solution.plan,
                                                                   outcomes))
        same = all([s.edge for s in a.restoration] == [s.edge for s in b.restoration]
                   and abs(a.area - b.area) < 1e-9
                   for a, b in zip(rec.scenarios, before, strict=True))
        old = {"old_cpu": old_cpu, "old_wall": old_wall, "same_schedules": same}
    return {**old,
        "nodes": nodes, "scenarios": scenarios, "method": solution.method,
        "status": solution.status.value, "failed_roads": failed,
        "solve_cpu": solve_cpu, "solve_wall": solve_wall,
        "verify_cpu": verify_cpu, "verify_wall": verify_wall,
        "recovery_cpu": rec_cpu, "recovery_wall": rec_wall, "where": rec.where,
        "analysed": len(rec.scenarios),
    }


def _tree_at(revision: str, folder: Path) -> Path:
    """The packages of git revision ``revision``, extracted under ``folder``."""
    tree = folder / f"tree-{revision}"
    tree.mkdir(exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "optimizer",
                              "models"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def time_limit_check(nodes: int, scenarios: int, limit: float, method: str, folder: Path,
                     tree: Path | None = None, revision: str = "") -> dict[str, Any]:
    path = _instance_file(nodes, scenarios, folder)
    out = folder / "limit.result.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree),
                                                          env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "optimizer.cli", "solve", str(path), "-o", str(out),
               "--time-limit", str(limit), "--method", method, "-q"]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env,
                          cwd=folder)
    wall = time.perf_counter() - started
    doc = json.loads(out.read_text(encoding="utf-8"))
    return {"code": revision or "this tree", "nodes": nodes, "scenarios": scenarios,
            "limit": limit, "method": doc["solver"].get("method", method), "wall": wall,
            "load": load, "exit": proc.returncode, "status": doc["status"],
            "value": doc["objective"]["value"],
            "solve_seconds": doc["solver"]["solve_seconds"],
            "analysed": len(doc["recovery"] or []),
            "pending": len(doc.get("recovery_pending") or []),
            "over": any("over --time-limit" in w for w in doc.get("warnings", [])),
            "warnings": [w for w in doc.get("warnings", []) if "over --time-limit" in w]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100x200,200x200",
                        help="NODESxSCENARIOS,... (default 100x200,200x200)")
    parser.add_argument("--method", default="extensive",
                        choices=["auto", "extensive", "decomposition"])
    parser.add_argument("--workers", type=int, default=None,
                        help="Recovery workers (default: the engine's rule)")
    parser.add_argument("--time-limit-check", default="",
                        help="NxS:T[:METHOD],... run `resilience solve --time-limit T` and "
                        "time it")
    parser.add_argument("--limit-against", help="Also run each --time-limit-check with the "
                        "code of this git revision, just before")
    parser.add_argument("--against", help="Also time optimizer/evaluation/recovery.py of this git "
                        "revision on the same plan")
    parser.add_argument("-o", "--output", help="Also write the rows as JSON")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in filter(None, args.sizes.split(",")):
            n, s = (int(x) for x in size.split("x"))
            row = measure(n, s, args.method, args.workers, folder, args.against)
            rows.append(row)
            print(f"{n} x {s}: solve {row['solve_wall']:.1f} s, recovery "
                  f"{row['recovery_wall']:.2f} s", file=sys.stderr, flush=True)
        tree = _tree_at(args.limit_against, folder) if args.limit_against else None
        for spec in filter(None, args.time_limit_check.split(",")):
            size, limit, *rest = spec.split(":")
            n, s = (int(x) for x in size.split("x"))
            method = rest[0] if rest else "extensive"
            if tree is not None:
                checks.append(time_limit_check(n, s, float(limit), method, folder, tree,
                                               args.limit_against))
            checks.append(time_limit_check(n, s, float(limit), method, folder))
            for c in checks[-2 if tree is not None else -1:]:
                print(f"{n} x {s} --time-limit {limit} ({c['code']}): {c['wall']:.1f} s",
                      file=sys.stderr, flush=True)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}; "
          f"command: python benchmarks/recovery.py {' '.join(sys.argv[1:])}")
    if rows:
        print("\n| nodes x scenarios | failed roads | method | solve CPU s | solve wall s | "
              "verify wall s | recovery CPU s | recovery wall s | recovery / solve (CPU) "
              "| ms per scenario | where |")
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            print(f"| {r['nodes']} x {r['scenarios']} | {r['failed_roads']} | {r['method']} "
                  f"({r['status']}) | {r['solve_cpu']:.1f} | {r['solve_wall']:.1f} | "
                  f"{r['verify_wall']:.1f} | {r['recovery_cpu']:.2f} | "
                  f"{r['recovery_wall']:.2f} | {r['recovery_cpu'] / r['solve_cpu']:.1%} | "
                  f"{1000 * r['recovery_wall'] / r['scenarios']:.1f} | {r['where']} |")
        if any("old_cpu" in r for r in rows):
            print(f"\n| nodes x scenarios | recovery at {args.against}: CPU s | wall s | "
                  "now: CPU s | wall s | CPU ratio | same schedules and areas |")
            print("|---|---:|---:|---:|---:|---:|---|")
            for r in rows:
                print(f"| {r['nodes']} x {r['scenarios']} | {r['old_cpu']:.2f} | "
                      f"{r['old_wall']:.2f} | {r['recovery_cpu']:.2f} | "
                      f"{r['recovery_wall']:.2f} | {r['old_cpu'] / r['recovery_cpu']:.1f}x | "
                      f"{'yes' if r['same_schedules'] else 'NO'} |")
    if checks:
        print("\n| nodes x scenarios | --time-limit | code | method | load | command wall s "
              "| exit | status | objective | solver s | recovery analysed | pending "
              "| over-limit warning |")
        print("|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|")
        for c in checks:
            print(f"| {c['nodes']} x {c['scenarios']} | {c['limit']:g} | {c['code']} | "
                  f"{c['method']} | {c['load']:.1f} | {c['wall']:.1f} | {c['exit']} | "
                  f"{c['status']} | {c['value']:.4f} | {c['solve_seconds']:.1f} | "
                  f"{c['analysed']} | {c['pending']} | {'yes' if c['over'] else 'no'} |")
        for c in checks:
            for w in c["warnings"]:
                print(f"\n{c['nodes']} x {c['scenarios']}, {c['limit']:g} s, {c['code']}: {w}")
    if args.output:
        Path(args.output).write_text(json.dumps({"rows": rows, "checks": checks}, indent=2),
                                     encoding="utf-8")


if __name__ == "__main__":
    main()
