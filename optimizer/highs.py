"""HiGHS in this engine: a silent instance, the hand-off of a column-wise model, the run loop.

Every HiGHS model here (the extensive form and the decomposition's masters in
:mod:`optimizer.solvers`, the recourse LPs of :mod:`optimizer.evaluation.recourse`, the
restoration MIP) goes through these: an instance that prints nothing on standard output,
one ``passModel`` call, and a run in HiGHS's own thread so that Ctrl-C reaches Python.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import highspy
import numpy as np

from optimizer import stopping
from optimizer.status import Status, from_highs

if TYPE_CHECKING:
    from optimizer.solvers.contract import SolveOptions

INF = highspy.kHighsInf


_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner from C on file descriptor 1; stdout must stay clean (the CLI
    prints JSON there), in worker processes too, whose descriptor 1 is the parent's."""
    with _STDOUT_LOCK:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


def new_highs(options: SolveOptions | None = None) -> highspy.Highs:
    """A silent HiGHS instance with the options every MIP route shares (seeded, so the
    same model gives the same search)."""
    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    if options is not None:
        h.setOptionValue("mip_rel_gap", options.mip_gap)
        if options.threads:
            h.setOptionValue("threads", int(options.threads))
    return h


def pass_model(h: highspy.Highs, a_csc: Any, cost: np.ndarray, col_lower: np.ndarray,
               col_upper: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray,
               integer: np.ndarray) -> None:
    """One ``passModel`` call with a column-wise matrix (minimisation)."""
    h.passModel(
        len(cost), len(row_lower), a_csc.nnz, int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), 0.0,
        np.asarray(cost, dtype=float), col_lower, col_upper, row_lower, row_upper,
        a_csc.indptr.astype(np.int32), a_csc.indices.astype(np.int32),
        a_csc.data.astype(float),
        np.where(integer, int(highspy.HighsVarType.kInteger),
                 int(highspy.HighsVarType.kContinuous)).astype(np.int32),
    )


@dataclass(frozen=True)
class Run:
    """One HiGHS run: our status, its seconds, whether Ctrl-C stopped it, and its work."""

    status: Status
    seconds: float
    interrupted: bool
    nodes: int
    iterations: int
    timed_out: bool = False  # stopped by the time limit it was given


def run_highs(h: highspy.Highs, time_limit: float | None,
              cost: np.ndarray | None = None) -> Run:
    """Run HiGHS within ``time_limit`` seconds (None: no limit).

    HiGHS runs in its own thread so that Ctrl-C reaches Python: it then asks HiGHS to stop
    and waits for it, keeping the incumbent (as it does when a stop was requested while
    stops are deferred, see ``optimizer.stopping``). With ``cost`` (the objective HiGHS minimises),
    the solution is checked against the objective HiGHS reports: HiGHS 1.16 can return a
    start it was given as the solution while reporting the objective of a better plan it
    found in its presolved space. Then it is solved again without the start.
    """
    started = time.monotonic()
    run = _run_once(h, time_limit)
    if cost is None or run.interrupted or not run.status.has_plan or _consistent(h, cost):
        return run
    h.clearSolver()
    left = None if time_limit is None else max(0.0, time_limit - (time.monotonic() - started))
    again = _run_once(h, left)
    return Run(again.status, run.seconds + again.seconds, again.interrupted,
               run.nodes + again.nodes, run.iterations + again.iterations, again.timed_out)


def is_mip(h: highspy.Highs) -> bool:
    """Whether HiGHS will solve the model it holds as a MIP (some column not continuous)."""
    continuous = highspy.HighsVarType.kContinuous
    return any(kind != continuous for kind in h.getLp().integrality_)


def _consistent(h: highspy.Highs, cost: np.ndarray) -> bool:
    reported = float(h.getInfo().objective_function_value)
    computed = float(np.asarray(cost) @ np.asarray(h.getSolution().col_value))
    return abs(reported - computed) <= 1e-7 * max(1.0, abs(reported))


def _run_once(h: highspy.Highs, time_limit: float | None) -> Run:
    # HiGHS 1.x compares an LP's time against the run time this Highs object has summed over
    # all its runs (ERGO-Code/HiGHS#1331, #1477), and a MIP's against its own run (its LP
    # relaxations get what is left of it): an LP's option is set past the summed time, a
    # MIP's is the limit itself. Set past the summed time, a MIP's limit let a long root LP
    # run on (a cancel is not seen inside it): a decomposition master at 200 x 2,000 ran 19 s
    # past its 13. The limit is also kept here, on the clock.
    limit = None if time_limit is None else max(time_limit, 1e-3)
    h.setOptionValue("time_limit", INF if limit is None else
                     limit if is_mip(h) else h.getRunTime() + limit)
    # HiGHS keeps one thread pool per process; a solve with another thread count than the
    # last one fails unless the pool is reset.
    highspy.Highs.resetGlobalScheduler(True)
    started = time.monotonic()
    interrupted = timed_out = False
    h.HandleUserInterrupt = True
    h.startSolve()
    while True:
        try:
            if h.wait(0.1)[0]:
                break
            # A stop requested while stops are deferred (optimizer.stopping) raises nothing.
            if stopping.requested() and not interrupted:
                interrupted = True
                h.cancelSolve()
            elif limit is not None and not timed_out and time.monotonic() - started > limit:
                timed_out = True
                h.cancelSolve()
        except KeyboardInterrupt:
            interrupted = True
            h.cancelSolve()
    seconds = time.monotonic() - started
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    timed_out = (timed_out or h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit) \
        and not interrupted
    return Run(from_highs(h.getModelStatus(), has_solution), seconds, interrupted,
               max(0, int(info.mip_node_count)), max(0, int(info.simplex_iteration_count)),
               timed_out)


def version(h: highspy.Highs) -> str:
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
