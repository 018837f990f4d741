"""The extensive form of :mod:`models.resilience`, assembled from numpy arrays for HiGHS.

:func:`assemble` gives HiGHS (through ``optimizer.solvers.extensive.compile_direct``) the same
model that ``optimizer.solvers.extensive.compile_pyomo`` obtains from
:func:`models.resilience.build_model` through Pyomo's standard-form compiler: the same
columns with the same bounds and integrality, the same rows with the same scaled
coefficients and bounds, the same objective vectors, in the same order. HiGHS therefore
receives one model either way and follows the same search; only the time to get it there
differs (benchmarks/RESULTS.md: 7-17 microseconds per non-zero through Pyomo, 0.2-0.4 here,
since every family is a handful of numpy operations, with no Python loop per non-zero).
``models.resilience`` stays the formulation people read and export; the docstrings of its
``add_*`` functions state what each family below writes, and tests/test_direct.py holds the
two routes equal bit for bit. A change to the formulation goes there first; that test then
fails until the family here follows.

How this mirrors the compiler, so that the two agree to the order of columns and rows:

* each constraint family is one ``_rows_*`` function here, its rows in the order Pyomo
  indexes them, each row written as Pyomo states it, ``body (<=, ==, >=) bound`` with
  ``body = left side - right side``;
* a fixed variable (an existing facility's open flag, fixed to 1) is moved into the row
  bounds and leaves no column; a variable with no non-zero in any row or active objective
  leaves no column either (its ``Layout`` index is -1, as on the Pyomo route); a row whose
  terms are all fixed stays as an empty row where the compiler keeps it, and is dropped
  (it must then hold as a constant) where the compiler drops it;
* columns come grouped by variable family, the families in the order the compiler first
  meets one of their variables (the active objectives first, then the rows in order, each
  row's terms in the order its Pyomo expression lists them, zero coefficients included),
  and within a family by ascending index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csc_matrix

from models.arrays import INF, Rows, Terms, Variables, terms_of
from models.objectives import SPECS, cost_terms, expected_terms
from models.resilience import (
    ModelData,
    linked_pair_flows,
    linked_shelter_rows,
    shelter_row_evacuees,
)
from optimizer.errors import InfeasibleError

# Objectives in the order models.resilience declares them: the compiler meets their
# variables in this order, whichever of them are active.
OBJECTIVE_ORDER = ("objective", "tiebreak_expected", "tiebreak_cost")
# Variable families Pyomo names without an index.
SCALAR_FAMILIES = frozenset({"pool", "cost"}.union(*(s.scalars for s in SPECS.values())))
# A dropped row (no variable left) must hold as a constant within this.
CONSTANT_ROW_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class DirectModel:
    """The model as HiGHS receives it (minimisation), before the hand-off."""

    a: csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integer: np.ndarray
    objectives: dict[str, np.ndarray]
    columns: dict[str, np.ndarray]  # variable family -> column of each flat index, or -1
    column_order: tuple[str, ...]  # variable families in column order
    rows: tuple[tuple[str, np.ndarray | None], ...]  # (family, Pyomo index of kept rows)

    def column_names(self) -> list[str]:
        """Pyomo's name of every column (``x[0,1]``, ``g[17]``, ``cost``), for messages."""
        names = [""] * len(self.col_lower)
        for family, cols in self.columns.items():
            shape = cols.shape
            for flat in np.flatnonzero(cols.ravel() >= 0):
                if family in SCALAR_FAMILIES:
                    label = family
                elif len(shape) == 2:
                    d, k = divmod(int(flat), shape[1])
                    label = f"{family}[{d},{k}]"
                else:
                    label = f"{family}[{int(flat)}]"
                names[int(cols.ravel()[flat])] = label
        return names

    def row_names(self) -> list[str]:
        """Pyomo's name of every row (``depot_stock[12]``, ``budget``), for messages."""
        return [name if labels is None else f"{name}[{int(i)}]"
                for name, labels in self.rows
                for i in (labels if labels is not None else [None])]


# ------------------------------------------------------------------------------ helpers


