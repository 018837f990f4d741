"""Every scenario of a decomposition master for expected resilience or CVaR, none held on its
own: one concave curve per group of alike scenarios and share (optimizer.decomposition).

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
mean), a column t, and rows that pick one piece of each member's minimum (each such row is
valid everywhere: every piece bounds the share): at the start the line for every member, and
the coverage for every member; then, at each plan the master proposes and the evaluation
prices, the lowest piece of each member there, the cuts of the plans evaluated so far
(:data:`KEPT_POINTS`) counted as pieces too. The plan's own cut is exact at the plan, so
each such row is exact there: no scenario has to be held on its own, and the master stays a
relaxation whose bound is a bound. CVaR reads the same pieces (:meth:`Curves.pieces`) to
bound each group's shortfall below its threshold (``_Benders._cvar_rows``).

Why: at 200 x 10,000 a master that held every scenario's rows (about 70,000 rows and
950,000 non-zeros) took more than 20 minutes per MIP master; at the plans that matter more
than 90% of the scenarios sit at their ceiling, and a start cut capped by the ceiling and by
coverage is exact for nearly all of the rest. The curves' master has a few rows per group
and per plan evaluated (benchmarks/RESULTS.md, "Curves").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from optimizer.highs_common import INF

if TYPE_CHECKING:  # the master owns the HiGHS instance the curves write into
    from optimizer.decomposition import Master

SUPPLY, SHELTER, ECONOMIC = 0, 1, 2
# Pieces of a member's minimum.
TOP, LINE, COVER = 0, 1, 2
# A tangent at a point this close (in t and y) to one the curve has is not added again.
SAME_POINT = 1e-9
# Evaluated plans whose cuts stay pieces of the members' minimum (each holds a gradient
# per scenario: at 10,000 scenarios and 60 stock and place entries, about 5 MB).
KEPT_POINTS = 40


@dataclass
class _Row:
    """A row over a curve: each member on the piece it sits on at (t^, y^), or every member
    on one piece (``forced``)."""

    row: int
    t: float
    y: np.ndarray
    forced: int | None = None


@dataclass
class Curve:
    """One group's curve: theta <= F(t, y) / P, F = sum_s p_s f_s(t, y) over the members
    not held, P their probability."""

    kind: int
    theta: int  # column: the members' mean share
    t: int  # column of t (the pool's column for the economic curve; -1: t is always 0)
    direction: np.ndarray | None  # (len(u),) a, for supply and shelter curves
    flags: np.ndarray  # master columns of the open flags the members' coverage counts
    members: np.ndarray
    p: np.ndarray
    start: np.ndarray
    slope: np.ndarray
    top: np.ndarray
    base: np.ndarray  # k_s: what facilities that are always open cover (inf: no coverage)
    cover: np.ndarray  # (members, flags) b_s
    rows: list[_Row] = field(default_factory=list)

    @property
    def mass(self) -> float:
        return float(self.p.sum())

    def bounds(self, t: float, y: np.ndarray) -> np.ndarray:
        """Each member's f_s(t, y)."""
        return np.minimum(np.minimum(self.top, self.start + self.slope * t),
                          self.base + self.cover @ y)

    def row(self, t: float, y: np.ndarray, forced: int | None) -> tuple[float, np.ndarray,
                                                                         float]:
        """theta - g_t t - g_y . y <= rhs in mean units: (g_t, g_y, rhs)."""
        if forced is None:
            pieces = np.vstack([self.top, self.start + self.slope * t,
                                self.base + self.cover @ y])
            piece = np.argmin(pieces, axis=0)
        else:
            piece = np.full(len(self.members), forced)
        # No coverage (nothing needed, or no facility counted): the line instead.
        piece = np.where((piece == COVER) & ~np.isfinite(self.base), LINE, piece)
        mass = self.mass
        p = self.p
        line, cover, top = piece == LINE, piece == COVER, piece == TOP
        g_t = float(p[line] @ self.slope[line]) / mass
        g_y = (p[cover] @ self.cover[cover]) / mass
        rhs = float(p[top] @ self.top[top] + p[line] @ self.start[line] +
                    p[cover] @ self.base[cover]) / mass
        return g_t, g_y, rhs


