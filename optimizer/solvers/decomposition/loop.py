"""The Benders loop (:class:`Benders`): each stage's objective set on the master, its
masters solved (LP first, then MIP, with repairs where rounding loses a plan), each master's
point evaluated exactly and cut, scenarios entering the master as they come to matter, and
each solved stage held for the next."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from models.objectives import RELATIVE_MIN_CEILING
from optimizer import stopping
from optimizer.errors import InfeasibleError, SolverFailure
from optimizer.evaluation.recourse import Evaluation, FirstStage
from optimizer.highs import INF, Run
from optimizer.instance.data import Instance
from optimizer.plan import Plan
from optimizer.solvers.base import GAP_SLACK, add_level, infeasible_message
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.decomposition import tuning
from optimizer.solvers.decomposition.curves import ECONOMIC, SHELTER, SUPPLY
from optimizer.solvers.decomposition.evaluator import Evaluator
from optimizer.solvers.decomposition.master import Master
from optimizer.solvers.decomposition.search import Incumbent, StageResult, StageSearch
from optimizer.stages import Goal
from optimizer.status import Status


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
class Benders:
    """The Benders loop over one master, a stage at a time (:meth:`stage`), and what it
    keeps from stage to stage: the stages held and their rows, the level and CVaR columns
    as scenarios enter, and the progress of every master."""

    instance: Instance
    options: SolveOptions
    master: Master
    evaluate: Evaluator
    log: Callable[[str], None]
    progress: list[dict[str, Any]] = field(default_factory=list)
    held: list[_Held] = field(default_factory=list)
    incumbent_r: np.ndarray | None = None  # exact R_s of the incumbent at the stage's start
    floors: np.ndarray = field(init=False)  # r_s held from below, per scenario
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
    interrupted: bool = False
    timed_out: bool = False

    def __post_init__(self) -> None:
        self.floors = np.full(len(self.instance.scenarios), -np.inf)

    @property
    def ceilings(self) -> np.ndarray:
        """Every scenario's R_s at the ceiling (the master's bound on it)."""
        return self.master.ceil

    @property
    def iteration(self) -> int:
        """Masters solved so far, over every stage (each has its progress record)."""
        return len(self.progress)

    @property
    def holds_expected_or_cvar(self) -> bool:
        """A solved expected-resilience or CVaR stage is held: every scenario's R_s can
        move it."""
        return bool(self.expected_rows) or (self.cvar is not None and bool(self.cvar.rows))

    @property
    def expected_live(self) -> bool:
        """Expected resilience is in the master: the stage's objective, or held."""
        return self.goal_measure == "expected" or bool(self.expected_rows)

    # ------------------------------------------------------------ objectives

    def objective(self, goal: Goal) -> tuple[int | None, np.ndarray | None]:
        """Set the goal as the master's objective (minimisation form, :attr:`costs`); for a
        level or CVaR, its column and the per-scenario weights ``t * c_s <= r_s``."""
        m = self.master
        self.goal_measure = goal.measure
        level_col: int | None = None
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

    def _level_weights(self, goal: Goal) -> tuple[np.ndarray, np.ndarray]:
        """The scenarios a worst case or relative level reads and their weights c_s in
        ``t * c_s <= r_s``: every scenario (or those the goal names) at 1, or each scenario
        over its ceiling (those with a ceiling above RELATIVE_MIN_CEILING)."""
        if goal.measure == "worst":
            among = (np.arange(len(self.instance.scenarios)) if goal.scenarios is None
                     else goal.scenarios)
            return among, np.ones(len(among))
        among = np.flatnonzero(self.ceilings > RELATIVE_MIN_CEILING)
        return among, self.ceilings[among]

    def _level_objective(self, goal: Goal) -> tuple[int, np.ndarray]:
        """A worst case (over all scenarios or those the goal names) or a relative level
        (each scenario over its ceiling): a level column t, with ``t * c_s <= r_s`` for
        the scenarios held (the first to enter chosen by :meth:`_enter_first`)."""
        m = self.master
        among, weight = self._level_weights(goal)
        level = np.full(len(self.instance.scenarios), np.inf)
        level[among] = weight
        self._enter_first(among, tuning.ACTIVATE)
        held = m.active[among]
        t = add_level(m.highs, m.r[among[held]], weight[held])
        self.levels.append((t, level))
        self.costs = {t: -1.0}
        return t, level

    def _cvar_objective(self) -> tuple[int, np.ndarray]:
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
            self._enter_first(on, max(tuning.ACTIVATE, math.ceil((1 - alpha) * len(on))))
            self._add_shortfalls(np.flatnonzero(m.active & (p > 0)))
        level = np.full(S, np.inf)
        level[on] = 1.0
        return eta, level

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
            self._add_term("cvar", cv.rows, int(u), float(cv.coef[s]))

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
            self._add_term("expected", self.expected_rows, int(m.r[s]), -float(p[s]))
        if not self.expected_live:
            return idx  # they leave their groups when expected resilience enters
        for group in m.regroup(on):
            self._add_term("expected", self.expected_rows, group.col, -group.mass)
        return idx

    def _add_term(self, measure: str, rows: list[int], col: int, coef: float) -> None:
        """A new column's term in ``measure``: in the objective if that is the stage's,
        and in each held row over it."""
        if self.goal_measure == measure:
            self._set_cost(col, coef)
        for row in rows:
            self.master.highs.changeCoeff(row, col, coef)

    def hold(self, goal: Goal, value: float) -> None:
        """Keep a solved stage at the value its incumbent reaches."""
        self.held.append(_Held(goal, value))
        m = self.master
        minimised = goal.minimised(value, m.money_scale)
        row = int(m.highs.getNumRow())
        m.add_rows([(-INF, minimised, list(self.costs), list(self.costs.values()))])
        if goal.measure in ("worst", "relative"):
            among, weight = self._level_weights(goal)
            self.floors[among] = np.maximum(self.floors[among],
                                            value * weight - tuning.ADMIT_TOL)
        elif goal.measure == "expected":
            self.expected_rows.append(row)
        elif goal.measure == "cvar":
            assert self.cvar is not None
            self.cvar.rows.append(row)

    def _slack(self, goal: Goal, value: float) -> float:
        """How far (user units) a plan may fall short of a held stage's value."""
        scale = goal.unit(self.master.money_scale)
        return max(tuning.ADMIT_TOL * scale,
                   tuning.ADMIT_GAP_SHARE * self.options.mip_gap * abs(value))

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

    def set_target(self, target: float) -> None:
        """min_cost: every R_s at least ``target``, in the master and held from below."""
        self.master.set_target(target)
        self.floors[:] = target

    def stage(self, goal: Goal, incumbent: Incumbent | None) -> StageResult:
        """Solve one stage, from the incumbent of the stages before.

        LP masters first (:meth:`_after_lp_master`), then MIP masters with stock bought
        in fractions (:meth:`Master.relax_stock`) and whole units when that matters
        (:meth:`_after_mip_master`), each master's point evaluated and cut (:meth:`_cut`),
        until the incumbent meets the bound within the gap or a limit stops the stage."""
        started = time.monotonic()
        m = self.master
        self.incumbent_r = None if incumbent is None else incumbent.resilience
        level_col, level = self.objective(goal)
        search = self._search(goal, incumbent, level_col, level)
        m.relax_stock(tuning.RELAX_STOCK)
        m.relax(True)
        try:
            while self._iterate(search):
                pass
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            m.relax_stock(False)
            m.relax(False)
        bound = search.bound
        if search.status is Status.OPTIMAL and search.best is not None:
            bound = max(bound, search.best) if goal.maximise else min(bound, search.best)
        return StageResult(search.status, None if not math.isfinite(bound) else bound,
                           search.incumbent, search.best, time.monotonic() - started)

    def _search(self, goal: Goal, incumbent: Incumbent | None, level_col: int | None,
                level: np.ndarray | None) -> StageSearch:
        """The stage's search, from the incumbent of the stages before (``level_col`` and
        ``level``: :meth:`objective`'s)."""
        # Every MIP master is solved to the stage's gap, from the first: measured side by
        # side at 200 x 1,000, a master at 1e-4 cost about what one at 1% did (15-60 s),
        # while masters at 1% needed more of them (cvar's objective stage: 295 s at 1%
        # first, 108 s at 1e-4; benchmarks/RESULTS.md, "Every stage proven at 200 x 1,000").
        # An earlier master, without coverage rows or continuous stock, cost 30-80 s at
        # 1e-4 against 2-3 s at 1%.
        # The stages after the first hold it with a slack of up to ADMIT_GAP_SHARE of the
        # gap (see _slack), so the first is proven within the rest: the plan returned then
        # meets the gap asked for against the first stage's bound (at 200 x 2,000 a cost
        # tie-break took the expected objective from a 0.0099% gap to 0.0101%, `feasible`).
        wanted = self.options.mip_gap * ((1 - tuning.ADMIT_GAP_SHARE) if goal.name == "objective"
                                         else 1.0)
        scale = goal.unit(self.master.money_scale)
        return StageSearch(goal, self.instance, self.ceilings, self.admissible,
                           self.master.target, wanted, scale, incumbent, level_col, level)

    def _iterate(self, s: StageSearch) -> bool:
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
        done = self._evaluate_master(s, x)
        if done.plan is not None:
            s.consider(done.plan, done.resilience)
        self._record(s.goal, "lp" if s.relaxed else "mip", s.bound, s.best, s.gap(),
                     run.seconds, done.seconds, done.added, None if s.relaxed else s.wanted)
        point = s.point_value(done.at_point, float(x[m.cost_col]) * m.money_scale) if \
            done.plan is not None and m.stock_relaxed else None
        if s.rounding_lost(x, point, m.opening_cols):
            # The master's point beats the incumbent, its plan rounded down does
            # not: buy the stock in whole units for the openings the point chose.
            self._repair(s, x, done.plan)
        return self._carry_on(s, run, value_lp, done)

    def _may_solve_a_master(self, s: StageSearch) -> tuple[bool, float | None]:
        """Whether another master may start (a stop, the clock or the work limit may end
        the stage here), and its time limit (None: none)."""
        if stopping.requested():  # deferred: stop here, keep the incumbent
            self.interrupted = True
            return False, None
        room, time_limit = self._master_time()
        if not room:
            self.timed_out = True
            return False, None
        s.iterations += 1
        if s.iterations > tuning.MAX_STAGE_ITERATIONS:
            self.log(f"decomposition: {s.goal.name}: {tuning.MAX_STAGE_ITERATIONS} masters "
                     "without closing the gap; the plan is the best found")
            return False, None
        return True, time_limit

    def _master_time(self) -> tuple[bool, float | None]:
        """Whether the clock leaves room for a master, and its time limit (None: none).
        Every master is followed by an evaluation round that the clock does not stop: a
        master starts only with time for that round too, and its limit leaves it (the
        solver's deadline already leaves the verification's)."""
        left = self.options.remaining()
        after = self.evaluate.round_seconds()
        if left is not None and left <= after:
            return False, None
        return True, None if left is None else left - after

    def _no_plan(self, s: StageSearch, run: Run) -> None:
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

    def _take_bound(self, s: StageSearch, run: Run, dense: np.ndarray, x: np.ndarray) -> float:
        """The stage's bound tightened by a master's (an LP master's only when solved to
        optimality); returns the master's objective at ``x``."""
        info = self.master.highs.getInfo()
        value_lp = float(dense @ x)
        master_bound = value_lp if s.relaxed else float(info.mip_dual_bound)
        if not math.isfinite(master_bound):
            master_bound = value_lp
        if run.status is Status.OPTIMAL:
            master_bound = min(master_bound, value_lp)
        user_bound = s.goal.to_user(master_bound, self.master.money_scale)
        if run.status is Status.OPTIMAL or not s.relaxed:
            s.bound = min(s.bound, user_bound) if s.goal.maximise else max(s.bound, user_bound)
        return value_lp

    def _evaluate_master(self, s: StageSearch, x: np.ndarray) -> _Round:
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
        added = self._cut(s, ev, r, first, x)
        at_point = r
        if plan is not None and m.stock_relaxed:
            r = self.evaluate(FirstStage.of(inst, plan)).resilience(inst)
        return _Round(plan, r, at_point, added, time.monotonic() - t0)

    def _carry_on(self, s: StageSearch, run: Run, value_lp: float, done: _Round) -> bool:
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
        return self._after_mip_master(s, done.added)

    def _after_lp_master(self, s: StageSearch, value_lp: float, done: _Round) -> None:
        """LP masters end (MIP masters from here) when one adds no cut, after
        :data:`tuning.LP_ITERATIONS`, or when the LP's bound meets its plan's exact value within
        :data:`tuning.LP_GAP`."""
        s.lp_rounds += 1
        lp_value = s.goal.value(self.instance, done.resilience, 0.0, self.ceilings) if \
            s.goal.measure != "cost" else None
        lp_done = done.added == 0 or s.lp_rounds >= tuning.LP_ITERATIONS or (
            lp_value is not None and
            abs(s.goal.to_user(value_lp, self.master.money_scale) - lp_value) <=
            tuning.LP_GAP * max(abs(lp_value), 1e-10))
        if lp_done:
            s.relaxed = False
            self.master.relax(False)

    def _after_mip_master(self, s: StageSearch, added: int) -> bool:
        """After a MIP master solved to the gap that brought no cut: whole units of stock
        from here if they keep the plan from the bound, else the end of the stage (proven
        if the bounds agree up to the master's tolerances)."""
        m = self.master
        if added == 0 and m.stock_relaxed:
            # The master's cuts are exact at its point, but whole units of stock keep its
            # plan short of its bound (the incumbent does not meet it, _carry_on): prove
            # the rest in whole units. Even when the point itself reaches the bound: a
            # tighter master would only return that point again.
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

    def _repair(self, s: StageSearch, x: np.ndarray, start: Plan | None) -> None:
        """Masters with the depots and shelters open at ``x`` fixed and stock in whole
        units, each plan evaluated exactly and offered as the incumbent, until one brings no
        cut (at most :data:`tuning.REPAIR_MASTERS`). Their bounds hold for those openings only, so
        they never move the stage's bound; their cuts are valid everywhere."""
        m, inst = self.master, self.instance
        m.fix_openings(x)
        m.relax_stock(False)
        try:
            for _ in range(tuning.REPAIR_MASTERS):
                room, time_limit = self._master_time()
                if not room or stopping.requested():
                    break
                run = m.solve(s.wanted, time_limit, self.dense(), start)
                if not run.status.has_plan:
                    break
                xr = np.asarray(m.highs.getSolution().col_value)
                plan = m.plan(xr)
                first = FirstStage.of(inst, plan)
                t0 = time.monotonic()
                ev = self.evaluate(first, gradients=True)
                r = ev.resilience(inst)
                added = self._cut(s, ev, r, first, xr)
                best = s.consider(plan, r)
                self._record(s.goal, "repair", math.nan, best, None, run.seconds,
                             time.monotonic() - t0, added, s.wanted)
                if added == 0 or run.interrupted:
                    break
                start = plan
        finally:
            m.fix_openings(None)
            m.relax_stock(True)

    # ------------------------------------------------------------------- cuts

    def _cut(self, s: StageSearch, ev: Evaluation, r: np.ndarray, first: FirstStage,
             x: np.ndarray) -> int:
        """Scenarios that fall below what the master assumes of them enter it (lazy
        master); cuts where the master over-estimates a share of a held scenario that can
        matter, and where it over-estimates a group (``r``: the exact R_s of ``ev``).
        Returns how many rows that added."""
        m = self.master
        line = self._level_line(s, x)
        threshold = self._assumed(x, line)
        u_hat = first.on_hand
        pool_column = first.pool / m.money_scale
        entered = self._admit(ev, r, threshold, u_hat)
        # Cuts where they can move the stage: every scenario unless the stage is a level
        # with nothing held over expected resilience; then those at or below the level and
        # those held from below.
        if line is None or self.holds_expected_or_cvar:
            matters = np.ones(len(r), dtype=bool)
        else:
            matters = (r < self.floors) | (r < line + tuning.CUT_TOL)
        fresh = np.zeros(len(r), dtype=bool)
        fresh[entered] = True
        added = len(entered)
        if m.curves is not None and self.expected_live:
            added += m.curves.cut_tangents(x, u_hat, pool_column,
                                           (ev.supply, ev.shelter, ev.economic), tuning.CUT_TOL)
        if self.cvar_groups:
            added += self._cvar_rows(r, u_hat, x, pool_column)
        added += self._share_cuts(ev, x, u_hat, matters, fresh)
        if m.groups and self.expected_live:
            added += self._group_cuts(ev, first, x, r)
        return added

    def _level_line(self, s: StageSearch, x: np.ndarray) -> np.ndarray | None:
        """The master's level at x for each scenario in it (t * weight; -inf elsewhere), or
        None when the stage has no level."""
        if s.level_col is None or s.level is None:
            return None
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(s.level), float(x[s.level_col]) * s.level, -np.inf)

    def _assumed(self, x: np.ndarray, line: np.ndarray | None) -> np.ndarray:
        """What the master assumes of each scenario's R_s: its floor from the held stages,
        min_cost's target, the master's level and a held CVaR's eta."""
        m = self.master
        threshold = self.floors.copy()
        if m.target is not None:
            threshold = np.maximum(threshold, m.target - tuning.FEASIBILITY_TOL)
        if line is not None:
            threshold = np.maximum(threshold, line - tuning.CUT_TOL)
        if self.cvar is not None and self.goal_measure != "cvar":
            # A held CVaR: a scenario below its eta would lower it.
            on = self.cvar.coef > 0
            threshold[on] = np.maximum(threshold[on], float(x[self.cvar.eta]) - tuning.CUT_TOL)
        return threshold

    def _admit(self, ev: Evaluation, r: np.ndarray, threshold: np.ndarray,
               u_hat: np.ndarray) -> np.ndarray:
        """On curves, the plan's cuts become pieces of them; in a lazy master, the
        scenarios furthest below ``threshold`` enter (:data:`tuning.ACTIVATE` at most). Returns
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
                worst = np.argsort(r[below] - threshold[below], kind="stable")[:tuning.ACTIVATE]
                entered = self._enter(below[worst])
        return entered

    def _share_cuts(self, ev: Evaluation, x: np.ndarray, u_hat: np.ndarray,
                    matters: np.ndarray, fresh: np.ndarray) -> int:
        """Supply and shelter cuts at the plan for the scenarios just entered (``fresh``)
        and the held ones that can matter whose share the master over-estimates."""
        m = self.master
        assert ev.grad_stock is not None and ev.grad_capacity is not None
        chosen = tuple(np.flatnonzero(fresh | (matters & m.active &
                                               (x[cols] > exact + tuning.CUT_TOL)))
                       for cols, exact in ((m.sup, ev.supply), (m.sh, ev.shelter)))
        return m.share_cuts((ev.supply, ev.shelter), (ev.grad_stock, ev.grad_capacity), u_hat,
                            chosen)

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
            if (not known or x[group.col] > exact_value + tuning.CUT_TOL) and \
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
                if check and x[col] >= short - tuning.CUT_TOL:
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
        iteration = self.iteration + 1
        elapsed = time.monotonic() - self.options.started
        entry = {"stage": goal.name, "iteration": iteration,
                 "master": kind, "master_gap": master_gap, "cuts_added": added,
                 "cuts": self.master.cuts,
                 "bound": None if not math.isfinite(bound) else bound,
                 "incumbent": best, "gap": gap, "seconds": round(elapsed, 3),
                 "master_seconds": round(master_seconds, 3),
                 "evaluation_seconds": round(evaluation_seconds, 3)}
        self.progress.append(entry)
        self.log(f"decomposition {iteration} ({goal.name}, {entry['master']}): bound "
                 f"{format_value(entry['bound'])}, incumbent {format_value(best)}, gap "
                 f"{gap_text(gap, best)}, {added} cuts added, "
                 f"{self.master.cuts} in all ({elapsed:.1f} s)")


def format_value(value: float | None) -> str:
    """A value for the log: six significant digits, or '-' for none."""
    return "-" if value is None else f"{value:.6g}"


def gap_text(gap: float | None, incumbent: float | None) -> str:
    """The relative gap for the log; none while the incumbent is 0 (the do-nothing plan),
    where a gap relative to nothing reads as billions of percent."""
    if gap is None or incumbent is None or abs(incumbent) < 1e-9:
        return "-"
    return f"{gap:.3%}"
