"""Independent evaluation of a plan: networkx only, no Pyomo, no solver.

Given the first stage, each term of R_s is a maximum flow (design section 2): supply of
commodity k is a flow source -> depot (surviving stock) -> zone within reach (unbounded) ->
sink (need); sheltering is source -> zone (evacuees) -> shelter within reach (unbounded) ->
sink (surviving capacity); compensation is min(P, L_s). The commodities do not interact
once the stock is fixed, so the weighted supply share is maximised commodity by commodity.
Reachability is recomputed here with networkx Dijkstra, apart from the scipy path the
model uses, so a disagreement in either shows up as a difference.

Where to look next: :mod:`optimizer.evaluation.outcome` for what an evaluation returns,
:mod:`optimizer.pipeline` for the check after every solve, and
:mod:`optimizer.evaluation.out_of_sample` for a plan judged on other scenarios.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from optimizer.evaluation.outcome import ResilienceSummary, ScenarioOutcome
from optimizer.evaluation.reachability import within
from optimizer.executors import open_executor
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan, plan_cost

FEASIBILITY_TOL = 1e-6
# Largest difference allowed between a scenario's R_s as claimed (by the model, or by a
# result file) and the max-flow evaluation.
VERIFICATION_TOL = 1e-6

# From this many scenarios (or with an explicit --workers or --scheduler) the evaluation of
# a plan may run on the executor of design section 6, as the recovery analysis does: below
# it, starting processes (about a second each with spawn, in parallel) costs more than the
# split saves. Measured at 200 nodes: 2-25 ms a scenario on one core, by plan.
PARALLEL_FROM = 1000
# Tasks per lane: a lane that finishes early takes another instead of idling.
TASKS_PER_LANE = 4
# Estimating the verification's time (estimated_seconds): this share of the scenarios is
# timed, at least SAMPLE_MIN and at most SAMPLE_MAX (about 0.1-0.6 s at 200 nodes).
SAMPLE_SHARE = 0.02
SAMPLE_MIN = 5
SAMPLE_MAX = 20
# Without --workers or --scheduler, the scenarios go to local processes only when those
# left after the first HEAD_SCENARIOS (evaluated here, timed) would take longer than this
# in process, and cores are free to run them (free_lanes): a plan that is quick to check,
# or a machine busy with other work, does not pay for starting the processes. Measured at
# 200 x 1,000 under a load of 2.4 on 2 cores: 20.3 s in process, 23.4 s on 2 processes.
HEAD_SCENARIOS = 20
PARALLEL_WORTH_SECONDS = 6.0
PARALLEL_FROM_LANES = 1.5
# On local processes, the estimate counts this share of each free lane (an allowance: not
# measured on an idle machine) and the seconds taken to start the processes and send them
# the instance (1-2 s measured).
PARALLEL_EFFICIENCY = 0.75
PROCESS_START_SECONDS = 2.0


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


def _ball(graph: nx.Graph, source: int, reach: float) -> dict[int, float]:
    """Distances from ``source`` up to a hair beyond ``reach`` (networkx Dijkstra)."""
    cutoff = None if np.isinf(reach) else reach * (1 + 1e-6) + 1e-6
    return nx.single_source_dijkstra_path_length(graph, source, cutoff=cutoff, weight="length")


def _within_reach(graph: nx.Graph, source: int, reach: float) -> dict[int, float]:
    return {node: d for node, d in _ball(graph, source, reach).items() if within(d, reach)}


class IntactReach:
    """What each facility reaches on the intact network, shared by every scenario.

    A path of length at most the reach from a facility passes only nodes within the reach
    of it on the intact network, so a scenario whose failed roads have no end among those
    nodes leaves what the facility reaches, and at what distance, exactly as on the intact
    network; only the facilities whose neighbourhood lost a road are searched again, on
    the scenario's surviving roads. Both searches are networkx Dijkstra: the check stays
    apart from the model's scipy reachability.
    """

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.graph = road_graph(instance)
        self._balls: dict[tuple[int, float], tuple[dict[int, float], dict[int, float]]] = {}

    def reached(self, source: int, reach: float, touched: set[int],
                graph: Callable[[], nx.Graph]) -> dict[int, float]:
        """Nodes within ``reach`` of ``source`` and their distances, in a scenario whose
        failed roads end at the nodes ``touched``; ``graph`` builds its surviving roads."""
        key = (source, reach)
        if key not in self._balls:
            ball = _ball(self.graph, source, reach)
            self._balls[key] = (ball, {n: d for n, d in ball.items() if within(d, reach)})
        ball, inside = self._balls[key]
        if touched.isdisjoint(ball):
            return inside
        return _within_reach(graph(), source, reach)


def _max_flow(arcs: list[tuple[str, str, float | None]]) -> tuple[float, dict]:
    graph = nx.DiGraph()
    graph.add_nodes_from(["source", "sink"])
    for u, v, cap in arcs:
        if cap is None:
            graph.add_edge(u, v)  # no capacity attribute: unbounded
        elif cap > 0:
            graph.add_edge(u, v, capacity=cap)
    # Edmonds-Karp: on these three-layer networks (source, facilities, zones, sink) about
    # twice as fast as networkx's default preflow-push (measured at 200 nodes).
    value, flow = nx.maximum_flow(graph, "source", "sink",
                                  flow_func=nx.algorithms.flow.edmonds_karp)
    return float(value), flow


class _ScenarioReach:
    """What the open facilities reach in one scenario.

    The surviving roads are built at most once, and only when needed: with ``intact``,
    only a facility whose neighbourhood lost a road is searched again (see
    :class:`IntactReach`); without it, every facility is searched on the surviving roads.
    """

    def __init__(self, instance: Instance, scenario: Scenario, graph: nx.Graph | None,
                 intact: IntactReach | None) -> None:
        net = instance.network
        self.instance = instance
        self.scenario = scenario
        self.intact = intact
        self.touched = {int(net.edge_from[j]) for j in scenario.failed_edges} | {
            int(net.edge_to[j]) for j in scenario.failed_edges}
        self._graph = graph

    def surviving(self) -> nx.Graph:
        """The scenario's surviving roads (built on the first call)."""
        if self._graph is None:
            self._graph = road_graph(self.instance, self.scenario.failed_edges)
        return self._graph

    def reached(self, node: int, reach: float) -> dict[int, float]:
        """Nodes within ``reach`` of ``node`` on the surviving roads, and their distances."""
        if self.intact is None or self.intact.instance is not self.instance:
            return _within_reach(self.surviving(), node, reach)
        return self.intact.reached(node, reach, self.touched, self.surviving)