@dataclass
class _Point:
    """An evaluated plan whose cuts are pieces of every member's minimum (see
    :meth:`Curves.tangents`)."""

    u: np.ndarray  # stock and places on hand
    values: tuple[np.ndarray, np.ndarray]  # (S,) exact supply and shelter shares
    grads: tuple[np.ndarray, np.ndarray]  # (S, D*K) and (S, H) their supergradients


class Curves:
    """Every curve of a master (see the module docstring) and the rows that keep them."""

    def __init__(self, master: Master, start_supply: np.ndarray, start_shelter: np.ndarray,
                 grad_stock: np.ndarray, grad_capacity: np.ndarray, u_start: np.ndarray,
                 weights: tuple[float, float, float]) -> None:
        self.master = m = master
        self.weights = weights
        self.u_start = u_start
        S = len(m.sup)
        self.curves: list[Curve] = []
        self.points: list[_Point] = []
        p = m.probabilities
        on = np.flatnonzero(p > 0)
        for kind, start, grad, offset in ((SUPPLY, start_supply, grad_stock, 0),
                                          (SHELTER, start_shelter, grad_capacity, m.DK)):
            low = m.share_lower[kind * S:(kind + 1) * S]
            top = m.share_upper[kind * S:(kind + 1) * S]
            begin = np.minimum(np.maximum(start, low), top)
            cover, flags = m._cover[kind], m._flags[kind]
            width = len(u_start)
            support: dict[bytes, list[int]] = {}
            for s in on:
                support.setdefault((grad[s] > 0).tobytes(), []).append(int(s))
            for members in support.values():
                idx = np.array(members, dtype=np.int64)
                g = grad[idx]
                scale = g.max(axis=1)
                direction = None
                if (scale > 0).any():
                    direction = np.zeros(width)
                    direction[offset:offset + g.shape[1]] = (
                        g / np.where(scale > 0, scale, 1.0)[:, None]).max(axis=0)
                self._add(kind, direction, idx, begin[idx], np.maximum(scale, 0.0),
                          top[idx], cover, flags, needs=low[idx] < 1.0)
        # Economic: min(1, pool / loss_s) exactly, t the pool's column (money / scale).
        loss = m.loss
        pool = m.pool_col >= 0
        slope = np.where((loss > 0) & pool, m.money_scale / np.where(loss > 0, loss, 1.0), 0.0)
        top = np.where((loss > 0) & ~pool, 0.0, 1.0)
        begin = np.where(loss > 0, 0.0, 1.0)
        self._add(ECONOMIC, None, on, begin[on], slope[on], top[on], None, None,
                  t=m.pool_col if pool else -1)

    # ------------------------------------------------------------------ building

    def _add(self, kind: int, direction: np.ndarray | None, members: np.ndarray,
             start: np.ndarray, slope: np.ndarray, top: np.ndarray,
             cover: np.ndarray | None, flags: np.ndarray | None, t: int = -1,
             needs: np.ndarray | None = None) -> None:
        m = self.master
        p = m.probabilities[members]
        mass = float(p.sum())
        if not len(members) or mass <= 0:
            return
        if cover is not None and flags is not None and cover.shape[1]:
            fixed = flags < 0  # facilities that exist: always open
            base = cover[members][:, fixed].sum(axis=1)
            free = np.flatnonzero(~fixed)
            b = cover[members][:, free]
            used = b.any(axis=0)
            columns, b = flags[free][used].astype(np.int64), b[:, used]
            if needs is not None:  # a share with nothing to serve is 1 whatever is open
                base = np.where(needs, base, np.inf)
        else:
            base = np.full(len(members), np.inf)
            columns, b = np.zeros(0, dtype=np.int64), np.zeros((len(members), 0))
        theta = int(m.add_columns(1, 0.0, float(p @ top) / mass)[0])
        if direction is not None:
            # t = a . (u - u_start), u = U c + u0: t - (a U) c = a . (u0 - u_start).
            t = int(m.add_columns(1, -INF, INF)[0])
            terms = np.asarray(m.u_map.T @ direction).ravel()
            cols = np.flatnonzero(terms)
            offset = float(direction @ (m.u0 - self.u_start))
            m.add_rows([(offset, offset, [t, *map(int, cols)], [1.0, *(-terms[cols])])])
        curve = Curve(kind, theta, t, direction, columns, members, p, start, slope, top,
                      base, b)
        self.curves.append(curve)
        y0 = np.zeros(len(columns))
        self._row(curve, 0.0, y0, LINE)
        if len(columns):
            self._row(curve, 0.0, y0, COVER)

    def _coefficients(self, curve: Curve, g_t: float, g_y: np.ndarray
                      ) -> tuple[list[int], list[float]]:
        index, values = [curve.theta], [1.0]
        if curve.t >= 0:
            index.append(curve.t)
            values.append(-g_t)
        index.extend(int(c) for c in curve.flags)
        values.extend(float(-v) for v in g_y)
        return index, values

    def _row(self, curve: Curve, t_hat: float, y_hat: np.ndarray,
             forced: int | None = None) -> bool:
        for known in curve.rows:
            if known.forced == forced and abs(known.t - t_hat) <= SAME_POINT * max(
                    1.0, abs(t_hat)) and np.allclose(known.y, y_hat, rtol=0.0,
                                                     atol=SAME_POINT):
                return False
        m = self.master
        g_t, g_y, rhs = curve.row(t_hat, y_hat, forced)
        row = int(m.highs.getNumRow())
        index, values = self._coefficients(curve, g_t, g_y)
        m.add_rows([(-INF, rhs, index, values)])
        curve.rows.append(_Row(row, t_hat, y_hat.copy(), forced))
        m.cuts += 1
        return True

    # ------------------------------------------------------------------ reading

    def costs(self) -> dict[int, float]:
        """Expected resilience over the scenarios not held, by column (minimised)."""
        return {c.theta: -self.weights[c.kind] * c.mass for c in self.curves if len(c.members)}

    def t_at(self, curve: Curve, u: np.ndarray, pool_column: float) -> float:
        if curve.direction is not None:
            return float(curve.direction @ (u - self.u_start))
        return pool_column if curve.t >= 0 else 0.0

    # ------------------------------------------------------------------ changing

    def add_point(self, supply: np.ndarray, shelter: np.ndarray, grad_stock: np.ndarray,
                  grad_capacity: np.ndarray, u: np.ndarray) -> None:
        """An evaluated plan: its cuts become pieces of each member's minimum (the oldest
        point leaves past :data:`KEPT_POINTS`; rows already written stay valid)."""
        self.points.append(_Point(u.copy(), (supply, shelter), (grad_stock, grad_capacity)))
        del self.points[:-KEPT_POINTS]

    def cut_tangents(self, x: np.ndarray, u: np.ndarray, exact: tuple[np.ndarray, ...],
                     tol: float) -> int:
        """A row on each supply and shelter curve the master's point ``x`` over-states, each
        member on its lowest piece at this plan among its ceiling, start line, coverage and
        the cuts of the points kept: exact at this plan (the plan's own cut is a piece), and
        valid everywhere. Returns how many were added."""
        m = self.master
        added = 0
        for curve in self.curves:
            if curve.kind == ECONOMIC or not len(curve.members):
                continue
            mean = float(curve.p @ exact[curve.kind][curve.members]) / curve.mass
            if x[curve.theta] <= mean + tol:
                continue
            added += self._cut_row(curve, x, u)
        if added:
            m.cuts += added
        return added

    def _cut_row(self, curve: Curve, x: np.ndarray, u: np.ndarray) -> int:
        m = self.master
        offset, width = (0, m.DK) if curve.kind == SUPPLY else (m.DK, len(u) - m.DK)
        members, p = curve.members, curve.p
        y = x[curve.flags]
        t = self.t_at(curve, u, 0.0)
        pieces = [curve.top, curve.start + curve.slope * t,
                  np.where(np.isfinite(curve.base), curve.base + curve.cover @ y, np.inf)]
        part = u[offset:offset + width]
        for point in self.points:
            g = point.grads[curve.kind][members]
            pieces.append(point.values[curve.kind][members] +
                          g @ (part - point.u[offset:offset + width]))
        piece = np.argmin(np.vstack(pieces), axis=0)
        mass = curve.mass
        cu = np.zeros(len(u))  # coefficients on u (whole units on hand)
        constant = 0.0
        top, line, cover = piece == TOP, piece == LINE, piece == COVER
        constant += float(p[top] @ curve.top[top])
        if line.any():
            constant += float(p[line] @ curve.start[line])
            if curve.direction is not None:
                c = float(p[line] @ curve.slope[line])
                cu += c * curve.direction
                constant -= c * float(curve.direction @ self.u_start)
        g_y = p[cover] @ curve.cover[cover]
        constant += float(p[cover] @ curve.base[cover])
        for k, point in enumerate(self.points):
            chosen = piece == 3 + k
            if not chosen.any():
                continue
            g = p[chosen] @ point.grads[curve.kind][members[chosen]]
            cu[offset:offset + width] += g
            constant += float(p[chosen] @ point.values[curve.kind][members[chosen]]) - \
                float(g @ point.u[offset:offset + width])
        # theta <= (constant + cu . u + g_y . y) / P with u = U c + u0.
        # An open flag can be a column of u too (a shelter's places): one entry per column.
        terms = np.asarray(m.u_map.T @ cu).ravel()
        terms[curve.flags] += g_y
        cols = np.flatnonzero(terms)
        index = [curve.theta, *map(int, cols)]
        values = [1.0, *(-terms[cols] / mass)]
        rhs = (constant + float(cu @ m.u0)) / mass
        m.add_rows([(-INF, rhs, index, values)])
        return 1

    def pieces(self, kind: int, u: np.ndarray, x: np.ndarray, pool_column: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each scenario's lowest piece of ``kind`` at this plan (every curve's members), as
        an affine form: constant (S,), coefficients on u (S, len u), on the master's
        opening columns (S, len(opening_cols)) and on the pool's column (S,). At an
        evaluated plan the lowest piece is the exact share (its own cut is a piece)."""
        m = self.master
        S = len(m.sup)
        const, cu = np.zeros(S), np.zeros((S, len(u)))
        cy, cp = np.zeros((S, len(m.opening_cols))), np.zeros(S)
        where = {int(c): i for i, c in enumerate(m.opening_cols)}
        offset, width = (0, m.DK) if kind == SUPPLY else (m.DK, len(u) - m.DK)
        part = u[offset:offset + width]
        for curve in self.curves:
            if curve.kind != kind or not len(curve.members):
                continue
            members = curve.members
            t = self.t_at(curve, u, pool_column)
            y = x[curve.flags]
            values = [curve.top, curve.start + curve.slope * t,
                      np.where(np.isfinite(curve.base), curve.base + curve.cover @ y, np.inf)]
            if kind != ECONOMIC:
                for point in self.points:
                    values.append(point.values[kind][members] + point.grads[kind][members]
                                  @ (part - point.u[offset:offset + width]))
            piece = np.argmin(np.vstack(values), axis=0)
            top, line, cover = piece == TOP, piece == LINE, piece == COVER
            const[members[top]] = curve.top[top]
            const[members[line]] = curve.start[line]
            if curve.direction is not None:
                const[members[line]] -= curve.slope[line] * float(
                    curve.direction @ self.u_start)
                cu[members[line]] = curve.slope[line][:, None] * curve.direction[None, :]
            elif kind == ECONOMIC and curve.t >= 0:
                cp[members[line]] = curve.slope[line]
            const[members[cover]] = curve.base[cover]
            positions = [where[int(c)] for c in curve.flags]
            if positions:
                cy[np.ix_(members[cover], positions)] = curve.cover[cover]
            if kind == ECONOMIC:
                continue
            for k, point in enumerate(self.points):
                chosen = piece == 3 + k
                if not chosen.any():
                    continue
                g = point.grads[kind][members[chosen]]
                const[members[chosen]] = point.values[kind][members[chosen]] - \
                    g @ point.u[offset:offset + width]
                cu[members[chosen], offset:offset + width] = g
        return const, cu, cy, cp

    def tangents(self, x: np.ndarray, u: np.ndarray, pool_column: float, tol: float) -> int:
        """A tangent at this plan's pool on the economic curve, if the master's point ``x``
        over-states it (the supply and shelter curves get :meth:`cut_tangents`); returns
        how many were added."""
        added = 0
        for curve in self.curves:
            if curve.kind != ECONOMIC or not len(curve.members):
                continue
            t = self.t_at(curve, u, pool_column)
            y = x[curve.flags]
            f = float(curve.p @ curve.bounds(t, y))
            if x[curve.theta] > f / curve.mass + tol and self._row(curve, t, y):
                added += 1
        return added
