"""--time-limit bounds the whole solve command (issue 11): the solver's deadline keeps back
what the work after it needs (the independent verification of every scenario, the
extensive form's recourse LP), estimated by timing a few scenarios, and a command that
still runs over says so and why.

These tests check the mechanism, never wall-clock speed (benchmarks/recovery.py
--time-limit-check measures that): fake clocks and estimates, and the limits handed to
HiGHS.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import optimizer.evaluation.evaluate as evaluate
from optimizer import pipeline
from optimizer.cli import common as cli_common
from optimizer.cli import main
from optimizer.evaluation.evaluate import (
    IntactReach,
    estimated_seconds,
    evaluate_plan,
    evaluate_scenario,
    wall_seconds,
)
from optimizer.highs import Run
from optimizer.instance.data import Instance
from optimizer.instance.reading import build_instance, load_instance
from optimizer.instance.schema import InstanceFile
from optimizer.pipeline import (
    ESTIMATE_SAFETY,
    RECOURSE_LP_SHARE,
    RESERVE_MAX_SHARE,
    SOLVER_OVERRUN,
)
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.decomposition import solve_decomposition
from optimizer.solvers.decomposition.master import Master
from optimizer.solvers.extensive import solve
from optimizer.sources.synthetic import geometric_instance

INSTANCES = Path(__file__).resolve().parent.parent / "instances"


def geometric(nodes: int, scenarios: int, seed: int = 1) -> Instance:
    """No redundancy policy: doing nothing is feasible, so any limit ends with a plan."""
    doc = geometric_instance(nodes, scenarios, seed=seed, commodities=2)
    return build_instance(InstanceFile.model_validate(doc))


@pytest.fixture(scope="module")
def small() -> Instance:
    return geometric(40, 12)


def test_remaining_leaves_the_reserve() -> None:
    now = time.monotonic()
    options = SolveOptions(time_limit=10.0, reserve=4.0, started=now)
    left = options.remaining()
    assert left is not None and 5.0 < left <= 6.0
    # More reserve than time: nothing for the solver, never a negative limit.
    assert SolveOptions(time_limit=3.0, reserve=4.0, started=now).remaining() == 0.0
    assert SolveOptions(reserve=4.0).remaining() is None


@pytest.mark.parametrize("estimate", [0.2, 2.0, 8.0])
def test_the_solver_gets_the_limit_less_the_estimated_reserve(
        small: Instance, monkeypatch: pytest.MonkeyPatch, estimate: float) -> None:
    """The options the route receives keep back what the estimate says (and it scales
    with it), up to RESERVE_MAX_SHARE of the limit."""
    monkeypatch.setattr(pipeline, "estimated_seconds", lambda instance: estimate)
    seen: list[SolveOptions] = []
    real = pipeline.run

    def spy(instance: Instance, options: SolveOptions) -> Any:
        seen.append(options)
        return real(instance, options)

    monkeypatch.setattr(pipeline, "run", spy)
    limit = 20.0
    solved = pipeline.solve_and_verify(small, SolveOptions(time_limit=limit,
                                                           method="extensive"))
    assert solved.verified
    alone = ESTIMATE_SAFETY * estimate  # in process (12 scenarios), extensive
    recourse = RECOURSE_LP_SHARE * alone  # and HiGHS's overrun counted as long
    wanted = alone + recourse + max(SOLVER_OVERRUN, recourse)
    assert seen[0].reserve == pytest.approx(min(wanted, RESERVE_MAX_SHARE * limit))
    left = seen[0].remaining()
    assert left is not None and left <= limit - seen[0].reserve


def test_the_decomposition_reserves_no_recourse_lp(small: Instance,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "estimated_seconds", lambda instance: 1.0)
    options = SolveOptions(time_limit=30.0, method="decomposition", workers=1)
    reserve = pipeline.reserve_seconds(small, options)
    assert reserve.recourse == 0.0
    assert reserve.seconds == pytest.approx(ESTIMATE_SAFETY * 1.0 + SOLVER_OVERRUN)


def test_no_limit_no_reserve_and_no_estimate(small: Instance,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(instance: Instance) -> float:
        raise AssertionError("no estimate is needed without a limit")

    monkeypatch.setattr(pipeline, "estimated_seconds", refuse)
    assert pipeline.solve_and_verify(small, SolveOptions(method="extensive")).verified


def test_highs_gets_the_deadline_less_the_reserve(small: Instance,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    limits: list[float | None] = []
    real = __import__("optimizer.solvers.extensive", fromlist=["run_highs"]).run_highs

    def spy(h: Any, time_limit: float | None, cost: Any = None) -> Run:
        limits.append(time_limit)
        return real(h, time_limit, cost)

    monkeypatch.setattr("optimizer.solvers.extensive.run_highs", spy)
    solve(small, SolveOptions(time_limit=60.0, reserve=45.0))
    assert limits and all(t is not None and t <= 15.0 for t in limits)


def test_decomposition_masters_end_before_the_reserve(small: Instance,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    limits: list[float | None] = []
    real = Master.solve

    def spy(self: Master, gap: float, time_limit: float | None, *args: Any) -> Run:
        limits.append(time_limit)
        return real(self, gap, time_limit, *args)

    monkeypatch.setattr(Master, "solve", spy)
    solve_decomposition(small, SolveOptions(time_limit=60.0, reserve=45.0, workers=1))
    assert limits and all(t is not None and t <= 15.0 for t in limits)


def test_the_estimate_scales_with_the_scenarios_and_their_time(
        small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake clock: every scenario evaluated takes `each` seconds; the estimate is the
    time of every scenario, whatever the sample."""
    clock = [0.0]
    each = [0.01]

    def fake(*args: Any, **kwargs: Any) -> None:
        clock[0] += each[0]

    monkeypatch.setattr(evaluate, "evaluate_scenario", fake)
    assert estimated_seconds(small, clock=lambda: clock[0]) == pytest.approx(
        0.01 * len(small.scenarios))
    twice = dataclasses.replace(small, scenarios=small.scenarios * 2)
    assert estimated_seconds(twice, clock=lambda: clock[0]) == pytest.approx(
        0.02 * len(small.scenarios))
    each[0] = 0.05
    assert estimated_seconds(small, clock=lambda: clock[0]) == pytest.approx(
        0.05 * len(small.scenarios))


