"""The direct array builder (models.direct) hands HiGHS the model the Pyomo route hands it.

Two levels of evidence, on a seeded loop of instances (random small ones, the same with
awkward data: zero costs, empty depots, total losses, existing facilities, no economic
loss; and geometric ones with existing facilities and a redundancy policy) and every
objective:

* the compiled models are equal bit for bit: read back from the two HiGHS instances, the
  same columns (bounds, integrality, costs), rows (bounds) and matrix, in the same order,
  and the same layout and stage objectives; a wrong coefficient anywhere fails it (one
  test plants one to show that);
* ``solve`` with ``builder="direct"`` gives the same objective and per-scenario resilience
  as the Pyomo route and passes the pipeline's independent verification.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import build, random_doc, with_objective

from models import direct
from models.resilience import (
    CONSTRAINT_FAMILIES,
    ModelData,
    build_model,
    linked_pair_flows,
    linked_shelter_rows,
    prepare,
    tiebreaks,
)
from optimizer.errors import InfeasibleError
from optimizer.instance.data import Instance
from optimizer.pipeline import solve_and_verify
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.extensive import Compiled, compile_direct, compile_pyomo, solve
from optimizer.solvers.presolve import prove_infeasible
from optimizer.sources.synthetic import geometric_instance

KINDS = ("worst_case", "expected", "cvar", "min_cost", "relative")


def awkward_doc(seed: int) -> dict:
    """A random instance with the data that take special paths in the formulation."""
    rng = np.random.default_rng(1000 + seed)
    doc = random_doc(seed, redundancy=int(rng.integers(0, 2)),
                     integer_stock=bool(rng.integers(0, 2)))

    def coin(p: float = 0.3) -> bool:
        return bool(rng.random() < p)

    all_depots, all_shelters = coin(0.15), coin(0.15)
    for d in doc["depots"]:
        if coin():
            d["fixed_cost"] = 0.0
        if coin(0.15):
            d["capacity"] = 0.0
        for c in d["unit_cost"]:
            if coin(0.2):
                d["unit_cost"][c] = 0.0
        if (all_depots or coin()) and d["capacity"] >= 50:
            d["existing"] = True
            d["existing_stock"] = {c["id"]: float(rng.integers(0, 5))
                                   for c in doc["commodities"]}
    for h in doc["shelters"]:
        if coin():
            h["fixed_cost"] = 0.0
        if coin():
            h["module_cost"] = 0.0
        if coin(0.2):
            h["module_size"] = 0.0
        if coin(0.2):
            h["capacity"] = 0.0
        if all_shelters or coin():
            h["existing"] = True
    for s in doc["scenarios"]:
        if coin(0.2):
            s["depot_loss"] = {d["id"]: 1.0 for d in doc["depots"] if coin(0.5)}
        if coin(0.2):
            s["shelter_loss"] = {h["id"]: 1.0 for h in doc["shelters"] if coin(0.5)}
        if coin(0.2):
            s["economic_loss_rate"] = 0.0
        if coin(0.2):
            s["evacuation_rate"] = 0.0
    if coin(0.2):
        doc["compensation"]["max_pool"] = 0.0
    return doc


def _feasible(docs: list[dict]) -> list[Instance]:
    """The instances no plan is proved infeasible for before the solver (as solve does)."""
    out = []
    for doc in docs:
        instance = build(doc)
        try:
            prove_infeasible(instance)
        except InfeasibleError:
            continue
        out.append(instance)
    return out


MODEL_CASES = _feasible(
    [random_doc(seed, redundancy=seed % 2, integer_stock=seed % 3 != 0) for seed in range(12)]
    + [awkward_doc(seed) for seed in range(40)]
    + [geometric_instance(30, 6, seed=seed, commodities=2, redundancy=1, existing_depots=1,
                          existing_shelters=1) for seed in range(3)])
SOLVE_CASES = _feasible(
    [random_doc(seed, redundancy=seed % 2, integer_stock=seed % 3 != 0) for seed in range(6)]
    + [awkward_doc(seed) for seed in range(6)]
    + [geometric_instance(25, 5, seed=seed, commodities=2, redundancy=1, existing_depots=1,
                          existing_shelters=1) for seed in range(2)])


def _kind(instance: Instance, kind: str) -> Instance:
    return with_objective(instance, kind, alpha=0.6, target=0.05)


def _names(instance: Instance) -> list[str]:
    return ["objective", *tiebreaks(instance.objective.kind)]


def _both(instance: Instance) -> tuple[ModelData, Compiled, Compiled]:
    md = prepare(instance)
    names = _names(instance)
    options = SolveOptions()
    return (md, compile_pyomo(build_model(md), md, names, options),
            compile_direct(md, names, options))


def differences(md: ModelData, pyomo: Compiled, fast: Compiled) -> list[str]:
    """Everything in which the two compiled models differ, with Pyomo's names."""
    a, b = pyomo.highs.getLp(), fast.highs.getLp()
    if (a.num_col_, a.num_row_) != (b.num_col_, b.num_row_):
        return [f"{a.num_col_} columns x {a.num_row_} rows through Pyomo, "
                f"{b.num_col_} x {b.num_row_} direct"]
    model = direct.assemble(md, list(fast.objectives))
    col_names, row_names = model.column_names(), model.row_names()
    problems = []

    def compare(what: str, x: object, y: object, labels: list[str] | None) -> None:
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            problems.append(f"{what}: {x.shape} entries through Pyomo, {y.shape} direct")
            return
        # Bit for bit (a zero's sign included): the same arithmetic on the same numbers.
        same = (x == y) if x.dtype.kind in "iub" else (
            x.astype(float).view(np.int64) == y.astype(float).view(np.int64))
        for i in np.flatnonzero(~same)[:3]:
            where = labels[i] if labels is not None else str(i)
            problems.append(f"{what} at {where}: {x[i]!r} through Pyomo, {y[i]!r} direct")

    compare("column cost", a.col_cost_, b.col_cost_, col_names)
    compare("column lower bound", a.col_lower_, b.col_lower_, col_names)
    compare("column upper bound", a.col_upper_, b.col_upper_, col_names)
    compare("integrality", [int(t) for t in a.integrality_], [int(t) for t in b.integrality_],
            col_names)
    compare("row lower bound", a.row_lower_, b.row_lower_, row_names)
    compare("row upper bound", a.row_upper_, b.row_upper_, row_names)
    compare("column starts", a.a_matrix_.start_, b.a_matrix_.start_, None)
    compare("row indices", a.a_matrix_.index_, b.a_matrix_.index_, None)
    if not problems:
        rows = np.asarray(b.a_matrix_.index_)
        cols = np.repeat(np.arange(b.num_col_), np.diff(np.asarray(b.a_matrix_.start_)))
        compare("coefficient", a.a_matrix_.value_, b.a_matrix_.value_,
                [f"({row_names[r]}, {col_names[c]})" for r, c in zip(rows, cols, strict=True)])
    if set(pyomo.objectives) != set(fast.objectives):
        problems.append(f"objectives {sorted(pyomo.objectives)} vs {sorted(fast.objectives)}")
    for name in pyomo.objectives.keys() & fast.objectives.keys():
        compare(f"objective {name}", pyomo.objectives[name], fast.objectives[name], col_names)
    for field in dataclasses.fields(pyomo.layout):
        if not np.array_equal(getattr(pyomo.layout, field.name),
                              getattr(fast.layout, field.name)):
            problems.append(f"layout of {field.name}")
    if (pyomo.num_rows, pyomo.nnz) != (fast.num_rows, fast.nnz):
        problems.append(f"size {(pyomo.num_rows, pyomo.nnz)} vs {(fast.num_rows, fast.nnz)}")
    if not np.array_equal(pyomo.integer, fast.integer):
        problems.append("integer flags")
    return problems