def _rows_of(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row of each key, distinct keys ascending, members per row): ``_groups`` as arrays."""
    if len(keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    distinct, row, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return row.astype(np.int64), distinct, counts


def _scalar_rows(name: str, lower: float, upper: float, *terms: Terms) -> Rows:
    return Rows(name, None, np.array([lower]), np.array([upper]), terms)


# ---------------------------------------------------------------------------- variables


def _variables(md: ModelData) -> dict[str, Variables]:
    """Every variable family of ``build_model`` with its bounds (add_*_variables)."""
    inst = md.instance
    D, K, H, S = len(inst.depots), len(inst.commodities), len(inst.shelters), md.num_scenarios
    stock_upper = (md.stock_upper / md.stock_unit).reshape(D * K)
    kind = inst.objective.kind
    families = [
        Variables("y", np.zeros(D), np.ones(D), True,
                   np.array([d.existing for d in inst.depots], dtype=bool)),
        Variables("x", np.zeros(D * K), stock_upper, md.stock_integer.reshape(D * K)),
        Variables("z", np.zeros(H), np.ones(H), True,
                   np.array([h.existing for h in inst.shelters], dtype=bool)),
        Variables("modules", np.zeros(H),
                   np.array([h.max_modules for h in inst.shelters], dtype=float), True),
        Variables("pool", np.zeros(1), np.array([inst.max_pool / md.money_scale]), False),
        Variables("cost", np.zeros(1), np.array([INF]), False),
        Variables("g", np.zeros(len(md.g_scenario)), np.full(len(md.g_scenario), INF),
                   False),
        Variables("v", np.zeros(len(md.v_scenario)), np.full(len(md.v_scenario), INF),
                   False),
        Variables("econ", np.zeros(S), np.ones(S), False),
        Variables("r", np.zeros(S), np.ones(S), False),
    ]
    families += SPECS[kind].variables(md)  # the objective's own (models.objectives)
    return {f.name: f for f in families}


# ------------------------------------------------------------------- constraint families


def _pyomo_sum(left: list | None, right: list | None) -> list | None:
    """Order of the terms of ``left + right`` as Pyomo builds it (None is the number 0).

    A term added to a sum of several terms is appended to that sum, whichever side it
    stands on; two sums are concatenated; two single terms make a new sum.
    """
    if left is None:
        return right
    if right is None:
        return left
    if len(right) > 1 and len(left) == 1:
        return right + left
    return left + right


def _rows_cost(md: ModelData) -> list[Rows]:
    """add_cost: ``cost - (pool + depot terms + shelter terms) == 0`` and ``cost <= Bud/M``.

    The terms follow the order in which Pyomo assembles add_cost's expression (see
    :func:`_pyomo_sum`); an existing facility's open flag is a term with coefficient 0.
    """
    inst, M = md.instance, md.money_scale
    K = len(inst.commodities)
    depots = None
    for j, d in enumerate(inst.depots):
        stock = None
        for k in range(K):
            if d.unit_cost[k] > 0:
                stock = _pyomo_sum(stock, [("x", j * K + k,
                                            d.unit_cost[k] * float(md.stock_unit[j, k]) / M)])
        open_term = [("y", j, 0.0 if d.existing else d.fixed_cost / M)]
        depots = _pyomo_sum(depots, _pyomo_sum(open_term, stock))
    shelters = None
    for j, h in enumerate(inst.shelters):
        shelters = _pyomo_sum(shelters, [("z", j, 0.0 if h.existing else h.fixed_cost / M),
                                         ("modules", j, h.module_cost / M)])
    expr = _pyomo_sum(_pyomo_sum([("pool", 0, 1.0)], depots), shelters) or []
    terms = [terms_of("cost", [0], 1.0)]
    for family in ("y", "x", "pool", "z", "modules"):
        at = [p for p, term in enumerate(expr) if term[0] == family]
        terms.append(terms_of(family, [expr[p][1] for p in at], [-expr[p][2] for p in at],
                            pos=np.array(at, dtype=np.int64) + 1))
    definition = _scalar_rows("cost_definition", 0.0, 0.0, *terms)
    budget = _scalar_rows("budget", -INF, inst.budget / M, terms_of("cost", [0], 1.0))
    return [definition, budget]


def _rows_depot_capacity(md: ModelData) -> list[Rows]:
    """add_depot_capacity: ``sum_k (vol_k u_dk/V_d) x_dk - y_d <= -sum_k vol_k
    existing_dk/V_d``, V_d the capacity the row is written with (ModelData.depot_volume)."""
    inst = md.instance
    K = len(inst.commodities)
    depots = np.flatnonzero(md.depot_volume > 0).astype(np.int64)
    volume = np.array([c.unit_volume for c in inst.commodities], dtype=float)
    capacity = md.depot_volume[depots]
    existing = np.array([sum(c.unit_volume * q for c, q in
                             zip(inst.commodities, inst.depots[d].existing_stock, strict=True))
                         for d in depots], dtype=float)
    n = len(depots)
    rows = np.repeat(np.arange(n), K)
    k = np.tile(np.arange(K), n)
    return [Rows("depot_capacity", depots, np.full(n, -INF), -(existing / capacity), (
        terms_of("x", depots[rows] * K + k,
               volume[k] * md.stock_unit[depots[rows], k] / capacity[rows], rows, pos=k),
        terms_of("y", depots, -1.0, np.arange(n), pos=K),
    ))]


def _rows_shelter_modules(md: ModelData) -> list[Rows]:
    """add_shelter_modules: ``m_h - U_h z_h <= 0`` for shelters with U_h > 0."""
    shelters = np.array([h for h, s in enumerate(md.instance.shelters) if s.max_modules > 0],
                        dtype=np.int64)
    limit = np.array([md.instance.shelters[h].max_modules for h in shelters], dtype=float)
    n = len(shelters)
    return [Rows("shelter_modules", shelters, np.full(n, -INF), np.zeros(n), (
        terms_of("modules", shelters, 1.0, np.arange(n)),
        terms_of("z", shelters, -limit, np.arange(n), pos=1),
    ))]


def _rows_shelter_redundancy(md: ModelData) -> list[Rows]:
    """add_shelter_redundancy: ``sum_{h near i} z_h >= r`` for zones with people."""
    inst = md.instance
    r = inst.policy.shelter_redundancy
    zones = np.flatnonzero(inst.network.population > 0) if r > 0 else np.zeros(0, np.int64)
    row, shelter = np.nonzero(md.intact_shelters[zones])
    n = len(zones)
    return [Rows("shelter_redundancy", zones, np.full(n, float(r)), np.full(n, INF), (
        terms_of("z", shelter, 1.0, row),
    ))]


def _rows_depot_stock(md: ModelData) -> list[Rows]:
    """add_depot_stock: ``sum_i g_sdik - c x_dk <= c existing_dk``,
    ``c = (1 - loss_sd) om_k / Q_s``, one row per (s, d, k) with flows, keys ascending."""
    inst = md.instance
    D, K = len(inst.depots), len(inst.commodities)
    om = inst.commodity_weights
    row, keys, counts = _rows_of((md.g_scenario * D + md.g_depot) * K + md.g_commodity)
    s, rest = np.divmod(keys, D * K)
    d, k = np.divmod(rest, K)
    loss = np.array([sc.depot_loss for sc in inst.scenarios], dtype=float).reshape(
        md.num_scenarios, D)
    coef = (1 - loss[s, d]) * om[k] / md.supply_total[s]
    stock = np.array([dp.existing_stock for dp in inst.depots], dtype=float).reshape(D, K)
    n = len(keys)
    return [Rows("depot_stock", np.arange(n), np.full(n, -INF), coef * stock[d, k], (
        terms_of("g", np.arange(len(row)), 1.0, row),
        terms_of("x", d * K + k, -(coef * md.stock_unit[d, k]), np.arange(n), pos=counts),
    ))]


def _rows_zone_need(md: ModelData) -> list[Rows]:
    """add_zone_need: ``sum_d g_sdik <= om_k q_sik / Q_s``, one row per (s, i, k)."""
    inst = md.instance
    N, K = inst.network.num_nodes, len(inst.commodities)
    om = inst.commodity_weights
    row, keys, _ = _rows_of((md.g_scenario * N + md.g_zone) * K + md.g_commodity)
    s, rest = np.divmod(keys, N * K)
    i, k = np.divmod(rest, K)
    need = np.stack([sc.need for sc in inst.scenarios]) if inst.scenarios else np.zeros(
        (0, N, K))
    n = len(keys)
    return [Rows("zone_need", np.arange(n), np.full(n, -INF),
                  om[k] * need[s, i, k] / md.supply_total[s],
                  (terms_of("g", np.arange(len(row)), 1.0, row),))]


def _rows_zone_evacuees(md: ModelData) -> list[Rows]:
    """add_zone_evacuees: ``sum_h v_sih <= e_si / E_s``, one row per (s, i)."""
    inst = md.instance
    N = inst.network.num_nodes
    row, keys, _ = _rows_of(md.v_scenario * N + md.v_zone)
    s, i = np.divmod(keys, N)
    evacuees = np.stack([sc.evacuees for sc in inst.scenarios]) if inst.scenarios else (
        np.zeros((0, N)))
    n = len(keys)
    return [Rows("zone_evacuees", np.arange(n), np.full(n, -INF),
                  evacuees[s, i] / md.evacuee_total[s],
                  (terms_of("v", np.arange(len(row)), 1.0, row),))]


def _rows_shelter_capacity(md: ModelData) -> list[Rows]:
    """add_shelter_capacity: ``sum_i v_sih - min(k B_h, e_sh)/E_s z_h - min(k M_h, e_sh)/E_s
    m_h <= 0``, ``k = 1 - loss_sh``, e_sh the evacuees who can reach h in s, the module term
    only where U_h > 0 and M_h > 0."""
    inst = md.instance
    H = len(inst.shelters)
    P = md.num_pair_flows
    row, keys, counts = _rows_of(md.v_scenario[:P] * H + md.v_shelter[:P])
    s, h = np.divmod(keys, H) if H else (keys, keys)
    loss = np.array([sc.shelter_loss for sc in inst.scenarios], dtype=float).reshape(
        md.num_scenarios, H)
    keep = 1 - loss[s, h]
    reach = shelter_row_evacuees(md, row)
    base = np.array([sh.capacity for sh in inst.shelters], dtype=float)
    size = np.array([sh.module_size for sh in inst.shelters], dtype=float)
    modular = np.array([sh.max_modules > 0 and sh.module_size > 0 for sh in inst.shelters],
                       dtype=bool)
    # Linked rows are written flow by flow (_rows_shelter_link); the rest keep their
    # Pyomo index and are renumbered among themselves.
    kept = ~linked_shelter_rows(md)
    new_row = np.cumsum(kept) - 1
    flows = np.flatnonzero(kept[row])
    labels = np.flatnonzero(kept)
    s, h, keep, reach, counts = s[kept], h[kept], keep[kept], reach[kept], counts[kept]
    n = len(labels)
    total = md.evacuee_total[s]
    with_modules = np.flatnonzero(modular[h]) if n else np.zeros(0, np.int64)
    return [Rows("shelter_capacity", labels, np.full(n, -INF), np.zeros(n), (
        terms_of("v", flows, 1.0, new_row[row[flows]]),
        terms_of("z", h, -(np.minimum(keep * base[h], reach) / total), np.arange(n), pos=counts),
        terms_of("modules", h[with_modules],
               -(np.minimum(keep * size[h], reach) / total)[with_modules],
               with_modules, pos=counts[with_modules] + 1),
    ))]


def _evacuee_share(md: ModelData, flows: np.ndarray) -> np.ndarray:
    """e_si / E_s of each flow's scenario and zone."""
    inst = md.instance
    evacuees = np.stack([sc.evacuees for sc in inst.scenarios]) if inst.scenarios else (
        np.zeros((0, inst.network.num_nodes)))
    s = md.v_scenario[flows]
    return evacuees[s, md.v_zone[flows]] / md.evacuee_total[s]


