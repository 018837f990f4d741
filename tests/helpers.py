"""Shared helpers for the optimisation tests: building instances from dicts, overriding the
objective, a seeded random-instance builder, and a solver-free CVaR.

Instances are written as plain dicts in the file format of design section 3 and go through
the same boundary as a file on disk (pydantic model, cross-field checks, ``build_instance``),
so a typo in a test instance fails loudly instead of silently becoming a default.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.instance.checks import run_checks
from optimizer.instance.data import Instance
from optimizer.instance.reading import build_instance
from optimizer.instance.schema import InstanceFile, ObjectiveKind

INSTANCES = Path(__file__).resolve().parent.parent / "instances"


def tiny_doc() -> dict[str, Any]:
    """``instances/tiny.json`` as a fresh dict (callers may change it)."""
    return json.loads((INSTANCES / "tiny.json").read_text(encoding="utf-8"))


def build(doc: dict[str, Any]) -> Instance:
    """Validate a dict as an instance file and build the engine's data from it."""
    parsed = InstanceFile.model_validate(copy.deepcopy(doc))
    problems = run_checks(parsed)
    assert not problems, "test instance is invalid: " + "; ".join(map(str, problems))
    return build_instance(parsed, default_name=str(doc.get("name") or "test"))


def with_objective(instance: Instance, kind: ObjectiveKind | str, *, alpha: float | None = None,
                   target: float | None = None) -> Instance:
    """The same instance with another objective (the command line's override)."""
    objective = dataclasses.replace(
        instance.objective, kind=ObjectiveKind(kind),
        alpha=instance.objective.alpha if alpha is None else alpha,
        target=target)
    return dataclasses.replace(instance, objective=objective)


def with_budget(instance: Instance, budget: float) -> Instance:
    return dataclasses.replace(instance, budget=budget)


