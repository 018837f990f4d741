"""The two-stage resilience MIP of design section 2, as a Pyomo model.

The model is built by :func:`build_model` as a sequence of ``add_*`` functions, one per
constraint family, each stating its mathematics. Names are stable: researchers read and
export this model, and the solver driver finds the decisions by these names.

Scaling (why the numbers below are not in currency or people). Written in raw units, the
resilience coefficients are a weight over a loss in millions, about 1e-8: below HiGHS's
dual feasibility tolerance, and HiGHS then reports "optimal" far from the optimum. So:

* money is a share of ``money_scale`` (the budget when it is positive): every cost
  coefficient is ``cost / money_scale`` and the budget row reads ``cost <= 1``;
* second-stage flows are fractions of their scenario's totals: ``g`` is a share of the
  scenario's weighted need ``Q_s = sum_ik om_k q_sik``, ``v`` a share of its evacuees
  ``E_s = sum_i e_si`` and ``econ_s`` a share of its loss ``L_s = sum_i L_si``;
* a capacity row is divided by the capacity, so its coefficients are volumes per capacity.

With that, every term of R_s is a sum of the scaled flows times a weight in [0, 1].

Pyomo is imported by the functions that build the model, not by the module: the solve
path reads only :func:`prepare` and :class:`ModelData` from here (models.direct builds the
same model from arrays), and importing Pyomo costs every command about 1.5 s (Pyomo, and
the scipy.stats its import hook for scipy pulls in), which ``--time-limit`` counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models import limits
from models.objectives import MEASURES, SPECS, expected_resilience
from optimizer.evaluation.reachability import ScenarioReach, intact_shelter_reach, scenario_pairs
from optimizer.instance.data import Instance, Scenario
from optimizer.instance.schema import ObjectiveKind

if TYPE_CHECKING:
    import pyomo.environ as pyo

@dataclass(frozen=True, eq=False)
class ModelData:
    """Index sets and scaled totals the formulation is written over."""

    instance: Instance
    money_scale: float
    reach: list[ScenarioReach]
    supply_total: np.ndarray  # (S,) Q_s, weighted need
    evacuee_total: np.ndarray  # (S,) E_s
    loss_total: np.ndarray  # (S,) L_s
    intact_shelters: np.ndarray  # (N, H) bool
    # One entry per supply flow variable g[j]: scenario, depot, zone, commodity.
    g_scenario: np.ndarray
    g_depot: np.ndarray
    g_zone: np.ndarray
    g_commodity: np.ndarray
    # One entry per shelter flow variable v[j]: scenario, zone, shelter. The first
    # ``num_pair_flows`` are pair flows, one per reachable (s, i, h); after them come the
    # cover flows, one per (s, i) whose reachable shelters are all linked (below): their
    # v_shelter is -1 and cover flow c may use shelters cover_shelter[cover_ptr[c]:
    # cover_ptr[c + 1]] (add_shelter_cover).
    v_scenario: np.ndarray
    v_zone: np.ndarray
    v_shelter: np.ndarray
    num_pair_flows: int
    cover_ptr: np.ndarray
    cover_shelter: np.ndarray
    # (S, H) shelter h is *linked* in scenario s: not existing, and what survives of its
    # base capacity takes every evacuee who can reach it, (1 - loss_sh) B_h >= e_sh > 0.
    # Its capacity then binds only through z_h (add_shelter_link, add_shelter_cover).
    shelter_linked: np.ndarray
    # (D, K) the most stock a plan can usefully buy, in units (models.limits); the unit of
    # each stock column (x counts stock / stock_unit); which stock columns are integer.
    stock_upper: np.ndarray
    stock_unit: np.ndarray
    stock_integer: np.ndarray
    # (D,) the capacity each depot's row is written with (0: no row).
    depot_volume: np.ndarray
    # (S,) each scenario's ceiling (R_s with every candidate open and full, the budget
    # ignored); needed by the relative objective, None when not computed.
    ceilings: np.ndarray | None = None

    @property
    def num_scenarios(self) -> int:
        return len(self.instance.scenarios)


class _Flows:
    """The recourse flows of :func:`prepare`, scenario by scenario: a supply flow for every
    reachable (depot, zone) and commodity with need; a shelter flow for every reachable
    (zone, shelter) pair, or one cover flow for a zone whose shelters are all linked."""

    def __init__(self, instance: Instance) -> None:
        H = len(instance.shelters)
        self.instance = instance
        self.base = np.array([h.capacity for h in instance.shelters], dtype=float)
        self.existing = np.array([h.existing for h in instance.shelters], dtype=bool)
        self.linked = np.zeros((len(instance.scenarios), H), dtype=bool)
        self.g_parts: list[tuple[np.ndarray, ...]] = []
        self.v_parts: list[tuple[np.ndarray, ...]] = []
        self.cover_parts: list[tuple[np.ndarray, ...]] = []
        self.cover_sets: list[tuple[np.ndarray, np.ndarray]] = []  # (shelters per zone, shelters)

    def add(self, s: int, scenario: Scenario, r: ScenarioReach, om: np.ndarray) -> None:
        H = len(self.instance.shelters)
        # A supply variable for every reachable (d, i) and commodity k with q_sik > 0.
        need = scenario.need[r.supply_zone] * om  # (pairs, K) weighted
        pair_idx, k_idx = np.nonzero(need > 0)
        self.g_parts.append((np.full(len(pair_idx), s), r.supply_depot[pair_idx],
                             r.supply_zone[pair_idx], k_idx))
        zone, shelter = r.shelter_zone, r.shelter_index
        evacuees_at = np.bincount(shelter, weights=scenario.evacuees[zone], minlength=H)
        keep = 1 - np.asarray(scenario.shelter_loss, dtype=float)
        self.linked[s] = (keep * self.base >= evacuees_at) & (evacuees_at > 0) & ~self.existing
        # A zone whose shelters are all linked is sheltered as far as one of them is open:
        # one cover flow instead of a flow per shelter.
        cover = np.ones(self.instance.network.num_nodes, dtype=bool)
        cover[zone[~self.linked[s][shelter]]] = False
        pair = ~cover[zone]
        self.v_parts.append((np.full(int(pair.sum()), s), zone[pair], shelter[pair]))
        order = np.lexsort((shelter[~pair], zone[~pair]))
        zones, counts = np.unique(zone[~pair][order], return_counts=True)
        self.cover_parts.append((np.full(len(zones), s), zones, np.full(len(zones), -1)))
        self.cover_sets.append((counts, shelter[~pair][order]))


def prepare(instance: Instance, ceilings: np.ndarray | None = None, *,
            limits_from: Instance | None = None) -> ModelData:
    """Reachability and scaling, computed once per instance (no Pyomo here).

    ``ceilings`` (per scenario, see :func:`optimizer.evaluation.recourse.ceilings`) are
    computed here when the objective needs them (relative) and none are given.
    ``limits_from`` is the instance whose scenarios bound what stock is useful
    (models.limits), when ``instance`` holds only some of them (a decomposition master holds
    none).
    """
    if ceilings is None and SPECS[instance.objective.kind].measure == "relative":
        from optimizer.evaluation.recourse import ceilings as ceiling_values

        ceilings = ceiling_values(instance)
    om = instance.commodity_weights
    reach = scenario_pairs(instance)
    flows = _Flows(instance)
    for s, (scenario, r) in enumerate(zip(instance.scenarios, reach, strict=True)):
        flows.add(s, scenario, r, om)
    g_parts, v_parts, cover_parts, cover_sets = (flows.g_parts, flows.v_parts,
                                                 flows.cover_parts, flows.cover_sets)
    linked = flows.linked

    def stack(parts: list[tuple[np.ndarray, ...]], n: int) -> list[np.ndarray]:
        if not parts:
            return [np.zeros(0, dtype=np.int64) for _ in range(n)]
        return [np.concatenate([p[c] for p in parts]).astype(np.int64) for c in range(n)]

    g = stack(g_parts, 4)
    pairs_only = stack(v_parts, 3)
    v = stack(v_parts + cover_parts, 3)
    counts = np.concatenate([c for c, _ in cover_sets]) if cover_sets else np.zeros(0)
    upper = limits.stock_upper(limits_from or instance)
    return ModelData(
        instance=instance,
        money_scale=instance.budget if instance.budget > 0 else 1.0,
        reach=reach,
        supply_total=np.array([s.weighted_need(om) for s in instance.scenarios]),
        evacuee_total=np.array([s.evacuees.sum() for s in instance.scenarios]),
        loss_total=np.array([s.economic_loss.sum() for s in instance.scenarios]),
        intact_shelters=intact_shelter_reach(instance),
        g_scenario=g[0], g_depot=g[1], g_zone=g[2], g_commodity=g[3],
        v_scenario=v[0], v_zone=v[1], v_shelter=v[2],
        num_pair_flows=len(pairs_only[0]),
        cover_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        cover_shelter=(np.concatenate([c for _, c in cover_sets]) if cover_sets
                       else np.zeros(0)).astype(np.int64),
        shelter_linked=linked,
        stock_upper=upper, stock_unit=limits.stock_unit(upper),
        stock_integer=limits.integer_stock(instance, upper),
        depot_volume=limits.depot_volume(instance, upper),
        ceilings=None if ceilings is None else np.asarray(ceilings, dtype=float),
    )


def shelter_row_evacuees(md: ModelData, row: np.ndarray | None = None) -> np.ndarray:
    """Evacuees who can reach the shelter of each shelter-capacity row (one per (s, h) with
    flows, keys ascending): what caps the row's coefficients. Both builders read this, so
    both sum in the same order. ``row``: each shelter flow's row, when already known."""
    H = len(md.instance.shelters)
    P = md.num_pair_flows
    if P == 0:
        return np.zeros(0)
    if row is None:
        _, row = np.unique(md.v_scenario[:P] * H + md.v_shelter[:P], return_inverse=True)
    evacuees = np.stack([sc.evacuees for sc in md.instance.scenarios])
    out = np.zeros(int(row.max()) + 1)
    np.add.at(out, row, evacuees[md.v_scenario[:P], md.v_zone[:P]])
    return out


