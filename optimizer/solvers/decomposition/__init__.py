"""The decomposition route (``--method decomposition``): multi-cut Benders over the first
stage on HiGHS, for every objective and stage (design section 6).

Given a first stage x, each scenario's recourse is an LP whose right-hand sides are linear
in x (stock on hand bounds the depot rows, shelter places the shelter rows), so each of its
shares is concave in x and every LP dual gives a valid cut. The *master* holds:

* the first stage (open flags, stock, shelters, modules, pool, cost, budget, capacity and
  redundancy rows), built by ``models.direct`` from the instance with no scenario;
* per scenario s: ``sup_s`` and ``sh_s``, over-estimates of its supply and shelter shares
  (bounded by their values at the ceiling and by cuts
  ``share_s <= share_s(x^) + g_s . (u(x) - u(x^))`` from the duals at each plan x^,
  u being the stock and places the plan puts on hand), ``e_s`` its economic share
  (exact: ``e_s <= pool / L_s``, at most 1), and ``r_s = w_sup sup_s + w_sh sh_s + w_eco e_s``;
* the stage objectives of ``optimizer.stages`` written over r (a level column t with
  ``t <= r_s``; CVaR's eta and shortfalls; the cost column), and the rows that hold the
  stages already solved.

From :data:`~.tuning.LAZY_FROM` scenarios up the master holds a scenario on its own only
once it matters: a scenario enters (its rows, its cuts at the start plan and at the plan
that showed it) when its exact R_s falls below what the master assumes of it (the level of a
worst-case or relative stage, CVaR's eta, a held stage's floor, min_cost's target), the
furthest below first, :data:`~.tuning.ACTIVATE` per round at most. Left out of a level or a
CVaR tail, a scenario only loosens the master (a relaxation: its bound still bounds the
stage). Expected resilience as a tie-break needs every scenario, so the others enter it
through :data:`~.tuning.GROUPS` aggregate columns, theta_g <= sum_{s in g} p_s R_s / P_g
(P_g their probability, counted in the objective), each bounded by its scenarios' ceilings,
their coverage rows summed, and the sum of their cuts at the evaluated plans (a partial
multi-cut; a group that loses a scenario to the master is rebuilt). Measured at 200 x 10,000
(benchmarks/RESULTS.md, "Scenarios that matter"): the worst-case stage's MIP masters fell
from about 6 minutes to 20 s. Expected resilience and CVaR as the objective hold no scenario
on its own: every share of every scenario is counted on *curves*
(:mod:`optimizer.solvers.decomposition.curves`), groups of alike scenarios whose rows put
each member on its lowest piece (its ceiling, start cut, coverage, or the cut of a plan
evaluated): exact at each plan evaluated, valid at every plan. Expected resilience reads
each group's mean; CVaR bounds each group's shortfall sum_s p_s (eta - R_s)^+ from below by
such rows at the master's eta and at the plan's own value at risk
(:meth:`.loop.Benders._cvar_rows`). Measured at 200 x 10,000 (benchmarks/RESULTS.md,
"Curves"): both proven with every tie-break in 2.5 and 11 minutes, where the fifth round had
stopped at its 30-minute limit.

Since the master over-estimates every R_s, its bound bounds the true stage optimum; a plan
x^ counts as an incumbent once its *exact* R_s (every scenario evaluated, on the executor)
meet the held stages, and a stage ends when the incumbent's exact value meets the master's
bound within the MIP gap. Cuts are kept from stage to stage. Each stage starts with LP
masters (integrality relaxed: cheap iterations that gather most cuts, then tightened), then
MIP masters started from the incumbent. In the MIP masters stock is bought as a continuous
amount (a relaxation: its bound is still a bound), their plans are rounded down and
evaluated exactly, and a stage whose bounds the rounding keeps apart goes back to whole
units (measured side by side on the unpinned 200 x 1,000 family: the gap after 300 s fell
from 24% to 1.0-4.5%, benchmarks/RESULTS.md). When a master's point (evaluated exactly)
beats the incumbent but its plan rounded down does not, a *repair* re-solves the master with
the point's openings fixed and stock in whole units (cheap: no facility to branch on); when
the point already meets the master's bound, the stage goes to whole units at once, since a
tighter master would only return it again. Every MIP master is solved to the gap asked for
(measured faster than loose masters first, benchmarks/RESULTS.md). Cuts are added only where
the master over-estimates a share by more than :data:`~.tuning.CUT_TOL` and that scenario
can matter to the stage (below the master's level, or held from below). Nothing is capped by
the clock: only ``--time-limit`` stops a stage, and the result then says which stage is not
proven.

The route, one module per idea: :mod:`.tuning` (the constants a measurement or a choice
set, each with what chose it), :mod:`.evaluator` (every scenario at a plan, on the
executor's lanes), :mod:`.master` (the HiGHS master: first stage, share columns, cuts,
groups), :mod:`.curves` (every scenario on curves, for expected resilience and CVaR),
:mod:`.search` (one stage's incumbent, bound and the arithmetic between them), :mod:`.loop`
(the stages' masters, evaluations and cuts) and :mod:`.solve` (the entry,
:func:`solve_decomposition`).
"""

from optimizer.solvers.decomposition.solve import solve_decomposition, solver

__all__ = ["solve_decomposition", "solver"]
