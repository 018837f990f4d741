"""The extensive form through Pyomo's solver interfaces: CBC, GLPK, SCIP, Gurobi, Xpress, CPLEX.

The same model as the HiGHS route (``models.resilience``), solved in two steps:

1. the primary objective, always handed to the solver as a *minimisation* (a maximised
   resilience is sent as ``min -objective``): Pyomo's shell interfaces read the bounds of a
   minimisation reliably, while CBC's bound on a maximisation comes back with the wrong sign;
2. the recourse polish: the first stage fixed at the (rounded) plan, ``max sum_s r_s``, so
   every scenario's resilience is the best the plan allows, which is what the independent
   max-flow check in ``optimizer.pipeline`` computes.

The lexicographic tie-breaks of design section 2 (among equally good plans, higher expected
resilience, then lower cost) run with HiGHS only; ``Solution.message`` says so. The primary
objective's value is therefore the same whichever solver is used (within the MIP gap), but
the plan may be another of the equally good ones.

Every Pyomo outcome is mapped to :class:`optimizer.status.Status` in :func:`status_of`, the
one place for this route. Nothing is printed on standard output: the solvers run with their
output off and file descriptor 1 pointed at ``/dev/null`` while they run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import TerminationCondition
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from models.objectives import SPECS, TIEBREAK_WORDS
from models.resilience import ModelData, build_model, prepare
from optimizer.errors import InfeasibleError, SolverFailure, UsageError
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.highs import quiet_stdout
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.plan import Plan
from optimizer.solvers import registry
from optimizer.solvers.base import (
    final_value,
    infeasible_message,
    no_plan_in_time,
    outcomes_from_flows,
    plan_from_values,
)
from optimizer.solvers.contract import Solution, SolveOptions, Stage
from optimizer.solvers.presolve import prove_infeasible
from optimizer.status import Status


class SolverUnavailable(UsageError):
    """The solver asked for is not installed (or not licensed) here; says how to get it."""


# ------------------------------------------------------------------------ the solvers


@dataclass(frozen=True)
class ExternalSolver:
    """One solver reached through Pyomo: the interfaces to try and how to set its limits."""

    name: str
    interfaces: tuple[str, ...]  # Pyomo SolverFactory names, the first available is used
    install: str  # what to install when none of the interfaces is available
    gap: str  # the option of the relative MIP gap
    time: str  # the option of the time limit, in seconds
    threads: str | None = None  # the option of the thread count (None: single-threaded)
    whole_seconds: bool = False  # the time limit in whole seconds only
    always: tuple[tuple[str, Any], ...] = ()  # options set on every run

    def options(self, time_limit: float | None, gap: float,
                threads: int | None) -> dict[str, Any]:
        options: dict[str, Any] = {self.gap: gap, **dict(self.always)}
        if time_limit is not None:
            options[self.time] = (max(1, math.ceil(time_limit)) if self.whole_seconds
                                  else max(time_limit, 0.01))
        if threads and self.threads:
            options[self.threads] = threads
        return options


SOLVERS: dict[str, ExternalSolver] = {s.name: s for s in (
    ExternalSolver("cbc", ("cbc",), "install CBC's executable: apt-get install coinor-cbc",
                   gap="ratioGap", time="sec", threads="threads"),
    # GLPK is single-threaded. Its LP presolver (on by default in glpsol 5.0) has returned
    # recourse values that break a row by 7e-4 here (medium.json, min_cost at 0.5); without
    # it the same LP comes back right.
    ExternalSolver("glpk", ("glpk",), "install GLPK's executable: apt-get install glpk-utils",
                   gap="mipgap", time="tmlim", whole_seconds=True, always=(("nopresol", ""),)),
    # SCIP's default solve is single-threaded.
    ExternalSolver("scip", ("scip_direct", "scip"),
                   "install PySCIPOpt: pip install 'community-resilience[scip]'",
                   gap="limits/gap", time="limits/time"),
    ExternalSolver("gurobi", ("gurobi_direct",), "install gurobipy and a Gurobi licence",
                   gap="MIPGap", time="TimeLimit", threads="Threads"),
    # Xpress 9: the time limit is a hard limit.
    ExternalSolver("xpress", ("xpress_direct",), "install the xpress package and an Xpress licence",
                   gap="miprelstop", time="timelimit", threads="threads"),
    ExternalSolver("cplex", ("cplex_direct",), "install the cplex package and a CPLEX licence",
                   gap="mip_tolerances_mipgap", time="timelimit", threads="threads"),
)}
# The registry names these without importing this module (the command line lists them).
assert {name for (name, _), module in registry.ROUTES.items() if module == __name__} == \
    set(SOLVERS), "optimizer.solvers.registry.ROUTES is out of date"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Standard output to /dev/null (solvers write from C) and Pyomo's chatter off.

    Pyomo logs a warning when it loads a solution stopped at a limit, and when it looks for
    an executable that is not there; both are expected here and reported in our own words.
    """
    loggers = [logging.getLogger(name) for name in ("pyomo.core", "pyomo.opt", "pyomo.solvers")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with quiet_stdout():
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def availability(name: str) -> tuple[str | None, str]:
    """(Pyomo interface to use, or None; why not) for solver ``name``.

    A licence is not checked here: a licence failure at solve time raises
    :class:`SolverUnavailable` too.
    """
    spec = SOLVERS.get(name)
    if spec is None:
        return None, registry.unknown_solver(name)
    with _quiet():
        for interface in spec.interfaces:
            try:
                if pyo.SolverFactory(interface).available(exception_flag=False):
                    return interface, ""
            except Exception:  # a broken installation counts as not installed
                continue
    return None, f"solver {name} is not installed here ({spec.install})"


def solver_version(name: str) -> str:
    """The version of solver ``name`` as the solver states it, or '' when not installed."""
    return PyomoRoute(name).version()


def _version(interface: str, solver: Any) -> str:
    if interface == "scip_direct":
        import pyscipopt

        model = pyscipopt.Model()
        return (f"{model.getMajorVersion()}.{model.getMinorVersion()}."
                f"{model.getTechVersion()} (PySCIPOpt {pyscipopt.__version__})")
    try:
        parts = list(solver.version() or ())
    except Exception:
        return "unknown"
    while len(parts) > 2 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts) or "unknown"