def evaluate_scenario(instance: Instance, plan: Plan, scenario: Scenario,
                      graph: nx.Graph | None = None,
                      intact: IntactReach | None = None) -> ScenarioOutcome:
    """R_s of ``plan`` in ``scenario`` by maximum flow.

    ``graph``: the scenario's surviving roads (built when needed); ``intact``: what the
    facilities reach on the intact network, shared by the scenarios of one evaluation (see
    :class:`IntactReach`; without it, every facility is searched on ``graph``).
    """
    roads = _ScenarioReach(instance, scenario, graph, intact)
    unmet_need = _unmet_need(instance, plan, scenario, roads)
    unmet_evacuees = _unmet_evacuees(instance, plan, scenario, roads)
    return _outcome(instance, plan, scenario, unmet_need, unmet_evacuees)


def _unmet_need(instance: Instance, plan: Plan, scenario: Scenario,
                roads: _ScenarioReach) -> np.ndarray:
    """(N, K) need not delivered: per commodity, a maximum flow source -> depot (surviving
    stock) -> zone within supply reach (unbounded) -> sink (need)."""
    N, K = scenario.need.shape
    stock = plan.total_stock(instance) * (1 - scenario.depot_loss)[:, None]
    served = [roads.reached(d.node, instance.policy.supply_reach) if plan.open_depots[j]
              else {} for j, d in enumerate(instance.depots)]
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
    return unmet_need


def _unmet_evacuees(instance: Instance, plan: Plan, scenario: Scenario,
                    roads: _ScenarioReach) -> np.ndarray:
    """(N,) evacuees without a place: a maximum flow source -> zone (evacuees) -> shelter
    within evacuation reach (unbounded) -> sink (surviving capacity)."""
    N = scenario.need.shape[0]
    capacity = plan.shelter_capacity(instance) * (1 - scenario.shelter_loss)
    sheltered_at = [roads.reached(h.node, instance.policy.evacuation_reach)
                    if plan.open_shelters[j] else {} for j, h in enumerate(instance.shelters)]
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
    return unmet_evacuees


def _outcome(instance: Instance, plan: Plan, scenario: Scenario, unmet_need: np.ndarray,
             unmet_evacuees: np.ndarray) -> ScenarioOutcome:
    """The three terms of R_s from what went unmet, and R_s, their weighted sum."""
    om = instance.commodity_weights
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


def _evaluate_some(instance: Instance, plan: Plan,
                   indices: Iterable[int]) -> list[ScenarioOutcome]:
    """The outcomes of the scenarios ``indices`` under ``plan``, in that order (with the
    intact network's reach shared, see :class:`IntactReach`)."""
    intact = IntactReach(instance)
    return [evaluate_scenario(instance, plan, instance.scenarios[int(n)], intact=intact)
            for n in indices]


