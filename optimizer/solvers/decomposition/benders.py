"""Multi-cut Benders over the first stage, for every objective and stage (design section 6).

Given a first stage x, each scenario's recourse is an LP whose right-hand sides are linear
in x (stock on hand bounds the depot rows, shelter places the shelter rows), so each of its
shares is concave in x and every LP dual gives a valid cut. The *master* holds:

* the first stage (open flags, stock, shelters, modules, pool, cost, budget, capacity and
  redundancy rows), built by ``models.direct`` from the instance with no scenario;
* per scenario s: ``sup_s`` and ``sh_s``, over-estimates of its supply and shelter shares
  (bounded by their values at the ceiling and by cuts
  ``share_s <= share_s(x^) + g_s . (u(x) - u(x^))`` from the duals at each plan x^,
  u being the stock and places the plan puts on hand), ``e_s`` its economic share
  (exact: ``e_s <= pool / L_s``, at most 1), and ``r_s = w_sup sup_s + w_sh sh_s + w_eco e_s``;
* the stage objectives of ``optimizer.stages`` written over r (a level column t with
  ``t <= r_s``; CVaR's eta and shortfalls; the cost column), and the rows that hold the
  stages already solved.

From :data:`LAZY_FROM` scenarios up the master holds a scenario on its own only once it
matters: a scenario enters (its rows, its cuts at the start plan and at the plan that showed
it) when its exact R_s falls below what the master assumes of it (the level of a worst-case
or relative stage, CVaR's eta, a held stage's floor, min_cost's target), the furthest below
first, :data:`ACTIVATE` per round at most. Left out of a level or a CVaR tail, a scenario
only loosens the master (a relaxation: its bound still bounds the stage). Expected
resilience as a tie-break needs every scenario, so the others enter it through
:data:`GROUPS` aggregate columns, theta_g <= sum_{s in g} p_s R_s / P_g (P_g their
probability, counted in the objective), each bounded by its scenarios' ceilings, their
coverage rows summed, and the sum of their cuts at the evaluated plans (a partial
multi-cut; a group that loses a scenario to the master is rebuilt). Measured at 200 x
10,000 (benchmarks/RESULTS.md, "Scenarios that matter"): the worst-case stage's MIP masters
fell from about 6 minutes to 20 s. Expected resilience and CVaR as the objective hold no
scenario on its own: every share of every scenario is counted on *curves*
(:mod:`optimizer.solvers.decomposition.curves`), groups of alike scenarios whose rows put each
member on its
lowest piece (its ceiling, start cut, coverage, or the cut of a plan evaluated): exact at
each plan evaluated, valid at every plan. Expected resilience reads each group's mean;
CVaR bounds each group's shortfall sum_s p_s (eta - R_s)^+ from below by such rows at the
master's eta and at the plan's own value at risk (:meth:`_Benders._cvar_rows`). Measured at
200 x 10,000 (benchmarks/RESULTS.md, "Curves"): both proven with every tie-break in 2.5
and 11 minutes, where the fifth round had stopped at its 30-minute limit.

Since the master over-estimates every R_s, its bound bounds the true stage optimum; a plan
x^ counts as an incumbent once its *exact* R_s (every scenario evaluated, on the executor)
meet the held stages, and a stage ends when the incumbent's exact value meets the master's
bound within the MIP gap. Cuts are kept from stage to stage. Each stage starts with LP
masters (integrality relaxed: cheap iterations that gather most cuts, then tightened), then
MIP masters started from the incumbent. In the MIP masters stock is bought as a
continuous amount (a relaxation: its bound is still a bound), their plans are rounded down
and evaluated exactly, and a stage whose bounds the rounding keeps apart goes back to whole
units (measured side by side on the unpinned 200 x 1,000 family: the gap after 300 s fell
from 24% to 1.0-4.5%, benchmarks/RESULTS.md). When a master's point (evaluated exactly)
beats the incumbent but its plan rounded down does not, a *repair* re-solves the master with
the point's openings fixed and stock in whole units (cheap: no facility to branch on); when
the point already meets the master's bound, the stage goes to whole units at once, since a
tighter master would only return it again. Every MIP master is
solved to the gap asked for (measured faster than loose masters first, benchmarks/RESULTS.md). Cuts
are added only where the master over-estimates a share by more than :data:`CUT_TOL` and
that scenario can matter to the stage (below the master's level, or held from below).
Nothing is capped by the clock: only ``--time-limit`` stops a stage, and the result then
says which stage is not proven.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

from models import limits
from models.direct import DirectModel, assemble
from models.resilience import RELATIVE_MIN_CEILING, ModelData, prepare
from optimizer import stopping
from optimizer.errors import InfeasibleError, SolverFailure
from optimizer.evaluation.evaluate import plan_violations
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.evaluation.recourse import (
    Evaluation,
    FirstStage,
    Task,
    blocks_of,
    evaluate_task,
    forget,
)
from optimizer.executors import Executor, batch_size, open_executor
from optimizer.highs import INF, Run, new_highs, pass_model, run_highs, version
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.base import (
    GAP_SLACK,
    HighsRoute,
    Layout,
    add_level,
    final_value,
    give_start,
    infeasible_message,
    no_plan_in_time,
    plan_from_columns,
    settle,
    stage_message,
)
from optimizer.solvers.contract import Solution, SolveOptions, Stage
from optimizer.solvers.decomposition.curves import ECONOMIC, SHELTER, SUPPLY, Curves
from optimizer.solvers.presolve import prove_infeasible
from optimizer.stages import Goal, Sequence, explain, relative_slack_scale
from optimizer.status import Status

# Scenarios per recourse LP (one HiGHS instance). 10-50 measured best at 200 nodes (about
# 0.3-0.4 ms per hot-started scenario); much larger blocks re-solve more slowly per scenario.
BLOCK_SIZE = 32
# While waiting for an evaluation round, check this often that no Dask worker has left.
WATCH_SECONDS = 5.0
# Below this many scenarios, evaluation stays in process unless --workers is given:
# starting worker processes and sending them the instance costs a second or two, about what
# they save at 1,000 scenarios on 2 cores; at 10,000 they halve the time.
SMALL = 1000
# A cut is added where the master's share exceeds the exact one by more than this.
CUT_TOL = 1e-7
# Held stages: the master holds each solved stage at its incumbent's exact value; a
# candidate plan must meet it on its exact R_s within ADMIT_TOL (resilience; cost: that
# share of the money scale), or a tenth of the MIP gap of the value held, if larger. The
# master over-estimates R_s near its plan by up to what its cuts miss there, so a plan at
# the edge of a hold needs that margin; with a continuous first stage (stock in fractions)
# the cuts close in on the edge only one kink at a time.
ADMIT_TOL = 1e-6
ADMIT_GAP_SHARE = 0.1
# A min_cost plan meets the target when every exact R_s >= T - FEASIBILITY_TOL (the
# tolerance of the independent check, optimizer.pipeline).
FEASIBILITY_TOL = 1e-6
# LP masters per stage before the MIP ones, at most; they stop earlier when the LP's bound
# and its plan's exact value meet within LP_GAP (relative).
LP_ITERATIONS = 50
LP_GAP = 1e-5
# MIP masters are solved to the gap asked for, from the first: measured side by side at
# 200 x 1,000, a master at 1e-4 cost about what one at 1% did (15-60 s), while masters
# at 1% needed more of them (cvar's objective stage: 295 s at 1% first, 108 s at 1e-4;
# benchmarks/RESULTS.md, "Every stage proven at 200 x 1,000"). An earlier master, without
# coverage rows or continuous stock, cost 30-80 s at 1e-4 against 2-3 s at 1%.
# Stock bought as a continuous amount in the MIP masters until whole units matter
# (Master.relax_stock).
RELAX_STOCK = True
# When a continuous-stock master's point beats the incumbent by more than the gap but its
# plan, rounded down, does not: masters with the depots and shelters it opens fixed and
# stock in whole units, at most this many in a row (each until it brings no cut).
REPAIR_MASTERS = 3
# Masters per stage at most (LP and MIP): a work limit, not a clock, so that a stage that
# tails ends the same way on any machine (status feasible, the stage named).
MAX_STAGE_ITERATIONS = 1000
# HiGHS's primal heuristics in the MIP masters (sub-MIPs at the root, feasibility jump):
# off. A master starts from the incumbent, and its plan counts only once evaluated exactly;
# the heuristics spent half of a master's LP iterations (measured at 200 x 2,000, expected:
# 74-77 CPU s per master with them, 41-58 s without, the same masters and cuts; at 10,000
# one root sub-MIP took 234 of a master's 284 s). See benchmarks/RESULTS.md.
MASTER_HEURISTICS = False
_NO_HEURISTICS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_rins": False,
                  "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
                  "mip_heuristic_run_feasibility_jump": False}
# From this many scenarios the master holds a scenario on its own only once it can matter
# (see Master): the others are left out of worst-case levels and CVaR tails (a relaxation)
# and enter expected resilience through GROUPS aggregate columns, each bounded by the summed
# cuts of its scenarios. Measured at 200 x 10,000 (benchmarks/RESULTS.md, "Scenarios that
# matter"): a MIP master over every scenario took about 6 minutes.
LAZY_FROM = 2000
# Scenarios that enter the master in one round at most (the furthest below what the master
# assumes of them first), and at the start of a level or CVaR stage.
ACTIVATE = 200
GROUPS = 50
# Evaluation points kept for the groups' cuts (a group rebuilt after losing a scenario gets
# the cuts of the points kept); each holds a gradient per scenario.
KEPT_POINTS = 60


def restricted(instance: Instance, scenarios: list[int] | np.ndarray) -> Instance:
    """The instance with only the given scenarios (probabilities kept as they are)."""
    return dataclasses.replace(instance,
                               scenarios=tuple(instance.scenarios[int(s)] for s in scenarios))


# -------------------------------------------------------------------------- evaluation


class Evaluator:
    """Every scenario at a first stage, spread over an executor's lanes.

    Lane ``l`` owns a contiguous slice of the scenarios, cut into blocks of
    :data:`BLOCK_SIZE` (one recourse LP each) and sent in tasks of :func:`batch_size`
    scenarios; the same blocks always go to the same lane, where they stay warm.
    """

    def __init__(self, instance: Instance, executor: Executor,
                 block_size: int = BLOCK_SIZE) -> None:
        self.instance = instance
        self.executor = executor
        self.shared = executor.share(instance)
        S = len(instance.scenarios)
        lanes = executor.lanes
        per_batch = batch_size(executor.kind, S, lanes)
        bounds = np.linspace(0, S, lanes + 1).round().astype(int)
        self.tasks: list[tuple[int, tuple[tuple[int, np.ndarray], ...]]] = []
        block_id = 0
        for lane in range(lanes):
            indices = np.arange(bounds[lane], bounds[lane + 1])
            for batch in blocks_of(indices, per_batch):
                blocks = []
                for block in blocks_of(batch, block_size):
                    blocks.append((block_id, block))
                    block_id += 1
                self.tasks.append((lane, tuple(blocks)))
        self.batch_size = per_batch
        self.seconds = 0.0
        self.rounds = 0
        self.first_seconds = 0.0  # the first round, which builds every scenario's LP

    def round_seconds(self) -> float:
        """Wall seconds an evaluation round takes, the mean of the warm ones so far (the
        first, which builds every LP, when there is no other)."""
        if self.rounds <= 1:
            return self.first_seconds
        return (self.seconds - self.first_seconds) / (self.rounds - 1)

    def __call__(self, first: FirstStage, detail: bool = False,
                 gradients: bool = False, coverage: bool = False) -> Evaluation:
        t0 = time.monotonic()

        def submit(lane: int, blocks: tuple[tuple[int, np.ndarray], ...]) -> Future:
            return self.executor.submit(lane, evaluate_task, self.shared,
                                        Task(blocks, first, detail, gradients, coverage))

        self.executor.repin_lost()
        pending = {submit(lane, blocks): (lane, blocks) for lane, blocks in self.tasks
                   if blocks}
        parts = []
        while pending:
            done, _ = wait(list(pending), timeout=WATCH_SECONDS)
            for future in done:
                parts.append(future.result())
                del pending[future]
            lost = self.executor.repin_lost() if pending else set()
            for future, (lane, blocks) in list(pending.items()):
                if lane in lost:  # its worker left: run it where the lane now lives
                    future.cancel()
                    del pending[future]
                    pending[submit(lane, blocks)] = (lane, blocks)
        self.seconds += time.monotonic() - t0
        self.rounds += 1
        if self.rounds == 1:
            self.first_seconds = self.seconds
        return Evaluation.concatenate(parts)

    def close(self) -> None:
        try:
            self.executor.on_every_lane(forget, self.shared.token)
        finally:
            self.executor.release(self.shared)




# ------------------------------------------------------------------------------ master


@dataclass
class _Point:
    """An evaluated first stage, kept for the groups' cuts."""

    u: np.ndarray  # stock and places on hand
    pool: float
    resilience: np.ndarray  # (S,) exact R_s
    grad: np.ndarray  # (S, len(u)) supergradient of R_s in u (weights applied)
    pool_slope: np.ndarray  # (S,) of R_s in the pool (money), at this pool


