"""The decomposition against the extensive form, and the fast recourse path it stands on.

Reference results with a tolerance (STYLE.md habit 10): both methods solve the same seeded
instances to a 1e-9 gap; objectives must agree within 1e-6 and the decomposition's plan must
pass the independent max-flow check. Plans may differ (MIPs have ties).
"""

from __future__ import annotations

import dataclasses
import re
import time

import highspy
import numpy as np
import pytest
from helpers import build, random_doc, tiny_doc, with_objective

from optimizer.errors import InfeasibleError
from optimizer.evaluation.evaluate import evaluate_plan, plan_violations
from optimizer.evaluation.reachability import scenario_pairs
from optimizer.evaluation.recourse import FirstStage, RecourseBlock, scenario_reach
from optimizer.instance.reading import build_instance
from optimizer.instance.schema import InstanceFile, ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.plan import Plan
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.decomposition import solve_decomposition
from optimizer.solvers.decomposition.master import Master
from optimizer.solvers.dispatch import auto_method, chosen_method
from optimizer.solvers.extensive import solve
from optimizer.sources.synthetic import geometric_instance
from optimizer.status import Status

EXACT = SolveOptions(mip_gap=1e-9, workers=1)


def geometric(nodes: int, scenarios: int, seed: int, **kwargs: object):
    doc = geometric_instance(nodes, scenarios, seed=seed, commodities=2, **kwargs)
    return build_instance(InstanceFile.model_validate(doc))


def _instances() -> list[tuple[str, object]]:
    """Seeded small instances over sizes: random graphs, and generated hazard networks."""
    out = [(f"random-{seed}", build(random_doc(seed, nodes=(6, 14), scenarios=(3, 12),
                                               commodities=(1, 2),
                                               integer_stock=seed % 3 != 0,
                                               redundancy=int(seed % 4 == 1))))
           for seed in range(10)]
    out += [("geometric-20x15", geometric(20, 15, 1, redundancy=1, existing_depots=1,
                                          existing_shelters=1)),
            ("geometric-30x25", geometric(30, 25, 2)),
            ("geometric-40x40", geometric(40, 40, 3, existing_depots=1))]
    return out


INSTANCES = _instances()


def _random_plan(instance, rng: np.random.Generator) -> Plan:
    D, K, H = len(instance.depots), len(instance.commodities), len(instance.shelters)
    opened = tuple(bool(v) for v in rng.random(D) < 0.6)
    stock = np.floor(rng.random((D, K)) * 40) * np.array(opened, dtype=float)[:, None]
    shelters = tuple(bool(v) for v in rng.random(H) < 0.6)
    modules = tuple(int(m) if z else 0 for m, z in zip(rng.integers(0, 3, H), shelters,
                                                        strict=True))
    return Plan(opened, stock, shelters, modules, float(rng.integers(0, 100)))


# ------------------------------------------------------------------------ recourse path


@pytest.mark.parametrize(("name", "instance"), INSTANCES[:6] + INSTANCES[-2:],
                         ids=[n for n, _ in INSTANCES[:6] + INSTANCES[-2:]])
def test_scenario_reach_matches_the_models_pairs(name: str, instance) -> None:
    for scenario, ref in zip(instance.scenarios, scenario_pairs(instance), strict=True):
        got = scenario_reach(instance, scenario)
        assert set(zip(got.supply_depot, got.supply_zone, strict=True)) == set(
            zip(ref.supply_depot, ref.supply_zone, strict=True))
        assert set(zip(got.shelter_zone, got.shelter_index, strict=True)) == set(
            zip(ref.shelter_zone, ref.shelter_index, strict=True))


