"""Classic covering instances against the textbook covering MIP (issue 10).

The maximal covering location problem (MCLP: open p sites, or sites within a budget, and
maximise the demand within a service distance of an open site) and the location set
covering problem (LSCP: the fewest, or cheapest, sites that cover every demand point) are
special cases of the engine's model: one scenario, shelters only, capacity that never
binds, every weight on the shelter term. This benchmark generates a seeded family of
classic instances, encodes each one twice and compares the optima and the solver times:

(a) the textbook MIP, in PuLP and solved by the CBC binary PuLP bundles: PySAL spopt's
    ``MCLP.from_cost_matrix`` / ``LSCP.from_cost_matrix`` where spopt has the model (p
    sites; unit-cost LSCP), and the same textbook rows written in PuLP for the variants
    spopt lacks (a budget over site costs; LSCP with site costs), or when spopt is not
    installed:

        MCLP   max sum_i a_i y_i   s.t. y_i <= sum_{j in N_i} x_j,  sum_j x_j = p
               (or sum_j c_j x_j <= B),  x, y binary
        LSCP   min sum_j c_j x_j   s.t. sum_{j in N_i} x_j >= 1,  x binary

    with N_i the sites within the service distance S of demand point i;

(b) an engine instance file (written to disk and read back as a user's file is), solved by
    ``optimizer.pipeline.solve_and_verify``, the job ``resilience solve`` does: demand
    points are zones whose population is the demand a_i, every one affected in the one
    scenario (evacuation rate 1); a site is a shelter of fixed cost c_j (1 for a count)
    and a capacity of the total demand (it never binds); roads join each demand point to
    each site within S, as long as their distance, so the shortest path between them is
    their distance (the triangle inequality) and the evacuation reach is S; weights
    shelter 1, supply 0, economic 0; no depots, no compensation pool.

How the engine's objective maps: the one scenario's resilience is R = sheltered / sum_i
a_i, and a zone is sheltered in full exactly when an open shelter is within reach (no
capacity binds), so

- MCLP (p sites, or a budget) is ``worst_case`` (``expected`` is the same objective with
  one scenario) with fixed cost 1 and budget p (or c_j and budget B); the covered demand
  is R * sum_i a_i. ``sum_j x_j = p`` and the engine's ``<= p`` have the same optimum
  (coverage never falls when a site is added, and p <= sites);
- LSCP is ``min_cost`` with target 1: the cheapest plan with R = 1.

After the covering objective the engine breaks ties by cost (fewest or cheapest sites
among the plans that cover the most); the textbook MCLP returns any optimum with exactly p
sites. To return the engine's plan the textbook model needs a second solve: min sum_j c_j
x_j s.t. sum_i a_i y_i >= the optimum. ``--tiebreak`` (the default) runs it, timed apart,
so the table can compare either way.

Timing, side by side in one process per repeat, alternating which model goes first, the
median of ``--repeats``: CPU seconds (this process, and the CBC child process through
``getrusage(RUSAGE_CHILDREN)``), since the machine is shared. "engine HiGHS" is the CPU
of every HiGHS run (every stage and the recourse polish); "engine solve" the route
(model data, ceilings, build, hand-off, every stage); "engine total" all of
``solve_and_verify`` (also the max-flow check, the recovery analysis and the result
document); "CBC" the CPU of the CBC process; "PuLP total" building the model in PuLP
(spopt) and solving it (writing the MPS file, CBC, reading the solution back).

    python benchmarks/covering.py --plan quick
    python benchmarks/covering.py --plan full --repeats 3 -o benchmarks/results/covering.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "--engine-root" in sys.argv:  # another checkout's engine (a before/after comparison)
    sys.path.insert(0, sys.argv[sys.argv.index("--engine-root") + 1])

# Shifted geometric means of seconds use this shift (the cases take 10 ms to seconds).
SGM_SHIFT = 0.01
# Optima agree when they differ by at most this, relative to the total demand (MCLP) or
# the total site cost (LSCP): demands and costs are integers, so this is exact equality
# up to floating point.
SAME_TOL = 1e-7

# (demand points, candidate sites) per size; p and budgets are shares of the sites/costs.
PLANS: dict[str, dict[str, Any]] = {
    "quick": {"sizes": [(50, 10), (100, 20)], "seeds": [0], "families": ["planar", "grid"],
              "siouxfalls": True},
    "large": {"sizes": [(400, 60)], "seeds": [0], "families": ["planar", "grid"],
              "siouxfalls": False},
    "full": {"sizes": [(50, 10), (100, 20), (200, 30), (400, 60)], "seeds": [0],
             "families": ["planar", "grid"], "siouxfalls": True},
}
# Expected number of sites within S of a demand point (sets S): MCLP, then LSCP.
MCLP_DENSITIES = (1.0, 2.0, 4.0)
LSCP_DENSITIES = (2.0, 4.0)
P_SHARES = (0.1, 0.25)
BUDGET_SHARE = 0.2
SIDE = 100.0


# -------------------------------------------------------------------------------- cases


@dataclass(frozen=True, eq=False)
class Case:
    """One covering instance: distances, demands, costs, the problem and its limit."""

    name: str
    family: str  # planar | grid | siouxfalls
    problem: str  # mclp_p | mclp_budget | lscp_unit | lscp_cost
    distance: np.ndarray  # (demand points, sites)
    demand: np.ndarray  # (demand points,) integers
    cost: np.ndarray  # (sites,) integers (1 for a count)
    radius: float
    limit: float  # p, or the budget; unused for LSCP
    # How the engine file places them: coordinates, or a road network of its own.
    demand_xy: np.ndarray | None = None
    site_xy: np.ndarray | None = None
    site_at_demand: np.ndarray | None = None  # site j stands at demand point k (or -1)
    network: dict[str, Any] | None = None  # Sioux Falls: the network part of the file
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def cover(self) -> np.ndarray:
        """a_ij: site j within the service distance of demand point i (the textbook rule)."""
        return self.distance <= self.radius

    @property
    def size(self) -> str:
        """Demand points x sites as generated (LSCP may drop points no site covers)."""
        n = self.distance.shape[0] + self.meta.get("dropped", 0)
        return f"{n} x {self.distance.shape[1]}"


def _radius_for(density: float, sites: int) -> float:
    """S such that a site's disc covers ``density / sites`` of the square on average."""
    return SIDE * math.sqrt(density / sites / math.pi)