@dataclass
class _Group:
    """Scenarios not held on their own, one column over their R_s averaged by probability
    (in [0, 1] like an R_s, so that HiGHS's absolute tolerances weigh it as one scenario);
    it counts ``mass`` (their probability) in expected resilience."""

    col: int
    members: np.ndarray
    mass: float
    points: list[int]


class Master:
    """The first stage, each scenario's share columns and the cuts, in one HiGHS instance.

    Parameters
    ----------
    instance, options
        What is solved, and how (MIP gap, threads).
    ceiling
        Every scenario at the ceiling (:meth:`FirstStage.ceiling`): each share's upper bound.
    """

    def __init__(self, instance: Instance, options: SolveOptions, ceiling: Evaluation) -> None:
        t0 = time.monotonic()
        self.instance = instance
        self.options = options
        md = prepare(restricted(instance, []), limits_from=instance)
        model = assemble(md, ["tiebreak_cost"])
        self.money_scale = md.money_scale
        self.highs = _first_stage_highs(model, options)
        self._first_stage_columns(model)
        self._add_share_columns(ceiling, first_columns=len(model.col_lower))
        self._hold_no_scenario_yet()
        cols = model.columns
        self.layout = Layout(y=cols["y"], x=cols["x"], z=cols["z"], modules=cols["modules"],
                             pool=self.pool_col, g=np.zeros(0, np.int64),
                             v=np.zeros(0, np.int64), econ=np.zeros(0, np.int64), r=self.r,
                             x_unit=md.stock_unit, x_upper=md.stock_upper)
        self.u_map, self.u0 = _on_hand_map(instance, md, model)
        self.n_first = len(model.col_lower)
        self.DK = len(instance.depots) * len(instance.commodities)
        self.cuts = 0
        self.nodes = 0
        self.iterations = 0
        if not self.lazy:
            self.activate(np.arange(len(instance.scenarios)))
        elif not self._wants_curves:
            self._make_groups()
        self.build_seconds = time.monotonic() - t0

    def _first_stage_columns(self, model: DirectModel) -> None:
        """Where the first stage's columns are that the master changes or reads: integer
        ones, stock, open flags, cost and pool."""
        cols = model.columns
        self.integer_cols = np.flatnonzero(model.integer).astype(np.int32)
        # Integer stock columns: bought in whole units in the plan, but counted as a
        # continuous amount in the masters while that can still prove the stage (see
        # relax_stock).
        x_cols = cols["x"][(cols["x"] >= 0)]
        self.stock_cols = x_cols[model.integer[x_cols]].astype(np.int32)
        self.stock_relaxed = False
        # Open flags of candidate depots and shelters (fixed by a repair, see fix_openings).
        flags = np.concatenate([np.ravel(cols["y"]), np.ravel(cols["z"])])
        self.opening_cols = flags[flags >= 0].astype(np.int32)
        self._opening_bounds = (np.asarray(model.col_lower)[self.opening_cols].astype(float),
                                np.asarray(model.col_upper)[self.opening_cols].astype(float))
        self.cost_col = int(cols["cost"][0])
        self.pool_col = int(cols["pool"][0])
        self._flags = (cols["y"], cols["z"])

    def _add_share_columns(self, ceiling: Evaluation, first_columns: int) -> None:
        """sup_s, sh_s, e_s and r_s for every scenario, after the ``first_columns`` of the
        first stage: each share between 0 and its ceiling (a share whose total is 0 counts
        as 1)."""
        inst = self.instance
        S = len(inst.scenarios)
        om = inst.commodity_weights
        need = np.array([s.weighted_need(om) for s in inst.scenarios]) > 0
        evac = np.array([s.evacuees.sum() for s in inst.scenarios]) > 0
        self.loss = np.array([s.economic_loss.sum() for s in inst.scenarios], dtype=float)
        loss = self.loss > 0
        lower = np.concatenate([np.where(need, 0.0, 1.0), np.where(evac, 0.0, 1.0),
                                np.where(loss, 0.0, 1.0), np.zeros(S)])
        upper = np.concatenate([np.where(need, np.minimum(ceiling.supply, 1.0), 1.0),
                                np.where(evac, np.minimum(ceiling.shelter, 1.0), 1.0),
                                np.ones(S), np.ones(S)])
        self.highs.addCols(4 * S, np.zeros(4 * S), lower, upper, 0, np.zeros(0, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
        n0 = first_columns
        self.sup = n0 + np.arange(S)
        self.sh = n0 + S + np.arange(S)
        self.e = n0 + 2 * S + np.arange(S)
        self.r = n0 + 3 * S + np.arange(S)
        self.share_lower, self.share_upper = lower, upper
        self.probabilities = np.asarray(inst.probabilities, dtype=float)
        self.ceil = ceiling.resilience(inst)
        self._cover = (ceiling.cover_supply, ceiling.cover_shelter)

    def _hold_no_scenario_yet(self) -> None:
        """No scenario held on its own yet: below :data:`LAZY_FROM` scenarios every one
        enters at the end of the build; from it, each as it matters, the others in groups
        or on curves."""
        inst = self.instance
        self.active = np.zeros(len(inst.scenarios), dtype=bool)
        self.lazy = len(inst.scenarios) >= LAZY_FROM
        # Expected resilience or CVaR as the objective: every scenario on curves
        # (optimizer.solvers.decomposition.curves: rows that put each member on the lowest
        # of its ceiling, start cut, coverage and the cuts of the plans evaluated, exact at
        # each of those plans), drawn from the start plan's evaluation (remember_start).
        # Side by side at 200 x 2,000, expected: every scenario held, its cost tie-break
        # still open at 400 s; curves, every stage proven in 77 s (RESULTS.md, "Curves").
        self.curves: Curves | None = None
        self._wants_curves = self.lazy and inst.objective.kind in (ObjectiveKind.EXPECTED,
                                                                   ObjectiveKind.CVAR)
        self.target: float | None = None
        self._start: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None
        self._start = None
        self.points: dict[int, _Point] = {}
        self._next_point = 0
        self.groups: list[_Group] = []

    # ------------------------------------------------------ scenarios in the master

    def activate(self, idx: np.ndarray) -> np.ndarray:
        """Scenarios ``idx`` held on their own from here: their share rows, coverage rows,
        the start's cuts and the min_cost target. Returns those not already held."""
        idx = np.asarray(idx, dtype=np.int64)
        idx = np.unique(idx[~self.active[idx]])
        if not len(idx):
            return idx
        self.active[idx] = True
        w = self.instance.weights
        rows: list[tuple[float, float, list[int], list[float]]] = []
        for s in idx:
            if self.loss[s] > 0:
                if self.pool_col >= 0:
                    rows.append((-INF, 0.0, [int(self.e[s]), self.pool_col],
                                 [1.0, -self.money_scale / self.loss[s]]))
                else:
                    self.highs.changeColBounds(int(self.e[s]), 0.0, 0.0)
            rows.append((0.0, 0.0, [int(self.r[s]), int(self.sup[s]), int(self.sh[s]),
                                    int(self.e[s])],
                         [1.0, -w.supply, -w.shelter, -w.economic]))
        self.add_rows(rows)
        self._add_coverage(idx)
        if self._start is not None:
            sup, sh, g_stock, g_cap, u_hat = self._start
            self._start_cuts(idx, sup, sh, g_stock, g_cap, u_hat)
        if self.target is not None:
            n = len(idx)
            self.highs.changeColsBounds(n, self.r[idx].astype(np.int32), np.full(n, self.target),
                                        np.ones(n))
        return idx

    def set_target(self, target: float) -> None:
        """min_cost: every held R_s at least the target (the others as they enter)."""
        self.target = target
        idx = np.flatnonzero(self.active)
        n = len(idx)
        if n:
            self.highs.changeColsBounds(n, self.r[idx].astype(np.int32), np.full(n, target),
                                        np.ones(n))

    def remember_start(self, ev: Evaluation, first: FirstStage) -> None:
        """The start plan's cuts: the master's first view of every scenario, added for
        each scenario as it enters (all at once when every scenario is held)."""
        assert ev.grad_stock is not None and ev.grad_capacity is not None
        u_hat = np.concatenate([first.stock.ravel(), first.capacity])
        self._start = (ev.supply, ev.shelter, ev.grad_stock, ev.grad_capacity, u_hat)
        self._start_cuts(np.flatnonzero(self.active), ev.supply, ev.shelter, ev.grad_stock,
                         ev.grad_capacity, u_hat)
        if self._wants_curves:
            # Curves lean on every plan holding at least the start's stock, places and pool
            # (true of the do-nothing plan); from any other start every scenario is held.
            if first.pool <= 0 and np.all(u_hat <= self.u0 + 1e-9):
                w = self.instance.weights
                self.curves = Curves(self, ev.supply, ev.shelter, ev.grad_stock,
                                     ev.grad_capacity, u_hat,
                                     (w.supply, w.shelter, w.economic))
            return
        self.keep_point(ev, first)

    def hold_every_scenario_unless_curved(self) -> None:
        """Expected resilience or CVaR with no do-nothing start to draw curves from (shelter
        redundancy asked for, or another start given): every scenario is held on its own,
        as below LAZY_FROM."""
        if self._wants_curves and self.curves is None:
            self.activate(np.arange(len(self.sup)))

    def _start_cuts(self, idx: np.ndarray, sup: np.ndarray, sh: np.ndarray,
                    g_stock: np.ndarray, g_cap: np.ndarray, u_hat: np.ndarray) -> None:
        for cols, exact, grad, offset in ((self.sup, sup, g_stock, 0),
                                          (self.sh, sh, g_cap, self.DK)):
            sel = idx[np.abs(grad[idx]).sum(axis=1) > 0]
            if not len(sel):
                continue
            full = np.zeros((len(sel), len(u_hat)))
            full[:, offset:offset + grad.shape[1]] = grad[sel]
            self.add_cuts(cols[sel], exact[sel], full, u_hat)

    # ------------------------------------------------------------------ groups

    def keep_point(self, ev: Evaluation, first: FirstStage) -> int | None:
        """An evaluation with gradients, kept for the groups' cuts; its id."""
        if not self.lazy or ev.grad_stock is None or ev.grad_capacity is None:
            return None
        w = self.instance.weights
        grad = np.concatenate([w.supply * ev.grad_stock, w.shelter * ev.grad_capacity],
                              axis=1)
        loss = self.loss
        with np.errstate(divide="ignore"):
            slope = np.where((loss > 0) & (first.pool < loss), 1.0 / np.where(loss > 0, loss, 1),
                             0.0)
        u = np.concatenate([first.stock.ravel(), first.capacity])
        for key, kept in self.points.items():
            # The same point again (the master returned its plan again, its cuts met within
            # HiGHS's tolerances): its cuts are already there.
            if kept.pool == first.pool and np.array_equal(kept.u, u):
                return key
        point = _Point(u, first.pool, ev.resilience(self.instance), grad, w.economic * slope)
        key = self._next_point
        self._next_point += 1
        self.points[key] = point
        while len(self.points) > KEPT_POINTS:
            del self.points[min(self.points)]
        return key

    def _make_groups(self) -> None:
        on = np.flatnonzero(self.probabilities > 0)
        if not len(on):
            return
        for members in np.array_split(on, min(GROUPS, len(on))):
            self.groups.append(self._new_group(members, []))

    def _new_group(self, members: np.ndarray, points: list[int]) -> _Group:
        """A column over ``members``' R_s averaged by probability: at most their ceilings, at
        most what the facilities that could be open cover (the coverage rows summed), and
        the cuts at ``points``."""
        mass = float(self.probabilities[members].sum())
        p = self.probabilities[members] / mass
        col = int(self.add_columns(1, 0.0, min(1.0, float(p @ self.ceil[members])))[0])
        w = self.instance.weights
        S = len(self.sup)
        index: dict[int, float] = {col: 1.0}
        bound = 0.0
        for part, weight in ((0, w.supply), (1, w.shelter)):
            cover, flags = self._cover[part], self._flags[part]
            low = self.share_lower[part * S:(part + 1) * S][members]
            high = self.share_upper[part * S:(part + 1) * S][members]
            if cover is None or cover.shape[1] == 0:
                bound += weight * float(p @ high)
                continue
            fixed = flags < 0
            c = cover[members]
            constant = c[:, fixed].sum(axis=1)
            row = (low < 1.0) & (constant < high)
            bound += weight * float(p[~row] @ high[~row] + p[row] @ constant[row])
            free = np.flatnonzero(~fixed)
            coefs = (p[row] * weight) @ c[row][:, free]
            for j, a in zip(flags[free], coefs, strict=True):
                if a:
                    index[int(j)] = index.get(int(j), 0.0) - float(a)
        economic = np.where((self.loss[members] > 0) & (self.pool_col < 0), 0.0, 1.0)
        bound += w.economic * float(p @ economic)
        self.add_rows([(-INF, bound, list(index), list(index.values()))])
        group = _Group(col, members, mass, [])
        for key in points:
            self.group_cut(group, key)
        return group

    def group_cut(self, group: _Group, key: int) -> bool:
        """theta_g <= sum_{s in g} p_s (R_s(x^) + G_s . (u - u^) + e_s'(pool - pool^)) / P_g;
        False if the group has it already."""
        point = self.points.get(key)
        if point is None or key in group.points:
            return False
        m = group.members
        p = self.probabilities[m] / group.mass
        a = p @ point.grad[m]
        b = float(p @ point.pool_slope[m])
        rhs = float(p @ point.resilience[m] - a @ (point.u - self.u0) - b * point.pool)
        terms = np.asarray(self.u_map.T @ a).ravel()
        cols = np.flatnonzero(terms)
        index = [group.col, *map(int, cols)]
        values = [1.0, *(-terms[cols])]
        if self.pool_col >= 0 and b:
            index.append(self.pool_col)
            values.append(-b * self.money_scale)
        self.add_rows([(-INF, rhs, index, values)])
        group.points.append(key)
        self.cuts += 1
        return True

    def regroup(self, leaving: np.ndarray) -> list[_Group]:
        """Scenarios now held on their own leave their groups: each group that loses one is
        replaced by a new column over the rest, with the cuts of the points kept (the old
        column is fixed at 0, its rows then bind nothing). Returns the new groups."""
        if not self.groups or not len(leaving):
            return []
        new, kept = [], []
        for group in self.groups:
            out = np.isin(group.members, leaving)
            if not out.any():
                kept.append(group)
                continue
            self.highs.changeColBounds(group.col, 0.0, 0.0)
            rest = group.members[~out]
            if len(rest):
                replaced = self._new_group(rest, [k for k in group.points if k in self.points])
                kept.append(replaced)
                new.append(replaced)
        self.groups = kept
        return new

    def _add_coverage(self, idx: np.ndarray) -> None:
        """sup_s <= sum_d a_sd y_d and sh_s <= sum_h b_sh z_h for the scenarios ``idx``
        (a closed facility provides nothing; an open one at most what it covers,
        :class:`Evaluation`). Without these rows an LP master opens a sliver of a depot for
        the price of a sliver and stocks it fully (stock <= capacity * y): its bound stays
        at the ceilings however tight the budget. One row per scenario and share."""
        S = len(self.sup)
        for part, share_cols in enumerate((self.sup, self.sh)):
            cover, flags = self._cover[part], self._flags[part]
            assert cover is not None
            if cover.shape[1] == 0:
                continue
            fixed = flags < 0  # existing facilities: always open, a constant
            free = np.flatnonzero(~fixed)
            low = self.share_lower[part * S:(part + 1) * S]
            high = self.share_upper[part * S:(part + 1) * S]
            rows = []
            for s in idx:
                constant = float(cover[s, fixed].sum())
                j = int(share_cols[s])
                if low[s] >= 1.0 or constant >= high[s]:
                    continue  # nothing needed, or the existing ones cover the bound
                on = free[cover[s, free] > 0]
                rows.append((-INF, constant, [j, *map(int, flags[on])],
                             [1.0, *(-cover[s, on])]))
            self.add_rows(rows)

    # ----------------------------------------------------------------- building

    @property
    def num_cols(self) -> int:
        return int(self.highs.getNumCol())

    def add_rows(self, rows: list[tuple[float, float, list[int], list[float]]]) -> None:
        if not rows:
            return
        lower = np.array([r[0] for r in rows], dtype=float)
        upper = np.array([r[1] for r in rows], dtype=float)
        starts = np.cumsum([0] + [len(r[2]) for r in rows[:-1]]).astype(np.int32)
        index = np.concatenate([np.asarray(r[2], dtype=np.int32) for r in rows])
        value = np.concatenate([np.asarray(r[3], dtype=float) for r in rows])
        status = self.highs.addRows(len(rows), lower, upper, len(index), starts, index, value)
        # HiGHS refuses rows with a column twice (and adds nothing): never silently.
        assert status != highspy.HighsStatus.kError, "the master refused rows"

    def add_columns(self, n: int, lower: float, upper: float) -> np.ndarray:
        """n new columns with no entries and zero cost; their indices."""
        first = self.num_cols
        self.highs.addCols(n, np.zeros(n), np.full(n, lower), np.full(n, upper), 0,
                           np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
        return first + np.arange(n)


    def add_cuts(self, share_cols: np.ndarray, values: np.ndarray, grads: np.ndarray,
                 u_hat: np.ndarray) -> None:
        """share_s <= value_s + g_s . (u - u^) for each row of ``grads`` (in u's entries),
        written over the master's columns: share_s - (g_s U) c <= value_s - g_s . (u^ - u0).
        """
        n = len(share_cols)
        if n == 0:
            return
        g = csr_matrix(grads)
        terms = (g @ self.u_map).tocoo()
        rhs = values - grads @ (u_hat - self.u0)
        rows = np.concatenate([np.arange(n), terms.row])
        cols = np.concatenate([share_cols, terms.col])
        vals = np.concatenate([np.ones(n), -terms.data])
        keep = (vals != 0) | (np.arange(len(vals)) < n)
        m = coo_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, self.num_cols)).tocsr()
        m.sum_duplicates()
        self.highs.addRows(n, np.full(n, -INF), rhs.astype(float), m.nnz,
                           m.indptr[:-1].astype(np.int32), m.indices.astype(np.int32),
                           m.data.astype(float))
        self.cuts += n

    def relax(self, relaxed: bool) -> None:
        """The integer first-stage columns as continuous (LP masters), or integer again
        (stock stays continuous while :meth:`relax_stock` says so)."""
        self._integrality(self.integer_cols, relaxed)
        if not relaxed and self.stock_relaxed:
            self._integrality(self.stock_cols, True)

    def relax_stock(self, relaxed: bool) -> None:
        """Stock bought as a continuous amount in the MIP masters (or in whole units again).

        Why: the masters' branch and bound spends much of its work on the integrality of
        stock columns worth thousands of units, where a unit more or less moves no bound
        that matters. A master with continuous stock is a relaxation of the one with whole
        units, so its bound still bounds the stage; its plans are rounded down (feasible:
        cost and room only fall) and evaluated exactly before they count. If the rounding
        keeps the bounds from meeting, the stage goes back to whole units (see
        :meth:`_Benders.stage`), so every stage's answer stays exact."""
        self.stock_relaxed = relaxed and len(self.stock_cols) > 0
        self._integrality(self.stock_cols, relaxed)

    def fix_openings(self, x: np.ndarray | None) -> None:
        """Which depots and shelters are open fixed at ``x``'s (rounded), or free again
        (None)."""
        cols = self.opening_cols
        if not len(cols):
            return
        if x is None:
            lower, upper = self._opening_bounds
        else:
            lower = upper = np.round(x[cols])
        self.highs.changeColsBounds(len(cols), cols, lower, upper)

    def _integrality(self, cols: np.ndarray, relaxed: bool) -> None:
        n = len(cols)
        if n:
            kind = highspy.HighsVarType.kContinuous if relaxed else highspy.HighsVarType.kInteger
            self.highs.changeColsIntegrality(n, cols, np.full(n, int(kind), dtype=np.int32))

    # ------------------------------------------------------------------ solving

    def set_objective(self, cols: np.ndarray, coefs: np.ndarray) -> None:
        """The master's objective (minimised): ``coefs`` on ``cols``, 0 elsewhere."""
        n = self.num_cols
        dense = np.zeros(n)
        dense[cols] = coefs
        self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), dense)

    def solve(self, gap: float, time_limit: float | None, cost: np.ndarray,
              start: Plan | None) -> Run:
        h = self.highs
        h.setOptionValue("mip_rel_gap", float(gap))
        if start is not None:
            give_start(h, self.layout, self.money_scale, start)
        run = run_highs(h, time_limit, cost)
        self.nodes += run.nodes
        self.iterations += run.iterations
        return run

    def point(self, x: np.ndarray) -> FirstStage:
        """The master's first stage as the recourse sees it, fractions kept (LP masters)."""
        u = self.u_map @ x[:self.n_first] + self.u0
        u = np.maximum(u, 0.0)
        inst = self.instance
        D, K = len(inst.depots), len(inst.commodities)
        pool = Layout.values(np.array([self.layout.pool]), x)[0] * self.money_scale
        return FirstStage(u[:self.DK].reshape(D, K), u[self.DK:],
                          float(min(max(pool, 0.0), inst.max_pool)))

    def plan(self, x: np.ndarray) -> Plan:
        return plan_from_columns(self.layout, self.instance, self.money_scale, x,
                                 stock_rounded_down=self.stock_relaxed)

    def size(self) -> dict[str, int]:
        h = self.highs
        return {"variables": int(h.getNumCol()), "constraints": int(h.getNumRow()),
                "nonzeros": int(h.getNumNz()), "integer_variables": len(self.integer_cols),
                "scenarios": len(self.instance.scenarios), "cuts": self.cuts,
                "scenarios_held": int(self.active.sum())}