def _rows_shelter_link(md: ModelData) -> list[Rows]:
    """add_shelter_link: ``v_j - (e_si/E_s) z_h <= 0`` for each pair flow j of a linked
    shelter (linked_pair_flows), flows ascending."""
    flows = linked_pair_flows(md)
    n = len(flows)
    return [Rows("shelter_link", flows, np.full(n, -INF), np.zeros(n), (
        terms_of("v", flows, 1.0, np.arange(n)),
        terms_of("z", md.v_shelter[flows], -_evacuee_share(md, flows), np.arange(n), pos=1),
    ))]


def _rows_shelter_cover(md: ModelData) -> list[Rows]:
    """add_shelter_cover: ``v_j - (e_si/E_s) sum_{h in N_si} z_h <= 0`` for each cover flow
    j (the flows after the pair flows), shelters ascending."""
    P = md.num_pair_flows
    flows = np.arange(P, len(md.v_scenario), dtype=np.int64)
    n = len(flows)
    per_row = np.diff(md.cover_ptr)
    rows = np.repeat(np.arange(n), per_row)
    return [Rows("shelter_cover", flows, np.full(n, -INF), np.zeros(n), (
        terms_of("v", flows, 1.0, np.arange(n)),
        terms_of("z", md.cover_shelter, -np.repeat(_evacuee_share(md, flows), per_row), rows,
               pos=1),
    ))]


