"""The lexicographic order of design section 2, written once for every route.

A solve is a sequence of *stages*. Each stage optimises one measure of the plan while every
earlier stage is held at the value it reached:

* the objective of the instance: ``worst_case`` (min_s R_s), ``relative``
  (min_s R_s / ceil_s), ``expected``, ``cvar`` or ``min_cost`` (cost, with R_s >= T);
* for ``worst_case``, the *leximin levels*: when the worst case equals the ceiling of some
  scenarios (they are *pinned*: no plan does better there, so they decide the value without
  deciding the plan), the next level maximises the worst case over the scenarios not
  pinned yet; and again while a level is itself pinned, up to :data:`MAX_LEXIMIN_LEVELS`;
* the highest expected resilience, then the lowest cost.

A stage that cannot change the plan is skipped (the expected resilience of a single
scenario is its worst case; under ``min_cost``, a target at every scenario's ceiling fixes
every R_s). Routes (the extensive form, the decomposition) differ only in
how they solve one stage; what the stages are, and what a plan scores on each, is here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.objectives import (
    MEASURES,
    RELATIVE_MIN_CEILING,
    SPECS,
    TIEBREAK_MEASURES,
)
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind

# Levels of the worst case over unpinned scenarios after the first (the issue asks for at
# least the second). Each is one more MIP; a fourth level changed no plan we measured.
MAX_LEXIMIN_LEVELS = 3
# A scenario is pinned at a level when its ceiling is within this of the level's value
# (absolute), or within the MIP gap the user asked for (relative), whichever is larger.
PIN_TOL = 1e-7


@dataclass(frozen=True)
class Goal:
    """One stage: what it optimises, over which scenarios, and its name in the result."""

    name: str  # "objective", "leximin_2", ..., "tiebreak_expected", "tiebreak_cost"
    measure: str  # "worst", "relative", "expected", "cvar", "cost"
    scenarios: np.ndarray | None = None  # "worst" over these only (None: all)

    @property
    def maximise(self) -> bool:
        return MEASURES[self.measure].maximise

    def value(self, instance: Instance, resilience: np.ndarray, cost: float,
              ceilings: np.ndarray | None) -> float:
        """What a plan scores on this stage, in the user's units (resilience or money)."""
        r = np.asarray(resilience, dtype=float)
        if self.scenarios is not None:
            r = r[self.scenarios]
        return MEASURES[self.measure].score(instance, r, cost, ceilings)

    def to_user(self, minimised: float, money_scale: float) -> float:
        """A value of the solvers' minimisation form (cost over the money scale, or a
        resilience negated) in the user's units."""
        return minimised * money_scale if MEASURES[self.measure].money else -minimised

    def minimised(self, value: float, money_scale: float) -> float:
        """A value in the user's units in the solvers' minimisation form (the inverse of
        :meth:`to_user`)."""
        return value / money_scale if MEASURES[self.measure].money else -value

    def unit(self, money_scale: float) -> float:
        """What one unit of the minimisation form is worth in the user's units, in size: the
        money scale for a cost, 1 for a resilience (scales absolute tolerances)."""
        return money_scale if MEASURES[self.measure].money else 1.0

    def describe(self, instance: Instance) -> str:
        """The stage in a planner's words."""
        if self.measure == "worst" and self.scenarios is not None:
            return f"worst case over the {len(self.scenarios)} scenarios not pinned"
        return MEASURES[self.measure].words(instance.objective)


def relative_slack_scale(resilience: np.ndarray, ceilings: np.ndarray | None) -> float:
    """How much a tolerance in resilience grows in the relative objective's units.

    The relative rows read t * ceil_s <= R_s: a row the solver meets only within its
    feasibility tolerance lets t exceed R_s / ceil_s by that tolerance over ceil_s. The
    scenario that decides (the least share of its ceiling) gives the scale."""
    if ceilings is None:
        return 1.0
    ok = ceilings > RELATIVE_MIN_CEILING
    if not ok.any():
        return 1.0
    share = np.asarray(resilience, dtype=float)[ok] / ceilings[ok]
    return float(max(1.0, 1.0 / ceilings[ok][int(np.argmin(share))]))


def primary(instance: Instance) -> Goal:
    return Goal("objective", SPECS[instance.objective.kind].measure)


def pin_tolerance(value: float, mip_gap: float) -> float:
    return max(PIN_TOL, mip_gap * abs(value))


def pinned(ceilings: np.ndarray, value: float, mip_gap: float,
           among: np.ndarray | None = None) -> np.ndarray:
    """Scenarios (of ``among``, default all) whose ceiling is the value reached: no plan
    does better there, so they decide that value whatever else the plan does."""
    idx = np.arange(len(ceilings)) if among is None else np.asarray(among)
    return idx[ceilings[idx] <= value + pin_tolerance(value, mip_gap)]


