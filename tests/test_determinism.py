"""Same input, same plan (issue 10): no stage is capped by the clock, so a plan never
depends on how busy the machine was, nor on the number of threads."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import INSTANCES, with_objective

from optimizer.instance.reading import build_instance, load_instance
from optimizer.instance.schema import InstanceFile, ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.solvers.contract import SolveOptions
from optimizer.sources.synthetic import geometric_instance


def _decisions(instance, **options) -> tuple[str, dict]:
    solved = solve_and_verify(instance, SolveOptions(**options))
    assert solved.verified and solved.document["status"] == "optimal"
    return solved.document["solver"]["method"], solved.document["decisions"]


@pytest.mark.parametrize("method", ["extensive", "decomposition"])
def test_the_same_file_gives_the_same_plan_twice_and_on_two_threads(method: str) -> None:
    instance = load_instance(INSTANCES / "medium.json")
    first = _decisions(instance, method=method)
    assert first == _decisions(instance, method=method)
    assert first == _decisions(instance, method=method, threads=2)


def test_a_larger_instance_gives_the_same_plan_under_auto() -> None:
    doc = geometric_instance(60, 40, seed=5, commodities=2)
    instance = with_objective(build_instance(InstanceFile.model_validate(doc)),
                              ObjectiveKind.CVAR, alpha=0.8)
    first = _decisions(instance)
    assert first == _decisions(dataclasses.replace(instance), threads=2)


@pytest.mark.parametrize("name", ["tiny", "medium", "siouxfalls", "cambridge"])
def test_every_shipped_instance_gives_the_lexicographic_optimum_on_both_routes(
        name: str) -> None:
    """The default solve proves every stage; the decomposition reaches the values the
    extensive form reaches, stage by stage (leximin levels, expected, cost)."""
    instance = load_instance(INSTANCES / f"{name}.json")
    default = solve_and_verify(instance, SolveOptions())
    assert default.verified and default.document["status"] == "optimal"
    decomposed = solve_and_verify(instance, SolveOptions(method="decomposition"))
    reference = solve_and_verify(instance, SolveOptions(method="extensive"))
    assert decomposed.verified and decomposed.document["status"] == "optimal"
    got = [(st.objective, st.value) for st in decomposed.solution.stages]
    want = [(st.objective, st.value) for st in reference.solution.stages]
    assert [n for n, _ in got] == [n for n, _ in want]
    scale = instance.budget if instance.budget > 0 else 1.0
    for (stage, a), (_, b) in zip(got, want, strict=True):
        if b is None:
            continue
        tolerance = 1e-3 * scale if stage == "tiebreak_cost" else 1e-4 * max(abs(b), 1e-3)
        assert a == pytest.approx(b, abs=tolerance), stage
    assert decomposed.document["resilience"]["pinned"] == \
        reference.document["resilience"]["pinned"]


def test_stages_the_clock_stops_are_named_and_decide_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When time runs out after the objective, every later stage is named as not solved,
    the status is feasible, and what decided the plan mentions only the objective."""
    import optimizer.solvers.extensive as solve_module

    real = solve_module.run_highs
    calls: list[int] = []

    def one_run_then_out_of_time(h, time_limit, cost=None):
        calls.append(1)
        return real(h, time_limit, cost)

    monkeypatch.setattr(solve_module, "run_highs", one_run_then_out_of_time)
    monkeypatch.setattr(SolveOptions, "remaining", lambda self: 0.0 if calls else None)
    instance = load_instance(INSTANCES / "medium.json")
    solution = solve_module.solve(instance, SolveOptions(method="extensive"))
    assert len(calls) == 1
    assert solution.status.value == "feasible"
    assert [st.objective for st in solution.stages] == ["objective", "recourse"]
    assert "not solved: leximin_2, tiebreak_expected, tiebreak_cost" in solution.message
    assert "time limit" in solution.message
    assert "expected" not in solution.decided and "cost" not in solution.decided
    assert "hazard-6" in solution.decided