def _first_stage_highs(model: DirectModel, options: SolveOptions) -> highspy.Highs:
    """A HiGHS instance holding the first stage (no scenario), set up for the masters: an
    absolute gap of at most 1e-7 and, unless :data:`MASTER_HEURISTICS`, no primal
    heuristics."""
    h = new_highs(options)
    h.setOptionValue("mip_abs_gap", min(1e-7, options.mip_gap))
    if not MASTER_HEURISTICS:
        for name, value in _NO_HEURISTICS.items():
            h.setOptionValue(name, value)
    n0 = len(model.col_lower)
    pass_model(h, model.a, np.zeros(n0), model.col_lower, model.col_upper,
               model.row_lower, model.row_upper, model.integer)
    return h


def _on_hand_map(instance: Instance, md: ModelData, model: DirectModel
                 ) -> tuple[csr_matrix, np.ndarray]:
    """The plan's stock and places on hand as an affine map of the first-stage columns:
    u = U @ columns + u0, u = concat(stock on hand (D*K), places (H)). Returns (U, u0)."""
    cols = model.columns
    D, K, H = len(instance.depots), len(instance.commodities), len(instance.shelters)
    entries, columns, coefs = [], [], []
    u0 = np.zeros(D * K + H)
    for d, depot in enumerate(instance.depots):
        for k in range(K):
            e = d * K + k
            if cols["x"][d, k] >= 0:
                entries.append(e), columns.append(int(cols["x"][d, k]))
                coefs.append(float(md.stock_unit[d, k]))
            stock = float(depot.existing_stock[k])
            if stock:
                if cols["y"][d] >= 0:
                    entries.append(e), columns.append(int(cols["y"][d]))
                    coefs.append(stock)
                else:
                    u0[e] += stock
    # Places beyond what any scenario can fill count as those (models.limits): the
    # cuts stay valid (R_s is flat there) and a sliver of z_h cannot buy a whole shelter.
    useful = limits.useful_places(instance)
    for j, shelter in enumerate(instance.shelters):
        e = D * K + j
        if cols["z"][j] >= 0:
            entries.append(e), columns.append(int(cols["z"][j]))
            coefs.append(min(float(shelter.capacity), float(useful[j])))
        else:
            u0[e] += float(shelter.capacity) if shelter.existing else 0.0
        if cols["modules"][j] >= 0 and shelter.module_size > 0:
            entries.append(e), columns.append(int(cols["modules"][j]))
            coefs.append(min(float(shelter.module_size), float(useful[j])))
    u_map = csr_matrix((coefs, (entries, columns)), shape=(D * K + H, len(model.col_lower)))
    return u_map, u0