def test_wall_seconds_share_the_work_over_the_free_cores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(evaluate.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # this process
    assert evaluate.free_lanes(2) == 2.0
    # Below PARALLEL_FROM, in process; with two workers, shared after starting them.
    assert wall_seconds(10.0, 100) == 10.0
    assert wall_seconds(10.0, 100, workers=2) == pytest.approx(
        10.0 / (2 * evaluate.PARALLEL_EFFICIENCY) + evaluate.PROCESS_START_SECONDS)
    assert wall_seconds(60.0, 2000) < 60.0
    # A plan quick to check stays in process without --workers.
    assert wall_seconds(5.0, 2000) == 5.0
    # A Dask cluster's size is unknown before it is reached: no speed-up counted.
    assert wall_seconds(10.0, 100, scheduler="tcp://127.0.0.1:8786") == 10.0
    # Another engineer's work on both cores: no process would run beside this one, so
    # without --workers the check stays here, and with them it counts one lane.
    monkeypatch.setattr(evaluate.os, "getloadavg", lambda: (2.4, 2.4, 2.4))
    assert evaluate.free_lanes(2) == 1.0
    assert not evaluate.runs_parallel(2000)
    assert wall_seconds(60.0, 2000) == 60.0
    assert wall_seconds(10.0, 100, workers=2) == pytest.approx(
        10.0 / evaluate.PARALLEL_EFFICIENCY + evaluate.PROCESS_START_SECONDS)


def test_intact_reach_gives_the_same_outcomes(small: Instance) -> None:
    """Sharing the intact network's reach changes no number: every scenario against a
    search of every facility on its own surviving roads."""
    for instance in (small, load_instance(INSTANCES / "medium.json")):
        plan = evaluate.busiest_plan(instance)
        intact = IntactReach(instance)
        for scenario in instance.scenarios:
            a = evaluate_scenario(instance, plan, scenario, intact=intact)
            b = evaluate_scenario(instance, plan, scenario)
            assert a.resilience == b.resilience
            assert np.array_equal(a.unmet_need, b.unmet_need)
            assert np.array_equal(a.unmet_evacuees, b.unmet_evacuees)


def test_every_scenario_is_verified_on_processes(small: Instance) -> None:
    plan = evaluate.busiest_plan(small)
    here = evaluate_plan(small, plan, workers=1)
    there = evaluate_plan(small, plan, workers=2)
    assert len(there) == len(small.scenarios)
    assert [o.resilience for o in there] == [o.resilience for o in here]


def test_a_limit_already_spent_still_verifies_and_writes_and_says_why(
        small: Instance) -> None:
    """Nothing fits: the plan found is verified and the result says the limit was
    exceeded, with the verification's share."""
    options = SolveOptions(time_limit=5.0, started=time.monotonic() - 100.0,
                           method="extensive")
    solved = pipeline.solve_and_verify(small, options)
    assert solved.verified
    assert solved.document["verification"]["max_difference"] <= 1e-6
    assert len(solved.document["scenarios"]) == len(small.scenarios)
    late = [w for w in solved.document["warnings"] if "over --time-limit 5" in w]
    assert late and "independent check of every scenario" in late[0]


def test_within_the_limit_no_warning(small: Instance) -> None:
    solved = pipeline.solve_and_verify(small, SolveOptions(time_limit=600.0,
                                                           method="extensive"))
    assert not [w for w in solved.document["warnings"] if "--time-limit" in w]


def test_the_command_counts_from_the_start_of_its_process(
        small: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's limit starts when the process did (imports included): a process started
    100 s ago has no time left under --time-limit 5, and the result says so."""
    path = tmp_path / "small.json"
    path.write_text(json.dumps(geometric_instance(40, 12, seed=1, commodities=2)),
                    encoding="utf-8")
    monkeypatch.setattr(cli_common, "COMMAND_STARTED", time.monotonic() - 100.0)
    out = tmp_path / "small.result.json"
    got = CliRunner().invoke(main, ["solve", str(path), "-o", str(out), "--time-limit", "5",
                                    "--method", "extensive", "-q"])
    assert got.exit_code == 0, got.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert any("over --time-limit 5" in w for w in doc["warnings"])


def test_process_started_is_in_the_past() -> None:
    started = cli_common.process_started()
    assert started is None or started <= time.monotonic()


def test_recovery_on_workers_sends_no_task_that_would_end_past_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A task under way cannot be stopped: on an executor, the recovery analysis sends the
    next task only while it should end before the deadline. A fake clock: each task of
    four scenarios takes one second; the deadline is 2.5 s away, so two tasks run and the
    other twelve scenarios are pending (the old code sent all five at once)."""
    import optimizer.evaluation.recovery as recovery
    from optimizer.executors import InProcess

    instance = load_instance(INSTANCES / "medium.json")
    plan = evaluate.busiest_plan(instance)
    clock = [1000.0]
    sent: list[float] = []

    class Slow(InProcess):
        lanes = 1

        def submit(self, lane: int, fn: Any, shared: Any, *args: Any) -> Any:
            sent.append(clock[0])
            clock[0] += 1.0
            return super().submit(lane, fn, shared, *args)

    class FakeTime:
        @staticmethod
        def monotonic() -> float:
            return clock[0]

    monkeypatch.setattr(recovery, "TASK_SCENARIOS", 4)
    monkeypatch.setattr(recovery, "open_executor", lambda *a, **k: Slow())
    monkeypatch.setattr(recovery, "time", FakeTime)
    run = recovery.analyse(instance, plan, deadline=clock[0] + 2.5, workers=2)
    assert len(sent) == 2
    assert len(run.scenarios) == 8 and len(run.pending) == 12


def test_a_limit_over_before_highs_takes_its_start_still_gives_the_start(
        small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the clock has run out before HiGHS took the do-nothing start (a loaded machine,
    a limit spent on start-up and the reserve), the start is the plan: feasible by
    construction, its recourse solved, no bound claimed. The old code said no plan was
    found (exit 3)."""
    from optimizer.status import Status

    real = __import__("optimizer.solvers.extensive", fromlist=["run_highs"]).run_highs
    calls = [0]

    def out_of_time_first(h: Any, time_limit: float | None, cost: Any = None) -> Run:
        calls[0] += 1
        if calls[0] == 1:  # as HiGHS returns when its limit ends before any solution
            return Run(Status.INFEASIBLE, 0.0, False, 0, 0)
        return real(h, time_limit, cost)

    monkeypatch.setattr("optimizer.solvers.extensive.run_highs", out_of_time_first)
    got = solve(small, SolveOptions(time_limit=60.0))
    assert got.status is Status.FEASIBLE and got.bound is None
    assert got.plan is not None and not any(got.plan.open_depots)
    assert "time limit" in got.message
    checked = [o.resilience for o in evaluate_plan(small, got.plan)]
    assert [o.resilience for o in got.outcomes] == pytest.approx(checked, abs=1e-6)