# ---------------------------------------------------------------------------- statuses

_TC = TerminationCondition
# Stopped before proving anything: there is a plan only if the solver returned one.
_LIMITS = {_TC.maxTimeLimit, _TC.maxIterations, _TC.maxEvaluations, _TC.minFunctionValue,
           _TC.minStepLength, _TC.userInterrupt, _TC.resourceInterrupt, _TC.other,
           _TC.feasible, _TC.intermediateNonInteger}
_PROVED = {_TC.optimal, _TC.globallyOptimal, _TC.locallyOptimal}
_NO_PLAN = {_TC.infeasible, _TC.infeasibleOrUnbounded, _TC.noSolution}
# unbounded cannot happen (every variable is bounded); the rest are failures.
_FAILURES = {_TC.unbounded, _TC.invalidProblem, _TC.solverFailure, _TC.internalSolverError,
             _TC.error, _TC.licensingProblems, _TC.unknown}


def status_of(termination: TerminationCondition, has_solution: bool,
              gap_reached: bool = False) -> Status:
    """Map Pyomo's termination condition (plus whether a solution came back) to ours.

    ``feasible`` is GLPK's word both for "stopped at its time limit with an incumbent" (CBC
    says ``maxTimeLimit``) and for "stopped because the MIP gap was reached"; only its log
    tells them apart (``gap_reached``, see :func:`glpk_log`). The second is our ``optimal``,
    as it is for every other solver.
    """
    if gap_reached and has_solution and termination in _PROVED | _LIMITS:
        return Status.OPTIMAL
    if termination in _PROVED:
        return Status.OPTIMAL if has_solution else Status.ERROR
    if termination in _LIMITS:
        return Status.FEASIBLE if has_solution else Status.INFEASIBLE
    if termination in _NO_PLAN:
        return Status.INFEASIBLE
    if termination in _FAILURES:
        return Status.ERROR
    raise ValueError(f"unmapped termination condition {termination}")  # pragma: no cover