def test_row_families_follow_the_formulation() -> None:
    """A family added to models.resilience must get its direct counterpart, in order."""
    assert [name for name, _ in direct.ROW_FAMILIES] == [
        f.__name__ for f in CONSTRAINT_FAMILIES] + ["add_objectives"]


def test_the_cases_cover_the_awkward_paths() -> None:
    """The loop below meets existing facilities, empty rows, zero costs and total losses."""
    depots = [d for i in MODEL_CASES for d in i.depots]
    shelters = [h for i in MODEL_CASES for h in i.shelters]
    scenarios = [s for i in MODEL_CASES for s in i.scenarios]
    assert any(d.existing for d in depots) and any(h.existing for h in shelters)
    assert any(all(h.existing for h in i.shelters) and i.policy.shelter_redundancy
               for i in MODEL_CASES)
    assert any(d.capacity == 0 for d in depots) and any(d.fixed_cost == 0 for d in depots)
    assert any(0 in d.unit_cost for d in depots) and any(h.module_cost == 0 for h in shelters)
    assert any((s.depot_loss == 1).any() for s in scenarios)
    assert any((s.shelter_loss == 1).any() for s in scenarios)
    assert any(s.economic_loss.sum() == 0 for s in scenarios)
    assert any(s.evacuees.sum() == 0 for s in scenarios)
    assert any(not i.policy.integer_stock for i in MODEL_CASES)
    assert any(i.max_pool == 0 for i in MODEL_CASES)
    # Shelter rows of each kind: summed capacity rows, linked pair flows, cover flows.
    prepared = [prepare(i) for i in MODEL_CASES]
    assert any((~linked_shelter_rows(md)).any() for md in prepared)
    assert any(len(linked_pair_flows(md)) for md in prepared)
    assert any(md.num_pair_flows < len(md.v_scenario) for md in prepared)


