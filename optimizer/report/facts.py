"""What a report says about one result, computed once and rendered by every format.

Numbers come from the result document; the instance, when the report has it, adds what the
document does not hold: where things are, existing assets, the weights of the three terms,
the plan of doing nothing (evaluated by max flow, as ``resilience evaluate`` does) and the
reach-based measures of the social and institutional dimensions.

Where to look next: :func:`build_facts` is the entry; :mod:`optimizer.report.rows` and
:mod:`optimizer.report.words` turn facts into tables and sentences, and the renderers
(``html``, ``markdown``, ``sheets``, ``geo``, ``svgmap``, ``plots``) only render them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.objectives import known_spec
from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.evaluation.outcome import ResilienceSummary
from optimizer.evaluation.reachability import pairs, surviving_graph
from optimizer.instance.data import Instance
from optimizer.plan import Plan
from optimizer.results.document import Result, ScenarioRecovery, ScenarioResult

WORST_SHOWN = 5  # scenarios in the table of the worst ones
WORST_DETAILED = 3  # scenarios whose unmet need is listed zone by zone
NO_INSTANCE = "needs the instance file (give --instance INSTANCE)"


@dataclass(frozen=True)
class Metric:
    label: str
    value: float | None  # None: cannot be measured from what the report has
    kind: str  # "share" (0..1), "money", "count" or "number"


@dataclass(frozen=True)
class Dimension:
    """One of the four dimensions of design section 1, and how the report measures it."""

    name: str
    measured: str
    metrics: tuple[Metric, ...]


@dataclass(frozen=True)
class Term:
    """One of the three terms of R_s (design section 2), before weighting."""

    name: str
    weight: float | None
    worst_case: float  # lowest over the scenarios
    expected: float  # probability-weighted mean
    in_worst: float  # in the worst scenario


@dataclass(frozen=True)
class Baseline:
    """Doing nothing (existing assets only), evaluated on the same scenarios."""

    resilience: dict[str, float]  # scenario id -> R_s
    worst_case: float
    expected: float
    cvar: float


@dataclass(frozen=True)
class Facility:
    kind: str  # "depot" or "shelter"
    id: str
    open: bool
    existing: bool | None
    node: str | None
    bought: dict[str, float]  # depots: units the plan buys, per commodity
    on_hand: dict[str, float] | None  # depots: bought plus existing stock, when open
    capacity: float  # shelters: places under the plan
    modules: int
    loss_in_worst: float | None  # share of stock or places lost in the worst scenario

    @property
    def new(self) -> bool:
        return self.open and self.existing is False


@dataclass(frozen=True)
class ZoneShortfall:
    zone: str
    population: float | None
    need: dict[str, float]  # commodity -> units not delivered
    unsheltered: float  # people without a shelter place


@dataclass(frozen=True)
class Shortfall:
    scenario: ScenarioResult
    zones: tuple[ZoneShortfall, ...]  # largest first


HIDDEN_STAGES = frozenset({"recourse"})  # internal polish: no measure of the plan to show


@dataclass(frozen=True)
class Stage:
    """One stage of the lexicographic solve, in the order the solver ran them."""

    name: str  # as the result file names it: "objective", "leximin_2", "tiebreak_cost", ...
    value: float | None
    unit: str  # "share" (resilience or a share of the ceiling), "money" or "number"
    status: str
    seconds: float | None


@dataclass(frozen=True)
class Decided:
    """What decided the plan: the solver's stages, the ceilings and the pinned scenarios.

    Everything is empty (``pinned`` None) for a result file written before they were
    recorded.
    """

    kind: str  # the objective's kind
    sentence: str  # the result's own sentence; "" when it has none
    ceilings: dict[str, float | None]  # scenario id -> ceiling; empty when not recorded
    pinned: tuple[str, ...] | None  # None: the file does not say
    stages: tuple[Stage, ...]  # without the hidden ones

    @property
    def recorded(self) -> bool:
        return bool(self.sentence or self.ceilings or self.pinned or self.stages)

    def ceiling(self, scenario: str) -> float | None:
        return self.ceilings.get(scenario)

    def is_pinned(self, scenario: str) -> bool:
        return scenario in (self.pinned or ())

    @property
    def lowest_ceiling(self) -> tuple[str, float] | None:
        """The scenario with the lowest ceiling (the first in the file on a tie) and it."""
        known = {k: v for k, v in self.ceilings.items() if v is not None}
        if not known:
            return None
        sid = min(known, key=known.__getitem__)
        return sid, known[sid]


def stage_unit(name: str, kind: str) -> str:
    spec = known_spec(kind)
    if name == "tiebreak_cost" or (name == "objective" and spec is not None and spec.money):
        return "money"
    if name in ("objective", "tiebreak_expected") or name.startswith("leximin_"):
        return "share"
    return "number"


def what_decided(result: Result) -> Decided:
    """What decided ``result``'s plan, as far as the file records it."""
    res, kind = result.resilience, result.objective.kind
    stages = () if result.solver is None else tuple(
        Stage(s.objective, s.value, stage_unit(s.objective, kind), s.status, s.seconds)
        for s in result.solver.stages if s.objective not in HIDDEN_STAGES)
    pinned = None if res.pinned is None else tuple(dict.fromkeys(res.pinned))
    return Decided(kind, res.decided_by.strip(), dict(res.ceilings or {}), pinned, stages)


