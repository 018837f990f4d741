"""``resilience report``, ``compare`` and ``sweep``: reports for budget officers.

Thin commands over ``optimizer.report``: parse options, find the instance of each result,
call the library, write the file (or print it with ``-o -``), and say on standard error
where it went.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from optimizer import stopping
from optimizer.choices import ObjectiveKind
from optimizer.cli.common import (
    BUDGET,
    MIP_GAP,
    THREADS,
    TIME_LIMIT,
    err,
    handled,
    output_path,
    progress_bar,
    warn,
    warning,
)
from optimizer.errors import UsageError
from optimizer.report import (  # light: each format's module is imported when it is used
    COMPARE_FORMATS,
    PLOT_FORMATS,
    REPORT_FORMATS,
    Rendered,
    emit,
    format_of,
    render_comparison,
    render_report,
    write_frontier,
    write_frontier_plot,
    write_sweep_results,
)
from optimizer.safe_text import console_text as escape

# The solver, the result models and rich's progress bars are imported inside the commands'
# helpers (and common.progress_bar), so that `resilience --help` stays quick (optimizer.cli).
if TYPE_CHECKING:
    from optimizer.instance.data import Instance
    from optimizer.results.frontier import Frontier
    from optimizer.solvers.contract import SolveOptions

INSTANCE_HELP = ("The instance the result was solved from (default: the path the result "
                 "records). Needed for the map, the comparison with doing nothing and the "
                 "social and institutional measures.")


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in (".result.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return Path(path).stem


def _target(output: str | None, default: str, source: str, formats: tuple[str, ...],
            fmt: str | None, stdout_format: str) -> tuple[str, str]:
    """The output path (or '-') and the format to write there."""
    path = output_path(output or default, source, "")
    if path == "-":
        return path, format_of("-", formats, fmt or stdout_format)
    return path, format_of(path, formats, fmt)


def _emit(path: str, rendered: Rendered, what: str) -> None:
    if path == "-":
        if isinstance(rendered, bytes):
            raise UsageError("a spreadsheet is not text: write it to a file (-o FILE.xlsx)")
        if isinstance(rendered, dict):
            raise UsageError("CSV on standard output is one table: name it with --table "
                             f"({', '.join(rendered)})")
        click.echo(rendered, nl=False)
    else:
        emit(path, rendered)
        err.print(f"{what} written to {escape(path)}", soft_wrap=True)


TABLE_HELP = ("CSV: the one table to write (summary, costs, depots, ...; an unknown name "
              "lists them); a spreadsheet: only that sheet. Without it, CSV goes to a folder "
              "(-o FOLDER/), one file per table.")


@click.command()
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("-o", "--output", help="Report file; its extension picks the format: .html, "
              ".md, .xlsx, .geojson, .csv (one --table), or FOLDER/ for every table as CSV "
              "(default RESULT_NAME.report.html here; '-' prints Markdown, or --format, on "
              "standard output).")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS),
              help="The format, whatever the extension says.")
@click.option("--instance", type=click.Path(dir_okay=False), help=INSTANCE_HELP)
@click.option("--local-coordinates", is_flag=True,
              help="GeoJSON of an instance without network.crs: write its x and y as they "
              "are, under a CRS named 'local' (not longitude and latitude; GIS tools need "
              "the right CRS set by hand).")
@click.option("--table", help=TABLE_HELP)
@handled
def report(result: str, output: str | None, fmt: str | None, instance: str | None,
           local_coordinates: bool, table: str | None) -> None:
    """Write the report of RESULT for a budget officer.

    HTML is one self-contained page (map, cost lines against the budget, resilience of every
    scenario, the three terms and four dimensions, who goes without in the worst scenarios,
    the plan against doing nothing, recovery) that prints on A4; Markdown is the same
    without pictures, for memos; a spreadsheet (.xlsx) has one sheet per table; CSV one
    table per file (a folder, or --table NAME); GeoJSON the facilities and zones for GIS
    tools, in longitude and latitude.
    """
    from optimizer.report.source import instance_for
    from optimizer.results.document import read_result

    checked, _ = read_result(result)
    path, chosen = _target(output, f"{_stem(result)}.report.html", result, REPORT_FORMATS, fmt,
                           "md")
    inst, warnings = instance_for(checked, result, instance)
    for w in warnings:
        warning(w)
    if inst is None and chosen != "geojson":
        warning("no instance (give --instance INSTANCE): the report leaves out the map, the "
              "comparison with doing nothing and the social and institutional measures")
    text = render_report(checked, chosen, inst, source=Path(result).name, notes=warnings,
                         local_coordinates=local_coordinates, table=table)
    _emit(path, text, "report")


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", help="Comparison file: .html, .md, .xlsx, .csv (one "
              "--table) or FOLDER/ for every table as CSV (default comparison.html here; '-' "
              "prints Markdown, or --format, on standard output).")
@click.option("--format", "fmt", type=click.Choice(COMPARE_FORMATS),
              help="The format, whatever the extension says.")
@click.option("--instance", type=click.Path(dir_okay=False),
              help="The instance the results were solved from (default: the paths they "
              "record), for the comparison with doing nothing.")
@click.option("--labels", help="Names of the options, comma-separated, in the order of the "
              "results (default: the file names).")
@click.option("--force", is_flag=True, help="Compare results of different instances or "
              "scenario sets anyway.")
@click.option("--table", help=TABLE_HELP)
@handled
def compare(results: tuple[str, ...], output: str | None, fmt: str | None,
            instance: str | None, labels: str | None, force: bool,
            table: str | None) -> None:
    """Compare the plans of RESULT files side by side.

    Cost lines, what changes at each depot and shelter, worst-case, expected and CVaR
    resilience, scenario by scenario differences, and resilience gained per 1,000 of money
    against doing nothing. The first result is the reference. Results of different instance
    files or scenario sets are refused (exit 2) unless --force; budgets may differ.
    """
    from optimizer.report.compare import compare as build
    from optimizer.report.source import instance_for
    from optimizer.results.document import read_result

    if len(results) < 2:
        raise UsageError("compare needs at least two result files")
    path, chosen = _target(output, "comparison.html", results[0], COMPARE_FORMATS, fmt, "md")
    for r in results:
        if path != "-" and Path(path).resolve() == Path(r).resolve():
            raise UsageError(f"the output {path} is an input file; choose another -o")
    cache: dict[Path, Instance] = {}
    entries = []
    for r in results:
        checked, _ = read_result(r)
        inst, warnings = instance_for(checked, r, instance, cache)
        for w in warnings:
            warning(w)
        entries.append((r, checked, inst))
    if all(inst is None for _, _, inst in entries):
        warning("no instance (give --instance INSTANCE): the comparison leaves out doing nothing")
    names = [s.strip() for s in labels.split(",")] if labels else None
    comparison = build(entries, force=force, labels=names)
    for problem in comparison.forced:
        warning(f"compared anyway (--force): {problem}")
    _emit(path, render_comparison(comparison, chosen, table), "comparison")


@click.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--budgets", help="Budgets to solve, comma-separated: 100000,200000,300000.")
@click.option("--budget-range", help="LO:HI:N, N budgets evenly spaced from LO to HI.")
@click.option("--targets", help="Worst-case targets, comma-separated: the cheapest plan that "
              "reaches each (min_cost).")
@click.option("--ceiling", type=BUDGET, help="Most money a target's plan may "
              "cost (default: the larger of the instance's budget and the largest budget "
              "swept).")
@click.option("--objective", type=click.Choice(["worst_case", "expected", "cvar"]),
              help="What each budget maximises (default: the instance's objective; "
              "worst_case for a min_cost instance).")
@click.option("-o", "--output", help="Frontier CSV (default INSTANCE_NAME.frontier.csv here; "
              "'-' prints it on standard output).")
@click.option("--plot", help="Picture of the frontier: a .png or .svg file.")
@click.option("--results", "results_folder", help="Also write each budget's result file into "
              "this folder (INSTANCE_NAME-budget-B.result.json), each with the frontier, so "
              "that `report` and `compare` of them show it.")
@click.option("--time-limit", type=TIME_LIMIT, help="Seconds per solve.")
@click.option("--mip-gap", type=MIP_GAP, default=1e-4, show_default=True,
              help="Relative MIP gap at which each solve stops, in [0, 1).")
@click.option("--threads", type=THREADS, help="Threads for HiGHS.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar on standard error.")
@handled
def sweep(instance: str, budgets: str | None, budget_range: str | None, targets: str | None,
          ceiling: float | None, objective: str | None, output: str | None, plot: str | None,
          results_folder: str | None, time_limit: float | None, mip_gap: float,
          threads: int | None, quiet: bool) -> None:
    """Solve INSTANCE at several budgets and write the budget frontier.

    For each budget (smallest first, each solve starting from the previous plan): the
    worst-case, expected and CVaR resilience, the money actually spent, and the resilience
    gained per 1,000 since the previous budget (the first against doing nothing). The
    frontier never falls as the budget grows; the plot marks where returns diminish: beyond
    the budget from which every further 1,000 buys less than a quarter of the best rate.
    """
    from optimizer.instance.reading import load_instance
    from optimizer.solvers.contract import SolveOptions

    swept, goals = _budgets_and_targets(budgets, budget_range, targets)
    path = _frontier_outputs(instance, output, plot)
    inst = load_instance(instance)
    warn(inst)
    kind = ObjectiveKind(objective) if objective else None
    if kind is None and inst.objective.kind is ObjectiveKind.MIN_COST:
        warning("the instance's objective is min_cost; the budgets maximise worst_case")
    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads)
    frontier = _sweep_with_progress(inst, swept, goals, kind, ceiling, options, quiet)
    if stopping.requested():  # a frontier with an interrupted point is not written
        raise KeyboardInterrupt
    for p in frontier.points:
        if p.carried_from is not None:
            warning(f"budget {p.budget:,.2f}: {p.note}")
    _write_frontier_outputs(frontier, path, plot, results_folder, instance)
    _say_where_returns_diminish(frontier)


def _budgets_and_targets(budgets: str | None, budget_range: str | None,
                         targets: str | None) -> tuple[list[float], list[float]]:
    """The budgets to sweep (--budgets or --budget-range) and the worst-case targets."""
    from optimizer.results.frontier import budgets_from_range, numbers

    if budgets and budget_range:
        raise UsageError("give --budgets or --budget-range, not both")
    if not (budgets or budget_range or targets):
        raise UsageError("give --budgets B1,B2,..., --budget-range LO:HI:N or --targets "
                         "T1,T2,...")
    swept = (numbers(budgets, "--budgets") if budgets
             else budgets_from_range(budget_range) if budget_range else [])
    goals = numbers(targets, "--targets", hi=1.0) if targets else []
    return swept, goals


def _frontier_outputs(instance: str, output: str | None, plot: str | None) -> str:
    """The frontier CSV's path ('-': standard output), and the plot's, checked before any
    solve."""
    path = output_path(output or f"{_stem(instance)}.frontier.csv", instance, "")
    if path != "-":
        format_of(path, ("csv",))
    if plot is not None:
        format_of(plot, PLOT_FORMATS)
        output_path(plot, instance, "")
    return path


def _sweep_with_progress(inst: Instance, swept: list[float], goals: list[float],
                         kind: ObjectiveKind | None, ceiling: float | None,
                         options: SolveOptions, quiet: bool) -> Frontier:
    """The frontier, one solve per budget and target, under a progress bar (with a line per
    solve unless ``quiet``)."""
    from optimizer.results.frontier import sweep as run_sweep

    with progress_bar(quiet) as progress:
        task = progress.add_task("sweeping", total=len(swept) + len(goals))

        def step(line: str) -> None:
            if not quiet:
                progress.console.print(escape(line), soft_wrap=True)
            progress.advance(task)

        return run_sweep(inst, swept, targets=goals, objective=kind, ceiling=ceiling,
                         options=options, progress=step)


def _write_frontier_outputs(frontier: Frontier, path: str, plot: str | None,
                            results_folder: str | None, instance: str) -> None:
    """The frontier CSV (or standard output), the plot, and each budget's result file;
    each said on standard error."""
    if path == "-":
        from optimizer.report.tables import frontier_csv

        click.echo(frontier_csv(frontier), nl=False)
        if plot is not None:
            write_frontier_plot(frontier, plot)
    else:
        write_frontier(frontier, path, plot)
        err.print(f"frontier written to {escape(path)}", soft_wrap=True)
    if plot is not None:
        err.print(f"plot written to {escape(plot)}", soft_wrap=True)
    if results_folder is not None:
        written = write_sweep_results(frontier, results_folder, stem=_stem(instance),
                                      instance_path=instance)
        err.print(f"{len(written)} result files written to {escape(results_folder)}",
                  soft_wrap=True)


def _say_where_returns_diminish(frontier: Frontier) -> None:
    knee = frontier.knee
    if knee is not None:
        err.print(f"returns diminish beyond a budget of {knee.budget:,.2f}: every further "
                  f"1,000 buys less than {frontier.diminishing_share:.0%} of the best rate",
                  soft_wrap=True)
    elif frontier.points:
        err.print("returns do not diminish within the budgets swept")