def _rows_compensation(md: ModelData) -> list[Rows]:
    """add_compensation: ``econ_s - (M / L_s) pool <= 0`` for scenarios with L_s > 0."""
    scenarios = np.flatnonzero(md.loss_total > 0)
    n = len(scenarios)
    return [Rows("compensation", scenarios, np.full(n, -INF), np.zeros(n), (
        terms_of("econ", scenarios, 1.0, np.arange(n)),
        terms_of("pool", np.zeros(n, np.int64), -(md.money_scale / md.loss_total[scenarios]),
               np.arange(n), pos=1),
    ))]


def _rows_resilience(md: ModelData) -> list[Rows]:
    """add_resilience: ``r_s - w_sup sum g - w_sh sum v - w_eco econ_s == constant``,
    the constant holding the weight of each term whose scenario total is 0."""
    w = md.instance.weights
    S = md.num_scenarios
    has_supply, has_evacuees, has_loss = (md.supply_total > 0, md.evacuee_total > 0,
                                          md.loss_total > 0)
    constant = (w.supply * ~has_supply + w.shelter * ~has_evacuees
                + w.economic * ~has_loss).astype(float)
    g = np.flatnonzero(has_supply[md.g_scenario])
    v = np.flatnonzero(has_evacuees[md.v_scenario])
    econ = np.flatnonzero(has_loss)
    return [Rows("resilience", np.arange(S), constant, constant, (
        terms_of("r", np.arange(S), 1.0, np.arange(S)),
        terms_of("g", g, -w.supply, md.g_scenario[g], pos=1),
        terms_of("v", v, -w.shelter, md.v_scenario[v], pos=1),
        terms_of("econ", econ, -w.economic, econ, pos=1),
    ))]