@dataclass(frozen=True)
class GlpkLog:
    """What GLPK's log says that Pyomo's results do not."""

    gap_reached: bool
    bound: float | None  # of the problem GLPK solved (our minimisation)
    iterations: int
    nodes: int


_GLPK_PROGRESS = re.compile(
    r"^\+\s*(\d+):\s*(?:mip\s*=|>>>>>)\s*(\S+)\s*[<>]=\s*(\S+)(?:.*\((\d+);\s*(\d+)\))?")


def glpk_log(text: str) -> GlpkLog:
    """Read the last branch-and-bound progress line of a ``glpsol`` log.

    A line reads ``+  3242: mip = -2.646045437e-01 >= -2.646047861e-01 < 0.1% (1; 166)``:
    simplex iterations, incumbent, bound, gap, then active and finished subproblems.
    """
    bound = None
    iterations = nodes = 0
    for line in text.splitlines():
        match = _GLPK_PROGRESS.match(line.strip())
        if match is None:
            continue
        iterations = int(match.group(1))
        bound = _number(match.group(3).replace("inf", "nan"))
        if match.group(4) is not None:
            nodes = int(match.group(4)) + int(match.group(5))
    return GlpkLog("RELATIVE MIP GAP TOLERANCE REACHED" in text, bound, iterations, nodes)


# ------------------------------------------------------------------------------ solving


def model_size(model: pyo.ConcreteModel, md: ModelData) -> dict[str, int]:
    """Size as the HiGHS route counts it: Pyomo's standard form (mixed), primary objective."""
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    return {"variables": len(info.columns), "constraints": len(info.rows),
            "nonzeros": int(info.A.nnz),
            "integer_variables": sum(1 for v in info.columns if v.is_integer()),
            "scenarios": md.num_scenarios}


def _first_stage(model: pyo.ConcreteModel) -> Iterator[Any]:
    for component in (model.y, model.x, model.z, model.modules):
        yield from component.values()
    yield model.pool


def _val(var: Any, default: float = 0.0) -> float:
    """A variable's value; one left out of the problem (in no active row) has none."""
    return default if var.value is None else float(var.value)


def _plan(model: pyo.ConcreteModel, md: ModelData) -> Plan:
    """The first stage in the engine's units, rounded as the HiGHS route rounds it."""
    inst = md.instance
    D, K, H = len(inst.depots), len(inst.commodities), len(inst.shelters)
    stock = np.array([[_val(model.x[d, k]) for k in range(K)] for d in range(D)],
                     dtype=float).reshape(D, K) * md.stock_unit
    return plan_from_values(
        inst, md.money_scale,
        opened=np.array([_val(model.y[d], float(dep.existing))
                         for d, dep in enumerate(inst.depots)]),
        stock=stock, integer=md.stock_integer,
        shelters=np.array([_val(model.z[h], float(sh.existing))
                           for h, sh in enumerate(inst.shelters)]),
        modules=np.array([_val(model.modules[h]) for h in range(H)]),
        pool=_val(model.pool))


def _fix(model: pyo.ConcreteModel, md: ModelData, plan: Plan) -> None:
    """Fix the first stage at ``plan`` (in the model's scaled units)."""
    for d in model.D:
        model.y[d].fix(1.0 if plan.open_depots[d] else 0.0)
        for k in model.K:
            model.x[d, k].fix(float(plan.stock[d, k] / md.stock_unit[d, k]))
    for h in model.H:
        model.z[h].fix(1.0 if plan.open_shelters[h] else 0.0)
        model.modules[h].fix(float(plan.modules[h]))
    model.pool.fix(plan.compensation_pool / md.money_scale)


