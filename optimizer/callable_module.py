"""A package that is also the API function of the same name: ``optimizer.report``.

``optimizer.report`` is the engine's report package and, for notebooks, the function
:func:`optimizer.api.report`. Python binds a subpackage to its parent's attribute when it is
imported, so a plain function of that name in ``optimizer/__init__.py`` would be replaced by
the package as soon as anything imported it. Instead the package becomes callable:
``optimizer.report(result, "x.html")`` calls :func:`optimizer.api.report`, while
``optimizer.report.REPORT_FORMATS`` (and monkeypatching it in tests) works as before.
Assigning a module's ``__class__`` to a ``ModuleType``
subclass is supported for exactly this kind of use.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _Callable(types.ModuleType):
    _api_function: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        function = getattr(importlib.import_module("optimizer.api"), self._api_function)
        return function(*args, **kwargs)


def make_callable(module_name: str, api_function: str) -> None:
    """Let the module ``module_name`` be called as ``optimizer.api.<api_function>``."""
    module = sys.modules[module_name]
    module.__class__ = type(f"Callable_{api_function}", (_Callable,),
                            {"_api_function": api_function,
                             "__doc__": module.__doc__})
