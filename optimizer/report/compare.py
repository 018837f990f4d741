"""Plans side by side: what each costs, what it changes, and what resilience it buys.

Results are comparable when they were solved from the same instance file (same sha256) on
the same scenarios; budgets may differ (``solve --budget B`` keeps the sha256). Anything
else is refused unless forced, because a resilience of 0.8 on one network says nothing
about 0.8 on another. The first result is the reference every difference is taken from.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from optimizer.errors import UsageError
from optimizer.instance.data import Instance
from optimizer.report import fmt
from optimizer.report.facts import Baseline, Decided, do_nothing, gain_per_1000, what_decided
from optimizer.results.document import FrontierSection, Result

# Costs closer than this (half a cent) are the same: the solver's cost tie-break leaves
# totals such as 329,057.9999999999, and a rate per 1,000 over that difference means nothing.
SAME_COST = 0.005


@dataclass(frozen=True)
class Option:
    """One result in the comparison."""

    label: str
    source: str
    result: Result
    baseline: Baseline | None  # doing nothing on this option's instance

    @property
    def scenario(self) -> dict[str, float]:
        return {s.id: s.resilience for s in self.result.scenarios}

    @property
    def decided(self) -> Decided:
        """What decided this option's plan (its stages, ceilings and pinned scenarios)."""
        return what_decided(self.result)

    @property
    def gain_worst_per_1000(self) -> float | None:
        return gain_per_1000(self.result.resilience.worst_case,
                             None if self.baseline is None else self.baseline.worst_case,
                             self.result.cost.total)

    @property
    def gain_expected_per_1000(self) -> float | None:
        return gain_per_1000(self.result.resilience.expected,
                             None if self.baseline is None else self.baseline.expected,
                             self.result.cost.total)


@dataclass(frozen=True)
class FacilityState:
    open: bool
    stock: dict[str, float]  # depots: units bought
    capacity: float  # shelters: places
    modules: int

    def describe(self, kind: str) -> str:
        if not self.open:
            return "closed"
        if kind == "shelter":
            return f"open: {fmt.units(self.capacity)} places, {self.modules} modules"
        bought = [f"{fmt.units(v)} {k}" for k, v in self.stock.items() if v]
        return "open: buys " + ", ".join(bought) if bought else "open, buys nothing"


@dataclass(frozen=True)
class FacilityRow:
    kind: str  # "depot" or "shelter"
    id: str
    states: tuple[FacilityState | None, ...]  # per option; None when a result lacks it

    @property
    def changed(self) -> bool:
        return any(s != self.states[0] for s in self.states[1:])