def _set_start(model: pyo.ConcreteModel, md: ModelData, plan: Plan) -> None:
    for d in model.D:
        if not model.y[d].fixed:
            model.y[d].set_value(1.0 if plan.open_depots[d] else 0.0)
        for k in model.K:  # stock beyond what is useful changes nothing (models.limits)
            stock = min(float(plan.stock[d, k]), float(md.stock_upper[d, k]))
            model.x[d, k].set_value(stock / float(md.stock_unit[d, k]))
    for h in model.H:
        if not model.z[h].fixed:
            model.z[h].set_value(1.0 if plan.open_shelters[h] else 0.0)
        model.modules[h].set_value(float(plan.modules[h]))
    model.pool.set_value(plan.compensation_pool / md.money_scale)


def _outcomes(model: pyo.ConcreteModel, md: ModelData) -> list[ScenarioOutcome]:
    """Each scenario's recourse from the model's values, in the engine's units."""
    g = np.array([_val(model.g[j]) for j in model.G]) if len(model.G) else np.zeros(0)
    v = np.array([_val(model.v[j]) for j in model.V]) if len(model.V) else np.zeros(0)
    econ = np.array([_val(model.econ[s]) for s in model.S])
    return outcomes_from_flows(md, g, v, econ)


def _number(value: Any) -> float | None:
    """A finite float from a Pyomo results field (which may be Undefined or None)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _count(results: Any, *path: str) -> int:
    node = results.solver.statistics
    try:
        for part in path:
            node = getattr(node, part)
    except AttributeError:
        return 0
    number = _number(node)
    return max(0, int(number)) if number is not None else 0


def _effort(solver: Any, results: Any, glpk: GlpkLog | None) -> tuple[int, int]:
    """(branch-and-bound nodes, simplex iterations) of the primary solve, where known."""
    if glpk is not None:
        return glpk.nodes, glpk.iterations
    scip = getattr(solver, "_solver_model", None)  # scip_direct keeps the PySCIPOpt model
    if scip is not None and hasattr(scip, "getNNodes"):
        try:
            return int(scip.getNNodes()), int(scip.getNLPIterations())
        except Exception:  # the counts are informative only
            pass
    return (_count(results, "branch_and_bound", "number_of_created_subproblems"),
            _count(results, "black_box", "number_of_iterations"))


def _run(solver: Any, model: pyo.ConcreteModel, name: str, spec: ExternalSolver,
         time_limit: float | None, options: SolveOptions, warmstart: bool = False
         ) -> tuple[Any, float, GlpkLog | None]:
    """One solve; for GLPK also its log (see :func:`glpk_log`)."""
    solver.options.clear()
    for key, value in spec.options(time_limit, options.mip_gap, options.threads).items():
        solver.options[key] = value
    extra: dict[str, Any] = {"warmstart": True} if warmstart else {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="resilience-") as folder:
        if name == "glpk":
            extra["logfile"] = os.path.join(folder, "glpk.log")
        try:
            with _quiet():
                results = solver.solve(model, load_solutions=False, tee=False, **extra)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            if "licen" in text.lower():
                raise SolverUnavailable(f"solver {name} has no usable licence here ({text})"
                                        ) from None
            raise SolverFailure(f"{name} failed: {text}") from None
        log = None
        if "logfile" in extra and os.path.exists(extra["logfile"]):
            with open(extra["logfile"], encoding="utf-8", errors="replace") as handle:
                log = glpk_log(handle.read())
    return results, time.monotonic() - started, log


def _load(model: pyo.ConcreteModel, results: Any) -> None:
    with _quiet():
        model.solutions.load_from(results)


def solve_external(instance: Instance, options: SolveOptions) -> Solution:
    """Solve the extensive form of ``instance`` with ``options.solver`` through Pyomo.

    Raises
    ------
    SolverUnavailable
        The solver is not installed (or not licensed) here; the message says what to install.
    InfeasibleError
        No plan exists, or the solver stopped at its limit before finding one.
    SolverFailure
        The solver failed, or the recourse of its plan could not be re-solved.
    """
    name = options.solver
    spec = SOLVERS.get(name)
    if spec is None:
        raise UsageError(registry.unknown_solver(name))
    interface, reason = availability(name)
    if interface is None:
        raise SolverUnavailable(reason)
    log = options.log or (lambda _msg: None)
    prove_infeasible(instance)

    t0 = time.monotonic()
    md = prepare(instance)
    model = build_model(md)
    build_seconds = time.monotonic() - t0
    size = model_size(model, md)
    with _quiet():
        solver = pyo.SolverFactory(interface)
        version = _version(interface, solver)
    log(f"built the model in {build_seconds:.2f} s; {size['variables']} variables, "
        f"{size['constraints']} constraints, {size['nonzeros']} non-zeros; solving with "
        f"{name} {version} through Pyomo's {interface}")
    primary = _solve_primary(instance, options, md, model, solver, spec)
    plan = _plan(model, md)
    stages = [primary.stage, _polish(model, md, plan, solver, spec, options)]
    outcomes = _outcomes(model, md)
    value = final_value(instance, plan, outcomes)
    status, bound, gap = _settled(instance, primary, value)
    return Solution(
        status=status,
        message=_message(status, name, version, instance.objective.kind, options.mip_gap),
        plan=plan, objective_value=value, bound=bound, gap=gap,
        outcomes=outcomes, solver_version=version, build_seconds=build_seconds,
        handoff_seconds=0.0, solve_seconds=sum(s.seconds for s in stages),
        nodes=primary.nodes, iterations=primary.iterations, stages=tuple(stages), size=size,
        solver_name=name, method="extensive",
    )


@dataclass(frozen=True)
class _Primary:
    """The primary objective's run: its stage, its status and bound (user units), its work."""

    stage: Stage
    status: Status
    bound: float | None
    nodes: int
    iterations: int