@pytest.mark.parametrize("seed", range(8))
def test_recourse_block_equals_max_flow_and_hot_starts_stay_exact(seed: int) -> None:
    """Random plans in a row on one block (hot starts): R_s and unmet amounts match the
    networkx evaluation."""
    instance = build(random_doc(seed, scenarios=(3, 8), commodities=(1, 3)))
    rng = np.random.default_rng(seed)
    block = RecourseBlock(instance, np.arange(len(instance.scenarios)))
    om = instance.commodity_weights
    for _ in range(4):
        plan = _random_plan(instance, rng)
        got = block.evaluate(FirstStage.of(instance, plan), detail=True)
        ref = evaluate_plan(instance, plan)
        assert np.allclose(got.resilience(instance), [o.resilience for o in ref], atol=1e-9)
        for s, (scenario, o) in enumerate(zip(instance.scenarios, ref, strict=True)):
            # Unmet amounts may be split differently over zones (ties), but their totals are
            # the flows' and never negative.
            assert (got.unmet_need[s] >= 0).all() and (got.unmet_evacuees[s] >= 0).all()
            assert (got.unmet_need[s] * om).sum() == pytest.approx(
                (o.unmet_need * om).sum(), abs=1e-6)
            assert got.unmet_evacuees[s].sum() == pytest.approx(o.unmet_evacuees.sum(),
                                                                abs=1e-6)
            assert (got.unmet_need[s] <= scenario.need + 1e-9).all()


def test_ceiling_bounds_every_plan() -> None:
    instance = INSTANCES[-1][1]
    block = RecourseBlock(instance, np.arange(len(instance.scenarios)))
    ceiling = block.evaluate(FirstStage.ceiling(instance)).resilience(instance)
    rng = np.random.default_rng(0)
    for _ in range(3):
        plan = _random_plan(instance, rng)
        values = block.evaluate(FirstStage.of(instance, plan)).resilience(instance)
        assert (values <= ceiling + 1e-9).all()


def test_cut_gradients_are_supergradients_of_the_shares() -> None:
    """Each share is concave in the plan: the cut at one plan over-estimates it at any
    other, and is exact at its own (random plans, every scenario)."""
    instance = INSTANCES[-2][1]
    block = RecourseBlock(instance, np.arange(len(instance.scenarios)))
    rng = np.random.default_rng(1)
    plans = [FirstStage.of(instance, _random_plan(instance, rng)) for _ in range(4)]
    for here in plans:
        at = block.evaluate(here, gradients=True)
        u_here = np.concatenate([here.stock.ravel(), here.capacity])
        DK = here.stock.size
        for there in plans:
            other = block.evaluate(there)
            u_there = np.concatenate([there.stock.ravel(), there.capacity])
            du = u_there - u_here
            assert (other.supply <= at.supply + at.grad_stock @ du[:DK] + 1e-9).all()
            assert (other.shelter <= at.shelter + at.grad_capacity @ du[DK:] + 1e-9).all()
        # More on hand never lowers a share, so no supergradient entry is negative.
        assert (at.grad_stock >= 0).all() and (at.grad_capacity >= 0).all()
    # A zero gradient would pass the inequalities above only where no plan does better:
    # these plans leave need unmet within reach, so some marginal unit must count.
    assert any((block.evaluate(p, gradients=True).grad_stock > 0).any() for p in plans)
    assert any((block.evaluate(p, gradients=True).grad_capacity > 0).any() for p in plans)


# -------------------------------------------------------------- against the extensive

KINDS = [(ObjectiveKind.WORST_CASE, {}), (ObjectiveKind.EXPECTED, {}),
         (ObjectiveKind.CVAR, {"alpha": 0.7}), (ObjectiveKind.RELATIVE, {})]
GAP = 1e-6
BOTH = SolveOptions(mip_gap=GAP, workers=1)


def _stages(solution) -> list[tuple[str, float]]:
    return [(st.objective, st.value) for st in solution.stages if st.objective != "recourse"]


def _same_stages(got, reference, scale: float) -> None:
    """Stage by stage the same values: resilience within the gap (and the hold
    tolerances), cost within a thousandth of the money scale."""
    a, b = _stages(got), _stages(reference)
    assert [n for n, _ in a] == [n for n, _ in b]
    for (name, x), (_, y) in zip(a, b, strict=True):
        if name == "tiebreak_cost" or (name == "objective" and y > 1.5):
            assert x == pytest.approx(y, abs=1e-3 * scale), name
        else:
            assert x == pytest.approx(y, abs=2e-5), name


