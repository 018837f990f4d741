"""Each objective kind, described once: its rows and terms, its value in the user's units,
its tie-breaks and its words.

An :class:`ObjectiveSpec` says which :class:`Measure` the objective optimises (how a plan
scores on it, and whether that is money), which tie-break objectives follow it, what it
adds to the model (for both builders: :func:`models.resilience.add_objectives` on the Pyomo
side, :mod:`models.direct` on the array side, held equal bit for bit by
tests/test_direct.py), and how reports, the summary and exported files name it. Everything
else reads :data:`SPECS`: the stage order (``optimizer.stages``), the routes' final values
and statuses, the reports.

A new objective is a new :class:`ObjectiveSpec` row here (and a new :class:`Measure` if it
optimises something new), its name (and its number's, if it takes one) in
``optimizer.choices``, and the check of that number in ``optimizer.instance.schema``. The
decomposition solves only the kinds marked ``decomposition``; ``--method auto`` keeps the
others on the extensive form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from models.arrays import INF, Rows, Terms, Variables, terms_of
from optimizer.choices import PARAMETER_OF, ObjectiveKind

if TYPE_CHECKING:
    import pyomo.environ as pyo

    from models.resilience import ModelData
    from optimizer.instance.data import Instance, Objective

# A scenario whose ceiling is at most this reaches nothing whatever the plan: the relative
# objective leaves it out (its share of the ceiling is undefined).
RELATIVE_MIN_CEILING = 1e-9


# ------------------------------------------------------------------------------ measures


def relative_value(resilience: np.ndarray, ceilings: np.ndarray | None) -> float:
    """min_s R_s / ceil_s over the scenarios that can reach anything (1 if none can)."""
    assert ceilings is not None
    ok = ceilings > RELATIVE_MIN_CEILING
    if not ok.any():
        return 1.0
    return float(min(1.0, (np.asarray(resilience)[ok] / ceilings[ok]).min()))


def _worst(instance: Instance, r: np.ndarray, cost: float,
           ceilings: np.ndarray | None) -> float:
    return float(r.min()) if len(r) else 1.0


def _relative(instance: Instance, r: np.ndarray, cost: float,
              ceilings: np.ndarray | None) -> float:
    if ceilings is None:
        from optimizer.evaluation.recourse import ceilings as ceiling_values

        ceilings = ceiling_values(instance)
    return relative_value(r, ceilings)


def _summary(instance: Instance, r: np.ndarray) -> Any:
    from optimizer.evaluation.outcome import ResilienceSummary

    return ResilienceSummary.of(r, instance.probabilities, instance.objective.alpha)


@dataclass(frozen=True)
class Measure:
    """What a stage optimises: how a plan scores on it, in the user's units."""

    name: str
    money: bool  # scored in money and minimised (else a resilience, maximised)
    # (instance, each scenario's R_s, the plan's total cost, the ceilings or None) -> score
    score: Callable[[Instance, np.ndarray, float, np.ndarray | None], float]
    words: Callable[[Objective], str]  # the stage in a planner's words

    @property
    def maximise(self) -> bool:
        return not self.money


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("worst", False, _worst, lambda o: "worst-case resilience"),
    Measure("relative", False, _relative,
            lambda o: "smallest share of its ceiling any scenario reaches"),
    Measure("expected", False, lambda i, r, c, ceil: float(_summary(i, r).expected),
            lambda o: "expected resilience"),
    Measure("cvar", False, lambda i, r, c, ceil: float(_summary(i, r).cvar),
            lambda o: f"CVaR({o.alpha:g}) of resilience"),
    Measure("cost", True, lambda i, r, cost, ceil: float(cost), lambda o: "total cost"),
)}


# ------------------------------------------------------------------------ Pyomo builders


def add_worst_case(m: pyo.ConcreteModel, md: ModelData) -> Any:
    r"""t \le r_s for every s: t is the worst-case resilience."""
    import pyomo.environ as pyo
    m.worst = pyo.Var(bounds=(0.0, 1.0))
    m.worst_case = pyo.Constraint(m.S, rule=lambda _m, s: m.worst <= m.r[s])
    return m.worst


def add_relative(m: pyo.ConcreteModel, md: ModelData) -> Any:
    r"""ceil_s t \le r_s for every s with ceil_s > 0: t is the smallest share of its
    ceiling that a scenario reaches (a scenario that can reach nothing is left out)."""
    import pyomo.environ as pyo
    assert md.ceilings is not None
    ceilings = md.ceilings
    m.worst = pyo.Var(bounds=(0.0, 1.0))
    m.relative = pyo.Constraint(
        m.S, rule=lambda _m, s: float(ceilings[s]) * m.worst <= m.r[s]
        if ceilings[s] > RELATIVE_MIN_CEILING else pyo.Constraint.Skip)
    return m.worst


