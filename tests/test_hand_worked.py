"""Tiny instances whose optima are worked out by hand (STYLE habit 8).

Each test states the arithmetic in comments, solves with a zero MIP gap, and compares the
objective with a tolerance (habit 10). Variable values are asserted only where the hand
calculation shows the optimal plan is unique; where it is not, the test asserts what every
optimal plan shares (its cost, how many facilities it opens). Every plan is also re-checked
by the independent max-flow evaluation (habit 7).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import build, tiny_doc, with_objective

from optimizer.errors import InfeasibleError
from optimizer.evaluation.evaluate import evaluate_plan, plan_violations
from optimizer.evaluation.outcome import ResilienceSummary
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.extensive import solve

TOL = 1e-6
EXACT = SolveOptions(mip_gap=0)


def money_tol(loss: float, w_economic: float) -> float:
    """The resilience tolerance in money: a unit of pool is worth w_eco / L_s of R_s.

    Pools are compared in resilience units because each lexicographic tie-break may give
    up a solver tolerance of the objective before it (``LEXICOGRAPHIC_TOL``), and the cost
    tie-break spends that on a slightly smaller pool.
    """
    return TOL * loss / w_economic


def solved(instance: Instance) -> Solution:
    """Solve exactly, and insist the plan passes the independent check."""
    result = solve_and_verify(instance, EXACT)
    assert result.verified, result.failure()
    return result.solution


def resilience(solution: Solution) -> list[float]:
    assert solution.outcomes is not None
    return [o.resilience for o in solution.outcomes]


def total_cost(instance: Instance, solution: Solution) -> float:
    assert solution.plan is not None
    return plan_cost(instance, solution.plan).total


# ------------------------------------------------------------------------------- tiny.json
#
# A - B - C, roads of length 1, supply reach 5; A and C have 100 people each and need one
# kit per person. Scenario west_cut (p 0.5) cuts A-B and affects all of A; east_cut (p 0.5)
# cuts B-C and affects all of C. Once its road is cut, a village can only be served by the
# depot in the village itself: R_west = x_A / 100 and R_east = x_C / 100 (capped at 1),
# where x_A, x_C are the kits at depot_A and depot_C (a closed depot holds none).
# Depots cost 50 to open, kits cost 1, capacity 100, budget 150. Supply weight 1.


@pytest.fixture(scope="module")
def tiny() -> Instance:
    return build(tiny_doc())


def test_tiny_worst_case(tiny: Instance) -> None:
    # One depot open: the other village gets nothing, min R = 0.
    # Both open: 150 - 2 * 50 = 50 kits to share, max min(x_A, x_C) / 100 with
    # x_A + x_C <= 50 is x_A = x_C = 25: worst case 0.25, cost 100 + 50 = 150. Unique.
    solution = solved(tiny)
    assert solution.objective_value == pytest.approx(0.25, abs=TOL)
    assert resilience(solution) == pytest.approx([0.25, 0.25], abs=TOL)
    assert solution.plan is not None
    assert solution.plan.open_depots == (True, True)
    assert solution.plan.stock.ravel() == pytest.approx([25, 25], abs=TOL)
    assert total_cost(tiny, solution) == pytest.approx(150, abs=TOL)


def test_tiny_expected(tiny: Instance) -> None:
    # Expected = 0.5 x_A / 100 + 0.5 x_C / 100.
    # Both open: x_A + x_C <= 50, expected <= 0.5 * 50 / 100 = 0.25.
    # One open: 100 kits (cost 50 + 100 = 150), expected = 0.5 * 1 + 0.5 * 0 = 0.5.
    # Either depot will do (a tie), but the plan opens one depot with 100 kits for 150.
    solution = solved(with_objective(tiny, ObjectiveKind.EXPECTED))
    assert solution.objective_value == pytest.approx(0.5, abs=TOL)
    assert solution.plan is not None
    assert sum(solution.plan.open_depots) == 1
    assert solution.plan.stock.sum() == pytest.approx(100, abs=TOL)
    assert sorted(resilience(solution)) == pytest.approx([0.0, 1.0], abs=TOL)
    assert total_cost(tiny, solution) == pytest.approx(150, abs=TOL)


def test_tiny_cvar(tiny: Instance) -> None:
    # CVaR at alpha 0.25: the mean of the worst 0.75 of probability mass.
    # One depot with 100 kits: values 1 and 0; the worst 0.75 is all of the 0 (mass 0.5)
    # and 0.25 of the 1, so CVaR = (0.5 * 0 + 0.25 * 1) / 0.75 = 1/3.
    # One depot with x kits gives (0.25 * x / 100) / 0.75 = x / 300 <= 1/3.
    # Both open, x_A + x_C <= 50: say x_A >= x_C, CVaR = (0.5 x_C + 0.25 x_A) / 75
    # <= (0.25 * 50 + 0.25 x_C) / 75 <= (12.5 + 6.25) / 75 = 0.25 < 1/3.
    instance = with_objective(tiny, ObjectiveKind.CVAR, alpha=0.25)
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(1 / 3, abs=TOL)
    assert sum(solution.plan.open_depots) == 1  # type: ignore[union-attr]
    summary = ResilienceSummary.of(np.array(resilience(solution)), instance.probabilities, 0.25)
    assert summary.cvar == pytest.approx(1 / 3, abs=TOL)


def test_tiny_min_cost(tiny: Instance) -> None:
    # min_cost with target 0.2: both scenarios need R >= 0.2, so both depots must open
    # (100) and each needs 20 kits (40): cost 140, below the budget of 150. Unique.
    solution = solved(with_objective(tiny, ObjectiveKind.MIN_COST, target=0.2))
    assert solution.objective_value == pytest.approx(140, abs=TOL)
    assert total_cost(tiny, solution) == pytest.approx(140, abs=TOL)
    assert solution.plan is not None
    assert solution.plan.open_depots == (True, True)
    assert solution.plan.stock.ravel() == pytest.approx([20, 20], abs=TOL)
    assert min(resilience(solution)) >= 0.2 - TOL


def test_tiny_min_cost_target_out_of_reach(tiny: Instance) -> None:
    # Target 0.3 needs 30 kits in each village: 100 + 60 = 160 > 150.
    with pytest.raises(InfeasibleError):
        solve(with_objective(tiny, ObjectiveKind.MIN_COST, target=0.3), EXACT)


# ------------------------------------------------------------------- a shelter and a pool


def shelter_doc() -> dict[str, Any]:
    """Zone A (100 people, exposure 1000) evacuates over a road of length 2 to shelter B.

    Shelter: fixed cost 10, capacity 30, modules of 20 places at 5 each, at most 2.
    Pool up to 1000, budget 40, evacuation reach 3 (B is within reach). Weights: supply 0,
    shelter 0.5, economic 0.5 (the default commodity's need does not count).
    s1: half of A affected: 50 evacuees, loss 500.
    s2: all of A affected and the shelter loses half its capacity: 100 evacuees, loss 1000.
    """
    return {
        "name": "shelter_and_pool",
        "network": {
            "nodes": [{"id": "A", "population": 100, "economic_exposure": 1000},
                      {"id": "B"}],
            "edges": [{"id": "AB", "from": "A", "to": "B", "length": 2}],
        },
        "depots": [],
        "shelters": [{"id": "shelter_B", "node": "B", "fixed_cost": 10, "capacity": 30,
                      "module_size": 20, "module_cost": 5, "max_modules": 2}],
        "compensation": {"max_pool": 1000},
        "budget": 40,
        "policy": {"evacuation_reach": 3},
        "resilience": {"weights": {"supply": 0, "shelter": 0.5, "economic": 0.5}},
        "scenarios": [
            {"id": "s1", "affected": {"A": 0.5}},
            {"id": "s2", "affected": {"A": 1.0}, "shelter_loss": {"shelter_B": 0.5}},
        ],
    }


def test_shelter_and_pool_worst_case() -> None:
    # Money left after the shelter goes to the pool (more pool never lowers any R_s).
    # R1 = 0.5 min(cap, 50) / 50 + 0.5 P / 500,  R2 = 0.5 min(cap / 2, 100) / 100 + 0.5 P / 1000.
    #   no shelter, P = 40:          R1 = 0.04,  R2 = 0.02                  -> min 0.02
    #   shelter, 0 modules, P = 30:  cap 30: R1 = 0.3 + 0.03 = 0.33,
    #                                         R2 = 0.5 * 15/100 + 0.015 = 0.09    -> 0.09
    #   1 module, P = 25:            cap 50: R1 = 0.5 + 0.025 = 0.525,
    #                                         R2 = 0.125 + 0.0125 = 0.1375        -> 0.1375
    #   2 modules, P = 20:           cap 70: R1 = 0.5 + 0.02 = 0.52,
    #                                         R2 = 0.5 * 35/100 + 0.5 * 20/1000 = 0.185 -> 0.185
    # Optimum 0.185, unique: shelter open, 2 modules, pool 20, cost 10 + 10 + 20 = 40.
    instance = build(shelter_doc())
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(0.185, abs=TOL)
    assert resilience(solution) == pytest.approx([0.52, 0.185], abs=TOL)
    plan = solution.plan
    assert plan is not None
    assert plan.open_shelters == (True,)
    assert plan.modules == (2,)
    assert plan.compensation_pool == pytest.approx(20, abs=money_tol(1000, 0.5))
    assert total_cost(instance, solution) == pytest.approx(40, abs=money_tol(1000, 0.5))


def test_shelter_and_pool_expected() -> None:
    # Same four options, p = 1/2 each: 0.03, 0.21, 0.33125, (0.52 + 0.185) / 2 = 0.3525.
    solution = solved(with_objective(build(shelter_doc()), ObjectiveKind.EXPECTED))
    assert solution.objective_value == pytest.approx(0.3525, abs=TOL)
    assert solution.plan is not None and solution.plan.modules == (2,)


def test_existing_shelter_costs_nothing() -> None:
    # The shelter already exists: no fixed cost, so 2 modules (10) leave a pool of 30.
    # R1 = 0.5 + 0.5 * 30/500 = 0.53, R2 = 0.5 * 35/100 + 0.5 * 30/1000 = 0.19.
    # (1 module, pool 35: R2 = 0.125 + 0.0175 = 0.1425; none, pool 40: 0.075 + 0.02.)
    doc = shelter_doc()
    doc["shelters"][0]["existing"] = True
    instance = build(doc)
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(0.19, abs=TOL)
    assert solution.plan is not None
    assert solution.plan.modules == (2,)
    assert solution.plan.compensation_pool == pytest.approx(30, abs=money_tol(1000, 0.5))
    assert plan_cost(instance, solution.plan).shelters == pytest.approx(0, abs=TOL)


# ------------------------------------------------------------------------------ tie-breaks


def isolated_village_doc() -> dict:
    """tiny plus a village D with 100 people and no road at all, which scenario isolated
    (p 0.2) affects whole; p(west_cut) = 0.5, p(east_cut) = 0.3; budget 200."""
    doc = tiny_doc()
    doc["network"]["nodes"].append({"id": "D", "x": 9, "y": 9, "population": 100})
    doc["budget"] = 200
    doc["scenarios"][0]["probability"] = 0.5
    doc["scenarios"][1]["probability"] = 0.3
    doc["scenarios"].append({"id": "isolated", "probability": 0.2, "affected": {"D": 1.0}})
    return doc


def test_a_pinned_worst_case_goes_to_the_next_level() -> None:
    # tiny plus a village D with 100 people and no road at all: no depot can reach it.
    # Scenario isolated (p 0.2) affects all of D, so R_isolated = 0 under every plan: its
    # ceiling is 0, the worst case 0 is pinned there, and every plan is worst-case optimal.
    # p(west_cut) = 0.5, p(east_cut) = 0.3; budget raised to 200.
    # Level 2 maximises min(R_west, R_east) = min(x_A, x_C) / 100:
    #   one depot only: the other scenario gets nothing, level 0;
    #   both open: x_A + x_C <= 200 - 100 = 100, so the best level is 0.5 at 50 / 50.
    # (Expected resilience alone would have said "depot_A only, 100 kits": 0.5, and left
    # east_cut with nothing.) Level 2 is not pinned (ceilings 1), so the levels stop; the
    # plan is then unique: expected 0.5 * 0.5 + 0.3 * 0.5 = 0.4, cost 200.
    doc = isolated_village_doc()
    instance = build(doc)
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(0.0, abs=TOL)
    assert resilience(solution) == pytest.approx([0.5, 0.5, 0.0], abs=TOL)
    assert solution.plan is not None
    assert solution.plan.open_depots == (True, True)
    assert solution.plan.stock.ravel() == pytest.approx([50, 50], abs=TOL)
    assert total_cost(instance, solution) == pytest.approx(200, abs=TOL)
    assert solution.pinned == (2,)
    assert [st.objective for st in solution.stages] == [
        "objective", "leximin_2", "tiebreak_expected", "tiebreak_cost", "recourse"]
    assert solution.stages[1].value == pytest.approx(0.5, abs=TOL)
    assert "isolated" in solution.decided and "pinned" in solution.decided


def test_ties_go_to_expected_then_cost() -> None:
    # The instance above with the objective expected resilience: 0.5 x_A / 100 +
    # 0.3 x_C / 100, at most 0.5 ("A only, 100 kits" at cost 150, or "both open, C
    # empty" at cost 200). Ties go to the lower cost: depot_A only, 100 kits, 150.
    doc = isolated_village_doc()
    doc["objective"] = {"kind": "expected"}
    instance = build(doc)
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(0.5, abs=TOL)
    assert resilience(solution) == pytest.approx([1.0, 0.0, 0.0], abs=TOL)
    assert solution.plan is not None
    assert solution.plan.open_depots == (True, False)
    assert total_cost(instance, solution) == pytest.approx(150, abs=TOL)


def test_zero_probability_scenario_leaves_cvar_alone() -> None:
    # tiny plus the cut-off village D of the test above, in a scenario of probability 0
    # (kept for the worst case only): it carries no mass, so CVaR is tiny's, 1/3 at
    # alpha 0.25 (one depot, 100 kits: (0.5 * 0 + 0.25 * 1) / 0.75), and expected is 0.5.
    doc = tiny_doc()
    doc["network"]["nodes"].append({"id": "D", "population": 100})
    doc["scenarios"].append({"id": "isolated", "probability": 0.0, "affected": {"D": 1.0}})
    instance = with_objective(build(doc), ObjectiveKind.CVAR, alpha=0.25)
    result = solve_and_verify(instance, EXACT)
    solution = result.solution
    assert sorted(resilience(solution)) == pytest.approx([0.0, 0.0, 1.0], abs=TOL)
    summary = ResilienceSummary.of(np.array(resilience(solution)), instance.probabilities, 0.25)
    assert summary.expected == pytest.approx(0.5, abs=TOL)
    assert summary.cvar == pytest.approx(1 / 3, abs=TOL)
    assert solution.objective_value == pytest.approx(1 / 3, abs=TOL)
    assert result.document["resilience"]["cvar"]["value"] == pytest.approx(1 / 3, abs=TOL)


# --------------------------------------------------------------------------------- policy


def redundancy_doc(redundancy: int) -> dict[str, Any]:
    """Zone A (100 people, exposure 100) with two candidate shelters, at B and at C.

    Roads A-B and A-C of length 1, evacuation reach 2: both shelters serve A. Each shelter
    costs 10 and holds 100. Budget 30, pool up to 1000. Weights: shelter 0.5, economic 0.5.
    One scenario: all of A affected, 100 evacuees, loss 100.
    """
    return {
        "name": f"redundancy_{redundancy}",
        "network": {
            "nodes": [{"id": "A", "population": 100, "economic_exposure": 100},
                      {"id": "B"}, {"id": "C"}],
            "edges": [{"id": "AB", "from": "A", "to": "B", "length": 1},
                      {"id": "AC", "from": "A", "to": "C", "length": 1}],
        },
        "shelters": [{"id": "h_B", "node": "B", "fixed_cost": 10, "capacity": 100},
                     {"id": "h_C", "node": "C", "fixed_cost": 10, "capacity": 100}],
        "compensation": {"max_pool": 1000},
        "budget": 30,
        "policy": {"evacuation_reach": 2, "shelter_redundancy": redundancy},
        "resilience": {"weights": {"supply": 0, "shelter": 0.5, "economic": 0.5}},
        "scenarios": [{"id": "all", "affected": {"A": 1.0}}],
    }


@pytest.mark.parametrize(
    ("redundancy", "shelters_open", "pool", "optimum"),
    [
        # r = 0 or 1: one shelter takes all 100 evacuees; pool 30 - 10 = 20;
        # R = 0.5 * 1 + 0.5 * 20/100 = 0.6. (A second shelter would only cost pool.)
        (0, 1, 20, 0.6),
        (1, 1, 20, 0.6),
        # r = 2: A must see two open shelters, so both open although one is enough;
        # pool 30 - 20 = 10, R = 0.5 + 0.5 * 10/100 = 0.55.
        (2, 2, 10, 0.55),
    ],
)
def test_shelter_redundancy(redundancy: int, shelters_open: int, pool: float,
                            optimum: float) -> None:
    instance = build(redundancy_doc(redundancy))
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(optimum, abs=TOL)
    assert solution.plan is not None
    assert sum(solution.plan.open_shelters) == shelters_open
    assert solution.plan.compensation_pool == pytest.approx(pool, abs=money_tol(100, 0.5))
    assert plan_violations(instance, solution.plan) == []


def test_shelter_redundancy_nobody_can_meet() -> None:
    # Three shelters within reach of A are asked for and only two exist: infeasible before
    # the solver, with the zone named.
    with pytest.raises(InfeasibleError, match=r"\bA\b"):
        solve(build(redundancy_doc(3)), EXACT)


def test_shelter_redundancy_over_budget() -> None:
    # r = 2 needs both shelters (20) and the budget is 15: no plan at all, and the message
    # says what the policy costs against the budget.
    doc = redundancy_doc(2)
    doc["budget"] = 15
    with pytest.raises(InfeasibleError, match=r"alone costs at least 20\.00.*budget 15\.00"):
        solve(build(doc), EXACT)


# ----------------------------------------------------------------------- existing assets


def existing_depot_doc() -> dict[str, Any]:
    """tiny, but depot_A already exists and holds 40 kits."""
    doc = tiny_doc()
    doc["depots"][0]["existing"] = True
    doc["depots"][0]["existing_stock"] = {"kit": 40}
    return doc


def test_existing_depot_stock_counts_and_costs_nothing() -> None:
    # depot_A is open for free and holds 40 kits (room for 60 more). Budget 150:
    # open depot_C (50) and buy 100 kits: x_A + x_C = 100 with R_west = (40 + x_A) / 100,
    # R_east = x_C / 100. Max min: 40 + x_A = x_C -> x_A = 30, x_C = 70, worst case 0.7.
    # (Keeping depot_C closed leaves east at 0.) Cost: depots 50 (only C), kits 100.
    instance = build(existing_depot_doc())
    solution = solved(instance)
    assert solution.objective_value == pytest.approx(0.7, abs=TOL)
    assert resilience(solution) == pytest.approx([0.7, 0.7], abs=TOL)
    plan = solution.plan
    assert plan is not None
    assert plan.open_depots == (True, True)
    # Stock is what the plan buys; the 40 existing kits are not repeated.
    assert plan.stock.ravel() == pytest.approx([30, 70], abs=TOL)
    cost = plan_cost(instance, plan)
    assert cost.depots == pytest.approx(50, abs=TOL)
    assert cost.total == pytest.approx(150, abs=TOL)


def test_existing_depot_alone() -> None:
    # Doing nothing keeps the existing depot with its 40 kits: R_west = 0.4, R_east = 0,
    # for a cost of 0; the max-flow evaluation must count the existing stock.
    instance = build(existing_depot_doc())
    plan = Plan.nothing(instance)
    assert [o.resilience for o in evaluate_plan(instance, plan)] == pytest.approx([0.4, 0.0])
    assert plan_cost(instance, plan).total == pytest.approx(0.0)
    # With a budget of 0 the engine can only do nothing; its best expected is 0.2.
    doc = existing_depot_doc()
    doc["budget"] = 0
    solution = solved(with_objective(build(doc), ObjectiveKind.EXPECTED))
    assert solution.objective_value == pytest.approx(0.2, abs=TOL)
    assert solution.plan is not None and solution.plan.open_depots == (True, False)
