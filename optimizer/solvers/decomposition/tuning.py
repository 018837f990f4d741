"""The decomposition's tuning constants, each with what chose it (most were measured:
benchmarks/RESULTS.md).

Every module reads them as ``tuning.NAME`` when it uses them, never importing one by name,
so that a value set here, as the tests and benchmarks do (``tuning.LAZY_FROM = 0``), takes
effect in the next solve.
"""

# Scenarios per recourse LP (one HiGHS instance). 10-50 measured best at 200 nodes (about
# 0.3-0.4 ms per hot-started scenario); much larger blocks re-solve more slowly per scenario.
BLOCK_SIZE = 32
# While waiting for an evaluation round, check this often that no Dask worker has left.
WATCH_SECONDS = 5.0
# Below this many scenarios, evaluation stays in process unless --workers is given:
# starting worker processes and sending them the instance costs a second or two, about what
# they save at 1,000 scenarios on 2 cores; at 10,000 they halve the time.
SMALL = 1000
# A cut is added where the master's share exceeds the exact one by more than this.
CUT_TOL = 1e-7
# Held stages: the master holds each solved stage at its incumbent's exact value; a
# candidate plan must meet it on its exact R_s within ADMIT_TOL (resilience; cost: that
# share of the money scale), or a tenth of the MIP gap of the value held, if larger. The
# master over-estimates R_s near its plan by up to what its cuts miss there, so a plan at
# the edge of a hold needs that margin; with a continuous first stage (stock in fractions)
# the cuts close in on the edge only one kink at a time.
ADMIT_TOL = 1e-6
ADMIT_GAP_SHARE = 0.1
# A min_cost plan meets the target when every exact R_s >= T - FEASIBILITY_TOL (the
# tolerance of the independent check, optimizer.pipeline).
FEASIBILITY_TOL = 1e-6
# LP masters per stage before the MIP ones, at most; they stop earlier when the LP's bound
# and its plan's exact value meet within LP_GAP (relative).
LP_ITERATIONS = 50
LP_GAP = 1e-5
# Stock bought as a continuous amount in the MIP masters until whole units matter
# (Master.relax_stock).
RELAX_STOCK = True
# When a continuous-stock master's point beats the incumbent by more than the gap but its
# plan, rounded down, does not: masters with the depots and shelters it opens fixed and
# stock in whole units, at most this many in a row (each until it brings no cut).
REPAIR_MASTERS = 3
# Masters per stage at most (LP and MIP): a work limit, not a clock, so that a stage that
# tails ends the same way on any machine (status feasible, the stage named).
MAX_STAGE_ITERATIONS = 1000
# HiGHS's primal heuristics in the MIP masters (sub-MIPs at the root, feasibility jump):
# off. A master starts from the incumbent, and its plan counts only once evaluated exactly;
# the heuristics spent half of a master's LP iterations (measured at 200 x 2,000, expected:
# 74-77 CPU s per master with them, 41-58 s without, the same masters and cuts; at 10,000
# one root sub-MIP took 234 of a master's 284 s). See benchmarks/RESULTS.md.
MASTER_HEURISTICS = False
# From this many scenarios the master holds a scenario on its own only once it can matter
# (see Master): the others are left out of worst-case levels and CVaR tails (a relaxation)
# and enter expected resilience through GROUPS aggregate columns, each bounded by the summed
# cuts of its scenarios. Measured at 200 x 10,000 (benchmarks/RESULTS.md, "Scenarios that
# matter"): a MIP master over every scenario took about 6 minutes.
LAZY_FROM = 2000
# Scenarios that enter the master in one round at most (the furthest below what the master
# assumes of them first), and at the start of a level or CVaR stage.
ACTIVATE = 200
# Aggregate columns over the scenarios not held on their own (see LAZY_FROM).
GROUPS = 50
# Evaluation points kept for the groups' cuts (a group rebuilt after losing a scenario gets
# the cuts of the points kept); each holds a gradient per scenario.
GROUP_POINTS = 60
# Evaluated plans whose cuts stay pieces of the curves' members' minimum (curves.Curves;
# each holds a gradient per scenario: at 10,000 scenarios and 60 stock and place entries,
# about 5 MB).
CURVE_POINTS = 40