@pytest.mark.parametrize("kind", KINDS)
def test_direct_model_equals_the_pyomo_model(kind: str) -> None:
    """Entry by entry, in the same order: HiGHS receives one model either way."""
    for instance in MODEL_CASES:
        md, pyomo, fast = _both(_kind(instance, kind))
        problems = differences(md, pyomo, fast)
        assert not problems, f"{instance.name} ({kind}): " + "; ".join(problems[:6])


@pytest.mark.parametrize("change", ["coefficient", "row bound", "column bound", "cost"])
def test_the_comparison_catches_a_wrong_entry(change: str) -> None:
    """One entry off by a millionth of itself is reported, with its Pyomo name."""
    instance = _kind(MODEL_CASES[0], "cvar")
    md, pyomo, fast = _both(instance)
    lp = fast.highs.getLp()
    if change == "coefficient":
        col = lp.num_col_ - 1
        row = int(lp.a_matrix_.index_[lp.a_matrix_.start_[col]])
        value = float(lp.a_matrix_.value_[lp.a_matrix_.start_[col]])
        fast.highs.changeCoeff(row, col, value * (1 + 1e-6))
    elif change == "row bound":
        row = lp.num_row_ - 1
        fast.highs.changeRowBounds(row, lp.row_lower_[row], lp.row_upper_[row] + 1e-6)
    elif change == "column bound":
        fast.highs.changeColBounds(0, lp.col_lower_[0], lp.col_upper_[0] * (1 + 1e-6))
    else:
        cost = fast.objectives["tiebreak_expected"].copy()
        cost[np.flatnonzero(cost)[0]] *= 1 + 1e-6
        fast.objectives["tiebreak_expected"] = cost
    problems = differences(md, pyomo, fast)
    assert len(problems) == 1, problems
    assert {"coefficient": "coefficient at (", "row bound": "row upper bound at ",
            "column bound": "column upper bound at ",
            "cost": "objective tiebreak_expected at "}[change] in problems[0]


def test_fixed_rows_that_cannot_hold_are_named() -> None:
    """A redundancy row over existing shelters only, one short: an error naming the zone."""
    doc = random_doc(3, redundancy=0)
    for h in doc["shelters"]:
        h["existing"] = True
    doc["policy"]["shelter_redundancy"] = len(doc["shelters"]) + 1
    md = prepare(build(doc))
    with pytest.raises(InfeasibleError, match=r"shelter_redundancy\[\d+\]"):
        direct.assemble(md, ["objective", "tiebreak_expected", "tiebreak_cost"])


@pytest.mark.parametrize("kind", KINDS)
def test_direct_solve_equals_pyomo_solve(kind: str) -> None:
    """Same optimum, per-scenario resilience and search, and the independent check passes."""
    for instance in SOLVE_CASES:
        instance = _kind(instance, kind)
        try:
            reference = solve(instance, SolveOptions(mip_gap=1e-9))
        except InfeasibleError:  # a min_cost target out of reach: both routes must say so
            with pytest.raises(InfeasibleError):
                solve(instance, SolveOptions(builder="direct", mip_gap=1e-9))
            continue
        solved = solve_and_verify(instance, SolveOptions(builder="direct", mip_gap=1e-9))
        fast = solved.solution
        assert solved.verified, f"{instance.name} ({kind}): {solved.failure()}"
        assert fast.status is reference.status
        assert fast.objective_value == pytest.approx(reference.objective_value, abs=1e-6)
        np.testing.assert_allclose([o.resilience for o in fast.outcomes],
                                   [o.resilience for o in reference.outcomes], atol=1e-6)
        assert fast.size == reference.size
        # The same model, so HiGHS runs the same search (the floor benchmark relies on it).
        assert (fast.nodes, fast.iterations) == (reference.nodes, reference.iterations)
        assert [s.objective for s in fast.stages] == [s.objective for s in reference.stages]
