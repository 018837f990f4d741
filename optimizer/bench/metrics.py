"""Standard benchmark metrics over a results CSV: solved counts, shifted geometric means,
Dolan-More performance profiles, and a cross-check of objectives between solvers.

Definitions (so that numbers can be cited):

* A *problem* is an (instance, objective) pair; a *configuration* a (solver, method) pair.
* A configuration *solves* a problem when every repeat of it ends ``optimal`` (within the
  MIP gap). Its *time* on the problem is the median over repeats of ``time_seconds``
  (building, hand-off and the primary objective's solve; HiGHS's tie-breaks and the
  recourse polish are not counted, as other solvers do not run them). An unsolved problem
  counts as the run's time limit, as in MIPLIB.
* Shifted geometric mean with shift s = 10 s (MIPLIB 2017):
  ``sgm(t) = exp(mean(log(t_i + s))) - s``.
* Performance profile (Dolan and More, Math. Program. 91 (2002) 201-213): for problem p and
  configuration c, ``r_pc = t_pc / min_c t_pc`` (infinite when c does not solve p), and
  ``rho_c(tau)`` is the share of problems with ``r_pc <= tau``. A problem that no
  configuration solves stays in the denominator. Skipped runs are left out; a configuration
  skipped on every problem is left out of the profile.
* Cross-check: each run with a plan brackets the true optimum between its value and its
  bound (an ``optimal`` run's bound is widened to its MIP gap, since some solvers report
  their incumbent as the bound); two configurations disagree on a problem when their
  brackets do not overlap by more than a tolerance of 1e-6 relative.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SHIFT = 10.0  # seconds, as in MIPLIB
TOLERANCE = 1e-6
SOLVED = "optimal"
HAS_PLAN = {"optimal", "feasible"}

Config = tuple[str, str]  # (solver, method)
Problem = tuple[str, str]  # (instance, objective)


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def shifted_geometric_mean(values: Iterable[float], shift: float = SHIFT) -> float:
    """``exp(mean(log(t + shift))) - shift``; nan for no values."""
    values = np.asarray(list(values), dtype=float)
    if len(values) == 0:
        return math.nan
    return float(np.exp(np.mean(np.log(values + shift))) - shift)


def config_of(row: dict) -> Config:
    return (str(row["solver"]), str(row["method"]))


def problem_of(row: dict) -> Problem:
    return (str(row["instance"]), str(row["objective"]))


def config_label(config: Config) -> str:
    return f"{config[0]} / {config[1]}"


def problem_times(rows: Sequence[dict]) -> dict[Config, dict[Problem, float | None]]:
    """Per configuration and problem: the median time when solved in every repeat, else None.

    Skipped rows are left out, so a configuration appears only with the problems it ran.
    """
    runs: dict[Config, dict[Problem, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.get("status") == "skipped":
            continue
        runs[config_of(row)][problem_of(row)].append(row)
    out: dict[Config, dict[Problem, float | None]] = {}
    for config, problems in runs.items():
        out[config] = {}
        for problem, repeats in problems.items():
            times = [_float(r.get("time_seconds")) for r in repeats]
            solved = all(r.get("status") == SOLVED for r in repeats) and all(
                t is not None for t in times)
            out[config][problem] = (statistics.median(t for t in times if t is not None)
                                    if solved else None)
    return out


@dataclass(frozen=True)
class ConfigSummary:
    """One line of the summary table."""

    solver: str
    method: str
    problems: int  # problems run (skipped left out)
    solved: int
    feasible: int  # stopped at a limit with a plan (in some repeat), not solved
    failed: int  # no plan: infeasible, error, timeout or crashed (in some repeat)
    skipped: int
    sgm_seconds: float  # shifted geometric mean of time, unsolved at the time limit
    solved_sgm_seconds: float  # the same over the problems solved only

    @property
    def label(self) -> str:
        return config_label((self.solver, self.method))


def summarise(rows: Sequence[dict]) -> list[ConfigSummary]:
    """One :class:`ConfigSummary` per configuration, in order of first appearance."""
    order: list[Config] = []
    by_config: dict[Config, list[dict]] = defaultdict(list)
    for row in rows:
        config = config_of(row)
        if config not in by_config:
            order.append(config)
        by_config[config].append(row)
    times = problem_times(rows)
    out = []
    for config in order:
        config_rows = by_config[config]
        skipped = {problem_of(r) for r in config_rows if r.get("status") == "skipped"}
        ran: dict[Problem, list[dict]] = defaultdict(list)
        for r in config_rows:
            if r.get("status") != "skipped":
                ran[problem_of(r)].append(r)
        solved_times = times.get(config, {})
        all_times: list[float] = []
        feasible = failed = 0
        for problem, repeats in ran.items():
            t = solved_times.get(problem)
            if t is not None:
                all_times.append(t)
                continue
            statuses = {r.get("status") for r in repeats}
            if statuses & HAS_PLAN:
                feasible += 1
            else:
                failed += 1
            limits = [_float(r.get("time_limit")) or _float(r.get("wall_seconds")) or 0.0
                      for r in repeats]
            all_times.append(max(limits))
        solved = [t for t in solved_times.values() if t is not None]
        out.append(ConfigSummary(
            solver=config[0], method=config[1], problems=len(ran), solved=len(solved),
            feasible=feasible, failed=failed, skipped=len(skipped - set(ran)),
            sgm_seconds=shifted_geometric_mean(all_times),
            solved_sgm_seconds=shifted_geometric_mean(solved)))
    return out


@dataclass(frozen=True)
class Profile:
    """Dolan-More performance profile: ``fractions[c][j]`` is rho_c(taus[j])."""

    taus: np.ndarray
    fractions: dict[Config, np.ndarray]
    problems: int


def performance_profile(times: dict[Config, dict[Problem, float | None]]) -> Profile:
    """The profile of ``times`` (from :func:`problem_times`; None: not solved)."""
    configs = [c for c, t in times.items() if t]
    problems = sorted({p for c in configs for p in times[c]})
    if not configs or not problems:
        return Profile(np.array([1.0]), {c: np.array([0.0]) for c in configs}, len(problems))
    t = np.full((len(problems), len(configs)), np.inf)
    for j, c in enumerate(configs):
        for i, p in enumerate(problems):
            value = times[c].get(p)
            if value is not None:
                t[i, j] = max(value, 1e-9)  # a zero time would make every ratio infinite
    best = t.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        ratios = np.where(np.isfinite(best), t / best, np.inf)
    finite = ratios[np.isfinite(ratios)]
    taus = np.unique(np.concatenate([[1.0], finite]))
    fractions = {c: np.array([(ratios[:, j] <= tau + 1e-12).mean() for tau in taus])
                 for j, c in enumerate(configs)}
    return Profile(taus, fractions, len(problems))


@dataclass(frozen=True)
class Disagreement:
    """Two configurations whose objective brackets on one problem do not overlap."""

    instance: str
    objective: str
    first: Config
    first_value: float
    first_bracket: tuple[float, float]
    second: Config
    second_value: float
    second_bracket: tuple[float, float]

    @property
    def difference(self) -> float:
        return abs(self.first_value - self.second_value)


def bracket(row: dict) -> tuple[float, float] | None:
    """The interval a run puts the true optimum in, or None when it has no plan."""
    value = _float(row.get("objective_value"))
    if row.get("status") not in HAS_PLAN or value is None:
        return None
    bound = _float(row.get("bound"))
    minimise = str(row.get("objective", "")).startswith("min_cost")
    slack = (_float(row.get("mip_gap")) or 0.0) * max(abs(value), 1e-10)
    if row.get("status") == SOLVED:
        far = value - slack if minimise else value + slack
        if bound is not None:
            far = min(far, bound) if minimise else max(far, bound)
    elif bound is not None:
        far = bound
    else:
        far = -math.inf if minimise else math.inf
    return (far, value) if minimise else (value, far)


def cross_check(rows: Sequence[dict], tolerance: float = TOLERANCE) -> list[Disagreement]:
    """Pairs of configurations whose brackets on the same problem are apart (see module doc).

    Every pair of configurations is reported at most once per problem, by its widest gap.
    """
    by_problem: dict[Problem, list[tuple[Config, float, tuple[float, float]]]] = (
        defaultdict(list))
    for row in rows:
        b = bracket(row)
        if b is not None:
            value = _float(row.get("objective_value"))
            assert value is not None
            by_problem[problem_of(row)].append((config_of(row), value, b))
    found: dict[tuple[Problem, Config, Config], tuple[float, Disagreement]] = {}
    for problem, entries in by_problem.items():
        for i, (ca, va, ba) in enumerate(entries):
            for cb, vb, bb in entries[i + 1:]:
                if ca == cb:
                    continue
                apart = max(ba[0], bb[0]) - min(ba[1], bb[1])
                if apart <= tolerance * max(1.0, abs(va), abs(vb)):
                    continue
                first, second = sorted([(ca, va, ba), (cb, vb, bb)])
                key = (problem, first[0], second[0])
                if key not in found or apart > found[key][0]:
                    found[key] = (apart, Disagreement(problem[0], problem[1], first[0],
                                                      first[1], first[2], second[0],
                                                      second[1], second[2]))
    return [d for _, d in sorted(found.values(), key=lambda x: (x[1].instance,
                                                                x[1].objective))]


def summary_markdown(summaries: Sequence[ConfigSummary],
                     disagreements: Sequence[Disagreement]) -> str:
    """The summary as markdown tables (for a README or a paper's supplement)."""
    lines = ["| solver | method | problems | solved | feasible | failed | skipped | "
             "SGM time s (shift 10) | SGM over solved s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(f"| {s.solver} | {s.method} | {s.problems} | {s.solved} | {s.feasible} "
                     f"| {s.failed} | {s.skipped} | {_fmt(s.sgm_seconds)} | "
                     f"{_fmt(s.solved_sgm_seconds)} |")
    lines.append("")
    if disagreements:
        lines += ["Objectives that disagree beyond their gaps:", "",
                  "| instance | objective | configuration | value | configuration | value |",
                  "|---|---|---|---:|---|---:|"]
        for d in disagreements:
            lines.append(f"| {d.instance} | {d.objective} | {config_label(d.first)} | "
                         f"{d.first_value:.9g} | {config_label(d.second)} | "
                         f"{d.second_value:.9g} |")
    else:
        lines.append("Cross-check: every pair of solvers agrees on every objective within "
                     "their gaps.")
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


__all__ = ["SHIFT", "ConfigSummary", "Disagreement", "Profile", "bracket", "cross_check",
           "performance_profile", "problem_times", "shifted_geometric_mean", "summarise",
           "summary_markdown"]
