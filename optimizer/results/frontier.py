"""The budget frontier: what each budget buys, and what given worst-case targets cost.

Budgets are solved from the smallest up, each solve starting from the previous plan: a
plan that fits a budget fits every larger one, so the start is feasible and the solver only
has to improve on it. The frontier therefore never falls; should a solve stop early (time
limit, or the MIP gap) below the previous point, the previous plan is carried forward with
a note, and the finished frontier is checked to be monotone.

Targets (``min_cost``) are solved from the highest down: the plan for a higher target
reaches every lower one, so it starts the next solve, and so may a swept plan that already
reaches the target within the ceiling.

Diminishing returns. The marginal gain of a segment is the swept objective gained per
1,000 of budget between two consecutive points (the first segment starts from doing
nothing at budget 0). Let M be the largest marginal gain on the frontier. Returns diminish
beyond the first budget, at or after the segment with gain M, from which every further
segment gains less than ``DIMINISHING_SHARE`` (a quarter) of M. When the last segment still
gains more, returns have not diminished within the swept range.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from optimizer import stopping
from optimizer.errors import InfeasibleError, SolverFailure, UsageError
from optimizer.instance.data import Instance
from optimizer.instance.schema import LARGEST, ObjectiveKind
from optimizer.pipeline import Solved, solve_and_verify
from optimizer.plan import Plan
from optimizer.report import fmt
from optimizer.report.facts import Baseline, do_nothing
from optimizer.solvers.contract import SolveOptions

DIMINISHING_SHARE = 0.25
# The objective may dip by this much between budgets without counting as a fall
# (solver tolerances on values of about 1).
MONOTONE_TOL = 1e-7


@dataclass(frozen=True, eq=False)
class FrontierPoint:
    """One budget of the sweep; the numbers are None when no plan fits the budget."""

    budget: float
    status: str  # "optimal", "feasible" or "infeasible"
    value: float | None  # the swept objective
    worst_case: float | None
    expected: float | None
    cvar: float | None
    cost: float | None  # money actually spent
    marginal_per_1000: float | None  # swept objective gained per 1,000 since the last point
    carried_from: float | None  # budget whose plan is carried forward, if any
    note: str
    plan: Plan | None
    # The solve's result document (None when no plan, or the previous one is carried
    # forward): what `sweep --results` writes, with the frontier added.
    document: dict[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class TargetPoint:
    target: float
    ceiling: float  # the budget the min_cost solve may not exceed
    status: str  # "optimal", "feasible" or "infeasible"
    cost: float | None
    worst_case: float | None
    expected: float | None
    note: str


@dataclass(frozen=True, eq=False)
class Frontier:
    instance_name: str
    objective: str  # worst_case, expected or cvar
    alpha: float
    nothing: Baseline
    points: tuple[FrontierPoint, ...]
    targets: tuple[TargetPoint, ...]
    diminishing_share: float = DIMINISHING_SHARE

    @property
    def nothing_value(self) -> float:
        return _pick(self.objective, self.nothing.worst_case, self.nothing.expected,
                     self.nothing.cvar)

    @property
    def best_marginal(self) -> float | None:
        rates = [p.marginal_per_1000 for p in self.points if p.marginal_per_1000 is not None]
        return max(rates) if rates else None

    @property
    def threshold_per_1000(self) -> float | None:
        best = self.best_marginal
        return None if best is None else self.diminishing_share * best

    @property
    def knee(self) -> FrontierPoint | None:
        """The budget beyond which returns diminish (module docstring), if within range."""
        best, threshold = self.best_marginal, self.threshold_per_1000
        if best is None or threshold is None or best <= 0:
            return None
        solved = [p for p in self.points if p.marginal_per_1000 is not None]
        rates = [p.marginal_per_1000 for p in solved]
        for k in range(rates.index(best), len(solved) - 1):
            if all(r is not None and r < threshold for r in rates[k + 1:]):
                return solved[k]
        return None

    def diminishing(self, point: FrontierPoint) -> bool:
        """Whether ``point`` lies beyond the knee."""
        knee = self.knee
        return knee is not None and point.budget > knee.budget


def _pick(kind: str, worst: float, expected: float, cvar: float) -> float:
    return {"worst_case": worst, "expected": expected, "cvar": cvar}[kind]


def budgets_from_range(text: str) -> list[float]:
    """``LO:HI:N`` -> N budgets evenly spaced from LO to HI."""
    parts = text.split(":")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise UsageError(f"--budget-range {text!r}: expected LO:HI:N, as in 100000:400000:5"
                         ) from None
    if not (0 <= lo <= hi <= LARGEST) or n < 1 or (n == 1 and hi != lo):
        raise UsageError(f"--budget-range {text!r}: need 0 <= LO <= HI <= {LARGEST:g} and "
                         "N >= 1 (N = 1 only when LO = HI)")
    return [lo] if n == 1 else [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def numbers(text: str, option: str, *, lo: float = 0.0, hi: float | None = None) -> list[float]:
    """``B1,B2,...`` -> sorted distinct numbers within [lo, hi]."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected numbers separated by commas") from None
    top = LARGEST if hi is None else hi  # a budget's bound in an instance file
    bad = [v for v in values if not lo <= v <= top]  # nan fails every comparison
    if not values or bad:
        raise UsageError(f"{option} {text!r}: every value must lie in [{lo:g}, {top:g}]")
    return sorted(set(values))


