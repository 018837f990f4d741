"""Validated instance data: what the engine works on after the file boundary.

Everything here is indexed by position (node ``i``, commodity ``k``, depot ``d``, shelter
``h``, scenario ``s``) with the file's ids kept alongside for reporting. Scenario data are
already expanded to per-zone arrays (need, evacuees, economic loss), so nothing downstream
has to know about rates, overrides or defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.instance.schema import ObjectiveKind


@dataclass(frozen=True)
class Crs:
    """The coordinate reference of ``x`` and ``y`` (instance ``network.crs``): an EPSG code,
    or the importers' local equirectangular projection around (lon0, lat0)."""

    epsg: int | None = None
    projection: str | None = None
    lon0: float | None = None
    lat0: float | None = None
    radius: float = 6_371_008.8


@dataclass(frozen=True, eq=False)
class Network:
    node_ids: tuple[str, ...]
    population: np.ndarray  # (N,)
    exposure: np.ndarray  # (N,)
    edge_ids: tuple[str, ...]
    edge_from: np.ndarray  # (E,) node index
    edge_to: np.ndarray  # (E,) node index
    edge_length: np.ndarray  # (E,)
    x: np.ndarray | None = None  # (N,) when every node has coordinates
    y: np.ndarray | None = None
    crs: Crs | None = None  # None: nobody said where x and y lie on the Earth

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        return len(self.edge_ids)


@dataclass(frozen=True)
class Commodity:
    id: str
    per_capita_need: float
    unit_volume: float
    weight: float


@dataclass(frozen=True)
class Depot:
    id: str
    node: int
    fixed_cost: float
    capacity: float
    unit_cost: tuple[float, ...]  # per commodity
    existing_stock: tuple[float, ...]  # per commodity
    existing: bool


@dataclass(frozen=True)
class Shelter:
    id: str
    node: int
    fixed_cost: float
    capacity: float
    module_size: float
    module_cost: float
    max_modules: int
    existing: bool


@dataclass(frozen=True)
class Policy:
    supply_reach: float  # math.inf when unlimited
    evacuation_reach: float
    shelter_redundancy: int
    integer_stock: bool


@dataclass(frozen=True)
class Weights:
    supply: float
    shelter: float
    economic: float


@dataclass(frozen=True)
class Objective:
    kind: ObjectiveKind
    alpha: float
    target: float | None


@dataclass(frozen=True, eq=False)
class RecoveryPolicy:
    """How roads come back after the event (design section 5)."""

    crews: int = 1  # crews working in parallel
    repair_time: tuple[int, ...] = ()  # periods per road, by edge index; () means 1 each
    priority: tuple[int, ...] = ()  # edge indices repaired before all others

    def times(self, num_edges: int) -> np.ndarray:
        """(E,) whole periods each road takes."""
        if not self.repair_time:
            return np.ones(num_edges, dtype=np.int64)
        return np.asarray(self.repair_time, dtype=np.int64)

    def first(self, num_edges: int) -> np.ndarray:
        """(E,) mask of the priority roads."""
        mask = np.zeros(num_edges, dtype=bool)
        mask[list(self.priority)] = True
        return mask


@dataclass(frozen=True, eq=False)
class Scenario:
    """One disruption, expanded: every array is indexed by node (zone) or facility."""

    id: str
    probability: float
    failed_edges: tuple[int, ...]  # edge indices, including every edge at a failed node
    depot_loss: np.ndarray  # (D,) fraction of stock destroyed
    shelter_loss: np.ndarray  # (H,) fraction of capacity lost
    need: np.ndarray  # (N, K) units of each commodity needed
    evacuees: np.ndarray  # (N,) people who need a shelter place
    economic_loss: np.ndarray  # (N,)

    def weighted_need(self, commodity_weights: np.ndarray) -> float:
        return float((self.need * commodity_weights).sum())


@dataclass(frozen=True, eq=False)
class Instance:
    name: str
    description: str
    source: str  # the file it was read from
    sha256: str
    network: Network
    commodities: tuple[Commodity, ...]
    depots: tuple[Depot, ...]
    shelters: tuple[Shelter, ...]
    max_pool: float
    budget: float
    policy: Policy
    weights: Weights
    objective: Objective
    scenarios: tuple[Scenario, ...]
    warnings: tuple[str, ...] = field(default=())
    currency: str | None = None  # what money is counted in, for labels only
    recovery: RecoveryPolicy = field(default_factory=RecoveryPolicy)

    @property
    def commodity_weights(self) -> np.ndarray:
        return np.array([c.weight for c in self.commodities], dtype=float)

    @property
    def probabilities(self) -> np.ndarray:
        return np.array([s.probability for s in self.scenarios], dtype=float)