# ---------------------------------------------------------------------------- the loop


@dataclass
class _Incumbent:
    plan: Plan
    resilience: np.ndarray  # exact R_s at the plan, every scenario
    cost: float


@dataclass
class _CvarTerms:
    """CVaR's columns in the master: eta, each held scenario's shortfall (-1: none yet),
    their weights p_s / (1 - alpha), and the held rows over them."""

    eta: int
    short: np.ndarray
    coef: np.ndarray
    rows: list[int] = field(default_factory=list)


@dataclass
class _Held:
    """A solved stage, held in the master by one row and checked on exact values."""

    goal: Goal
    value: float  # user units, the incumbent's exact value


@dataclass
class _Search:
    """One stage's search: its goal, the gap it is proven to, the best plan so far (its
    exact R_s meet the held stages) and the masters' best bound, in user units."""

    goal: Goal
    instance: Instance
    ceilings: np.ndarray
    admissible: Callable[[np.ndarray, float], bool]  # the held stages met (_Benders)
    target: float | None  # min_cost: every R_s at least this
    wanted: float  # the gap each MIP master is solved to, and the stage proven to
    scale: float  # the money scale for a cost stage (its absolute tolerances), else 1
    incumbent: _Incumbent | None
    best: float | None = field(init=False)  # the incumbent's value
    bound: float = field(init=False)
    status: Status = Status.FEASIBLE
    relaxed: bool = True  # LP masters (integrality relaxed) until they gather no more
    lp_rounds: int = 0
    iterations: int = 0
    tried: set[bytes] = field(default_factory=set)  # openings a repair has bought whole units for

    def __post_init__(self) -> None:
        self.best = None if self.incumbent is None else self.score(self.incumbent)
        self.bound = math.inf if self.maximise else -math.inf

    @property
    def maximise(self) -> bool:
        return self.goal.maximise

    def score(self, inc: _Incumbent) -> float:
        return self.goal.value(self.instance, inc.resilience, inc.cost, self.ceilings)

    def gap_of(self, bound: float, value: float) -> float:
        diff = (bound - value) if self.maximise else (value - bound)
        return max(0.0, diff) / max(abs(value), 1e-10)

    def gap(self) -> float | None:
        """The incumbent's gap to the bound, if both exist."""
        if self.best is None or not math.isfinite(self.bound):
            return None
        return self.gap_of(self.bound, self.best)

    def closed(self, bound: float, value: float, allowed: float,
               absolute: float = 1e-9) -> bool:
        diff = (bound - value) if self.maximise else (value - bound)
        return diff <= allowed * max(abs(value), 1e-10) + absolute * self.scale

    def meets(self, resilience: np.ndarray, cost: float) -> bool:
        return self.admissible(resilience, cost) and (
            self.target is None or float(resilience.min()) >= self.target - FEASIBILITY_TOL)

    def consider(self, plan: Plan, resilience: np.ndarray) -> float | None:
        """A plan evaluated exactly: the incumbent if it meets the held stages and
        does better. Returns the incumbent's value."""
        cost = plan_cost(self.instance, plan).total
        candidate = _Incumbent(plan, resilience, cost)
        if self.meets(resilience, cost):
            value = self.score(candidate)
            if self.best is None or (value > self.best + 1e-12 if self.maximise
                                     else value < self.best - 1e-12 * self.scale):
                self.incumbent, self.best = candidate, value
        return self.best

    def point_value(self, x: np.ndarray, at_point: np.ndarray, master: Master
                    ) -> float | None:
        """The stage's value at the master's own point (stock in fractions, every
        scenario evaluated exactly), if that point meets the held stages."""
        cost = float(x[master.cost_col]) * master.money_scale
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


