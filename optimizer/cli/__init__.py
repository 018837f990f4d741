"""The ``resilience`` command: parse options, call the library, print, map errors to exits.

Exit codes (design section 4): 0 a plan was produced, 2 bad input or usage, 3 infeasible
or no plan found, 4 solver or internal failure (including a failed independent check).
Standard output carries only what a command prints as its answer; progress and warnings go
to standard error.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import click

from optimizer import stopping
from optimizer.choices import ObjectiveKind
from optimizer.cli.common import (
    ALPHA,
    BUDGET,
    MIP_GAP,
    TARGET,
    THREADS,
    TIME_LIMIT,
    Program,
    command_started,
    err,
    fail,
    handled,
    interrupted_code,
    make_console,
    output_path,
    warn,
)
from optimizer.errors import ExitCode, InfeasibleError, ResilienceError, UsageError
from optimizer.solvers.registry import METHODS, SOLVER_NAMES

# The library is imported inside each command, not here: `resilience --help` and `validate`
# must not pay for Pyomo, HiGHS, scipy or matplotlib (issue 13; benchmarks/RESULTS.md).


@click.group(cls=Program, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="community-resilience")
def main() -> None:
    """Plan supplies, shelters and a compensation pool for a community's worst days."""


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@handled
def validate(instance: str) -> None:
    """Check an instance file and say what it holds (exit 2 when it is invalid).

    INSTANCE '-' reads the instance from standard input.
    """
    from optimizer.instance.reading import load_instance

    inst = load_instance(instance)
    warn(inst)
    n_failed = sum(1 for s in inst.scenarios if s.failed_edges)
    click.echo(
        f"{instance}: valid. {inst.name}: {inst.network.num_nodes:,} nodes, "
        f"{inst.network.num_edges:,} roads, {len(inst.commodities):,} commodities, "
        f"{len(inst.depots):,} depots, {len(inst.shelters):,} shelters, "
        f"{len(inst.scenarios):,} scenarios ({n_failed:,} with failed roads), "
        f"budget {inst.budget:,.2f}, objective {inst.objective.kind.value}."
    )