def _rows_objective(md: ModelData) -> list[Rows]:
    """add_objectives' rows: the objective's own (models.objectives), e.g. worst_case
    ``t - r_s <= 0``; cvar ``eta - r_s - u_s <= 0``; min_cost ``r_s >= T``."""
    return SPECS[md.instance.objective.kind].rows(md)


# In the order build_model adds them: models.resilience.CONSTRAINT_FAMILIES, then the rows
# of add_objectives (tests/test_direct.py checks the correspondence).
ROW_FAMILIES = (
    ("add_cost", _rows_cost),
    ("add_depot_capacity", _rows_depot_capacity),
    ("add_shelter_modules", _rows_shelter_modules),
    ("add_shelter_redundancy", _rows_shelter_redundancy),
    ("add_depot_stock", _rows_depot_stock),
    ("add_zone_need", _rows_zone_need),
    ("add_zone_evacuees", _rows_zone_evacuees),
    ("add_shelter_capacity", _rows_shelter_capacity),
    ("add_shelter_link", _rows_shelter_link),
    ("add_shelter_cover", _rows_shelter_cover),
    ("add_compensation", _rows_compensation),
    ("add_resilience", _rows_resilience),
    ("add_objectives", _rows_objective),
)


# ---------------------------------------------------------------------------- objectives


def _objective_terms(md: ModelData, name: str) -> tuple[Terms, ...]:
    """One objective of add_objectives in minimisation form (a maximum is negated)."""
    if name == "tiebreak_expected":
        return expected_terms(md)
    if name == "tiebreak_cost":
        return cost_terms(md)
    if name != "objective":
        raise ValueError(f"unknown objective {name!r}")
    return SPECS[md.instance.objective.kind].terms(md)


# ------------------------------------------------------------------------------ assembly


