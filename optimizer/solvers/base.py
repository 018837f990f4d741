"""What the solver routes share, so that no route copies another.

- where the first stage sits among a HiGHS model's columns (:class:`Layout`), reading a plan
  back from them (integers rounded, never over budget: :func:`plan_from_values` serves the
  Pyomo shell too), and writing a plan into them as a start or as fixed bounds;
- the end of every solve: each scenario's outcome from the model's flows, the objective in
  the user's units (:func:`final_value`), the status, bound and gap (:func:`settle`) and the
  message (:func:`stage_message`), and why no plan exists (:func:`infeasible_message`);
- :class:`HighsRoute`, what a route on the embedded HiGHS answers besides its solve.

The run loop and the silent HiGHS instance are in :mod:`optimizer.highs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import highspy
import numpy as np

from models.limits import integer_stock
from models.objectives import MEASURES, SPECS
from models.resilience import ModelData
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.highs import INF, new_highs
from optimizer.highs import version as highs_version
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.plan import Plan, plan_cost
from optimizer.status import Status

if TYPE_CHECKING:
    from optimizer.solvers.contract import Solution, SolveOptions


def add_level(h: highspy.Highs, r_cols: np.ndarray, weights: np.ndarray) -> int:
    """A new column t in [0, 1] with rows ``w_s t - r_s <= 0`` over the given resilience
    columns: t is then at most min_s r_s / w_s (a worst-case level; w_s = 1, or the
    ceilings for the relative objective). Returns t's column."""
    t = int(h.getNumCol())
    h.addCol(0.0, 0.0, 1.0, 0, np.zeros(0, np.int32), np.zeros(0))
    n = len(r_cols)
    index = np.empty(2 * n, dtype=np.int32)
    index[0::2], index[1::2] = t, r_cols
    values = np.empty(2 * n)
    values[0::2], values[1::2] = weights, -1.0
    h.addRows(n, np.full(n, -INF), np.zeros(n), 2 * n, np.arange(0, 2 * n, 2, dtype=np.int32),
              index, values)
    return t


@dataclass(frozen=True, eq=False)
class Layout:
    """Where each variable family of the model sits among HiGHS's columns.

    An index of -1 marks a variable the hand-off compiled away (fixed, or in no row): its
    value is then the family's default (1 for an existing facility's open flag, else 0).
    The recourse families (``g``, ``v``, ``econ``) are empty in a decomposition master.
    """

    y: np.ndarray  # (D,) open depot
    x: np.ndarray  # (D, K) stock bought
    z: np.ndarray  # (H,) open shelter
    modules: np.ndarray  # (H,)
    pool: int
    g: np.ndarray  # (G,) supply flows, ModelData's order
    v: np.ndarray  # (V,) shelter flows
    econ: np.ndarray  # (S,)
    r: np.ndarray  # (S,) resilience of each scenario
    x_unit: np.ndarray  # (D, K) units of stock one unit of an x column stands for
    x_upper: np.ndarray  # (D, K) the most stock that is useful, in units (models.limits)

    @staticmethod
    def values(index: np.ndarray, x: np.ndarray, default: np.ndarray | float = 0.0
               ) -> np.ndarray:
        index = np.asarray(index)
        out = np.broadcast_to(np.asarray(default, dtype=float), index.shape).copy()
        present = index >= 0
        out[present] = x[index[present]]
        return out

    def first_stage(self) -> list[tuple[str, np.ndarray]]:
        return [("y", self.y), ("x", self.x), ("z", self.z), ("modules", self.modules),
                ("pool", np.array([self.pool]))]


def plan_from_columns(layout: Layout, instance: Instance, money_scale: float,
                      x: np.ndarray, stock_rounded_down: bool = False) -> Plan:
    """The first stage of a HiGHS solution as a plan: integers rounded, never over budget.

    ``stock_rounded_down``: the solver bought stock as a continuous amount (a relaxed
    decomposition master), so every stock column is rounded down, as a relaxed column is."""
    existing_depots = np.array([d.existing for d in instance.depots], dtype=float)
    existing_shelters = np.array([h.existing for h in instance.shelters], dtype=float)
    return plan_from_values(
        instance, money_scale,
        opened=Layout.values(layout.y, x, existing_depots),
        stock=Layout.values(layout.x, x) * layout.x_unit,
        integer=integer_stock(instance, layout.x_upper) & (not stock_rounded_down),
        shelters=Layout.values(layout.z, x, existing_shelters),
        modules=Layout.values(layout.modules, x),
        pool=float(Layout.values(np.array([layout.pool]), x)[0]))


