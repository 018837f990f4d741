"""The report and the comparison as Markdown for memos: the HTML's tables and sentences
without the pictures, as GitHub-flavoured pipe tables.

Text that comes from the files (ids, names, messages, the sentence on what decided the
plan) goes through :func:`text`, so that it reads literally: Markdown renderers pass raw
HTML through, and an id like ``<img src=x>`` must not become an image, a link or a tag.

Where to look next: the tables come from :mod:`optimizer.report.rows` and the sentences
from :mod:`optimizer.report.words`, shared with the HTML twin, :mod:`optimizer.report.html`.
"""

from __future__ import annotations

import re

from optimizer.report import fmt, rows, words
from optimizer.report.compare import Comparison
from optimizer.report.facts import NO_INSTANCE, WORST_SHOWN, Facts
from optimizer.report.rows import ALL_SCENARIOS_UP_TO, ZONES_SHOWN, Table

# Backslash-escaped (CommonMark: any ASCII punctuation may be), so that they read as
# themselves: raw HTML and autolinks (< >), entities (&), code (`), emphasis (*, ~), links
# and images ([ ]), table cells (|) and the backslash itself.
_LITERAL = str.maketrans({c: "\\" + c for c in "\\`*~[]<>&|"})
# What would open a block where the text starts a line: a heading, a list item, a rule.
_BLOCK_START = re.compile(r"^(?=#{1,6}(?:\s|$)|[-+=](?:\s|$)|[-=]+$)|^(\d{1,9})(?=[.)](?:\s|$))")


def _inline(value: object) -> str:
    return " ".join(str(value).split()).translate(_LITERAL)


def text(value: object) -> str:
    """``value`` as literal Markdown text on one line (it may start the line)."""
    return _BLOCK_START.sub(lambda m: (m.group(1) or "") + "\\", _inline(value), count=1)


def _cell(value: str) -> str:
    return _inline(value)