def _objective(instance: Instance, kind: ObjectiveKind, target: float | None = None,
               budget: float | None = None) -> Instance:
    objective = dataclasses.replace(instance.objective, kind=kind, target=target)
    return dataclasses.replace(instance, objective=objective,
                               budget=instance.budget if budget is None else budget)


def sweep(instance: Instance, budgets: Sequence[float], *, targets: Sequence[float] = (),
          objective: ObjectiveKind | None = None, ceiling: float | None = None,
          options: SolveOptions | None = None,
          progress: Callable[[str], None] | None = None) -> Frontier:
    """Solve ``instance`` at every budget (ascending) and for every worst-case target.

    ``objective`` is what the budget sweep maximises (default: the instance's, or
    worst_case for a min_cost instance). ``ceiling`` caps the money the target solves may
    spend (default: the larger of the instance's budget and the largest swept budget).
    ``options`` gives the time limit (per solve), MIP gap and threads. ``progress`` is
    called with a line after every solve.
    """
    kind = objective or instance.objective.kind
    if kind is ObjectiveKind.MIN_COST:
        kind = ObjectiveKind.WORST_CASE
    base = options or SolveOptions()
    say = progress or (lambda _line: None)
    nothing = do_nothing(instance, instance.objective.alpha)
    points = _budget_points(instance, budgets, kind, nothing, base, say)
    cap = ceiling if ceiling is not None else max([instance.budget, *budgets])
    target_points = _target_points(instance, targets, cap, points, base, say)
    return Frontier(instance.name, kind.value, instance.objective.alpha, nothing,
                    tuple(points), tuple(target_points))


def _budget_point(instance: Instance, budget: float, kind: ObjectiveKind,
                  previous: FrontierPoint | None, base: SolveOptions,
                  say: Callable[[str], None]) -> FrontierPoint:
    """The point of one budget (its marginal rate not yet set); without a plan, its value
    is None."""
    inst = _objective(instance, kind, budget=budget)
    start = None if previous is None else previous.plan
    run = dataclasses.replace(base, started=time.monotonic(), start=start, log=None)
    try:
        solved = solve_and_verify(inst, run)
    except InfeasibleError as exc:
        if previous is None:
            say(f"budget {budget:,.2f}: no plan ({exc})")
            return FrontierPoint(budget, "infeasible", None, None, None, None, None, None,
                                 None, str(exc), None)
        # A smaller budget's plan fits: only a solve stopped before it used the start
        # gets here.
        return dataclasses.replace(
            previous, budget=budget, carried_from=previous.budget, document=None,
            note=(f"the solve found no plan ({exc}); the plan of budget "
                  f"{previous.budget:,.2f} fits this budget too and is carried forward"))
    if not solved.verified:
        raise SolverFailure(f"budget {budget:,.2f}: {solved.failure()}")
    result = solved.result
    res = result.resilience
    assert result.objective.value is not None
    point = FrontierPoint(
        budget=budget, status=result.status, value=float(result.objective.value),
        worst_case=res.worst_case, expected=res.expected, cvar=res.cvar.value,
        cost=result.cost.total, marginal_per_1000=None, carried_from=None, note="",
        plan=solved.solution.plan, document=solved.document)
    if (previous is not None and previous.value is not None and point.value is not None
            and point.value < previous.value - MONOTONE_TOL):
        gap = result.objective.gap
        return dataclasses.replace(
            previous, budget=budget, carried_from=previous.budget, document=None,
            note=(f"the solve ({result.status}, gap "
                  f"{'unknown' if gap is None else fmt.gap(gap)}) reached "
                  f"{point.value:.6f}, less than {previous.value:.6f} at budget "
                  f"{previous.budget:,.2f}; that plan fits this budget too and is "
                  "carried forward"))
    return point