def _grid_radius(density: float, sites: int, spacing: float) -> float:
    """As :func:`_radius_for`, moved off every lattice distance (no pair sits on S)."""
    r = _radius_for(density, sites) / spacing
    squares = np.array(sorted({a * a + b * b for a in range(60) for b in range(60)}))
    lattice = np.sqrt(squares)
    below = lattice[lattice <= r].max(initial=0.0)
    above = lattice[lattice > r].min()
    return spacing * (below + above) / 2


def _problems(rng: np.random.Generator, name: str, family: str, distance: np.ndarray,
              demand: np.ndarray, densities: tuple[tuple[str, float], ...],
              sites: int, **where: Any) -> list[Case]:
    cases = []
    unit = np.ones(sites)
    costs = rng.integers(1, 10, size=sites).astype(float)
    for tag, radius in densities:
        for problem in ("mclp_p", "mclp_budget", "lscp_unit", "lscp_cost"):
            if problem.startswith("mclp") != tag.startswith("m"):
                continue
            if problem == "mclp_p":
                for p in sorted({max(2, round(share * sites)) for share in P_SHARES}):
                    cases.append(Case(f"{name}-{tag}-p{p}", family, problem, distance, demand,
                                      unit, radius, float(p), **where))
                continue
            cost = unit if problem == "lscp_unit" else costs
            limit = float(round(BUDGET_SHARE * costs.sum())) if problem == "mclp_budget" \
                else 0.0
            keep = np.ones(len(demand), dtype=bool)
            if problem.startswith("lscp"):
                keep = (distance <= radius).any(axis=1)  # coverable points only
            cases.append(_subset(Case(f"{name}-{tag}-{problem}", family, problem, distance,
                                      demand, cost, radius, limit, **where), keep))
    return cases


def _subset(case: Case, keep: np.ndarray) -> Case:
    """The case on the demand points ``keep`` (LSCP drops points no site can cover)."""
    if keep.all():
        return case
    assert case.site_at_demand is None or (case.site_at_demand < 0).all() \
        or keep[case.site_at_demand[case.site_at_demand >= 0]].all()
    at = case.site_at_demand
    if at is not None and case.network is None:  # renumber the demand points kept
        at = np.where(at >= 0, np.cumsum(keep)[np.maximum(at, 0)] - 1, -1)
    return Case(case.name, case.family, case.problem, case.distance[keep], case.demand[keep],
                case.cost, case.radius, case.limit,
                None if case.demand_xy is None else case.demand_xy[keep], case.site_xy,
                at, case.network,
                {**case.meta, "dropped": int((~keep).sum())})


