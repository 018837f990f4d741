"""Bounded work before solving (issue 15): one scenario limit for explicit and generated
scenarios, a memory estimate from sizes before reachability, and a step limit on the
stress-targeted generator. Each limit is named in its message and set small here through
its environment variable, so the tests stay fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.errors import InputError, UsageError
from optimizer.evaluation import reachability, recourse
from optimizer.instance.reading import build_instance, load_instance
from optimizer.instance.schema import InstanceFile
from optimizer.solvers.contract import SolveOptions
from optimizer.sources.synthetic import geometric_instance

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny.json"


def _tiny(**changes: Any) -> dict[str, Any]:
    doc = json.loads(TINY.read_text(encoding="utf-8"))
    doc.update(changes)
    return doc


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "instance.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _validate(path: Path) -> Any:
    return CliRunner().invoke(main, ["validate", str(path)])


# ------------------------------------------------------------- one scenario limit


def test_explicit_scenarios_count_against_the_scenario_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiny.json lists 2 scenarios; a generator of 4 more makes 6."""
    doc = _tiny(scenario_generators=[{"kind": "random_failures", "name": "r", "count": 4,
                                      "seed": 1, "edge_failure": 0.5}])
    for s in doc["scenarios"]:
        del s["probability"]
    path = _write(tmp_path, doc)
    monkeypatch.setenv("RESILIENCE_MAX_SCENARIOS", "5")
    result = _validate(path)
    assert result.exit_code == 2
    assert f"{path}: scenario_generators[0].count" in result.stderr
    assert "6 scenarios" in result.stderr and "limit of 5" in result.stderr
    assert "RESILIENCE_MAX_SCENARIOS" in result.stderr
    monkeypatch.setenv("RESILIENCE_MAX_SCENARIOS", "6")
    assert len(load_instance(path).scenarios) == 6


def test_explicit_scenarios_alone_are_held_to_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, _tiny())
    monkeypatch.setenv("RESILIENCE_MAX_SCENARIOS", "1")
    result = _validate(path)
    assert result.exit_code == 2
    assert f"{path}: scenarios[1]" in result.stderr
    assert "lists 2 scenarios, more than the limit of 1" in result.stderr
    assert "Traceback" not in result.output


# ------------------------------------------------- memory, estimated before reachability


def test_memory_is_estimated_from_sizes_before_reachability(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """80 nodes x 100 scenarios: 25,920 pairs by the count before reachability, about
    7 MiB; every route to reachability passes through a surviving road graph."""
    doc = geometric_instance(80, 100, seed=3, commodities=2)
    path = _write(tmp_path, doc, "geo.json")

    def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("reachability ran before the size check")

    monkeypatch.setattr(reachability, "surviving_graph", never)
    monkeypatch.setattr(recourse, "surviving_graph", never)
    monkeypatch.setenv("RESILIENCE_MAX_MEMORY_MB", "1")
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(tmp_path / "r.json")])
    assert result.exit_code == 2, result.output
    assert str(path) in result.stderr
    assert "100 scenarios" in result.stderr and "25,920" in result.stderr
    assert "before reachability" in result.stderr
    assert "limit of 1 MiB (RESILIENCE_MAX_MEMORY_MB" in result.stderr
    assert "Traceback" not in result.output


def test_the_memory_limit_leaves_instances_that_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from optimizer.solvers.dispatch import check_size, recourse_size

    instance = load_instance(TINY)
    monkeypatch.setenv("RESILIENCE_MAX_MEMORY_MB", "1")
    check_size(instance)  # 4 pairs: a few kilobytes
    assert recourse_size(instance) == 4
    monkeypatch.setenv("RESILIENCE_MAX_MEMORY_MB", "none")
    with pytest.raises(UsageError, match="RESILIENCE_MAX_MEMORY_MB must be a whole number"):
        check_size(instance)


