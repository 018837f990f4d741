"""Recovery paths (design section 5): how a plan's community gets back on its feet.

For each scenario, on the surviving roads (scipy's csgraph: bounded Dijkstra and integer
maximum flow, checked against networkx in the tests; no solver), for every *affected* zone
(need or evacuees > 0):

- **cut off**: no path at all on the surviving roads to any open depot (``supply``) or to
  any open shelter (``shelter``), although the intact network has one: cut off by the
  disruption. (A zone with no such path even on the intact network, for instance because
  the plan opens no shelter, is not listed here but is out of reach.)
- **out of reach**: no open depot within supply reach, or no open shelter within evacuation
  reach, on the surviving roads. A cut-off zone is also out of reach.
- **detour ratio**: distance to the nearest open depot (shelter) on the surviving roads over
  the same on the intact network: 1 when nothing changed (also for a zone that hosts the
  facility), ``inf`` when there is no finite ratio (cut off, or no open facility of that
  kind); the result file writes ``inf`` as ``null``.
- **disjoint paths**: the number of edge-disjoint paths from the zone to the set of open
  facilities of a kind (maximum flow from the zone to a super sink joined to every such
  facility, each surviving road of capacity 1, parallel roads counted apart; scipy's
  integer max flow, checked against networkx edge connectivity in the tests): path
  redundancy. A zone that hosts an open facility of the kind needs no road: ``None``
  (unbounded).
- **restoration schedule**: the order in which crews repair the failed roads, each road
  back after its repair time, and the recovery curve (R_s at every period until one crew
  would have repaired everything) with its area (the curve's mean, in [0, 1]; 1 when the
  scenario never hurt): :mod:`optimizer.evaluation.restoration`.

The schedule works on the live stake pairs of :mod:`optimizer.evaluation.whatif`, whose
disrupted value must agree with the plan's evaluated R_s (a bug otherwise; the tests also
check every point of the curve against
:func:`optimizer.evaluation.evaluate.evaluate_scenario`).

Where to look next: :func:`analyse` runs the scenarios (here or on the executor of
:mod:`optimizer.executors`); :mod:`optimizer.results.file` writes its section into a result;
:mod:`optimizer.evaluation.restoration_mip` solves a scenario's schedule exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra, maximum_flow

from optimizer.evaluation.evaluate import evaluate_scenario
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.evaluation.reachability import within
from optimizer.evaluation.restoration import Intact, RepairStep, Schedule, greedy_schedule
from optimizer.evaluation.whatif import TIE_TOL
from optimizer.executors import open_executor
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan

KINDS = ("supply", "shelter")
# From this many scenarios, recovery runs on local processes (one per core) unless told
# otherwise: below it, starting them (about 2 s each with spawn, in parallel) costs more
# than it saves (a scenario takes about 12 ms of CPU at 200 nodes).
PARALLEL_FROM = 1000
# The warning of a result whose recovery section the time limit left unfinished starts so.
PENDING_PREFIX = "recovery paths not analysed for"
# Scenarios per task on an executor: a few hundred milliseconds of work.
TASK_SCENARIOS = 32


@dataclass(frozen=True, eq=False)
class ScenarioRecovery:
    """Design section 5 for one scenario. Zones and roads are indices."""

    scenario_id: str
    affected: tuple[int, ...]
    cut_off: dict[str, tuple[int, ...]]  # kind -> zones
    out_of_reach: dict[str, tuple[int, ...]]
    detour_ratio: dict[int, dict[str, float]]  # zone -> kind -> ratio (inf: none finite)
    disjoint_paths: dict[int, dict[str, int | None]]  # zone -> kind -> count (None: unbounded)
    schedule: Schedule

    @property
    def restoration(self) -> tuple[RepairStep, ...]:
        return self.schedule.steps

    @property
    def area(self) -> float:
        """Mean resilience over periods 0..H
        (:class:`optimizer.evaluation.restoration.Schedule`)."""
        return self.schedule.area

    @property
    def repairs_to_full(self) -> int:
        """Repairs after which R_s first reaches its final (fully repaired) value."""
        final = self.restoration[-1].resilience
        for n, step in enumerate(self.restoration):
            if step.resilience >= final - TIE_TOL:
                return n
        return len(self.restoration) - 1  # pragma: no cover


def _facility_nodes(instance: Instance, plan: Plan) -> dict[str, list[int]]:
    return {
        "supply": sorted({d.node for d, y in zip(instance.depots, plan.open_depots,
                                                 strict=True) if y}),
        "shelter": sorted({h.node for h, z in zip(instance.shelters, plan.open_shelters,
                                                  strict=True) if z}),
    }


def _nearest(graph: csr_matrix, sources: list[int]) -> np.ndarray:
    """(N,) distance from each node to the nearest of ``sources`` (inf: none reachable)."""
    if not sources:
        return np.full(graph.shape[0], np.inf)
    return dijkstra(graph, directed=False, indices=sources, min_only=True)


def _intact_nearest(intact: Intact, facilities: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Kind -> each node's distance to the nearest open facility of that kind on the intact
    roads (the same for every scenario of a plan)."""
    return {kind: _nearest(intact.graph, facilities[kind]) for kind in KINDS}


