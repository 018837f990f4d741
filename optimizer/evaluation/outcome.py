"""What a plan achieves in each scenario, and the summaries of it the objectives use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class ScenarioOutcome:
    """Second-stage result of one scenario under a plan (design section 2)."""

    supply: float  # weighted share of need delivered (1 when nothing was needed)
    shelter: float  # share of evacuees sheltered
    economic: float  # share of economic loss compensated
    resilience: float  # R_s
    unmet_need: np.ndarray  # (N, K) units
    unmet_evacuees: np.ndarray  # (N,) people


def cvar(values: np.ndarray, probabilities: np.ndarray, alpha: float) -> float:
    """Mean of the worst (1 - alpha) probability mass of ``values`` (lower tail).

    Computed by sorting, the way a reader would by hand: take scenarios from the worst up
    until their probability adds up to 1 - alpha, the last one only in part.
    """
    values = np.asarray(values, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    mass = 1.0 - alpha
    order = np.argsort(values, kind="stable")
    taken = 0.0
    total = 0.0
    for s in order:
        if taken >= mass:
            break
        share = min(probabilities[s], mass - taken)
        if share <= 0:  # a scenario with no probability carries no mass
            continue
        total += share * values[s]
        taken += share
    return total / mass if taken > 0 else float(values.min())


@dataclass(frozen=True)
class ResilienceSummary:
    worst_case: float
    expected: float
    cvar_alpha: float
    cvar: float

    @staticmethod
    def of(values: np.ndarray, probabilities: np.ndarray, alpha: float) -> ResilienceSummary:
        values = np.asarray(values, dtype=float)
        return ResilienceSummary(
            worst_case=float(values.min()),
            expected=float(np.dot(probabilities, values)),
            cvar_alpha=alpha,
            cvar=cvar(values, probabilities, alpha),
        )
