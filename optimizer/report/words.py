"""The report's sentences in plain words, shared by the HTML and Markdown formats."""

from __future__ import annotations

from optimizer.report import fmt
from optimizer.report.document import Result
from optimizer.report.facts import Facts


def objective(result: Result) -> str:
    """``worst case``, ``cvar (alpha 0.9)``, ``min cost (target 0.8)``."""
    o = result.objective
    text = o.kind.replace("_", " ")
    if o.kind == "cvar" and o.alpha is not None:
        text += f" (alpha {o.alpha:g})"
    if o.kind == "min_cost" and o.target is not None:
        text += f" (target {o.target:g})"
    return text


def summary(facts: Facts) -> str:
    """What the plan spends and what it buys in the worst scenario, in one paragraph."""
    r = facts.result
    cost, res, worst = r.cost, r.resilience, facts.worst
    spent = f" ({fmt.percent(cost.total / cost.budget)})" if cost.budget > 0 else ""
    text = (f"The plan spends {fmt.money(cost.total)} of the budget {fmt.money(cost.budget)}"
            f"{spent}. In the worst of the {len(r.scenarios)} scenarios ({worst.id}, "
            f"probability {fmt.percent(worst.probability)}) it delivers "
            f"{fmt.percent(worst.supply)} of the weighted need, shelters "
            f"{fmt.percent(worst.shelter)} of the evacuees and compensates "
            f"{fmt.percent(worst.economic)} of the economic loss: resilience "
            f"{fmt.share(worst.resilience)}. Averaged over the scenarios, resilience is "
            f"{fmt.share(res.expected)}.")
    if facts.baseline is not None:
        text += (f" Doing nothing (existing assets only), the worst case would be "
                 f"{fmt.share(facts.baseline.worst_case)} and the average "
                 f"{fmt.share(facts.baseline.expected)}.")
    return text


def against_nothing(facts: Facts) -> str:
    """How the plan compares with doing nothing; needs the baseline."""
    base = facts.baseline
    assert base is not None
    gains = {s.id: s.resilience - base.resilience.get(s.id, s.resilience)
             for s in facts.result.scenarios}
    most = max(gains, key=lambda k: (gains[k], k))
    return ("Doing nothing keeps the existing depots, their stock and the existing shelters, "
            "evaluated by maximum flow on the same scenarios. Each 1,000 the plan spends buys "
            f"{fmt.per_1000(facts.gain_per_1000)} of worst-case resilience on average; the "
            f"plan helps most in {most} ({fmt.signed(gains[most])}).")