def capacity_arcs(instance: Instance, failed: set[int]) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Surviving roads as (u, v, capacity), capacity = how many parallel roads join u, v."""
    net = instance.network
    keep = np.ones(net.num_edges, dtype=bool)
    keep[list(failed)] = False
    keep &= net.edge_from != net.edge_to
    u = np.minimum(net.edge_from[keep], net.edge_to[keep])
    v = np.maximum(net.edge_from[keep], net.edge_to[keep])
    pairs, counts = np.unique(np.stack([u, v], axis=1), axis=0, return_counts=True)
    pairs = pairs.reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1], counts.astype(np.int32)


def disjoint_paths(num_nodes: int, arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
                   zones: list[int], facilities: list[int],
                   reachable: set[int]) -> dict[int, int | None]:
    """Edge-disjoint paths from each zone to the set ``facilities`` (a super sink).

    ``arcs`` are the surviving roads (u, v, number of parallel roads); ``reachable`` the
    nodes with some path to a facility (the others have 0 without a flow).
    """
    return disjoint_paths_of(num_nodes, arcs, [(zones, facilities, reachable)])[0]


def disjoint_paths_of(num_nodes: int, arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
                      asks: list[tuple[list[int], list[int], set[int]]]
                      ) -> list[dict[int, int | None]]:
    """:func:`disjoint_paths` for several (zones, facilities, reachable) at once.

    The counts are maximum flows with integer capacities (scipy), all in one call: each
    (zone, facility set) that needs a flow gets its own copy of the network, a shared
    source feeds each copy's zone and each copy's facilities drain into a shared sink, so
    the flow into copy ``c`` is its zone's count. A zone that hosts a facility needs no
    road (``None``), one with no path has 0, one with a single road has 1.
    """
    u, v, cap = arcs
    degree = np.bincount(np.concatenate([u, v]), weights=np.concatenate([cap, cap]),
                         minlength=num_nodes)
    out: list[dict[int, int | None]] = []
    copy_zone: list[int] = []
    copy_facilities: list[np.ndarray] = []
    copy_of: list[tuple[int, int]] = []  # (ask, zone) of each copy
    for n, (zones, facilities, reachable) in enumerate(asks):
        hosts = set(facilities)
        counts: dict[int, int | None] = {}
        for z in zones:
            if not facilities or z not in reachable:
                counts[z] = None if z in hosts else 0
            elif z in hosts:
                counts[z] = None
            elif degree[z] == 1:
                counts[z] = 1
            else:
                copy_zone.append(z)
                copy_facilities.append(np.asarray(facilities, dtype=np.int64))
                copy_of.append((n, z))
        out.append(counts)
    if not copy_zone:
        return out
    graph, source, sink, zone_nodes = _copies(num_nodes, arcs, copy_zone, copy_facilities)
    flow = maximum_flow(graph, source, sink).flow
    into = np.asarray(flow[source].toarray()).ravel()[zone_nodes]
    for (n, z), count in zip(copy_of, into, strict=True):
        out[n][z] = int(count)
    return out


def _copies(num_nodes: int, arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
            zones: list[int], facilities: list[np.ndarray]
            ) -> tuple[csr_matrix, int, int, np.ndarray]:
    """The flow network of :func:`disjoint_paths_of`: (graph, source, sink, zone nodes).

    Copy ``c`` has nodes ``c * (N + 1) ..``: the N road nodes and a local sink that its
    facilities drain into (unbounded) and that drains into the global sink. Copies with
    the same facility set share one template whose CSR arrays are tiled, so the matrix is
    assembled without sorting (it was most of the time at 200 nodes).
    """
    u, v, cap = arcs
    unbounded = int(cap.sum()) + 1
    block = num_nodes + 1
    copies = len(zones)
    source, sink = copies * block, copies * block + 1
    indptr_parts: list[np.ndarray] = []
    index_parts: list[np.ndarray] = []
    data_parts: list[np.ndarray] = []
    templates: dict[bytes, csr_matrix] = {}
    filled = 0
    for c, fac in enumerate(facilities):
        key = fac.tobytes()
        template = templates.get(key)
        if template is None:
            # Rows 0..N: road nodes and the local sink N; column N + 1 stands for the
            # global sink.
            rows = np.concatenate([u, v, fac, [num_nodes]])
            cols = np.concatenate([v, u, np.full(len(fac), num_nodes), [num_nodes + 1]])
            data = np.concatenate([cap, cap, np.full(len(fac) + 1, unbounded)])
            template = csr_matrix((data.astype(np.int32), (rows, cols)),
                                  shape=(block, block + 1))
            template.sort_indices()
            templates[key] = template
        offset = c * block
        indices = template.indices.astype(np.int64) + offset
        indices[template.indices == block] = sink
        indptr_parts.append(template.indptr[:-1].astype(np.int64) + filled)
        index_parts.append(indices)
        data_parts.append(template.data)
        filled += template.nnz
    zone_nodes = np.array(zones, dtype=np.int64) + np.arange(copies, dtype=np.int64) * block
    indptr = np.concatenate([*indptr_parts, [filled, filled + copies, filled + copies]])
    indices = np.concatenate([*index_parts, zone_nodes])
    data = np.concatenate([*data_parts, np.full(copies, unbounded, dtype=np.int32)])
    size = copies * block + 2
    graph = csr_matrix((data.astype(np.int32), indices.astype(np.int32),
                        indptr.astype(np.int32)), shape=(size, size))
    return graph, source, sink, zone_nodes


def _ratio(surviving: float, intact: float) -> float:
    if math.isinf(surviving) or math.isinf(intact):
        return math.inf
    if surviving == intact:
        return 1.0
    return surviving / intact if intact > 0 else math.inf


def restoration(instance: Instance, plan: Plan, scenario: Scenario, *,
                start: float | None = None, crews: int | None = None,
                intact: Intact | None = None) -> Schedule:
    """The greedy restoration schedule and recovery curve of one scenario.

    ``start`` is the plan's R_s in the scenario (evaluated here when not given); the
    schedule's own disrupted value must agree with it.
    """
    r0 = start if start is not None else evaluate_scenario(instance, plan, scenario).resilience
    return greedy_schedule(instance, plan, scenario, r0, crews, intact)


def recover_scenario(instance: Instance, plan: Plan, scenario: Scenario, *,
                     start: float | None = None, intact: Intact | None = None,
                     intact_nearest: dict[str, np.ndarray] | None = None
                     ) -> ScenarioRecovery:
    """Every measure of design section 5 for one scenario.

    ``start`` is the plan's R_s in the scenario when already known; ``intact`` (the intact
    roads) and ``intact_nearest`` (each node's distance to the nearest open facility of
    each kind on them) are shared by all scenarios of a plan.
    """
    intact = intact if intact is not None else Intact(instance)
    failed = set(scenario.failed_edges)
    surviving = intact.graph_without(sorted(failed))
    facilities = _facility_nodes(instance, plan)
    if intact_nearest is None:
        intact_nearest = _intact_nearest(intact, facilities)
    affected = [int(i) for i in np.nonzero((scenario.need.sum(axis=1) > 0)
                                           | (scenario.evacuees > 0))[0]]
    reach = {"supply": instance.policy.supply_reach,
             "shelter": instance.policy.evacuation_reach}
    cut_off: dict[str, tuple[int, ...]] = {}
    out_of_reach: dict[str, tuple[int, ...]] = {}
    ratios: dict[int, dict[str, float]] = {z: {} for z in affected}
    asks = []
    for kind in KINDS:
        now = _nearest(surviving, facilities[kind])
        before = intact_nearest[kind]
        cut_off[kind] = tuple(z for z in affected
                              if np.isinf(now[z]) and np.isfinite(before[z]))
        out_of_reach[kind] = tuple(z for z in affected
                                   if np.isinf(now[z]) or not within(now[z], reach[kind]))
        for z in affected:
            ratios[z][kind] = _ratio(float(now[z]), float(before[z]))
        asks.append((affected, facilities[kind], set(np.nonzero(np.isfinite(now))[0].tolist())))
    counted = disjoint_paths_of(instance.network.num_nodes, capacity_arcs(instance, failed),
                                asks)
    paths = {z: {kind: counted[n][z] for n, kind in enumerate(KINDS)} for z in affected}
    return ScenarioRecovery(
        scenario_id=scenario.id, affected=tuple(affected), cut_off=cut_off,
        out_of_reach=out_of_reach, detour_ratio=ratios, disjoint_paths=paths,
        schedule=restoration(instance, plan, scenario, start=start, intact=intact),
    )


@dataclass(frozen=True, eq=False)
class RecoveryRun:
    """The recovery section of one plan: what was analysed, and what was not."""

    scenarios: tuple[ScenarioRecovery, ...]  # analysed, in instance order
    pending: tuple[str, ...]  # ids of the scenarios left for lack of time, instance order
    seconds: float
    where: str  # the executor that ran it
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped it (the rest is pending)


def _analyse_task(shared: tuple[Instance, Plan, dict[str, np.ndarray]], _token: str,
                  jobs: list[tuple[int, float]]) -> list[ScenarioRecovery]:
    """Worker side: :func:`recover_scenario` for scenarios (index, R_s) of the shared plan."""
    instance, plan, nearest = shared
    intact = _INTACT.get(id(instance))
    if intact is None or intact.network is not instance.network:
        intact = Intact(instance)
        _INTACT.clear()
        _INTACT[id(instance)] = intact
    return [recover_scenario(instance, plan, instance.scenarios[n], start=start,
                             intact=intact, intact_nearest=nearest) for n, start in jobs]


# A worker keeps the intact roads of the instance it was last sent.
_INTACT: dict[int, Intact] = {}


def analyse(instance: Instance, plan: Plan, starts: Mapping[int, float] | None = None, *,
            only: Sequence[int] | None = None, deadline: float | None = None,
            workers: int | None = None, scheduler: str | None = None,
            stop: Callable[[], bool] | None = None) -> RecoveryRun:
    """:func:`recover_scenario` for the scenarios ``only`` (default every one), until
    ``deadline`` (a :func:`time.monotonic` instant; None: no limit). ``starts`` are the
    plan's R_s by scenario index where known (verification has them).

    The worst scenarios (lowest R_s) go first, so a deadline leaves out the mildest. A
    scenario is analysed whole or not at all; the ones not reached are named in
    ``pending``. From :data:`PARALLEL_FROM` scenarios (or with an explicit ``workers`` or
    ``scheduler``), scenarios run on the executor of design section 6, in tasks of
    :data:`TASK_SCENARIOS`.
    """
    started = time.monotonic()
    chosen = list(range(len(instance.scenarios))) if only is None else sorted(set(only))
    known = _known_starts(instance, plan, chosen, starts)
    chosen.sort(key=lambda n: (known[n], n))
    intact = Intact(instance)
    nearest = _intact_nearest(intact, _facility_nodes(instance, plan))
    work = _Analysis(instance, plan, known, intact, nearest, deadline, stop)
    parallel = (workers is not None and workers > 1) or scheduler is not None or (
        workers is None and len(chosen) >= PARALLEL_FROM)
    done: dict[int, ScenarioRecovery] = {}
    where = "in-process"
    interrupted = False
    if not parallel:
        done, interrupted = _analyse_here(work, chosen)
    elif deadline is not None and time.monotonic() >= deadline:
        pass  # no time left: starting the workers (a second or more) would only add to it
    else:
        where, done, interrupted = _analyse_on_executor(work, chosen, workers, scheduler)
    pending = tuple(instance.scenarios[n].id for n in sorted(set(chosen) - done.keys()))
    return RecoveryRun(tuple(done[n] for n in sorted(done)), pending,
                       time.monotonic() - started, where, interrupted)


@dataclass(frozen=True, eq=False)
class _Analysis:
    """What every scenario of one :func:`analyse` call shares."""

    instance: Instance
    plan: Plan
    known: Mapping[int, float]  # scenario index -> the plan's R_s there
    intact: Intact
    nearest: dict[str, np.ndarray]  # kind -> distance to the nearest open facility, intact
    deadline: float | None  # a time.monotonic instant
    stop: Callable[[], bool] | None  # true once Ctrl-C or SIGTERM is recorded


def _known_starts(instance: Instance, plan: Plan, chosen: list[int],
                  starts: Mapping[int, float] | None) -> Mapping[int, float]:
    """The plan's R_s in every chosen scenario: ``starts`` where given, else evaluated."""
    known = starts or {}
    if not all(n in known for n in chosen):
        known = {**known, **{n: evaluate_scenario(instance, plan, instance.scenarios[n])
                             .resilience for n in chosen if n not in known}}
    return known