@dataclass(frozen=True, eq=False)
class Facts:
    result: Result
    source: str
    instance: Instance | None
    commodities: tuple[str, ...]
    facilities: tuple[Facility, ...]
    ranked: tuple[ScenarioResult, ...]  # worst first
    baseline: Baseline | None
    terms: tuple[Term, ...]
    dimensions: tuple[Dimension, ...]
    shortfalls: tuple[Shortfall, ...]
    failed_roads: tuple[str, ...] | None  # road ids cut in the worst scenario
    recovery: tuple[ScenarioRecovery, ...]
    notes: tuple[str, ...]
    decided: Decided

    @property
    def worst(self) -> ScenarioResult:
        return self.ranked[0]

    @property
    def currency(self) -> str | None:
        """What money is counted in: the instance's ``currency``, else the result's."""
        if self.instance is not None and self.instance.currency is not None:
            return self.instance.currency
        return self.result.instance.currency

    @property
    def gain_per_1000(self) -> float | None:
        """Worst-case resilience gained over doing nothing per 1,000 spent."""
        return gain_per_1000(self.result.resilience.worst_case,
                             None if self.baseline is None else self.baseline.worst_case,
                             self.result.cost.total)


def gain_per_1000(value: float, baseline: float | None, cost: float) -> float | None:
    if baseline is None or cost <= 0:
        return None
    return (value - baseline) / (cost / 1000.0)


def do_nothing(instance: Instance, alpha: float) -> Baseline:
    """Existing assets only, evaluated by max flow (``Plan.nothing``, ``evaluate_plan``)."""
    outcomes = evaluate_plan(instance, Plan.nothing(instance))
    values = np.array([o.resilience for o in outcomes])
    summary = ResilienceSummary.of(values, instance.probabilities, alpha)
    return Baseline({s.id: float(v) for s, v in zip(instance.scenarios, values, strict=True)},
                    summary.worst_case, summary.expected, summary.cvar)


def _terms(result: Result, instance: Instance | None) -> tuple[Term, ...]:
    worst = result.ranked()[0]
    p = np.array([s.probability for s in result.scenarios])
    p = p / p.sum() if p.sum() > 0 else np.full(len(p), 1.0 / len(p))
    out = []
    for name in ("supply", "shelter", "economic"):
        values = np.array([getattr(s, name) for s in result.scenarios])
        weight = None if instance is None else float(getattr(instance.weights, name))
        out.append(Term(name, weight, float(values.min()), float(p @ values),
                        float(getattr(worst, name))))
    return tuple(out)


def _population_share(instance: Instance, covered: np.ndarray) -> float | None:
    population = instance.network.population
    total = float(population.sum())
    return float(population[covered].sum()) / total if total > 0 else None


def _coverage(instance: Instance, open_depots: np.ndarray, open_shelters: np.ndarray,
              failed_edges: tuple[int, ...]) -> tuple[float | None, float | None]:
    """Population shares within reach of >= 2 open depots and >= r open shelters."""
    reach = pairs(instance, surviving_graph(instance.network, failed_edges))
    n = instance.network.num_nodes
    keep = open_depots[reach.supply_depot]
    depots = np.bincount(reach.supply_zone[keep], minlength=n)
    keep = open_shelters[reach.shelter_index]
    shelters = np.bincount(reach.shelter_zone[keep], minlength=n)
    r = max(1, instance.policy.shelter_redundancy)
    return (_population_share(instance, depots >= 2),
            _population_share(instance, shelters >= r))


