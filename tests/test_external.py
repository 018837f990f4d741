"""Other MIP solvers through Pyomo (optimizer.solvers.pyomo_shell): same model, same optimum,
checked.

Every solver here must give the engine's optimum on the tiny instances with known optima
(tolerance: the MIP gap), and its plan must pass the independent max-flow check that runs
after every solve. CBC and GLPK come from Debian (.ci/run installs them), SCIP from the
pyscipopt wheel; a solver that is not installed is skipped with the reason.
"""

from __future__ import annotations

import dataclasses

import pytest
from helpers import build, tiny_doc, with_budget, with_objective
from pyomo.opt import TerminationCondition as TC

from optimizer.errors import ExitCode, InfeasibleError
from optimizer.instance.reading import build_instance
from optimizer.instance.schema import InstanceFile, ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.solvers import pyomo_shell as external
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.dispatch import run
from optimizer.solvers.pyomo_shell import SolverUnavailable, availability, glpk_log, status_of
from optimizer.sources.synthetic import geometric_instance
from optimizer.status import Status

EXTERNAL = ("cbc", "glpk", "scip")


def installed(name: str) -> pytest.MarkDecorator:
    interface, why = availability(name)
    return pytest.mark.skipif(interface is None, reason=why)


SOLVER_PARAMS = [pytest.param(s, marks=installed(s)) for s in EXTERNAL]


@pytest.fixture(scope="module")
def small() -> object:
    """A seeded 20-node instance with shelters, modules and a pool: every term of R_s."""
    doc = geometric_instance(20, 6, seed=4, commodities=2, existing_depots=1)
    return build_instance(InstanceFile.model_validate(doc), default_name="small")


def _highs(instance: object) -> float:
    solution = run(instance, SolveOptions(method="extensive"))  # type: ignore[arg-type]
    assert solution.objective_value is not None
    return solution.objective_value


# ------------------------------------------------------------------------------ statuses


@pytest.mark.parametrize("termination", list(TC), ids=lambda t: t.name)
def test_every_pyomo_outcome_maps_to_our_status(termination: TC) -> None:
    for has_solution in (True, False):
        assert isinstance(status_of(termination, has_solution), Status)


@pytest.mark.parametrize(("termination", "has_solution", "gap_reached", "expected"), [
    (TC.optimal, True, False, Status.OPTIMAL),
    (TC.maxTimeLimit, True, False, Status.FEASIBLE),
    (TC.maxTimeLimit, False, False, Status.INFEASIBLE),
    (TC.feasible, True, False, Status.FEASIBLE),  # GLPK at its time limit
    (TC.feasible, True, True, Status.OPTIMAL),  # GLPK at the MIP gap
    (TC.userInterrupt, True, False, Status.FEASIBLE),
    (TC.infeasible, False, False, Status.INFEASIBLE),
    (TC.infeasibleOrUnbounded, False, False, Status.INFEASIBLE),
    (TC.unbounded, False, False, Status.ERROR),
    (TC.licensingProblems, False, False, Status.ERROR),
    (TC.solverFailure, False, False, Status.ERROR),
    (TC.optimal, False, False, Status.ERROR),  # "optimal" without a solution is a failure
])
def test_status_table(termination: TC, has_solution: bool, gap_reached: bool,
                      expected: Status) -> None:
    assert status_of(termination, has_solution, gap_reached) is expected


def test_glpk_log_gives_bound_iterations_nodes_and_why_it_stopped() -> None:
    log = """Integer optimization begins...
+   506: mip =     not found yet >=              -inf        (1; 0)
+   836: >>>>>  -2.202334374e-01 >=  -3.468445201e-01  57.5% (12; 0)
+  3242: mip =  -2.646045437e-01 >=  -2.646047861e-01 < 0.1% (1; 166)
RELATIVE MIP GAP TOLERANCE REACHED; SEARCH TERMINATED
"""
    parsed = glpk_log(log)
    assert parsed.gap_reached
    assert parsed.bound == pytest.approx(-0.2646047861)
    assert (parsed.iterations, parsed.nodes) == (3242, 167)
    stopped = glpk_log("+ 10: mip = not found yet >= -inf (1; 0)\nTIME LIMIT EXCEEDED\n")
    assert not stopped.gap_reached and stopped.bound is None


# ------------------------------------------------------------------------------ solving


@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_tiny_known_optimum_and_independent_check(solver: str,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """tiny.json (worked by hand): worst case 0.25; nothing printed on standard output."""
    solved = solve_and_verify(build(tiny_doc()), SolveOptions(solver=solver,
                                                               method="extensive"))
    assert capfd.readouterr().out == ""
    solution = solved.solution
    assert solved.verified, solved.failure()
    assert solution.status is Status.OPTIMAL
    assert solution.objective_value == pytest.approx(0.25, abs=1e-7)
    assert solution.solver_name == solver and solution.method == "extensive"
    assert solution.solver_version and solution.size["variables"] > 0
    assert "HiGHS only" in solution.message
    assert solved.document["solver"]["name"] == solver


@pytest.mark.parametrize("solver", SOLVER_PARAMS)
@pytest.mark.parametrize("objective", ["worst_case", "expected", "cvar", "min_cost"])
def test_same_optimum_as_highs_for_every_objective(solver: str, objective: str,
                                                   small: object) -> None:
    instance = with_objective(small, objective, alpha=0.7,  # type: ignore[arg-type]
                              target=0.2 if objective == "min_cost" else None)
    expected = _highs(instance)
    solved = solve_and_verify(instance, SolveOptions(solver=solver, method="extensive"))
    assert solved.verified, solved.failure()
    value = solved.solution.objective_value
    assert value == pytest.approx(expected, rel=2e-4, abs=1e-6)  # within both MIP gaps
    bound = solved.solution.bound
    if bound is not None:
        assert (bound <= value + 1e-6 if objective == "min_cost"
                else bound >= value - 1e-9)


@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_budget_override_reaches_the_solver(solver: str) -> None:
    """With 250 to spend both depots open with 75 kits each: worst case 0.75."""
    instance = with_budget(build(tiny_doc()), 250.0)
    solution = run(instance, SolveOptions(solver=solver, method="extensive"))
    assert solution.objective_value == pytest.approx(0.75, abs=1e-7)


@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_unreachable_target_is_infeasible(solver: str) -> None:
    instance = with_objective(build(tiny_doc()), ObjectiveKind.MIN_COST, target=0.9)
    with pytest.raises(InfeasibleError, match=r"target 0\.9"):
        run(instance, SolveOptions(solver=solver, method="extensive"))


def test_missing_solver_is_a_usage_error_saying_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = dataclasses.replace(external.SOLVERS["cbc"], interfaces=("no_such_solver_here",))
    monkeypatch.setitem(external.SOLVERS, "cbc", fake)
    interface, why = availability("cbc")
    assert interface is None and "apt-get install coinor-cbc" in why
    with pytest.raises(SolverUnavailable, match="coinor-cbc") as caught:
        run(build(tiny_doc()), SolveOptions(solver="cbc", method="extensive"))
    assert caught.value.exit_code is ExitCode.BAD_INPUT


def test_unknown_solver_names_the_known_ones() -> None:
    interface, why = availability("simplex-by-hand")
    assert interface is None and "highs, cbc, glpk, scip" in why