@dataclass
class _Round:
    """A master's point evaluated: its plan (None for an LP master), the exact R_s at
    that plan and at the master's own point (the same unless stock is in fractions and
    the plan rounded down), the rows added and the seconds it took."""

    plan: Plan | None
    resilience: np.ndarray
    at_point: np.ndarray
    added: int
    seconds: float


@dataclass
class _Benders:
    instance: Instance
    options: SolveOptions
    master: Master
    evaluate: Evaluator
    log: Callable[[str], None]
    progress: list[dict[str, Any]] = field(default_factory=list)
    held: list[_Held] = field(default_factory=list)
    incumbent_r: np.ndarray | None = None  # exact R_s of the incumbent at the stage's start
    floors: np.ndarray = field(init=False)  # r_s held from below, per scenario
    expected_held: bool = False
    # What grows as scenarios enter the master (Master.activate): the level columns with
    # their weights per scenario (inf: not in that level), CVaR's terms, the held rows
    # over expected resilience, and the current stage's objective by column (minimised).
    levels: list[tuple[int, np.ndarray]] = field(default_factory=list)
    cvar: _CvarTerms | None = None
    # On curves (Master.curves), CVaR's shortfall by groups of scenarios: (column, members).
    cvar_groups: list[tuple[int, np.ndarray]] = field(default_factory=list)
    cvar_plans: set[bytes] = field(default_factory=set)  # plans whose rows at their VaR are in
    expected_rows: list[int] = field(default_factory=list)
    goal_measure: str = ""
    costs: dict[int, float] = field(default_factory=dict)
    iteration: int = 0
    interrupted: bool = False
    timed_out: bool = False

    def __post_init__(self) -> None:
        self.floors = np.full(len(self.instance.scenarios), -np.inf)

    @property
    def ceilings(self) -> np.ndarray:
        """Every scenario's R_s at the ceiling (the master's bound on it)."""
        return self.master.ceil

    # ------------------------------------------------------------ objectives

    def objective(self, goal: Goal) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Set the goal as the master's objective (minimisation form, :attr:`costs`); for a
        level or CVaR, its column and the per-scenario weights ``t * c_s <= r_s``."""
        m = self.master
        self.goal_measure = goal.measure
        level_col: np.ndarray | None = None
        level: np.ndarray | None = None
        if goal.measure == "cost":
            self.costs = {m.cost_col: 1.0}
        elif goal.measure == "expected":
            self._expected_objective()
        elif goal.measure in ("worst", "relative"):
            level_col, level = self._level_objective(goal)
        else:
            assert goal.measure == "cvar"
            level_col, level = self._cvar_objective()
        m.set_objective(np.array(list(self.costs), dtype=np.int64),
                        np.array(list(self.costs.values())))
        return level_col, level

    def _expected_objective(self) -> None:
        """Expected resilience: each held scenario's r_s, each group's column and each
        curve's, by probability."""
        m, p = self.master, self.instance.probabilities
        m.regroup(np.flatnonzero(m.active))  # scenarios held since the groups were made
        held = np.flatnonzero((p > 0) & m.active)
        self.costs = {int(m.r[s]): -float(p[s]) for s in held}
        self.costs.update({g.col: -g.mass for g in m.groups})
        if m.curves is not None:
            self.costs.update(m.curves.costs())

    def _level_objective(self, goal: Goal) -> tuple[np.ndarray, np.ndarray]:
        """A worst case (over all scenarios or those the goal names) or a relative level
        (each scenario over its ceiling): a level column t, with ``t * c_s <= r_s`` for
        the scenarios held (the first to enter chosen by :meth:`_enter_first`)."""
        m = self.master
        S = len(self.instance.scenarios)
        if goal.measure == "worst":
            among = np.arange(S) if goal.scenarios is None else goal.scenarios
            weight = np.ones(len(among))
        else:
            among = np.flatnonzero(self.ceilings > RELATIVE_MIN_CEILING)
            weight = self.ceilings[among]
        level = np.full(S, np.inf)
        level[among] = weight
        self._enter_first(among, ACTIVATE)
        held = m.active[among]
        t = add_level(m.highs, m.r[among[held]], weight[held])
        self.levels.append((t, level))
        self.costs = {t: -1.0}
        return np.array([t]), level

    def _cvar_objective(self) -> tuple[np.ndarray, np.ndarray]:
        """CVaR: eta less the shortfalls below it, weighted by p_s / (1 - alpha); each held
        scenario's shortfall, or on curves each group's (:meth:`_cvar_rows`)."""
        m, inst = self.master, self.instance
        S = len(inst.scenarios)
        p = inst.probabilities
        alpha = inst.objective.alpha
        eta = int(m.add_columns(1, 0.0, 1.0)[0])
        on = np.flatnonzero(p > 0)
        self.cvar = _CvarTerms(eta, np.full(S, -1, dtype=np.int64),
                               np.where(p > 0, p / (1 - alpha), 0.0))
        self.costs = {eta: -1.0}
        if m.curves is not None:
            # Each group's shortfall sum_s p_s (eta - R_s)^+, bounded below by rows
            # (_cvar_rows); the groups are the supply curves' (alike scenarios).
            for curve in m.curves.curves:
                members = curve.members[p[curve.members] > 0]
                if curve.kind == SUPPLY and len(members):
                    col = int(m.add_columns(1, 0.0, INF)[0])
                    self.cvar_groups.append((col, members))
                    self.costs[col] = 1.0 / (1 - alpha)
        else:
            self._enter_first(on, max(ACTIVATE, math.ceil((1 - alpha) * len(on))))
            self._add_shortfalls(np.flatnonzero(m.active & (p > 0)))
        level = np.full(S, np.inf)
        level[on] = 1.0
        return np.array([eta]), level

    def dense(self) -> np.ndarray:
        """The current stage's objective over every column of the master."""
        out = np.zeros(self.master.num_cols)
        out[list(self.costs)] = list(self.costs.values())
        return out

    def _set_cost(self, col: int, value: float) -> None:
        self.costs[col] = value
        self.master.highs.changeColCost(col, value)

    def _enter_first(self, among: np.ndarray, count: int) -> None:
        """At a level or CVaR stage's start with none of ``among`` held (lazy master):
        those lowest at their ceilings and lowest under the incumbent, ``count`` in all."""
        m = self.master
        if not m.lazy or m.active[among].any() or not len(among):
            return
        half = max(1, count // 2)
        pick = [among[np.argsort(self.ceilings[among], kind="stable")[:half]]]
        if self.incumbent_r is not None:
            pick.append(among[np.argsort(self.incumbent_r[among], kind="stable")[:half]])
        self._enter(np.concatenate(pick))

    def _add_shortfalls(self, idx: np.ndarray) -> None:
        """CVaR's shortfall ``eta - r_s <= short_s`` for the scenarios ``idx``."""
        cv, m = self.cvar, self.master
        assert cv is not None
        idx = idx[cv.short[idx] < 0]
        if not len(idx):
            return
        short = m.add_columns(len(idx), 0.0, INF)
        cv.short[idx] = short
        m.add_rows([(-INF, 0.0, [cv.eta, int(m.r[s]), int(u)], [1.0, -1.0, -1.0])
                    for s, u in zip(idx, short, strict=True)])
        for s, u in zip(idx, short, strict=True):
            if self.goal_measure == "cvar":
                self._set_cost(int(u), float(cv.coef[s]))
            for row in cv.rows:
                m.highs.changeCoeff(row, int(u), float(cv.coef[s]))

    def _enter(self, idx: np.ndarray) -> np.ndarray:
        """Scenarios held in the master on their own from here, in every level, CVaR tail
        and expected-resilience term that is live; returns those new to it."""
        m, p = self.master, self.instance.probabilities
        idx = m.activate(idx)
        if not len(idx):
            return idx
        for t, weight in self.levels:
            sel = idx[np.isfinite(weight[idx])]
            m.add_rows([(-INF, 0.0, [t, int(m.r[s])], [float(weight[s]), -1.0])
                        for s in sel])
        if self.cvar is not None:
            self._add_shortfalls(idx[p[idx] > 0])
        on = idx[p[idx] > 0]
        for s in on:
            if self.goal_measure == "expected":
                self._set_cost(int(m.r[s]), -float(p[s]))
            for row in self.expected_rows:
                m.highs.changeCoeff(row, int(m.r[s]), -float(p[s]))
        if self.goal_measure != "expected" and not self.expected_rows:
            return idx  # they leave their groups when expected resilience enters
        for group in m.regroup(on):
            if self.goal_measure == "expected":
                self._set_cost(group.col, -group.mass)
            for row in self.expected_rows:
                m.highs.changeCoeff(row, group.col, -group.mass)
        return idx

    def hold(self, goal: Goal, value: float) -> None:
        """Keep a solved stage at the value its incumbent reaches."""
        self.held.append(_Held(goal, value))
        m = self.master
        minimised = value / m.money_scale if goal.measure == "cost" else -value
        row = int(m.highs.getNumRow())
        m.add_rows([(-INF, minimised, list(self.costs), list(self.costs.values()))])
        if goal.measure == "worst":
            among = (np.arange(len(self.floors)) if goal.scenarios is None
                     else goal.scenarios)
            self.floors[among] = np.maximum(self.floors[among], value - ADMIT_TOL)
        elif goal.measure == "relative":
            ok = self.ceilings > RELATIVE_MIN_CEILING
            self.floors[ok] = np.maximum(self.floors[ok],
                                         value * self.ceilings[ok] - ADMIT_TOL)
        else:
            self.expected_held = self.expected_held or goal.measure != "cost"
            if goal.measure == "expected":
                self.expected_rows.append(row)
            elif goal.measure == "cvar":
                assert self.cvar is not None
                self.cvar.rows.append(row)

    def _slack(self, goal: Goal, value: float) -> float:
        """How far (user units) a plan may fall short of a held stage's value."""
        scale = self.master.money_scale if goal.measure == "cost" else 1.0
        return max(ADMIT_TOL * scale, ADMIT_GAP_SHARE * self.options.mip_gap * abs(value))

    def admissible(self, resilience: np.ndarray, cost: float) -> bool:
        """The exact R_s of a plan meet every held stage (and the min_cost target)."""
        for held in self.held:
            got = held.goal.value(self.instance, resilience, cost, self.ceilings)
            slack = self._slack(held.goal, held.value)
            if held.goal.maximise and got < held.value - slack:
                return False
            if not held.goal.maximise and got > held.value + slack:
                return False
        return True

    # ------------------------------------------------------------------ stage

    def stage(self, goal: Goal, incumbent: _Incumbent | None, target: float | None = None
              ) -> tuple[Status, float | None, _Incumbent | None, float]:
        """Solve one stage: (status, bound in user units, incumbent, seconds).

        LP masters first (:meth:`_after_lp_master`), then MIP masters with stock bought
        in fractions (:meth:`Master.relax_stock`) and whole units when that matters
        (:meth:`_after_mip_master`), each master's point evaluated and cut (:meth:`_cut`),
        until the incumbent meets the bound within the gap or a limit stops the stage."""
        started = time.monotonic()
        m = self.master
        self.incumbent_r = None if incumbent is None else incumbent.resilience
        level_col, level = self.objective(goal)
        search = self._search(goal, incumbent, target)
        m.relax_stock(RELAX_STOCK)
        m.relax(True)
        try:
            while self._iterate(search, level_col, level):
                pass
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            m.relax_stock(False)
            m.relax(False)
        bound = search.bound
        if search.status is Status.OPTIMAL and search.best is not None:
            bound = max(bound, search.best) if goal.maximise else min(bound, search.best)
        return (search.status, None if not math.isfinite(bound) else bound, search.incumbent,
                time.monotonic() - started)

    def _search(self, goal: Goal, incumbent: _Incumbent | None, target: float | None
                ) -> _Search:
        """The stage's search, from the incumbent of the stages before."""
        # The stages after the first hold it with a slack of up to ADMIT_GAP_SHARE of the
        # gap (see _slack), so the first is proven within the rest: the plan returned then
        # meets the gap asked for against the first stage's bound (at 200 x 2,000 a cost
        # tie-break took the expected objective from a 0.0099% gap to 0.0101%, `feasible`).
        wanted = self.options.mip_gap * ((1 - ADMIT_GAP_SHARE) if goal.name == "objective"
                                         else 1.0)
        scale = self.master.money_scale if goal.measure == "cost" else 1.0
        return _Search(goal, self.instance, self.ceilings, self.admissible, target, wanted,
                       scale, incumbent)

    def _iterate(self, s: _Search, level_col: np.ndarray | None, level: np.ndarray | None
                 ) -> bool:
        """One master, its point evaluated and cut, and its plan offered as the incumbent
        (with a repair where rounding lost it); False once the stage ends."""
        m = self.master
        go_on, time_limit = self._may_solve_a_master(s)
        if not go_on:
            return False
        dense = self.dense()
        run = m.solve(s.wanted, time_limit, dense,
                      None if s.relaxed or s.incumbent is None else s.incumbent.plan)
        if run.interrupted:
            self.interrupted = True
        if not run.status.has_plan:
            self._no_plan(s, run)
            return False
        x = np.asarray(m.highs.getSolution().col_value)
        value_lp = self._take_bound(s, run, dense, x)
        done = self._evaluate_master(s, x, level_col, level)
        if done.plan is not None:
            s.consider(done.plan, done.resilience)
        self._record(s.goal, "lp" if s.relaxed else "mip", s.bound, s.best, s.gap(),
                     run.seconds, done.seconds, done.added, None if s.relaxed else s.wanted)
        point = s.point_value(x, done.at_point, m) if done.plan is not None and \
            m.stock_relaxed else None
        if s.rounding_lost(x, point, m.opening_cols):
            # The master's point beats the incumbent, its plan rounded down does
            # not: buy the stock in whole units for the openings the point chose.
            self._repair(s, x, done.plan, level_col, level)
        return self._carry_on(s, run, value_lp, done, point)

    def _may_solve_a_master(self, s: _Search) -> tuple[bool, float | None]:
        """Whether another master may start (a stop, the clock or the work limit may end
        the stage here), and its time limit (None: none)."""
        if stopping.requested():  # deferred: stop here, keep the incumbent
            self.interrupted = True
            return False, None
        left = self.options.remaining()
        # Every master is followed by an evaluation round that the clock does not
        # stop: a master starts only with time for that round too, and its limit
        # leaves it (the solver's deadline already leaves the verification's).
        after = self.evaluate.round_seconds()
        if left is not None and left <= after:
            self.timed_out = True
            return False, None
        s.iterations += 1
        if s.iterations > MAX_STAGE_ITERATIONS:
            self.log(f"decomposition: {s.goal.name}: {MAX_STAGE_ITERATIONS} masters "
                     "without closing the gap; the plan is the best found")
            return False, None
        return True, None if left is None else left - after

    def _no_plan(self, s: _Search, run: Run) -> None:
        """A master that returned no plan: infeasible (no plan at all, or held rows a hair
        too tight), stopped by the clock, or failed."""
        m = self.master
        if run.status is Status.INFEASIBLE and not run.interrupted and \
                m.highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
            if s.incumbent is None:
                raise InfeasibleError(infeasible_message(self.instance))
            # Held rows a hair too tight for the master's tolerances: the
            # incumbent is the answer (every cut over-estimates R_s).
            s.status = Status.OPTIMAL
            s.bound = s.best if s.best is not None else s.bound
        elif run.timed_out:
            self.timed_out = True
        elif run.status is Status.ERROR:
            raise SolverFailure("HiGHS failed on the decomposition master: "
                                + m.highs.modelStatusToString(m.highs.getModelStatus()))

    def _take_bound(self, s: _Search, run: Run, dense: np.ndarray, x: np.ndarray) -> float:
        """The stage's bound tightened by a master's (an LP master's only when solved to
        optimality); returns the master's objective at ``x``."""
        info = self.master.highs.getInfo()
        value_lp = float(dense @ x)
        master_bound = value_lp if s.relaxed else float(info.mip_dual_bound)
        if not math.isfinite(master_bound):
            master_bound = value_lp
        if run.status is Status.OPTIMAL:
            master_bound = min(master_bound, value_lp)
        user_bound = -master_bound if s.maximise else master_bound * s.scale
        if run.status is Status.OPTIMAL or not s.relaxed:
            s.bound = min(s.bound, user_bound) if s.maximise else max(s.bound, user_bound)
        return value_lp

    def _evaluate_master(self, s: _Search, x: np.ndarray, level_col: np.ndarray | None,
                         level: np.ndarray | None) -> _Round:
        """The master's point evaluated exactly and cut; with stock in fractions, its
        plan (rounded down) evaluated too."""
        inst, m = self.instance, self.master
        plan = None if s.relaxed else m.plan(x)
        # Cuts at the master's own point (with stock in fractions, the rounded plan
        # is another point, and a cut there might not cut the master's off).
        first = FirstStage.of(inst, plan) if plan is not None and \
            not m.stock_relaxed else m.point(x)
        t0 = time.monotonic()
        ev = self.evaluate(first, gradients=True)
        r = ev.resilience(inst)
        added = self._cut(ev, first, x, level_col, level)
        at_point = r
        if plan is not None and m.stock_relaxed:
            r = self.evaluate(FirstStage.of(inst, plan)).resilience(inst)
        return _Round(plan, r, at_point, added, time.monotonic() - t0)

    def _carry_on(self, s: _Search, run: Run, value_lp: float, done: _Round,
                  point: float | None) -> bool:
        """Whether the stage goes on after a master: not once stopped or proven."""
        if self.interrupted:
            return False
        if s.best is not None and math.isfinite(s.bound) and \
                s.closed(s.bound, s.best, s.wanted):
            s.status = Status.OPTIMAL
            return False
        if s.relaxed:
            self._after_lp_master(s, value_lp, done)
            return True
        if run.status is not Status.OPTIMAL:
            self.timed_out = not self.interrupted
            return False  # the time limit stopped the master
        return self._after_mip_master(s, done.added, point)

    def _after_lp_master(self, s: _Search, value_lp: float, done: _Round) -> None:
        """LP masters end (MIP masters from here) when one adds no cut, after
        :data:`LP_ITERATIONS`, or when the LP's bound meets its plan's exact value within
        :data:`LP_GAP`."""
        s.lp_rounds += 1
        lp_value = s.goal.value(self.instance, done.resilience, 0.0, self.ceilings) if \
            s.goal.measure != "cost" else None
        lp_done = done.added == 0 or s.lp_rounds >= LP_ITERATIONS or (
            lp_value is not None and
            abs(-value_lp - lp_value) <= LP_GAP * max(abs(lp_value), 1e-10))
        if lp_done:
            s.relaxed = False
            self.master.relax(False)

    def _after_mip_master(self, s: _Search, added: int, point: float | None) -> bool:
        """After a MIP master solved to the gap that brought no cut: whole units of stock
        from here if they keep the plan from the bound, else the end of the stage (proven
        if the bounds agree up to the master's tolerances)."""
        m = self.master
        if added == 0 and point is not None and s.closed(s.bound, point, s.wanted) and \
                not (s.best is not None and s.closed(s.bound, s.best, s.wanted)):
            # The master's point reaches its bound, its plans in whole units do
            # not: a tighter master would only return that point again.
            self.log(f"decomposition: {s.goal.name}: stock in whole units from here")
            m.relax_stock(False)
            return True
        if added == 0 and m.stock_relaxed and not (
                s.best is not None and s.closed(s.bound, s.best, s.wanted)):
            # The master's cuts are exact at its point, but whole units of stock
            # keep its plan short of its bound: prove the rest in whole units.
            self.log(f"decomposition: {s.goal.name}: stock in whole units from here")
            m.relax_stock(False)
            return True
        if added == 0:
            # Nothing to add and the master solved to the gap: the bounds agree up to
            # the master's tolerances and the rounding of its plan.
            if s.best is not None and math.isfinite(s.bound) and \
                    s.closed(s.bound, s.best, s.wanted, GAP_SLACK):
                s.status = Status.OPTIMAL
            else:
                self.log(f"decomposition: {s.goal.name}: bounds stopped short of each "
                         "other; the plan is the best found")
            return False
        return True

    def _repair(self, s: _Search, x: np.ndarray, start: Plan | None,
                level_col: np.ndarray | None, level: np.ndarray | None) -> None:
        """Masters with the depots and shelters open at ``x`` fixed and stock in whole
        units, each plan evaluated exactly and offered as the incumbent, until one brings no
        cut (at most :data:`REPAIR_MASTERS`). Their bounds hold for those openings only, so
        they never move the stage's bound; their cuts are valid everywhere."""
        m, inst = self.master, self.instance
        m.fix_openings(x)
        m.relax_stock(False)
        try:
            for _ in range(REPAIR_MASTERS):
                left = self.options.remaining()
                after = self.evaluate.round_seconds()  # the round after it, as for a master
                if (left is not None and left <= after) or stopping.requested():
                    break
                run = m.solve(s.wanted, None if left is None else left - after, self.dense(),
                              start)
                if not run.status.has_plan:
                    break
                xr = np.asarray(m.highs.getSolution().col_value)
                plan = m.plan(xr)
                first = FirstStage.of(inst, plan)
                t0 = time.monotonic()
                ev = self.evaluate(first, gradients=True)
                added = self._cut(ev, first, xr, level_col, level)
                best = s.consider(plan, ev.resilience(inst))
                self._record(s.goal, "repair", math.nan, best, None, run.seconds,
                             time.monotonic() - t0, added, s.wanted)
                if added == 0 or run.interrupted:
                    break
                start = plan
        finally:
            m.fix_openings(None)
            m.relax_stock(True)

    def _cut(self, ev: Evaluation, first: FirstStage, x: np.ndarray,
             level_col: np.ndarray | None, level: np.ndarray | None) -> int:
        """Scenarios that fall below what the master assumes of them enter it (lazy
        master); cuts where the master over-estimates a share of a held scenario that can
        matter, and where it over-estimates a group. Returns how many rows that added."""
        m = self.master
        r = ev.resilience(self.instance)
        line = self._level_line(x, level_col, level)
        threshold = self._assumed(x, line)
        u_hat = np.concatenate([first.stock.ravel(), first.capacity])
        pool_column = first.pool / m.money_scale
        entered = self._admit(ev, r, threshold, u_hat)
        # Cuts where they can move the stage: every scenario unless the stage is a level
        # with nothing held over expected resilience; then those at or below the level and
        # those held from below.
        if line is None or self.expected_held:
            matters = np.ones(len(r), dtype=bool)
        else:
            matters = (r < self.floors) | (r < line + CUT_TOL)
        fresh = np.zeros(len(r), dtype=bool)
        fresh[entered] = True
        added = len(entered)
        if m.curves is not None and (self.goal_measure == "expected" or self.expected_rows):
            added += m.curves.cut_tangents(x, u_hat, pool_column,
                                           (ev.supply, ev.shelter, ev.economic), CUT_TOL)
        if self.cvar_groups:
            added += self._cvar_rows(r, u_hat, x, pool_column)
        added += self._share_cuts(ev, x, u_hat, matters, fresh)
        if m.groups and (self.goal_measure == "expected" or self.expected_rows):
            added += self._group_cuts(ev, first, x, r)
        return added

    def _level_line(self, x: np.ndarray, level_col: np.ndarray | None,
                    level: np.ndarray | None) -> np.ndarray | None:
        """The master's level at x for each scenario in it (t * weight; -inf elsewhere), or
        None when the stage has no level."""
        if level_col is None or level is None:
            return None
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(level), float(x[level_col[0]]) * level, -np.inf)

    def _assumed(self, x: np.ndarray, line: np.ndarray | None) -> np.ndarray:
        """What the master assumes of each scenario's R_s: its floor from the held stages,
        min_cost's target, the master's level and a held CVaR's eta."""
        m = self.master
        threshold = self.floors.copy()
        if m.target is not None:
            threshold = np.maximum(threshold, m.target - FEASIBILITY_TOL)
        if line is not None:
            threshold = np.maximum(threshold, line - CUT_TOL)
        if self.cvar is not None and self.goal_measure != "cvar":
            # A held CVaR: a scenario below its eta would lower it.
            on = self.cvar.coef > 0
            threshold[on] = np.maximum(threshold[on], float(x[self.cvar.eta]) - CUT_TOL)
        return threshold

    def _admit(self, ev: Evaluation, r: np.ndarray, threshold: np.ndarray,
               u_hat: np.ndarray) -> np.ndarray:
        """On curves, the plan's cuts become pieces of them; in a lazy master, the
        scenarios furthest below ``threshold`` enter (:data:`ACTIVATE` at most). Returns
        the scenarios that entered."""
        m = self.master
        entered = np.zeros(0, dtype=np.int64)
        if m.curves is not None:
            # No scenario enters: the plan's cuts become pieces of the curves.
            assert ev.grad_stock is not None and ev.grad_capacity is not None
            m.curves.add_point(ev.supply, ev.shelter, ev.grad_stock, ev.grad_capacity, u_hat)
        elif m.lazy:
            below = np.flatnonzero(~m.active & (r < threshold))
            if len(below):
                worst = np.argsort(r[below] - threshold[below], kind="stable")[:ACTIVATE]
                entered = self._enter(below[worst])
        return entered

    def _share_cuts(self, ev: Evaluation, x: np.ndarray, u_hat: np.ndarray,
                    matters: np.ndarray, fresh: np.ndarray) -> int:
        """Supply and shelter cuts at the plan for the scenarios just entered (``fresh``)
        and the held ones that can matter whose share the master over-estimates."""
        m = self.master
        assert ev.grad_stock is not None and ev.grad_capacity is not None
        added = 0
        for cols, exact, grad, offset in (
                (m.sup, ev.supply, ev.grad_stock, 0),
                (m.sh, ev.shelter, ev.grad_capacity, m.DK)):
            over = fresh | (matters & m.active & (x[cols] > exact + CUT_TOL))
            idx = np.flatnonzero(over)
            if not len(idx):
                continue
            full = np.zeros((len(idx), len(u_hat)))
            full[:, offset:offset + grad.shape[1]] = grad[idx]
            m.add_cuts(cols[idx], exact[idx], full, u_hat)
            added += len(idx)
        return added

    def _group_cuts(self, ev: Evaluation, first: FirstStage, x: np.ndarray,
                    r: np.ndarray) -> int:
        """The plan kept for the groups, and its cut on each group the master
        over-estimates (or that is new since the master's solve)."""
        m = self.master
        key = m.keep_point(ev, first)
        assert key is not None
        p = self.instance.probabilities
        added = 0
        for group in m.groups:
            known = group.col < len(x)
            exact_value = float(p[group.members] @ r[group.members]) / group.mass
            if (not known or x[group.col] > exact_value + CUT_TOL) and \
                    m.group_cut(group, key):
                added += 1
        return added

    def _cvar_rows(self, r: np.ndarray, u_hat: np.ndarray, x: np.ndarray,
                   pool_column: float) -> int:
        """Rows under each CVaR group's shortfall at this plan (exact R_s ``r``), at the
        master's eta and at the plan's own best eta:
        z_g >= sum_{s in A} p_s (eta - sum_k w_k piece_ks(u, y, pool)), A the members below
        eta here, piece_ks each share's lowest piece here (Curves.pieces). Valid for every
        plan (each piece bounds its share, and (eta - R_s)^+ >= eta - R_s), exact here."""
        m, cv = self.master, self.cvar
        assert m.curves is not None and cv is not None
        p, w = self.instance.probabilities, self.instance.weights
        # Each scenario's R_s bound: its shares' lowest pieces here, weighted.
        resilience = m.curves.pieces(SUPPLY, u_hat, x, pool_column).scaled(w.supply)
        for kind, weight in ((SHELTER, w.shelter), (ECONOMIC, w.economic)):
            resilience.add(m.curves.pieces(kind, u_hat, x, pool_column), weight)
        # The plan's own best eta: its value at risk (the lowest R_s at which the
        # probability below reaches 1 - alpha).
        order = np.argsort(r, kind="stable")
        reach = np.searchsorted(np.cumsum(p[order]), 1 - self.instance.objective.alpha - 1e-12)
        at_risk = float(r[order[min(reach, len(r) - 1)]])
        # At the plan's own value at risk once per plan (a plan the master returns again
        # brings nothing new there).
        key = np.concatenate([u_hat, [pool_column], x[m.opening_cols]]).round(9).tobytes()
        etas = [(float(x[cv.eta]), True)]
        if key not in self.cvar_plans:
            self.cvar_plans.add(key)
            etas.append((at_risk, False))
        added = 0
        for eta, check in etas:
            rows = []
            for col, members in self.cvar_groups:
                act = members[r[members] < eta]
                if not len(act):
                    continue
                short = float(p[act] @ (eta - r[act]))
                if check and x[col] >= short - CUT_TOL:
                    continue
                dense, constant = m.curves.affine(resilience.take(act), p[act],
                                                  m.opening_cols)
                dense[col] += 1.0
                dense[cv.eta] -= float(p[act].sum())
                nz = np.flatnonzero(dense)
                rows.append((-constant, INF, list(map(int, nz)), list(dense[nz])))
            m.add_rows(rows)
            m.cuts += len(rows)
            added += len(rows)
        return added

    def _record(self, goal: Goal, kind: str, bound: float, best: float | None,
                gap: float | None, master_seconds: float, evaluation_seconds: float,
                added: int, master_gap: float | None = None) -> None:
        self.iteration += 1
        elapsed = time.monotonic() - self.options.started
        entry = {"stage": goal.name, "iteration": self.iteration,
                 "master": kind, "master_gap": master_gap, "cuts_added": added,
                 "cuts": self.master.cuts,
                 "bound": None if not math.isfinite(bound) else bound,
                 "incumbent": best, "gap": gap, "seconds": round(elapsed, 3),
                 "master_seconds": round(master_seconds, 3),
                 "evaluation_seconds": round(evaluation_seconds, 3)}
        self.progress.append(entry)
        self.log(f"decomposition {self.iteration} ({goal.name}, {entry['master']}): bound "
                 f"{_fmt(entry['bound'])}, incumbent {_fmt(best)}, gap "
                 f"{_gap_text(gap, best)}, {added} cuts added, "
                 f"{self.master.cuts} in all ({elapsed:.1f} s)")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _gap_text(gap: float | None, incumbent: float | None) -> str:
    """The relative gap for the log; none while the incumbent is 0 (the do-nothing plan),
    where a gap relative to nothing reads as billions of percent."""
    if gap is None or incumbent is None or abs(incumbent) < 1e-9:
        return "-"
    return f"{gap:.3%}"


