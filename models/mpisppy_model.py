"""mpi-sppy's scenario contract for the resilience model: ``expected`` and ``cvar`` on MPI.

For users with an MPI cluster: mpi-sppy (https://github.com/Pyomo/mpi-sppy) solves
two-stage programs by scenario decomposition (progressive hedging, Lagrangian bounds,
incumbent finders), one or more scenarios per MPI rank. This module gives it what it asks
of a model, so its ``generic_cylinders`` driver runs our model unchanged::

    mpiexec -np 3 python -m mpisppy.generic_cylinders --module-name models.mpisppy_model \\
        --instance instances/medium.json --num-scens 20 --objective expected \\
        --solver-name appsi_highs --max-iterations 10 --default-rho 1 \\
        --linearize-proximal-terms --lagrangian --xhatshuffle --rel-gap 0.001

(``pip install -e ".[mpi]"`` brings mpi-sppy, mpi4py and an MPICH runtime.) Three ranks: a
progressive-hedging hub, a Lagrangian bound and an incumbent finder (``xhatshuffle``);
``--num-scens`` must be the instance's scenario count. HiGHS solves no mixed-integer
quadratic program, so PH's proximal terms must be linearised
(``--linearize-proximal-terms``). ``--EF --EF-solver-name appsi_highs --EF-solver-options
mip_rel_gap=1e-6`` instead solves mpi-sppy's extensive form on one process (mpi-sppy 0.14
does not pass ``--EF-mipgap`` on to appsi_highs: give the gap as a solver option).

The model of one scenario is :func:`models.resilience.build_model` on the instance
restricted to that scenario (probability 1 inside the model; its real probability is
``_mpisppy_probability``), so every family and scaling is the one researchers read there.
Only the objective is re-expressed per scenario, and negated, since mpi-sppy minimises:

* ``expected``: minimise ``-r_s``. The probability-weighted sum over scenarios is minus our
  expected resilience, so mpi-sppy's optimum is minus ours. The first stage costs nothing in
  the objective (money enters through the budget row), so the root node's cost is 0.
* ``cvar`` at level alpha: minimise ``-(eta - u_s / (1 - alpha))`` with ``u_s >= eta - r_s``
  (``add_cvar`` of models.objectives). ``eta`` is a first-stage variable, so it joins the
  nonanticipative variables and ``-eta`` is the root node's cost; since the probabilities
  sum to 1, the weighted sum is minus our CVaR. (mpi-sppy's own ``--cvar --cvar-alpha A
  --cvar-weight 1 --cvar-mean-weight 0`` on the ``expected`` model is the same measure:
  the upper tail of ``-R`` is the lower tail of ``R``.)

``worst_case`` and ``min_cost`` are not offered: neither is an expectation over scenarios,
which is what mpi-sppy decomposes; ``resilience solve --method decomposition`` serves them.

Nonanticipative (first-stage) variables: ``y``, ``x``, ``z``, ``modules``, ``pool`` (and
``eta`` for cvar). The lexicographic tie-breaks of ``resilience solve`` are not applied:
mpi-sppy returns one optimal plan, with the same objective value.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path
from typing import Any

import pyomo.environ as pyo

from models.resilience import build_model, prepare
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind

OFFERED = (ObjectiveKind.EXPECTED, ObjectiveKind.CVAR)
_NAME = re.compile(r"scen(\d+)")


@functools.lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int, _size: int) -> Instance:
    from optimizer.instance.reading import load_instance

    return load_instance(path)


def load(path: str | os.PathLike[str]) -> Instance:
    """The instance in ``path``, read once per process (every scenario needs it)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size)


def scenario_names_creator(num_scens: int | None, start: int | None = None) -> list[str]:
    """``scen0``, ``scen1``, ...: scenario ``scenN`` is the instance's N-th scenario."""
    if num_scens is None:
        raise ValueError("give the number of scenarios (--num-scens): the names do not "
                         "depend on the instance, so its scenario count is not known here")
    first = 0 if start is None else start
    return [f"scen{i}" for i in range(first, first + num_scens)]


def inparser_adder(cfg: Any) -> None:
    """The options ``generic_cylinders`` adds to its command line for this model."""
    cfg.num_scens_required()
    cfg.add_to_config("instance", description="instance file (JSON, design section 3)",
                      domain=str, default=None, argparse_args={"required": True})
    cfg.add_to_config("objective", description="expected or cvar (default: the instance's, "
                      "when it is one of these)", domain=str, default=None)
    cfg.add_to_config("alpha", description="CVaR level in [0, 1) for --objective cvar "
                      "(default: the instance's)", domain=float, default=None)


