"""Classic covering problems as one-scenario instances: the engine's optimum against brute
force over every subset of candidate sites (issue 10; benchmarks/covering.py runs the same
encoding against the textbook MIP in PuLP + CBC).

Maximal covering (MCLP: at most p sites, or sites within a budget, the most demand within
the service distance S) is ``worst_case`` with shelters of fixed cost 1 (or c_j), capacity
the total demand (it never binds) and every weight on sheltering; location set covering
(LSCP: the cheapest sites covering every demand point) is ``min_cost`` with target 1. After
the covering objective the engine breaks ties by cost, so its MCLP plan is the cheapest
among those that cover the most; the brute force checks that too. The reference uses no
solver: it scores each subset of sites by the distances alone.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from helpers import build

from optimizer.pipeline import solve_and_verify
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.dispatch import auto_method

EXACT = SolveOptions(mip_gap=0)
SEEDS = range(8)


def covering_case(seed: int) -> dict[str, Any]:
    """7-9 demand points and 4-6 candidate sites in the unit square, integer demands and
    costs, a service distance that covers a part of the points."""
    rng = np.random.default_rng(500 + seed)
    n, m = int(rng.integers(7, 10)), int(rng.integers(4, 7))
    points, sites = rng.uniform(0, 1, size=(n, 2)), rng.uniform(0, 1, size=(m, 2))
    distance = np.hypot(*(points[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    radius = float(rng.choice([0.25, 0.35, 0.5]))
    while np.any(np.abs(distance - radius) < 1e-6):  # no pair on the boundary
        radius += 1e-3
    return {"points": points, "sites": sites, "distance": distance, "radius": radius,
            "demand": rng.integers(1, 20, size=n).astype(float),
            "cost": rng.integers(1, 5, size=m).astype(float)}


def document(case: dict[str, Any], cost: np.ndarray, budget: float,
             objective: dict[str, Any], keep: np.ndarray | None = None) -> dict[str, Any]:
    """Demand points are zones, sites are shelters at their own nodes; a road joins a
    point and a site within S, as long as their distance (so the shortest path is it)."""
    distance, demand = case["distance"], case["demand"]
    n, m = distance.shape
    keep = np.ones(n, dtype=bool) if keep is None else keep
    zones = [i for i in range(n) if keep[i]]
    nodes = [{"id": f"c{i}", "x": float(case["points"][i, 0]),
              "y": float(case["points"][i, 1]), "population": float(demand[i])} for i in zones]
    nodes += [{"id": f"s{j}", "x": float(case["sites"][j, 0]), "y": float(case["sites"][j, 1]),
               "population": 0.0} for j in range(m)]
    edges = [{"id": f"c{i}-s{j}", "from": f"c{i}", "to": f"s{j}",
              "length": float(distance[i, j])}
             for i in zones for j in range(m) if distance[i, j] <= case["radius"]]
    return {
        "schema_version": 1, "name": "covering",
        "network": {"nodes": nodes, "edges": edges},
        "depots": [],
        "shelters": [{"id": f"h{j}", "node": f"s{j}", "fixed_cost": float(cost[j]),
                      "capacity": float(demand.sum())} for j in range(m)],
        "compensation": {"max_pool": 0}, "budget": budget,
        "policy": {"evacuation_reach": case["radius"]},
        "resilience": {"weights": {"supply": 0, "shelter": 1, "economic": 0}},
        "objective": objective,
        "scenarios": [{"id": "demand", "probability": 1.0,
                       "affected": {f"c{i}": 1.0 for i in zones}}],
    }


def subsets(m: int) -> list[np.ndarray]:
    return [np.array(bits, dtype=bool) for bits in itertools.product([False, True], repeat=m)]


def engine_plan(doc: dict[str, Any]) -> tuple[np.ndarray, Any]:
    solved = solve_and_verify(build(doc), EXACT)
    assert solved.verified, solved.failure()
    assert solved.document["status"] == "optimal"
    return np.array([h["open"] for h in solved.document["decisions"]["shelters"]]), solved


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("problem", ["p", "budget"])
def test_maximal_covering_matches_enumeration(seed: int, problem: str) -> None:
    case = covering_case(seed)
    cover = case["distance"] <= case["radius"]
    demand = case["demand"]
    m = cover.shape[1]
    cost = np.ones(m) if problem == "p" else case["cost"]
    limits = [1.0, 2.0] if problem == "p" else [float(np.round(0.4 * cost.sum()))]
    for limit in limits:
        feasible = [s for s in subsets(m) if cost[s].sum() <= limit]
        covered = {i: float(demand[(cover & s).any(axis=1)].sum()) for i, s in
                   enumerate(feasible)}
        best = max(covered.values())
        cheapest = min(cost[feasible[i]].sum() for i, c in covered.items() if c == best)
        plan, solved = engine_plan(document(case, cost, limit, {"kind": "worst_case"}))
        assert float(demand[(cover & plan).any(axis=1)].sum()) == pytest.approx(best)
        assert solved.document["resilience"]["worst_case"] == pytest.approx(
            best / demand.sum(), abs=1e-9)
        # The cost tie-break: the cheapest of the plans that cover the most.
        assert cost[plan].sum() == pytest.approx(cheapest)
        assert [s.objective for s in solved.solution.stages] == [
            "objective", "tiebreak_cost", "recourse"]  # one scenario: no expected stage


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("unit", [True, False])
def test_set_covering_matches_enumeration(seed: int, unit: bool) -> None:
    case = covering_case(seed)
    cover = case["distance"] <= case["radius"]
    keep = cover.any(axis=1)  # the points some site can cover
    m = cover.shape[1]
    cost = np.ones(m) if unit else case["cost"]
    least = min(cost[s].sum() for s in subsets(m) if (cover[keep] & s).any(axis=1).all())
    doc = document(case, cost, float(cost.sum()), {"kind": "min_cost", "target": 1.0}, keep)
    plan, solved = engine_plan(doc)
    assert (cover[keep] & plan).any(axis=1).all()
    assert cost[plan].sum() == pytest.approx(least)
    assert solved.document["objective"]["value"] == pytest.approx(least)
    # A target at the ceiling fixes R = 1: the expected-resilience stage cannot change the
    # plan and is skipped.
    assert [s.objective for s in solved.solution.stages] == ["objective", "recourse"]


def test_min_cost_below_the_ceiling_keeps_the_expected_stage() -> None:
    """With room above the target, the expected stage can change the plan: it stays."""
    case = covering_case(0)
    cover = case["distance"] <= case["radius"]
    keep = cover.any(axis=1)
    m = cover.shape[1]
    doc = document(case, np.ones(m), float(m), {"kind": "min_cost", "target": 0.5}, keep)
    _, solved = engine_plan(doc)
    assert [s.objective for s in solved.solution.stages] == [
        "objective", "tiebreak_expected", "recourse"]


def test_one_scenario_is_never_decomposed() -> None:
    """``auto`` keeps a one-scenario instance in the extensive form however large: the
    decomposition's master would rebuild that scenario's recourse cut by cut."""
    rng = np.random.default_rng(3)
    n, m = 200, 30
    case = {"points": rng.uniform(0, 1, (n, 2)), "sites": rng.uniform(0, 1, (m, 2)),
            "radius": 0.2, "demand": np.ones(n), "cost": np.ones(m)}
    case["distance"] = np.hypot(
        *(case["points"][:, None, :] - case["sites"][None, :, :]).transpose(2, 0, 1))
    instance = build(document(case, np.ones(m), 5.0, {"kind": "worst_case"}))
    assert auto_method(instance, SolveOptions()) == "extensive"