def planar_cases(n: int, m: int, seed: int) -> list[Case]:
    """spopt's classic setting: demand points and candidate sites uniform in a square."""
    rng = np.random.default_rng(10_000 * seed + 7 * n + m)
    demand_xy = rng.uniform(0, SIDE, size=(n, 2))
    site_xy = rng.uniform(0, SIDE, size=(m, 2))
    demand = rng.integers(1, 101, size=n).astype(float)
    distance = np.hypot(*(demand_xy[:, None, :] - site_xy[None, :, :]).transpose(2, 0, 1))
    densities = tuple((f"m{d:g}", _radius_for(d, m)) for d in MCLP_DENSITIES) + tuple(
        (f"l{d:g}", _radius_for(d, m)) for d in LSCP_DENSITIES)
    return _problems(rng, f"planar-{n}x{m}-s{seed}", "planar", distance, demand, densities, m,
                     demand_xy=demand_xy, site_xy=site_xy)


def grid_cases(n: int, m: int, seed: int) -> list[Case]:
    """Demand on a square lattice, candidate sites at lattice points (many equal
    distances: many tying optima)."""
    rng = np.random.default_rng(20_000 * seed + 7 * n + m)
    k = math.ceil(math.sqrt(n))
    spacing = SIDE / (k - 1)
    xy = np.array([(spacing * a, spacing * b) for a in range(k) for b in range(k)])[:n]
    at = np.sort(rng.choice(n, size=m, replace=False))
    demand = rng.integers(1, 101, size=n).astype(float)
    distance = np.hypot(*(xy[:, None, :] - xy[at][None, :, :]).transpose(2, 0, 1))
    densities = tuple((f"m{d:g}", _grid_radius(d, m, spacing)) for d in MCLP_DENSITIES) + \
        tuple((f"l{d:g}", _grid_radius(d, m, spacing)) for d in LSCP_DENSITIES)
    return _problems(rng, f"grid-{n}x{m}-s{seed}", "grid", distance, demand, densities, m,
                     demand_xy=xy, site_at_demand=at)


def siouxfalls_cases() -> list[Case]:
    """The TNTP Sioux Falls network (instances/siouxfalls.json): demand at every node
    (its population), a candidate site at every node, network distances (networkx)."""
    import networkx as nx

    doc = json.loads((ROOT / "instances" / "siouxfalls.json").read_text(encoding="utf-8"))
    nodes = [v["id"] for v in doc["network"]["nodes"]]
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    for e in doc["network"]["edges"]:
        length = float(e.get("length", 1.0))
        if graph.has_edge(e["from"], e["to"]):
            length = min(length, graph[e["from"]][e["to"]]["length"])
        graph.add_edge(e["from"], e["to"], length=length)
    dist = dict(nx.all_pairs_dijkstra_path_length(graph, weight="length"))
    distance = np.array([[dist[a].get(b, np.inf) for b in nodes] for a in nodes])
    demand = np.array([float(v.get("population", 0.0)) for v in doc["network"]["nodes"]])
    network = {"nodes": [{"id": v["id"], "x": v.get("x", 0.0), "y": v.get("y", 0.0),
                          "population": v.get("population", 0.0)}
                         for v in doc["network"]["nodes"]],
               "edges": [{"id": e["id"], "from": e["from"], "to": e["to"],
                          "length": e.get("length", 1.0)} for e in doc["network"]["edges"]]}
    rng = np.random.default_rng(24)
    # Network lengths are integers: half-integer radii keep every pair off the boundary.
    densities = (("m4.5", 4.5), ("m7.5", 7.5), ("m9.5", 9.5), ("l7.5", 7.5), ("l11.5", 11.5))
    return _problems(rng, "siouxfalls", "siouxfalls", distance, demand, densities,
                     len(nodes), site_at_demand=np.arange(len(nodes)), network=network)


def cases_of(plan: str) -> list[Case]:
    spec = PLANS[plan]
    out: list[Case] = []
    makers: dict[str, Callable[[int, int, int], list[Case]]] = {
        "planar": planar_cases, "grid": grid_cases}
    for n, m in spec["sizes"]:
        for seed in spec["seeds"]:
            for family in spec["families"]:
                out += makers[family](n, m, seed)
    if spec["siouxfalls"]:
        out += siouxfalls_cases()
    return out


