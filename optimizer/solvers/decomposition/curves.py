"""Every scenario of a decomposition master for expected resilience or CVaR, none held on its
own: one concave curve per group of alike scenarios and share
(optimizer.solvers.decomposition.master).

Each share of a scenario (supply, shelter, economic) is concave in what a plan puts on hand,
so it lies under its tangent at the do-nothing plan (its start cut), under its ceiling, and
under what the open facilities cover (their coverage, ``Evaluation.cover_supply``):

    share_s <= f_s(t, y) = min(top_s, v_s + c_s t, k_s + b_s . y),   t = a . (u - u_start),

with ``a`` a direction shared by the scenarios whose start cuts touch the same entries of u
(stock per depot and commodity, places per shelter), ``c_s a`` at least the scenario's own
gradient (every plan puts at least the do-nothing plan's stock and places on hand, so
t >= 0 and a steeper slope only over-estimates), and y the open flags. (The economic share
is min(1, pool / loss_s) exactly, t being the pool.) The mean of the f_s over a group is a
concave, piecewise-linear function of (t, y). The master holds it by a column theta (that
mean) and rows that pick one piece of each member's minimum (each such row is valid
everywhere: every piece bounds the share): at the start the line for every member, and the
coverage for every member; then, at each plan the master proposes and the evaluation
prices, the lowest piece of each member there, the cuts of the plans evaluated so far
(:data:`.tuning.CURVE_POINTS`) counted as pieces too. The plan's own cut is exact at the plan, so
each such row is exact there: no scenario has to be held on its own, and the master stays a
relaxation whose bound is a bound. CVaR reads the same pieces (:meth:`Curves.pieces`) to
bound each group's shortfall below its threshold (``loop.Benders._cvar_rows``).

Why: at 200 x 10,000 a master that held every scenario's rows (about 70,000 rows and
950,000 non-zeros) took more than 20 minutes per MIP master; at the plans that matter more
than 90% of the scenarios sit at their ceiling, and a start cut capped by the ceiling and by
coverage is exact for nearly all of the rest. The curves' master has a few rows per group
and per plan evaluated (benchmarks/RESULTS.md, "Curves").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from optimizer.highs import INF
from optimizer.solvers.decomposition import tuning

if TYPE_CHECKING:  # the master owns the HiGHS instance the curves write into
    from optimizer.solvers.decomposition.master import Coverage, Master

SUPPLY, SHELTER, ECONOMIC = 0, 1, 2
# Pieces of a member's minimum; piece FIRST_CUT + k is the cut of the k-th point kept.
TOP, LINE, COVER, FIRST_CUT = 0, 1, 2, 3


@dataclass
class Curve:
    """One group's curve: theta <= F(t, y) / P, F = sum_s p_s f_s(t, y) over its members,
    P their probability."""

    kind: int
    theta: int  # column: the members' mean share
    direction: np.ndarray | None  # (len(u),) a, for supply and shelter curves
    flags: np.ndarray  # master columns of the open flags the members' coverage counts
    members: np.ndarray
    p: np.ndarray
    start: np.ndarray
    slope: np.ndarray
    top: np.ndarray
    base: np.ndarray  # k_s: what facilities that are always open cover (inf: no coverage)
    cover: np.ndarray  # (members, flags) b_s

    @property
    def mass(self) -> float:
        return float(self.p.sum())


@dataclass
class _CurvePoint:
    """An evaluated plan whose cuts are pieces of every member's minimum."""

    u: np.ndarray  # stock and places on hand
    values: tuple[np.ndarray, np.ndarray]  # (S,) exact supply and shelter shares
    grads: tuple[np.ndarray, np.ndarray]  # (S, D*K) and (S, H) their supergradients


@dataclass
class _Forms:
    """Affine forms, one per member: const + cu . u + cy . y + cp * pool_column."""

    const: np.ndarray  # (n,)
    cu: np.ndarray  # (n, len u)
    cy: np.ndarray  # (n, len flags)
    cp: np.ndarray  # (n,)

    def take(self, idx: np.ndarray) -> _Forms:
        return _Forms(self.const[idx], self.cu[idx], self.cy[idx], self.cp[idx])

    def scaled(self, weight: float) -> _Forms:
        return _Forms(weight * self.const, weight * self.cu, weight * self.cy,
                      weight * self.cp)

    def add(self, other: _Forms, weight: float) -> None:
        """self += weight * other (the same members, the same flags)."""
        self.const += weight * other.const
        self.cu += weight * other.cu
        self.cy += weight * other.cy
        self.cp += weight * other.cp


