"""Independent evaluation of a plan: networkx only, no Pyomo, no solver.

Given the first stage, each term of R_s is a maximum flow (design section 2): supply of
commodity k is a flow source -> depot (surviving stock) -> zone within reach (unbounded) ->
sink (need); sheltering is source -> zone (evacuees) -> shelter within reach (unbounded) ->
sink (surviving capacity); compensation is min(P, L_s). The commodities do not interact
once the stock is fixed, so the weighted supply share is maximised commodity by commodity.
Reachability is recomputed here with networkx Dijkstra, apart from the scipy path the
model uses, so a disagreement in either shows up as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from optimizer.callable_module import make_callable
from optimizer.data import Instance, Scenario
from optimizer.outcome import ScenarioOutcome
from optimizer.plan import Plan, plan_cost
from optimizer.reachability import within

FEASIBILITY_TOL = 1e-6


def road_graph(instance: Instance, failed_edges: tuple[int, ...] = ()) -> nx.Graph:
    """The surviving roads as a networkx graph (parallel roads: the shortest)."""
    net = instance.network
    failed = set(failed_edges)
    graph = nx.Graph()
    graph.add_nodes_from(range(net.num_nodes))
    for j in range(net.num_edges):
        if j in failed:
            continue
        u, v, length = int(net.edge_from[j]), int(net.edge_to[j]), float(net.edge_length[j])
        if u == v:
            continue
        if not graph.has_edge(u, v) or graph[u][v]["length"] > length:
            graph.add_edge(u, v, length=length)
    return graph


def _within_reach(graph: nx.Graph, source: int, reach: float) -> dict[int, float]:
    cutoff = None if np.isinf(reach) else reach * (1 + 1e-6) + 1e-6
    dist = nx.single_source_dijkstra_path_length(graph, source, cutoff=cutoff, weight="length")
    return {node: d for node, d in dist.items() if within(d, reach)}


def _max_flow(arcs: list[tuple[str, str, float | None]]) -> tuple[float, dict]:
    graph = nx.DiGraph()
    graph.add_nodes_from(["source", "sink"])
    for u, v, cap in arcs:
        if cap is None:
            graph.add_edge(u, v)  # no capacity attribute: unbounded
        elif cap > 0:
            graph.add_edge(u, v, capacity=cap)
    value, flow = nx.maximum_flow(graph, "source", "sink")
    return float(value), flow


def evaluate_scenario(instance: Instance, plan: Plan, scenario: Scenario,
                      graph: nx.Graph | None = None) -> ScenarioOutcome:
    """R_s of ``plan`` in ``scenario`` by maximum flow."""
    graph = graph if graph is not None else road_graph(instance, scenario.failed_edges)
    N, K = scenario.need.shape
    stock = plan.total_stock(instance) * (1 - scenario.depot_loss)[:, None]
    capacity = plan.shelter_capacity(instance) * (1 - scenario.shelter_loss)
    om = instance.commodity_weights
    policy = instance.policy

    served = [
        _within_reach(graph, d.node, policy.supply_reach) if plan.open_depots[j] else {}
        for j, d in enumerate(instance.depots)
    ]
    unmet_need = scenario.need.copy()
    for k in range(K):
        arcs: list[tuple[str, str, float | None]] = []
        for j in range(len(instance.depots)):
            if stock[j, k] <= 0:
                continue
            arcs.append(("source", f"d{j}", float(stock[j, k])))
            arcs += [(f"d{j}", f"z{i}", None) for i in served[j] if scenario.need[i, k] > 0]
        arcs += [(f"z{i}", "sink", float(scenario.need[i, k]))
                 for i in range(N) if scenario.need[i, k] > 0]
        _, flow = _max_flow(arcs)
        for i in range(N):
            unmet_need[i, k] -= flow.get(f"z{i}", {}).get("sink", 0.0)

    sheltered_at = [
        _within_reach(graph, h.node, policy.evacuation_reach) if plan.open_shelters[j] else {}
        for j, h in enumerate(instance.shelters)
    ]
    arcs = [("source", f"z{i}", float(scenario.evacuees[i]))
            for i in range(N) if scenario.evacuees[i] > 0]
    for j in range(len(instance.shelters)):
        if capacity[j] <= 0:
            continue
        arcs += [(f"z{i}", f"h{j}", None) for i in sheltered_at[j] if scenario.evacuees[i] > 0]
        arcs.append((f"h{j}", "sink", float(capacity[j])))
    _, flow = _max_flow(arcs)
    unmet_evacuees = scenario.evacuees.copy()
    for i in range(N):
        unmet_evacuees[i] -= sum(flow.get(f"z{i}", {}).values())

    total_need = float((scenario.need * om).sum())
    total_evacuees = float(scenario.evacuees.sum())
    total_loss = float(scenario.economic_loss.sum())
    supply = 1.0 - float((unmet_need * om).sum()) / total_need if total_need > 0 else 1.0
    shelter = 1.0 - float(unmet_evacuees.sum()) / total_evacuees if total_evacuees > 0 else 1.0
    economic = min(plan.compensation_pool, total_loss) / total_loss if total_loss > 0 else 1.0
    w = instance.weights
    return ScenarioOutcome(
        supply=supply, shelter=shelter, economic=economic,
        resilience=w.supply * supply + w.shelter * shelter + w.economic * economic,
        unmet_need=np.maximum(unmet_need, 0.0),
        unmet_evacuees=np.maximum(unmet_evacuees, 0.0),
    )


def evaluate_plan(instance: Instance, plan: Plan) -> list[ScenarioOutcome]:
    """Every scenario's outcome under ``plan``, in instance order."""
    graphs: dict[tuple[int, ...], nx.Graph] = {}
    outcomes = []
    for s in instance.scenarios:
        if s.failed_edges not in graphs:
            graphs[s.failed_edges] = road_graph(instance, s.failed_edges)
        outcomes.append(evaluate_scenario(instance, plan, s, graphs[s.failed_edges]))
    return outcomes


