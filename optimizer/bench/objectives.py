"""Objectives a benchmark runs, written ``worst_case``, ``expected``, ``cvar:0.9``,
``min_cost:0.5`` or ``instance`` (each instance's own)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optimizer.choices import PARAMETER_OF, ObjectiveKind
from optimizer.errors import UsageError

INSTANCE = "instance"
# The file's default for a number the instance leaves out (optimizer.instance.schema).
DEFAULTS = {"alpha": 0.9}


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective override; ``kind`` None keeps the instance's own."""

    kind: str | None
    alpha: float | None = None
    target: float | None = None

    @property
    def label(self) -> str:
        """The canonical text: the CSV's ``objective`` column and the resume key."""
        if self.kind is None:
            return INSTANCE
        number = self.number
        return self.kind if number is None else f"{self.kind}:{number:g}"

    @property
    def number(self) -> float | None:
        """Its alpha or target (optimizer.choices.PARAMETER_OF), when it has one."""
        parameter = PARAMETER_OF.get(ObjectiveKind(self.kind)) if self.kind else None
        return None if parameter is None else getattr(self, parameter)

    @property
    def maximise(self) -> bool:
        from models.objectives import spec_of  # numpy: not for `resilience --help`

        return self.kind is None or not spec_of(self.kind).money


def parse_objective(text: str) -> ObjectiveSpec:
    """``kind[:number]``: the number is alpha for cvar, the target for min_cost."""
    text = text.strip()
    if text == INSTANCE:
        return ObjectiveSpec(None)
    kind, _, number = text.partition(":")
    kinds = [k.value for k in ObjectiveKind]
    if kind not in kinds:
        raise UsageError(f"unknown objective {text!r}; write one of {', '.join(kinds)}, "
                         "cvar:ALPHA, min_cost:TARGET or instance")
    if not number:
        return ObjectiveSpec(kind)
    parameter = PARAMETER_OF.get(ObjectiveKind(kind))
    if parameter is None:
        raise UsageError(f"objective {text!r}: only " + " and ".join(
            f"{k.value} ({p})" for k, p in PARAMETER_OF.items()) + " take a number")
    try:
        value = float(number)
    except ValueError:
        raise UsageError(f"objective {text!r}: {number!r} is not a number") from None
    if parameter == "alpha":
        if not 0 <= value < 1:
            raise UsageError(f"objective {text!r}: alpha must be in [0, 1)")
    elif not (math.isfinite(value) and 0 <= value <= 1):
        raise UsageError(f"objective {text!r}: the {parameter} must be in [0, 1]")
    return ObjectiveSpec(kind, **{parameter: value})


def instance_objective(doc: Any) -> ObjectiveSpec:
    """The objective an instance file states (its ``objective`` entry, with the defaults)."""
    entry = doc.get("objective") if isinstance(doc, dict) else None
    entry = entry if isinstance(entry, dict) else {}
    kind = str(entry.get("kind") or ObjectiveKind.WORST_CASE.value)
    parameter = PARAMETER_OF.get(ObjectiveKind(kind)) if kind in set(ObjectiveKind) else None
    if parameter is None:
        return ObjectiveSpec(kind)
    number = entry.get(parameter, DEFAULTS.get(parameter))
    return ObjectiveSpec(kind, **{parameter: None if number is None else float(number)})