def _scheduler(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A scheduler address is checked whichever method runs (the extensive form ignores it,
    and a typo should not pass unseen)."""
    if value is None:
        return None
    from optimizer.executors import checked_address  # light (Dask is imported on use)

    try:
        return checked_address(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("--scheduler ")) from None


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", help="Result file (default INSTANCE_NAME.result.json here; "
              "'-' prints the JSON and sends the summary to standard error).")
@click.option("--objective", type=click.Choice([k.value for k in ObjectiveKind]),
              help="Override the instance's objective.")
@click.option("--alpha", type=ALPHA,
              help="CVaR level: the mean of the worst 1-alpha probability mass.")
@click.option("--target", type=TARGET, help="Worst-case target for min_cost.")
@click.option("--budget", type=BUDGET, help="Override the instance's budget.")
@click.option("--solver", type=click.Choice(SOLVER_NAMES), default="highs", show_default=True,
              help="MIP solver: HiGHS (embedded) or, through Pyomo, one that is installed.")
@click.option("--method", type=click.Choice(["auto", *METHODS]),
              default="auto", show_default=True,
              help="Extensive form, or multi-cut Benders (every objective and stage, "
              "exact); auto chooses by size and says which.")
@click.option("--workers", type=click.IntRange(1),
              help="Local processes evaluating scenarios in the decomposition (default: one "
              "per core; in process below 1,000 scenarios).")
@click.option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", callback=_scheduler,
              help="A Dask scheduler (tcp://host:port) for the decomposition's evaluations "
              "(or DASK_SCHEDULER_ADDRESS).")
@click.option("--builder", type=click.Choice(["direct", "pyomo"]), default="direct",
              show_default=True, help="How the extensive form reaches HiGHS (the same model).")
@click.option("--time-limit", type=TIME_LIMIT,
              help="Seconds, counted from the start of the command.")
@click.option("--mip-gap", type=MIP_GAP, default=1e-4, show_default=True,
              help="Relative MIP gap at which to stop, in [0, 1): 0.01 is 1%.")
@click.option("--threads", type=THREADS, help="Threads for HiGHS.")
@click.option("--report", "report_path", help="Also write a report of the result: .html, "
              ".md, .xlsx, .geojson by extension, or FOLDER/ for its tables as CSV.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on standard error.")
@click.option("--force", is_flag=True, help="Let a failed solve's document (infeasible or "
              "error) replace a result that holds a plan; without it, the document goes "
              "beside it as NAME.error.json.")
@handled
def solve(instance: str, output: str | None, objective: str | None, alpha: float | None,
          target: float | None, budget: float | None, solver: str, method: str,
          workers: int | None, scheduler: str | None, builder: str,
          time_limit: float | None, mip_gap: float, threads: int | None, report_path: str | None,
          quiet: bool, force: bool) -> None:
    """Solve INSTANCE, check the plan independently, write the result and print a summary."""
    started = command_started()  # --time-limit counts from here, imports included

    from optimizer.api import with_overrides
    from optimizer.files import write_atomic
    from optimizer.instance.reading import load_instance
    from optimizer.pipeline import solve_and_verify
    from optimizer.report import REPORT_FORMATS, format_of, write_report
    from optimizer.report.output import is_folder
    from optimizer.results.file import dumps, failure_document, failure_target
    from optimizer.results.summary import print_summary
    from optimizer.safe_text import console_text as escape
    from optimizer.solvers.contract import SolveOptions
    from optimizer.solvers.dispatch import chosen_method

    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads,
                           log=None if quiet else (lambda m: err.print(f"[dim]{m}[/dim]")),
                           method=method, solver=solver, workers=workers,
                           scheduler=scheduler, builder=builder, started=started)
    inst = with_overrides(load_instance(instance), objective=objective, alpha=alpha,
                          target=target, budget=budget)
    path = output_path(output, instance, ".result.json",
                       stem=inst.name if instance == "-" else None)
    warn(inst)
    if method == "auto" and not quiet:
        err.print(f"[dim]method auto: {chosen_method(inst, options)}[/dim]")

    def write(doc: dict[str, Any]) -> str:
        """Write ``doc`` where it belongs and say where: a document without a trustworthy
        plan never replaces a result that holds one, unless --force."""
        if path == "-":
            click.echo(dumps(doc), nl=False)
            return path
        target = path if doc["status"] in ("optimal", "feasible") else str(
            failure_target(path, force))
        write_atomic(target, dumps(doc))
        if target != path:
            err.print(f"{escape(path)} holds a plan and is kept; this {doc['status']} result "
                      f"was written to {escape(target)} (--force replaces it)", soft_wrap=True)
        return target

    if report_path is not None:
        # A bad extension, or a .csv file (one table; the report has several), fails
        # before the solve, not after it.
        if format_of(report_path, REPORT_FORMATS) == "csv" and not is_folder(report_path):
            raise UsageError(f"{report_path}: a CSV file holds one table and a report has "
                             "several; write them to a folder (--report FOLDER/), or use "
                             "`resilience report --table NAME` afterwards")
        output_path(report_path, instance, "")
    try:
        solved = solve_and_verify(inst, options)
    except ResilienceError as exc:
        # Only a solve that ran and failed leaves a document (exit 3 or 4); a usage or input
        # error (exit 2) writes nothing, so the last good result stays as it was.
        if exc.exit_code != ExitCode.BAD_INPUT:
            status = "infeasible" if isinstance(exc, InfeasibleError) else "error"
            write(failure_document(inst, status, str(exc)))
        raise
    # Where the instance is, seen from the result's folder, so a report can find it later.
    # (Nowhere, when it came from standard input.)
    solved.document["instance"]["path"] = (
        None if instance == "-" else instance if path == "-" else os.path.relpath(
            Path(instance).resolve(), Path(path).resolve().parent))
    written = write(solved.document)
    summary_console = err if path == "-" else make_console()
    print_summary(solved.document, summary_console)
    if path != "-":
        summary_console.print(f"result written to {escape(written)}")
    if report_path is not None:
        write_report(solved.document, report_path, inst, source=Path(path).name)
        summary_console.print(f"report written to {report_path}")
    if not solved.verified:
        fail(solved.failure(), ExitCode.SOLVER_FAILURE)
    if solved.interrupted or stopping.requested():
        err.print("interrupted: the best plan found so far was written"
                  + (" (recovery_pending lists the scenarios left without recovery paths)"
                     if solved.recovery_interrupted else ""))
        sys.exit(interrupted_code())


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("--scenarios", "other", type=click.Path(dir_okay=False),
              help="Also evaluate the plan on this instance file's scenarios (out of sample; "
              "same node, edge, depot, shelter and commodity ids as INSTANCE).")
@click.option("--reseed", type=click.IntRange(1), help="Also evaluate the plan on the "
              "scenarios INSTANCE's own generators draw with every seed plus this offset "
              "(out of sample; explicit scenarios stay as they are).")
@click.option("--budget", type=BUDGET, help="Judge the plan under this budget "
              "instead of the instance's (for a plan solved with solve --budget); the "
              "budget a result states is never taken on trust.")
@click.option("-o", "--output", help="Write the evaluation as JSON ('-' for standard output).")
@handled
def evaluate(instance: str, result: str, other: str | None, reseed: int | None,
             budget: float | None, output: str | None) -> None:
    """Re-evaluate a result's plan on INSTANCE by max flow, without the solver.

    Compares every scenario's resilience with what RESULT states; exits 4 when they differ
    by more than 1e-6 or the plan breaks a rule of the instance. With --scenarios OTHER, also
    evaluates the plan on OTHER's scenarios (with --reseed N, on those INSTANCE's own
    generators draw with other seeds) and sets in-sample against out-of-sample worst-case,
    expected and CVaR resilience.
    """
    import numpy as np
    from rich.table import Table

    from optimizer.evaluation.evaluate import evaluate_plan, plan_violations
    from optimizer.evaluation.out_of_sample import data_warnings, with_scenarios_of
    from optimizer.evaluation.outcome import ResilienceSummary
    from optimizer.files import write_atomic
    from optimizer.instance.data import Instance
    from optimizer.instance.reading import STDIN, load_instance, read_stdin
    from optimizer.pipeline import VERIFICATION_TOL
    from optimizer.results.file import dumps, read_plan
    from optimizer.safe_text import console_text as escape

    # The output is checked first, so that a folder given as -o costs no evaluation.
    path = output_path(output, instance, ".evaluation.json") if output else None
    # Standard input can be read once: --reseed reads the same instance again.
    stdin = read_stdin() if instance == STDIN and reseed is not None else None
    inst = load_instance(instance, stdin=stdin)
    if budget is not None:
        inst = dataclasses.replace(inst, budget=budget)
    warn(inst)
    plan, doc = read_plan(result, inst)
    if doc.get("instance", {}).get("sha256") not in (None, "", inst.sha256):
        err.print(f"[yellow]warning:[/yellow] {result} was solved from a different version "
                  f"of {instance} (sha256 differs)")
    # Judged under the instance's budget, never the result's: a result is a claim, and an
    # edited budget in it must not hide a plan that overspends.
    stated = (doc.get("instance") or {}).get("budget")
    if isinstance(stated, int | float) and stated != inst.budget:
        err.print(f"[yellow]warning:[/yellow] the result states a budget of {stated:,.2f}; "
                  f"the plan is judged under {inst.budget:,.2f} (--budget to choose)")
    alpha = (doc.get("objective") or {}).get("alpha")
    if isinstance(alpha, int | float) and 0 <= alpha < 1:
        inst = dataclasses.replace(inst, objective=dataclasses.replace(inst.objective,
                                                                       alpha=float(alpha)))
    foreign: Instance | None = None
    other_inst: Instance | None = None
    if other is not None and reseed is not None:
        raise UsageError("give --scenarios or --reseed, not both")
    if reseed is not None:
        other_inst = load_instance(instance, reseed=reseed, stdin=stdin)
        other = f"{instance} (seeds + {reseed})"
        foreign = with_scenarios_of(inst, other_inst)
    elif other is not None:
        other_inst = load_instance(other)
        for w in other_inst.warnings:
            err.print(f"[yellow]warning:[/yellow] {escape(other)}: {escape(w)}", soft_wrap=True)
        foreign = with_scenarios_of(inst, other_inst)  # InputError (exit 2) names what differs
        for w in data_warnings(inst, other_inst):
            err.print(f"[yellow]warning:[/yellow] {escape(other)}: {escape(w)}", soft_wrap=True)
    outcomes = evaluate_plan(inst, plan)
    claimed = {s.get("id"): s.get("resilience") for s in doc.get("scenarios") or []
               if isinstance(s, dict)}
    rows = []
    for s, o in zip(inst.scenarios, outcomes, strict=True):
        c = claimed.get(s.id)
        rows.append({"id": s.id, "resilience": o.resilience, "supply": o.supply,
                     "shelter": o.shelter, "economic": o.economic, "claimed": c,
                     "difference": None if c is None else abs(c - o.resilience)})
    diffs = [r["difference"] for r in rows if r["difference"] is not None]
    max_difference = max(diffs) if diffs else None
    violations = plan_violations(inst, plan)
    summary = ResilienceSummary.of(np.array([o.resilience for o in outcomes]),
                                   inst.probabilities, inst.objective.alpha)
    report: dict[str, Any] = {
        "instance": {"name": inst.name, "sha256": inst.sha256, "budget": inst.budget},
        "result": str(result),
        "method": "networkx maximum flow",
        "resilience": _summary_json(summary),
        "max_difference": max_difference,
        "plan_violations": violations,
        "scenarios": rows,
    }
    out_summary = None
    if foreign is not None and other_inst is not None:
        out_outcomes = evaluate_plan(foreign, plan)
        out_summary = ResilienceSummary.of(np.array([o.resilience for o in out_outcomes]),
                                           foreign.probabilities, inst.objective.alpha)
        report["out_of_sample"] = {
            "scenarios_from": {"path": str(other), "name": other_inst.name,
                               "sha256": other_inst.sha256},
            "resilience": _summary_json(out_summary),
            "scenarios": [{"id": s.id, "probability": s.probability,
                           "resilience": o.resilience, "supply": o.supply,
                           "shelter": o.shelter, "economic": o.economic}
                          for s, o in zip(foreign.scenarios, out_outcomes, strict=True)],
        }
        report["in_sample_vs_out_of_sample"] = {
            measure: {"in_sample": a, "out_of_sample": b, "difference": b - a}
            for measure, a, b in (
                ("worst_case", summary.worst_case, out_summary.worst_case),
                ("expected", summary.expected, out_summary.expected),
                ("cvar", summary.cvar, out_summary.cvar))
        }
    if path == "-":
        click.echo(dumps(report), nl=False)
    elif path is not None:
        write_atomic(path, dumps(report))
    console = err if output == "-" else make_console()
    if out_summary is None:
        console.print(f"worst case {summary.worst_case:.6f}   expected {summary.expected:.6f}"
                      f"   CVaR({summary.cvar_alpha:g}) {summary.cvar:.6f}")
    else:
        table = Table(show_edge=False)
        for col in ("", "scenarios from", "count", "worst case", "expected",
                    f"CVaR({summary.cvar_alpha:g})"):
            table.add_column(col, justify="left" if col in ("", "scenarios from") else "right",
                             no_wrap=True)
        for label, source, scenarios, values in (
                ("in sample", instance, inst.scenarios, summary),
                ("out of sample", other, foreign.scenarios, out_summary)):
            table.add_row(label, escape(Path(source).name), str(len(scenarios)),
                          *(f"{v:.6f}" for v in (values.worst_case, values.expected,
                                                 values.cvar)))
        console.print(table)
    if max_difference is None:
        console.print(f"{result} states no scenario resilience to compare with")
    else:
        worst = max(rows, key=lambda r: r["difference"] or 0.0)
        console.print(f"max difference from {result}: {max_difference:.1e} "
                      f"(scenario {worst['id']})")
    for v in violations:
        console.print(f"plan violation: {v}")
    if violations or (max_difference is not None and max_difference > VERIFICATION_TOL):
        fail("the result does not stand up to independent evaluation", ExitCode.SOLVER_FAILURE)


def _summary_json(summary: Any) -> dict[str, Any]:
    """A :class:`optimizer.evaluation.outcome.ResilienceSummary` as the evaluation file
    writes it."""
    return {"worst_case": summary.worst_case, "expected": summary.expected,
            "cvar": {"alpha": summary.cvar_alpha, "value": summary.cvar}}


@main.command()
@handled
def schema() -> None:
    """Print the JSON Schema of instance files (the one shipped in the package).

    Editors complete and check an instance that names it: "$schema": "PATH/instance.schema.json".
    """
    from optimizer.instance.schema import SCHEMA_PATH

    click.echo(SCHEMA_PATH.read_text(encoding="utf-8"), nl=False)


# Subcommands that live in their own modules.
from optimizer.cli.bench import bench, export, suite  # noqa: E402
from optimizer.cli.generate import generate  # noqa: E402
from optimizer.cli.generate_real import geojson, tntp  # noqa: E402
from optimizer.cli.recover import recover  # noqa: E402
from optimizer.cli.report import compare, report, sweep  # noqa: E402
from optimizer.cli.stress import stress  # noqa: E402

generate.add_command(tntp)
generate.add_command(geojson)
for _command in (generate, stress, recover, report, compare, sweep, bench, suite, export):
    main.add_command(_command)