@pytest.mark.parametrize(("name", "instance"), INSTANCES, ids=[n for n, _ in INSTANCES])
def test_decomposition_agrees_with_the_extensive_form(name: str, instance) -> None:
    """Every objective, stage by stage (leximin levels, expected, cost), the same values as
    the extensive form, a plan the max-flow check accepts, and status optimal."""
    scale = instance.budget if instance.budget > 0 else 1.0
    worst = None  # the worst-case optimum, which sets min_cost's target below
    for kind, extra in KINDS:
        inst = with_objective(instance, kind, **extra)
        try:
            reference = solve(inst, BOTH)
        except InfeasibleError:
            with pytest.raises(InfeasibleError):
                solve_decomposition(inst, BOTH)
            return
        solved = solve_and_verify(inst, dataclasses.replace(BOTH, method="decomposition"))
        got = solved.solution
        assert solved.verified, solved.failure()
        assert got.method == "decomposition" and solved.document["solver"]["method"] == \
            "decomposition"
        assert got.status is Status.OPTIMAL, (kind, got.message)
        assert got.bound >= got.objective_value - 1e-12
        _same_stages(got, reference, scale)
        assert got.pinned == reference.pinned or kind is not ObjectiveKind.WORST_CASE
        if kind is ObjectiveKind.WORST_CASE:
            worst = reference.objective_value

    # min_cost, with a target the budget can reach and one that binds; then expected.
    target = round(0.8 * worst, 6) if worst else 0.0
    if target <= 0:
        return
    priced = with_objective(instance, ObjectiveKind.MIN_COST, target=target)
    ref_cost = solve(priced, BOTH)
    solved = solve_and_verify(priced, dataclasses.replace(BOTH, method="decomposition"))
    assert solved.verified, solved.failure()
    cost = solved.solution.objective_value
    assert cost == pytest.approx(ref_cost.objective_value, rel=1e-5, abs=1e-6)
    assert min(o.resilience for o in solved.solution.outcomes) >= target - 1e-6
    _same_stages(solved.solution, ref_cost, scale)


@pytest.mark.parametrize(("name", "instance"), INSTANCES, ids=[n for n, _ in INSTANCES])
def test_lazy_master_agrees_with_the_extensive_form(name: str, instance, monkeypatch) -> None:
    """The master that holds a scenario on its own only once it falls below what the
    master assumes (and the others in groups, for expected resilience), forced on these
    small instances with two scenarios entering per round and three groups: every
    objective, stage by stage, the same values as the extensive form."""
    from optimizer.solvers.decomposition import tuning

    monkeypatch.setattr(tuning, "LAZY_FROM", 0)
    monkeypatch.setattr(tuning, "ACTIVATE", 2)
    monkeypatch.setattr(tuning, "GROUPS", 3)
    test_decomposition_agrees_with_the_extensive_form(name, instance)


def test_lazy_master_leaves_out_the_scenarios_that_do_not_matter(monkeypatch) -> None:
    """The agreement above would hold with the lazy master silently off: here it must hold
    fewer scenarios than there are and still prove the extensive form's worst case (and its
    tie-breaks)."""
    from optimizer.solvers.decomposition import tuning

    monkeypatch.setattr(tuning, "LAZY_FROM", 0)
    monkeypatch.setattr(tuning, "ACTIVATE", 2)
    monkeypatch.setattr(tuning, "GROUPS", 3)
    instance = INSTANCES[-1][1]  # geometric-40x40
    got = solve_decomposition(instance, BOTH)
    assert got.status is Status.OPTIMAL, got.message
    assert 0 < got.size["scenarios_held"] < len(instance.scenarios)
    _same_stages(got, solve(instance, BOTH), instance.budget)


