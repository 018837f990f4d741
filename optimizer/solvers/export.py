"""Write the engine's model as an MPS or LP file, so that any solver can run it.

The file is the Pyomo model of ``models.resilience`` with its primary objective only, with
symbolic names (``y(0)``, ``x(0_1)``, ``c_u_budget_``...) and a header of comments that says
how its objective relates to the value the engine reports, and which instance ids the
indices stand for.

How the exported objective relates to ``objective.value`` in a result file:

* ``worst_case``, ``expected``, ``cvar``: the file *maximises* (``OBJSENSE MAX`` in MPS,
  ``max`` in LP) the same resilience the engine reports, in [0, 1]: the optimal values are
  equal (within the MIP gap).
* ``min_cost``: the file *minimises* the total first-stage cost as a share of the money
  scale M (the budget when it is positive; the model reads money in those units to keep
  coefficients within six orders of magnitude): the engine's value in money is the file's
  optimum times M, which the header states.

The lexicographic tie-breaks (design section 2) are not in the file: a solver may return
another of the equally good plans, with the same objective value.
"""

from __future__ import annotations

import dataclasses
import tempfile
import textwrap
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyomo.environ as pyo
from pyomo.opt import ProblemFormat

from models.objectives import SPECS
from models.resilience import ModelData, build_model, prepare
from optimizer.errors import UsageError
from optimizer.files import write_atomic
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.solvers.pyomo_shell import model_size

FORMATS: dict[str, str] = {".mps": "mps", ".lp": "lp"}
_COMMENT = {"mps": "* ", "lp": "\\ "}
_PYOMO_FORMAT = {"mps": ProblemFormat.mps, "lp": ProblemFormat.cpxlp}


def with_overrides(instance: Instance, *, objective: str | None = None,
                   alpha: float | None = None, target: float | None = None,
                   budget: float | None = None) -> Instance:
    """The instance with the command line's objective, CVaR level, target and budget.

    Raises
    ------
    UsageError
        ``min_cost`` without a target, here or in the instance.
    """
    o = instance.objective
    kind = ObjectiveKind(objective) if objective else o.kind
    new = dataclasses.replace(o, kind=kind, alpha=o.alpha if alpha is None else alpha,
                              target=o.target if target is None else target)
    if SPECS[kind].parameter == "target" and new.target is None:
        raise UsageError(f"{kind.value} needs a target: give --target T or objective.target")
    changes: dict = {"objective": new}
    if budget is not None:
        changes["budget"] = budget
    return dataclasses.replace(instance, **changes)


@dataclass(frozen=True)
class Exported:
    """What was written: the file, its format, size, and the objective's relation to ours."""

    path: Path
    format: str
    size: dict[str, int]
    sense: str  # "maximise" or "minimise"
    scale: float  # engine's objective.value = file's optimum * scale
    objective: str  # in words


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"cannot tell the model format of {path}: use a name ending in "
                         + " or ".join(FORMATS))
    return FORMATS[suffix]


def objective_words(instance: Instance, md: ModelData) -> tuple[str, str, float]:
    """(sense, what the optimum means, scale to the engine's value)."""
    o = instance.objective
    spec = SPECS[o.kind]
    if spec.money:
        return ("minimise", spec.meaning(o, md.money_scale), md.money_scale)
    return ("maximise", f"{spec.meaning(o, 1.0)}, in [0, 1]: equal to the engine's "
            "objective.value", 1.0)


def _legend(instance: Instance) -> list[str]:
    def items(label: str, ids: list[str]) -> str:
        return f"{label}: " + (", ".join(f"{j}={i}" for j, i in enumerate(ids)) or "none")

    return [
        items("depots d", [d.id for d in instance.depots]),
        items("commodities k", [c.id for c in instance.commodities]),
        items("shelters h", [h.id for h in instance.shelters]),
        items("scenarios s", [s.id for s in instance.scenarios]),
    ]


def header(instance: Instance, md: ModelData, fmt: str) -> str:
    """The comment lines that open the exported file."""
    sense, meaning, _ = objective_words(instance, md)
    try:
        version = metadata.version("community-resilience")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        version = "unknown"
    lines = [
        f"resilience export (community-resilience {version}) of instance {instance.name}"
        + (f" (sha256 {instance.sha256})" if instance.sha256 else ""),
        f"budget {instance.budget:,.6g}; objective {instance.objective.kind.value}: "
        f"{sense} {meaning}.",
        "Scaling (models/resilience.py): money is a share of M; supply flows g are shares of "
        "each scenario's weighted need, shelter flows v of its evacuees, econ(s) of its "
        "economic loss; r(s) is the resilience of scenario s.",
        "First stage: y(d) open depot d, x(d_k) units of commodity k bought for depot d, "
        "z(h) open shelter h, modules(h) capacity modules, pool compensation pool (share of "
        "M). The engine's tie-breaks among equally good plans are not in this file.",
        *_legend(instance),
    ]
    prefix = _COMMENT[fmt]
    out = []
    for line in lines:
        out += [prefix + part for part in textwrap.wrap(line, 96, break_on_hyphens=False)]
    return "\n".join(out) + "\n"


def export_model(instance: Instance, path: str | Path) -> Exported:
    """Write ``instance``'s extensive form with its primary objective to ``path``.

    The format follows the extension (``.mps``: free MPS; ``.lp``: CPLEX LP). The file is
    written whole or not at all.
    """
    path = Path(path)
    fmt = format_of(path)
    md = prepare(instance)
    model = build_model(md)
    size = model_size(model, md)
    with tempfile.TemporaryDirectory(prefix="resilience-export-") as folder:
        tmp = Path(folder) / f"model.{fmt}"
        model.write(str(tmp), format=_PYOMO_FORMAT[fmt],
                    io_options={"symbolic_solver_labels": True})
        text = tmp.read_text(encoding="utf-8")
    write_atomic(path, header(instance, md, fmt) + text)
    sense, meaning, scale = objective_words(instance, md)
    assert model.objective.sense == (pyo.maximize if sense == "maximise" else pyo.minimize)
    return Exported(path, fmt, size, sense, scale, meaning)


__all__ = ["FORMATS", "Exported", "export_model", "format_of", "with_overrides"]