def _solve_primary(instance: Instance, options: SolveOptions, md: ModelData,
                   model: pyo.ConcreteModel, solver: Any, spec: ExternalSolver) -> _Primary:
    """The primary objective, always handed to the solver as a minimisation (module
    docstring); raises when it ends without a plan."""
    name, kind, log = options.solver, instance.objective.kind, options.log or (lambda _m: None)
    maximise = model.objective.sense == pyo.maximize
    sign = -1.0 if maximise else 1.0  # turns the minimisation back
    scale = md.money_scale if SPECS[kind].money else 1.0
    model.objective.deactivate()
    model.primary = pyo.Objective(expr=sign * model.objective.expr, sense=pyo.minimize)
    warm = options.start is not None and bool(getattr(solver, "warm_start_capable",
                                                      lambda: False)())
    if warm:
        assert options.start is not None
        _set_start(model, md, options.start)
    results, seconds, glpk = _run(solver, model, name, spec, options.remaining(), options,
                                  warm)
    termination = results.solver.termination_condition
    status = status_of(termination, len(results.solution) > 0,
                       glpk is not None and glpk.gap_reached)
    _raise_without_plan(instance, name, termination, status, results)
    _load(model, results)
    primary = sign * float(pyo.value(model.primary)) * scale
    dual = _number(results.problem.lower_bound)  # of the minimisation
    if glpk is not None and glpk.bound is not None:
        dual = glpk.bound if dual is None else max(dual, glpk.bound)
    log(f"{kind.value}: {primary:.6g} ({status.value}, {seconds:.2f} s)")
    nodes, iterations = _effort(solver, results, glpk)
    return _Primary(Stage("objective", status.value, primary, seconds), status,
                    None if dual is None else sign * dual * scale, nodes, iterations)


