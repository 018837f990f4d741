"""mpi-sppy's contract (models.mpisppy_model): its extensive form gives our optimum.

mpi-sppy runs without MPI (it falls back to a one-process stand-in for mpi4py), so these
run in CI: ``mpisppy.opt.ef.ExtensiveForm`` over the per-scenario models, HiGHS through
Pyomo's ``appsi_highs``, against ``resilience solve``'s optimum of the same objective; and
the ``generic_cylinders`` driver on a file, as a user would start it (``--EF``, one
process). The real MPI run (``mpiexec -np 3``, progressive hedging) is in the README and
the issue's report; it needs the ``mpi`` extra.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from helpers import build, random_doc, with_objective
from mpisppy.opt.ef import ExtensiveForm
from mpisppy.utils.cvar import cvar_scenario_creator

from models import mpisppy_model
from optimizer.evaluation.evaluate import evaluate_plan, plan_violations
from optimizer.evaluation.outcome import ResilienceSummary
from optimizer.instance.data import Instance
from optimizer.plan import Plan
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.extensive import solve
from optimizer.sources.synthetic import geometric_instance

ROOT = Path(__file__).resolve().parent.parent
GAP = 1e-9

CASES = [build(random_doc(seed, integer_stock=seed % 2 == 0)) for seed in range(4)] + [
    build(geometric_instance(20, 4, seed=1, commodities=2, redundancy=1, existing_depots=1,
                             existing_shelters=1))]


def extensive_form(instance: Instance, creator=mpisppy_model.scenario_creator,
                   **kwargs: object) -> ExtensiveForm:
    count = len(instance.scenarios)
    ef = ExtensiveForm({"solver": "appsi_highs"},
                       mpisppy_model.scenario_names_creator(count), creator,
                       scenario_creator_kwargs={"instance": instance, "num_scens": count,
                                                **kwargs})
    ef.solve_extensive_form(solver_options={"mip_rel_gap": GAP})
    return ef


def plan_of(instance: Instance, ef: ExtensiveForm) -> Plan:
    """The first stage mpi-sppy chose, in the engine's units."""
    m = next(iter(ef.local_scenarios.values()))
    D, K = len(instance.depots), len(instance.commodities)
    opened = tuple(round(m.y[d].value) == 1 for d in range(D))
    stock = np.array([[m.x[d, k].value for k in range(K)] for d in range(D)]).reshape(D, K)
    stock = stock * m.stock_unit
    if instance.policy.integer_stock:
        stock = np.round(stock)
    # As the engine reads a plan: nothing at a closed depot (HiGHS leaves 1e-12 there).
    stock = np.where(np.array(opened)[:, None], np.maximum(stock, 0.0), 0.0)
    return Plan(
        open_depots=opened,
        stock=stock,
        open_shelters=tuple(round(m.z[h].value) == 1 for h in range(len(instance.shelters))),
        modules=tuple(round(m.modules[h].value) for h in range(len(instance.shelters))),
        compensation_pool=max(0.0, m.pool.value) * (instance.budget if instance.budget > 0
                                                    else 1.0),
    )


@pytest.mark.parametrize("kind", ["expected", "cvar"])
def test_extensive_form_gives_our_optimum(kind: str) -> None:
    """mpi-sppy minimises minus our objective; its plan re-evaluates to the same value."""
    for instance in CASES:
        instance = with_objective(instance, kind, alpha=0.5)
        ours = solve(instance, SolveOptions(mip_gap=GAP)).objective_value
        ef = extensive_form(instance)
        assert -ef.get_objective_value() == pytest.approx(ours, abs=1e-6), instance.name
        plan = plan_of(instance, ef)
        assert plan_violations(instance, plan) == []
        summary = ResilienceSummary.of(
            np.array([o.resilience for o in evaluate_plan(instance, plan)]),
            instance.probabilities, 0.5)
        evaluated = summary.expected if kind == "expected" else summary.cvar
        assert evaluated == pytest.approx(ours, abs=1e-6), instance.name