def plan_violations(instance: Instance, plan: Plan) -> list[str]:
    """First-stage rules the plan breaks (budget, capacities, modules, policy), in words."""
    problems = []
    cost = plan_cost(instance, plan)
    slack = FEASIBILITY_TOL * max(1.0, instance.budget)
    if cost.total > instance.budget + slack:
        problems.append(f"costs {cost.total:,.2f}, over the budget {instance.budget:,.2f}")
    if plan.compensation_pool > instance.max_pool + slack:
        problems.append(f"compensation pool {plan.compensation_pool:,.2f} is over its maximum "
                        f"{instance.max_pool:,.2f}")
    if plan.compensation_pool < -slack or (plan.stock < -FEASIBILITY_TOL).any():
        problems.append("negative stock or compensation pool")
    volumes = np.array([c.unit_volume for c in instance.commodities])
    totals = plan.total_stock(instance) @ volumes
    for j, d in enumerate(instance.depots):
        if d.existing and not plan.open_depots[j]:
            problems.append(f"depot {d.id!r} exists but the plan closes it")
        if plan.stock[j].sum() > 0 and not plan.open_depots[j]:
            problems.append(f"depot {d.id!r} is closed but the plan stocks it")
        if totals[j] > d.capacity * (1 + FEASIBILITY_TOL) + FEASIBILITY_TOL:
            problems.append(f"depot {d.id!r} holds volume {totals[j]:g}, over its capacity "
                            f"{d.capacity:g}")
    if instance.policy.integer_stock and (np.abs(plan.stock - np.round(plan.stock)) > 1e-6).any():
        problems.append("stock must be whole units (policy.integer_stock)")
    for j, h in enumerate(instance.shelters):
        if h.existing and not plan.open_shelters[j]:
            problems.append(f"shelter {h.id!r} exists but the plan closes it")
        if not 0 <= plan.modules[j] <= (h.max_modules if plan.open_shelters[j] else 0):
            problems.append(f"shelter {h.id!r} has {plan.modules[j]} modules; allowed 0.."
                            f"{h.max_modules if plan.open_shelters[j] else 0}")
    r = instance.policy.shelter_redundancy
    if r > 0:
        graph = road_graph(instance)
        reach = [set(_within_reach(graph, h.node, instance.policy.evacuation_reach))
                 if plan.open_shelters[j] else set() for j, h in enumerate(instance.shelters)]
        short = [instance.network.node_ids[i] for i in range(instance.network.num_nodes)
                 if instance.network.population[i] > 0
                 and sum(i in covered for covered in reach) < r]
        if short:
            problems.append(f"zones with fewer than {r} open shelters within reach: "
                            + ", ".join(short[:10]) + (" ..." if len(short) > 10 else ""))
    return problems


@dataclass(frozen=True)
class Verification:
    method: str
    max_difference: float
    violations: tuple[str, ...]


def verify(instance: Instance, plan: Plan, resilience: np.ndarray,
           outcomes: list[ScenarioOutcome] | None = None) -> tuple[Verification,
                                                                   list[ScenarioOutcome]]:
    """Compare claimed per-scenario resilience with the max-flow evaluation of the plan."""
    outcomes = outcomes if outcomes is not None else evaluate_plan(instance, plan)
    evaluated = np.array([o.resilience for o in outcomes])
    difference = float(np.max(np.abs(evaluated - np.asarray(resilience)))) if len(
        evaluated) else 0.0
    return Verification("networkx maximum flow", difference,
                        tuple(plan_violations(instance, plan))), outcomes


# optimizer.evaluate(...) is the API's function too (optimizer.callable_module).
make_callable(__name__, "evaluate")