def _analyse_here(work: _Analysis,
                  chosen: list[int]) -> tuple[dict[int, ScenarioRecovery], bool]:
    """Analyse ``chosen`` in order in this process while the deadline allows: the
    scenarios analysed (by index), and whether a stop (Ctrl-C or SIGTERM) ended it."""
    done: dict[int, ScenarioRecovery] = {}
    longest = 0.0  # a scenario starts only while one as long as any so far would fit
    try:
        for n in chosen:
            now = time.monotonic()
            if work.deadline is not None and now + longest >= work.deadline:
                break
            if work.stop is not None and work.stop():  # Ctrl-C or SIGTERM recorded
                return done, True
            done[n] = recover_scenario(work.instance, work.plan, work.instance.scenarios[n],
                                       start=work.known[n], intact=work.intact,
                                       intact_nearest=work.nearest)
            longest = max(longest, time.monotonic() - now)
    except KeyboardInterrupt:
        # Stopped by the user: what is done stands, the rest is pending, and the caller
        # still writes the plan (it says so and exits as interrupted).
        return done, True
    return done, False


def _analyse_on_executor(work: _Analysis, chosen: list[int], workers: int | None,
                         scheduler: str | None
                         ) -> tuple[str, dict[int, ScenarioRecovery], bool]:
    """Analyse ``chosen`` on the executor, in tasks of :data:`TASK_SCENARIOS`: the
    executor's description, the scenarios analysed (by index), and whether a stop ended
    it."""
    done: dict[int, ScenarioRecovery] = {}
    interrupted = False
    with open_executor(workers, scheduler) as executor:
        where = executor.describe()
        shared = executor.share((work.instance, work.plan, work.nearest))
        queue = [chosen[i:i + TASK_SCENARIOS] for i in range(0, len(chosen), TASK_SCENARIOS)]
        # A task under way cannot be stopped (closing the executor waits for it), so
        # tasks go out one per lane at a time, and a lane takes the next only while it
        # should end before the deadline, judged by the longest task so far.
        running: dict[Future, tuple[list[int], int, float]] = {}
        longest = 0.0

        def launch(lane: int) -> None:
            nonlocal interrupted
            if work.stop is not None and work.stop():
                interrupted = True
            if not queue or interrupted or (work.deadline is not None
                                            and time.monotonic() + longest >= work.deadline):
                return
            task = queue.pop(0)
            begun = time.monotonic()
            future = executor.submit(lane, _analyse_task, shared,
                                     [(n, work.known[n]) for n in task])
            running[future] = (task, lane, begun)

        for lane in range(executor.lanes):
            launch(lane)
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task, lane, begun = running.pop(future)
                longest = max(longest, time.monotonic() - begun)
                for n, rec in zip(task, future.result(), strict=True):
                    done[n] = rec
                launch(lane)
        executor.release(shared)
    return where, done, interrupted


def pending_warning(pending: Sequence[str], why: str = "the time limit was reached") -> str:
    """What the result says when scenarios were left without recovery paths."""
    shown = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
    return (f"{PENDING_PREFIX} {len(pending)} scenario"
            f"{'s' if len(pending) != 1 else ''} ({shown}): {why}; "
            "`resilience recover INSTANCE RESULT` fills them in (recovery_pending lists them)")


def recovery(instance: Instance, plan: Plan,
             outcomes: list[ScenarioOutcome] | None = None) -> list[ScenarioRecovery]:
    """:func:`recover_scenario` for every scenario, in instance order, in this process.

    ``outcomes`` (the plan's evaluated outcomes, e.g. from verification) save evaluating
    each disrupted scenario again.
    """
    starts = None if outcomes is None else {n: o.resilience for n, o in enumerate(outcomes)}
    return list(analyse(instance, plan, starts, workers=1).scenarios)