def add_cvar(m: pyo.ConcreteModel, md: ModelData) -> Any:
    r"""Conditional value at risk of the lower tail (Rockafellar and Uryasev).

    CVaR_alpha(R) = max_eta  eta - \sum_s p_s u_s / (1 - alpha),
    u_s \ge eta - r_s, u_s \ge 0: the mean of the worst (1 - alpha) probability mass of R.
    """
    import pyomo.environ as pyo
    p = md.instance.probabilities
    alpha = md.instance.objective.alpha
    m.eta = pyo.Var(bounds=(0.0, 1.0))
    m.shortfall = pyo.Var(m.S, bounds=(0.0, None))
    m.cvar_shortfall = pyo.Constraint(
        m.S, rule=lambda _m, s: m.shortfall[s] >= m.eta - m.r[s])
    m.cvar = pyo.Expression(expr=m.eta - sum(
        float(p[s]) / (1 - alpha) * m.shortfall[s] for s in m.S if p[s] > 0))
    return m.cvar


def expected_resilience(m: pyo.ConcreteModel, md: ModelData) -> Any:
    r"""\sum_s p_s r_s (no rows)."""
    p = md.instance.probabilities
    return sum(float(p[s]) * m.r[s] for s in m.S if p[s] > 0)


def add_target(m: pyo.ConcreteModel, md: ModelData) -> Any:
    r"""r_s \ge T for every s; the objective is the cost."""
    import pyomo.environ as pyo
    target = float(md.instance.objective.target or 0.0)
    m.target = pyo.Constraint(m.S, rule=lambda _m, s: m.r[s] >= target)
    return m.cost


# ------------------------------------------------------------------------ array builders


def _no_variables(md: ModelData) -> list[Variables]:
    return []


def _no_rows(md: ModelData) -> list[Rows]:
    return []


def _worst_variable(md: ModelData) -> list[Variables]:
    return [Variables("worst", np.zeros(1), np.ones(1), False)]


def _cvar_variables(md: ModelData) -> list[Variables]:
    S = md.num_scenarios
    return [Variables("eta", np.zeros(1), np.ones(1), False),
            Variables("shortfall", np.zeros(S), np.full(S, INF), False)]


def _worst_rows(md: ModelData) -> list[Rows]:
    """``t - r_s <= 0``."""
    S = md.num_scenarios
    every = np.arange(S)
    return [Rows("worst_case", every, np.full(S, -INF), np.zeros(S), (
        terms_of("worst", np.zeros(S, np.int64), 1.0, every),
        terms_of("r", every, -1.0, every, pos=1)))]


def _relative_rows(md: ModelData) -> list[Rows]:
    """``ceil_s t - r_s <= 0`` for the scenarios with a ceiling."""
    assert md.ceilings is not None
    kept = np.flatnonzero(md.ceilings > RELATIVE_MIN_CEILING)
    n = len(kept)
    rows = np.arange(n)
    return [Rows("relative", kept, np.full(n, -INF), np.zeros(n), (
        terms_of("worst", np.zeros(n, np.int64), md.ceilings[kept], rows),
        terms_of("r", kept, -1.0, rows, pos=1)))]


def _cvar_rows(md: ModelData) -> list[Rows]:
    """``eta - r_s - u_s <= 0``."""
    S = md.num_scenarios
    every = np.arange(S)
    return [Rows("cvar_shortfall", every, np.full(S, -INF), np.zeros(S), (
        terms_of("eta", np.zeros(S, np.int64), 1.0, every),
        terms_of("r", every, -1.0, every, pos=1),
        terms_of("shortfall", every, -1.0, every, pos=2)))]


def _target_rows(md: ModelData) -> list[Rows]:
    """``r_s >= T``."""
    S = md.num_scenarios
    every = np.arange(S)
    target = float(md.instance.objective.target or 0.0)
    return [Rows("target", every, np.full(S, target), np.full(S, INF),
                 (terms_of("r", every, 1.0, every),))]


def expected_terms(md: ModelData) -> tuple[Terms, ...]:
    """-sum_s p_s r_s (minimisation form)."""
    p = md.instance.probabilities
    weighted = np.flatnonzero(p > 0)
    return (terms_of("r", weighted, -p[weighted]),)


def cost_terms(md: ModelData) -> tuple[Terms, ...]:
    return (terms_of("cost", [0], 1.0),)


def _worst_terms(md: ModelData) -> tuple[Terms, ...]:
    return (terms_of("worst", [0], -1.0),)


def _cvar_terms(md: ModelData) -> tuple[Terms, ...]:
    p = md.instance.probabilities
    weighted = np.flatnonzero(p > 0)
    tail = p[weighted] / (1 - md.instance.objective.alpha)
    return (terms_of("eta", [0], -1.0), terms_of("shortfall", weighted, tail, pos=1))