def test_solve_and_verify_checks_the_size_on_every_route(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check sits where the route is chosen, so sweep and bench get it too."""
    from optimizer.pipeline import solve_and_verify

    doc = geometric_instance(80, 100, seed=3, commodities=2)
    instance = build_instance(InstanceFile.model_validate(doc))
    monkeypatch.setenv("RESILIENCE_MAX_MEMORY_MB", "1")
    for method in ("extensive", "decomposition"):
        with pytest.raises(UsageError, match="before reachability"):
            solve_and_verify(instance, SolveOptions(method=method))


# ---------------------------------------------------- the stress-targeted generator


def _stress_doc(nodes: int, edges: int) -> dict[str, Any]:
    doc = geometric_instance(nodes, 1, seed=1)
    doc["scenario_generators"] = [{"kind": "targeted", "name": "worst", "edges": edges,
                                   "measure": "stress"}]
    return doc


def test_stress_generator_work_is_capped_by_a_named_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, _stress_doc(30, 2))
    monkeypatch.setenv("RESILIENCE_MAX_STRESS_STEPS", "1000")
    started = time.monotonic()
    result = _validate(path)
    assert result.exit_code == 2
    assert f"{path}: scenario_generators[0].edges" in result.stderr
    assert "stress search" in result.stderr and "limit of 1e+03" in result.stderr
    assert "RESILIENCE_MAX_STRESS_STEPS" in result.stderr
    assert "betweenness" in result.stderr
    assert time.monotonic() - started < 10
    monkeypatch.setenv("RESILIENCE_MAX_STRESS_STEPS", str(10**9))
    assert load_instance(path).scenarios[-1].id == "worst-1"


def test_stress_generator_is_refused_before_the_pair_search(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit is charged before each phase: the single-road phase runs, and the pairs of
    roads, the phase that took twenty minutes at 200 nodes, are refused before any of
    them is tried."""
    from optimizer import generators
    from optimizer.evaluation.stress import WorkBudget, WorkLimitExceeded, most_damaging_edges
    from optimizer.evaluation.whatif import PairEvaluator

    doc = _stress_doc(40, 2)
    doc.pop("scenario_generators")
    doc["scenarios"] = [{"id": "reference"}]
    instance = build_instance(InstanceFile.model_validate(doc))
    plan = generators.everything_plan(instance)
    single = WorkBudget(float("inf"))
    most_damaging_edges(instance, plan, 1, budget=single)
    evaluated: list[int] = []
    original = PairEvaluator._evaluate

    def counting(self: PairEvaluator, live: Any) -> float:
        evaluated.append(1)
        return original(self, live)

    monkeypatch.setattr(PairEvaluator, "_evaluate", counting)
    with pytest.raises(WorkLimitExceeded, match="pairs of roads") as info:
        most_damaging_edges(instance, plan, 2, budget=WorkBudget(single.spent + 1))
    assert info.value.needed > single.spent + 1
    assert len(evaluated) <= len(instance.network.edge_ids) + 1  # singles only


def test_the_default_stress_limit_is_generous_for_small_networks() -> None:
    """The shipped fuzz source and the medium network's size load under the default."""
    from optimizer.instance.checks import MAX_STRESS_STEPS

    assert MAX_STRESS_STEPS == 50_000_000
    instance = build_instance(InstanceFile.model_validate(_stress_doc(50, 2)))
    assert instance.scenarios[-1].id == "worst-1"


def test_a_bad_stress_limit_is_a_usage_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, _stress_doc(10, 1))
    monkeypatch.setenv("RESILIENCE_MAX_STRESS_STEPS", "0")
    with pytest.raises(UsageError, match="RESILIENCE_MAX_STRESS_STEPS must be"):
        load_instance(path)
    monkeypatch.setenv("RESILIENCE_MAX_STRESS_STEPS", "12")
    with pytest.raises(InputError, match="stress search"):
        load_instance(path)