class Sequence:
    """The stages of one solve, decided as they go (a leximin level depends on the value
    the one before it reached).

    Use :meth:`first`, then :meth:`next` with the value each stage reached, until it
    returns None. :attr:`levels` records, per leximin level, the scenarios it pinned.
    """

    def __init__(self, instance: Instance, ceilings: np.ndarray | None, mip_gap: float) -> None:
        self.instance = instance
        self.ceilings = ceilings
        self.mip_gap = mip_gap
        self.kind = instance.objective.kind
        self.levels: list[np.ndarray] = []  # scenarios pinned at level 1, 2, ...
        self._tail: list[Goal] = []

    def first(self) -> Goal:
        goal = primary(self.instance)
        one = len(self.instance.scenarios) == 1
        tail = []
        for name in SPECS[self.kind].tiebreaks:
            # One scenario: its expected resilience is its worst case (and its CVaR). A
            # target that reaches every scenario's ceiling leaves each R_s no room to rise.
            if name == "tiebreak_expected" and (
                    (one and not MEASURES[goal.measure].money) or self._target_pins_all()):
                continue
            tail.append(Goal(name, TIEBREAK_MEASURES[name]))
        self._tail = tail
        return goal

    def _target_pins_all(self) -> bool:
        """min_cost, with every scenario's ceiling at most the target: every feasible plan
        has R_s = ceil_s (within the pin tolerance), so the expected-resilience stage
        cannot change the plan (a set-covering instance: target 1, ceiling 1)."""
        if self.kind is not ObjectiveKind.MIN_COST or self.ceilings is None \
                or not len(self.ceilings):
            return False
        target = float(self.instance.objective.target or 0.0)
        return len(pinned(self.ceilings, target, self.mip_gap)) == len(self.ceilings)

    def next(self, goal: Goal, value: float) -> Goal | None:
        """The stage after ``goal``, which reached ``value``."""
        if goal.measure == "worst" and SPECS[self.kind].leximin and self.ceilings is not None:
            among = goal.scenarios
            newly = pinned(self.ceilings, value, self.mip_gap, among)
            self.levels.append(newly)
            rest = np.setdiff1d(np.arange(len(self.ceilings)) if among is None else among,
                                newly)
            if len(newly) and len(rest) and len(self.levels) < MAX_LEXIMIN_LEVELS:
                return Goal(f"leximin_{len(self.levels) + 1}", "worst", rest)
        return self._tail.pop(0) if self._tail else None

    @property
    def pinned_scenarios(self) -> np.ndarray:
        """Scenarios pinned at the worst case (level 1)."""
        return self.levels[0] if self.levels else np.zeros(0, dtype=np.int64)


def explain(instance: Instance, ceilings: np.ndarray | None, stages: list[tuple[Goal, float]],
            levels: list[np.ndarray]) -> str:
    """What decided the plan, in a planner's words (for the result, summary and reports)."""
    if not stages:
        return ""
    ids = [s.id for s in instance.scenarios]
    goal, value = stages[0]
    parts = []
    if goal.measure == "worst" and levels and len(levels[0]):
        names = _names([ids[int(s)] for s in levels[0]])
        parts.append(f"the worst case {value:.4f} is the most any plan can reach in {names} "
                     "(pinned at its ceiling)")
        rest = stages[1:]
        if rest:
            words = []
            for level, (g, v) in enumerate(rest, start=1):
                text = f"{g.describe(instance)} {_fmt(g, v)}"
                if g.measure == "worst" and level < len(levels) and len(levels[level]):
                    text += (", itself pinned in "
                             + _names([ids[int(s)] for s in levels[level]]))
                words.append(text)
            parts.append("the plan was chosen by the next stages: " + ", then ".join(words))
        return "; ".join(parts)
    parts.append(f"{goal.describe(instance)} {_fmt(goal, value)} decided the plan")
    if goal.measure == "worst" and ceilings is not None and len(ceilings):
        low = int(np.argmin(ceilings))
        parts[-1] += (f" (no scenario is pinned: the lowest ceiling is {ceilings[low]:.4f}, "
                      f"in {ids[low]})")
    if len(stages) > 1:
        parts.append("ties broken by " + ", then ".join(
            f"{g.describe(instance)} {_fmt(g, v)}" for g, v in stages[1:]))
    return "; ".join(parts)


def _fmt(goal: Goal, value: float) -> str:
    return f"{value:,.2f}" if goal.measure == "cost" else f"{value:.4f}"


def _names(ids: list[str], shown: int = 3) -> str:
    if len(ids) <= shown:
        return ", ".join(ids)
    return ", ".join(ids[:shown]) + f" and {len(ids) - shown} more"
