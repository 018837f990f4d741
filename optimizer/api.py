"""The Python API: the commands' jobs as plain functions (``optimizer`` re-exports them).

Each takes what a notebook has at hand (a path, a dict, an
:class:`~optimizer.instance.data.Instance`,
a :class:`~optimizer.results.document.Result`) and returns typed objects, never the CLI's
printing. The solver and the report modules are imported inside the functions, so that
``import optimizer`` stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.errors import InputError, Problem, SolverFailure, UsageError
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.results.document import Result, parse_result, read_result

if TYPE_CHECKING:
    from optimizer.evaluation.outcome import ScenarioOutcome
    from optimizer.report.output import Rendered

InstanceLike = Instance | str | Path | Mapping[str, Any]
ResultLike = Result | str | Path | Mapping[str, Any]


def load_instance(source: InstanceLike, *, reseed: int = 0) -> Instance:
    """Read, check and expand an instance.

    Parameters
    ----------
    source
        A path to an instance file, ``"-"`` for standard input, a dict holding the file's
        JSON, or an :class:`Instance` (returned as it is).
    reseed
        Added to every scenario generator's seed: the same generators, other scenarios.

    Raises
    ------
    optimizer.errors.InputError
        Every problem of the file at once, each with its JSON path.
    """
    if isinstance(source, Instance):
        return source
    from optimizer.instance import reading

    if isinstance(source, Mapping):
        # Through the same text path as a file, so that a dict is checked exactly as its
        # JSON would be (NaN, repeated keys, depth) and gets the same sha256.
        try:
            raw = json.dumps(source, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InputError("<dict>", [Problem("", f"not JSON data: {exc}")]) from None
        return reading.load_bytes(raw, "<dict>", reseed=reseed)
    return reading.load_instance(source, reseed=reseed)


def with_overrides(instance: Instance, *, objective: str | None = None,
                   alpha: float | None = None, target: float | None = None,
                   budget: float | None = None) -> Instance:
    """``instance`` with another objective, CVaR alpha, min_cost target or budget."""
    o = instance.objective
    try:
        kind = ObjectiveKind(objective) if objective else o.kind
    except ValueError:
        raise UsageError(f"unknown objective {objective!r}; use one of "
                         f"{', '.join(k.value for k in ObjectiveKind)}") from None
    new_objective = dataclasses.replace(
        o, kind=kind, alpha=o.alpha if alpha is None else alpha,
        target=o.target if target is None else target)
    if kind is ObjectiveKind.MIN_COST and new_objective.target is None:
        raise UsageError("min_cost needs a target: give --target T or objective.target")
    changes: dict[str, Any] = {"objective": new_objective}
    if budget is not None:
        changes["budget"] = budget
    return dataclasses.replace(instance, **changes)


def solve(instance: InstanceLike, *, objective: str | None = None, alpha: float | None = None,
          target: float | None = None, budget: float | None = None,
          **options: Any) -> Result:
    """Solve, re-check every scenario by maximum flow and return the result.

    Parameters
    ----------
    instance
        Anything :func:`load_instance` takes.
    objective, alpha, target, budget
        Override the instance's (as ``resilience solve --objective ...`` does).
    **options
        Fields of :class:`optimizer.solvers.extensive.SolveOptions`: ``time_limit``, ``mip_gap``,
        ``threads``, ``method``, ``solver``, ``workers``, ``scheduler``, ``log`` (a function
        that takes each progress line).

    Returns
    -------
    Result
        The same result ``resilience solve`` writes (``result.to_json()`` is its file).

    Raises
    ------
    optimizer.errors.InfeasibleError
        No plan: proved infeasible, or stopped before finding one.
    optimizer.errors.SolverFailure
        The solver failed, or the independent check disagrees with the model.
    """
    from optimizer.pipeline import solve_and_verify
    from optimizer.solvers.contract import SolveOptions

    known = {f.name for f in dataclasses.fields(SolveOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"unknown solve option(s) {', '.join(unknown)}; use "
                         f"{', '.join(sorted(known - {'started', 'start', 'reserve'}))}")
    inst = with_overrides(load_instance(instance), objective=objective, alpha=alpha,
                          target=target, budget=budget)
    solved = solve_and_verify(inst, SolveOptions(**options))
    if not solved.verified:
        raise SolverFailure("independent check failed: " + solved.failure())
    return parse_result(solved.document, f"{inst.name} result")


def _result(result: ResultLike) -> Result:
    if isinstance(result, Result):
        return result
    if isinstance(result, Mapping):
        return parse_result(dict(result))
    return read_result(result)[0]


@dataclass(frozen=True)
class Evaluation:
    """A plan re-evaluated by maximum flow, without the solver (``resilience evaluate``)."""

    worst_case: float
    expected: float
    cvar_alpha: float
    cvar: float
    scenarios: tuple[ScenarioOutcome, ...]  # in the instance's order
    scenario_ids: tuple[str, ...]
    max_difference: float | None  # against what the result states; None if it states none
    violations: tuple[str, ...]  # rules of the instance the plan breaks (budget, policy)

    @property
    def agrees(self) -> bool:
        """The result's claims hold: no rule broken, every scenario within 1e-6."""
        from optimizer.evaluation.evaluate import agrees

        return agrees(self.max_difference, self.violations)


def evaluate(instance: InstanceLike, result: ResultLike, *,
             budget: float | None = None) -> Evaluation:
    """Re-evaluate ``result``'s plan on ``instance`` by maximum flow.

    The plan is judged under the instance's budget (or ``budget``), never the one the
    result states, as ``resilience evaluate`` does.
    """
    from optimizer.evaluation.evaluate import judge
    from optimizer.results.file import plan_of

    inst = with_overrides(load_instance(instance), budget=budget)
    checked = _result(result)
    plan = plan_of(checked.document, inst, f"{checked.instance.name} result")
    judged = judge(inst, plan, {s.id: s.resilience for s in checked.scenarios},
                   checked.resilience.cvar.alpha)
    summary = judged.summary
    return Evaluation(summary.worst_case, summary.expected, summary.cvar_alpha, summary.cvar,
                      tuple(judged.outcomes), tuple(s.id for s in inst.scenarios),
                      judged.max_difference, tuple(judged.violations))


def report(result: ResultLike, path: str | Path | None = None, *, fmt: str | None = None,
           instance: InstanceLike | None = None, table: str | None = None,
           notes: Sequence[str] = ()) -> Rendered | None:
    """The report of ``result``: written to ``path`` (format by extension, as
    ``resilience report -o``), or returned when ``path`` is None (``fmt`` then names the
    format: ``md`` by default; ``html``, ``csv``, ``xlsx`` (bytes), ``geojson``).

    ``instance`` adds the map, the comparison with doing nothing and the social and
    institutional measures (and GeoJSON needs it).
    """
    from optimizer.report import REPORT_FORMATS, emit, format_of, render_report

    checked = _result(result)
    inst = None if instance is None else load_instance(instance)
    chosen = format_of(path if path is not None else "-", REPORT_FORMATS,
                       fmt or (None if path is not None else "md"))
    rendered = render_report(checked, chosen, inst, source=f"{checked.instance.name} result",
                             notes=notes, table=table)
    if path is None:
        return rendered
    emit(path, rendered)
    return None
