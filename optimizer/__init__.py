"""Community resilience: plan a community's supplies, shelters and compensation pool for
its worst days (two-stage stochastic MIP, re-checked by networkx maximum flow).

The Python API, for notebooks and scripts (the ``resilience`` command does the same jobs)::

    import optimizer

    instance = optimizer.load_instance("instances/tiny.json")   # a path, "-", or a dict
    result = optimizer.solve(instance, time_limit=60)            # -> optimizer.Result
    result.status, result.resilience.worst_case, result.cost.total
    [d.id for d in result.plan.depots if d.open]
    optimizer.evaluate(instance, result).max_difference          # max flow, no solver
    optimizer.report(result, "tiny.xlsx", instance=instance)     # .html .md .xlsx .geojson
    text = result.to_json()                                      # the file `solve` writes
    again = optimizer.Result.from_json(text)

- :func:`load_instance` reads, checks and expands an instance (``InputError`` names every
  problem with its JSON path);
- :func:`solve` returns a :class:`Result`, the typed result file (status, objective, plan,
  cost, resilience, scenarios, verification) with ``to_json()`` / ``from_json()``;
- :func:`evaluate` re-evaluates a result's plan by maximum flow (an :class:`Evaluation`);
- :func:`report` writes or returns a report (HTML, Markdown, CSV, spreadsheet, GeoJSON).

Names are imported on first use, so ``import optimizer`` loads neither the solver nor the
report modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optimizer.api import Evaluation, evaluate, load_instance, report, solve
    from optimizer.errors import InfeasibleError, InputError, ResilienceError, SolverFailure
    from optimizer.instance.data import Instance
    from optimizer.results.document import Result

# name -> the module that defines it. report is also the engine's package of that name,
# made callable as optimizer.api.report (optimizer.callable_module: importing a subpackage
# rebinds the package attribute, so a function could not keep the name).
_MODULES = {"report"}
_EXPORTS = {
    "load_instance": "optimizer.api",
    "solve": "optimizer.api",
    "evaluate": "optimizer.api",
    "report": "optimizer.report",
    "Evaluation": "optimizer.api",
    "Result": "optimizer.results.document",
    "Instance": "optimizer.instance.data",
    "ResilienceError": "optimizer.errors",
    "InputError": "optimizer.errors",
    "InfeasibleError": "optimizer.errors",
    "SolverFailure": "optimizer.errors",
}

__all__ = ["Evaluation", "InfeasibleError", "InputError", "Instance", "ResilienceError",
           "Result", "SolverFailure", "evaluate", "load_instance", "report", "solve"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        # Submodules (optimizer.instance.reading, ...) still import as usual.
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
    value = (importlib.import_module(module) if name in _MODULES
             else getattr(importlib.import_module(module), name))
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
