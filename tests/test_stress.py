"""Stress tests against brute force, the pruning's safety, and ``resilience stress``.

Brute force: fail every road (every pair of roads for K = 2) in turn, without any pruning,
and re-evaluate with ``evaluate_scenario``; the lowest resilience wins, ties to the
lexicographically first set of edge indices. The search must find the same set and value.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import INSTANCES, build, random_doc
from test_recovery import GRID_PLAN, grid_doc, random_plan

from optimizer.cli.stress import stress
from optimizer.evaluation.evaluate import evaluate_scenario
from optimizer.evaluation.stress import (
    _Search,
    most_damaging_edges,
    reference_scenario,
    stress_document,
    stress_test,
)
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan

TOL = 1e-9


def value(instance: Instance, plan: Plan, scenario: Scenario, extra: tuple[int, ...]) -> float:
    failed = tuple(sorted(set(scenario.failed_edges) | set(extra)))
    return evaluate_scenario(instance, plan,
                             dataclasses.replace(scenario, failed_edges=failed)).resilience


def brute_force(instance: Instance, plan: Plan, scenario: Scenario,
                k: int) -> tuple[tuple[int, ...], float]:
    alive = [j for j in range(instance.network.num_edges) if j not in scenario.failed_edges]
    values = [(value(instance, plan, scenario, c), c) for c in itertools.combinations(alive, k)]
    best = min(v for v, _ in values)
    return next(c for v, c in values if v <= best + TOL), best


def with_parallel_roads(doc: dict[str, Any], seed: int) -> dict[str, Any]:
    """Add a twin to some roads: as long, longer, or of length 0."""
    rng = np.random.default_rng(seed + 1000)
    roads = doc["network"]["edges"]
    roads += [dict(e, id=e["id"] + "_twin",
                   length=float(rng.choice([0.0, e["length"], e["length"] + 1])))
              for e in list(roads) if rng.random() < 0.3]
    return doc


def case(seed: int, parallel: bool = False,
         nodes: tuple[int, int] = (6, 10)) -> tuple[Instance, Plan]:
    doc = random_doc(seed, nodes=nodes)
    if parallel:
        doc = with_parallel_roads(doc, seed)
    instance = build(doc)
    return instance, random_plan(instance, np.random.default_rng(seed))


# ------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", range(24))
def test_one_failure_matches_brute_force(seed: int) -> None:
    instance, plan = case(seed, parallel=seed % 3 == 2, nodes=(8, 14))
    for s in instance.scenarios:
        edges, best = brute_force(instance, plan, s, 1)
        got = most_damaging_edges(instance, plan, 1, s)
        assert got.method == "exact"
        assert got.edges == edges, (seed, s.id)
        assert got.resilience == pytest.approx(best, abs=TOL)
        assert got.resilience_before == pytest.approx(value(instance, plan, s, ()))


@pytest.mark.parametrize("seed", range(16))
def test_two_failures_match_brute_force(seed: int) -> None:
    instance, plan = case(seed, parallel=seed % 2 == 1)
    for s in instance.scenarios:
        edges, best = brute_force(instance, plan, s, 2)
        got = most_damaging_edges(instance, plan, 2, s)
        assert got.method == "exact"
        assert got.edges == edges, (seed, s.id)
        assert got.resilience == pytest.approx(best, abs=TOL)


@pytest.mark.parametrize("seed", range(16))
def test_pruning_never_drops_a_road_that_matters(seed: int) -> None:
    """A road outside the candidates changes nothing: losing it leaves R_s as it was."""
    instance, plan = case(seed, parallel=seed % 2 == 0, nodes=(8, 14))
    for s in instance.scenarios:
        search = _Search(instance, plan, s)
        before = value(instance, plan, s, ())
        candidates = set(search.candidates.tolist())
        on_path = set(np.nonzero(search.on_reach_path)[0].tolist())
        assert candidates <= on_path
        for j in range(instance.network.num_edges):
            if j in s.failed_edges or j in candidates:
                continue
            assert value(instance, plan, s, (j,)) == pytest.approx(before, abs=TOL), (seed, j)


def test_grid_storm_by_hand() -> None:
    # The grid of test_recovery under its storm (B-C and C-F down): B and E get kits from A
    # (at 1 and 2), E shelters at F (at 1); R = 0.4 * 110/150 + 0.6 * 30/75 = 8/15.
    # One more road down (reach 2):
    #   E-F: the shelter is isolated: R = 0.4 * 11/15 = 0.2933  <- the worst
    #   A-B: B is 4 from A (A-D-E-B): supply 60/150, R = 0.4 * 0.4 + 0.24 = 0.4
    #   A-D or D-E: E is 3 from A (A-B-E): supply 50/150, R = 0.4/3 + 0.24 = 0.3733
    #   B-E: nothing changes (B had no shelter within reach anyway).
    instance = build(grid_doc())
    storm = instance.scenarios[0]
    ids = instance.network.edge_ids
    got = most_damaging_edges(instance, GRID_PLAN, 1, storm)
    assert got.resilience_before == pytest.approx(8 / 15, abs=TOL)
    assert got.edges == (ids.index("EF"),)
    assert got.resilience == pytest.approx(0.4 * 11 / 15, abs=TOL)
    by_hand = {"AB": 0.4, "AD": 0.4 / 3 + 0.24, "DE": 0.4 / 3 + 0.24, "BE": 8 / 15}
    for road, expected in by_hand.items():
        assert value(instance, GRID_PLAN, storm, (ids.index(road),)) == pytest.approx(
            expected, abs=TOL)
    assert got.candidates_considered == 4  # every road left but B-E


def test_more_failures_than_roads_fail_everything() -> None:
    instance = build(grid_doc())
    storm = instance.scenarios[0]  # 5 roads left
    got = most_damaging_edges(instance, GRID_PLAN, 2, dataclasses.replace(
        storm, failed_edges=tuple(range(1, instance.network.num_edges))))
    assert got.edges == (0,)  # one road left: it is the only one to lose


def test_three_failures_are_labelled_heuristic() -> None:
    instance, plan = case(3)
    report = stress_test(instance, plan, 3)
    assert report.method == "heuristic"
    for s, o in zip(instance.scenarios, report.outcomes, strict=True):
        assert o.method == "heuristic"
        assert len(o.edges) == 3 and not set(o.edges) & set(s.failed_edges)
        assert o.resilience == pytest.approx(value(instance, plan, s, o.edges), abs=TOL)
        assert o.resilience <= o.resilience_before + TOL
    doc = stress_document(instance, report)
    assert doc["method"] == "heuristic" and doc["failures"] == 3


def test_reference_scenario_for_generators() -> None:
    # No scenario given: the intact grid with everyone affected (rates 1): 150 kits for
    # 150 people, all within reach of A; 150 evacuees for 100 places at F:
    # R = 0.4 + 0.6 * 2/3 = 0.8. The search agrees with brute force on that scenario.
    instance = build(grid_doc())
    got = most_damaging_edges(instance, GRID_PLAN, 1)
    assert got.scenario_id == "reference"
    assert got.resilience_before == pytest.approx(0.8, abs=TOL)
    edges, best = brute_force(instance, GRID_PLAN, reference_scenario(instance), 1)
    assert (got.edges, got.resilience) == (edges, pytest.approx(best, abs=TOL))


# --------------------------------------------------------------------------------- CLI


def run(*args: Any) -> Result:
    return CliRunner().invoke(stress, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """tiny.json and a result that opens both depots with 25 kits (its optimum)."""
    folder = tmp_path_factory.mktemp("stress")
    result = folder / "tiny.result.json"
    result.write_text(json.dumps({"decisions": {
        "depots": [{"id": "depot_A", "open": True, "stock": {"kit": 25}},
                   {"id": "depot_C", "open": True, "stock": {"kit": 25}}],
        "shelters": [], "compensation_pool": 0}}), encoding="utf-8")
    return INSTANCES / "tiny.json", result


def test_cli_writes_json_and_prints_a_table(tiny_solved: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    # west_cut (A-B down, A needs 100): losing B-C as well changes nothing for A, which
    # only depot A can serve already: R stays 0.25. Same for east_cut. Ties go to the first
    # road left: B-C in west_cut, A-B in east_cut.
    instance, result = tiny_solved
    out = tmp_path / "stress.json"
    res = run(instance, result, "--failures", "1", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["failures"] == 1 and doc["method"] == "exact"
    assert doc["scenarios"] == [
        {"id": "west_cut", "resilience_before": 0.25, "failed_edges": ["BC"],
         "resilience": 0.25, "candidates_considered": 0},
        {"id": "east_cut", "resilience_before": 0.25, "failed_edges": ["AB"],
         "resilience": 0.25, "candidates_considered": 0}]
    assert doc["worst"] == {"scenario": "west_cut", "failed_edges": ["BC"], "resilience": 0.25}
    assert "Worst scenarios" in res.stdout and "west_cut" in res.stdout
    assert "written to" in res.stdout


def test_cli_json_on_stdout(tiny_solved: tuple[Path, Path]) -> None:
    instance, result = tiny_solved
    res = run(instance, result, "--failures", "2", "-o", "-", "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["method"] == "exact"
    assert doc["worst"]["failed_edges"] == ["BC"]  # the only road left in west_cut
    assert "Worst scenarios" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--failures", "0"], "--failures"),
    ([], "--failures"),
], ids=["zero", "missing"])
def test_cli_usage_errors(tiny_solved: tuple[Path, Path], args: list[str],
                          message: str) -> None:
    instance, result = tiny_solved
    res = run(instance, result, *args)
    assert res.exit_code == 2
    assert message in res.stderr


def test_cli_result_without_a_plan(tiny_solved: tuple[Path, Path], tmp_path: Path) -> None:
    instance, _ = tiny_solved
    bad = tmp_path / "failed.result.json"
    bad.write_text(json.dumps({"status": "infeasible", "decisions": None}), encoding="utf-8")
    res = run(instance, bad, "--failures", "1")
    assert res.exit_code == 2
    assert "no plan in this result" in res.stderr and "Traceback" not in res.output


def test_cli_help() -> None:
    res = run("--help")
    assert res.exit_code == 0
    assert res.stdout.startswith("Usage:") and "--failures" in res.stdout


def test_cli_writes_through_a_pipe(tiny_solved: tuple[Path, Path], tmp_path: Path) -> None:
    """``-o /dev/stdout`` or a named pipe: written through, never renamed over (which would
    replace the device itself when run as root)."""
    instance, result = tiny_solved
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    res = run(instance, result, "--failures", "1", "-o", fifo, "-q")
    reader.join(timeout=30)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads(received[0])["failures"] == 1