def linked_shelter_rows(md: ModelData) -> np.ndarray:
    """Per shelter-capacity row (one per (s, h) with pair flows, keys ascending): whether
    its shelter is linked (``ModelData.shelter_linked``), so that the row is written flow
    by flow (add_shelter_link, add_shelter_cover) instead. Both builders read this."""
    H = len(md.instance.shelters)
    P = md.num_pair_flows
    if P == 0:
        return np.zeros(0, dtype=bool)
    s, h = np.divmod(np.unique(md.v_scenario[:P] * H + md.v_shelter[:P]), H)
    return md.shelter_linked[s, h]


def linked_pair_flows(md: ModelData) -> np.ndarray:
    """Pair flows (ascending) whose shelter is linked in their scenario: add_shelter_link."""
    P = md.num_pair_flows
    return np.flatnonzero(md.shelter_linked[md.v_scenario[:P], md.v_shelter[:P]]) if P \
        else np.zeros(0, dtype=np.int64)


def _groups(keys: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(key, member indices) for each distinct key, keys ascending."""
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
    return [(int(sorted_keys[c[0]]), order_part)
            for c, order_part in zip(np.split(np.arange(len(keys)), cuts),
                                     np.split(order, cuts), strict=True)]


# --------------------------------------------------------------------------- first stage


def add_first_stage_variables(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Decisions taken before the event.

    y_d \in \{0,1\} open depot d (fixed to 1 when it exists);
    x_{dk} \ge 0 commodity k bought for depot d, in lots of u_{dk} units (1 but at extreme
    magnitudes, models.limits); integer unless the instance says otherwise or the stock
    exceeds INTEGER_STOCK_LIMIT; at most what is useful, X_{dk} / u_{dk}
    (models.limits.stock_upper);
    z_h \in \{0,1\} open shelter h (fixed to 1 when it exists);
    m_h \in \{0..U_h\} capacity modules;
    pool \in [0, P_{max}/M] compensation pool as a share of the money scale M.
    """
    import pyomo.environ as pyo
    inst = md.instance
    D, K, H = len(inst.depots), len(inst.commodities), len(inst.shelters)
    m.D, m.K, m.H = pyo.RangeSet(0, D - 1), pyo.RangeSet(0, K - 1), pyo.RangeSet(0, H - 1)
    m.S = pyo.RangeSet(0, md.num_scenarios - 1)
    m.y = pyo.Var(m.D, domain=pyo.Binary)

    def stock_domain(_m: pyo.ConcreteModel, d: int, k: int) -> pyo.Set:
        return pyo.NonNegativeIntegers if md.stock_integer[d, k] else pyo.NonNegativeReals

    def stock_bounds(_m: pyo.ConcreteModel, d: int, k: int) -> tuple[float, float]:
        return (0.0, float(md.stock_upper[d, k] / md.stock_unit[d, k]))

    m.x = pyo.Var(m.D, m.K, domain=stock_domain, bounds=stock_bounds)
    m.z = pyo.Var(m.H, domain=pyo.Binary)
    m.modules = pyo.Var(m.H, domain=pyo.NonNegativeIntegers,
                        bounds=lambda _m, h: (0, inst.shelters[h].max_modules))
    m.pool = pyo.Var(bounds=(0.0, inst.max_pool / md.money_scale))
    for d, depot in enumerate(inst.depots):
        if depot.existing:
            m.y[d].fix(1)
    for h, shelter in enumerate(inst.shelters):
        if shelter.existing:
            m.z[h].fix(1)


def add_cost(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Total first-stage cost as a share of the money scale M, and the budget.

    cost = (\sum_{d \notin existing} F_d y_d + \sum_{dk} c_{dk} x_{dk}
            + \sum_{h \notin existing} G_h z_h + \sum_h Q_h m_h) / M + pool
    cost \le Bud / M
    Existing facilities cost nothing to keep open.
    """
    import pyomo.environ as pyo
    inst, M = md.instance, md.money_scale
    m.cost = pyo.Var(bounds=(0.0, None))
    expr = m.pool + sum(
        (0 if d.existing else d.fixed_cost / M) * m.y[j]
        + sum(d.unit_cost[k] * float(md.stock_unit[j, k]) / M * m.x[j, k]
              for k in m.K if d.unit_cost[k] > 0)
        for j, d in enumerate(inst.depots)
    ) + sum(
        (0 if h.existing else h.fixed_cost / M) * m.z[j] + h.module_cost / M * m.modules[j]
        for j, h in enumerate(inst.shelters)
    )
    m.cost_definition = pyo.Constraint(expr=m.cost == expr)
    m.budget = pyo.Constraint(expr=m.cost <= inst.budget / M)


def add_depot_capacity(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Volume capacity of a depot, scaled by the capacity it is written with, V_d: the
    capacity C_d, or the volume of what it holds and can usefully buy when that is less
    (models.limits.depot_volume; with y_d = 1 the row then follows from the bounds).

    \sum_k (vol_k u_{dk} / V_d) x_{dk} \le y_d - \sum_k vol_k existing_{dk} / V_d
    (a depot with V_d = 0 has x_{dk} \le 0 by its bounds and no row).
    """
    import pyomo.environ as pyo
    inst = md.instance

    def rule(_m: pyo.ConcreteModel, d: int) -> pyo.Expression:
        depot = inst.depots[d]
        volume = float(md.depot_volume[d])
        if volume <= 0:
            return pyo.Constraint.Skip
        existing = sum(c.unit_volume * q for c, q in
                       zip(inst.commodities, depot.existing_stock, strict=True))
        return sum(c.unit_volume * float(md.stock_unit[d, k]) / volume * m.x[d, k]
                   for k, c in enumerate(inst.commodities)) <= (
            m.y[d] - existing / volume)

    m.depot_capacity = pyo.Constraint(m.D, rule=rule)


def add_shelter_modules(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Modules only at open shelters: m_h \le U_h z_h."""
    import pyomo.environ as pyo
    inst = md.instance
    m.shelter_modules = pyo.Constraint(
        m.H, rule=lambda _m, h: m.modules[h] <= inst.shelters[h].max_modules * m.z[h]
        if inst.shelters[h].max_modules > 0 else pyo.Constraint.Skip)


def add_shelter_redundancy(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Institutional policy: every zone with people has r open shelters within reach.

    \sum_{h : dist(i, h) \le evacuation\_reach} z_h \ge r   for every i with pop_i > 0,
    distances on the intact network.
    """
    import pyomo.environ as pyo
    inst = md.instance
    r = inst.policy.shelter_redundancy
    zones = [i for i in range(inst.network.num_nodes) if inst.network.population[i] > 0]
    if r <= 0:
        zones = []

    def rule(_m: pyo.ConcreteModel, i: int) -> pyo.Expression:
        near = np.flatnonzero(md.intact_shelters[i])
        return sum(m.z[int(h)] for h in near) >= r

    m.shelter_redundancy = pyo.Constraint(zones, rule=rule)


# -------------------------------------------------------------------------- second stage


def add_recourse_variables(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Second-stage flows, only for reachable pairs, in scaled units.

    g_j = om_k g_{sdik} / Q_s (supply of commodity k from depot d to zone i in scenario s,
    for reachable (d, i) with q_{sik} > 0); v_j = v_{sih} / E_s (evacuees of zone i sheltered
    at h, for reachable (i, h) with e_{si} > 0; a zone whose reachable shelters are all
    linked has one cover flow, its evacuees sheltered at any of them, add_shelter_cover);
    econ_s \in [0, 1] compensation paid as a share of L_s; r_s \in [0, 1] the resilience of
    scenario s.
    """
    import pyomo.environ as pyo
    m.G = pyo.RangeSet(0, len(md.g_scenario) - 1)
    m.V = pyo.RangeSet(0, len(md.v_scenario) - 1)
    m.g = pyo.Var(m.G, bounds=(0.0, None))
    m.v = pyo.Var(m.V, bounds=(0.0, None))
    m.econ = pyo.Var(m.S, bounds=(0.0, 1.0))
    m.r = pyo.Var(m.S, bounds=(0.0, 1.0))


def add_depot_stock(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""A depot ships at most what survives of its stock.

    \sum_i g_{sdik} \le (1 - loss_{sd}) (om_k / Q_s) (u_{dk} x_{dk} + existing_{dk})
    """
    import pyomo.environ as pyo
    inst = md.instance
    D, K = len(inst.depots), len(inst.commodities)
    om = inst.commodity_weights
    key = (md.g_scenario * D + md.g_depot) * K + md.g_commodity
    rows = _groups(key)

    def rule(_m: pyo.ConcreteModel, row: int) -> pyo.Expression:
        flat, members = rows[row]
        s, rest = divmod(flat, D * K)
        d, k = divmod(rest, K)
        scenario = inst.scenarios[s]
        coef = (1 - scenario.depot_loss[d]) * om[k] / md.supply_total[s]
        existing = coef * inst.depots[d].existing_stock[k]
        return sum(m.g[int(j)] for j in members) - (
            coef * float(md.stock_unit[d, k]) * m.x[d, k]) <= existing

    m.depot_stock = pyo.Constraint(range(len(rows)), rule=rule)


def add_zone_need(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""A zone receives at most what it needs: \sum_d g_{sdik} \le om_k q_{sik} / Q_s."""
    import pyomo.environ as pyo
    inst = md.instance
    N, K = inst.network.num_nodes, len(inst.commodities)
    om = inst.commodity_weights
    key = (md.g_scenario * N + md.g_zone) * K + md.g_commodity
    rows = _groups(key)

    def rule(_m: pyo.ConcreteModel, row: int) -> pyo.Expression:
        flat, members = rows[row]
        s, rest = divmod(flat, N * K)
        i, k = divmod(rest, K)
        need = om[k] * inst.scenarios[s].need[i, k] / md.supply_total[s]
        return sum(m.g[int(j)] for j in members) <= need

    m.zone_need = pyo.Constraint(range(len(rows)), rule=rule)


def add_zone_evacuees(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""A zone shelters at most its evacuees: \sum_h v_{sih} \le e_{si} / E_s."""
    import pyomo.environ as pyo
    inst = md.instance
    N = inst.network.num_nodes
    rows = _groups(md.v_scenario * N + md.v_zone)

    def rule(_m: pyo.ConcreteModel, row: int) -> pyo.Expression:
        flat, members = rows[row]
        s, i = divmod(flat, N)
        return sum(m.v[int(j)] for j in members) <= (
            inst.scenarios[s].evacuees[i] / md.evacuee_total[s])

    m.zone_evacuees = pyo.Constraint(range(len(rows)), rule=rule)


def add_shelter_capacity(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""A shelter takes at most what survives of its capacity.

    \sum_i v_{sih} \le (min(k B_h, e_{sh}) z_h + min(k M_h, e_{sh}) m_h) / E_s,
    k = 1 - loss_{sh}, e_{sh} the evacuees who can reach h in s: places beyond those are
    never filled, and a larger coefficient would let a sliver of z_h (an integer to the
    solver) shelter everyone (models.limits). A row where k B_h >= e_sh at a shelter that
    is not existing is written flow by flow instead (add_shelter_link).
    """
    import pyomo.environ as pyo
    inst = md.instance
    H = len(inst.shelters)
    P = md.num_pair_flows
    rows = _groups(md.v_scenario[:P] * H + md.v_shelter[:P])
    reachable = shelter_row_evacuees(md)
    linked = linked_shelter_rows(md)

    def rule(_m: pyo.ConcreteModel, row: int) -> pyo.Expression:
        if linked[row]:  # written flow by flow in add_shelter_link
            return pyo.Constraint.Skip
        flat, members = rows[row]
        s, h = divmod(flat, H)
        shelter = inst.shelters[h]
        scenario = inst.scenarios[s]
        reach = float(reachable[row])
        keep = 1 - scenario.shelter_loss[h]
        total = md.evacuee_total[s]
        capacity = min(keep * shelter.capacity, reach) / total * m.z[h]
        if shelter.max_modules > 0 and shelter.module_size > 0:
            capacity = capacity + min(keep * shelter.module_size, reach) / total * m.modules[h]
        return sum(m.v[int(j)] for j in members) <= capacity

    m.shelter_capacity = pyo.Constraint(range(len(rows)), rule=rule)


def add_shelter_link(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""A linked shelter (``ModelData.shelter_linked``: not existing, and what survives of
    its base capacity takes everyone who can reach it) binds only through z_h: for each of
    its pair flows,

    v_{sih} \le (e_{si} / E_s) z_h

    in place of its add_shelter_capacity row. The rows sum to that row (the same plans),
    and give the LP relaxation of a covering problem, a zone sheltered at most as far as
    its shelters are open, where the summed row lets a fraction of z_h shelter the zones of
    its choice.
    """
    import pyomo.environ as pyo
    inst = md.instance

    def rule(_m: pyo.ConcreteModel, j: int) -> pyo.Expression:
        s, i, h = int(md.v_scenario[j]), int(md.v_zone[j]), int(md.v_shelter[j])
        share = float(inst.scenarios[s].evacuees[i] / md.evacuee_total[s])
        return m.v[j] <= share * m.z[h]

    m.shelter_link = pyo.Constraint([int(j) for j in linked_pair_flows(md)], rule=rule)


def add_shelter_cover(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""A zone whose reachable shelters N_{si} are all linked has one cover flow v_j
    (ModelData): it is sheltered as far as one of them is open,

    v_j \le (e_{si} / E_s) \sum_{h \in N_{si}} z_h

    (with v_j \le e_{si} / E_s from add_zone_evacuees): the textbook covering row. Its flows
    to those shelters, each at most (e_{si} / E_s) z_h (add_shelter_link) and at most
    e_{si} / E_s in all, sum to exactly these values, so the plans, R_s and even the LP
    relaxation are those of the flows, with one column and one row for the zone.
    """
    import pyomo.environ as pyo
    inst = md.instance
    P = md.num_pair_flows

    def rule(_m: pyo.ConcreteModel, j: int) -> pyo.Expression:
        s, i = int(md.v_scenario[j]), int(md.v_zone[j])
        share = float(inst.scenarios[s].evacuees[i] / md.evacuee_total[s])
        c = j - P
        shelters = md.cover_shelter[md.cover_ptr[c]:md.cover_ptr[c + 1]]
        return m.v[j] <= share * sum(m.z[int(h)] for h in shelters)

    m.shelter_cover = pyo.Constraint(range(P, len(md.v_scenario)), rule=rule)


def add_compensation(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Compensation paid in a scenario comes out of the pool.

    econ_s \le pool M / L_s (with econ_s \le 1 by its bounds). Any split of the payment
    over zones with comp_{si} \le L_{si} reaches min(P, L_s), so the per-zone variables of
    section 2 reduce to this one share per scenario.
    """
    import pyomo.environ as pyo
    loss = md.loss_total

    def rule(_m: pyo.ConcreteModel, s: int) -> pyo.Expression:
        if loss[s] <= 0:
            return pyo.Constraint.Skip
        return m.econ[s] <= md.money_scale / loss[s] * m.pool

    m.compensation = pyo.Constraint(m.S, rule=rule)


def add_resilience(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""Resilience of each scenario.

    r_s = w_sup \sum g_{s.} + w_sh \sum v_{s.} + w_eco econ_s,
    where a term whose scenario total (Q_s, E_s or L_s) is 0 counts as 1.
    """
    import pyomo.environ as pyo
    w = md.instance.weights
    g_rows = dict(_groups(md.g_scenario))
    v_rows = dict(_groups(md.v_scenario))

    def rule(_m: pyo.ConcreteModel, s: int) -> pyo.Expression:
        supply = (sum(m.g[int(j)] for j in g_rows.get(s, ())) if md.supply_total[s] > 0
                  else 1.0)
        shelter = (sum(m.v[int(j)] for j in v_rows.get(s, ())) if md.evacuee_total[s] > 0
                   else 1.0)
        economic = m.econ[s] if md.loss_total[s] > 0 else 1.0
        return m.r[s] == w.supply * supply + w.shelter * shelter + w.economic * economic

    m.resilience = pyo.Constraint(m.S, rule=rule)


# ---------------------------------------------------------------------------- objectives


def add_objectives(m: pyo.ConcreteModel, md: ModelData) -> None:
    r"""The objective of the instance, and the tie-breaks that follow it (deactivated).

    The objective's rows and expression are its spec's (:mod:`models.objectives`):
    worst_case: max t; relative: max t with ceil_s t \le r_s; expected: max \sum_s p_s r_s;
    cvar: max CVaR_alpha; min_cost: min cost subject to r_s \ge T for every s.
    Tie-breaks, solved in order after the primary objective is held at its optimum:
    ``tiebreak_expected`` (max \sum_s p_s r_s) and ``tiebreak_cost`` (min cost).
    """
    import pyomo.environ as pyo
    spec = SPECS[md.instance.objective.kind]
    sense = pyo.maximize if MEASURES[spec.measure].maximise else pyo.minimize
    m.objective = pyo.Objective(expr=spec.pyomo(m, md), sense=sense)
    m.tiebreak_expected = pyo.Objective(expr=expected_resilience(m, md), sense=pyo.maximize)
    m.tiebreak_cost = pyo.Objective(expr=m.cost, sense=pyo.minimize)
    m.tiebreak_expected.deactivate()
    m.tiebreak_cost.deactivate()


def tiebreaks(kind: ObjectiveKind) -> tuple[str, ...]:
    """Names of the tie-break objectives compiled with the primary (design section 2;
    ``optimizer.stages`` decides which run, and adds the leximin levels between)."""
    return SPECS[kind].tiebreaks


CONSTRAINT_FAMILIES = (
    add_cost,
    add_depot_capacity,
    add_shelter_modules,
    add_shelter_redundancy,
    add_depot_stock,
    add_zone_need,
    add_zone_evacuees,
    add_shelter_capacity,
    add_shelter_link,
    add_shelter_cover,
    add_compensation,
    add_resilience,
)


def build_model(md: ModelData) -> pyo.ConcreteModel:
    """The extensive form over every scenario of ``md``."""
    import pyomo.environ as pyo
    m = pyo.ConcreteModel(name=md.instance.name)
    add_first_stage_variables(m, md)
    add_recourse_variables(m, md)
    for add in CONSTRAINT_FAMILIES:
        add(m, md)
    add_objectives(m, md)
    return m