class Curves:
    """Every curve of a master (see the module docstring) and the rows that keep them."""

    def __init__(self, master: Master, start_supply: np.ndarray, start_shelter: np.ndarray,
                 grad_stock: np.ndarray, grad_capacity: np.ndarray, u_start: np.ndarray,
                 weights: tuple[float, float, float]) -> None:
        self.master = m = master
        self.weights = weights
        self.u_start = u_start
        self.curves: list[Curve] = []
        self.points: list[_CurvePoint] = []
        p = m.probabilities
        on = np.flatnonzero(p > 0)
        for kind, start, grad, offset in ((SUPPLY, start_supply, grad_stock, 0),
                                          (SHELTER, start_shelter, grad_capacity, m.DK)):
            coverage = m.coverage(kind)
            low, top = coverage.low, coverage.high
            begin = np.minimum(np.maximum(start, low), top)
            support: dict[bytes, list[int]] = {}
            for s in on:
                support.setdefault((grad[s] > 0).tobytes(), []).append(int(s))
            for members in support.values():
                idx = np.array(members, dtype=np.int64)
                g = grad[idx]
                scale = g.max(axis=1)
                direction = None
                if (scale > 0).any():
                    direction = np.zeros(len(u_start))
                    direction[offset:offset + g.shape[1]] = (
                        g / np.where(scale > 0, scale, 1.0)[:, None]).max(axis=0)
                self._add(kind, direction, idx, begin[idx], np.maximum(scale, 0.0),
                          top[idx], coverage, needs=low[idx] < 1.0)
        # Economic: min(1, pool / loss_s) exactly, t the pool's column (money / scale).
        loss = m.loss
        pool = m.pool_col >= 0
        slope = np.where((loss > 0) & pool, m.money_scale / np.where(loss > 0, loss, 1.0), 0.0)
        top = np.where((loss > 0) & ~pool, 0.0, 1.0)
        begin = np.where(loss > 0, 0.0, 1.0)
        self._add(ECONOMIC, None, on, begin[on], slope[on], top[on], None)

    # ------------------------------------------------------------------ building

    def _add(self, kind: int, direction: np.ndarray | None, members: np.ndarray,
             start: np.ndarray, slope: np.ndarray, top: np.ndarray,
             coverage: Coverage | None, needs: np.ndarray | None = None) -> None:
        m = self.master
        p = m.probabilities[members]
        mass = float(p.sum())
        if not len(members) or mass <= 0:
            return
        if coverage is not None and coverage.cover is not None:
            base = coverage.constant[members]  # facilities that exist: always open
            free = np.flatnonzero(~coverage.fixed)
            b = coverage.cover[members][:, free]
            used = b.any(axis=0)
            columns, b = coverage.flags[free][used].astype(np.int64), b[:, used]
            if needs is not None:  # a share with nothing to serve is 1 whatever is open
                base = np.where(needs, base, np.inf)
        else:
            base = np.full(len(members), np.inf)
            columns, b = np.zeros(0, dtype=np.int64), np.zeros((len(members), 0))
        theta = int(m.add_columns(1, 0.0, float(p @ top) / mass)[0])
        curve = Curve(kind, theta, direction, columns, members, p, start, slope, top, base, b)
        self.curves.append(curve)
        # The first rows: every member on its line, then every member on its coverage.
        self._write(curve, np.full(len(members), LINE))
        if len(columns):
            self._write(curve, np.full(len(members), COVER))

    # ------------------------------------------------------------------ pieces

    def _values(self, curve: Curve, u: np.ndarray, x: np.ndarray, pool_column: float
                ) -> np.ndarray:
        """(pieces, members) every piece's value at the plan (u, the open flags of x,
        pool_column)."""
        members = curve.members
        if curve.direction is not None:
            t = float(curve.direction @ (u - self.u_start))
        else:
            t = pool_column if curve.kind == ECONOMIC else 0.0
        values = [curve.top, curve.start + curve.slope * t,
                  np.where(np.isfinite(curve.base), curve.base + curve.cover @ x[curve.flags],
                           np.inf)]
        if curve.kind != ECONOMIC:
            lo, hi = self._part(curve.kind, len(u))
            for point in self.points:
                values.append(point.values[curve.kind][members] +
                              point.grads[curve.kind][members] @ (u[lo:hi] - point.u[lo:hi]))
        return np.vstack(values)

    def _part(self, kind: int, width: int) -> tuple[int, int]:
        """The entries of u a share of this kind reads: stock (supply) or places."""
        return (0, self.master.DK) if kind == SUPPLY else (self.master.DK, width)

    def _forms(self, curve: Curve, piece: np.ndarray, width: int) -> _Forms:
        """Each member's piece ``piece`` as an affine form (a member without coverage takes
        its line instead)."""
        piece = np.where((piece == COVER) & ~np.isfinite(curve.base), LINE, piece)
        n = len(curve.members)
        out = _Forms(np.zeros(n), np.zeros((n, width)), np.zeros((n, len(curve.flags))),
                     np.zeros(n))
        top, line, cover = piece == TOP, piece == LINE, piece == COVER
        out.const[top] = curve.top[top]
        out.const[line] = curve.start[line]
        if curve.direction is not None:
            out.const[line] -= curve.slope[line] * float(curve.direction @ self.u_start)
            out.cu[line] = curve.slope[line][:, None] * curve.direction[None, :]
        elif curve.kind == ECONOMIC:
            out.cp[line] = curve.slope[line]
        out.const[cover] = curve.base[cover]
        out.cy[cover] = curve.cover[cover]
        if curve.kind != ECONOMIC:
            lo, hi = self._part(curve.kind, width)
            for k, point in enumerate(self.points):
                chosen = piece == FIRST_CUT + k
                if chosen.any():
                    g = point.grads[curve.kind][curve.members[chosen]]
                    out.const[chosen] = point.values[curve.kind][curve.members[chosen]] - \
                        g @ point.u[lo:hi]
                    out.cu[chosen, lo:hi] = g
        return out

    def _lowest(self, curve: Curve, u: np.ndarray, x: np.ndarray, pool_column: float
                ) -> _Forms:
        """Each member's lowest piece at this plan, as an affine form."""
        piece = np.argmin(self._values(curve, u, x, pool_column), axis=0)
        return self._forms(curve, piece, len(u))

    def _write(self, curve: Curve, piece: np.ndarray,
               forms: _Forms | None = None) -> None:
        """theta <= sum_s p_s form_s / P."""
        if forms is None:
            forms = self._forms(curve, piece, len(self.u_start))
        dense, constant = self.affine(forms, curve.p / curve.mass, curve.flags)
        dense = -dense
        dense[curve.theta] += 1.0
        nz = np.flatnonzero(dense)
        self.master.add_rows([(-INF, constant, list(map(int, nz)), list(dense[nz]))])
        self.master.cuts += 1

    def affine(self, forms: _Forms, q: np.ndarray, flags: np.ndarray
               ) -> tuple[np.ndarray, float]:
        """sum_s q_s form_s over the master's columns (u = U c + u0; ``flags`` the columns
        of the forms' cy): its coefficients (every column) and its constant."""
        m = self.master
        cu = q @ forms.cu
        dense = np.zeros(m.num_cols)
        dense[:m.n_first] += np.asarray(m.u_map.T @ cu).ravel()
        # An open flag can be a column of u too (a shelter's places): one entry per column.
        dense[flags] += q @ forms.cy
        if m.pool_col >= 0:
            dense[m.pool_col] += float(q @ forms.cp)
        return dense, float(q @ forms.const) + float(cu @ m.u0)

    # ------------------------------------------------------------------ reading

    def costs(self) -> dict[int, float]:
        """Expected resilience over every scenario, by column (minimised)."""
        return {c.theta: -self.weights[c.kind] * c.mass for c in self.curves}

    def pieces(self, kind: int, u: np.ndarray, x: np.ndarray, pool_column: float) -> _Forms:
        """Every scenario's lowest piece of ``kind`` at this plan, as an affine form over u,
        the master's opening columns and the pool's column (rows of scenarios on no curve
        of ``kind`` are 0). At an evaluated plan the lowest piece is the exact share (its
        own cut is a piece)."""
        m = self.master
        S = len(m.sup)
        out = _Forms(np.zeros(S), np.zeros((S, len(u))), np.zeros((S, len(m.opening_cols))),
                     np.zeros(S))
        where = {int(c): i for i, c in enumerate(m.opening_cols)}
        for curve in self.curves:
            if curve.kind != kind:
                continue
            forms = self._lowest(curve, u, x, pool_column)
            members = curve.members
            out.const[members] = forms.const
            out.cu[members] = forms.cu
            out.cp[members] = forms.cp
            positions = [where[int(c)] for c in curve.flags]
            if positions:
                out.cy[np.ix_(members, positions)] = forms.cy
        return out

    # ------------------------------------------------------------------ changing

    def add_point(self, supply: np.ndarray, shelter: np.ndarray, grad_stock: np.ndarray,
                  grad_capacity: np.ndarray, u: np.ndarray) -> None:
        """An evaluated plan: its cuts become pieces of each member's minimum (the oldest
        point leaves past :data:`.tuning.CURVE_POINTS`; rows already written stay valid)."""
        self.points.append(_CurvePoint(u.copy(), (supply, shelter), (grad_stock, grad_capacity)))
        del self.points[:-tuning.CURVE_POINTS]

    def cut_tangents(self, x: np.ndarray, u: np.ndarray, pool_column: float,
                     exact: tuple[np.ndarray, np.ndarray, np.ndarray], tol: float) -> int:
        """A row on each curve the master's point ``x`` over-states at this evaluated plan
        (exact shares ``exact``, by kind), each member on its lowest piece there among its
        ceiling, start line, coverage and the cuts of the points kept: exact at this plan
        (the plan's own cut is a piece; the economic share is its line or its ceiling), and
        valid everywhere. Returns how many were added."""
        added = 0
        for curve in self.curves:
            mean = float(curve.p @ exact[curve.kind][curve.members]) / curve.mass
            if x[curve.theta] > mean + tol:
                self._write(curve, np.zeros(0), self._lowest(curve, u, x, pool_column))
                added += 1
        return added