def test_mpisppy_own_cvar_on_the_expected_model_is_our_cvar() -> None:
    """``--cvar`` of generic_cylinders on the expected model: the same measure."""
    instance = with_objective(CASES[1], "cvar", alpha=0.6)
    ours = solve(instance, SolveOptions(mip_gap=GAP)).objective_value
    creator = cvar_scenario_creator(mpisppy_model.scenario_creator, cvar_weight=1.0,
                                    cvar_alpha=0.6, cvar_mean_weight=0.0)
    ef = extensive_form(instance, creator, objective="expected")
    assert -ef.get_objective_value() == pytest.approx(ours, abs=1e-6)


def test_scenario_model_is_the_formulation_of_one_scenario() -> None:
    """Root node, probability, nonanticipative variables and one minimised objective."""
    instance = with_objective(CASES[4], "cvar", alpha=0.3)
    m = mpisppy_model.scenario_creator("scen2", instance)
    assert m._mpisppy_probability == instance.scenarios[2].probability
    assert m.scenario_id == instance.scenarios[2].id
    (node,) = m._mpisppy_node_list
    assert node.name == "ROOT"
    assert {v.parent_component().name for v in node.nonant_vardata_list} == {
        "y", "x", "z", "modules", "pool", "eta"}
    active = list(m.component_data_objects(ctype=pyo.Objective, active=True))
    assert active == [m.scenario_objective]
    assert m.scenario_objective.sense == 1  # minimise
    assert len(m.S) == 1 and len(m.r) == 1


def test_names_options_and_refusals(tmp_path: Path) -> None:
    assert mpisppy_model.scenario_names_creator(3) == ["scen0", "scen1", "scen2"]
    assert mpisppy_model.scenario_names_creator(2, start=4) == ["scen4", "scen5"]
    with pytest.raises(ValueError, match="--num-scens"):
        mpisppy_model.scenario_names_creator(None)
    instance = CASES[0]
    count = len(instance.scenarios)
    with pytest.raises(ValueError, match=f"--num-scens {count}"):
        mpisppy_model.scenario_creator("scen0", instance, num_scens=count + 1)
    with pytest.raises(ValueError, match="unknown scenario"):
        mpisppy_model.scenario_creator(f"scen{count}", instance)
    for kind in ("worst_case", "min_cost"):
        with pytest.raises(ValueError, match=f"objective {kind} is not offered"):
            mpisppy_model.scenario_creator("scen0", instance, objective=kind)

    from mpisppy.utils import config

    cfg = config.Config()
    mpisppy_model.inparser_adder(cfg)
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(random_doc(0)), encoding="utf-8")
    cfg.num_scens, cfg.instance, cfg.objective = count, str(path), "expected"
    kwargs = mpisppy_model.kw_creator(cfg)
    assert kwargs == {"instance": str(path), "num_scens": count, "objective": "expected",
                      "alpha": None}
    model = mpisppy_model.scenario_creator("scen1", **kwargs)
    assert model._mpisppy_probability == instance.scenarios[1].probability


def test_generic_cylinders_runs_the_module(tmp_path: Path) -> None:
    """The documented driver, on a file, as a user starts it (here its one-process EF)."""
    doc = random_doc(2)
    doc["objective"] = {"kind": "expected"}
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    count = len(doc["scenarios"])
    # The gap as a HiGHS option: mpi-sppy 0.14 does not pass --EF-mipgap on to appsi_highs.
    done = subprocess.run(
        [sys.executable, "-m", "mpisppy.generic_cylinders", "--module-name",
         "models.mpisppy_model", "--instance", str(path), "--num-scens", str(count), "--EF",
         "--EF-solver-name", "appsi_highs", "--EF-solver-options", "mip_rel_gap=1e-9"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    reported = [line for line in done.stdout.splitlines() if "EF objective:" in line]
    assert reported, done.stdout[-2000:]
    value = -float(reported[-1].rsplit(":", 1)[1])
    ours = solve(build(doc), SolveOptions(mip_gap=GAP)).objective_value
    assert value == pytest.approx(ours, abs=1e-6)
