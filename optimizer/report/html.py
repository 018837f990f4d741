"""The HTML report and the HTML comparison: one self-contained page each.

Pictures are inline SVG (the map by hand, charts by matplotlib), the style sheet is inline,
and a Content-Security-Policy forbids the page to load anything, so it opens the same from
an e-mail attachment, an intranet or a USB stick, and a browser's console stays empty. A
print style sheet lays it out for A4.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from optimizer.report import fmt, plots, rows, words
from optimizer.report.compare import Comparison
from optimizer.report.facts import NO_INSTANCE, WORST_SHOWN, Facts
from optimizer.report.rows import ALL_SCENARIOS_UP_TO, ZONES_SHOWN, Table
from optimizer.results.document import FrontierSection, Result

CSS = """
:root{--ink:#1d2330;--muted:#5b6473;--line:#d9dee5;--accent:#1f77b4;--bad:#c62828;
--good:#1a7f37;--bg:#f5f7fa}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
color:var(--ink);margin:0;background:#fff;font-size:14px;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:22px 28px 40px}
header.top{border-bottom:3px solid var(--accent);padding-bottom:10px;margin-bottom:14px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}
p{margin:6px 0}
.sub,.note,figcaption{color:var(--muted);font-size:12.5px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:10px;
margin:12px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:9px 12px;background:var(--bg)}
.card .k{font-size:12px;color:var(--muted)}
.card .v{font-size:22px;font-weight:bold;font-variant-numeric:tabular-nums}
.card .d{font-size:12px}
.grid2{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:18px;
align-items:start}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 10px}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n,#recovery-table td:first-child{white-space:nowrap}
tr.total td{font-weight:bold;border-top:2px solid var(--ink)}
tr.changed td{background:#fff4e0}
tr.closed td{color:var(--muted)}
tr.pinned td{background:#eef4fb}
tr.pinned td:first-child{font-weight:600}
.pos{color:var(--good)}.neg{color:var(--bad)}
.warn{border-left:4px solid var(--bad);background:#fdeeee;padding:7px 12px;margin:10px 0}
.info{border-left:4px solid var(--accent);background:var(--bg);padding:7px 12px;margin:10px 0}
ul.summary li{margin:4px 0}
figure{margin:6px 0 12px}
svg{max-width:100%;height:auto;display:block}
figure.chart svg{max-width:860px}
dl.dims{margin:0}
dl.dims dt{font-weight:bold;margin-top:8px;text-transform:capitalize}
dl.dims dd{margin:2px 0 0 0}
footer{margin-top:28px;border-top:1px solid var(--line);padding-top:8px}
@page{size:A4;margin:14mm 12mm}
@media print{
body{font-size:9.5pt}
main{max-width:none;padding:0}
.grid2{grid-template-columns:1fr}
.cards{grid-template-columns:repeat(3,1fr)}
h2,h3,dl.dims dt{break-after:avoid}
svg.map{max-height:125mm;width:auto;margin:0 auto}
figure.chart svg{max-width:100%}
figure,.card,.keep,tr{break-inside:avoid}
thead{display:table-header-group}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
@media (max-width:820px){.grid2{grid-template-columns:1fr}}
"""

# Nothing may be loaded from anywhere: styles and SVG are inline, there is no script.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n</main>\n</body>\n</html>\n")


def _table(table_id: str, table: Table, *, keep: bool = False) -> str:
    def cell(text: str, i: int, tag: str) -> str:
        css = ' class="n"' if i in table.numeric else ""
        return f"<{tag}{css}>{escape(text)}</{tag}>"

    head = "".join(cell(h, i, "th") for i, h in enumerate(table.headers))
    body = []
    for n, row in enumerate(table.rows):
        css = table.row_class(n)
        attr = f' class="{css}"' if css else ""
        body.append(f"<tr{attr}>" + "".join(cell(v, i, "td") for i, v in enumerate(row))
                    + "</tr>")
    cls = ' class="keep"' if keep else ""
    return (f'<table id="{table_id}"{cls}><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table>")


def _card(key: str, value: str, detail: str, card_id: str) -> str:
    return (f'<div class="card" id="{card_id}"><div class="k">{escape(key)}</div>'
            f'<div class="v">{escape(value)}</div>'
            + (f'<div class="d">{escape(detail)}</div>' if detail else "") + "</div>")


def _status_box(result: Result, notes: Sequence[str]) -> str:
    out = []
    if result.status == "error":
        out.append(f'<div class="warn"><b>The independent check rejected this result.</b> '
                   f"{escape(result.message)}</div>")
    elif result.status == "feasible":
        out.append(f'<div class="warn"><b>The solver stopped at a limit:</b> this plan is the '
                   f"best it found, not proven best. {escape(result.message)}</div>")
    if result.verification and result.verification.plan_violations:
        out.append('<div class="warn"><b>Plan violations:</b> '
                   + escape("; ".join(result.verification.plan_violations)) + "</div>")
    for note in [*notes, *result.warnings]:
        out.append(f'<div class="info">{escape(note)}</div>')
    return "".join(out)


def _section(section_id: str, title: str, *parts: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>' + "".join(parts) \
        + "</section>"


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


# ------------------------------------------------------------------------- the report


def _cards(facts: Facts) -> str:
    r = facts.result
    res, cost, base = r.resilience, r.cost, facts.baseline

    def against(nothing: float | None, value: float) -> str:
        return "" if nothing is None else (f"doing nothing {fmt.share(nothing)} "
                                           f"({fmt.signed(value - nothing)})")

    worst = facts.worst
    cards = [
        _card("worst-case resilience", fmt.share(res.worst_case),
              against(base and base.worst_case, res.worst_case), "card-worst"),
        _card("expected resilience", fmt.share(res.expected),
              against(base and base.expected, res.expected), "card-expected"),
        _card(f"CVaR({res.cvar.alpha:g}) resilience", fmt.share(res.cvar.value),
              against(base and base.cvar, res.cvar.value), "card-cvar"),
        _card("money spent" + (f" ({facts.currency})" if facts.currency else ""),
              fmt.money(cost.total), f"of a budget of {fmt.money(cost.budget)}", "card-cost"),
        _card("worst case gained per 1,000", fmt.per_1000(facts.gain_per_1000),
              "over doing nothing" if facts.gain_per_1000 is not None else NO_INSTANCE,
              "card-gain"),
        _card("worst scenario", worst.id,
              f"supply {fmt.percent(worst.supply)}, shelter {fmt.percent(worst.shelter)}, "
              f"economic {fmt.percent(worst.economic)}", "card-scenario"),
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _decided_section(facts: Facts) -> str:
    d, r = facts.decided, facts.result
    parts = []
    sentence, relative, pinned = words.decided_by(d), words.relative(r), words.pinned(d)
    if sentence:
        parts.append(f'<p id="decided-by">{escape(sentence)}</p>')
    if relative:
        parts.append(f'<p id="relative">{escape(relative)}</p>')
    if pinned:
        parts.append(f'<p id="pinned">{escape(pinned)}</p>')
    if d.stages:
        parts += [_table("stages", rows.stages(d, r), keep=True), _note(words.STAGES_NOTE)]
    if not d.recorded:
        parts.append(_note(words.NOT_RECORDED))
    return _section("decided", "What decided the plan", *parts)


def _plan_section(facts: Facts) -> str:
    if facts.instance is not None:
        from optimizer.report.svgmap import network_map

        roads = facts.failed_roads or ()
        caption = (f"Hover a mark for details. The worst scenario is {facts.worst.id}"
                   + (f"; it cuts {len(roads)} road(s): {', '.join(roads[:12])}"
                      + ("…" if len(roads) > 12 else "") if roads else "") + ".")
        picture = (f"<figure>{network_map(facts)}<figcaption>{escape(caption)}</figcaption>"
                   "</figure>")
    else:
        picture = _note(f"The map {NO_INSTANCE}.")
    table = _table("facilities", rows.facilities(facts))
    return _section("plan", "Where the plan puts things",
                    f'<div class="grid2"><div>{picture}</div><div>{table}',
                    _note("“The plan buys” is new stock (existing stock is not repeated) or a "
                          "shelter's places under the plan; “on hand” adds existing stock at "
                          "open depots."), "</div></div>")


def _cost_section(facts: Facts) -> str:
    cost = facts.result.cost
    chart = plots.cost_chart([("plan", cost)], currency=facts.currency)
    table = _table("costs", rows.costs(cost, facts.currency), keep=True)
    return _section("cost", "Cost against the budget",
                    f'<div class="grid2"><figure>{chart}</figure><div>{table}</div></div>')


def _scenario_section(facts: Facts) -> str:
    worst = facts.ranked[:WORST_SHOWN]
    parts = [f'<figure class="chart">{plots.scenario_chart(facts)}<figcaption>'
             "Each bar is one scenario's resilience R_s under the plan, worst first; grey "
             "dots are doing nothing (existing assets only). The dashed line is the worst "
             "case, the dotted one the expected value.</figcaption></figure>",
             f"<h3>The {len(worst)} worst scenarios</h3>",
             _table("worst-scenarios", rows.scenarios(facts, worst), keep=True)]
    if facts.decided.ceilings:
        parts.append(_note(words.ceiling_column(facts.decided)))
    if len(facts.ranked) <= ALL_SCENARIOS_UP_TO:
        parts += ["<h3>All scenarios</h3>",
                  _table("all-scenarios", rows.scenarios(facts, facts.ranked))]
    return _section("scenarios", "Resilience in every scenario", *parts)


def _dimensions_section(facts: Facts) -> str:
    dims = []
    for d in facts.dimensions:
        missing = (_note(f"These measures {NO_INSTANCE}.")
                   if facts.instance is None and any(m.value is None for m in d.metrics)
                   else "")
        dims.append(f"<dt>{escape(d.name)}</dt><dd>{_note(d.measured)}"
                    f"{_table(f'dimension-{d.name}', rows.dimension(d), keep=True)}"
                    f"{missing}</dd>")
    return _section("dimensions", "The three terms and the four dimensions",
                    "<p>A scenario's resilience R_s is the weighted sum of three shares: supply "
                    "delivered, evacuees sheltered and economic loss compensated (a term with "
                    "nothing to deliver counts as 1).</p>",
                    _table("terms", rows.terms(facts), keep=True),
                    '<dl class="dims">', *dims, "</dl>")


def _shortfall_section(facts: Facts) -> str:
    parts = []
    for n, shortfall in enumerate(facts.shortfalls):
        s = shortfall.scenario
        parts.append(f"<h3>{escape(s.id)}: resilience {fmt.share(s.resilience)}, probability "
                     f"{fmt.percent(s.probability)}</h3>")
        if not shortfall.zones:
            parts.append("<p>Nobody goes without: all need is delivered and every evacuee "
                         "sheltered.</p>")
            continue
        parts.append(_table(f"unmet-{n + 1}", rows.shortfall(facts, shortfall)))
        if len(shortfall.zones) > ZONES_SHOWN:
            parts.append(_note(f"and {len(shortfall.zones) - ZONES_SHOWN} more zones (all "
                               "are in the CSV export)."))
    return _section("unmet", "Who is left without help in the worst scenarios", *parts)


def _nothing_section(facts: Facts) -> str:
    if facts.baseline is None:
        return _section("nothing", "The plan against doing nothing",
                        _note(f"This comparison {NO_INSTANCE}."))
    return _section("nothing", "The plan against doing nothing",
                    _table("against-nothing", rows.against_nothing(facts), keep=True),
                    f"<p>{escape(words.against_nothing(facts))}</p>")


def _recovery_section(facts: Facts) -> str:
    pending = facts.result.recovery_pending
    waiting = (_note(f"{len(pending)} scenarios were not analysed (the time limit was "
                     f"reached): {', '.join(pending[:10])}{' ...' if len(pending) > 10 else ''}"
                     ". resilience recover INSTANCE RESULT fills them in.")
               if pending else "")
    if not facts.recovery:
        return _section("recovery", "Recovery after the event", waiting or
                        _note("This result has no recovery analysis (design section 5: "
                              "crews repair the failed roads, most reachable need first)."))
    chart = plots.recovery_chart(facts.recovery, facts.result.scenarios)
    parts = [f'<figure class="chart">{chart}<figcaption>Resilience of the plan over the '
             "periods after the event as crews repair the roads (a road is back when its "
             "repair time is done), worst scenarios in colour, optimal schedules dashed "
             "where they were solved (recovery area: the mean of the curve until one crew "
             "would have repaired everything; 1 when the scenario does no harm)."
             "</figcaption></figure>",
             waiting, _table("recovery-table", rows.recovery(facts))]
    order = rows.repair_order(facts)
    if order.rows:
        parts += [f"<h3>Order of repairs in the {rows.REPAIR_ORDERS_SHOWN} worst scenarios"
                  "</h3>", _table("repair-order", order)]
    exact = rows.exact_against_greedy(facts)
    if exact.rows:
        parts += ["<h3>Greedy against optimal schedules</h3>",
                  _table("exact-recovery", exact)]
    return _section("recovery", "Recovery after the event", *parts)


def _frontier_section(section: FrontierSection | None, here: Sequence[float], what: str) -> str:
    """The budget frontier the result(s) came from (``sweep --results``), when recorded."""
    if section is None:
        return ""
    return _section("frontier", "The budget frontier",
                    _note(f"{what} came from a budget sweep: what each budget buys, the "
                          "highlighted row being this plan's budget, and where returns "
                          "diminish."),
                    _table("frontier", rows.frontier(section, here)))


def _about(facts: Facts) -> str:
    r = facts.result
    parts = [f"Result {facts.source}; instance {r.instance.name} (sha256 "
             f"{r.instance.sha256[:16]}…); status {r.status}"
             + (f" ({r.message})" if r.message else "") + "."]
    o = r.objective
    if o.value is not None:
        parts.append(f"Objective {words.objective(r)}: value {fmt.number(o.value)}, bound "
                     f"{fmt.number(o.bound)}, gap {fmt.gap(o.gap)}.")
    if r.solver is not None:
        parts.append(f"Solver {r.solver.name or '?'} {r.solver.version or ''}, method "
                     f"{r.solver.method or '?'}, {fmt.number(r.solver.solve_seconds)} s.")
    if r.verification is not None:
        diff = r.verification.max_difference
        parts.append(f"Checked by {r.verification.method}: largest difference "
                     f"{fmt.MISSING if diff is None else f'{diff:.1e}'}.")
    return f'<footer class="note"><p>{escape(" ".join(parts))}</p></footer>'


def report_html(facts: Facts) -> str:
    """The report of one result as a complete HTML page."""
    r = facts.result
    title = f"Preparedness plan for {r.instance.name}"
    sub = (f"{facts.source} · status {r.status} · objective {words.objective(r)} · budget "
           f"{fmt.money(r.cost.budget)} · {len(r.scenarios)} scenarios")
    body = [f'<header class="top"><h1>{escape(title)}</h1><div class="sub">{escape(sub)}'
            "</div></header>",
            _status_box(r, facts.notes), _cards(facts),
            f'<p id="summary">{escape(words.summary(facts))}</p>',
            _decided_section(facts), _plan_section(facts), _cost_section(facts),
            _scenario_section(facts), _dimensions_section(facts), _shortfall_section(facts),
            _nothing_section(facts), _recovery_section(facts),
            _frontier_section(facts.result.frontier, (facts.result.cost.budget,),
                              "This result"),
            _about(facts)]
    return _page(title, "\n".join(body))


# --------------------------------------------------------------------- the comparison


def _comparison_map(c: Comparison) -> str:
    """The map of what differs, when the instance is at hand (svgmap imports networkx)."""
    if c.instance is None:
        return ""
    from optimizer.report.svgmap import comparison_map

    return (f"<figure>{comparison_map(c)}<figcaption>Orange: the facilities the plans treat "
            "differently, labelled with each plan's choice in the order of the options."
            "</figcaption></figure>")


def comparison_html(c: Comparison) -> str:
    """Several results side by side as a complete HTML page."""
    first = c.options[0]
    title = f"Comparing {len(c.options)} plans for {first.result.instance.name}"
    sub = " · ".join(f"{o.label}: {o.source}" for o in c.options)
    body = [f'<header class="top"><h1>{escape(title)}</h1><div class="sub">{escape(sub)}'
            "</div></header>"]
    body += [f'<div class="warn"><b>Compared with --force:</b> {escape(p)}</div>'
             for p in c.forced]
    body += [
        _section("changes", "What changes", '<ul class="summary">',
                 *[f"<li>{escape(line)}</li>" for line in c.summary()], "</ul>"),
        _section("options", "Options", _table("options", rows.options(c), keep=True),
                 _note("“Per 1,000”: resilience gained for each 1,000 of money, against doing "
                       "nothing (existing assets only) or against the next cheaper option.")),
        _section("decided", "What decided each plan",
                 _table("decisions", rows.decisions(c)),
                 _note(words.PINNED_NOTE)),
        _section("cost", "Cost lines",
                 '<figure class="chart">'
                 + plots.cost_chart([(o.label, o.result.cost) for o in c.options],
                                    width=8.0, currency=c.currency) + "</figure>",
                 _table("costs", rows.cost_lines(c), keep=True)),
        _section("resilience", "Resilience", _table("resilience", rows.resilience(c),
                                                    keep=True)),
        _section("facilities", "What changes at each depot and shelter",
                 _comparison_map(c),
                 _table("facilities", rows.facility_changes(c)),
                 _note("Depots: the stock each plan buys (existing stock not repeated); "
                       f"shelters: places under the plan. Highlighted rows differ from "
                       f"{first.label}.")),
        _section("scenarios", "Scenario by scenario",
                 f'<figure class="chart">{plots.comparison_chart(c)}</figure>',
                 _table("scenario-differences", rows.scenario_differences(c))),
        _frontier_section(c.frontier, [o.result.cost.budget for o in c.options],
                          "These results"),
    ]
    return _page(title, "\n".join(body))