@pytest.mark.parametrize("kind", [ObjectiveKind.EXPECTED, ObjectiveKind.CVAR])
def test_curves_hold_no_scenario_and_agree(kind: ObjectiveKind, monkeypatch) -> None:
    """Expected resilience or CVaR as the objective: every scenario counted on curves
    (optimizer.solvers.decomposition.curves), none held on its own, and the same stages as the
    extensive form."""
    from optimizer.solvers.decomposition import tuning

    monkeypatch.setattr(tuning, "LAZY_FROM", 0)
    instance = with_objective(INSTANCES[-1][1], kind)
    got = solve_decomposition(instance, BOTH)
    assert got.status is Status.OPTIMAL, got.message
    assert got.size["scenarios_held"] == 0
    _same_stages(got, solve(instance, BOTH), instance.budget)


def test_continuous_stock_masters_fall_back_to_whole_units_when_rounding_matters() -> None:
    """Hand-worked: tiny with kits at 0.6 each. Opening both depots leaves 50 to spend,
    83.3 kits; each village needs 100 and only its own depot reaches it when its road is
    cut. Masters with continuous stock bound the worst case at 41.67/100, but whole kits
    give at most 41 + 42 = 83, so the best worst case is 0.41. The masters must go back to
    whole units to prove it, and the answer equals the extensive form's."""
    doc = tiny_doc()
    for depot in doc["depots"]:
        depot["unit_cost"] = {"kit": 0.6}
    instance = build(doc)
    messages: list[str] = []
    solved = solve_decomposition(instance, dataclasses.replace(EXACT, log=messages.append))
    assert solved.status is Status.OPTIMAL
    assert solved.objective_value == pytest.approx(0.41, abs=1e-9)
    assert solved.bound == pytest.approx(0.41, abs=1e-7)
    assert any("whole units" in m for m in messages)
    # The first MIP master's point (41.67 kits each) is exact and meets its bound, so no
    # tighter master can help: a repair buys whole kits for its openings and the next
    # master is in whole units (before: twelve masters tightened the gap to no effect).
    objective = [p["master"] for p in solved.progress
                 if p["stage"] == "objective" and p["master"] != "lp"]
    assert objective == ["mip", "repair", "mip"]
    # The expected-resilience stage then spends the last whole kit: 41 and 42.
    assert sorted(solved.plan.stock[:, 0]) == [41.0, 42.0]
    assert solve(instance, EXACT).objective_value == pytest.approx(0.41, abs=1e-9)


def test_every_mip_master_is_solved_to_the_gap_asked_for() -> None:
    """No loose masters first (measured slower at 200 x 1,000: benchmarks/RESULTS.md): each
    MIP and repair master records the gap asked for (the first stage's, the part of it the
    later stages' holds leave); LP masters record none."""
    from optimizer.solvers.decomposition.tuning import ADMIT_GAP_SHARE

    instance = INSTANCES[-1][1]
    got = solve_decomposition(instance, EXACT)
    assert got.status is Status.OPTIMAL
    assert any(p["master"] == "mip" for p in got.progress)
    first = EXACT.mip_gap * (1 - ADMIT_GAP_SHARE)
    for p in got.progress:
        gap = first if p["stage"] == "objective" else EXACT.mip_gap
        assert p["master_gap"] == (None if p["master"] == "lp" else gap)


def test_progress_is_recorded_and_logged() -> None:
    instance = INSTANCES[-1][1]
    lines: list[str] = []
    got = solve_decomposition(instance, dataclasses.replace(EXACT, log=lines.append))
    assert got.progress, "no iteration recorded"
    keys = {"iteration", "stage", "master", "cuts_added", "cuts", "bound", "incumbent", "gap",
            "seconds"}
    for entry in got.progress:
        assert keys <= set(entry)
    assert [p["iteration"] for p in got.progress] == list(range(1, len(got.progress) + 1))
    assert sum(bool(re.match(r"decomposition \d+ \(", line)) for line in lines) == len(
        got.progress)
    primary = [p for p in got.progress if p["stage"] == "objective"]
    assert primary[-1]["gap"] <= 1e-9 or primary[-1]["bound"] - primary[-1]["incumbent"] < 1e-9
    assert got.size["scenarios"] == len(instance.scenarios) and got.size["cuts"] > 0
    assert {p["stage"] for p in got.progress} >= {"objective", "tiebreak_cost"}