def _dimensions(result: Result, instance: Instance | None, terms: tuple[Term, ...],
                failed: tuple[int, ...] | None) -> tuple[Dimension, ...]:
    """The four dimensions of design section 1, each with how the report measures it."""
    by_name = {t.name: t for t in terms}
    infrastructure = _infrastructure(result, by_name)
    economic = _economic(result, instance, by_name)
    social_metrics, institutional_metrics = _reach_metrics(result, instance, failed)
    social = Dimension(
        "social",
        "Neighbouring communities helping each other: any open depot may serve any zone it "
        "can reach, so a zone within supply reach of two or more open depots can still be "
        "helped from next door when one of them is cut off or loses its stock.",
        social_metrics)
    institutional = Dimension(
        "institutional",
        "Policies: shelter redundancy asks every populated zone to have at least r open "
        "shelters within evacuation reach on the intact roads; measured as the share of "
        "population that has them, before the event and on the roads that survive the worst "
        "scenario.",
        institutional_metrics)
    return infrastructure, economic, social, institutional


def _infrastructure(result: Result, by_name: dict[str, Term]) -> Dimension:
    """Supplies, shelters and roads: the supply and shelter terms, what is kept open."""
    dec = result.decisions
    return Dimension(
        "infrastructure",
        "Supplies, shelters and roads: the share of weighted need delivered (supply term) and "
        "of evacuees sheltered (shelter term) on the roads that survive each scenario, and "
        "what the plan keeps open.",
        (Metric("supply delivered, lowest over the scenarios", by_name["supply"].worst_case,
                "share"),
         Metric("supply delivered, expected", by_name["supply"].expected, "share"),
         Metric("evacuees sheltered, lowest over the scenarios", by_name["shelter"].worst_case,
                "share"),
         Metric("evacuees sheltered, expected", by_name["shelter"].expected, "share"),
         Metric("open depots", sum(d.open for d in dec.depots), "count"),
         Metric("open shelters", sum(h.open for h in dec.shelters), "count"),
         Metric("shelter places", sum(h.capacity for h in dec.shelters), "number")))


def _economic(result: Result, instance: Instance | None, by_name: dict[str, Term]) -> Dimension:
    """Compensation for losses: the economic term, the pool and what bounds it."""
    largest_loss = None if instance is None else max(
        float(s.economic_loss.sum()) for s in instance.scenarios)
    return Dimension(
        "economic",
        "Compensation for losses: the share of each scenario's economic loss the reserved "
        "pool covers (economic term).",
        (Metric("loss compensated, lowest over the scenarios", by_name["economic"].worst_case,
                "share"),
         Metric("loss compensated, expected", by_name["economic"].expected, "share"),
         Metric("compensation pool", result.decisions.compensation_pool, "money"),
         Metric("largest pool allowed", None if instance is None else instance.max_pool,
                "money"),
         Metric("largest economic loss of a scenario", largest_loss, "money")))


def _reach_metrics(result: Result, instance: Instance | None, failed: tuple[int, ...] | None
                   ) -> tuple[tuple[Metric, ...], tuple[Metric, ...]]:
    """The social and institutional measures: population within reach of 2+ open depots
    and of enough open shelters, on the intact roads and on those the worst scenario
    leaves (unmeasured without the instance)."""
    if instance is None:
        return ((Metric("population within supply reach of 2+ open depots", None, "share"),),
                (Metric("population with enough open shelters within reach", None, "share"),))
    dec = result.decisions
    depots_open = _open_flags(dec.depots, instance.depots)
    shelters_open = _open_flags(dec.shelters, instance.shelters)
    intact = _coverage(instance, depots_open, shelters_open, ())
    worst = (None, None) if failed is None else _coverage(
        instance, depots_open, shelters_open, failed)
    r = instance.policy.shelter_redundancy
    r_text = f"{max(r, 1)}+ open shelter{'s' if max(r, 1) > 1 else ''}"
    social = (
        Metric("population within supply reach of 2+ open depots, intact roads",
               intact[0], "share"),
        Metric("the same on the roads that survive the worst scenario", worst[0], "share"),
        Metric("supply reach (road length)", instance.policy.supply_reach, "number"))
    institutional = (
        Metric("shelter redundancy the policy asks for", r, "count"),
        Metric(f"population with {r_text} within evacuation reach, intact roads",
               intact[1], "share"),
        Metric("the same on the roads that survive the worst scenario", worst[1], "share"),
        Metric("evacuation reach (road length)", instance.policy.evacuation_reach,
               "number"))
    return social, institutional