def _target_points(instance: Instance, targets: Sequence[float], cap: float,
                   points: list[FrontierPoint], base: SolveOptions,
                   say: Callable[[str], None]) -> list[TargetPoint]:
    """The cheapest plan (within ``cap``) for each worst-case target, from the highest
    down; a plan that costs more than a higher target's is replaced by that one."""
    target_points: list[TargetPoint] = []
    above: tuple[TargetPoint, Plan] | None = None
    for target in sorted(set(targets), reverse=True):
        if stopping.requested():
            raise KeyboardInterrupt
        inst = _objective(instance, ObjectiveKind.MIN_COST, target=target, budget=cap)
        # Start from the cheapest plan in hand that already reaches the target.
        reaching = [(p.cost, p.plan) for p in points if p.plan is not None
                    and p.worst_case is not None and p.cost is not None
                    and p.worst_case >= target and p.cost <= cap]
        if above is not None and above[0].cost is not None:
            reaching.append((above[0].cost, above[1]))
        start = min(reaching, key=lambda c: c[0])[1] if reaching else None
        run = dataclasses.replace(base, started=time.monotonic(), start=start, log=None)
        try:
            solved = solve_and_verify(inst, run)
        except InfeasibleError as exc:
            target_points.append(TargetPoint(target, cap, "infeasible", None, None, None,
                                             str(exc)))
            say(f"target {target:g}: not reachable within {cap:,.2f}")
            continue
        if not solved.verified:
            raise SolverFailure(f"target {target:g}: {solved.failure()}")
        point, plan = _carried_down(target, cap, solved, above)
        target_points.append(point)
        above = (point, plan)
        say(f"target {target:g}: costs {point.cost:,.2f} ({point.status})")
    target_points.sort(key=lambda t: t.target)
    return target_points


def _carried_down(target: float, cap: float, solved: Solved,
                  above: tuple[TargetPoint, Plan] | None) -> tuple[TargetPoint, Plan]:
    """The target's point and plan, or the higher target's when that one costs less."""
    result = solved.result
    plan = solved.solution.plan
    assert plan is not None
    point = TargetPoint(target, cap, result.status, result.cost.total,
                        result.resilience.worst_case, result.resilience.expected, "")
    if (above is not None and above[0].cost is not None and point.cost is not None
            and point.cost > above[0].cost + 1e-6 * max(1.0, cap)):
        point = dataclasses.replace(
            above[0], target=target,
            note=(f"the solve ({result.status}) spent {point.cost:,.2f}, more than the "
                  f"{above[0].cost:,.2f} that reaches target {above[0].target:g}; that "
                  "plan is carried down"))
        plan = above[1]
    return point, plan


def _budget_points(instance: Instance, budgets: Sequence[float], kind: ObjectiveKind,
                   nothing: Baseline, base: SolveOptions,
                   say: Callable[[str], None]) -> list[FrontierPoint]:
    """One point per budget, ascending, each solve started from the last plan; a plan that
    scores less than a smaller budget's is replaced by that one (it fits too)."""
    nothing_value = _pick(kind.value, nothing.worst_case, nothing.expected, nothing.cvar)
    points: list[FrontierPoint] = []
    previous: FrontierPoint | None = None  # the last budget with a plan
    for budget in sorted(set(budgets)):
        if stopping.requested():  # Ctrl-C or SIGTERM during an earlier solve: no more
            raise KeyboardInterrupt
        point = _budget_point(instance, budget, kind, previous, base, say)
        if point.value is None:  # no plan at all, so far
            points.append(point)
            continue
        assert point.value is not None
        last_budget = 0.0 if previous is None else previous.budget
        last_value = nothing_value if previous is None or previous.value is None \
            else previous.value
        rate = (None if budget <= last_budget
                else (point.value - last_value) / ((budget - last_budget) / 1000.0))
        point = dataclasses.replace(point, marginal_per_1000=rate)
        points.append(point)
        previous = point
        say(f"budget {budget:,.2f}: {kind.value.replace('_', ' ')} {point.value:.4f}, "
            f"spent {point.cost:,.2f} ({point.status})"
            + (" [previous plan carried forward]" if point.carried_from is not None else ""))
    values = [p.value for p in points if p.value is not None]
    if any(b < a - MONOTONE_TOL for a, b in itertools.pairwise(values)):
        raise SolverFailure("internal error: the budget frontier falls: "
                            + ", ".join(f"{v:.6f}" for v in values))
    return points