def _outcomes(instance: Instance, ev: Evaluation) -> list[ScenarioOutcome]:
    assert ev.unmet_need is not None and ev.unmet_evacuees is not None
    r = ev.resilience(instance)
    return [ScenarioOutcome(supply=float(ev.supply[s]), shelter=float(ev.shelter[s]),
                            economic=float(ev.economic[s]), resilience=float(r[s]),
                            unmet_need=ev.unmet_need[s], unmet_evacuees=ev.unmet_evacuees[s])
            for s in range(len(instance.scenarios))]


def solve_decomposition(instance: Instance, options: SolveOptions | None = None) -> Solution:
    """Solve ``instance`` by multi-cut Benders (module docstring), every stage of
    ``optimizer.stages``; same result contract as :func:`optimizer.solvers.extensive.solve`.

    Raises
    ------
    InfeasibleError
        When no plan exists (or none was found within the time limit).
    """
    options = options or SolveOptions()
    prove_infeasible(instance)
    log = options.log or (lambda _msg: None)
    S = len(instance.scenarios)
    with open_executor(options.workers, options.scheduler, scenarios=S,
                       small=SMALL) as executor:
        log(f"decomposition over {S} scenarios; evaluation: {executor.describe()}")
        evaluator = Evaluator(instance, executor)
        try:
            return _solve(instance, options, evaluator, log)
        finally:
            evaluator.close()