# ---------------------------------------------------------------------- limits, usage


def test_ctrl_c_keeps_the_incumbent() -> None:
    """Ctrl-C during the loop (here: while the first iteration is logged) stops it with
    the best plan so far, evaluated in full; the CLI then writes it and exits 130."""
    instance = INSTANCES[-1][1]
    pressed = []

    def log(line: str) -> None:
        if re.match(r"decomposition 1 \(", line) and not pressed:
            pressed.append(line)
            raise KeyboardInterrupt

    got = solve_decomposition(instance, dataclasses.replace(EXACT, log=log))
    assert pressed and got.interrupted
    assert got.message.startswith("interrupted")
    assert len(got.progress) == 1 and got.plan is not None
    resilience = [o.resilience for o in evaluate_plan(instance, got.plan)]
    assert [o.resilience for o in got.outcomes] == pytest.approx(resilience, abs=1e-9)
    assert got.bound >= got.objective_value - 1e-12


def test_time_limit_already_spent_returns_a_plan_and_its_bound() -> None:
    instance = geometric(60, 40, 4)  # no redundancy: doing nothing is feasible
    options = SolveOptions(time_limit=0.0, workers=1, started=time.monotonic() - 1.0)
    got = solve_decomposition(instance, options)
    assert got.status is Status.FEASIBLE
    assert got.plan is not None and got.bound >= got.objective_value
    assert "time limit" in got.message
    resilience = [o.resilience for o in evaluate_plan(instance, got.plan)]
    assert min(resilience) == pytest.approx(got.objective_value, abs=1e-6)


def test_time_limit_is_respected() -> None:
    # No redundancy policy: the do-nothing plan is the first incumbent, so a plan comes
    # back however busy the machine is (with one, a loaded machine can spend the 1.5 s
    # before any master finds a plan, which is exit 3, not a broken limit).
    instance = geometric(80, 300, 6)
    started = time.monotonic()
    got = solve_decomposition(instance, SolveOptions(time_limit=1.5, workers=1,
                                                     started=started))
    assert time.monotonic() - started < 1.5 + 4.0  # one evaluation round may overrun
    if got.status is Status.OPTIMAL:  # proven within the limit
        assert got.message.startswith("optimal")
    else:  # the limit stopped it: the result says so
        assert got.status is Status.FEASIBLE and "stopped at the time limit" in got.message
    assert got.bound >= got.objective_value - 1e-9


def test_min_cost_out_of_time_before_any_plan_is_infeasible() -> None:
    instance = with_objective(geometric(30, 20, 7), ObjectiveKind.MIN_COST, target=0.3)
    options = SolveOptions(time_limit=0.0, workers=1, started=time.monotonic() - 1.0)
    with pytest.raises(InfeasibleError, match="time"):
        solve_decomposition(instance, options)


def test_unreachable_target_is_named_before_any_master() -> None:
    instance = INSTANCES[-1][1]
    block = RecourseBlock(instance, np.arange(len(instance.scenarios)))
    ceiling = block.evaluate(FirstStage.ceiling(instance)).resilience(instance).min()
    assert ceiling < 0.99
    instance = with_objective(instance, ObjectiveKind.MIN_COST, target=ceiling + 0.01)
    with pytest.raises(InfeasibleError, match="even with every depot open"):
        solve_decomposition(instance, EXACT)


def test_auto_method_chooses_by_size_and_objective() -> None:
    small = INSTANCES[0][1]
    assert auto_method(small, SolveOptions()) == "extensive"
    large = geometric(200, 120, 0)
    assert auto_method(large, SolveOptions()) == "decomposition"
    for kind in (ObjectiveKind.EXPECTED, ObjectiveKind.CVAR, ObjectiveKind.RELATIVE):
        assert auto_method(with_objective(large, kind, alpha=0.5), SolveOptions()) == \
            "decomposition"
    assert auto_method(with_objective(large, ObjectiveKind.MIN_COST, target=0.1),
                       SolveOptions()) == "decomposition"
    assert chosen_method(large, SolveOptions(method="extensive")) == "extensive"


