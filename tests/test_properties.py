"""Properties every solve must have, on seeded random instances (6-12 nodes, 2-4 scenarios).

(a) the model's per-scenario resilience equals the independent max-flow evaluation, and
    ``solve_and_verify`` accepts the plan;
(b) worst case <= CVaR(alpha) <= expected for the resilience summary of any plan;
(c) min_cost with the worst-case optimum as target costs no more than the worst-case plan;
(d) a larger budget never lowers the worst-case optimum;
(e) CVaR at alpha = 0 is the expected objective;
(f) measuring money in other units (times 1e3 or 1e6) leaves the optimum unchanged, which
    an unscaled formulation fails (HiGHS then returns wrong "optimal" answers).
"""

from __future__ import annotations

import copy
import functools
import itertools
from typing import Any

import numpy as np
import pytest
from helpers import build, lower_tail_mean, random_doc, with_budget, with_objective

from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.evaluation.outcome import ResilienceSummary, cvar
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.extensive import solve

TOL = 1e-6
EXACT = SolveOptions(mip_gap=1e-9)
SEEDS = range(20)


@functools.cache
def instance_for(seed: int) -> Instance:
    # Every third instance has continuous stock, to cover both domains of x.
    return build(random_doc(seed, integer_stock=seed % 3 != 2))


@functools.cache
def worst_case(seed: int) -> Solution:
    return solve(with_objective(instance_for(seed), ObjectiveKind.WORST_CASE), EXACT)


def money_tol(instance: Instance) -> float:
    """Money within the resilience tolerance: a unit of pool moves R_s by w_eco / L_s."""
    loss = max(s.economic_loss.sum() for s in instance.scenarios)
    return TOL * max(1.0, instance.budget, loss / max(instance.weights.economic, 1e-3))


def random_plan(instance: Instance, rng: np.random.Generator) -> Plan:
    """Any first stage (feasible or not: the evaluation does not care)."""
    volume = np.array([c.unit_volume for c in instance.commodities])
    opened = tuple(bool(d.existing or rng.random() < 0.6) for d in instance.depots)
    stock = np.zeros((len(instance.depots), len(instance.commodities)))
    for j, d in enumerate(instance.depots):
        if opened[j]:
            share = rng.dirichlet(np.ones(len(volume))) * rng.random()
            stock[j] = np.floor(share * d.capacity / volume)
    sheltered = tuple(bool(h.existing or rng.random() < 0.6) for h in instance.shelters)
    modules = tuple(int(rng.integers(0, h.max_modules + 1)) if z else 0
                    for h, z in zip(instance.shelters, sheltered, strict=True))
    return Plan(opened, stock, sheltered, modules, float(rng.random() * instance.max_pool))


# ------------------------------------------------------------------------------------ (a)


def objectives_for(seed: int) -> list[tuple[ObjectiveKind, float | None, float | None]]:
    target = round(0.5 * (worst_case(seed).objective_value or 0.0), 6)
    return [(ObjectiveKind.WORST_CASE, None, None), (ObjectiveKind.EXPECTED, None, None),
            (ObjectiveKind.CVAR, 0.8, None), (ObjectiveKind.MIN_COST, None, target)]


@pytest.mark.parametrize("seed", SEEDS)
def test_model_resilience_matches_max_flow(seed: int) -> None:
    for kind, alpha, target in objectives_for(seed):
        instance = with_objective(instance_for(seed), kind, alpha=alpha, target=target)
        solved = solve_and_verify(instance, EXACT)
        assert solved.verified, f"{kind}: {solved.failure()}"
        solution = solved.solution
        assert solution.plan is not None and solution.outcomes is not None
        evaluated = evaluate_plan(instance, solution.plan)
        for name in ("resilience", "supply", "shelter", "economic"):
            model = [getattr(o, name) for o in solution.outcomes]
            independent = [getattr(o, name) for o in evaluated]
            assert model == pytest.approx(independent, abs=TOL), f"{kind}: {name}"


# ------------------------------------------------------------------------------------ (b)


ALPHAS = (0.0, 0.1, 0.5, 0.8, 0.95, 0.999)


def check_summary_order(values: np.ndarray, probabilities: np.ndarray) -> None:
    previous = np.inf
    for alpha in ALPHAS:
        s = ResilienceSummary.of(values, probabilities, alpha)
        assert s.worst_case - TOL <= s.cvar <= s.expected + TOL, (alpha, s)
        # The engine's sorting CVaR against the LP form, and monotone in alpha.
        assert s.cvar == pytest.approx(lower_tail_mean(values, probabilities, alpha), abs=1e-9)
        assert s.cvar <= previous + 1e-12
        previous = s.cvar
    assert cvar(values, probabilities, 0.0) == pytest.approx(np.dot(values, probabilities))


@pytest.mark.parametrize("seed", SEEDS)
def test_summary_order_of_any_plan(seed: int) -> None:
    instance = instance_for(seed)
    rng = np.random.default_rng(seed)
    plans = [Plan.nothing(instance)] + [random_plan(instance, rng) for _ in range(5)]
    for plan in plans:
        values = np.array([o.resilience for o in evaluate_plan(instance, plan)])
        check_summary_order(values, instance.probabilities)


