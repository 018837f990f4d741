"""solve -> verify -> result document: the job ``resilience solve`` does, without the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.data import Instance
from optimizer.evaluate import Verification, verify
from optimizer.result import result_document
from optimizer.solve import Solution, SolveOptions, solve

# Largest difference allowed between the model's R_s and the max-flow evaluation.
VERIFICATION_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class Solved:
    solution: Solution
    verification: Verification
    document: dict[str, Any]

    @property
    def verified(self) -> bool:
        return (self.verification.max_difference <= VERIFICATION_TOL
                and not self.verification.violations)

    def failure(self) -> str:
        """Why the independent check rejects this solve, in words."""
        v = self.verification
        reasons = []
        if v.max_difference > VERIFICATION_TOL:
            reasons.append(f"the model's scenario resilience differs from the independent "
                           f"max-flow evaluation by {v.max_difference:.3g} "
                           f"(allowed {VERIFICATION_TOL:g})")
        reasons += [f"the plan breaks a rule: {p}" for p in v.violations]
        return "; ".join(reasons)


def solve_and_verify(instance: Instance, options: SolveOptions | None = None) -> Solved:
    """Solve, re-check every scenario by max flow, and build the result document.

    A check that fails does not raise here: the caller writes the document (status
    ``error``) as evidence and then reports the failure.
    """
    solution = solve(instance, options)
    assert solution.plan is not None and solution.outcomes is not None
    claimed = np.array([o.resilience for o in solution.outcomes])
    verification, _ = verify(instance, solution.plan, claimed)
    document = result_document(instance, solution, verification)
    solved = Solved(solution, verification, document)
    if not solved.verified:
        document["status"] = "error"
        document["message"] = "independent check failed: " + solved.failure()
    return solved
