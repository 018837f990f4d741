"""Stress tests: the additional road failures that hurt a finished plan the most.

For each scenario, the K roads (among those that have not already failed) whose loss lowers
the plan's resilience R_s the most. K = 1 and K = 2 are found exactly, by enumeration over a
pruned candidate set; K > 2 uses a greedy heuristic and says so (``method: "heuristic"``).

Why pruning is exact. R_s depends on the roads only through the live stake pairs of
:mod:`optimizer.evaluation.whatif` (a depot and a zone within supply reach, a zone and a shelter
within
evacuation reach, both with something at stake), and losing roads can only remove pairs.

1. *Reach-limited paths* (the rule of issue 3). A road ``(u, v)`` of length ``len`` lies on
   no path of length <= reach between a stake pair (facility f, zone z) when
   ``dist(f, u) + len + dist(v, z) > reach`` in both orientations, for every pair
   (bounded Dijkstra from the facilities and from the zones on the surviving roads). Every
   live pair then keeps its short path when the road is lost: nothing changes.
2. *Shortest-path trees* (stronger, same argument). Fix one shortest-path tree per facility.
   A road that carries the tree path of no live pair leaves all those paths, and so all
   live pairs, intact. Candidates are the roads that pass both tests.
3. *Pairs of failures.* Removing roads a and b kills the pairs a kills, the pairs b kills,
   and possibly *joint* pairs that survive each loss alone. A joint pair's tree path in the
   surviving network holds a (or b), and its tree path once a is lost holds b (or the same
   with a and b swapped). So joint kills are possible only for the pairs {a, b} with b on
   the new tree path, after losing a, of a live pair whose tree path held a; those pairs get
   their own Dijkstra, and every other pair's live set is the intersection of the two
   single-failure live sets. Resilience is a max flow over the live pairs, evaluated once
   per distinct live set.

Ties between equally damaging choices (within 1e-9) go to the lexicographically smallest
sorted tuple of edge indices, so the answer is the one a brute-force enumeration in edge
order finds first. The reported resilience is always recomputed by
:func:`optimizer.evaluation.evaluate.evaluate_scenario` on the scenario with the extra failures.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.choices import STRESS_EXACT_UP_TO
from optimizer.evaluation.evaluate import evaluate_scenario
from optimizer.evaluation.whatif import (
    TIE_TOL,
    PairEvaluator,
    Roads,
    live_after,
    node_pair,
    on_reach_limited_paths,
    source_distances,
    stakes,
    tree_path,
)
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan

# K up to this is searched exactly; above it, greedily (optimizer.choices, so that the
# command's help can say so without importing this module).
EXACT_UP_TO = STRESS_EXACT_UP_TO
# The pair-free evaluation and the independent one must agree to this (else a bug).
CONSISTENCY_TOL = 1e-6


class WorkLimitExceeded(Exception):
    """The search would take more steps than its :class:`WorkBudget` allows."""

    def __init__(self, needed: float, limit: float, what: str) -> None:
        super().__init__(f"{what} would take about {needed:.2g} steps, more than the "
                         f"limit of {limit:.2g}")
        self.needed, self.limit, self.what = needed, limit, what


@dataclass
class WorkBudget:
    """Steps a search may take, charged before each phase runs (so a refusal comes before
    the work, not after it).

    A step is one node or road visited by a Dijkstra from one source, or one stake pair
    of one max flow: counts, not seconds, so the same file is refused or not on any
    machine. Measured on 2 shared cores: about a million steps a second.
    """

    limit: float
    spent: float = 0.0

    def charge(self, steps: float, what: str) -> None:
        self.spent += steps
        if self.spent > self.limit:
            raise WorkLimitExceeded(self.spent, self.limit, what)


@dataclass(frozen=True)
class StressOutcome:
    """The most damaging additional failures in one scenario."""

    scenario_id: str
    resilience_before: float  # R_s under the plan, as the scenario stands
    edges: tuple[int, ...]  # the additional failed roads, edge indices in ascending order
    resilience: float  # R_s with those roads failed too
    method: str  # "exact" | "heuristic"
    candidates_considered: int  # roads that survived pruning (first failure)


@dataclass(frozen=True)
class StressReport:
    failures: int
    method: str
    outcomes: tuple[StressOutcome, ...]
    seconds: float

    @property
    def worst(self) -> StressOutcome | None:
        """The scenario with the lowest resilience after its attack (first in ties)."""
        if not self.outcomes:
            return None
        return min(self.outcomes, key=lambda o: o.resilience)


class _Search:
    """One scenario's surviving network, its stake pairs and the single-failure answers."""

    def __init__(self, instance: Instance, plan: Plan, scenario: Scenario,
                 budget: WorkBudget | None = None) -> None:
        net = instance.network
        self.net = net
        self.budget = budget
        self.alive = np.ones(net.num_edges, dtype=bool)
        self.alive[list(scenario.failed_edges)] = False
        self.alive_edges = np.nonzero(self.alive)[0]
        self.st = stakes(instance, plan, scenario)
        # Steps of one Dijkstra from every stake source, and of one evaluation's max flows.
        visit = net.num_nodes + len(self.alive_edges)
        self.dijkstra_steps = len(self.st.sources) * visit
        self.flow_steps = (len(instance.commodities) + 1) * self.st.num_pairs + net.num_nodes
        # The distances from the sources and from the zones (pruning rule 1).
        self._charge((len(self.st.sources) + len(self.st.zones)) * visit,
                     "finding the roads that can matter")
        self.evaluator = PairEvaluator(instance, plan, scenario, self.st)
        self.roads = Roads(net, self.alive)
        self.by_pair = self.roads.by_pair
        graph = self.roads.graph()
        dist, pred = source_distances(graph, self.st, predecessors=True)
        self.live0 = self.st.live(dist)
        self.r0 = self.evaluator.resilience(self.live0)

        # Tree paths of the live pairs: which node pairs carry which pairs.
        self.through: dict[tuple[int, int], list[int]] = {}
        assert pred is not None
        for p in np.nonzero(self.live0)[0]:
            row = int(self.st.pair_source[p])
            for key in tree_path(pred[row], int(self.st.sources[row]),
                                 int(self.st.pair_zone[p])):
                self.through.setdefault(key, []).append(int(p))
        on_tree = np.zeros(net.num_edges, dtype=bool)
        for key in self.through:
            on_tree[self.by_pair[key]] = True
        self.on_reach_path = on_reach_limited_paths(net, graph, self.st, dist,
                                                    self.alive_edges)
        self.candidates = np.nonzero(self.alive & on_tree & self.on_reach_path)[0]

        self._charge(len(self.candidates) * (self.dijkstra_steps + self.flow_steps),
                     f"trying each of {len(self.candidates):,} roads")
        singles = live_after(self.roads, self.st, [[int(a)] for a in self.candidates],
                             predecessors=True)
        self.single_live = {int(a): lp[0] for a, lp in zip(self.candidates, singles,
                                                           strict=True)}
        self.single_pred = {int(a): lp[1] for a, lp in zip(self.candidates, singles,
                                                           strict=True)}
        self.single = {a: self.evaluator.resilience(live)
                       for a, live in self.single_live.items()}

    def _charge(self, steps: float, what: str) -> None:
        if self.budget is not None:
            self.budget.charge(steps, what)

    # ------------------------------------------------------------------ values

    def value(self, edge: int) -> float:
        """R_s with one more road lost."""
        return self.single.get(edge, self.r0)

    def live_of(self, edge: int) -> np.ndarray:
        return self.single_live.get(edge, self.live0)

    def best_single(self) -> tuple[tuple[int, ...], float]:
        if not len(self.alive_edges):
            return (), self.r0
        best = min([self.r0, *self.single.values()])
        for e in self.alive_edges:
            if self.value(int(e)) <= best + TIE_TOL:
                return (int(e),), self.value(int(e))
        raise AssertionError("unreachable")  # pragma: no cover

    def best_pair(self) -> tuple[tuple[int, ...], float]:
        alive = [int(e) for e in self.alive_edges]
        if len(alive) < 2:
            return self.best_single()
        ev = self.evaluator
        joint = self._joint_pairs()
        killers = [a for a in map(int, self.candidates)
                   if not np.array_equal(self.single_live[a], self.live0)]
        tried = len(joint) + len(killers) * (len(killers) - 1) // 2
        self._charge(len(joint) * self.dijkstra_steps + tried * self.flow_steps,
                     f"trying {tried:,} pairs of roads")
        cases = live_after(self.roads, self.st, [list(pr) for pr in joint])
        special: dict[tuple[int, int], float] = {
            pr: ev.resilience(live) for pr, (live, _) in zip(joint, cases, strict=True)}
        for i, a in enumerate(killers):
            for b in killers[i + 1:]:
                if (a, b) not in special:
                    special[(a, b)] = ev.resilience(self.single_live[a] & self.single_live[b])
        # Every other pair {a, b} kills what its worse road kills alone: it is worth the
        # lower single value, so the minimum is among these values and the singles.
        best = min([self.r0, *self.single.values(), *special.values()])
        threshold = best + TIE_TOL
        partners: dict[int, list[int]] = {}
        for (a, b), value in special.items():
            if value <= threshold:
                partners.setdefault(a, []).append(b)
        good = [e for e in alive if self.value(e) <= threshold]

        def value_of(a: int, b: int) -> float:
            if (a, b) in special:
                return special[(a, b)]
            return ev.resilience(self.live_of(a) & self.live_of(b))

        # The lexicographically first pair at the minimum, as brute force in edge order finds.
        # Losing more roads never raises R_s, so a road at the minimum pairs with any road.
        for n, a in enumerate(alive):
            if self.value(a) <= threshold and n + 1 < len(alive):
                return (a, alive[n + 1]), value_of(a, alive[n + 1])
            at = bisect.bisect_right(good, a)
            later = good[at:at + 1] + sorted(partners.get(a, ()))[:1]
            if later:
                b = min(later)
                return (a, b), value_of(a, b)
        raise AssertionError("unreachable")  # pragma: no cover

    def _joint_pairs(self) -> list[tuple[int, int]]:
        """Road pairs that may kill a stake pair neither road kills alone (rule 3)."""
        st = self.st
        pairs: set[tuple[int, int]] = set()
        for a in map(int, self.candidates):
            live, pred = self.single_live[a], self.single_pred[a]
            assert pred is not None
            keys: set[tuple[int, int]] = set()
            for p in self.through.get(node_pair(self.net, a), ()):
                if live[p]:
                    row = int(st.pair_source[p])
                    keys.update(tree_path(pred[row], int(st.sources[row]), int(st.pair_zone[p])))
            for key in keys:
                for b in self.by_pair[key]:
                    if b != a and self.alive[b]:
                        pairs.add((min(a, b), max(a, b)))
        return sorted(pairs)


