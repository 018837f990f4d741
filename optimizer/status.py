"""Our own solve status, and the one place where HiGHS's outcomes are mapped to it."""

from __future__ import annotations

from enum import StrEnum

import highspy


class Status(StrEnum):
    """Outcome of a solve, as written in the result file."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # stopped at a limit with an incumbent
    INFEASIBLE = "infeasible"  # proved infeasible, or stopped with no plan found
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


_MS = highspy.HighsModelStatus

# Stopped before proving anything: a plan exists only if the solver found one.
_LIMITS = {
    _MS.kTimeLimit,
    _MS.kIterationLimit,
    _MS.kSolutionLimit,
    _MS.kInterrupt,
    _MS.kObjectiveBound,
    _MS.kObjectiveTarget,
}
_NO_PLAN = {_MS.kInfeasible, _MS.kUnboundedOrInfeasible}


def from_highs(model_status: highspy.HighsModelStatus, has_solution: bool) -> Status:
    """Map HiGHS's model status (plus whether it holds a primal solution) to ours."""
    if model_status == _MS.kOptimal:
        return Status.OPTIMAL
    if model_status in _LIMITS:
        return Status.FEASIBLE if has_solution else Status.INFEASIBLE
    if model_status in _NO_PLAN:
        return Status.INFEASIBLE
    # kUnbounded cannot happen (every variable is bounded); anything else is a failure.
    return Status.ERROR