# ---------------------------------------------------------------------- engine encoding


def engine_document(case: Case) -> dict[str, Any]:
    """The case as an engine instance file (design section 3)."""
    n, m = case.distance.shape
    demand_ids = [f"c{i}" for i in range(n)]
    if case.network is not None:  # Sioux Falls: its own roads; demand and sites at nodes
        node_ids = [v["id"] for v in case.network["nodes"]]
        nodes = [dict(v, population=float(case.demand[i]))
                 for i, v in enumerate(case.network["nodes"])]
        edges = case.network["edges"]
        demand_ids = node_ids
        site_nodes = [node_ids[int(k)] for k in case.site_at_demand]
    else:
        nodes = [{"id": demand_ids[i], "x": float(case.demand_xy[i, 0]),
                  "y": float(case.demand_xy[i, 1]), "population": float(case.demand[i])}
                 for i in range(n)]
        if case.site_at_demand is not None:
            site_nodes = [demand_ids[int(k)] for k in case.site_at_demand]
        else:
            site_nodes = [f"s{j}" for j in range(m)]
            nodes += [{"id": site_nodes[j], "x": float(case.site_xy[j, 0]),
                       "y": float(case.site_xy[j, 1]), "population": 0.0} for j in range(m)]
        # A road from each demand point to each site within S, as long as their distance:
        # the shortest path is then the distance itself (the triangle inequality).
        ii, jj = np.nonzero(case.cover)
        edges = [{"id": f"e{i}_{j}", "from": demand_ids[i], "to": site_nodes[j],
                  "length": float(case.distance[i, j])}
                 for i, j in zip(ii.tolist(), jj.tolist(), strict=True)
                 if demand_ids[i] != site_nodes[j]]
    total = float(case.demand.sum())
    lscp = case.problem.startswith("lscp")
    budget = float(case.cost.sum()) if lscp else case.limit
    return {
        "schema_version": 1,
        "name": case.name,
        "description": f"{case.problem} covering instance ({case.family}), "
                       "benchmarks/covering.py",
        "network": {"nodes": nodes, "edges": edges},
        "depots": [],
        "shelters": [{"id": f"h{j}", "node": site_nodes[j], "fixed_cost": float(case.cost[j]),
                      "capacity": total} for j in range(m)],
        "compensation": {"max_pool": 0},
        "budget": budget,
        "policy": {"evacuation_reach": case.radius},
        "resilience": {"weights": {"supply": 0, "shelter": 1, "economic": 0}},
        "objective": ({"kind": "min_cost", "target": 1.0} if lscp
                      else {"kind": "worst_case"}),
        "scenarios": [{"id": "demand", "probability": 1.0,
                       "affected": {demand_ids[i]: 1.0 for i in range(n)
                                    if case.demand[i] > 0}}],
    }