@dataclass(frozen=True, eq=False)
class Comparison:
    options: tuple[Option, ...]
    scenario_ids: tuple[str, ...]  # the first option's order, then any others
    probabilities: dict[str, float]
    facilities: tuple[FacilityRow, ...]
    commodities: tuple[str, ...]
    forced: tuple[str, ...]  # incompatibilities overridden by --force
    instance: Instance | None = None  # the first option's, for the map of what differs

    @property
    def baseline(self) -> dict[str, float] | None:
        """Doing nothing per scenario, when every option shares one instance."""
        summary = self.baseline_summary
        return None if summary is None else summary.resilience

    @property
    def baseline_summary(self) -> Baseline | None:
        baselines = [o.baseline for o in self.options]
        first = baselines[0]
        if first is None or any(b is not first for b in baselines[1:]):
            return None
        return first

    @property
    def frontier(self) -> FrontierSection | None:
        """The budget frontier, when every option came from the same ``sweep``."""
        first = self.options[0].result.frontier
        if first is None or any(o.result.frontier != first for o in self.options[1:]):
            return None
        return first

    @property
    def currency(self) -> str | None:
        """What money is counted in, when the first option's result says."""
        return self.options[0].result.instance.currency

    def marginal(self) -> dict[str, float | None]:
        """Worst-case gain per 1,000 over the next cheaper option (by total cost)."""
        order = sorted(self.options, key=lambda o: (o.result.cost.total, o.label))
        out: dict[str, float | None] = {order[0].label: None}
        for cheaper, dearer in itertools.pairwise(order):
            extra = dearer.result.cost.total - cheaper.result.cost.total
            out[dearer.label] = (None if extra <= SAME_COST else
                                 (dearer.result.resilience.worst_case
                                  - cheaper.result.resilience.worst_case) / (extra / 1000.0))
        return out

    def summary(self) -> list[str]:
        """What changes from the first option to each other one, in sentences."""
        ref = self.options[0]
        lines = []
        for k, other in enumerate(self.options[1:], start=1):
            a, b = ref.result, other.result
            extra = b.cost.total - a.cost.total
            text = (f"{other.label} against {ref.label}: costs {fmt.money(abs(extra))} "
                    f"{'more' if extra >= 0 else 'less'} ({fmt.money(b.cost.total)} against "
                    f"{fmt.money(a.cost.total)}; budgets {fmt.money(b.cost.budget)} and "
                    f"{fmt.money(a.cost.budget)}). Worst case {fmt.share(a.resilience.worst_case)}"
                    f" → {fmt.share(b.resilience.worst_case)} "
                    f"({fmt.signed(b.resilience.worst_case - a.resilience.worst_case)}), "
                    f"expected {fmt.share(a.resilience.expected)} → "
                    f"{fmt.share(b.resilience.expected)}, CVaR({b.resilience.cvar.alpha:g}) "
                    f"{fmt.share(a.resilience.cvar.value)} → {fmt.share(b.resilience.cvar.value)}.")
            ours, theirs = ref.scenario, other.scenario
            common = [s for s in self.scenario_ids if s in ours and s in theirs]
            better = sum(theirs[s] > ours[s] + 1e-9 for s in common)
            worse = sum(theirs[s] < ours[s] - 1e-9 for s in common)
            text += (f" {better} of {len(common)} scenarios improve, {worse} get worse.")
            if extra > SAME_COST:
                gain = (b.resilience.worst_case - a.resilience.worst_case) / (extra / 1000.0)
                text += f" Each extra 1,000 buys {fmt.per_1000(gain)} of worst-case resilience."
            moves = self.moves(k)
            text += (" Changes: " + "; ".join(moves) + ".") if moves else " Same facilities."
            lines.append(text)
        return lines

    def moves(self, k: int) -> list[str]:
        """What option ``k`` does differently from the first, facility by facility."""
        out = []
        for row in self.facilities:
            a, b = row.states[0], row.states[k]
            if a == b or a is None or b is None:
                continue
            name = f"{row.kind} {row.id}"
            if a.open != b.open:
                out.append(f"{'opens' if b.open else 'closes'} {name}"
                           + (f" ({b.describe(row.kind).removeprefix('open: ')})"
                              if b.open else ""))
                continue
            if row.kind == "depot":
                deltas = [f"{b.stock.get(c, 0.0) - a.stock.get(c, 0.0):+,.0f} {c}"
                          for c in self.commodities
                          if abs(b.stock.get(c, 0.0) - a.stock.get(c, 0.0)) > 1e-9]
                out.append(f"{name} buys " + ", ".join(deltas))
            else:
                out.append(f"{name} {b.modules - a.modules:+d} modules "
                           f"({b.capacity - a.capacity:+,.0f} places)")
        pool = (self.options[k].result.decisions.compensation_pool
                - self.options[0].result.decisions.compensation_pool)
        if abs(pool) > 0.005:
            out.append(f"compensation pool {pool:+,.2f}")
        return out


