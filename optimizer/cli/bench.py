"""``resilience bench``, ``resilience suite`` and ``resilience export``: for researchers.

Thin: options become :class:`optimizer.bench.runner.BenchOptions`, a suite folder, or a call
of :func:`optimizer.solvers.export.export_model`; the library does the work. The summary is the
answer of ``bench --summary`` and is printed on standard output (also at the end of a run);
progress goes to standard error. Registered on the main command in ``optimizer.cli``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

# The registry is light (its builders import the generators when they build); the runner
# and the progress bars are imported inside the helpers that use them, so that `--help`
# stays quick.
from optimizer.bench.registry import FAMILIES, SIZE_CLASSES, SuiteEntry, read_suite, write_suite
from optimizer.choices import ObjectiveKind
from optimizer.cli.common import (
    ALPHA,
    BUDGET,
    MIP_GAP,
    TARGET,
    THREADS,
    TIME_LIMIT,
    err,
    handled,
    make_console,
    output_path,
    progress_bar,
    warn,
)
from optimizer.errors import UsageError
from optimizer.files import check_writable
from optimizer.safe_text import console_text as escape
from optimizer.solvers.registry import METHODS, SOLVER_NAMES

if TYPE_CHECKING:
    from optimizer.bench.runner import BenchOptions


def _names(text: str, option: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise UsageError(f"{option} needs at least one name")
    if allowed is not None:
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise UsageError(f"{option}: unknown {', '.join(unknown)}; choose from "
                             + ", ".join(allowed))
    return names


def _print_summary(rows: list[dict[str, Any]], markdown: bool, plot: str | None) -> None:
    # numpy and the metrics only when a summary is printed (`--help` stays quick).
    from optimizer.bench.metrics import (
        config_label,
        cross_check,
        performance_profile,
        problem_times,
        summarise,
        summary_markdown,
    )

    summaries = summarise(rows)
    disagreements = cross_check(rows)
    out = make_console()
    if markdown:
        click.echo(summary_markdown(summaries, disagreements), nl=False)
    else:
        table = Table(title="Benchmark summary", show_edge=False, title_justify="left",
                      caption="time: build + hand-off + primary solve, seconds; SGM: shifted "
                      "geometric mean (shift 10 s), unsolved at the time limit",
                      caption_justify="left")
        for col in ("solver", "method", "problems", "solved", "feasible", "failed",
                    "skipped", "SGM s", "SGM solved s"):
            table.add_column(col, justify="left" if col in ("solver", "method") else "right",
                             no_wrap=True)
        for s in summaries:
            table.add_row(s.solver, s.method, str(s.problems), str(s.solved), str(s.feasible),
                          str(s.failed), str(s.skipped), _fmt(s.sgm_seconds),
                          _fmt(s.solved_sgm_seconds))
        out.print(table)
        if disagreements:
            out.print(f"[bold red]{len(disagreements)} disagreement(s)[/bold red] beyond the "
                      "solvers' gaps:")
            for d in disagreements:
                out.print(f"  {escape(d.instance)} {escape(d.objective)}: "
                          f"{escape(config_label(d.first))} {d.first_value:.9g} "
                          f"[{d.first_bracket[0]:.9g}, {d.first_bracket[1]:.9g}] vs "
                          f"{escape(config_label(d.second))} {d.second_value:.9g} "
                          f"[{d.second_bracket[0]:.9g}, {d.second_bracket[1]:.9g}]")
        else:
            out.print("cross-check: every pair of solvers agrees within their gaps")
    if plot is not None:
        from optimizer.bench.plot import draw_profile

        profile = performance_profile(problem_times(rows))
        draw_profile(profile, plot)
        err.print(f"performance profile of {profile.problems} problems written to {plot}")


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


@click.command()
@click.argument("suite", required=False)
@click.option("--solvers", default="highs", show_default=True,
              help="Comma-separated: " + ", ".join(SOLVER_NAMES) + ". One not installed "
              "here gives rows with status skipped.")
@click.option("--methods", default="extensive", show_default=True,
              help="Comma-separated: " + ", ".join(METHODS) + ". One not available gives "
              "skipped rows.")
@click.option("--objectives", default="instance", show_default=True,
              help="Comma-separated: instance (each instance's own), worst_case, expected, "
              "cvar[:ALPHA], min_cost:TARGET.")
@click.option("--time-limit", type=TIME_LIMIT, default=300.0,
              show_default=True, help="Solver time limit per run, seconds (from the start of "
              "building the model).")
@click.option("--hard-limit", type=TIME_LIMIT,
              help="Wall-clock seconds after which a run's process is killed (status "
              "timeout) [default: twice the time limit plus 60].")
@click.option("--mip-gap", type=MIP_GAP, default=1e-4, show_default=True,
              help="Relative MIP gap, the same for every solver.")
@click.option("--threads", type=THREADS, default=1, show_default=True,
              help="Threads per solver (GLPK and SCIP use one).")
@click.option("--repeat", type=click.IntRange(1), default=1, show_default=True,
              help="Runs of each instance x objective x solver x method.")
@click.option("--resume", is_flag=True, help="Keep the rows already in the output and make "
              "only the runs missing (skipped rows are tried again).")
@click.option("-o", "--output", default="bench.csv", show_default=True,
              help="Results CSV; the sidecar RESULTS.json is written next to it.")
@click.option("--summary", "summary_of", type=click.Path(dir_okay=False),
              help="Summarise this results CSV instead of running a benchmark.")
@click.option("--plot", help="Performance profile picture (.png, .svg, .pdf) [default after "
              "a run: RESULTS.profile.png].")
@click.option("--markdown", is_flag=True, help="Print the summary as markdown tables.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handled
def bench(suite: str | None, solvers: str, methods: str, objectives: str, time_limit: float,
          hard_limit: float | None, mip_gap: float, threads: int, repeat: int, resume: bool,
          output: str, summary_of: str | None, plot: str | None, markdown: bool,
          quiet: bool) -> None:
    """Run every instance of SUITE with every solver and method, one process per run.

    SUITE is a folder written by `resilience suite`, one instance file, or a suite name
    (small, medium, large: written first into suite-NAME beside the output). Each run has
    a hard wall-clock limit, so a crash or a hang costs one row. Writes RESULTS.csv (a row
    per run, after every run), RESULTS.json (machine, versions, command line) and a
    performance profile, and prints the summary. With --summary RESULTS.csv, only
    summarises.
    """
    from optimizer.bench.runner import BenchOptions, read_rows, sidecar_path

    if summary_of is not None:
        if suite is not None:
            raise UsageError("give SUITE to run a benchmark or --summary RESULTS.csv, not both")
        _print_summary(read_rows(summary_of), markdown, plot)
        return
    if suite is None:
        raise UsageError("give a SUITE folder, an instance file or a suite name ("
                         + ", ".join(SIZE_CLASSES) + "), or --summary RESULTS.csv")
    if not output.lower().endswith(".csv"):
        raise UsageError(f"the results file {output} should end in .csv")
    check_writable(output)
    options = BenchOptions(
        solvers=_names(solvers, "--solvers", SOLVER_NAMES),
        methods=_names(methods, "--methods", METHODS),
        objectives=_names(objectives, "--objectives"),
        time_limit=time_limit, hard_limit=hard_limit, mip_gap=mip_gap, threads=threads,
        repeat=repeat)
    suite = _suite_folder(suite, output, quiet)
    entries = read_suite(suite)
    command = _repeat_command(suite, options, output, resume)
    rows = _run_with_progress(entries, options, output, suite, command, resume, quiet)
    err.print(f"{len(rows)} rows written to {output}; sidecar {sidecar_path(output)}")
    picture = plot or str(Path(output).with_suffix("")) + ".profile.png"
    _print_summary(rows, markdown, picture)


def _suite_folder(suite: str, output: str, quiet: bool) -> str:
    """SUITE as a folder or file to read: a suite name that is not a path here is written
    first, into suite-NAME beside the output."""
    if not Path(suite).exists() and suite in SIZE_CLASSES:
        folder = Path(output).resolve().parent / f"suite-{suite}"
        err.print(f"writing suite {suite} into {folder}")
        write_suite(suite, folder, log=None if quiet else lambda m: err.print(f"[dim]{m}[/dim]"))
        return str(folder)
    return suite


def _repeat_command(suite: str, options: BenchOptions, output: str, resume: bool) -> str:
    """The command line that repeats the benchmark: every option spelled out, defaults
    included."""
    return shlex.join([
        "resilience", "bench", suite, "--solvers", ",".join(options.solvers),
        "--methods", ",".join(options.methods), "--objectives", ",".join(options.objectives),
        "--time-limit", f"{options.time_limit:g}", "--hard-limit", f"{options.wall_limit:g}",
        "--mip-gap", f"{options.mip_gap:g}", "--threads", str(options.threads),
        "--repeat", str(options.repeat), *(["--resume"] if resume else []), "-o", output])


def _run_with_progress(entries: list[SuiteEntry], options: BenchOptions, output: str,
                       suite: str, command: str, resume: bool,
                       quiet: bool) -> list[dict[str, Any]]:
    """Every run of the suite's ``entries``, one process each, under a progress bar that
    names the run under way and says which ones failed; the rows, as written to
    ``output`` (whose sidecar records ``suite`` and the repeat ``command``)."""
    from optimizer.bench.runner import run_bench

    with progress_bar(quiet, transient=False) as progress:
        task = progress.add_task("benchmark", total=None)

        def on_start(i: int, total: int, run: Any) -> None:
            progress.update(task, total=total, completed=i, description=escape(
                f"{run.entry.name} {run.objective.label} {run.solver}/{run.method}"
                + (f" #{run.repeat}" if options.repeat > 1 else "")))

        def on_row(i: int, total: int, run: Any, row: dict[str, Any]) -> None:
            progress.update(task, total=total, completed=i + 1)
            if row.get("status") in ("timeout", "crashed", "error"):
                progress.console.print(f"[yellow]{escape(run.entry.name)} {run.solver}/"
                                       f"{run.method}: {row['status']}[/yellow] "
                                       f"{escape(str(row.get('message') or ''))}",
                                       soft_wrap=True)

        rows = run_bench(entries, options, output, suite=suite, command=command,
                         resume=resume, on_start=on_start, on_row=on_row)
        progress.update(task, description="benchmark done")
    return rows


@click.command()
@click.argument("name", required=False, type=click.Choice(SIZE_CLASSES))
@click.option("-o", "--output", help="Folder to write [default: suite-NAME].")
@click.option("--families", help="Comma-separated families [default: all]: "
              + ", ".join(FAMILIES) + ".")
@click.option("--list", "list_families", is_flag=True,
              help="List the families and their sizes, and exit.")
@handled
def suite(name: str | None, output: str | None, families: str | None,
          list_families: bool) -> None:
    """Write benchmark suite NAME (a size class of every family) as a folder of instances.

    The folder holds one instance file per family and seed, and suite.json (what each
    file is and the generator call that made it). `resilience bench FOLDER` runs it.
    """
    if list_families:
        out = make_console()
        table = Table(show_edge=False)
        for col in ("family", *SIZE_CLASSES, "what"):
            table.add_column(col)
        for f in FAMILIES.values():
            cells = []
            for size in SIZE_CLASSES:
                s = f.sizes.get(size)
                cells.append("-" if s is None else
                             " ".join(f"{k}={v}" for k, v in s.parameters.items())
                             + f" seeds {','.join(map(str, s.seeds))}")
            table.add_row(f.name, *cells, f.description + (f" [{f.unavailable()}]"
                                                            if f.unavailable() else ""))
        out.print(table)
        return
    if name is None:
        raise UsageError("give a suite name (" + ", ".join(SIZE_CLASSES) + ") or --list")
    folder = output or f"suite-{name}"
    chosen = None if families is None else _names(families, "--families", tuple(FAMILIES))
    entries = write_suite(name, folder, chosen, log=lambda m: err.print(f"[dim]{m}[/dim]"))
    err.print(f"suite {name}: {len(entries)} instances written to {folder}")


@click.command()
@click.argument("instance", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", required=True,
              help="Model file: MODEL.mps (free MPS) or MODEL.lp (CPLEX LP).")
@click.option("--objective", type=click.Choice([k.value for k in ObjectiveKind]),
              help="Override the instance's objective.")
@click.option("--alpha", type=ALPHA,
              help="CVaR level: the mean of the worst 1-alpha probability mass.")
@click.option("--target", type=TARGET, help="Worst-case target for min_cost.")
@click.option("--budget", type=BUDGET, help="Override the instance's budget.")
@handled
def export(instance: str, output: str, objective: str | None, alpha: float | None,
           target: float | None, budget: float | None) -> None:
    """Write INSTANCE's model as MPS or LP, so that any solver can run it.

    The file holds the extensive form with the primary objective, symbolic names, and a
    header saying how its optimum relates to the engine's objective.value: equal for the
    resilience objectives (maximised); for min_cost, the file minimises cost as a share of
    the budget, so the engine's value is the file's optimum times the budget.
    """
    from optimizer.solvers.export import export_model, format_of, with_overrides

    format_of(output)  # a bad extension fails before the instance is read
    path = output_path(output, instance, "")
    if path == "-":
        raise UsageError("export writes a file: give -o MODEL.mps or -o MODEL.lp")
    from optimizer.instance.reading import load_instance

    inst = with_overrides(load_instance(instance), objective=objective, alpha=alpha,
                          target=target, budget=budget)
    warn(inst)
    exported = export_model(inst, path)
    size = exported.size
    err.print(f"wrote {path}: {size['variables']:,} variables ({size['integer_variables']:,} "
              f"integer), {size['constraints']:,} constraints, {size['nonzeros']:,} "
              f"non-zeros; {exported.sense} {escape(exported.objective)}", soft_wrap=True)


__all__ = ["bench", "export", "suite"]