# ------------------------------------------------------------------------------ timing


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def highs_meter() -> Iterator[dict[str, float]]:
    """CPU seconds of every HiGHS run in this process while the block runs.

    Wraps ``optimizer.solvers.base._run_once`` (every MIP stage, run in a helper thread)
    and ``highspy.Highs.run`` (the recourse polish and other LPs); process CPU time counts
    HiGHS's thread. Benchmark-only instrumentation: the engine itself is unchanged.
    """
    import highspy

    from optimizer import highs as highs_common

    meter = {"cpu": 0.0, "runs": 0}
    original_once, original_run = highs_common._run_once, highspy.Highs.run

    def once(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return original_once(*args, **kwargs)
        finally:
            meter["cpu"] += time.process_time() - t0
            meter["runs"] += 1

    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return original_run(self, *args, **kwargs)
        finally:
            meter["cpu"] += time.process_time() - t0
            meter["runs"] += 1

    highs_common._run_once = once
    highspy.Highs.run = run
    try:
        yield meter
    finally:
        highs_common._run_once = original_once
        highspy.Highs.run = original_run


@contextlib.contextmanager
def route_meter() -> Iterator[dict[str, float]]:
    """CPU seconds of the solve route inside ``solve_and_verify`` (``optimizer.pipeline``'s
    call to ``dispatch.run``), apart from the check, recovery and document after it."""
    from optimizer import pipeline

    meter = {"cpu": 0.0}
    original = pipeline.run

    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            meter["cpu"] += time.process_time() - t0

    pipeline.run = run
    try:
        yield meter
    finally:
        pipeline.run = original


# ------------------------------------------------------------------------- the engine


def covered(case: Case, open_sites: np.ndarray) -> float:
    """Demand within S of an open site, by the textbook's cover matrix."""
    return float(case.demand[(case.cover & open_sites[None, :]).any(axis=1)].sum())


def run_engine(case: Case, path: Path, gap: float, method: str) -> dict[str, Any]:
    from optimizer.instance.reading import load_instance
    from optimizer.pipeline import solve_and_verify
    from optimizer.solvers.contract import SolveOptions

    instance = load_instance(path)
    options = SolveOptions(threads=1, mip_gap=gap, method=method)
    with highs_meter() as highs, route_meter() as route:
        t0, w0 = time.process_time(), time.perf_counter()
        solved = solve_and_verify(instance, options)
        total, wall = time.process_time() - t0, time.perf_counter() - w0
    doc = solved.document
    open_sites = np.array([bool(h["open"]) for h in doc["decisions"]["shelters"]])
    stages = [(s.objective, s.status, round(s.seconds, 4)) for s in solved.solution.stages]
    return {
        "status": doc["status"], "verified": solved.verified, "route": doc["solver"]["method"],
        "resilience": doc["resilience"]["worst_case"],
        "covered_model": doc["resilience"]["worst_case"] * float(case.demand.sum()),
        "covered": covered(case, open_sites), "sites": int(open_sites.sum()),
        "cost": float(case.cost[open_sites].sum()),
        "highs_cpu": highs["cpu"], "solve_cpu": route["cpu"], "total_cpu": total,
        "wall": wall, "highs_wall": doc["solver"]["solve_seconds"], "stages": stages,
        "size": solved.solution.size,
    }


# -------------------------------------------------------------------- the textbook MIP


def _spopt() -> Any:
    try:
        import spopt.locate
    except ImportError:
        return None
    return spopt.locate


def _textbook_problem(case: Case, use_spopt: bool) -> tuple[Any, list[Any], str]:
    """The covering MIP in PuLP: (problem, site variables, which code wrote it)."""
    import pulp

    cover = case.cover
    n, m = cover.shape
    spopt = _spopt() if use_spopt else None
    if spopt is not None and case.problem == "mclp_p":
        with warnings_off():
            model = spopt.MCLP.from_cost_matrix(case.distance, case.demand, case.radius,
                                                int(case.limit), name="mclp")
        return model.problem, model.fac_vars, "spopt MCLP"
    if spopt is not None and case.problem == "lscp_unit":
        with warnings_off():
            model = spopt.LSCP.from_cost_matrix(case.distance, case.radius, name="lscp")
        return model.problem, model.fac_vars, "spopt LSCP"
    x = [pulp.LpVariable(f"x_{j}", cat="Binary") for j in range(m)]
    if case.problem.startswith("mclp"):
        prob = pulp.LpProblem("mclp", pulp.LpMaximize)
        y = [pulp.LpVariable(f"y_{i}", cat="Binary") for i in range(n)]
        prob += pulp.lpSum(float(case.demand[i]) * y[i] for i in range(n))
        for i in range(n):
            prob += pulp.lpSum(x[j] for j in np.flatnonzero(cover[i])) >= y[i]
        if case.problem == "mclp_p":
            prob += pulp.lpSum(x) == int(case.limit)
        else:
            prob += pulp.lpSum(float(case.cost[j]) * x[j] for j in range(m)) <= case.limit
        return prob, x, "PuLP"
    prob = pulp.LpProblem("lscp", pulp.LpMinimize)
    prob += pulp.lpSum(float(case.cost[j]) * x[j] for j in range(m))
    for i in range(n):
        prob += pulp.lpSum(x[j] for j in np.flatnonzero(cover[i])) >= 1
    return prob, x, "PuLP"


@contextlib.contextmanager
def warnings_off() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _cbc(gap: float) -> Any:
    import pulp

    return pulp.PULP_CBC_CMD(msg=False, gapRel=gap, threads=1)


def run_textbook(case: Case, gap: float, tiebreak: bool, use_spopt: bool = True
                 ) -> dict[str, Any]:
    import pulp

    t0, c0, w0 = time.process_time(), _children_cpu(), time.perf_counter()
    prob, x, writer = _textbook_problem(case, use_spopt)
    c1 = _children_cpu()
    prob.solve(_cbc(gap))
    cbc = _children_cpu() - c1
    total = (time.process_time() - t0) + (_children_cpu() - c0)
    wall = time.perf_counter() - w0
    status = pulp.LpStatus[prob.status]
    open_sites = np.array([(v.value() or 0.0) > 0.5 for v in x])
    out: dict[str, Any] = {
        "status": status, "writer": writer, "objective": float(pulp.value(prob.objective)),
        "covered": covered(case, open_sites), "sites": int(open_sites.sum()),
        "cost": float(case.cost[open_sites].sum()), "cbc_cpu": cbc, "total_cpu": total,
        "wall": wall,
    }
    if tiebreak and case.problem.startswith("mclp"):
        # The plan the engine returns: the cheapest among those covering the optimum.
        best = out["covered"]
        cover = case.cover
        n, m = cover.shape
        t0, c0 = time.process_time(), _children_cpu()
        second = pulp.LpProblem("mclp_cost", pulp.LpMinimize)
        xs = [pulp.LpVariable(f"x_{j}", cat="Binary") for j in range(m)]
        ys = [pulp.LpVariable(f"y_{i}", cat="Binary") for i in range(n)]
        second += pulp.lpSum(float(case.cost[j]) * xs[j] for j in range(m))
        for i in range(n):
            second += pulp.lpSum(xs[j] for j in np.flatnonzero(cover[i])) >= ys[i]
        second += pulp.lpSum(float(case.demand[i]) * ys[i] for i in range(n)) >= best - 0.5
        if case.problem == "mclp_p":
            second += pulp.lpSum(xs) <= int(case.limit)
        else:
            second += pulp.lpSum(float(case.cost[j]) * xs[j] for j in range(m)) <= case.limit
        c1 = _children_cpu()
        second.solve(_cbc(gap))
        sites2 = np.array([(v.value() or 0.0) > 0.5 for v in xs])
        out.update({"tiebreak_cbc_cpu": _children_cpu() - c1,
                    "tiebreak_total_cpu": (time.process_time() - t0) + (_children_cpu() - c0),
                    "tiebreak_cost": float(case.cost[sites2].sum()),
                    "tiebreak_covered": covered(case, sites2)})
    return out


# --------------------------------------------------------------------------- compare


def optimum(case: Case, r: dict[str, Any]) -> float:
    """The value the textbook optimises, for either side's plan."""
    return r["cost"] if case.problem.startswith("lscp") else r["covered"]


def same(case: Case, a: float, b: float) -> bool:
    scale = case.cost.sum() if case.problem.startswith("lscp") else case.demand.sum()
    return bool(abs(a - b) <= SAME_TOL * max(1.0, scale))


def reach_mismatches(case: Case, path: Path) -> int:
    """Pairs the engine's reachability classifies unlike the textbook's cover matrix (a
    check of the encoding; 0 expected)."""
    from optimizer.evaluation.reachability import intact_shelter_reach
    from optimizer.instance.reading import load_instance

    instance = load_instance(path)
    reach = intact_shelter_reach(instance)  # (nodes, shelters)
    node_index = {v: i for i, v in enumerate(instance.network.node_ids)}
    doc = json.loads(path.read_text(encoding="utf-8"))
    demand_ids = [v["id"] for v in doc["network"]["nodes"]][: case.distance.shape[0]]
    if case.network is not None:
        demand_ids = [v["id"] for v in doc["network"]["nodes"]]
    rows = reach[[node_index[d] for d in demand_ids]]
    return int((rows != case.cover).sum())


def measure(case: Case, folder: Path, args: argparse.Namespace, order: int
            ) -> dict[str, Any]:
    path = folder / f"{case.name}.json"
    path.write_text(json.dumps(engine_document(case)) + "\n", encoding="utf-8")
    engine_runs: list[dict[str, Any]] = []
    textbook_runs: list[dict[str, Any]] = []
    for r in range(args.repeats):
        first_engine = (r + order) % 2 == 0
        for side in ((0, 1) if first_engine else (1, 0)):
            if side == 0:
                engine_runs.append(run_engine(case, path, args.gap, args.method))
            else:
                textbook_runs.append(run_textbook(case, args.gap, args.tiebreak))
    e, t = engine_runs[-1], textbook_runs[-1]

    def med(runs: list[dict[str, Any]], key: str) -> float | None:
        values = [run[key] for run in runs if run.get(key) is not None]
        return statistics.median(values) if values else None

    record = {
        "case": case.name, "family": case.family, "problem": case.problem,
        "size": case.size, "radius": case.radius, "limit": case.limit,
        "dropped": case.meta.get("dropped", 0),
        "reach_mismatches": reach_mismatches(case, path),
        "engine": {k: v for k, v in e.items() if not k.endswith(("_cpu", "wall"))},
        "textbook": {k: v for k, v in t.items() if not k.endswith(("_cpu", "wall"))},
        "engine_optimum": optimum(case, e), "textbook_optimum": optimum(case, t),
        "same_optimum": same(case, optimum(case, e), optimum(case, t)),
        "model_matches_plan": same(case, e["covered_model"], e["covered"])
        if case.problem.startswith("mclp") else e["covered"] == case.demand.sum(),
        "same_plan_cost": bool(e["cost"] == t.get("tiebreak_cost", t["cost"])),
    }
    for key in ("highs_cpu", "solve_cpu", "total_cpu", "wall", "highs_wall"):
        record[f"engine_{key}"] = med(engine_runs, key)
    for key in ("cbc_cpu", "total_cpu", "wall", "tiebreak_cbc_cpu", "tiebreak_total_cpu"):
        record[f"textbook_{key}"] = med(textbook_runs, key)
    return record


# ----------------------------------------------------------------------------- report


def sgm(values: list[float], shift: float = SGM_SHIFT) -> float:
    return math.exp(sum(math.log(v + shift) for v in values) / len(values)) - shift


def table(records: list[dict[str, Any]]) -> str:
    """Per size: cases, same optimum, engine HiGHS / solve / total, CBC / PuLP total."""
    lines = [
        "| size (points x sites) | cases | same optimum | same plan cost | engine HiGHS s | "
        "CBC s | ratio | engine <= CBC | CBC both stages s | ratio | engine solve s | "
        "engine total s | PuLP total s | ratio (totals) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def row(label: str, rs: list[dict[str, Any]]) -> str:
        eh = [r["engine_highs_cpu"] for r in rs]
        cbc = [r["textbook_cbc_cpu"] for r in rs]
        cbc2 = [r["textbook_cbc_cpu"] + (r["textbook_tiebreak_cbc_cpu"] or 0.0) for r in rs]
        es = [r["engine_solve_cpu"] for r in rs]
        et = [r["engine_total_cpu"] for r in rs]
        pt = [r["textbook_total_cpu"] for r in rs]
        return (f"| {label} | {len(rs)} | {sum(r['same_optimum'] for r in rs)} | "
                f"{sum(r['same_plan_cost'] for r in rs)} | "
                f"{sgm(eh):.4f} | {sgm(cbc):.4f} | {sgm(eh) / sgm(cbc):.2f} | "
                f"{sum(a <= b for a, b in zip(eh, cbc, strict=True))} | {sgm(cbc2):.4f} | "
                f"{sgm(eh) / sgm(cbc2):.2f} | {sgm(es):.4f} | "
                f"{sgm(et):.4f} | {sgm(pt):.4f} | {sgm(et) / sgm(pt):.2f} |")

    for label, rs in groups(records):
        lines.append(row(label, rs))
    return "\n".join(lines)


def groups(records: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Rows of the tables: per size, all, per problem."""
    sizes: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        sizes.setdefault(r["size"] if r["family"] != "siouxfalls" else "Sioux Falls 24 x 24",
                         []).append(r)
    out = [*sizes.items(), ("**all**", records)]
    problems: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        problems.setdefault(r["problem"], []).append(r)
    return out + [(f"all {label}", rs) for label, rs in problems.items()]


def before_after(after: list[dict[str, Any]], before: list[dict[str, Any]]) -> str:
    """The engine's HiGHS CPU before and after, against CBC (each run's own CBC)."""
    old = {r["case"]: r for r in before}
    lines = ["| size (points x sites) | cases | same optimum before | routes before | "
             "engine HiGHS s before | CBC s | ratio before | engine HiGHS s after | CBC s | "
             "ratio after |", "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for label, rs in groups([r for r in after if r["case"] in old]):
        bs = [old[r["case"]] for r in rs]
        routes: dict[str, int] = {}
        for b in bs:
            routes[b["engine"]["route"]] = routes.get(b["engine"]["route"], 0) + 1
        eb, cb = sgm([b["engine_highs_cpu"] for b in bs]), sgm(
            [b["textbook_cbc_cpu"] for b in bs])
        ea, ca = sgm([r["engine_highs_cpu"] for r in rs]), sgm(
            [r["textbook_cbc_cpu"] for r in rs])
        lines.append(f"| {label} | {len(rs)} | {sum(b['same_optimum'] for b in bs)} | "
                     + ", ".join(f"{k} {v}" for k, v in sorted(routes.items()))
                     + f" | {eb:.4f} | {cb:.4f} | {eb / cb:.2f} | {ea:.4f} | {ca:.4f} | "
                     f"{ea / ca:.2f} |")
    return "\n".join(lines)


def stage_table(records: list[dict[str, Any]]) -> str:
    """Which engine stages ran, how often, and their HiGHS wall seconds in total."""
    seen: dict[tuple[str, str], list[float]] = {}
    for r in records:
        for name, _status, seconds in r["engine"]["stages"]:
            seen.setdefault((r["problem"].split("_")[0], name), []).append(seconds)
    lines = ["| problem | stage | runs | seconds (sum of HiGHS wall) |", "|---|---|---:|---:|"]
    for (problem, name), secs in sorted(seen.items()):
        lines.append(f"| {problem} | {name} | {len(secs)} | {sum(secs):.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=sorted(PLANS), default="quick")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gap", type=float, default=1e-4,
                        help="relative MIP gap, the same for HiGHS and CBC (engine default)")
    parser.add_argument("--method", default="auto", help="the engine's --method")
    parser.add_argument("--no-tiebreak", dest="tiebreak", action="store_false",
                        help="skip the textbook's second (cost) solve")
    parser.add_argument("--only", default=None, help="cases whose name contains this")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the engine instance files here (default: a temp dir)")
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--table", type=Path, default=None,
                        help="print the tables of a saved run (-o) instead of running")
    parser.add_argument("--before", type=Path, default=None,
                        help="with --table: a run of the engine before a change")
    parser.add_argument("--engine-root", type=Path, default=None,
                        help="solve with the engine of this checkout (say, main before a "
                             "change); the benchmark itself stays this one")
    args = parser.parse_args()
    if args.table is not None:
        records = json.loads(args.table.read_text(encoding="utf-8"))["records"]
        print(table(records))
        print()
        print(stage_table(records))
        if args.before is not None:
            print()
            print(before_after(records, json.loads(
                args.before.read_text(encoding="utf-8"))["records"]))
        return
    import optimizer

    print(f"engine: {next(iter(optimizer.__path__))}", file=sys.stderr)

    cases = [c for c in cases_of(args.plan) if args.only is None or args.only in c.name]
    # Warm up (imports, HiGHS and CBC start-up) so the first case is not charged for them.
    with tempfile.TemporaryDirectory() as tmp:
        warm = cases[0]
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        warm_args = argparse.Namespace(**{**vars(args), "repeats": 1})
        measure(warm, Path(tmp), warm_args, 0)
        records = []
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        load = os.getloadavg()
        for order, case in enumerate(cases):
            record = measure(case, folder, args, order)
            records.append(record)
            print(json.dumps({k: record[k] for k in (
                "case", "same_optimum", "engine_optimum", "textbook_optimum",
                "engine_highs_cpu", "textbook_cbc_cpu", "engine_total_cpu",
                "textbook_total_cpu")}, default=_json), file=sys.stderr, flush=True)
            if args.output is not None:
                _write(args, records, started, load)
    if args.output is not None:
        _write(args, records, started, load)
    print(table(records))
    print()
    print(stage_table(records))


def _write(args: argparse.Namespace, records: list[dict[str, Any]], started: str,
           load: tuple[float, float, float]) -> None:
    import highspy
    import pulp

    args.output.write_text(json.dumps({
        "command": " ".join(["python", "benchmarks/covering.py", *sys.argv[1:]]),
        "date": started, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "load_average_at_start": load, "load_average_at_end": os.getloadavg(),
        "highs": highspy.Highs().version(), "pulp": pulp.__version__,
        "spopt": _spopt_version(), "gap": args.gap, "method": args.method,
        "engine_root": str(args.engine_root or ROOT),
        "repeats": args.repeats, "records": records}, indent=1, default=_json) + "\n",
        encoding="utf-8")


def _spopt_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("spopt")
    except Exception:
        return None


def _json(value: Any) -> Any:
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(type(value))


if __name__ == "__main__":
    main()
