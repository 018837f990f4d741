"""One stage's search (:class:`StageSearch`): the incumbent, the masters' bound, and the
arithmetic that compares them (gaps, whether a plan meets the held stages, whether it
beats the incumbent)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.instance.data import Instance
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.decomposition import tuning
from optimizer.stages import Goal
from optimizer.status import Status


@dataclass
class Incumbent:
    """A plan evaluated exactly that meets the held stages: the best so far."""

    plan: Plan
    resilience: np.ndarray  # exact R_s at the plan, every scenario
    cost: float


@dataclass
class StageResult:
    """What a stage leaves (:meth:`.loop.Benders.stage`): its status, its bound in user units
    (None: none finite), the incumbent and its value, and the seconds it took."""

    status: Status
    bound: float | None
    incumbent: Incumbent | None
    value: float | None  # the incumbent's value (None: no incumbent)
    seconds: float


@dataclass
class StageSearch:
    """One stage's search: its goal, the gap it is proven to, the best plan so far (its
    exact R_s meet the held stages) and the masters' best bound, in user units."""

    goal: Goal
    instance: Instance
    ceilings: np.ndarray
    admissible: Callable[[np.ndarray, float], bool]  # the held stages met (loop.Benders)
    target: float | None  # min_cost: every R_s at least this
    wanted: float  # the gap each MIP master is solved to, and the stage proven to
    scale: float  # the money scale for a cost stage (its absolute tolerances), else 1
    incumbent: Incumbent | None
    # A level or CVaR stage: the level's column (t or eta) and each scenario's weight in
    # ``t * c_s <= r_s`` (inf: not in the level); None otherwise.
    level_col: int | None = None
    level: np.ndarray | None = None
    best: float | None = field(init=False)  # the incumbent's value
    bound: float = field(init=False)
    status: Status = Status.FEASIBLE
    relaxed: bool = True  # LP masters (integrality relaxed) until they gather no more
    lp_rounds: int = 0
    iterations: int = 0
    tried: set[bytes] = field(default_factory=set)  # openings a repair has bought whole units for

    def __post_init__(self) -> None:
        self.best = None if self.incumbent is None else self.score(self.incumbent)
        self.bound = math.inf if self.goal.maximise else -math.inf

    def score(self, inc: Incumbent) -> float:
        return self.goal.value(self.instance, inc.resilience, inc.cost, self.ceilings)

    def gap(self) -> float | None:
        """The incumbent's gap to the bound, if both exist."""
        if self.best is None or not math.isfinite(self.bound):
            return None
        diff = (self.bound - self.best) if self.goal.maximise else (self.best - self.bound)
        return max(0.0, diff) / max(abs(self.best), 1e-10)

    def closed(self, bound: float, value: float, allowed: float,
               absolute: float = 1e-9) -> bool:
        diff = (bound - value) if self.goal.maximise else (value - bound)
        return diff <= allowed * max(abs(value), 1e-10) + absolute * self.scale

    def meets(self, resilience: np.ndarray, cost: float) -> bool:
        return self.admissible(resilience, cost) and (
            self.target is None or float(resilience.min()) >= self.target - tuning.FEASIBILITY_TOL)

    def consider(self, plan: Plan, resilience: np.ndarray) -> float | None:
        """A plan evaluated exactly: the incumbent if it meets the held stages and
        does better. Returns the incumbent's value."""
        cost = plan_cost(self.instance, plan).total
        candidate = Incumbent(plan, resilience, cost)
        if self.meets(resilience, cost):
            value = self.score(candidate)
            if self.best is None or (value > self.best + 1e-12 if self.goal.maximise
                                     else value < self.best - 1e-12 * self.scale):
                self.incumbent, self.best = candidate, value
        return self.best

    def point_value(self, at_point: np.ndarray, cost: float) -> float | None:
        """The stage's value at the master's own point (stock in fractions, every
        scenario evaluated exactly: ``at_point``; ``cost`` its cost), if that point meets the
        held stages."""
        if not self.meets(at_point, cost):
            return None
        return self.goal.value(self.instance, at_point, cost, self.ceilings)

    def rounding_lost(self, x: np.ndarray, point: float | None, opening_cols: np.ndarray
                      ) -> bool:
        """The master's point beats the incumbent by more than the gap and its plan
        rounded down does not (it would be the incumbent): tightening the master cannot
        close that. Once for each set of openings."""
        if point is None or (self.best is not None and
                             self.closed(point, self.best, self.wanted)):
            return False
        key = np.round(x[opening_cols]).astype(np.int8).tobytes()
        if key in self.tried:
            return False
        self.tried.add(key)
        return True