def table(t: Table) -> str:
    """A pipe table; "total" rows in bold."""
    lines = ["| " + " | ".join(_cell(h) for h in t.headers) + " |",
             "|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers)))
             + "|"]
    for n, row in enumerate(t.rows):
        bold = t.row_class(n) == "total"
        cells = [f"**{_cell(v)}**" if bold and v else _cell(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _decided(facts: Facts) -> list[str]:
    """What decided the plan: the result's sentence, the pinned scenarios, the stages."""
    d, r = facts.decided, facts.result
    out = ["## What decided the plan\n"]
    out += [text(sentence) + "\n" for sentence in
            (words.decided_by(d), words.relative(r), words.pinned(d)) if sentence]
    if d.stages:
        out += [table(rows.stages(d, r)), words.STAGES_NOTE + "\n"]
    if not d.recorded:
        out.append(words.NOT_RECORDED + "\n")
    return out


def report_markdown(facts: Facts) -> str:
    """The report of one result as a Markdown memo."""
    out = _heading(facts)
    out += _key_figures(facts)
    out += _decided(facts)
    out += _where_and_cost(facts)
    out += _scenarios(facts)
    out += _terms_and_dimensions(facts)
    out += _who_goes_without(facts)
    out += _recovery(facts)
    out += _frontier_and_check(facts)
    return "\n".join(out)


def _heading(facts: Facts) -> list[str]:
    """The title, what the result is, and its warnings."""
    r = facts.result
    out = [f"# Preparedness plan for {text(r.instance.name)}\n",
           text(f"{facts.source} · status {r.status} · objective {words.objective(r)} · "
                f"budget {fmt.money(r.cost.budget)} · {len(r.scenarios)} scenarios") + "\n"]
    if r.status == "error":
        out.append(f"> **The independent check rejected this result.** {text(r.message)}\n")
    elif r.status == "feasible":
        out.append(f"> **The solver stopped at a limit:** this plan is the best it found, not "
                   f"proven best. {text(r.message)}\n")
    if r.verification and r.verification.plan_violations:
        out.append("> **Plan violations:** " + text("; ".join(r.verification.plan_violations))
                   + "\n")
    out += [f"> {text(note)}\n" for note in [*facts.notes, *r.warnings]]
    return out


def _key_figures(facts: Facts) -> list[str]:
    """The key figures, the gain over doing nothing and the summary in words."""
    out = ["## Key figures\n", table(rows.key_figures(facts)),
           "Worst-case resilience gained per 1,000 over doing nothing: "
           f"{fmt.per_1000(facts.gain_per_1000)}"
           + ("" if facts.gain_per_1000 is not None else f" ({NO_INSTANCE})") + ".\n",
           text(words.summary(facts)) + "\n"]
    if facts.baseline is not None:
        out.append(text(words.against_nothing(facts)) + "\n")
    return out


def _where_and_cost(facts: Facts) -> list[str]:
    """Where the plan puts things, the roads the worst scenario cuts, and the cost lines."""
    out = ["## Where the plan puts things\n", table(rows.facilities(facts))]
    if facts.failed_roads:
        out.append(text(f"The worst scenario, {facts.worst.id}, cuts these roads: "
                        f"{', '.join(facts.failed_roads)}.") + "\n")
    out += ["## Cost against the budget\n",
            table(rows.costs(facts.result.cost, facts.currency))]
    return out


def _scenarios(facts: Facts) -> list[str]:
    """Resilience in every scenario (or the worst ones, when there are many)."""
    every = len(facts.ranked) <= ALL_SCENARIOS_UP_TO
    shown = facts.ranked if every else facts.ranked[:WORST_SHOWN]
    out = ["## Resilience in every scenario\n",
           "Worst first" + ("" if every else f" (the {WORST_SHOWN} worst of "
                                             f"{len(facts.ranked)})") + ".\n",
           table(rows.scenarios(facts, shown))]
    if facts.decided.ceilings:
        out.append(words.ceiling_column(facts.decided) + "\n")
    return out


def _terms_and_dimensions(facts: Facts) -> list[str]:
    """The three terms of R_s, then a table per dimension."""
    out = ["## The three terms and the four dimensions\n",
           "A scenario's resilience is the weighted sum of three shares: supply delivered, "
           "evacuees sheltered and economic loss compensated.\n", table(rows.terms(facts))]
    for d in facts.dimensions:
        out += [f"### {d.name.capitalize()}\n", d.measured + "\n", table(rows.dimension(d))]
        if facts.instance is None and any(m.value is None for m in d.metrics):
            out.append(f"These measures {NO_INSTANCE}.\n")
    return out


def _who_goes_without(facts: Facts) -> list[str]:
    """Per worst scenario, the zones left without help."""
    out = ["## Who is left without help in the worst scenarios\n"]
    for shortfall in facts.shortfalls:
        s = shortfall.scenario
        out.append(f"### {text(s.id)}: resilience {fmt.share(s.resilience)}, probability "
                   f"{fmt.percent(s.probability)}\n")
        if not shortfall.zones:
            out.append("Nobody goes without: all need is delivered and every evacuee "
                       "sheltered.\n")
            continue
        out.append(table(rows.shortfall(facts, shortfall)))
        if len(shortfall.zones) > ZONES_SHOWN:
            out.append(f"and {len(shortfall.zones) - ZONES_SHOWN} more zones (all are in the "
                       "CSV export).\n")
    return out


def _recovery(facts: Facts) -> list[str]:
    """Recovery after the event: what is pending, the measures, the orders of repairs."""
    out = ["## Recovery after the event\n"]
    pending = facts.result.recovery_pending
    if pending:
        out.append(text(f"{len(pending)} scenarios were not analysed (the time limit was "
                        "reached); `resilience recover INSTANCE RESULT` fills them in.")
                   + "\n")
    if facts.recovery:
        out.append(table(rows.recovery(facts)))
        order = rows.repair_order(facts)
        if order.rows:
            out.append(f"### Order of repairs in the {rows.REPAIR_ORDERS_SHOWN} worst "
                       "scenarios\n")
            out.append(table(order))
        exact = rows.exact_against_greedy(facts)
        if exact.rows:
            out.append("### Greedy against optimal schedules\n")
            out.append(table(exact))
    elif not pending:
        out.append("This result has no recovery analysis.\n")
    return out


def _frontier_and_check(facts: Facts) -> list[str]:
    """The budget frontier the result came from, if any, and how it was checked."""
    r = facts.result
    out = []
    if r.frontier is not None:
        out += ["## The budget frontier\n", "This result came from a budget sweep; its "
                "budget's row is marked in the HTML report.\n",
                table(rows.frontier(r.frontier, (r.cost.budget,)))]
    v = r.verification
    if v is not None:
        diff = fmt.MISSING if v.max_difference is None else f"{v.max_difference:.1e}"
        out += ["---\n", text(f"Checked by {v.method}: largest difference {diff}. Instance "
                              f"sha256 {r.instance.sha256}.") + "\n"]
    return out


def comparison_markdown(c: Comparison) -> str:
    """Several results side by side as a Markdown memo."""
    first = c.options[0]
    out = [f"# Comparing {len(c.options)} plans for {text(first.result.instance.name)}\n",
           "\n".join(f"- {text(o.label)}: {text(o.source)}" for o in c.options) + "\n"]
    out += [f"> **Compared with --force:** {text(p)}\n" for p in c.forced]
    out += ["## What changes\n", "\n".join(f"- {text(line)}" for line in c.summary()) + "\n",
            "## Options\n", table(rows.options(c)),
            "“Per 1,000”: resilience gained for each 1,000 of money, against doing nothing "
            "(existing assets only) or against the next cheaper option.\n",
            "## What decided each plan\n", table(rows.decisions(c)), words.PINNED_NOTE + "\n",
            "## Cost lines\n", table(rows.cost_lines(c)),
            "## Resilience\n", table(rows.resilience(c)),
            "## What changes at each depot and shelter\n", table(rows.facility_changes(c)),
            "## Scenario by scenario\n", f"Worst first under {text(first.label)}.\n",
            table(rows.scenario_differences(c))]
    if c.frontier is not None:
        out += ["## The budget frontier\n", "These results came from one budget sweep.\n",
                table(rows.frontier(c.frontier, [o.result.cost.budget for o in c.options]))]
    return "\n".join(out)
