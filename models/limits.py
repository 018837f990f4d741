"""What each facility can usefully hold: the big-M coefficients of the model, as tight as
the data allows, and the unit each stock column is counted in.

Why this matters. An open flag y_d multiplies a capacity in ``stock <= capacity * y_d``. With
a capacity of 1e9 for a need of 100, y_d = 1e-7 already allows the whole stock, and 1e-7 is
an integer to HiGHS (its integrality tolerance is 1e-6): the solver "opens" the depot for a
ten-millionth of its fixed cost, the plan rounds it shut and loses the stock, and the bound
it reports is not a bound of the real problem. The cure is to never let a coefficient
exceed what can be used:

* stock of commodity k at depot d is worth nothing beyond the most any scenario can ship
  from there (its whole need, over what survives of the stock), nor can it exceed what the
  budget buys, nor the depot's room: :func:`stock_upper` is the least of the three;
* a depot's capacity row then uses the volume of that useful stock (:func:`depot_volume`)
  when it is smaller than the capacity: with the open flag at 1 the row is implied by the
  bounds, so no plan is lost;
* a shelter's places, and a module's, count in a scenario's row at most up to the evacuees
  who can reach it (the builders cap each coefficient), and in the decomposition master up
  to :func:`useful_places`. (HiGHS's presolve strengthened the shelter rows itself on every
  case tried, but not the depot rows; the caps keep the answer from depending on it.)

A second, separate trap: HiGHS drops matrix entries below 1e-9. With populations in the
billions and unit costs in millionths, a stock column's coefficients (cost per budget, share
of a scenario's need per unit) fall below that and the stock decouples from the budget. So a
stock column whose useful bound is far from 1 counts in units of a power of ten
(:func:`stock_unit`); above :data:`INTEGER_STOCK_LIMIT` units it is continuous and the plan
rounds it down (a unit is then less than a millionth of the stock, and the relaxation's
bound stays a true bound).
"""

from __future__ import annotations

import numpy as np

from optimizer.instance.data import Instance

# Above this many units of one commodity at one depot, stock is bought as a continuous
# amount and rounded down in the plan (design section 2's integer stock is kept below it).
INTEGER_STOCK_LIMIT = 1e6
# Stock columns whose useful bound lies in this range count in single units (every shipped
# instance does); outside it, in the power of ten nearest the bound.
UNIT_RANGE = (1e-3, 1e6)
# Slack on a bound computed from money, so that floating point never cuts a plan that
# spends the budget exactly.
MONEY_SLACK = 1e-9


def _room(instance: Instance) -> np.ndarray:
    """(D, K) units of each commodity a depot holds when it holds nothing else."""
    capacity = np.array([d.capacity for d in instance.depots], dtype=float)
    volume = np.array([c.unit_volume for c in instance.commodities], dtype=float)
    return capacity[:, None] / volume[None, :]


def _affordable(instance: Instance) -> np.ndarray:
    """(D, K) units the whole budget buys after opening the depot (inf when stock is free)."""
    D, K = len(instance.depots), len(instance.commodities)
    out = np.full((D, K), np.inf)
    for d, depot in enumerate(instance.depots):
        left = instance.budget - (0.0 if depot.existing else depot.fixed_cost)
        for k in range(K):
            if depot.unit_cost[k] > 0:
                out[d, k] = max(left, 0.0) / depot.unit_cost[k] * (1 + MONEY_SLACK)
    return out


def _shippable(instance: Instance) -> np.ndarray:
    """(D, K) the most stock any scenario can use at a depot: its whole need of the
    commodity over what survives of the stock, less what is there already."""
    D, K = len(instance.depots), len(instance.commodities)
    out = np.zeros((D, K))
    for scenario in instance.scenarios:
        keep = 1.0 - np.asarray(scenario.depot_loss, dtype=float)  # (D,)
        need = scenario.need.sum(axis=0)  # (K,)
        usable = keep > 0
        if usable.any():
            out[usable] = np.maximum(out[usable],
                                     need[None, :] / keep[usable, None])
    existing = np.array([d.existing_stock for d in instance.depots], dtype=float).reshape(D, K)
    return np.maximum(out - existing, 0.0)


def stock_upper(instance: Instance) -> np.ndarray:
    """(D, K) the most stock a plan can usefully buy at each depot, in units.

    Integer where the stock is integer (room and money rounded down, need rounded up)."""
    room, money, ship = _room(instance), _affordable(instance), _shippable(instance)
    if instance.policy.integer_stock:
        room = np.floor(room + 1e-9)
        money = np.floor(money)
        ship = np.ceil(ship - 1e-9)
    return np.minimum(np.minimum(room, money), ship)


def stock_unit(upper: np.ndarray) -> np.ndarray:
    """(D, K) how many units one unit of each stock column stands for (see module doc)."""
    unit = np.ones_like(upper, dtype=float)
    low, high = UNIT_RANGE
    odd = (upper > 0) & ((upper < low) | (upper > high))
    unit[odd] = 10.0 ** np.round(np.log10(upper[odd]))
    return unit


def integer_stock(instance: Instance, upper: np.ndarray) -> np.ndarray:
    """(D, K) bool: which stock columns are integer."""
    return np.full(upper.shape, bool(instance.policy.integer_stock)) & (
        upper <= INTEGER_STOCK_LIMIT)


def depot_volume(instance: Instance, upper: np.ndarray) -> np.ndarray:
    """(D,) the capacity each depot's row is written with: its capacity, or the volume of
    what it already holds plus its useful stock when that is less (0: no row needed)."""
    volume = np.array([c.unit_volume for c in instance.commodities], dtype=float)
    out = np.zeros(len(instance.depots))
    for d, depot in enumerate(instance.depots):
        if depot.capacity <= 0:
            continue
        held = float(np.dot(volume, depot.existing_stock))
        out[d] = min(depot.capacity, held + float(np.dot(volume, upper[d])))
    return out


def useful_places(instance: Instance) -> np.ndarray:
    """(H,) the most places any scenario can fill at each shelter: all its evacuees, over
    what survives of the shelter."""
    out = np.zeros(len(instance.shelters))
    for scenario in instance.scenarios:
        keep = 1.0 - np.asarray(scenario.shelter_loss, dtype=float)
        evacuees = float(scenario.evacuees.sum())
        usable = keep > 0
        out[usable] = np.maximum(out[usable], evacuees / keep[usable])
    return out