def plan_from_values(instance: Instance, money_scale: float, *, opened: np.ndarray,
                     stock: np.ndarray, integer: np.ndarray, shelters: np.ndarray,
                     modules: np.ndarray, pool: float) -> Plan:
    """A solver's first stage as a plan: open flags and modules rounded, stock rounded as
    the policy says, nothing at a closed facility, never over budget.

    ``stock`` is in units (D, K), ``integer`` (D, K) which stock columns the model kept
    integer (models.limits.integer_stock), ``pool`` a share of ``money_scale``.
    """
    inst = instance
    stock = np.asarray(stock, dtype=float)
    if inst.policy.integer_stock:
        # Integer columns are rounded; stock too large for one (models.limits) was bought
        # as a continuous amount and is rounded down, which keeps it within room and money.
        stock = np.where(integer, np.round(stock), np.floor(stock + 1e-6))
    stock = np.maximum(stock, 0.0)
    is_open = tuple(bool(v) for v in np.round(opened) == 1)
    stock[~np.array(is_open, dtype=bool)] = 0.0
    open_shelters = tuple(bool(v) for v in np.round(shelters) == 1)
    plan = Plan(
        open_depots=is_open,
        stock=stock,
        open_shelters=open_shelters,
        modules=tuple(int(v) if open_shelters[h] else 0
                      for h, v in enumerate(np.round(modules))),
        compensation_pool=min(max(0.0, pool) * money_scale, inst.max_pool),
    )
    # The budget row holds within HiGHS's feasibility tolerance, which on a budget in the
    # hundreds of thousands is a few cents over; a budget officer reads that as overspending.
    # The pool is continuous and worth least per unit, so it gives back the excess.
    excess = plan_cost(inst, plan).total - inst.budget
    if excess > 0:
        plan = replace(plan, compensation_pool=max(0.0, plan.compensation_pool - excess))
    return plan


def first_stage_values(layout: Layout, money_scale: float,
                       plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of the plan's first stage, in the model's (scaled) units."""
    values = {
        "y": np.array(plan.open_depots, dtype=float),
        "x": np.asarray(plan.stock, dtype=float) / layout.x_unit,
        "z": np.array(plan.open_shelters, dtype=float),
        "modules": np.array(plan.modules, dtype=float),
        "pool": np.array([plan.compensation_pool / money_scale]),
    }
    cols, vals = [], []
    for name, index in layout.first_stage():
        present = index >= 0
        cols.append(index[present].ravel())
        vals.append(values[name].reshape(index.shape)[present].ravel())
    return (np.concatenate(cols).astype(np.int32) if cols else np.zeros(0, np.int32),
            np.concatenate(vals) if vals else np.zeros(0))


def give_start(h: highspy.Highs, layout: Layout, money_scale: float, plan: Plan) -> None:
    """The plan's first stage as a (partial) start; HiGHS completes the rest itself (and
    ignores a start that is not feasible). Stock beyond what is useful is left out of the
    start: it changes no scenario, and the model's capacity rows do not admit it."""
    plan = replace(plan, stock=np.minimum(plan.stock, layout.x_upper))
    cols, vals = first_stage_values(layout, money_scale, plan)
    if len(cols):
        h.setSolution(len(cols), cols, vals)


def fix_plan(h: highspy.Highs, layout: Layout, money_scale: float, plan: Plan) -> None:
    """Fix the first-stage columns at the (rounded) plan."""
    cols, vals = first_stage_values(layout, money_scale, plan)
    if len(cols):
        h.changeColsBounds(len(cols), cols, vals, vals)


# A returned plan whose gap to the bound exceeds the requested MIP gap by more than this
# (rounding of integers, the recourse re-solved) is reported as feasible, not optimal.
GAP_SLACK = 1e-6


def outcomes_from_flows(md: ModelData, g: np.ndarray, v: np.ndarray,
                        econ: np.ndarray) -> list[ScenarioOutcome]:
    """Each scenario's outcome from the model's scaled flows, in the engine's units."""
    inst = md.instance
    om = inst.commodity_weights
    w = inst.weights
    outcomes = []
    for s, scenario in enumerate(inst.scenarios):
        gs = md.g_scenario == s
        delivered = np.zeros_like(scenario.need)
        units = g[gs] * md.supply_total[s] / om[md.g_commodity[gs]] if gs.any() else g[gs]
        np.add.at(delivered, (md.g_zone[gs], md.g_commodity[gs]), units)
        vs = md.v_scenario == s
        sheltered = np.zeros_like(scenario.evacuees)
        np.add.at(sheltered, md.v_zone[vs], v[vs] * md.evacuee_total[s])
        supply = float(g[gs].sum()) if md.supply_total[s] > 0 else 1.0
        shelter = float(v[vs].sum()) if md.evacuee_total[s] > 0 else 1.0
        economic = float(econ[s]) if md.loss_total[s] > 0 else 1.0
        outcomes.append(ScenarioOutcome(
            supply=supply, shelter=shelter, economic=economic,
            resilience=w.supply * supply + w.shelter * shelter + w.economic * economic,
            unmet_need=np.maximum(scenario.need - delivered, 0.0),
            unmet_evacuees=np.maximum(scenario.evacuees - sheltered, 0.0),
        ))
    return outcomes