def labels_for(sources: Sequence[str], given: Sequence[str] | None = None) -> list[str]:
    """Short names for the options: the file names without ``.result.json``, made unique."""
    if given:
        if len(given) != len(sources):
            raise UsageError(f"--labels gives {len(given)} names for {len(sources)} results")
        if len(set(given)) != len(given):
            raise UsageError("--labels must be different from each other")
        return list(given)
    stems = []
    for source in sources:
        name = Path(source).name
        for suffix in (".result.json", ".json"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        stems.append(name or source)
    out = []
    for n, stem in enumerate(stems):
        out.append(stem if stems.count(stem) == 1 else f"{stem} #{n + 1}")
    return out


def incompatibilities(results: Sequence[tuple[str, Result]]) -> list[str]:
    """Why these results cannot be compared: different instances or scenario sets."""
    problems = []
    first_source, first = results[0]
    ids = [s.id for s in first.scenarios]
    for source, result in results[1:]:
        if first.instance.sha256 != result.instance.sha256:
            problems.append(f"{source} was solved from another instance file than "
                            f"{first_source} (sha256 {result.instance.sha256[:12]}... against "
                            f"{first.instance.sha256[:12]}...)")
        theirs = [s.id for s in result.scenarios]
        if set(theirs) != set(ids):
            only_first = [s for s in ids if s not in set(theirs)]
            only_theirs = [s for s in theirs if s not in set(ids)]
            problems.append(f"{source} has other scenarios than {first_source} (only in "
                            f"{first_source}: {', '.join(only_first[:5]) or 'none'}; only in "
                            f"{source}: {', '.join(only_theirs[:5]) or 'none'})")
    return problems


def compare(entries: Sequence[tuple[str, Result, Instance | None]], *, force: bool = False,
            labels: Sequence[str] | None = None) -> Comparison:
    """Build the comparison of ``entries`` (source, result, its instance or None).

    Raises :class:`UsageError` when fewer than two results are given, or when they come from
    different instances or scenario sets and ``force`` is not set.
    """
    if len(entries) < 2:
        raise UsageError("compare needs at least two result files")
    problems = incompatibilities([(source, result) for source, result, _ in entries])
    if problems and not force:
        raise UsageError("these results are not comparable: " + "; ".join(problems)
                         + ". Compare plans of one instance (budgets may differ), or pass "
                         "--force to compare anyway")
    names = labels_for([source for source, _, _ in entries], labels)
    # Doing nothing does not depend on the budget: one evaluation per instance file.
    baselines: dict[tuple[str, float], Baseline] = {}
    options = []
    for name, (source, result, instance) in zip(names, entries, strict=True):
        baseline = None
        if instance is not None and {s.id for s in instance.scenarios} == {
                s.id for s in result.scenarios}:
            key = (instance.sha256 or str(id(instance)), result.resilience.cvar.alpha)
            if key not in baselines:
                baselines[key] = do_nothing(instance, result.resilience.cvar.alpha)
            baseline = baselines[key]
        options.append(Option(name, source, result, baseline))

    scenario_ids: dict[str, None] = {}
    probabilities: dict[str, float] = {}
    for option in options:
        for s in option.result.scenarios:
            scenario_ids.setdefault(s.id)
            probabilities.setdefault(s.id, s.probability)
    commodities: dict[str, None] = {}
    for option in options:
        commodities.update(dict.fromkeys(option.result.commodities))

    rows: dict[tuple[str, str], list[FacilityState | None]] = {}
    for k, option in enumerate(options):
        dec = option.result.decisions
        for d in dec.depots:
            rows.setdefault(("depot", d.id), [None] * len(options))[k] = FacilityState(
                d.open, {c: v for c, v in d.stock.items()}, 0.0, 0)
        for h in dec.shelters:
            rows.setdefault(("shelter", h.id), [None] * len(options))[k] = FacilityState(
                h.open, {}, h.capacity, h.modules)
    facilities = tuple(FacilityRow(kind, fid, tuple(states))
                       for (kind, fid), states in rows.items())
    return Comparison(tuple(options), tuple(scenario_ids), probabilities, facilities,
                      tuple(commodities), tuple(problems), instance=entries[0][2])
