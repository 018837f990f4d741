"""A first-stage plan and what it costs: the answer the engine gives a planner."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.instance.data import Instance


@dataclass(frozen=True, eq=False)
class Plan:
    """Decisions taken before the event (design section 2, first stage)."""

    open_depots: tuple[bool, ...]
    stock: np.ndarray  # (D, K) units bought, existing stock not included
    open_shelters: tuple[bool, ...]
    modules: tuple[int, ...]
    compensation_pool: float  # money

    def shelter_capacity(self, instance: Instance) -> np.ndarray:
        """B_h z_h + M_h m_h for every shelter (0 when closed)."""
        return np.array([
            (h.capacity + h.module_size * m) if z else 0.0
            for h, z, m in zip(instance.shelters, self.open_shelters, self.modules, strict=True)
        ])

    def total_stock(self, instance: Instance) -> np.ndarray:
        """(D, K) units on hand before the event: bought plus existing, at open depots."""
        existing = np.array([d.existing_stock for d in instance.depots], dtype=float)
        existing = existing.reshape(len(instance.depots), len(instance.commodities))
        is_open = np.array(self.open_depots, dtype=bool)[:, None]
        return np.where(is_open, self.stock + existing, 0.0)

    @staticmethod
    def nothing(instance: Instance) -> Plan:
        """Existing assets only: the plan of doing nothing."""
        return Plan(
            open_depots=tuple(d.existing for d in instance.depots),
            stock=np.zeros((len(instance.depots), len(instance.commodities))),
            open_shelters=tuple(h.existing for h in instance.shelters),
            modules=tuple(0 for _ in instance.shelters),
            compensation_pool=0.0,
        )


@dataclass(frozen=True)
class CostLines:
    depots: float
    stock: float
    shelters: float
    modules: float
    compensation_pool: float
    budget: float

    @property
    def total(self) -> float:
        return self.depots + self.stock + self.shelters + self.modules + self.compensation_pool


def plan_cost(instance: Instance, plan: Plan) -> CostLines:
    """Cost of a plan, line by line; existing facilities cost nothing to keep open."""
    unit_cost = np.array([d.unit_cost for d in instance.depots], dtype=float)
    unit_cost = unit_cost.reshape(plan.stock.shape)
    return CostLines(
        depots=sum(d.fixed_cost for d, y in zip(instance.depots, plan.open_depots, strict=True)
                   if y and not d.existing),
        stock=float((unit_cost * plan.stock).sum()),
        shelters=sum(h.fixed_cost for h, z in zip(instance.shelters, plan.open_shelters,
                                                  strict=True) if z and not h.existing),
        modules=sum(h.module_cost * m for h, m in zip(instance.shelters, plan.modules,
                                                      strict=True)),
        compensation_pool=plan.compensation_pool,
        budget=instance.budget,
    )