def _raise_without_plan(instance: Instance, name: str, termination: TerminationCondition,
                        status: Status, results: Any) -> None:
    """Raise the reason when the primary's run left no plan (or no licence)."""
    if termination is _TC.licensingProblems:
        raise SolverUnavailable(f"solver {name} has no usable licence here")
    if status is Status.ERROR:
        raise SolverFailure(f"{name} failed: {termination} "
                            f"({results.solver.termination_message or 'no message'})")
    if status is Status.INFEASIBLE:
        if termination in _LIMITS:
            raise InfeasibleError(no_plan_in_time(name, f"its limit ({termination})"))
        raise InfeasibleError(infeasible_message(instance))


def _polish(model: pyo.ConcreteModel, md: ModelData, plan: Plan, solver: Any,
            spec: ExternalSolver, options: SolveOptions) -> Stage:
    """Recourse polish: first stage fixed, every scenario's resilience maximised (an LP)."""
    _fix(model, md, plan)
    model.primary.deactivate()
    model.recourse = pyo.Objective(expr=-sum(model.r[s] for s in model.S),
                                   sense=pyo.minimize)
    polish, seconds, _ = _run(solver, model, options.solver, spec, None, options)
    if status_of(polish.solver.termination_condition,
                 len(polish.solution) > 0) is not Status.OPTIMAL:
        raise SolverFailure(f"the recourse of the chosen plan could not be re-solved by "
                            f"{options.solver}: {polish.solver.termination_condition}")
    _load(model, polish)
    return Stage("recourse", Status.OPTIMAL.value, None, seconds)


def _settled(instance: Instance, primary: _Primary,
             value: float) -> tuple[Status, float | None, float | None]:
    """Status, bound and gap at the final plan (the bound never past its value)."""
    bound = primary.bound
    if bound is None and primary.status is Status.OPTIMAL:
        bound = value
    if bound is not None:
        bound = min(bound, value) if SPECS[instance.objective.kind].money else max(bound, value)
    gap = None if bound is None else abs(bound - value) / max(abs(value), 1e-10)
    return primary.status, bound, None if gap is None else (0.0 if gap < 1e-9 else gap)


def _message(status: Status, name: str, version: str, kind: ObjectiveKind,
             mip_gap: float) -> str:
    text = (f"optimal within the MIP gap of {mip_gap * 100:.4g}% ({name} {version})"
            if status is Status.OPTIMAL else
            f"stopped at the time limit ({name} {version}); the plan is the best found, with "
            "its bound and gap where the solver reports one")
    ties = ", then ".join(TIEBREAK_WORDS[stage] for stage in SPECS[kind].tiebreaks)
    if not ties:
        return text
    return (text + f"; the tie-breaks among equally good plans ({ties}) run with HiGHS only, "
            "so another plan as good may exist")


__all__ = ["SOLVERS", "ExternalSolver", "SolverUnavailable", "availability",
           "model_size", "solve_external", "solver", "solver_version", "status_of"]


@dataclass(frozen=True)
class PyomoRoute:
    """A solver reached through Pyomo (a :class:`optimizer.solvers.contract.Solver`). Where
    it is installed is asked once per route (asking runs the solver's executable)."""

    name: str
    method: str = "extensive"

    @cached_property
    def _found(self) -> tuple[str | None, str]:
        return availability(self.name)

    @property
    def interface(self) -> str:
        return self._found[0] or ""

    def unavailable(self) -> str:
        return self._found[1]

    def version(self) -> str:
        if not self.interface:
            return ""
        with _quiet():
            return _version(self.interface, pyo.SolverFactory(self.interface))

    def solve(self, instance: Instance, options: SolveOptions) -> Solution:
        return solve_external(instance, replace(options, solver=self.name))


def solver(name: str) -> PyomoRoute:
    """The route of solver ``name``, for the registry (:mod:`optimizer.solvers.registry`)."""
    if name not in SOLVERS:
        raise UsageError(registry.unknown_solver(name))
    return PyomoRoute(name)