def assemble(md: ModelData, names: list[str]) -> DirectModel:
    """The extensive form with the objectives ``names`` (the first one passed to HiGHS).

    Raises
    ------
    InfeasibleError
        When a row left with no variable (say, a redundancy row whose shelters all exist
        already) cannot hold.
    """
    variables = _variables(md)
    families = [rows for _, build in ROW_FAMILIES for rows in build(md)]
    offsets = np.concatenate([[0], np.cumsum([f.size for f in families])]).astype(np.int64)
    objective_names = [n for n in OBJECTIVE_ORDER if n in names]
    if len(objective_names) != len(names):
        raise ValueError(f"unknown objectives in {names!r}")
    objectives = {n: _objective_terms(md, n) for n in objective_names}
    placed = _place_terms(variables, families, offsets, objectives)
    order, columns, n_cols = _columns(variables, objectives, placed)
    a, lower, upper, kept = _matrix(families, offsets, placed, columns, n_cols)
    col_lower, col_upper, integer = _column_bounds(variables, order, columns, n_cols)
    kept_rows = []
    for f, offset in zip(families, offsets[:-1], strict=True):
        mask = kept[offset:offset + f.size]
        if mask.any():
            kept_rows.append((f.name, None if f.labels is None else f.labels[mask]))
    D, K = len(md.instance.depots), len(md.instance.commodities)
    costs = _stacked_costs(names, objectives, columns, n_cols)
    columns["x"] = columns["x"].reshape(D, K)
    return DirectModel(a, col_lower, col_upper, lower[kept], upper[kept], integer, costs,
                       columns, order, tuple(kept_rows))


@dataclass(frozen=True, eq=False)
class _Placed:
    """The row terms at their global rows, and where the compiler first meets each family."""

    entries: list[tuple[Terms, np.ndarray, np.ndarray]]  # terms, global row, free entries
    shift: np.ndarray  # what the fixed variables move into each row's bounds
    longest: int  # the most terms a row's expression lists (positions are below it)
    first: dict[str, int]  # variable family -> the key where the compiler first meets it
    n_rows: int


def _place_terms(variables: dict[str, Variables], families: list[Rows], offsets: np.ndarray,
                 objectives: dict[str, tuple[Terms, ...]]) -> _Placed:
    """Row terms with global rows; a term on a fixed variable moves into the bounds. Then
    where the compiler first meets each variable family (objectives before rows)."""
    n_rows = int(offsets[-1])
    entries: list[tuple[Terms, np.ndarray, np.ndarray]] = []
    shift = np.zeros(n_rows)
    longest = 1
    for family, offset in zip(families, offsets[:-1], strict=True):
        for t in family.terms:
            rows = offset + t.row
            fixed = variables[t.family].fixed
            free = np.ones(len(t.index), bool) if fixed is None else ~fixed[t.index]
            if not free.all():
                shift += np.bincount(rows[~free], weights=t.coef[~free], minlength=n_rows)
            entries.append((t, rows, free))
            if np.size(t.pos):
                longest = max(longest, int(np.max(t.pos)) + 1)
    for terms in objectives.values():
        for t in terms:
            longest = max(longest, int(np.max(t.pos)) + 1)

    first: dict[str, int] = {}

    def meet(family: str, key: int) -> None:
        first[family] = min(first.get(family, key), key)

    for o, terms in enumerate(objectives.values()):
        for t in terms:
            if len(t.index):
                meet(t.family, (o - len(OBJECTIVE_ORDER)) * longest + int(np.min(t.pos)))
    for t, rows, free in entries:
        if free.any():
            pos = np.broadcast_to(np.asarray(t.pos, dtype=np.int64), rows.shape)
            meet(t.family, int(np.min(rows[free] * longest + pos[free])))
    return _Placed(entries, shift, longest, first, n_rows)


def _columns(variables: dict[str, Variables], objectives: dict[str, tuple[Terms, ...]],
             placed: _Placed) -> tuple[tuple[str, ...], dict[str, np.ndarray], int]:
    """A column for each free variable with a non-zero in a row or an objective, the
    families in the order the compiler meets them: (that order, columns, their count)."""
    active = {name: np.zeros(v.size, dtype=bool) for name, v in variables.items()}
    for t, _rows, free in placed.entries:
        active[t.family][t.index[free & (t.coef != 0)]] = True
    for terms in objectives.values():
        for t in terms:
            active[t.family][t.index[t.coef != 0]] = True
    first = placed.first
    order = tuple(sorted((f for f in first if active[f].any()), key=first.__getitem__))
    columns: dict[str, np.ndarray] = {}
    n_cols = 0
    for name in order:
        col = np.full(variables[name].size, -1, dtype=np.int64)
        count = int(active[name].sum())
        col[active[name]] = n_cols + np.arange(count)
        columns[name] = col
        n_cols += count
    for name, v in variables.items():
        columns.setdefault(name, np.full(v.size, -1, dtype=np.int64))
    return order, columns, n_cols


