"""The terminal summary of a result document, drawn with rich (``resilience solve`` prints
it on standard error) from the typed :class:`~optimizer.results.document.Result`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from models.objectives import known_spec
from optimizer.report import fmt
from optimizer.results.document import Cost, Result, ScenarioRecovery
from optimizer.safe_text import console_text as escape

WORST_SHOWN = 5


_money = fmt.money
_share = fmt.share


def _recovery_line(recovery: list[ScenarioRecovery] | None) -> str:
    """The scenario slowest to recover (lowest recovery area) and what restores it."""
    if not recovery:
        return ""
    hit = [r for r in recovery if len(r.restoration) > 1]
    if not hit:
        return "recovery: no scenario cuts a road"
    worst = min(hit, key=lambda r: (r.recovery_area, r.id))
    curve = worst.restoration
    final = curve[-1].resilience
    needed = next(n for n, step in enumerate(curve) if step.resilience >= final - 1e-9)
    period = curve[needed].period
    cut = {z for kind in ("supply", "shelter") for z in worst.cut_off[kind]}
    roads = len(curve) - 1
    repairs = (f"none of its {roads} failed road{'s' if roads > 1 else ''} matters to this "
               "plan" if needed == 0 else
               f"{needed} of its {roads} road repairs restore it fully"
               + (f" (by period {period})" if period != needed else ""))
    return (f"recovery: lowest area {_share(worst.recovery_area)} in scenario "
            f"{escape(worst.id)} ({_share(curve[0].resilience)} -> {_share(final)}); "
            + repairs
            + (f"; {len(cut)} affected zone{'s' if len(cut) > 1 else ''} cut off" if cut
               else ""))


def print_summary(result: Result, console: Console) -> None:
    """Objective, bound, gap, cost lines, plan, worst scenarios and the three terms."""
    o = result.objective
    head = (f"[bold]{escape(result.instance.name)}[/bold]  status [bold]{result.status}"
            f"[/bold]  objective {o.kind}")
    spec = known_spec(o.kind)
    if spec is not None and spec.parameter is not None:
        head += f" ({spec.parameter} {getattr(o, spec.parameter):g})"
    console.print(head)
    value_fmt = _money if spec is not None and spec.money else _share
    bound = "none yet" if o.bound is None else value_fmt(o.bound)
    gap = "-" if o.gap is None else fmt.gap(o.gap)
    console.print(f"value {value_fmt(o.value)}   bound {bound}   gap {gap}")
    console.print(_cost_table(result))
    console.print(_plan_table(result))
    _print_resilience(result, console)
    _print_recovery(result, console)
    ver = result.verification
    assert ver is not None, "a result with a plan is verified"
    console.print(f"verified by {ver.method}: max difference {ver.max_difference:.1e}"
                  + ("" if not ver.plan_violations else
                     f"; plan violations: {escape('; '.join(ver.plan_violations))}"))


def _cost_table(result: Result) -> Table:
    cost = Table(title="Cost", show_edge=False, title_justify="left")
    cost.add_column("line")
    cost.add_column("amount", justify="right")
    for line in Cost.LINES:
        cost.add_row(line.replace("_", " "), _money(getattr(result.cost, line)))
    cost.add_row("[bold]total[/bold]", f"[bold]{_money(result.cost.total)}[/bold]")
    cost.add_row("budget", _money(result.cost.budget))
    return cost


def _plan_table(result: Result) -> Table:
    plan = Table(title="Plan (open facilities)", show_edge=False, title_justify="left")
    plan.add_column("facility")
    plan.add_column("what it holds", justify="right")
    for d in result.decisions.depots:
        if d.open:
            stock = ", ".join(f"{k} {fmt.units(v)}" for k, v in d.stock.items()
                              if v) or "no new stock"
            plan.add_row(escape(f"depot {d.id}"), escape(stock))
    for h in result.decisions.shelters:
        if h.open:
            plan.add_row(escape(f"shelter {h.id}"),
                         f"{fmt.units(h.capacity)} places "
                         f"({fmt.count(h.modules, 'module', 'modules')})")
    plan.add_row("compensation pool", _money(result.decisions.compensation_pool))
    return plan


def _print_resilience(result: Result, console: Console) -> None:
    """The three terms, what decided the plan, and the worst scenarios."""
    res = result.resilience
    console.print(f"resilience: worst case {_share(res.worst_case)}   expected "
                  f"{_share(res.expected)}   CVaR({res.cvar.alpha:g}) "
                  f"{_share(res.cvar.value)}")
    if res.decided_by:
        console.print(f"what decided the plan: {escape(res.decided_by)}")
    table = Table(title="Worst scenarios", show_edge=False, title_justify="left")
    for col in ("scenario", "resilience", "ceiling", "supply", "shelter", "economic"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    ceilings = res.ceilings or {}
    pinned = set(res.pinned or ())
    for s in result.ranked()[:WORST_SHOWN]:
        ceiling = ceilings.get(s.id)
        table.add_row(escape(s.id) + (" (pinned)" if s.id in pinned else ""),
                      _share(s.resilience),
                      "-" if ceiling is None else _share(ceiling), _share(s.supply),
                      _share(s.shelter), _share(s.economic))
    console.print(table)


def _print_recovery(result: Result, console: Console) -> None:
    recovery_line = _recovery_line(result.recovery)
    if recovery_line:
        console.print(recovery_line)
    pending = result.recovery_pending
    if pending:
        console.print(f"recovery: {len(pending)} scenario{'s' if len(pending) != 1 else ''} "
                      "not analysed (time limit); `resilience recover INSTANCE RESULT` fills "
                      "them in")
