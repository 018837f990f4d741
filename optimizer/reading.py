"""Reading instance files: bytes -> JSON -> checked file model -> :class:`Instance`.

This is the only module that reads instance files from disk. Every problem it reports names
the file, the place in it (a JSON path such as ``depots[1].node``, or a line and column for
a syntax error) and what is wrong.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from optimizer import data
from optimizer.checks import edge_id, normalisation_warnings, run_checks
from optimizer.errors import InputError, Problem
from optimizer.schema import InstanceFile

MAX_FILE_BYTES = 200 * 1024 * 1024


def json_path(loc: tuple[Any, ...]) -> str:
    """``('depots', 1, 'node')`` -> ``depots[1].node``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every field name (by alias) of the file format, for 'did you mean' hints."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for sub in _nested_models(info.annotation):
            names |= _field_names(sub, seen)
    return names


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _nested_models(arg)
    return found


FIELD_NAMES = _field_names(InstanceFile)


def _problem_from_pydantic(error: Any) -> Problem:
    path = json_path(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        near = difflib.get_close_matches(name, sorted(FIELD_NAMES), n=1, cutoff=0.75)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return Problem(path, f"unknown field {name!r}{hint}")
    if kind == "missing":
        return Problem(path, "required field is missing")
    message = error["msg"]
    if kind in {"finite_number"}:
        message = "must be a finite number (not NaN or infinity)"
    return Problem(path, f"{message} (got {error.get('input')!r})"
                   if kind not in {"model_type", "dict_type", "list_type"} else message)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(path: Path, raw: bytes) -> Any:
    """Decode and parse, naming the byte, line and column of the first error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, [Problem("", f"not UTF-8 text: byte {exc.start} is "
                                            f"0x{raw[exc.start]:02x}")]) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(path, [Problem("", f"invalid JSON at line {exc.lineno}, column "
                                            f"{exc.colno}: {exc.msg}")]) from None
    except ValueError as exc:  # NaN / Infinity literals
        raise InputError(path, [Problem("", f"invalid JSON: {exc}")]) from None
    except RecursionError:
        raise InputError(path, [Problem("", "invalid JSON: nested too deeply")]) from None


def read_instance_file(path: str | Path) -> tuple[InstanceFile, bytes]:
    """Parse and check a file; raise :class:`InputError` listing every problem."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(path, [Problem("", f"file is {size} bytes, over the limit of "
                                                f"{MAX_FILE_BYTES}")])
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, [Problem("", f"cannot read: {exc.strerror}")]) from None
    document = parse_json(path, raw)
    if not isinstance(document, dict):
        raise InputError(path, [Problem("", "the top level must be a JSON object")])
    try:
        parsed = InstanceFile.model_validate(document)
    except ValidationError as exc:
        raise InputError(path, [_problem_from_pydantic(e) for e in exc.errors()]) from None
    problems = run_checks(parsed)
    if problems:
        raise InputError(path, problems)
    return parsed, raw


def load_instance(path: str | Path) -> data.Instance:
    """Read, check and expand an instance file into the engine's data."""
    path = Path(path)
    parsed, raw = read_instance_file(path)
    return build_instance(parsed, source=str(path),
                          sha256=hashlib.sha256(raw).hexdigest(),
                          default_name=path.stem)