def _open_flags(decided: list, candidates: tuple) -> np.ndarray:
    """Open or not, in the instance's order (existing ones stay open when not listed)."""
    is_open = {d.id: d.open for d in decided}
    return np.array([is_open.get(c.id, c.existing) for c in candidates], dtype=bool)


def _facilities(result: Result, instance: Instance | None,
                worst_index: int | None) -> tuple[Facility, ...]:
    out = []
    depots = {} if instance is None else {d.id: (j, d) for j, d in enumerate(instance.depots)}
    shelters = {} if instance is None else {h.id: (j, h) for j, h in
                                            enumerate(instance.shelters)}
    worst = None if instance is None or worst_index is None else instance.scenarios[worst_index]
    for d in result.decisions.depots:
        found = depots.get(d.id)
        if found is None or instance is None:
            out.append(Facility("depot", d.id, d.open, None, None, dict(d.stock), None, 0.0, 0,
                                None))
            continue
        j, depot = found
        on_hand = {c.id: (d.stock.get(c.id, 0.0) + depot.existing_stock[k]) if d.open else 0.0
                   for k, c in enumerate(instance.commodities)}
        out.append(Facility("depot", d.id, d.open, depot.existing,
                            instance.network.node_ids[depot.node], dict(d.stock), on_hand, 0.0,
                            0, None if worst is None else float(worst.depot_loss[j])))
    for h in result.decisions.shelters:
        found = shelters.get(h.id)
        if found is None or instance is None:
            out.append(Facility("shelter", h.id, h.open, None, None, {}, None, h.capacity,
                                h.modules, None))
            continue
        j, shelter = found
        out.append(Facility("shelter", h.id, h.open, shelter.existing,
                            instance.network.node_ids[shelter.node], {}, None, h.capacity,
                            h.modules, None if worst is None else float(worst.shelter_loss[j])))
    return tuple(out)


def _shortfalls(ranked: list[ScenarioResult], instance: Instance | None) -> tuple[Shortfall, ...]:
    population = {} if instance is None else dict(zip(instance.network.node_ids,
                                                       instance.network.population.tolist(),
                                                       strict=True))
    out = []
    for s in ranked[:WORST_DETAILED]:
        zones = sorted(set(s.unmet.need) | set(s.unmet.evacuees))
        rows = [ZoneShortfall(z, population.get(z), dict(s.unmet.need.get(z, {})),
                              float(s.unmet.evacuees.get(z, 0.0))) for z in zones]
        rows.sort(key=lambda r: (-(sum(r.need.values()) + r.unsheltered), r.zone))
        out.append(Shortfall(s, tuple(rows)))
    return tuple(out)


def build_facts(result: Result, instance: Instance | None = None, *,
                source: str = "<result>", notes: tuple[str, ...] = ()) -> Facts:
    """Everything the report formats show about ``result``."""
    ranked = result.ranked()
    notes_out = list(notes)
    worst_index = failed = failed_roads = None
    baseline = None
    if instance is not None:
        index = {s.id: i for i, s in enumerate(instance.scenarios)}
        worst_index = index.get(ranked[0].id)
        if worst_index is not None:
            failed = instance.scenarios[worst_index].failed_edges
            failed_roads = tuple(instance.network.edge_ids[e] for e in failed)
        if set(index) == {s.id for s in result.scenarios}:
            baseline = do_nothing(instance, result.resilience.cvar.alpha)
        else:
            notes_out.append("the instance's scenarios are not the result's: the plan is not "
                             "compared with doing nothing")
    terms = _terms(result, instance)
    commodities = (tuple(c.id for c in instance.commodities) if instance is not None
                   else result.commodities)
    return Facts(
        result=result, source=source, instance=instance, commodities=commodities,
        facilities=_facilities(result, instance, worst_index), ranked=tuple(ranked),
        baseline=baseline, terms=terms,
        dimensions=_dimensions(result, instance, terms, failed),
        shortfalls=_shortfalls(ranked, instance), failed_roads=failed_roads,
        recovery=tuple(result.recovery or ()), notes=tuple(notes_out),
        decided=what_decided(result))