def stage_message(status: Status, unfinished: list[str], interrupted: bool,
                  skipped: list[str], timed_out: bool, mip_gap: float) -> str:
    """The result's message: "optimal" only when every stage was proven within the gap the
    user asked for, which it names (a percentage, as the summary prints gaps)."""
    if status is Status.OPTIMAL:
        return f"optimal: every stage proven within the MIP gap of {mip_gap * 100:.4g}%"
    why = ("interrupted (Ctrl-C or SIGTERM)" if interrupted else "stopped at the time limit"
           if timed_out else "not proven within the MIP gap")
    text = f"{why}; the plan is the best found, with its bound and gap"
    if unfinished:
        text += "; not proven: " + ", ".join(unfinished)
    if skipped:
        text += ("; not solved: " + ", ".join(skipped) + " (among plans as good, another may "
                 "rank higher on these)")
    return text


def within_gap(bound: float, value: float, mip_gap: float, scale: float = 1.0) -> bool:
    """The bound and the value of the plan as returned meet within the MIP gap, give or take
    what the stage holds allow (a hair: GAP_SLACK in resilience, that share of the money
    scale in cost)."""
    return abs(bound - value) <= mip_gap * max(abs(value), 1e-10) + GAP_SLACK * scale


def settle(kind: ObjectiveKind, bound: float | None, value: float, mip_gap: float,
           money_scale: float, unfinished: list[str], skipped: list[str],
           relative_scale: float = 1.0) -> tuple[Status, float | None, float | None]:
    """Status, bound and gap of the plan as returned (integers rounded, recourse re-solved),
    against the primary's bound: optimal only when every stage was proven and the plan
    meets the bound within the MIP gap. A bound that is not finite is not claimed (None).
    Adds to ``unfinished`` the reason when the plan misses the gap.

    ``relative_scale`` (objective ``relative``): what a tolerance in resilience becomes in
    shares of a ceiling (optimizer.stages.relative_slack_scale)."""
    gap: float | None = None
    if bound is not None and math.isfinite(bound):
        bound = min(bound, value) if SPECS[kind].money else max(bound, value)
        gap = abs(bound - value) / max(abs(value), 1e-10)
        gap = 0.0 if gap < 1e-9 else gap
    else:  # stopped before the solver had any bound
        bound = None
    status = Status.OPTIMAL if not unfinished and not skipped else Status.FEASIBLE
    # A stage hold's hair (GAP_SLACK) in the objective's units: money, or shares of a ceiling.
    scale = (money_scale if SPECS[kind].money else
             relative_scale if SPECS[kind].measure == "relative" else 1.0)
    if status is Status.OPTIMAL and (bound is None or not within_gap(bound, value, mip_gap,
                                                                      scale)):
        status = Status.FEASIBLE
        unfinished.append("objective (the returned plan is "
                          + ("not bounded" if gap is None else f"{gap:.2%} from the bound")
                          + ")")
    return status, bound, gap


def final_value(instance: Instance, plan: Plan, outcomes: list[ScenarioOutcome],
                ceilings: np.ndarray | None = None) -> float:
    """The primary objective at the final plan and recourse, in the units a user reads."""
    measure = MEASURES[SPECS[instance.objective.kind].measure]
    return measure.score(instance, np.array([o.resilience for o in outcomes]),
                         plan_cost(instance, plan).total, ceilings)


@dataclass(frozen=True)
class HighsRoute:
    """A route on the embedded HiGHS (a :class:`optimizer.solvers.contract.Solver`): always
    available, and its version is highspy's."""

    method: str
    run: Callable[[Instance, SolveOptions], Solution]
    name: str = "highs"
    interface: str = "highspy"

    def unavailable(self) -> str:
        return ""

    def version(self) -> str:
        return highs_version(new_highs())

    def solve(self, instance: Instance, options: SolveOptions) -> Solution:
        return self.run(instance, options)


NO_PLAN = "no plan satisfies the budget, capacities and policies together"


def infeasible_message(instance: Instance) -> str:
    """Why no plan exists, in the words every route uses when its solver proves it (the
    extensive form looks further: :func:`optimizer.solvers.extensive.explain_infeasible`)."""
    if SPECS[instance.objective.kind].parameter == "target":
        return (f"no plan within the budget {instance.budget:,.2f} reaches the worst-case "
                f"target {instance.objective.target:g}; lower the target or raise the budget")
    return NO_PLAN


def no_plan_in_time(who: str, limit: str = "its limit") -> str:
    """A solver stopped at its limit before it had any plan."""
    return (f"{who} stopped at {limit} before finding any feasible plan; allow more time "
            "(--time-limit)")