# --------------------------------------------------------------------------- the specs


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective kind: what it optimises, what it adds to the model, how it is named."""

    kind: ObjectiveKind
    measure: str  # the primary stage's measure (MEASURES)
    # The tie-break objectives compiled with it, in the order they are solved
    # (optimizer.stages decides which run, and adds the leximin levels between).
    tiebreaks: tuple[str, ...]
    # Pyomo: adds its variables and rows to the model, returns the objective's expression.
    pyomo: Callable[[Any, ModelData], Any]
    # Arrays (models.direct): the same variables, rows and objective terms (minimisation).
    variables: Callable[[ModelData], list[Variables]]
    rows: Callable[[ModelData], list[Rows]]
    terms: Callable[[ModelData], tuple[Terms, ...]]
    words: str  # how reports name the kind
    stage_words: Callable[[float, float | None], str]  # the objective stage, (alpha, target)
    # What the optimum means in an exported file, given the money scale M (a cost is a
    # share of M there).
    meaning: Callable[[Objective, float], str]
    scalars: tuple[str, ...] = ()  # its variables that Pyomo names without an index
    leximin: bool = False  # worst-case levels over the scenarios not pinned follow it
    nothing_feasible: bool = True  # doing nothing is a plan (no row asks anything of R_s)
    decomposition: bool = True  # the decomposition route solves it

    @property
    def money(self) -> bool:
        return MEASURES[self.measure].money

    @property
    def parameter(self) -> str | None:
        """Its number in the file ("alpha", "target"), named in optimizer.choices."""
        return PARAMETER_OF.get(self.kind)


BOTH_TIEBREAKS = ("tiebreak_expected", "tiebreak_cost")
TIEBREAK_MEASURES = {"tiebreak_expected": "expected", "tiebreak_cost": "cost"}
# A tie-break as a planner reads it among equally good plans.
TIEBREAK_WORDS = {"tiebreak_expected": "higher expected resilience",
                  "tiebreak_cost": "lower cost"}

SPECS: dict[ObjectiveKind, ObjectiveSpec] = {s.kind: s for s in (
    ObjectiveSpec(
        ObjectiveKind.WORST_CASE, "worst", BOTH_TIEBREAKS, add_worst_case,
        _worst_variable, _worst_rows, _worst_terms, words="worst case",
        stage_words=lambda alpha, target: "worst case",
        meaning=lambda o, m: "the worst-case resilience min_s R_s",
        scalars=("worst",), leximin=True),
    ObjectiveSpec(
        ObjectiveKind.EXPECTED, "expected", ("tiebreak_cost",), expected_resilience,
        _no_variables, _no_rows, expected_terms, words="expected",
        stage_words=lambda alpha, target: "expected resilience",
        meaning=lambda o, m: "the expected resilience sum_s p_s R_s"),
    ObjectiveSpec(
        ObjectiveKind.CVAR, "cvar", BOTH_TIEBREAKS, add_cvar,
        _cvar_variables, _cvar_rows, _cvar_terms, words="cvar",
        stage_words=lambda alpha, target: f"CVaR({alpha:g}) of resilience",
        meaning=lambda o, m: (f"the CVaR of resilience at alpha = {o.alpha:g} (mean of the "
                           f"worst {1 - o.alpha:g} probability mass)"),
        scalars=("eta",)),
    ObjectiveSpec(
        ObjectiveKind.MIN_COST, "cost", ("tiebreak_expected",), add_target,
        _no_variables, _target_rows, cost_terms, words="min cost",
        stage_words=lambda alpha, target: "total cost" + (
            "" if target is None else f" (worst case at least {target:g})"),
        meaning=lambda o, m: (
            f"total first-stage cost as a share of M = {m:,.6g} (the money scale: the "
            f"budget), with every scenario's resilience at least {o.target:g}; the engine's "
            "objective.value in money is this optimum times M"),
        nothing_feasible=False),
    ObjectiveSpec(
        ObjectiveKind.RELATIVE, "relative", BOTH_TIEBREAKS, add_relative,
        _worst_variable, _relative_rows, _worst_terms,
        words="share of ceiling (relative)",
        stage_words=lambda alpha, target: "share of ceiling (relative)",
        meaning=lambda o, m: ("the smallest share of its ceiling any scenario reaches, "
                           "min_s R_s / ceil_s (scenarios with ceil_s > 0)"),
        scalars=("worst",)),
)}


def spec_of(kind: ObjectiveKind | str) -> ObjectiveSpec:
    """The spec of an objective kind (its name as the file writes it, or the enum)."""
    return SPECS[ObjectiveKind(kind)]


def known_spec(name: str) -> ObjectiveSpec | None:
    """The spec of the kind a result file names, or None for a kind this version does not
    know (a file from another version: reports then show its name as it is)."""
    return SPECS[ObjectiveKind(name)] if name in KINDS else None


KINDS = frozenset(kind.value for kind in ObjectiveKind)
