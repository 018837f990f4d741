"""The engine's optima against exhaustive enumeration on tiny random instances.

The brute force uses neither Pyomo nor HiGHS. It enumerates every first stage (open
depots, whole units of stock within capacity, open shelters, modules) that fits the budget
and the shelter redundancy policy, and scores each with the independent max-flow
evaluator ``optimizer.evaluation.evaluate.evaluate_plan``. The compensation pool is chosen in closed
form: for the resilience objectives it is all the money left, capped by ``max_pool`` (more
pool never lowers any R_s); for ``min_cost`` it is the least pool that lifts every scenario
to the target, from R_s(P) = base_s + w_eco * min(P, L_s) / L_s.

Supply depends only on the depots and sheltering only on the shelters, so each depot
configuration and each shelter configuration is evaluated once and the terms are combined
by arithmetic; the winning plans are then re-evaluated whole, to check that shortcut.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pytest
from helpers import WEIGHT_CHOICES, build, lower_tail_mean, with_objective

from optimizer.errors import InfeasibleError
from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.extensive import solve

TOL = 1e-6
EXACT = SolveOptions(mip_gap=0)
SEEDS = range(50)


# ------------------------------------------------------------------------ tiny instances


def tiny_random_doc(seed: int) -> dict[str, Any]:
    """3-6 nodes, 2 depots holding 0..4 units, 1-2 shelters, 1-2 commodities, 2-3 scenarios."""
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(3, 7))
    ids = [f"v{i}" for i in range(n)]
    edges = []
    for v in range(1, n):
        u = int(rng.integers(0, v))
        edges.append({"id": f"r{u}_{v}", "from": ids[u], "to": ids[v],
                      "length": float(rng.integers(1, 3))})
    if n > 3 and rng.random() < 0.5:
        edges.append({"id": "chord", "from": ids[0], "to": ids[n - 1], "length": 2.0})
    nodes = [{"id": ids[i], "population": float(rng.integers(0, 7)),
              "economic_exposure": float(rng.integers(0, 12))} for i in range(n)]
    nodes[0]["population"] = max(nodes[0]["population"], 2.0)
    k = int(rng.integers(1, 3))
    commodities = [{"id": f"c{j}", "per_capita_need": float(rng.choice([0.5, 1.0])),
                    "unit_volume": 1.0 if j == 0 else float(rng.choice([1.0, 2.0])),
                    "weight": float(rng.choice([1.0, 2.0]))} for j in range(k)]
    depots = []
    for j, v in enumerate(rng.choice(n, size=2, replace=False)):
        depot: dict[str, Any] = {
            "id": f"d{j}", "node": ids[int(v)], "fixed_cost": float(rng.integers(0, 4)),
            "capacity": float(rng.integers(0, 5)),
            "unit_cost": {c["id"]: float(rng.choice([1.0, 2.0])) for c in commodities}}
        if rng.random() < 0.2:
            depot["existing"] = True
            if depot["capacity"] >= 1:
                depot["existing_stock"] = {"c0": 1.0}
        depots.append(depot)
    shelters = []
    for j, v in enumerate(rng.choice(n, size=int(rng.integers(1, 3)), replace=False)):
        shelters.append({
            "id": f"h{j}", "node": ids[int(v)], "fixed_cost": float(rng.integers(1, 5)),
            "capacity": float(rng.integers(0, 5)), "module_size": float(rng.integers(1, 4)),
            "module_cost": float(rng.integers(1, 3)), "max_modules": int(rng.integers(0, 2)),
            "existing": bool(rng.random() < 0.15)})
    weights = WEIGHT_CHOICES[int(rng.integers(len(WEIGHT_CHOICES)))]
    evacuation_reach = float(rng.integers(1, 4))
    redundancy = int(rng.choice([0, 0, 1, 2])) if len(shelters) == 2 else int(rng.random() < 0.3)
    if redundancy:
        # The smallest reach at which every populated zone sees r candidate shelters: the
        # policy can be met with everything open, and some zones sit exactly at the limit.
        graph = nx.Graph()
        graph.add_nodes_from(ids)
        graph.add_weighted_edges_from((e["from"], e["to"], e["length"]) for e in edges)
        dist = [nx.single_source_dijkstra_path_length(graph, h["node"]) for h in shelters]
        evacuation_reach = max(sorted(d[v["id"]] for d in dist)[redundancy - 1]
                               for v in nodes if v["population"] > 0)
    s_count = int(rng.integers(2, 4))
    probabilities = [0.5, 0.5] if s_count == 2 else [0.5, 0.3, 0.2]
    scenarios = []
    for s in range(s_count):
        affected = {ids[i]: float(rng.choice([0.5, 1.0])) for i in range(n)
                    if rng.random() < 0.6}
        scenarios.append({
            "id": f"s{s}", "probability": probabilities[s],
            "failed_edges": [e["id"] for e in edges if rng.random() < 0.3],
            "depot_loss": {d["id"]: 0.5 for d in depots if rng.random() < 0.2},
            "shelter_loss": {h["id"]: 0.5 for h in shelters if rng.random() < 0.2},
            "affected": affected or {ids[0]: 1.0},
            "evacuation_rate": float(rng.choice([0.5, 1.0])),
            "economic_loss_rate": float(rng.choice([0.5, 1.0])),
        })
    return {
        "name": f"brute_{seed}",
        "network": {"nodes": nodes, "edges": edges},
        "commodities": commodities,
        "depots": depots,
        "shelters": shelters,
        "compensation": {"max_pool": float(rng.integers(0, 9))},
        "budget": float(rng.integers(3, 15)),
        "policy": {"supply_reach": float(rng.integers(1, 4)),
                   "evacuation_reach": float(evacuation_reach),
                   "shelter_redundancy": redundancy,
                   "integer_stock": True},
        "resilience": {"weights": dict(zip(("supply", "shelter", "economic"), weights,
                                           strict=True))},
        "scenarios": scenarios,
    }


# --------------------------------------------------------------------------- brute force


@dataclass(frozen=True)
class DepotConfig:
    open: tuple[bool, ...]
    stock: np.ndarray  # (D, K)
    cost: float


@dataclass(frozen=True)
class ShelterConfig:
    open: tuple[bool, ...]
    modules: tuple[int, ...]
    cost: float


def depot_configs(instance: Instance) -> list[DepotConfig]:
    """Every (open, whole-unit stock) choice for every depot, costed."""
    volume = np.array([c.unit_volume for c in instance.commodities])
    per_depot = []
    for d in instance.depots:
        choices: list[tuple[bool, tuple[int, ...], float]] = []
        if not d.existing:
            choices.append((False, (0,) * len(volume), 0.0))
        room = d.capacity - float(np.dot(volume, d.existing_stock))
        ranges = [range(int(np.floor(d.capacity / v + 1e-9)) + 1) for v in volume]
        for x in itertools.product(*ranges):
            if float(np.dot(volume, x)) <= room + 1e-9:
                cost = (0.0 if d.existing else d.fixed_cost) + float(np.dot(d.unit_cost, x))
                choices.append((True, x, cost))
        per_depot.append(choices)
    return [DepotConfig(tuple(c[0] for c in combo), np.array([c[1] for c in combo], float),
                        sum(c[2] for c in combo))
            for combo in itertools.product(*per_depot)]


def shelter_configs(instance: Instance) -> list[ShelterConfig]:
    """Every (open, modules) choice for every shelter that the redundancy policy allows."""
    per_shelter = []
    for h in instance.shelters:
        choices = [] if h.existing else [(False, 0, 0.0)]
        fixed = 0.0 if h.existing else h.fixed_cost
        choices += [(True, m, fixed + h.module_cost * m) for m in range(h.max_modules + 1)]
        per_shelter.append(choices)
    covers = intact_cover(instance)
    r = instance.policy.shelter_redundancy
    out = []
    for combo in itertools.product(*per_shelter):
        is_open = np.array([c[0] for c in combo], dtype=bool)
        if r > 0 and (covers[:, is_open].sum(axis=1) < r).any():
            continue
        out.append(ShelterConfig(tuple(bool(o) for o in is_open), tuple(c[1] for c in combo),
                                 sum(c[2] for c in combo)))
    return out


def intact_cover(instance: Instance) -> np.ndarray:
    """(populated zones, H) bool: shelter h within evacuation reach on the intact network."""
    net = instance.network
    graph = nx.Graph()
    graph.add_nodes_from(range(net.num_nodes))
    for u, v, length in zip(net.edge_from, net.edge_to, net.edge_length, strict=True):
        graph.add_edge(int(u), int(v), length=float(length))
    zones = np.flatnonzero(net.population > 0)
    cover = np.zeros((len(zones), len(instance.shelters)), dtype=bool)
    for j, h in enumerate(instance.shelters):
        dist = nx.single_source_dijkstra_path_length(graph, h.node, weight="length")
        for row, i in enumerate(zones):
            cover[row, j] = dist.get(int(i), np.inf) <= instance.policy.evacuation_reach
    return cover


def plan_of(instance: Instance, dc: DepotConfig, hc: ShelterConfig, pool: float) -> Plan:
    return Plan(open_depots=dc.open, stock=dc.stock, open_shelters=hc.open,
                modules=hc.modules, compensation_pool=pool)


@dataclass(frozen=True)
class Enumeration:
    """Every feasible first stage (pool aside) with its supply and shelter shares."""

    depots: list[DepotConfig]
    shelters: list[ShelterConfig]
    cost: np.ndarray  # (Dc, Hc) cost without the pool; inf when over budget
    base: np.ndarray  # (Dc, Hc, S) w_sup * supply + w_sh * shelter
    loss: np.ndarray  # (S,) L_s


def enumerate_plans(instance: Instance) -> Enumeration:
    depots = depot_configs(instance)
    shelters = shelter_configs(instance)
    w = instance.weights
    nothing = Plan.nothing(instance)
    supply = np.array([[o.supply for o in evaluate_plan(instance, Plan(
        dc.open, dc.stock, nothing.open_shelters, nothing.modules, 0.0))] for dc in depots])
    shelter = np.array([[o.shelter for o in evaluate_plan(instance, Plan(
        nothing.open_depots, nothing.stock, hc.open, hc.modules, 0.0))] for hc in shelters])
    supply = supply.reshape(len(depots), len(instance.scenarios))
    shelter = shelter.reshape(len(shelters), len(instance.scenarios))
    cost = np.array([dc.cost for dc in depots])[:, None] + np.array(
        [hc.cost for hc in shelters])[None, :]
    cost = np.where(cost <= instance.budget + 1e-9, cost, np.inf)
    base = w.supply * supply[:, None, :] + w.shelter * shelter[None, :, :]
    loss = np.array([s.economic_loss.sum() for s in instance.scenarios])
    return Enumeration(depots, shelters, cost, base, loss)


def economic_share(pool: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """min(P, L_s) / L_s, 1 where nothing is lost; ``pool`` broadcasts over scenarios."""
    safe = np.where(loss > 0, loss, 1.0)
    return np.where(loss > 0, np.minimum(pool[..., None], loss) / safe, 1.0)


@dataclass(frozen=True)
class Best:
    value: float
    plan: Plan | None
    resilience: np.ndarray | None


def best_resilience(instance: Instance, e: Enumeration) -> Best:
    """The best plan for a resilience objective: all money left goes to the pool."""
    feasible = np.isfinite(e.cost)
    if not feasible.size or not feasible.any():
        return Best(-np.inf, None, None)
    pool = np.where(feasible, np.minimum(instance.max_pool,
                                         instance.budget - np.where(feasible, e.cost, 0)), 0)
    pool = np.maximum(pool, 0.0)
    r = e.base + instance.weights.economic * economic_share(pool, e.loss)  # (Dc, Hc, S)
    p = instance.probabilities
    kind, alpha = instance.objective.kind, instance.objective.alpha
    if kind is ObjectiveKind.WORST_CASE:
        score = r.min(axis=2)
    elif kind is ObjectiveKind.EXPECTED:
        score = r @ p
    else:
        score = np.array([[lower_tail_mean(r[a, b], p, alpha) for b in range(r.shape[1])]
                          for a in range(r.shape[0])])
    score = np.where(feasible, score, -np.inf)
    a, b = np.unravel_index(int(np.argmax(score)), score.shape)
    plan = plan_of(instance, e.depots[a], e.shelters[b], float(pool[a, b]))
    return Best(float(score[a, b]), plan, r[a, b])


def cheapest_reaching(instance: Instance, e: Enumeration, target: float) -> Best:
    """min_cost: the cheapest plan, pool included, whose every R_s reaches ``target``."""
    w_eco = instance.weights.economic
    short = np.maximum(target - e.base, 0.0)  # (Dc, Hc, S) what the pool must make up
    has_loss = e.loss > 0
    if w_eco > 0:
        needed = np.where(has_loss, short / w_eco * e.loss, 0.0)
        reachable = np.where(has_loss, short <= w_eco * (1 + 1e-12),
                             e.base + w_eco >= target - 1e-12)
    else:
        needed = np.zeros_like(short)
        reachable = e.base >= target - 1e-12
    if not e.cost.size:
        return Best(np.inf, None, None)
    pool = needed.max(axis=2)
    ok = (reachable.all(axis=2) & np.isfinite(e.cost) & (pool <= instance.max_pool + 1e-9)
          & (np.where(np.isfinite(e.cost), e.cost, 0) + pool <= instance.budget + 1e-9))
    total = np.where(ok, e.cost + pool, np.inf)
    if not ok.any():
        return Best(np.inf, None, None)
    a, b = np.unravel_index(int(np.argmin(total)), total.shape)
    plan = plan_of(instance, e.depots[a], e.shelters[b], float(pool[a, b]))
    return Best(float(total[a, b]), plan, None)


@functools.cache
def case(seed: int) -> tuple[Instance, Enumeration]:
    instance = build(tiny_random_doc(seed))
    return instance, enumerate_plans(instance)


def money_tol(instance: Instance) -> float:
    """Money within the resilience tolerance: a unit of pool moves R_s by w_eco / L_s."""
    loss = max((s.economic_loss.sum() for s in instance.scenarios), default=1.0)
    return TOL * max(1.0, instance.budget, loss / max(instance.weights.economic, 1e-3))


# --------------------------------------------------------------------------------- tests


def test_the_instances_are_varied() -> None:
    """The seeds cover what the enumeration is for: a binding budget, pools, policies."""
    instances = [case(seed)[0] for seed in SEEDS]
    assert any(i.policy.shelter_redundancy > 0 for i in instances)
    assert any(len(i.commodities) == 2 for i in instances)
    assert any(any(d.existing for d in i.depots) for i in instances)
    assert any(i.max_pool > 0 and i.weights.economic > 0 for i in instances)
    assert any(len(i.scenarios) == 3 for i in instances)
    assert any(any(h.max_modules > 0 for h in i.shelters) for i in instances)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("kind", "alpha"), [(ObjectiveKind.WORST_CASE, None),
                                             (ObjectiveKind.EXPECTED, None),
                                             (ObjectiveKind.CVAR, 0.3),
                                             (ObjectiveKind.CVAR, 0.75)])
def test_resilience_optimum_matches_enumeration(seed: int, kind: ObjectiveKind,
                                                alpha: float | None) -> None:
    base, enumeration = case(seed)
    instance = with_objective(base, kind, alpha=alpha)
    best = best_resilience(instance, enumeration)
    if best.plan is None:
        with pytest.raises(InfeasibleError):
            solve(instance, EXACT)
        return
    # The decomposed scoring must agree with evaluating the winning plan whole.
    whole = np.array([o.resilience for o in evaluate_plan(instance, best.plan)])
    assert whole == pytest.approx(best.resilience, abs=1e-9)

    solution = solve(instance, EXACT)
    assert solution.objective_value == pytest.approx(best.value, abs=TOL), (
        f"brute force plan {best.plan} reaches {best.value}")
    # The engine's plan is a plan the enumeration knows: within budget and worth its value.
    assert solution.plan is not None
    assert plan_cost(instance, solution.plan).total <= instance.budget + money_tol(instance)
    evaluated = np.array([o.resilience for o in evaluate_plan(instance, solution.plan)])
    assert evaluated == pytest.approx([o.resilience for o in solution.outcomes or []], abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_min_cost_matches_enumeration(seed: int) -> None:
    base, enumeration = case(seed)
    worst = best_resilience(with_objective(base, ObjectiveKind.WORST_CASE), enumeration)
    if worst.plan is None:  # no plan fits the budget and the policy: no target can be met
        with pytest.raises(InfeasibleError):
            solve(with_objective(base, ObjectiveKind.MIN_COST, target=0.0), EXACT)
        return
    # A target the best plan beats, so that reaching it more cheaply is a real choice.
    target = round(0.8 * worst.value, 6)
    instance = with_objective(base, ObjectiveKind.MIN_COST, target=target)
    best = cheapest_reaching(instance, enumeration, target)
    assert best.plan is not None  # the worst-case optimum itself reaches the target
    reached = [o.resilience for o in evaluate_plan(instance, best.plan)]
    assert min(reached) >= target - 1e-9

    solution = solve(instance, EXACT)
    assert solution.objective_value == pytest.approx(best.value, abs=money_tol(instance)), (
        f"brute force plan {best.plan} costs {best.value}")
    assert solution.plan is not None
    evaluated = [o.resilience for o in evaluate_plan(instance, solution.plan)]
    assert min(evaluated) >= target - TOL


def ceiling_by_max_flow(instance: Instance) -> np.ndarray:
    """R_s with every depot open and full of each commodity, every shelter open with every
    module and the largest pool, scored by networkx maximum flow (not the engine's LPs)."""
    stock = np.array([[d.capacity / c.unit_volume for c in instance.commodities]
                      for d in instance.depots], dtype=float)
    plan = Plan(tuple(True for _ in instance.depots),
                stock.reshape(len(instance.depots), len(instance.commodities)),
                tuple(True for _ in instance.shelters),
                tuple(h.max_modules for h in instance.shelters), instance.max_pool)
    return np.array([o.resilience for o in evaluate_plan(instance, plan)])


def lexicographic_by_enumeration(instance: Instance, e: Enumeration,
                                 ceilings: np.ndarray) -> list[tuple[str, float]]:
    """The stage values of design section 2 for worst_case, by enumeration: worst case,
    then the worst case over the scenarios not pinned (level by level), then expected.
    More pool never lowers an R_s, so every stage keeps all the money left in the pool."""
    from optimizer.stages import MAX_LEXIMIN_LEVELS

    feasible = np.isfinite(e.cost)
    pool = np.maximum(np.where(feasible, np.minimum(
        instance.max_pool, instance.budget - np.where(feasible, e.cost, 0)), 0), 0.0)
    r = (e.base + instance.weights.economic * economic_share(pool, e.loss))[feasible]
    keep = np.ones(len(r), dtype=bool)
    stages = []
    among = np.arange(r.shape[1])
    level = 1
    while True:
        score = r[:, among].min(axis=1)
        value = float(np.where(keep, score, -np.inf).max())
        stages.append(("objective" if level == 1 else f"leximin_{level}", value))
        keep &= score >= value - 1e-7
        newly = among[ceilings[among] <= value + 1e-7]
        among = np.setdiff1d(among, newly)
        level += 1
        if not len(newly) or not len(among) or level > MAX_LEXIMIN_LEVELS:
            break
    if r.shape[1] > 1:
        expected = r @ instance.probabilities
        stages.append(("tiebreak_expected", float(np.where(keep, expected, -np.inf).max())))
    return stages


@pytest.mark.parametrize("seed", SEEDS)
def test_every_stage_matches_enumeration(seed: int) -> None:
    """worst_case with its leximin levels and the expected tie-break, stage by stage,
    against the enumeration, with ceilings and pinned scenarios from max flow."""
    instance, enumeration = case(seed)
    if not np.isfinite(enumeration.cost).any():
        return  # no plan: test_resilience_optimum_matches_enumeration covers it
    ceilings = ceiling_by_max_flow(instance)
    expected = lexicographic_by_enumeration(instance, enumeration, ceilings)
    solution = solve(instance, EXACT)
    assert solution.ceilings is not None
    assert solution.ceilings == pytest.approx(ceilings, abs=1e-9)
    got = [(st.objective, st.value) for st in solution.stages
           if st.objective not in ("tiebreak_cost", "recourse")]
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, value), (_, want) in zip(got, expected, strict=True):
        assert value == pytest.approx(want, abs=TOL), name
    worst = expected[0][1]
    assert list(solution.pinned) == [int(s) for s in np.flatnonzero(ceilings <= worst + 1e-7)]


@pytest.mark.parametrize("seed", SEEDS)
def test_relative_optimum_matches_enumeration(seed: int) -> None:
    """relative: max_plan min_s R_s / ceil_s, ceilings by max flow, plans enumerated."""
    base, e = case(seed)
    instance = with_objective(base, ObjectiveKind.RELATIVE)
    feasible = np.isfinite(e.cost)
    if not feasible.any():
        with pytest.raises(InfeasibleError):
            solve(instance, EXACT)
        return
    ceilings = ceiling_by_max_flow(instance)
    pool = np.maximum(np.where(feasible, np.minimum(
        instance.max_pool, instance.budget - np.where(feasible, e.cost, 0)), 0), 0.0)
    r = (e.base + instance.weights.economic * economic_share(pool, e.loss))[feasible]
    ok = ceilings > 1e-9
    best = float(np.minimum(1.0, (r[:, ok] / ceilings[ok]).min(axis=1)).max()) if ok.any() \
        else 1.0
    solution = solve(instance, EXACT)
    assert solution.objective_value == pytest.approx(best, abs=TOL)
    assert solution.status.value == "optimal"