def _evaluate_task(shared: tuple[Instance, Plan], _token: str,
                   indices: list[int]) -> list[ScenarioOutcome]:
    """Worker side of :func:`evaluate_plan`."""
    instance, plan = shared
    return _evaluate_some(instance, plan, indices)


def free_lanes(lanes: int) -> float:
    """How many of ``lanes`` local processes would run at once: the cores that other work
    leaves (the load average counts this process, which is running), at least one."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return float(lanes)
    return max(1.0, min(float(lanes), (os.cpu_count() or 1) - load + 1.0))


def runs_parallel(scenarios: int, workers: int | None = None,
                  scheduler: str | None = None) -> bool:
    """Whether :func:`evaluate_plan` may use the executor for this many scenarios (without
    ``workers``, it still decides on the plan's first scenarios)."""
    return (workers is not None and workers > 1) or scheduler is not None or (
        workers is None and scenarios >= PARALLEL_FROM
        and free_lanes(os.cpu_count() or 1) >= PARALLEL_FROM_LANES)


def evaluate_plan(instance: Instance, plan: Plan, *, workers: int | None = None,
                  scheduler: str | None = None) -> list[ScenarioOutcome]:
    """Every scenario's outcome under ``plan``, in instance order.

    From :data:`PARALLEL_FROM` scenarios (or with ``workers`` above 1 or a ``scheduler``)
    the scenarios are split over the executor of design section 6 (without ``workers``,
    only when the first scenarios, timed, say that the rest would take longer than
    :data:`PARALLEL_WORTH_SECONDS` here); each is evaluated whole, by the same code,
    wherever it runs.
    """
    S = len(instance.scenarios)
    if not runs_parallel(S, workers, scheduler):
        return _evaluate_some(instance, plan, range(S))
    head: list[ScenarioOutcome] = []
    if workers is None and scheduler is None:
        intact = IntactReach(instance)
        started = time.perf_counter()
        head = [evaluate_scenario(instance, plan, instance.scenarios[n], intact=intact)
                for n in range(min(HEAD_SCENARIOS, S))]
        each = (time.perf_counter() - started) / len(head)
        if each * (S - len(head)) <= PARALLEL_WORTH_SECONDS:
            return head + [evaluate_scenario(instance, plan, instance.scenarios[n],
                                             intact=intact) for n in range(len(head), S)]
    with open_executor(workers, scheduler) as executor:
        shared = executor.share((instance, plan))
        chunks = [c.tolist() for c in np.array_split(np.arange(len(head), S),
                                                     executor.lanes * TASKS_PER_LANE)
                  if len(c)]
        futures = [executor.submit(t, _evaluate_task, shared, chunk)
                   for t, chunk in enumerate(chunks)]
        outcomes = head + [o for future in futures for o in future.result()]
        executor.release(shared)
    return outcomes


def busiest_plan(instance: Instance) -> Plan:
    """A plan whose evaluation does about the most work a plan of ``instance`` can give.

    The work grows with the open facilities (a Dijkstra from each, an arc per pair within
    reach), and no plan opens more than the budget pays for: the existing ones and then the
    cheapest candidates while their fixed costs fit. Each open depot is full (its capacity
    shared over the commodities) and each shelter has every module: the flows then fill
    every zone they reach, one augmenting path after another, which is the most work for
    the maximum flow (a token stock fills with one path per depot: an estimate made with
    one came to 16 ms a scenario at 200 x 100 where the plan then found took 27).
    """
    depots = [d.existing for d in instance.depots]
    shelters = [h.existing for h in instance.shelters]
    candidates = sorted([(d.fixed_cost, 0, j) for j, d in enumerate(instance.depots)
                         if not d.existing]
                        + [(h.fixed_cost, 1, j) for j, h in enumerate(instance.shelters)
                           if not h.existing])
    spent = 0.0
    for cost, kind, j in candidates:
        if spent + cost > instance.budget:
            break
        spent += cost
        (depots if kind == 0 else shelters)[j] = True
    volumes = np.array([c.unit_volume for c in instance.commodities], dtype=float)
    K = max(len(volumes), 1)
    full = np.array([[d.capacity / (K * v) if v > 0 else d.capacity for v in volumes]
                     for d in instance.depots]).reshape(len(instance.depots), len(volumes))
    return Plan(
        open_depots=tuple(depots),
        stock=full,
        open_shelters=tuple(shelters),
        modules=tuple(h.max_modules for h in instance.shelters),
        compensation_pool=instance.max_pool,
    )


def estimated_seconds(instance: Instance,
                      clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds :func:`evaluate_plan` should take in this process on ``instance``, for any
    plan.

    A few scenarios spread over the instance (:data:`SAMPLE_SHARE`) are timed under
    :func:`busiest_plan` (about the most work a plan can give), on this machine as it is
    loaded now, and the time per scenario is scaled to every scenario; see
    :func:`wall_seconds` for the time on the executor.
    """
    S = len(instance.scenarios)
    if S == 0:
        return 0.0
    k = min(S, max(SAMPLE_MIN, min(SAMPLE_MAX, math.ceil(S * SAMPLE_SHARE))))
    picked = np.unique(np.linspace(0, S - 1, k).round().astype(int))
    plan = busiest_plan(instance)
    intact = IntactReach(instance)
    # One scenario first, untimed: the first searches of a process pay for caches warming
    # up (measured: up to 1.7 times the time of the later ones at 200 x 1,000).
    evaluate_scenario(instance, plan, instance.scenarios[int(picked[0])], intact=intact)
    started = clock()
    for n in picked:
        evaluate_scenario(instance, plan, instance.scenarios[int(n)], intact=intact)
    return (clock() - started) / len(picked) * S


def wall_seconds(in_process: float, scenarios: int, workers: int | None = None,
                 scheduler: str | None = None) -> float:
    """What :func:`evaluate_plan` takes when it would take ``in_process`` seconds in this
    process: shared over the local processes it uses (as many as cores are free, see
    :func:`free_lanes`), after starting them. A Dask cluster's size is not known before it
    is reached: no speed-up is counted for it."""
    if not runs_parallel(scenarios, workers, scheduler) or scheduler is not None:
        return in_process
    lanes = free_lanes(workers if workers is not None else (os.cpu_count() or 1))
    shared = in_process / (lanes * PARALLEL_EFFICIENCY) + PROCESS_START_SECONDS
    # Without --workers, a plan quick to check stays in process (evaluate_plan).
    return shared if workers is not None or in_process > PARALLEL_WORTH_SECONDS \
        else in_process


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
           outcomes: list[ScenarioOutcome] | None = None, *, workers: int | None = None,
           scheduler: str | None = None) -> tuple[Verification, list[ScenarioOutcome]]:
    """Compare claimed per-scenario resilience with the max-flow evaluation of the plan
    (every scenario; on the executor as :func:`evaluate_plan` says)."""
    outcomes = outcomes if outcomes is not None else evaluate_plan(
        instance, plan, workers=workers, scheduler=scheduler)
    evaluated = np.array([o.resilience for o in outcomes])
    difference = float(np.max(np.abs(evaluated - np.asarray(resilience)))) if len(
        evaluated) else 0.0
    return Verification("networkx maximum flow", difference,
                        tuple(plan_violations(instance, plan))), outcomes



def agrees(max_difference: float | None, violations: Sequence[str]) -> bool:
    """A result's claims hold: no rule of the instance broken, and every scenario's R_s it
    states within :data:`VERIFICATION_TOL` of the evaluation (``max_difference`` None: it
    states none)."""
    return not violations and (max_difference is None or max_difference <= VERIFICATION_TOL)


@dataclass(frozen=True, eq=False)
class Judgement:
    """A plan evaluated by max flow and set against what a result claims (``resilience
    evaluate``, :func:`optimizer.api.evaluate`)."""

    outcomes: list[ScenarioOutcome]  # in the instance's order
    differences: list[float | None]  # per scenario, |claimed - evaluated|; None: no claim
    max_difference: float | None  # None when no scenario's R_s is claimed
    violations: list[str]  # rules of the instance the plan breaks (plan_violations)
    summary: ResilienceSummary

    @property
    def agrees(self) -> bool:
        return agrees(self.max_difference, self.violations)


def judge(instance: Instance, plan: Plan, claimed: Mapping[str, Any],
          alpha: float) -> Judgement:
    """Evaluate ``plan`` on every scenario of ``instance`` and compare with ``claimed`` (a
    scenario id -> the R_s a result states; a scenario it leaves out, or claims None for,
    is not compared); the plan's violations, and its summary at CVaR level ``alpha``."""
    outcomes = evaluate_plan(instance, plan)
    differences = []
    for s, o in zip(instance.scenarios, outcomes, strict=True):
        c = claimed.get(s.id)
        differences.append(None if c is None else abs(c - o.resilience))
    compared = [d for d in differences if d is not None]
    violations = plan_violations(instance, plan)
    summary = ResilienceSummary.of(np.array([o.resilience for o in outcomes]),
                                   instance.probabilities, alpha)
    return Judgement(outcomes, differences, max(compared) if compared else None, violations,
                     summary)
