"""The decomposition's master (:class:`Master`): the first stage, each scenario's share
columns, and the cuts and rows that bound them, in one HiGHS instance. From
:data:`tuning.LAZY_FROM` scenarios it holds a scenario on its own only once it matters, the
others in groups (:meth:`Master.regroup`) or on curves
(:mod:`optimizer.solvers.decomposition.curves`)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

from models import limits
from models.direct import DirectModel, assemble
from models.resilience import ModelData, prepare
from optimizer.evaluation.recourse import Evaluation, FirstStage
from optimizer.highs import INF, Run, new_highs, pass_model, run_highs
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.plan import Plan
from optimizer.solvers.base import Layout, give_start, plan_from_columns
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.decomposition import tuning
from optimizer.solvers.decomposition.curves import Curves

# HiGHS's primal heuristics off (unless tuning.MASTER_HEURISTICS).
_NO_HEURISTICS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_rins": False,
                  "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
                  "mip_heuristic_run_feasibility_jump": False}


@dataclass
class _GroupPoint:
    """An evaluated first stage, kept for the groups' cuts."""

    u: np.ndarray  # stock and places on hand
    pool: float
    resilience: np.ndarray  # (S,) exact R_s
    grad: np.ndarray  # (S, len(u)) supergradient of R_s in u (weights applied)
    pool_slope: np.ndarray  # (S,) of R_s in the pool (money), at this pool