# Curves are drawn from the do-nothing plan, the start only where no shelter redundancy is
# asked for (elsewhere every scenario is held).
CURVED = [(n, i) for n, i in INSTANCES if i.policy.shelter_redundancy == 0]


@pytest.mark.parametrize(("name", "instance"), CURVED, ids=[n for n, _ in CURVED])
def test_curves_bound_expected_resilience_and_meet_it_at_their_plans(
        name: str, instance, monkeypatch) -> None:
    """The curves that stand for every scenario of an expected-resilience master are a
    relaxation: with a plan's first stage fixed in the master, its expected resilience is at
    least the plan's exact one, and equal to it at the plans whose rows were added."""
    from optimizer.solvers.base import first_stage_values
    from optimizer.solvers.decomposition import tuning

    monkeypatch.setattr(tuning, "LAZY_FROM", 0)
    instance = with_objective(instance, ObjectiveKind.EXPECTED)
    S = len(instance.scenarios)
    block = RecourseBlock(instance, np.arange(S))
    ceiling = block.evaluate(FirstStage.ceiling(instance), coverage=True)
    master = Master(instance, BOTH, ceiling)
    start = FirstStage.of(instance, Plan.nothing(instance))
    master.remember_start(block.evaluate(start, gradients=True), start)
    curves = master.curves
    assert curves is not None and curves.curves and not master.active.any()
    rng = np.random.default_rng(7)
    top = FirstStage.ceiling(instance)
    max_modules = [s.max_modules for s in instance.shelters]
    plans = []
    for attempt in range(400):  # feasible plans (the master's rows hold them), of all sizes
        plan = _random_plan(instance, rng)
        shrink = 0.5 ** (attempt % 4)
        plan = dataclasses.replace(
            plan, stock=np.minimum(np.floor(plan.stock * shrink), np.floor(top.stock)),
            modules=tuple(min(k, n) for k, n in zip(plan.modules, max_modules, strict=True)),
            compensation_pool=plan.compensation_pool * shrink)
        if not plan_violations(instance, plan):
            plans.append(plan)
        if len(plans) == 8:
            break
    assert len(plans) >= 5
    h = master.highs

    def columns(plan: Plan) -> np.ndarray:
        x = np.zeros(master.num_cols)
        cols, vals = first_stage_values(master.layout, master.money_scale, plan)
        x[cols] = vals
        return x

    priced = plans[:4]
    for plan in priced:  # rows at these plans, as if the master over-stated every curve
        first = FirstStage.of(instance, plan)
        ev = block.evaluate(first, gradients=True)
        u = np.concatenate([first.stock.ravel(), first.capacity])
        curves.add_point(ev.supply, ev.shelter, ev.grad_stock, ev.grad_capacity, u)
        x = columns(plan)
        for curve in curves.curves:
            x[curve.theta] = 2.0
        assert curves.cut_tangents(x, u, first.pool / master.money_scale,
                                   (ev.supply, ev.shelter, ev.economic), 1e-9) > 0
    costs = curves.costs()
    master.set_objective(np.array(list(costs)), np.array(list(costs.values())))
    master.relax(True)
    lp = h.getLp()
    lower, upper = np.array(lp.col_lower_), np.array(lp.col_upper_)
    n = len(lower)
    for i, plan in enumerate(plans):
        cols, vals = first_stage_values(master.layout, master.money_scale, plan)
        h.changeColsBounds(len(cols), cols, vals, vals)
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        bound = -h.getInfo().objective_function_value
        exact = float(instance.probabilities @ block.evaluate(FirstStage.of(
            instance, plan)).resilience(instance))
        assert bound >= exact - 1e-7
        if i < len(priced):  # a plan whose rows were added: met exactly
            assert bound == pytest.approx(exact, abs=1e-7)
        h.changeColsBounds(n, np.arange(n, dtype=np.int32), lower, upper)
