"""The ``resilience`` command: parse options, call the library, print, map errors to exits.

Exit codes (design section 4): 0 a plan was produced, 2 bad input or usage, 3 infeasible
or no plan found, 4 solver or internal failure (including a failed independent check).
Standard output carries only what a command prints as its answer; progress and warnings go
to standard error.

Where to look next: ``validate``, ``solve``, ``evaluate`` and ``schema`` are here, each
command a short list of named steps; the other subcommands have their own modules (the
imports at the bottom), and :mod:`optimizer.cli.common` holds what they share.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    answer_console,
    command_started,
    err,
    fail,
    handled,
    interrupted_code,
    output_path,
    read_result_plan,
    warn,
    warning,
    write_json,
)
from optimizer.errors import ExitCode, InfeasibleError, ResilienceError, UsageError
from optimizer.solvers.registry import METHODS, SOLVER_NAMES

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from optimizer.evaluation.evaluate import Judgement
    from optimizer.evaluation.outcome import ResilienceSummary
    from optimizer.instance.data import Instance
    from optimizer.pipeline import Solved
    from optimizer.plan import Plan
    from optimizer.results.document import Result
    from optimizer.results.file import RecordedPath
    from optimizer.solvers.contract import SolveOptions

# The library is imported inside the commands and their helpers, not here: `resilience
# --help` and `validate` must not pay for Pyomo, HiGHS, scipy or matplotlib (issue 13;
# benchmarks/RESULTS.md).


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
    from optimizer.instance.reading import load_instance
    from optimizer.report import write_result_report
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
    if report_path is not None:
        _check_report_path(report_path, instance)
    solved = _solve_leaving_evidence(inst, options, path, force,
                                     _recorded_path(path, instance))
    written = _write_result(solved.document, path, force)
    console = _print_solved(solved.result, path, written)
    if report_path is not None:
        write_result_report(solved.result, report_path, inst, source=Path(path).name)
        console.print(f"report written to {report_path}")
    _exit_unless_trusted(solved)


def _check_report_path(report_path: str, instance: str) -> None:
    """A bad extension, or a .csv file (one table; the report has several), fails before
    the solve, not after it."""
    from optimizer.report import REPORT_FORMATS, format_of
    from optimizer.report.output import is_folder

    if format_of(report_path, REPORT_FORMATS) == "csv" and not is_folder(report_path):
        raise UsageError(f"{report_path}: a CSV file holds one table and a report has "
                         "several; write them to a folder (--report FOLDER/), or use "
                         "`resilience report --table NAME` afterwards")
    output_path(report_path, instance, "")


def _solve_leaving_evidence(inst: Instance, options: SolveOptions, path: str,
                            force: bool, recorded_path: RecordedPath) -> Solved:
    """Solve and verify; a solve that ran and failed leaves its document (exit 3 or 4)
    before the error goes on. A usage or input error (exit 2) writes nothing, so the last
    good result stays as it was."""
    from optimizer.pipeline import solve_and_verify
    from optimizer.results.file import failure_document

    try:
        return solve_and_verify(inst, options, recorded_path=recorded_path)
    except ResilienceError as exc:
        if exc.exit_code != ExitCode.BAD_INPUT:
            status = "infeasible" if isinstance(exc, InfeasibleError) else "error"
            _write_result(failure_document(inst, status, str(exc)), path, force)
        raise


def _recorded_path(path: str, instance: str) -> RecordedPath:
    """Where the result at ``path`` says the instance is: seen from its folder, so a report
    can find it later; as given for a result on standard output; nowhere (null) for an
    instance from standard input."""
    from optimizer.results.file import RecordedPath, path_seen_from

    if instance == "-":
        return RecordedPath(None)
    if path == "-":
        return RecordedPath(instance)
    return RecordedPath(path_seen_from(Path(path).resolve().parent, instance))


def _write_result(doc: dict[str, Any], path: str, force: bool) -> str:
    """Write ``doc`` where it belongs and say where: a document without a trustworthy plan
    never replaces a result that holds one, unless --force."""
    from optimizer.results.file import failure_target
    from optimizer.safe_text import console_text as escape

    target = path if path == "-" or doc["status"] in ("optimal", "feasible") else str(
        failure_target(path, force))
    write_json(doc, target)
    if target != path:
        err.print(f"{escape(path)} holds a plan and is kept; this {doc['status']} result "
                  f"was written to {escape(target)} (--force replaces it)", soft_wrap=True)
    return target


def _print_solved(result: Result, path: str, written: str) -> Console:
    """Print the summary (on standard error when the JSON went to standard output) and
    where the result went; the console it printed on."""
    from optimizer.results.summary import print_summary
    from optimizer.safe_text import console_text as escape

    console = answer_console(path)
    print_summary(result, console)
    if path != "-":
        console.print(f"result written to {escape(written)}")
    return console


def _exit_unless_trusted(solved: Solved) -> None:
    """Exit 4 when the independent check rejects the plan, and as interrupted when Ctrl-C
    or SIGTERM stopped the solve (its best plan was written)."""
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
    from optimizer.instance.reading import STDIN, read_stdin

    # The output is checked first, so that a folder given as -o costs no evaluation.
    path = output_path(output, instance, ".evaluation.json") if output else None
    # Standard input can be read once: --reseed reads the same instance again.
    stdin = read_stdin() if instance == STDIN and reseed is not None else None
    inst, plan, doc = _plan_to_judge(instance, result, budget, stdin)
    if other is not None and reseed is not None:
        raise UsageError("give --scenarios or --reseed, not both")
    sample = _out_of_sample(inst, instance, other, reseed, stdin)
    evaluation = _evaluation(inst, plan, doc, result, sample)
    if path is not None:
        write_json(evaluation.document, path)
    _print_evaluation(evaluation, inst, instance, result, answer_console(path))
    if not evaluation.judgement.agrees:
        fail("the result does not stand up to independent evaluation", ExitCode.SOLVER_FAILURE)


def _plan_to_judge(instance: str, result: str, budget: float | None,
                   stdin: bytes | None) -> tuple[Instance, Plan, dict[str, Any]]:
    """The instance (under --budget, with the result's CVaR level), the result's plan and
    document; warns when the result was solved from another version of the instance or
    states another budget."""
    from optimizer.instance.reading import load_instance

    inst = load_instance(instance, stdin=stdin)
    if budget is not None:
        inst = dataclasses.replace(inst, budget=budget)
    warn(inst)
    plan, doc = read_result_plan(result, inst, instance)
    # Judged under the instance's budget, never the result's: a result is a claim, and an
    # edited budget in it must not hide a plan that overspends.
    stated = (doc.get("instance") or {}).get("budget")
    if isinstance(stated, int | float) and stated != inst.budget:
        warning(f"the result states a budget of {stated:,.2f}; the plan is judged under "
                f"{inst.budget:,.2f} (--budget to choose)")
    alpha = (doc.get("objective") or {}).get("alpha")
    if isinstance(alpha, int | float) and 0 <= alpha < 1:
        inst = dataclasses.replace(inst, objective=dataclasses.replace(inst.objective,
                                                                       alpha=float(alpha)))
    return inst, plan, doc


@dataclass(frozen=True)
class _OutOfSample:
    """Other scenarios to judge the plan on (--scenarios or --reseed)."""

    source: str  # where they come from, as the table and the file name it
    instance: Instance  # the instance read with them (its name and sha256 are reported)
    judged: Instance  # INSTANCE with those scenarios


def _out_of_sample(inst: Instance, instance: str, other: str | None, reseed: int | None,
                   stdin: bytes | None) -> _OutOfSample | None:
    """The scenarios of --reseed (INSTANCE's generators, other seeds) or --scenarios OTHER,
    with OTHER's warnings; None without either."""
    from optimizer.evaluation.out_of_sample import data_warnings, with_scenarios_of
    from optimizer.instance.reading import load_instance

    if reseed is not None:
        other_inst = load_instance(instance, reseed=reseed, stdin=stdin)
        return _OutOfSample(f"{instance} (seeds + {reseed})", other_inst,
                            with_scenarios_of(inst, other_inst))
    if other is None:
        return None
    other_inst = load_instance(other)
    for w in other_inst.warnings:
        warning(f"{other}: {w}")
    judged = with_scenarios_of(inst, other_inst)  # InputError (exit 2) names what differs
    for w in data_warnings(inst, other_inst):
        warning(f"{other}: {w}")
    return _OutOfSample(other, other_inst, judged)


@dataclass(frozen=True)
class _Evaluation:
    """The plan judged by max flow, the evaluation file (-o), and, with other scenarios,
    those scenarios and the plan's summary on them."""

    judgement: Judgement  # in sample, against what the result claims
    document: dict[str, Any]  # what -o writes
    out_of_sample: tuple[_OutOfSample, ResilienceSummary] | None


def _evaluation(inst: Instance, plan: Plan, doc: dict[str, Any], result: str,
                sample: _OutOfSample | None) -> _Evaluation:
    """Every scenario's resilience by max flow against what the result claims, the plan's
    violations, and, with other scenarios, in-sample against out-of-sample."""
    from optimizer.evaluation.evaluate import judge

    claimed = {s.get("id"): s.get("resilience") for s in doc.get("scenarios") or []
               if isinstance(s, dict)}
    judgement = judge(inst, plan, claimed, inst.objective.alpha)
    rows = [{"id": s.id, "resilience": o.resilience, "supply": o.supply,
             "shelter": o.shelter, "economic": o.economic, "claimed": claimed.get(s.id),
             "difference": d}
            for s, o, d in zip(inst.scenarios, judgement.outcomes, judgement.differences,
                               strict=True)]
    document: dict[str, Any] = {
        "instance": {"name": inst.name, "sha256": inst.sha256, "budget": inst.budget},
        "result": str(result),
        "method": "networkx maximum flow",
        "resilience": _summary_json(judgement.summary),
        "max_difference": judgement.max_difference,
        "plan_violations": judgement.violations,
        "scenarios": rows,
    }
    if sample is None:
        return _Evaluation(judgement, document, None)
    out_summary, sections = _out_of_sample_sections(inst, plan, judgement.summary, sample)
    return _Evaluation(judgement, {**document, **sections}, (sample, out_summary))


def _out_of_sample_sections(inst: Instance, plan: Plan, summary: ResilienceSummary,
                            sample: _OutOfSample) -> tuple[ResilienceSummary, dict[str, Any]]:
    """The plan evaluated on the other scenarios: their summary, and the evaluation file's
    sections on them and on their comparison with the in-sample ``summary``."""
    import numpy as np

    from optimizer.evaluation.evaluate import evaluate_plan
    from optimizer.evaluation.outcome import ResilienceSummary

    foreign = sample.judged
    out_outcomes = evaluate_plan(foreign, plan)
    out_summary = ResilienceSummary.of(np.array([o.resilience for o in out_outcomes]),
                                       foreign.probabilities, inst.objective.alpha)
    return out_summary, {
        "out_of_sample": {
            "scenarios_from": {"path": str(sample.source), "name": sample.instance.name,
                               "sha256": sample.instance.sha256},
            "resilience": _summary_json(out_summary),
            "scenarios": [{"id": s.id, "probability": s.probability,
                           "resilience": o.resilience, "supply": o.supply,
                           "shelter": o.shelter, "economic": o.economic}
                          for s, o in zip(foreign.scenarios, out_outcomes, strict=True)],
        },
        "in_sample_vs_out_of_sample": {
            measure: {"in_sample": a, "out_of_sample": b, "difference": b - a}
            for measure, a, b in (
                ("worst_case", summary.worst_case, out_summary.worst_case),
                ("expected", summary.expected, out_summary.expected),
                ("cvar", summary.cvar, out_summary.cvar))
        },
    }


def _summary_json(summary: ResilienceSummary) -> dict[str, Any]:
    """A resilience summary as the evaluation file writes it."""
    return {"worst_case": summary.worst_case, "expected": summary.expected,
            "cvar": {"alpha": summary.cvar_alpha, "value": summary.cvar}}


def _print_evaluation(evaluation: _Evaluation, inst: Instance, instance: str, result: str,
                      console: Console) -> None:
    """The summary (a table in and out of sample, when there are other scenarios), the
    largest difference from the result, and the plan's violations."""
    judgement = evaluation.judgement
    summary = judgement.summary
    if evaluation.out_of_sample is None:
        console.print(f"worst case {summary.worst_case:.6f}   expected {summary.expected:.6f}"
                      f"   CVaR({summary.cvar_alpha:g}) {summary.cvar:.6f}")
    else:
        sample, out_summary = evaluation.out_of_sample
        console.print(_in_and_out_of_sample(inst, instance, summary, sample, out_summary))
    if judgement.max_difference is None:
        console.print(f"{result} states no scenario resilience to compare with")
    else:
        worst, _ = max(zip(inst.scenarios, judgement.differences, strict=True),
                       key=lambda pair: pair[1] or 0.0)
        console.print(f"max difference from {result}: {judgement.max_difference:.1e} "
                      f"(scenario {worst.id})")
    for v in judgement.violations:
        console.print(f"plan violation: {v}")


def _in_and_out_of_sample(inst: Instance, instance: str, summary: ResilienceSummary,
                          sample: _OutOfSample, out_summary: ResilienceSummary) -> Table:
    """One row in sample, one out of sample: count, worst case, expected, CVaR."""
    from rich.table import Table

    from optimizer.safe_text import console_text as escape

    table = Table(show_edge=False)
    for col in ("", "scenarios from", "count", "worst case", "expected",
                f"CVaR({summary.cvar_alpha:g})"):
        table.add_column(col, justify="left" if col in ("", "scenarios from") else "right",
                         no_wrap=True)
    for label, source, scenarios, values in (
            ("in sample", instance, inst.scenarios, summary),
            ("out of sample", sample.source, sample.judged.scenarios, out_summary)):
        table.add_row(label, escape(Path(source).name), str(len(scenarios)),
                      *(f"{v:.6f}" for v in (values.worst_case, values.expected,
                                             values.cvar)))
    return table


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