def _matrix(families: list[Rows], offsets: np.ndarray, placed: _Placed,
            columns: dict[str, np.ndarray], n_cols: int
            ) -> tuple[csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """The matrix of the kept rows, every row's bounds, and which rows are kept: a row
    without any entry is dropped (as a constant, it must hold)."""
    row_parts, col_parts, val_parts = [], [], []
    for t, rows, free in placed.entries:
        keep = free & (t.coef != 0)
        row_parts.append(rows[keep])
        col_parts.append(columns[t.family][t.index[keep]])
        val_parts.append(t.coef[keep])
    all_rows = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
    # ``+ 0.0`` turns -0.0 into 0.0 as the compiler's ``bound - constant`` does: HiGHS's
    # search depends on the sign of a zero bound, and both routes must run the same search.
    lower = np.concatenate([f.lower for f in families]) - placed.shift + 0.0
    upper = np.concatenate([f.upper for f in families]) - placed.shift + 0.0
    kept = np.bincount(all_rows, minlength=placed.n_rows) > 0
    # Once the compiler has met a family, it keeps that family's fixed variables as terms
    # (it substitutes them only at the end), so a row whose terms are all fixed stays, as
    # an empty row, when they come after that point.
    for t, rows, free in placed.entries:
        if t.family in placed.first and not free.all():
            pos = np.broadcast_to(np.asarray(t.pos, dtype=np.int64), rows.shape)
            late = ~free & (t.coef != 0) & (rows * placed.longest + pos
                                            > placed.first[t.family])
            kept[rows[late]] = True
    _check_dropped_rows(families, offsets, kept, lower, upper)
    new_row = np.cumsum(kept) - 1
    a = csc_matrix((np.concatenate(val_parts) if val_parts else np.zeros(0),
                    (new_row[all_rows], np.concatenate(col_parts) if col_parts
                     else np.zeros(0, np.int64))),
                   shape=(int(kept.sum()), n_cols))
    a.sort_indices()
    return a, lower, upper, kept


def _check_dropped_rows(families: list[Rows], offsets: np.ndarray, kept: np.ndarray,
                        lower: np.ndarray, upper: np.ndarray) -> None:
    """Raise when a dropped row cannot hold as the constant it is."""
    broken = ~kept & ((lower > CONSTANT_ROW_TOL) | (upper < -CONSTANT_ROW_TOL))
    if not broken.any():
        return
    labels = [(f.name, f.labels) for f in families]
    where = int(np.flatnonzero(broken)[0])
    fam = int(np.searchsorted(offsets, where, side="right") - 1)
    name, idx = labels[fam]
    label = name if idx is None else f"{name}[{int(idx[where - offsets[fam]])}]"
    raise InfeasibleError(f"constraint {label} cannot hold: its variables are all fixed "
                          "(existing facilities) and too few")


def _column_bounds(variables: dict[str, Variables], order: tuple[str, ...],
                   columns: dict[str, np.ndarray], n_cols: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's bounds and integrality."""
    col_lower = np.zeros(n_cols)
    col_upper = np.zeros(n_cols)
    integer = np.zeros(n_cols, dtype=bool)
    for name in order:
        v, col = variables[name], columns[name]
        present = col >= 0
        col_lower[col[present]] = v.lower[present]
        col_upper[col[present]] = v.upper[present]
        integer[col[present]] = (v.integer[present] if isinstance(v.integer, np.ndarray)
                                 else v.integer)
    return col_lower, col_upper, integer


def _stacked_costs(names: list[str], objectives: dict[str, tuple[Terms, ...]],
                   columns: dict[str, np.ndarray], n_cols: int) -> dict[str, np.ndarray]:
    """The stage objectives as rows of one column-major array, as Pyomo's compiler returns
    them: solve() takes ``c @ x`` to hold a solved objective in a tie-break row, and numpy
    rounds that product differently for a strided and a contiguous ``c``; the same layout
    keeps the row, and so the search, identical on both routes."""
    stacked = np.zeros((len(names), n_cols), order="F")
    for j, name in enumerate(names):
        for t in objectives[name]:
            nz = t.coef != 0
            stacked[j, columns[t.family][t.index[nz]]] = t.coef[nz]
    return {name: stacked[j] for j, name in enumerate(names)}