def _with_failures(scenario: Scenario, edges: tuple[int, ...]) -> Scenario:
    return dataclasses.replace(scenario,
                               failed_edges=tuple(sorted(set(scenario.failed_edges) | set(edges))))


def _search(instance: Instance, plan: Plan, scenario: Scenario, k: int,
            budget: WorkBudget | None = None) -> tuple[tuple[int, ...], float, int, str]:
    """(edges, internal resilience, candidates of the first failure, method)."""
    search = _Search(instance, plan, scenario, budget)
    considered = len(search.candidates)
    if k <= 0:
        return (), search.r0, considered, "exact"
    if k == 1:
        return (*search.best_single(), considered, "exact")
    if k == EXACT_UP_TO:
        return (*search.best_pair(), considered, "exact")
    # Greedy: the most damaging road, K times; when no single road does any damage, the
    # most damaging pair (a lone road cannot show that two alternatives fail together).
    chosen: tuple[int, ...] = ()
    current = search.r0
    while len(chosen) < k:
        edges, value = search.best_single()
        if not edges:
            break
        if value >= current - TIE_TOL and k - len(chosen) >= 2:
            edges, value = search.best_pair()
        chosen = tuple(sorted(set(chosen) | set(edges)))
        current = value
        search = _Search(instance, plan, _with_failures(scenario, chosen), budget)
    return chosen, current, considered, "heuristic"