def build_instance(f: InstanceFile, *, source: str = "<memory>", sha256: str = "",
                   default_name: str = "instance") -> data.Instance:
    """Turn a checked file model into indexed arrays, applying every default."""
    node_index = {n.id: i for i, n in enumerate(f.network.nodes)}
    commodity_index = {c.id: k for k, c in enumerate(f.commodities)}
    depot_index = {d.id: j for j, d in enumerate(f.depots)}
    shelter_index = {h.id: j for j, h in enumerate(f.shelters)}
    edges = f.network.edges
    edge_index = {edge_id(e): j for j, e in enumerate(edges)}

    has_xy = all(n.x is not None and n.y is not None for n in f.network.nodes)
    network = data.Network(
        node_ids=tuple(node_index),
        population=np.array([n.population for n in f.network.nodes], dtype=float),
        exposure=np.array([n.economic_exposure for n in f.network.nodes], dtype=float),
        edge_ids=tuple(edge_index),
        edge_from=np.array([node_index[e.from_] for e in edges], dtype=np.int64),
        edge_to=np.array([node_index[e.to] for e in edges], dtype=np.int64),
        edge_length=np.array([e.length for e in edges], dtype=float),
        x=np.array([n.x for n in f.network.nodes], dtype=float) if has_xy else None,
        y=np.array([n.y for n in f.network.nodes], dtype=float) if has_xy else None,
    )
    commodities = tuple(
        data.Commodity(c.id, c.per_capita_need, c.unit_volume, c.weight) for c in f.commodities
    )
    depots = tuple(
        data.Depot(
            id=d.id, node=node_index[d.node], fixed_cost=d.fixed_cost, capacity=d.capacity,
            unit_cost=tuple(d.unit_cost.get(c.id, 0.0) for c in commodities),
            existing_stock=tuple(d.existing_stock.get(c.id, 0.0) for c in commodities),
            existing=d.existing,
        )
        for d in f.depots
    )
    shelters = tuple(
        data.Shelter(h.id, node_index[h.node], h.fixed_cost, h.capacity, h.module_size,
                     h.module_cost, h.max_modules, h.existing)
        for h in f.shelters
    )
    w = f.resilience.weights
    w_total = w.supply + w.shelter + w.economic
    weights = data.Weights(w.supply / w_total, w.shelter / w_total, w.economic / w_total)

    if all(s.probability is None for s in f.scenarios):
        probabilities = [1.0 / len(f.scenarios)] * len(f.scenarios)
    else:
        total = sum(s.probability or 0.0 for s in f.scenarios)
        probabilities = [(s.probability or 0.0) / total for s in f.scenarios]

    per_capita = np.array([c.per_capita_need for c in commodities])
    scenarios = []
    for s, p in zip(f.scenarios, probabilities, strict=True):
        affected = np.zeros(network.num_nodes)
        for zone, fraction in s.affected.items():
            affected[node_index[zone]] = fraction
        people = affected * network.population
        need = np.outer(people, per_capita)
        for zone, by_commodity in (s.need or {}).items():
            for k, units in by_commodity.items():
                need[node_index[zone], commodity_index[k]] = units
        evacuees = people * s.evacuation_rate
        for zone, value in (s.evacuees or {}).items():
            evacuees[node_index[zone]] = value
        loss = affected * network.exposure * s.economic_loss_rate
        for zone, value in (s.economic_loss or {}).items():
            loss[node_index[zone]] = value
        failed_nodes = {node_index[n] for n in s.failed_nodes}
        failed = {edge_index[e] for e in s.failed_edges}
        failed |= {j for j in range(network.num_edges)
                   if network.edge_from[j] in failed_nodes or network.edge_to[j] in failed_nodes}
        depot_loss = np.zeros(len(depots))
        for d_id, fraction in s.depot_loss.items():
            depot_loss[depot_index[d_id]] = fraction
        shelter_loss = np.zeros(len(shelters))
        for h_id, fraction in s.shelter_loss.items():
            shelter_loss[shelter_index[h_id]] = fraction
        scenarios.append(data.Scenario(
            id=s.id, probability=p, failed_edges=tuple(sorted(failed)),
            depot_loss=depot_loss, shelter_loss=shelter_loss,
            need=need, evacuees=evacuees, economic_loss=loss,
        ))

    def reach(value: float | None) -> float:
        return math.inf if value is None else value

    return data.Instance(
        name=f.name or default_name,
        description=f.description,
        source=source,
        sha256=sha256,
        network=network,
        commodities=commodities,
        depots=depots,
        shelters=shelters,
        max_pool=f.compensation.max_pool,
        budget=f.budget,
        policy=data.Policy(reach(f.policy.supply_reach), reach(f.policy.evacuation_reach),
                           f.policy.shelter_redundancy, f.policy.integer_stock),
        weights=weights,
        objective=data.Objective(f.objective.kind, f.objective.alpha, f.objective.target),
        scenarios=tuple(scenarios),
        warnings=tuple(normalisation_warnings(f)),
    )
