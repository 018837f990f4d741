"""The objective specs (models/objectives.py): every kind described once, scored by hand.

tests/test_direct.py holds the spec's two model forms (Pyomo and arrays) equal bit for bit
for every kind; here: each spec is complete, each measure scores a plan as worked by hand,
and what the engine reads from a spec (the stage order, the methods that solve it) follows
the spec.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import build, random_doc, with_objective

from models.objectives import MEASURES, SPECS, TIEBREAK_MEASURES, relative_value
from optimizer.choices import PARAMETER_OF, ObjectiveKind
from optimizer.errors import UsageError
from optimizer.instance.data import Instance
from optimizer.solvers import dispatch
from optimizer.solvers.contract import SolveOptions
from optimizer.stages import Sequence


def test_every_kind_has_one_complete_spec() -> None:
    assert set(SPECS) == set(ObjectiveKind)
    for kind, spec in SPECS.items():
        assert spec.kind is kind
        assert spec.measure in MEASURES
        assert set(spec.tiebreaks) <= set(TIEBREAK_MEASURES)
        # The primary is not also its own tie-break.
        assert TIEBREAK_MEASURES.get(f"tiebreak_{spec.measure}") is None or \
            f"tiebreak_{spec.measure}" not in spec.tiebreaks
    assert set(PARAMETER_OF) <= set(ObjectiveKind)


def _instance(kind: ObjectiveKind, **numbers: float) -> Instance:
    """Three scenarios with probabilities 0.2, 0.3, 0.5 (a seeded random instance)."""
    doc = random_doc(7, scenarios=(3, 3))
    for scenario, p in zip(doc["scenarios"], (0.2, 0.3, 0.5), strict=True):
        scenario["probability"] = p
    return with_objective(build(doc), kind, **numbers)


def test_each_measure_scores_a_plan_as_worked_by_hand() -> None:
    instance = _instance(ObjectiveKind.CVAR, alpha=0.5)
    r = np.array([0.2, 0.5, 0.9])
    ceilings = np.array([0.4, 1.0, 0.0])  # the third reaches nothing: left out
    score = {name: m.score(instance, r, 1234.5, ceilings) for name, m in MEASURES.items()}
    assert score["worst"] == pytest.approx(0.2)
    assert score["expected"] == pytest.approx(0.2 * 0.2 + 0.3 * 0.5 + 0.5 * 0.9)
    # The worst half of the probability: all of scenario 1 (0.2) and of scenario 2 (0.3).
    assert score["cvar"] == pytest.approx((0.2 * 0.2 + 0.3 * 0.5) / 0.5)
    assert score["relative"] == pytest.approx(min(0.2 / 0.4, 0.5 / 1.0))
    assert score["cost"] == 1234.5
    assert relative_value(r, np.zeros(3)) == 1.0  # no scenario can reach anything
    # Only cost is money, minimised; every other measure is a resilience, maximised.
    assert [name for name, m in MEASURES.items() if m.money] == ["cost"]
    assert all(m.maximise for m in MEASURES.values() if not m.money)


@pytest.mark.parametrize("kind", list(ObjectiveKind))
def test_the_stage_order_follows_the_spec(kind: ObjectiveKind) -> None:
    numbers = {"target": 0.1} if kind is ObjectiveKind.MIN_COST else {}
    instance = _instance(kind, **numbers)
    sequence = Sequence(instance, np.ones(3), 1e-4)
    first = sequence.first()
    spec = SPECS[kind]
    assert first.measure == spec.measure
    names = []
    goal = sequence.next(first, 0.0)  # a level no scenario's ceiling (1) is pinned at
    while goal is not None:
        names.append(goal.name)
        goal = sequence.next(goal, 0.0)
    assert names == list(spec.tiebreaks)


def test_an_objective_the_decomposition_does_not_solve_stays_on_the_extensive_form(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kind = ObjectiveKind.EXPECTED
    instance = _instance(kind)
    big = SolveOptions(method="auto")
    monkeypatch.setattr(dispatch, "AUTO_DECOMPOSITION_SIZE", -1)  # every instance is large
    assert dispatch.auto_method(instance, big) == "decomposition"
    monkeypatch.setitem(SPECS, kind, dataclasses.replace(SPECS[kind], decomposition=False))
    assert dispatch.auto_method(instance, big) == "extensive"
    with pytest.raises(UsageError, match="does not solve objective expected"):
        dispatch.run(instance, SolveOptions(method="decomposition"))
