"""The incremental greedy schedule against the algorithm it replaced, crews and repair times.

``old_restoration`` is the greedy as it was before it became incremental (a Dijkstra from
every source and dead zone at every period, every remaining road tried, the fully repaired
value checked by a full evaluation), kept here verbatim as the reference: on seeded
instances, the new code must repair the same roads in the same order with the same curve.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from helpers import build, random_doc
from test_recovery import random_plan, value_without

from optimizer.evaluation.evaluate import evaluate_plan, evaluate_scenario
from optimizer.evaluation.recovery import recovery
from optimizer.evaluation.restoration import (
    Schedule,
    greedy_schedule,
    list_schedule,
    schedule_of,
)
from optimizer.evaluation.whatif import (
    TIE_TOL,
    PairEvaluator,
    Roads,
    live_with_each,
    on_reach_limited_paths,
    source_distances,
    stakes,
)
from optimizer.instance.data import Instance, RecoveryPolicy, Scenario
from optimizer.plan import Plan
from optimizer.sources.synthetic import geometric_instance

TOL = 1e-9


def old_restoration(instance: Instance, plan: Plan, scenario: Scenario
                    ) -> list[tuple[int | None, float]]:
    """The greedy before this change: (edge, R_s) per period, period 0 first."""
    failed = sorted(set(scenario.failed_edges))
    r0 = evaluate_scenario(instance, plan, scenario).resilience
    steps: list[tuple[int | None, float]] = [(None, r0)]
    if not failed:
        return steps
    net = instance.network
    st = stakes(instance, plan, scenario)
    pairs = PairEvaluator(instance, plan, scenario, st)
    everything = np.ones(net.num_edges, dtype=bool)
    full_graph = Roads(net, everything).graph()
    full_dist, _ = source_distances(full_graph, st)
    full_live = st.live(full_dist)
    full = pairs.resilience(full_live)
    assert full == pytest.approx(
        evaluate_scenario(instance, plan,
                          dataclasses.replace(scenario, failed_edges=())).resilience, abs=1e-6)
    useful = on_reach_limited_paths(net, full_graph, st, full_dist, np.array(failed))
    alive = everything.copy()
    alive[failed] = False
    remaining = list(failed)
    while remaining:
        graph = Roads(net, alive).graph()
        dist, _ = source_distances(graph, st)
        live_now = st.live(dist)
        now = pairs.resilience(live_now)
        if now >= full - TIE_TOL:
            value = steps[-1][1]
            steps += [(e, value) for e in remaining]
            break
        candidates = np.array(remaining, dtype=np.int64)
        best_edge, best_value = None, now
        lives = live_with_each(net, graph, st, dist, live_now, candidates)
        for e, live in zip(remaining, lives, strict=True):
            if np.array_equal(live, live_now):
                continue
            value = pairs.resilience(live)
            if value > best_value + TIE_TOL:
                best_edge, best_value = e, value
        if best_edge is None:
            repaired = next((e for e in remaining if useful[e]), remaining[0])
            value = steps[-1][1]
        else:
            repaired, value = best_edge, float(best_value)
        remaining.remove(repaired)
        alive[repaired] = True
        steps.append((repaired, value))
    return steps


def plan_of(instance: Instance, seed: int) -> Plan:
    return random_plan(instance, np.random.default_rng(seed))


def geometric(nodes: int, scenarios: int, seed: int) -> Instance:
    return build(geometric_instance(nodes, scenarios, seed=seed, commodities=2))


@pytest.mark.parametrize("seed", range(4))
def test_incremental_greedy_equals_the_old_one_on_geometric_instances(seed: int) -> None:
    inst = geometric(40 + 20 * seed, 12, seed)
    plan = plan_of(inst, seed)
    outcomes = evaluate_plan(inst, plan)
    compared = 0
    for s, o in zip(inst.scenarios, outcomes, strict=True):
        new = greedy_schedule(inst, plan, s, o.resilience)
        old = old_restoration(inst, plan, s)
        assert [st.edge for st in new.steps] == [e for e, _ in old], (seed, s.id)
        assert [st.resilience for st in new.steps] == pytest.approx([v for _, v in old],
                                                                    abs=1e-12)
        assert [st.period for st in new.steps] == list(range(len(old)))
        compared += len(old) - 1
    assert compared > 20  # the instances do cut roads


@pytest.mark.parametrize("seed", range(10))
def test_incremental_greedy_equals_the_old_one_on_random_instances(seed: int) -> None:
    inst = build(random_doc(seed, nodes=(8, 16)))
    plan = plan_of(inst, seed)
    for s in inst.scenarios:
        start = evaluate_scenario(inst, plan, s).resilience
        new = greedy_schedule(inst, plan, s, start)
        old = old_restoration(inst, plan, s)
        assert [st.edge for st in new.steps] == [e for e, _ in old]
        assert [st.resilience for st in new.steps] == pytest.approx([v for _, v in old],
                                                                    abs=1e-12)


# ------------------------------------------------------------------ crews and repair times


def test_list_schedule_hand_worked() -> None:
    # Roads 0..3 taking 3, 1, 2, 1 periods, two crews, in order 0, 1, 2, 3:
    # crew 1 takes road 0 (0-3); crew 2 road 1 (0-1), then road 2 (1-3), then road 3 (3-4)
    # (both are free at 3; the lower crew number would go first, but crew 1 is free at 3
    # too: the heap gives (3, crew 0) first).
    times = np.array([3, 1, 2, 1])
    jobs = list_schedule([0, 1, 2, 3], times, 2)
    assert jobs == [(0, 0, 0, 3), (1, 1, 0, 1), (2, 1, 1, 3), (3, 0, 3, 4)]


def with_recovery(inst: Instance, **changes: object) -> Instance:
    return dataclasses.replace(inst, recovery=dataclasses.replace(inst.recovery, **changes))


@pytest.mark.parametrize("seed", range(6))
def test_every_point_of_a_crew_schedule_is_the_evaluation(seed: int) -> None:
    """Two or three crews and random repair times: each road returns when its crew is done,
    and R(t) at every period is the full evaluation with the roads back by then."""
    inst = build(random_doc(seed, nodes=(8, 14)))
    rng = np.random.default_rng(seed)
    times = tuple(int(t) for t in rng.integers(1, 4, inst.network.num_edges))
    inst = with_recovery(inst, crews=2 + seed % 2, repair_time=times)
    plan = plan_of(inst, seed)
    for s in inst.scenarios:
        start = evaluate_scenario(inst, plan, s).resilience
        sched = greedy_schedule(inst, plan, s, start)
        failed = set(s.failed_edges)
        assert sched.horizon == sum(times[e] for e in failed)
        assert sorted(st.edge for st in sched.steps[1:]) == sorted(failed)  # type: ignore
        busy: dict[int, list[tuple[int, int]]] = {}
        for st in sched.steps[1:]:
            assert st.period - st.start == times[st.edge]  # type: ignore[index,operator]
            busy.setdefault(st.crew, []).append((st.start, st.period))  # type: ignore
        for spans in busy.values():  # a crew does one road at a time
            spans.sort()
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        curve = sched.curve()
        for t in range(sched.horizon + 1):
            back = {st.edge for st in sched.steps[1:] if st.period <= t}
            assert curve[t] == pytest.approx(value_without(inst, plan, s, failed - back),
                                             abs=TOL), (seed, s.id, t)


def test_more_crews_never_lower_the_area() -> None:
    inst = geometric(60, 10, 3)
    plan = plan_of(inst, 3)
    outcomes = evaluate_plan(inst, plan)
    for s, o in zip(inst.scenarios, outcomes, strict=True):
        areas = [greedy_schedule(inst, plan, s, o.resilience, crews=c).area
                 for c in (1, 2, 4)]
        # The same order, taken by more crews: every road is back no later.
        assert areas[0] <= areas[1] + TOL and areas[1] <= areas[2] + TOL


def test_priority_roads_go_first() -> None:
    inst = geometric(50, 8, 1)
    plan = plan_of(inst, 1)
    scenario = max(inst.scenarios, key=lambda s: len(s.failed_edges))
    failed = sorted(scenario.failed_edges)
    chosen = tuple(failed[-2:])
    inst = with_recovery(inst, priority=chosen)
    start = evaluate_scenario(inst, plan, scenario).resilience
    sched = greedy_schedule(inst, plan, scenario, start)
    assert set(sched.order[:2]) == set(chosen)


def test_one_crew_unit_times_is_one_road_per_period() -> None:
    inst = build(random_doc(3, nodes=(10, 12)))
    plan = plan_of(inst, 3)
    s = max(inst.scenarios, key=lambda s: len(s.failed_edges))
    sched = greedy_schedule(inst, plan, s, evaluate_scenario(inst, plan, s).resilience)
    assert isinstance(sched, Schedule)
    assert [st.period for st in sched.steps] == list(range(len(s.failed_edges) + 1))
    assert sched.area == pytest.approx(np.mean([st.resilience for st in sched.steps]))
    # Taking the same order through schedule_of without known values evaluates the same.
    again = schedule_of(inst, plan, s, sched.order, 1, np.ones(inst.network.num_edges, int),
                        sched.steps[0].resilience)
    assert [st.resilience for st in again.steps] == pytest.approx(
        [st.resilience for st in sched.steps], abs=TOL)


def test_recovery_section_lists_crews_and_starts() -> None:
    from optimizer.results.file import recovery_section

    inst = build(random_doc(5, nodes=(10, 12)))
    inst = with_recovery(inst, crews=2)
    plan = plan_of(inst, 5)
    section = json.loads(json.dumps(recovery_section(inst, recovery(inst, plan))))
    for entry in section:
        assert entry["crews"] == 2
        for step in entry["restoration"][1:]:
            assert step["crew"] in (1, 2) and step["start"] < step["period"]


def test_default_recovery_policy() -> None:
    policy = RecoveryPolicy()
    assert policy.crews == 1
    assert list(policy.times(3)) == [1, 1, 1]
    assert not policy.first(3).any()


def test_instance_fields_crews_repair_times_priority() -> None:
    from helpers import INSTANCES

    from optimizer.instance.reading import load_instance

    inst = load_instance(INSTANCES / "two_crews.json")
    ids = inst.network.edge_ids
    assert inst.recovery.crews == 2
    times = dict(zip(ids, inst.recovery.times(len(ids)), strict=True))
    assert times["BE"] == 3 and times["AB"] == 1 and times["EF"] == 3
    # "E" is a node: every road at it goes first.
    assert sorted(ids[j] for j in inst.recovery.priority) == ["BE", "DE", "EF", "EH"]
    # Today's files: one crew, one period per road, no priority.
    tiny = load_instance(INSTANCES / "tiny.json")
    assert tiny.recovery == tiny.recovery  # frozen dataclass
    assert tiny.recovery.crews == 1 and tiny.recovery.repair_time == ()
    assert tiny.recovery.priority == ()


def test_two_crews_example_by_hand() -> None:
    """instances/two_crews.json, storm, under a fixed plan: the priority road E-F (3
    periods) starts first on crew 1; crew 2 takes H-I (1 period), then B-C (2), then F-I
    (1); crew 1, free at 3, takes C-F (2). Returns: H-I at 1, E-F and B-C at 3, F-I at 4,
    C-F at 5; the horizon is one crew's 9 periods."""
    from helpers import INSTANCES

    from optimizer.instance.reading import load_instance

    inst = load_instance(INSTANCES / "two_crews.json")
    plan = Plan((True,), np.array([[900.0]]), (True,), (0,), 6900.0)
    storm = inst.scenarios[1]
    sched = greedy_schedule(inst, plan, storm, evaluate_scenario(inst, plan, storm).resilience)
    ids = inst.network.edge_ids
    got = [(ids[s.edge], s.crew, s.start, s.period) for s in sched.steps[1:]]  # type: ignore
    assert got == [("HI", 1, 0, 1), ("EF", 0, 0, 3), ("BC", 1, 1, 3), ("FI", 1, 3, 4),
                   ("CF", 0, 3, 5)]
    assert sched.horizon == 9
    curve = sched.curve()
    assert len(curve) == 10 and curve[-1] == pytest.approx(curve[5])
    for t in range(10):
        back = {s.edge for s in sched.steps[1:] if s.period <= t}
        assert curve[t] == pytest.approx(
            value_without(inst, plan, storm, set(storm.failed_edges) - back), abs=TOL)
