"""The report's sentences in plain words, shared by the HTML and Markdown formats."""

from __future__ import annotations

from models.objectives import MEASURES, TIEBREAK_MEASURES, known_spec
from optimizer.report import fmt
from optimizer.report.facts import Decided, Facts
from optimizer.results.document import Result

PINNED_LISTED = 20  # pinned scenarios named in the sentence; the CSV has them all
CEILING = ("the most any plan could reach there, with every candidate facility open and full "
           "and the budget ignored")
NOT_RECORDED = ("This result file does not record what decided the plan (the solver's "
                "stages, each scenario's ceiling and the scenarios pinned at it): it was "
                "written before results recorded them. Solve the instance again to see them.")
STAGES_NOTE = ("Each stage optimises one measure while every earlier stage is held at the "
               "value it reached, so a later stage only chooses among plans that tie on all "
               "the earlier ones.")
PINNED_MARK = " (pinned)"
PINNED_NOTE = ("A scenario pinned at its ceiling (" + CEILING + ") is one where no plan can do "
               "better: it fixes the worst case without deciding the plan, and the stages "
               "after it choose among the plans that reach it.")


def kind(name: str) -> str:
    """An objective kind in words (the CSV keeps the file's names): ``worst_case`` ->
    ``worst case``."""
    spec = known_spec(name)
    return spec.words if spec else name.replace("_", " ")


def objective(result: Result) -> str:
    """``worst case``, ``cvar (alpha 0.9)``, ``min cost (target 0.8)``,
    ``share of ceiling (relative)``."""
    o = result.objective
    text = kind(o.kind)
    spec = known_spec(o.kind)
    number = None if spec is None or spec.parameter is None else getattr(o, spec.parameter)
    if number is not None:
        text += f" ({spec.parameter} {number:g})"
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


def stage(name: str, result: Result) -> str:
    """A stage of the solve in words: ``leximin_2`` -> ``worst case over scenarios not
    pinned (level 2)``."""
    o = result.objective
    if name == "objective":
        spec = known_spec(o.kind)
        alpha = o.alpha if o.alpha is not None else result.resilience.cvar.alpha
        return spec.stage_words(alpha, o.target) if spec else kind(o.kind)
    if name.startswith("leximin_"):
        return f"worst case over scenarios not pinned (level {name.removeprefix('leximin_')})"
    measure = TIEBREAK_MEASURES.get(name)
    return MEASURES[measure].words(o) if measure else fmt.label(name)


def decided_by(d: Decided) -> str | None:
    """The result's own sentence on what decided the plan, as a sentence."""
    if not d.sentence:
        return None
    text = d.sentence[0].upper() + d.sentence[1:]
    return text if text.endswith(".") else text + "."


def _listed(d: Decided, ids: tuple[str, ...], limit: int) -> str:
    shown = ", ".join(f"{sid} (ceiling {fmt.share(d.ceiling(sid))})" for sid in ids[:limit])
    more = len(ids) - limit
    return shown + (f" and {more} more (all are in the CSV export)" if more > 0 else "")


def pinned(d: Decided) -> str | None:
    """The pinned scenarios and their ceilings; None when there is nothing to add to the
    result's own sentence (the file does not say, or nothing is pinned and the sentence
    says what decided the plan)."""
    if d.pinned is None:
        return None
    if not d.pinned:
        if d.sentence or d.kind != "worst_case":
            return None
        lowest = d.lowest_ceiling
        return ("No scenario is pinned at its ceiling (" + CEILING + ")"
                + ("" if lowest is None else
                   f"; the lowest ceiling is {fmt.share(lowest[1])}, in {lowest[0]}") + ".")
    one = len(d.pinned) == 1
    return (f"Pinned at {'its' if one else 'their'} ceiling: "
            f"{_listed(d, d.pinned, PINNED_LISTED)}. No plan can do better in "
            f"{'this scenario' if one else 'these scenarios'}: the ceiling is {CEILING}, "
            f"so {'it fixes' if one else 'they fix'} the worst case without deciding the "
            "plan.")


def pinned_brief(d: Decided) -> str:
    """The pinned scenarios in a table cell: ``hazard-6 (ceiling 0.7079)``, ``none``, ``–``."""
    if d.pinned is None:
        return fmt.MISSING
    return _listed(d, d.pinned, 5) if d.pinned else "none"


def ceiling_column(d: Decided) -> str:
    """What the ceiling column and the pinned mark mean."""
    text = f"“Ceiling”: {CEILING.replace('there', 'in the scenario')}."
    if d.pinned:
        text += (f" “{PINNED_MARK.strip()}”: the scenario is at its ceiling under the plan; "
                 "no plan can do better there.")
    return text


def relative(result: Result) -> str | None:
    """What the relative objective means, with the share it reached."""
    if result.objective.kind != "relative":
        return None
    value = result.objective.value
    share = "that share" if value is None else fmt.percent(value)
    return ("The objective is relative: each scenario's resilience is divided by its ceiling "
            f"({CEILING}) and the plan maximises the smallest of these shares, so every "
            f"scenario reaches at least {share} of what is physically possible there.")