def _solve(instance: Instance, options: SolveOptions, evaluator: Evaluator,
           log: Callable[[str], None]) -> Solution:
    """Every stage of the sequence on one master, then the incumbent in full detail."""
    kind = instance.objective.kind
    target = float(instance.objective.target or 0.0) if kind is ObjectiveKind.MIN_COST else None
    t0 = time.monotonic()
    # The first round builds every scenario's LP; later plans are solved hot from its basis.
    ceiling = evaluator(FirstStage.ceiling(instance), coverage=True)
    ceil = ceiling.resilience(instance)
    setup_seconds = time.monotonic() - t0
    if target is not None and ceil.min() < target - FEASIBILITY_TOL:
        raise InfeasibleError(_unreachable(instance, ceil, target))
    master = Master(instance, options, ceiling)
    run = _Benders(instance, options, master, evaluator, log)
    if target is not None:
        master.set_target(target)
        run.floors[:] = target
    incumbent = _start(instance, options, evaluator, master, target)
    master.hold_every_scenario_unless_curved()
    size = master.size()
    log(f"decomposition master: {size['variables']:,} variables, "
        f"{size['constraints']:,} constraints, {master.cuts:,} cuts "
        f"({time.monotonic() - t0:.2f} s with the ceiling of every scenario)")

    # From here a plan may exist: a stop (Ctrl-C, SIGTERM) ends the stage at its incumbent,
    # which is kept, verified and written (optimizer.stopping).
    stopping.defer()
    sequence = Sequence(instance, ceil, options.mip_gap)
    staged = _run_stages(run, sequence, ceil, incumbent, target)
    return _finish(run, sequence, ceil, staged, setup_seconds)