def reference_scenario(instance: Instance) -> Scenario:
    """No failures, no losses, everyone affected, with the file's default rates (1)."""
    per_capita = np.array([c.per_capita_need for c in instance.commodities])
    people = instance.network.population.astype(float)
    return Scenario(
        id="reference", probability=1.0, failed_edges=(),
        depot_loss=np.zeros(len(instance.depots)), shelter_loss=np.zeros(len(instance.shelters)),
        need=np.outer(people, per_capita), evacuees=people.copy(),
        economic_loss=instance.network.exposure.astype(float),
    )


def most_damaging_edges(instance: Instance, plan: Plan, k: int,
                        scenario: Scenario | None = None,
                        budget: WorkBudget | None = None) -> StressOutcome:
    """The ``k`` additional road failures that lower ``plan``'s resilience the most.

    Parameters
    ----------
    instance
        The instance (network, facilities, reach limits).
    plan
        The first stage under attack.
    k
        Number of additional failures (>= 0). Exact for ``k <= 2``; greedy above.
    scenario
        The scenario attacked; its failed roads stay failed and are never chosen again.
        ``None`` attacks :func:`reference_scenario`: the intact network, no facility
        losses, every zone fully affected.
    budget
        Steps the search may take (``None``: no limit); :class:`WorkLimitExceeded` is
        raised before a phase that would go over it.

    Returns
    -------
    StressOutcome
        ``edges`` are edge indices (``instance.network.edge_ids[j]`` for ids), ascending;
        fewer than ``k`` when fewer roads are left. ``resilience`` is recomputed by
        :func:`optimizer.evaluation.evaluate.evaluate_scenario`.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0 (got {k})")
    scenario = scenario if scenario is not None else reference_scenario(instance)
    edges, internal, considered, method = _search(instance, plan, scenario, k, budget)
    before = evaluate_scenario(instance, plan, scenario).resilience
    after = (evaluate_scenario(instance, plan, _with_failures(scenario, edges)).resilience
             if edges else before)
    if abs(after - internal) > CONSISTENCY_TOL:  # pragma: no cover - a bug if it happens
        raise RuntimeError(f"stress search and evaluation disagree in scenario {scenario.id}: "
                           f"{internal} against {after}")
    return StressOutcome(scenario.id, before, edges, after, method, considered)


def stress_test(instance: Instance, plan: Plan, k: int,
                progress: Callable[[str], None] | None = None) -> StressReport:
    """:func:`most_damaging_edges` for every scenario of ``instance``."""
    started = time.perf_counter()
    outcomes = []
    for n, s in enumerate(instance.scenarios):
        outcomes.append(most_damaging_edges(instance, plan, k, s))
        if progress is not None:
            progress(f"stress: scenario {n + 1}/{len(instance.scenarios)} ({s.id}) done")
    method = "exact" if k <= EXACT_UP_TO else "heuristic"
    return StressReport(k, method, tuple(outcomes), time.perf_counter() - started)


def stress_document(instance: Instance, report: StressReport) -> dict[str, Any]:
    """The JSON answer of ``resilience stress`` (edge ids, not indices)."""
    ids = instance.network.edge_ids
    worst = report.worst
    return {
        "instance": {"name": instance.name, "sha256": instance.sha256},
        "failures": report.failures,
        "method": report.method,
        "worst": None if worst is None else {
            "scenario": worst.scenario_id,
            "failed_edges": [ids[j] for j in worst.edges],
            "resilience": _clean(worst.resilience),
        },
        "scenarios": [
            {"id": o.scenario_id, "resilience_before": _clean(o.resilience_before),
             "failed_edges": [ids[j] for j in o.edges], "resilience": _clean(o.resilience),
             "candidates_considered": o.candidates_considered}
            for o in report.outcomes
        ],
    }


def _clean(value: float) -> float:
    rounded = round(float(value), 10)
    return 0.0 if rounded == 0 else rounded