@dataclass
class Coverage:
    """One share (supply or shelter) of every scenario: the bounds of its column and what
    each facility covers of it (:meth:`Master.coverage`)."""

    low: np.ndarray  # (S,) the column's lower bound (1: nothing to serve)
    high: np.ndarray  # (S,) its upper bound (the ceiling's share, at most 1)
    # What each depot (shelter) covers of each scenario's share, open and full, and its open
    # flag's column (-1: it exists, always open); None when no facility covers anything.
    cover: np.ndarray | None
    flags: np.ndarray
    fixed: np.ndarray  # (facilities,) always open
    constant: np.ndarray  # (S,) what the facilities always open cover


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
        # The first stage alone: the instance with no scenario (what stock is useful still
        # bounded by every scenario).
        md = prepare(dataclasses.replace(instance, scenarios=()), limits_from=instance)
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
        self._coverage = tuple(self._share_coverage(part, cover) for part, cover in
                               enumerate((ceiling.cover_supply, ceiling.cover_shelter)))

    def _share_coverage(self, part: int, cover: np.ndarray | None) -> Coverage:
        S = len(self.sup)
        flags = self._flags[part]
        fixed = flags < 0
        if cover is not None and cover.shape[1] == 0:
            cover = None
        constant = np.zeros(S) if cover is None else cover[:, fixed].sum(axis=1)
        return Coverage(self.share_lower[part * S:(part + 1) * S],
                        self.share_upper[part * S:(part + 1) * S], cover, flags, fixed, constant)

    def coverage(self, part: int) -> Coverage:
        """The supply (``part`` 0) or shelter (1) share of every scenario: its column's
        bounds and what the facilities cover of it."""
        return self._coverage[part]

    def _hold_no_scenario_yet(self) -> None:
        """No scenario held on its own yet: below :data:`tuning.LAZY_FROM` scenarios every one
        enters at the end of the build; from it, each as it matters, the others in groups
        or on curves."""
        inst = self.instance
        self.active = np.zeros(len(inst.scenarios), dtype=bool)
        self.lazy = len(inst.scenarios) >= tuning.LAZY_FROM
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
        self.points: dict[int, _GroupPoint] = {}
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
            self._start_cuts(idx)
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
        u_hat = first.on_hand
        self._start = (ev.supply, ev.shelter, ev.grad_stock, ev.grad_capacity, u_hat)
        self._start_cuts(np.flatnonzero(self.active))
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
        as below tuning.LAZY_FROM."""
        if self._wants_curves and self.curves is None:
            self.activate(np.arange(len(self.sup)))

    def _start_cuts(self, idx: np.ndarray) -> None:
        """The start plan's cuts for the scenarios ``idx`` (those its gradient reaches)."""
        assert self._start is not None
        sup, sh, g_stock, g_cap, u_hat = self._start
        self.share_cuts((sup, sh), (g_stock, g_cap), u_hat,
                        tuple(idx[np.abs(g[idx]).sum(axis=1) > 0] for g in (g_stock, g_cap)))

    def share_cuts(self, exact: tuple[np.ndarray, np.ndarray],
                   grads: tuple[np.ndarray, np.ndarray], u_hat: np.ndarray,
                   chosen: tuple[np.ndarray, ...]) -> int:
        """Supply and shelter cuts at a plan (``u_hat`` on hand): for the scenarios
        ``chosen[0]``, sup_s <= supply_s + g_s . (stock - stock^), with ``exact`` the plan's
        shares and ``grads`` their supergradients (stock, places); for ``chosen[1]`` the
        same of sh_s in places. Returns how many cuts that added."""
        added = 0
        for cols, value, grad, offset, idx in zip((self.sup, self.sh), exact, grads,
                                                  (0, self.DK), chosen, strict=True):
            if not len(idx):
                continue
            full = np.zeros((len(idx), len(u_hat)))
            full[:, offset:offset + grad.shape[1]] = grad[idx]
            self.add_cuts(cols[idx], value[idx], full, u_hat)
            added += len(idx)
        return added

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
        u = first.on_hand
        for key, kept in self.points.items():
            # The same point again (the master returned its plan again, its cuts met within
            # HiGHS's tolerances): its cuts are already there.
            if kept.pool == first.pool and np.array_equal(kept.u, u):
                return key
        point = _GroupPoint(u, first.pool, ev.resilience(self.instance), grad, w.economic * slope)
        key = self._next_point
        self._next_point += 1
        self.points[key] = point
        while len(self.points) > tuning.GROUP_POINTS:
            del self.points[min(self.points)]
        return key

    def _make_groups(self) -> None:
        on = np.flatnonzero(self.probabilities > 0)
        if not len(on):
            return
        for members in np.array_split(on, min(tuning.GROUPS, len(on))):
            self.groups.append(self._new_group(members, []))

    def _new_group(self, members: np.ndarray, points: list[int]) -> _Group:
        """A column over ``members``' R_s averaged by probability: at most their ceilings, at
        most what the facilities that could be open cover (the coverage rows summed), and
        the cuts at ``points``."""
        mass = float(self.probabilities[members].sum())
        p = self.probabilities[members] / mass
        col = int(self.add_columns(1, 0.0, min(1.0, float(p @ self.ceil[members])))[0])
        w = self.instance.weights
        index: dict[int, float] = {col: 1.0}
        bound = 0.0
        for part, weight in ((0, w.supply), (1, w.shelter)):
            cov = self.coverage(part)
            low, high = cov.low[members], cov.high[members]
            if cov.cover is None:
                bound += weight * float(p @ high)
                continue
            c = cov.cover[members]
            constant = cov.constant[members]
            row = (low < 1.0) & (constant < high)
            bound += weight * float(p[~row] @ high[~row] + p[row] @ constant[row])
            free = np.flatnonzero(~cov.fixed)
            coefs = (p[row] * weight) @ c[row][:, free]
            for j, a in zip(cov.flags[free], coefs, strict=True):
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
        for part, share_cols in enumerate((self.sup, self.sh)):
            cov = self.coverage(part)
            cover, flags, low, high = cov.cover, cov.flags, cov.low, cov.high
            if cover is None:
                continue
            free = np.flatnonzero(~cov.fixed)  # existing facilities: always open, a constant
            rows = []
            for s in idx:
                constant = float(cov.constant[s])
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
        :meth:`optimizer.solvers.decomposition.loop.Benders._after_mip_master`), so every
        stage's answer stays exact."""
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
    absolute gap of at most 1e-7 and, unless :data:`tuning.MASTER_HEURISTICS`, no primal
    heuristics."""
    h = new_highs(options)
    h.setOptionValue("mip_abs_gap", min(1e-7, options.mip_gap))
    if not tuning.MASTER_HEURISTICS:
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
