"""Scenarios from another instance file, for judging a plan out of sample.

A plan is optimised for its instance's scenarios; ``resilience evaluate INSTANCE RESULT
--scenarios OTHER`` asks how it fares on OTHER's (another file, or the same generators with
another seed). OTHER must describe the same community: the same node, edge, depot, shelter
and commodity ids (in any order). Its scenarios, already expanded to per-zone arrays when
OTHER was loaded, are re-indexed to INSTANCE's order; everything else (roads, facilities,
reach, weights) stays INSTANCE's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from optimizer.errors import InputError, Problem
from optimizer.instance.data import Instance, Scenario

SHOWN = 5


def _difference(what: str, ours: Sequence[str], theirs: Sequence[str]) -> str:
    missing = [i for i in ours if i not in set(theirs)]
    extra = [i for i in theirs if i not in set(ours)]
    parts = []
    for label, ids in (("missing", missing), ("not in the plan's instance", extra)):
        if ids:
            shown = ", ".join(ids[:SHOWN]) + (", ..." if len(ids) > SHOWN else "")
            parts.append(f"{len(ids)} {label} ({shown})")
    return f"{what} ids differ from the plan's instance: " + "; ".join(parts)


def id_problems(instance: Instance, other: Instance) -> list[Problem]:
    """Where ``other`` is not the same community as ``instance`` (ids compared as sets)."""
    checks = (
        ("network.nodes", "node", instance.network.node_ids, other.network.node_ids),
        ("network.edges", "edge", instance.network.edge_ids, other.network.edge_ids),
        ("depots", "depot", [d.id for d in instance.depots], [d.id for d in other.depots]),
        ("shelters", "shelter", [h.id for h in instance.shelters],
         [h.id for h in other.shelters]),
        ("commodities", "commodity", [c.id for c in instance.commodities],
         [c.id for c in other.commodities]),
    )
    return [Problem(path, _difference(what, ours, theirs))
            for path, what, ours, theirs in checks if set(ours) != set(theirs)]


def data_warnings(instance: Instance, other: Instance) -> list[str]:
    """Same ids, different data: OTHER's scenarios were expanded with OTHER's numbers."""
    out = []
    node = {n: i for i, n in enumerate(other.network.node_ids)}
    edge = {e: j for j, e in enumerate(other.network.edge_ids)}
    order = np.array([node[n] for n in instance.network.node_ids], dtype=np.int64)
    if not (np.array_equal(instance.network.population, other.network.population[order])
            and np.array_equal(instance.network.exposure, other.network.exposure[order])):
        out.append("populations or economic exposures differ: its scenarios' need, evacuees "
                   "and losses follow its own numbers")
    ids = other.network.node_ids
    ends_differ = any(
        {instance.network.node_ids[instance.network.edge_from[j]],
         instance.network.node_ids[instance.network.edge_to[j]]}
        != {ids[other.network.edge_from[edge[e]]], ids[other.network.edge_to[edge[e]]]}
        for j, e in enumerate(instance.network.edge_ids))
    if ends_differ:
        out.append("some edge ids join other nodes: its failed edges are read as the plan's "
                   "instance's roads of the same ids")
    return out


def foreign_scenarios(instance: Instance, other: Instance) -> tuple[Scenario, ...]:
    """``other``'s scenarios indexed like ``instance`` (raises InputError naming what
    differs when the two are not the same community)."""
    problems = id_problems(instance, other)
    if problems:
        raise InputError(other.source, problems)
    node = {n: i for i, n in enumerate(other.network.node_ids)}
    edge = {e: j for j, e in enumerate(other.network.edge_ids)}
    nodes = np.array([node[n] for n in instance.network.node_ids], dtype=np.int64)
    to_ours = {edge[e]: j for j, e in enumerate(instance.network.edge_ids)}
    depot = {d.id: j for j, d in enumerate(other.depots)}
    depots = np.array([depot[d.id] for d in instance.depots], dtype=np.int64)
    shelter = {h.id: j for j, h in enumerate(other.shelters)}
    shelters = np.array([shelter[h.id] for h in instance.shelters], dtype=np.int64)
    commodity = {c.id: k for k, c in enumerate(other.commodities)}
    commodities = np.array([commodity[c.id] for c in instance.commodities], dtype=np.int64)
    return tuple(
        dataclasses.replace(
            s,
            failed_edges=tuple(sorted(to_ours[j] for j in s.failed_edges)),
            depot_loss=s.depot_loss[depots],
            shelter_loss=s.shelter_loss[shelters],
            need=s.need[np.ix_(nodes, commodities)],
            evacuees=s.evacuees[nodes],
            economic_loss=s.economic_loss[nodes],
        )
        for s in other.scenarios
    )


def with_scenarios_of(instance: Instance, other: Instance) -> Instance:
    """``instance`` with ``other``'s scenarios in place of its own."""
    return dataclasses.replace(instance, scenarios=foreign_scenarios(instance, other))