def _unreachable(instance: Instance, ceil: np.ndarray, target: float) -> str:
    """Why min_cost's target cannot be met: the scenario whose ceiling is below it."""
    low = int(np.argmin(ceil))
    return (f"scenario {instance.scenarios[low].id!r} reaches at most {ceil[low]:.6g} even "
            "with every depot open and full, every shelter open with every module and the "
            f"largest pool, below the worst-case target {target:g}")


def _start(instance: Instance, options: SolveOptions, evaluator: Evaluator, master: Master,
           target: float | None) -> _Incumbent | None:
    """The first incumbent: the do-nothing plan (or the given start) where it is feasible.
    Its cuts, steep at an empty plan, are the master's first view of every scenario."""
    start = options.start
    if start is None and instance.policy.shelter_redundancy == 0:
        start = Plan.nothing(instance)
    if start is not None and plan_violations(instance, start):
        start = None
    if start is None:
        return None
    first = FirstStage.of(instance, start)
    ev = evaluator(first, gradients=True)
    r = ev.resilience(instance)
    master.remember_start(ev, first)
    if target is None or r.min() >= target - FEASIBILITY_TOL:
        return _Incumbent(start, r, plan_cost(instance, start).total)
    return None


@dataclass
class _Staged:
    """What the stages leave: the incumbent, the primary stage's bound, each stage solved
    (and its value), and those left unproven or skipped."""

    incumbent: _Incumbent | None
    primary_bound: float | None
    stages: list[Stage] = field(default_factory=list)
    done: list[tuple[Goal, float]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _run_stages(run: _Benders, sequence: Sequence, ceil: np.ndarray,
                incumbent: _Incumbent | None, target: float | None) -> _Staged:
    """The stages in turn, each held once solved. After one left unproven, a stop or the
    time limit, the rest are skipped (the sequence still reads their values off the
    incumbent, to know which stage follows)."""
    instance, options = run.instance, run.options
    goal: Goal | None = sequence.first()
    assert goal is not None
    # Until the primary stage bounds itself, its value at the ceilings does: every R_s is
    # at most its ceiling, and each resilience measure grows with every R_s.
    staged = _Staged(incumbent, 0.0 if goal.measure == "cost" else goal.value(
        instance, ceil, 0.0, ceil))
    while goal is not None:
        run.interrupted = run.interrupted or stopping.requested()
        if staged.unfinished or run.interrupted or options.remaining() == 0.0:
            staged.skipped.append(goal.name)
            value = None if staged.incumbent is None else goal.value(
                instance, staged.incumbent.resilience, staged.incumbent.cost, ceil)
            goal = sequence.next(goal, value) if value is not None else None
            continue
        goal = _run_stage(run, sequence, ceil, goal, staged, target)
    return staged


def _run_stage(run: _Benders, sequence: Sequence, ceil: np.ndarray, goal: Goal,
               staged: _Staged, target: float | None) -> Goal | None:
    """One stage solved and recorded in ``staged``; the stage that follows it (with this
    one held from here), if any."""
    instance = run.instance
    status, bound, staged.incumbent, seconds = run.stage(goal, staged.incumbent, target)
    if staged.incumbent is None:
        if run.interrupted:
            raise KeyboardInterrupt
        raise InfeasibleError(no_plan_in_time("the decomposition"))
    value = goal.value(instance, staged.incumbent.resilience, staged.incumbent.cost, ceil)
    if goal.name == "objective" and bound is not None:
        staged.primary_bound = bound
    staged.stages.append(Stage(goal.name, status.value, value, seconds))
    staged.done.append((goal, value))
    run.log(f"{goal.name}: {value:.6g} ({status.value}, {seconds:.2f} s)")
    if status is not Status.OPTIMAL:
        staged.unfinished.append(goal.name)
    following = sequence.next(goal, value)
    if following is not None:
        run.hold(goal, value)
    return following


def _finish(run: _Benders, sequence: Sequence, ceil: np.ndarray, staged: _Staged,
            setup_seconds: float) -> Solution:
    """The incumbent evaluated in full (every scenario's detail), its status settled
    against the primary stage's bound, as the route's :class:`Solution`."""
    instance, options, master, evaluator = run.instance, run.options, run.master, run.evaluate
    incumbent = staged.incumbent
    if incumbent is None:
        if run.interrupted:
            raise KeyboardInterrupt
        raise InfeasibleError(no_plan_in_time("the decomposition"))
    run.interrupted = run.interrupted or stopping.requested()
    t0 = time.monotonic()
    detail = evaluator(FirstStage.of(instance, incumbent.plan), detail=True)
    recourse_seconds = time.monotonic() - t0
    outcomes = _outcomes(instance, detail)
    value = final_value(instance, incumbent.plan, outcomes, ceil)
    status, bound, gap = settle(instance.objective.kind, staged.primary_bound, value,
                                options.mip_gap, master.money_scale, staged.unfinished,
                                staged.skipped,
                                relative_slack_scale([o.resilience for o in outcomes], ceil))
    stages = [*staged.stages, Stage("recourse", Status.OPTIMAL.value, None, recourse_seconds)]
    message = stage_message(status, staged.unfinished, run.interrupted, staged.skipped,
                            run.timed_out or options.remaining() == 0.0,
                            options.mip_gap) + (
        f" (decomposition: {run.iteration:,} iterations, {master.cuts:,} cuts over "
        f"{len(instance.scenarios):,} scenarios)")
    run.log(f"decomposition done: {_fmt(value)} ({status.value}, gap "
            f"{'-' if gap is None else f'{gap:.3%}'}), "
            f"{master.cuts} cuts, {evaluator.rounds} evaluation rounds in "
            f"{evaluator.seconds:.1f} s")
    solve_seconds = sum(st.seconds for st in stages) + setup_seconds
    return Solution(
        status=status, message=message, plan=incumbent.plan,
        objective_value=value, bound=bound, gap=gap,
        outcomes=outcomes, solver_version=version(master.highs),
        build_seconds=master.build_seconds, handoff_seconds=0.0,
        solve_seconds=solve_seconds, nodes=master.nodes, iterations=master.iterations,
        stages=tuple(stages), size=master.size(), method="decomposition",
        progress=tuple(run.progress), interrupted=run.interrupted, ceilings=ceil,
        pinned=tuple(int(s) for s in sequence.pinned_scenarios),
        decided=explain(instance, ceil, staged.done, sequence.levels),
    )


def solver(name: str) -> HighsRoute:
    """This route, for the registry (:mod:`optimizer.solvers.registry`)."""
    assert name == "highs", name
    return HighsRoute("decomposition", solve_decomposition)
