"""``resilience stress INSTANCE RESULT --failures K``: attack a finished plan.

Thin: read the instance and the plan, call :func:`optimizer.evaluation.stress.stress_test`, print a
short table of the worst scenarios, write the JSON (``-o``; ``-o -`` prints it and sends the
table to standard error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from optimizer.choices import STRESS_EXACT_UP_TO as EXACT_UP_TO
from optimizer.cli.common import (
    answer_console,
    handled,
    output_path,
    progress_bar,
    read_result_plan,
    warn,
    write_json,
)
from optimizer.safe_text import console_text as escape

if TYPE_CHECKING:
    from rich.console import Console

    from optimizer.evaluation.stress import StressReport
    from optimizer.instance.data import Instance
    from optimizer.plan import Plan

WORST_SHOWN = 5
ROADS_SHOWN = 4


@click.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("-k", "--failures", type=click.IntRange(1), required=True,
              help=f"Additional road failures per scenario (exact up to {EXACT_UP_TO}, "
              "greedy above).")
@click.option("-o", "--output", help="Write the stress test as JSON ('-' for standard output).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar on standard error.")
@handled
def stress(instance: str, result: str, failures: int, output: str | None, quiet: bool) -> None:
    """For each scenario, the K more road failures that lower RESULT's resilience the most.

    K = 1 and 2 are found exactly (every road that could matter is tried, pairs included);
    larger K adds the most damaging road one at a time and is labelled "heuristic".
    """
    from optimizer.evaluation.stress import stress_document
    from optimizer.instance.reading import load_instance

    inst = load_instance(instance)
    warn(inst)
    plan, _ = read_result_plan(result, inst, instance)
    path = output_path(output, instance, ".stress.json") if output else None
    report = _stress_with_progress(inst, plan, failures, quiet)
    document = stress_document(inst, report)
    document["result"] = str(result)
    if path is not None:
        write_json(document, path)
    console = answer_console(path)
    _print_worst(console, document, report, failures)
    if path not in (None, "-"):
        console.print(f"stress test written to {path}")


def _stress_with_progress(inst: Instance, plan: Plan, failures: int,
                          quiet: bool) -> StressReport:
    """The stress test under a progress bar (common.progress_bar): one step per scenario
    searched."""
    from optimizer.evaluation.stress import stress_test

    with progress_bar(quiet) as progress:
        task = progress.add_task("stress", total=len(inst.scenarios))
        return stress_test(inst, plan, failures, progress=lambda _: progress.advance(task))


def _print_worst(console: Console, document: dict[str, Any], report: StressReport,
                 failures: int) -> None:
    """The :data:`WORST_SHOWN` worst scenarios after the failures, and the worst of all."""
    from rich.table import Table

    rows = sorted(document["scenarios"], key=lambda r: (r["resilience"], r["id"]))
    table = Table(title=f"Worst scenarios after {failures} more road failure"
                  f"{'s' if failures > 1 else ''} ({report.method})", show_edge=False,
                  title_justify="left")
    for col in ("scenario", "before", "after", "drop", "failed roads", "candidates"):
        table.add_column(col, justify="left" if col in ("scenario", "failed roads") else "right")
    for r in rows[:WORST_SHOWN]:
        roads = r["failed_edges"]
        shown = ", ".join(roads[:ROADS_SHOWN]) + (", ..." if len(roads) > ROADS_SHOWN else "")
        table.add_row(escape(r["id"]), f"{r['resilience_before']:.4f}",
                      f"{r['resilience']:.4f}",
                      f"{r['resilience_before'] - r['resilience']:.4f}", escape(shown),
                      str(r["candidates_considered"]))
    console.print(table)
    worst = document["worst"]
    if worst is not None:
        console.print(f"worst: scenario {escape(worst['scenario'])} falls to "
                      f"{worst['resilience']:.4f} when {escape(', '.join(worst['failed_edges']))}"
                      f" fail{'s' if len(worst['failed_edges']) == 1 else ''} too "
                      f"({len(rows)} scenarios in {report.seconds:.2f} s)")