def test_summary_order_with_ties() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 6))
        values = rng.choice([0.0, 0.25, 0.5, 1.0], size=n)  # ties on purpose
        check_summary_order(values, rng.dirichlet(np.ones(n)))


def test_summary_order_with_zero_probability_scenarios() -> None:
    # A scenario with probability 0 (allowed by the schema: a stress case kept for the
    # worst case only) carries no mass, so it must not change CVaR. The smallest case:
    # values (0, 1) with probabilities (0, 1): CVaR at alpha 0 is the expected value, 1.
    assert cvar(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.0) == pytest.approx(1.0)
    rng = np.random.default_rng(8)
    for _ in range(200):
        n = int(rng.integers(2, 6))
        values = rng.choice([0.0, 0.25, 0.5, 1.0], size=n)
        p = rng.dirichlet(np.ones(n))
        p[rng.random(n) < 0.3] = 0.0
        if p.sum() == 0:
            p[0] = 1.0
        check_summary_order(values, p / p.sum())


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_reported_summary_order(seed: int) -> None:
    instance = with_objective(instance_for(seed), ObjectiveKind.CVAR, alpha=0.6)
    section = solve_and_verify(instance, EXACT).document["resilience"]
    assert section["worst_case"] - TOL <= section["cvar"]["value"] <= section["expected"] + TOL
    assert section["cvar"]["alpha"] == 0.6


# ------------------------------------------------------------------------------------ (c)


@pytest.mark.parametrize("seed", SEEDS)
def test_min_cost_at_worst_case_optimum(seed: int) -> None:
    instance = instance_for(seed)
    best = worst_case(seed)
    assert best.plan is not None and best.objective_value is not None
    best_cost = plan_cost(instance, best.plan).total
    target = best.objective_value
    cheapest = solve(with_objective(instance, ObjectiveKind.MIN_COST, target=target), EXACT)
    assert cheapest.plan is not None
    assert cheapest.objective_value == pytest.approx(plan_cost(instance, cheapest.plan).total)
    assert cheapest.objective_value <= best_cost + money_tol(instance)
    reached = [o.resilience for o in evaluate_plan(instance, cheapest.plan)]
    assert min(reached) >= target - TOL


# ------------------------------------------------------------------------------------ (d)


@pytest.mark.parametrize("seed", SEEDS)
def test_more_budget_never_hurts(seed: int) -> None:
    instance = instance_for(seed)
    optima = []
    for factor in (0.0, 0.5, 1.0, 1.5, 2.5):
        solution = solve(with_budget(instance, instance.budget * factor), EXACT)
        assert solution.objective_value is not None
        optima.append(solution.objective_value)
    assert all(b >= a - TOL for a, b in itertools.pairwise(optima)), optima


# ------------------------------------------------------------------------------------ (e)


@pytest.mark.parametrize("seed", SEEDS)
def test_cvar_at_alpha_zero_is_expected(seed: int) -> None:
    instance = instance_for(seed)
    expected = solve(with_objective(instance, ObjectiveKind.EXPECTED), EXACT)
    at_zero = solve(with_objective(instance, ObjectiveKind.CVAR, alpha=0.0), EXACT)
    assert at_zero.objective_value == pytest.approx(expected.objective_value, abs=TOL)


# ------------------------------------------------------------------------------------ (f)


def scale_money(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    """The same instance with every amount of money multiplied by ``factor``."""
    doc = copy.deepcopy(doc)
    doc["budget"] *= factor
    doc["compensation"]["max_pool"] *= factor
    for node in doc["network"]["nodes"]:
        node["economic_exposure"] = node.get("economic_exposure", 0.0) * factor
    for depot in doc["depots"]:
        depot["fixed_cost"] *= factor
        depot["unit_cost"] = {k: v * factor for k, v in depot["unit_cost"].items()}
    for shelter in doc["shelters"]:
        shelter["fixed_cost"] *= factor
        shelter["module_cost"] *= factor
    for scenario in doc["scenarios"]:
        if scenario.get("economic_loss"):
            scenario["economic_loss"] = {z: v * factor
                                         for z, v in scenario["economic_loss"].items()}
    return doc


@pytest.mark.parametrize("factor", [1e3, 1e6])
@pytest.mark.parametrize("seed", SEEDS)
def test_money_units_do_not_change_the_optimum(seed: int, factor: float) -> None:
    doc = random_doc(seed, integer_stock=seed % 3 != 2)
    scaled = build(scale_money(doc, factor))
    solved = solve_and_verify(scaled, EXACT)
    assert solved.verified, solved.failure()
    assert solved.solution.objective_value == pytest.approx(
        worst_case(seed).objective_value, abs=TOL)
    expected = solve(with_objective(scaled, ObjectiveKind.EXPECTED), EXACT)
    unscaled = solve(with_objective(instance_for(seed), ObjectiveKind.EXPECTED), EXACT)
    assert expected.objective_value == pytest.approx(unscaled.objective_value, abs=TOL)
