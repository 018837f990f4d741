"""``resilience recover INSTANCE RESULT``: fill in or redo a result's recovery section.

Thin: read the instance and the plan, choose the scenarios, call
:func:`optimizer.evaluation.recovery.analyse` (and
:func:`optimizer.evaluation.restoration_mip.exact_section` with
``--exact``), merge into the result and write it back whole (or to ``-o``), print a table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from optimizer.cli.common import (
    answer_console,
    command_started,
    err,
    handled,
    output_path,
    read_result_plan,
    warn,
    write_json,
)
from optimizer.errors import UsageError
from optimizer.safe_text import console_text as escape

if TYPE_CHECKING:
    from rich.console import Console

    from optimizer.evaluation.recovery import RecoveryRun
    from optimizer.instance.data import Instance
    from optimizer.plan import Plan


@click.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("--scenario", "scenario_ids", multiple=True,
              help="Analyse this scenario (repeat for several); default: the scenarios the "
              "result lists as not analysed, or all of them with --crews.")
@click.option("--crews", type=click.IntRange(1), help="Crews working in parallel (default: "
              "the instance's recovery.crews).")
@click.option("--exact", is_flag=True, help="Also solve the restoration schedule of each "
              "--scenario as a MIP (HiGHS): the order that maximises the recovery area.")
@click.option("--time-limit", type=click.FloatRange(0, min_open=True),
              help="Seconds, counted from the start of the command.")
@click.option("--threads", type=click.IntRange(1), help="Threads for HiGHS (--exact).")
@click.option("-o", "--output", help="Write the result here instead of back to RESULT ('-' "
              "prints it).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on standard error.")
@handled
def recover(instance: str, result: str, scenario_ids: tuple[str, ...], crews: int | None,
            exact: bool, time_limit: float | None, threads: int | None, output: str | None,
            quiet: bool) -> None:
    """Measure recovery paths (design section 5) for RESULT's plan and write them into it.

    Fills in the scenarios a time limit left out of `solve` (the result's
    recovery_pending), or redoes the scenarios you name, with another number of crews or,
    with --exact, with the optimal restoration schedule beside the greedy one.
    """
    started = command_started()  # --time-limit counts from the process's start
    # The libraries are imported in the helpers, not at the top: --help stays quick.
    inst, plan, doc = _plan_to_recover(instance, result, crews)
    chosen = _chosen_scenarios(inst, doc, scenario_ids, crews, exact, instance)
    path = output or result
    if path != "-":
        output_path(path, instance, "")
    console = answer_console(path)
    if not chosen:
        console.print(f"{escape(result)}: every scenario's recovery is analysed already "
                      "(--scenario ID or --crews N to redo some)")
        return
    deadline = None if time_limit is None else started + time_limit
    log = None if quiet else (lambda m: err.print(f"[dim]{escape(m)}[/dim]"))
    run, updated = _recover(inst, plan, doc, chosen, exact, deadline, threads, log)
    write_json(updated, path)
    _print_recovery(console, inst, run, updated, path)


def _plan_to_recover(instance: str, result: str,
                     crews: int | None) -> tuple[Instance, Plan, dict[str, Any]]:
    """The instance (with --crews), the result's plan and document; warns when the result
    was solved from another version of the instance."""
    from optimizer.instance.reading import load_instance

    inst = load_instance(instance)
    if crews is not None:
        inst = dataclasses.replace(inst, recovery=dataclasses.replace(inst.recovery,
                                                                      crews=crews))
    warn(inst)
    plan, doc = read_result_plan(result, inst, instance)
    return inst, plan, doc


def _chosen_scenarios(inst: Instance, doc: dict[str, Any], scenario_ids: tuple[str, ...],
                      crews: int | None, exact: bool, instance: str) -> list[int]:
    """The indices of the scenarios to analyse: those named, else every one (with --crews,
    or when the result has no recovery section), else those the result left pending."""
    index = {s.id: n for n, s in enumerate(inst.scenarios)}
    unknown = [sid for sid in scenario_ids if sid not in index]
    if unknown:
        raise UsageError(f"--scenario: no scenario {unknown[0]!r} in {instance}")
    if exact and not scenario_ids:
        raise UsageError("--exact solves one scenario at a time: name it with --scenario ID")
    if scenario_ids:
        return sorted({index[sid] for sid in scenario_ids})
    if crews is not None or doc.get("recovery") is None:
        return list(range(len(inst.scenarios)))
    return [index[sid] for sid in doc.get("recovery_pending") or [] if sid in index]


def _recover(inst: Instance, plan: Plan, doc: dict[str, Any], chosen: list[int], exact: bool,
             deadline: float | None, threads: int | None,
             log: Callable[[str], None] | None) -> tuple[RecoveryRun, dict[str, Any]]:
    """Analyse the chosen scenarios (and, with --exact, solve their schedules); the run and
    ``doc`` with its recovery section merged."""
    from optimizer.evaluation.recovery import analyse
    from optimizer.results.file import merge_recovery

    run = analyse(inst, plan, only=chosen, deadline=deadline)
    if log is not None:
        log(f"recovery paths of {len(run.scenarios)} scenarios in {run.seconds:.2f} s "
            f"({run.where})")
    updated = merge_recovery(doc, inst, run)
    if exact:
        from optimizer.evaluation.restoration_mip import exact_section

        updated = exact_section(updated, inst, plan, chosen, deadline=deadline,
                                threads=threads, log=log)
    return run, updated


def _print_recovery(console: Console, inst: Instance, run: RecoveryRun,
                    updated: dict[str, Any], path: str) -> None:
    """A row per scenario analysed, what is still pending, and where the result went."""
    from rich.table import Table

    entries = {e["id"]: e for e in updated["recovery"]}
    table = Table(show_edge=False, title=f"Recovery with {inst.recovery.crews} crew"
                  f"{'s' if inst.recovery.crews > 1 else ''}", title_justify="left")
    for col in ("scenario", "resilience", "after repairs", "area", "exact area", "repairs"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for rec in run.scenarios:
        entry = entries[rec.scenario_id]
        steps = entry["restoration"]
        ex = entry.get("exact")
        table.add_row(escape(rec.scenario_id), f"{steps[0]['resilience']:.4f}",
                      f"{steps[-1]['resilience']:.4f}", f"{entry['recovery_area']:.4f}",
                      "-" if not ex else f"{ex['recovery_area']:.4f} ({ex['status']})",
                      str(len(steps) - 1))
    console.print(table)
    if run.pending:
        console.print(f"{len(run.pending)} scenarios not analysed (time limit): run again "
                      "to continue")
    if path != "-":
        console.print(f"result written to {escape(path)}", soft_wrap=True)