def kw_creator(cfg: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`scenario_creator` from the parsed options."""
    return {"instance": cfg.instance, "num_scens": cfg.get("num_scens"),
            "objective": cfg.get("objective"), "alpha": cfg.get("alpha")}


def objective_of(instance: Instance, objective: str | None = None,
                 alpha: float | None = None) -> tuple[ObjectiveKind, float]:
    """The objective mpi-sppy will optimise: the override, or the instance's own."""
    kind = ObjectiveKind(objective) if objective else instance.objective.kind
    if kind not in OFFERED:
        raise ValueError(
            f"mpi-sppy optimises an expectation over scenarios: objective {kind.value} is not "
            "offered here (use --objective expected or cvar, or resilience solve for "
            "worst_case and min_cost)")
    level = instance.objective.alpha if alpha is None else float(alpha)
    if not 0 <= level < 1:
        raise ValueError(f"alpha must be in [0, 1), got {level}")
    return kind, level


def scenario_creator(scenario_name: str, instance: Instance | str | os.PathLike[str],
                     num_scens: int | None = None, objective: str | None = None,
                     alpha: float | None = None) -> pyo.ConcreteModel:
    """The Pyomo model of one scenario, with its root node and probability attached.

    Parameters
    ----------
    scenario_name
        ``scenN`` (see :func:`scenario_names_creator`).
    instance
        An instance file, or an :class:`~optimizer.instance.data.Instance` already loaded.
    num_scens
        Number of scenarios mpi-sppy was given; it must be the instance's (the
        probabilities of a subset would not sum to 1).
    objective, alpha
        ``expected`` or ``cvar`` and the CVaR level; default the instance's.
    """
    inst = instance if isinstance(instance, Instance) else load(instance)
    count = len(inst.scenarios)
    if num_scens is not None and num_scens != count:
        raise ValueError(f"the instance has {count} scenarios, mpi-sppy was given "
                         f"{num_scens}: use --num-scens {count}")
    match = _NAME.fullmatch(scenario_name)
    if match is None or int(match.group(1)) >= count:
        raise ValueError(f"unknown scenario {scenario_name!r}: expected scen0 .. "
                         f"scen{count - 1}")
    s = int(match.group(1))
    kind, level = objective_of(inst, objective, alpha)
    scenario = inst.scenarios[s]
    one = dataclasses.replace(
        inst, scenarios=(dataclasses.replace(scenario, probability=1.0),),
        objective=dataclasses.replace(inst.objective, kind=kind, alpha=level, target=None))
    # Stock bounds and units from every scenario: each scenario's model must see the same
    # first stage, or nonanticipativity would bind x to the least of them.
    md = prepare(one, limits_from=inst)
    m = build_model(md)
    m.stock_unit = md.stock_unit  # x counts stock in these units (models.limits)
    m.scenario_id = scenario.id  # the instance's id, for the denouement
    for objective_component in m.component_objects(pyo.Objective):
        objective_component.deactivate()
    nonant = [m.y, m.x, m.z, m.modules, m.pool]
    if kind is ObjectiveKind.EXPECTED:
        # With probability 1 inside the model, tiebreak_expected is r_s itself.
        m.scenario_objective = pyo.Objective(expr=-m.tiebreak_expected.expr,
                                             sense=pyo.minimize)
        m.first_stage_cost = pyo.Expression(expr=0.0)
    else:
        m.scenario_objective = pyo.Objective(expr=-m.cvar.expr, sense=pyo.minimize)
        m.first_stage_cost = pyo.Expression(expr=-m.eta)
        nonant.append(m.eta)
    # Imported here: mpi-sppy is an optional extra; the rest of the engine runs without it.
    from mpisppy.utils import sputils

    sputils.attach_root_node(m, m.first_stage_cost, nonant)
    m._mpisppy_probability = scenario.probability
    return m


def scenario_denouement(rank: int, scenario_name: str, scenario: pyo.ConcreteModel) -> None:
    """One line per scenario after mpi-sppy's last solve of it: its resilience R_s."""
    value = scenario.r[0].value
    if value is not None:
        print(f"rank {rank}: {scenario_name} (scenario {scenario.scenario_id}) resilience "
              f"{value:.6f}", flush=True)