def lower_tail_mean(values: np.ndarray, probabilities: np.ndarray, alpha: float) -> float:
    """CVaR of the lower tail through its LP dual, written independently of the engine.

    CVaR_alpha(R) = max over eta of eta - E[(eta - R)^+] / (1 - alpha); the maximum is at
    one of the values, so trying every value as eta is exact.
    """
    values = np.asarray(values, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    return max(
        float(eta - np.dot(probabilities, np.maximum(eta - values, 0.0)) / (1 - alpha))
        for eta in values
    )


# ------------------------------------------------------------------- random instances


def _connected_edges(rng: np.random.Generator, n: int, extra: int,
                     lengths: tuple[int, int]) -> list[dict[str, Any]]:
    """A random spanning tree plus ``extra`` random chords (no self-loops)."""
    edges = []
    seen = set()
    for v in range(1, n):
        u = int(rng.integers(0, v))
        seen.add((u, v))
        edges.append((u, v))
    for _ in range(extra):
        u, v = sorted(int(a) for a in rng.choice(n, size=2, replace=False))
        if (u, v) not in seen:
            seen.add((u, v))
            edges.append((u, v))
    return [{"id": f"e{u}_{v}", "from": f"n{u}", "to": f"n{v}",
             "length": float(rng.integers(lengths[0], lengths[1] + 1))} for u, v in edges]


WEIGHT_CHOICES = ((1 / 3, 1 / 3, 1 / 3), (0.5, 0.3, 0.2), (0.2, 0.5, 0.3), (0.4, 0.2, 0.4),
                  (0.6, 0.4, 0.0), (0.0, 0.5, 0.5))


def random_doc(seed: int, *, nodes: tuple[int, int] = (6, 12), scenarios: tuple[int, int] = (2, 4),
               commodities: tuple[int, int] = (1, 2), integer_stock: bool = True,
               redundancy: int = 0) -> dict[str, Any]:
    """A seeded random instance: connected roads, 2-3 depots, 1-3 shelters, a few scenarios.

    Sizes are chosen so the budget binds (not everything can be bought) and every kind of
    decision matters: depots, stock, shelters, modules and the compensation pool.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(nodes[0], nodes[1] + 1))
    node_ids = [f"n{i}" for i in range(n)]
    populated = rng.random(n) < 0.7
    populated[0] = True
    doc_nodes = [{"id": node_ids[i], "x": float(i), "y": float(rng.integers(0, 5)),
                  "population": float(rng.integers(10, 60)) if populated[i] else 0.0,
                  "economic_exposure": float(rng.integers(0, 200))} for i in range(n)]
    edges = _connected_edges(rng, n, extra=int(rng.integers(0, n // 2 + 1)), lengths=(1, 3))
    k = int(rng.integers(commodities[0], commodities[1] + 1))
    doc_commodities = [{"id": f"c{j}", "per_capita_need": float(rng.choice([0.5, 1.0, 2.0])),
                        "unit_volume": float(rng.choice([1.0, 2.0])),
                        "weight": float(rng.choice([1.0, 2.0]))} for j in range(k)]
    depot_nodes = rng.choice(n, size=int(rng.integers(2, 4)), replace=False)
    depots = [{"id": f"d{j}", "node": node_ids[int(v)], "fixed_cost": float(rng.integers(5, 30)),
               "capacity": float(rng.integers(20, 120)),
               "unit_cost": {c["id"]: float(rng.choice([0.5, 1.0, 1.5])) for c in doc_commodities}}
              for j, v in enumerate(depot_nodes)]
    shelter_nodes = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
    shelters = [{"id": f"h{j}", "node": node_ids[int(v)], "fixed_cost": float(rng.integers(5, 30)),
                 "capacity": float(rng.integers(10, 60)),
                 "module_size": float(rng.integers(5, 20)),
                 "module_cost": float(rng.integers(2, 10)),
                 "max_modules": int(rng.integers(0, 3))}
                for j, v in enumerate(shelter_nodes)]
    weights = WEIGHT_CHOICES[int(rng.integers(len(WEIGHT_CHOICES)))]
    s_count = int(rng.integers(scenarios[0], scenarios[1] + 1))
    probabilities = rng.dirichlet(np.ones(s_count))
    probabilities = np.round(probabilities / probabilities.sum(), 6)
    probabilities[-1] = round(1.0 - probabilities[:-1].sum(), 6)
    doc_scenarios = []
    for s in range(s_count):
        failed = [e["id"] for e in edges if rng.random() < 0.2]
        affected = {node_ids[i]: float(rng.choice([0.25, 0.5, 1.0]))
                    for i in range(n) if populated[i] and rng.random() < 0.6}
        if not affected:
            affected = {node_ids[0]: 1.0}
        doc_scenarios.append({
            "id": f"s{s}", "probability": float(probabilities[s]), "failed_edges": failed,
            "depot_loss": {d["id"]: float(rng.choice([0.25, 0.5]))
                           for d in depots if rng.random() < 0.3},
            "shelter_loss": {h["id"]: float(rng.choice([0.25, 0.5]))
                             for h in shelters if rng.random() < 0.3},
            "affected": affected,
            "evacuation_rate": float(rng.choice([0.3, 0.5, 1.0])),
            "economic_loss_rate": float(rng.choice([0.2, 0.5, 1.0])),
        })
    return {
        "schema_version": 1,
        "name": f"random_{seed}",
        "network": {"nodes": doc_nodes, "edges": edges},
        "commodities": doc_commodities,
        "depots": depots,
        "shelters": shelters,
        "compensation": {"max_pool": float(rng.integers(0, 100))},
        "budget": float(rng.integers(60, 200)),
        "policy": {"supply_reach": float(rng.integers(2, 6)),
                   "evacuation_reach": float(rng.integers(2, 6)),
                   "shelter_redundancy": redundancy, "integer_stock": integer_stock},
        "resilience": {"weights": dict(zip(("supply", "shelter", "economic"), weights,
                                           strict=True))},
        "objective": {"kind": "worst_case"},
        "scenarios": doc_scenarios,
    }
