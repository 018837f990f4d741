"""Objectives a benchmark runs, written ``worst_case``, ``expected``, ``cvar:0.9``,
``min_cost:0.5`` or ``instance`` (each instance's own)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optimizer.choices import ObjectiveKind
from optimizer.errors import UsageError

INSTANCE = "instance"


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
        if self.kind == ObjectiveKind.CVAR and self.alpha is not None:
            return f"cvar:{self.alpha:g}"
        if self.kind == ObjectiveKind.MIN_COST and self.target is not None:
            return f"min_cost:{self.target:g}"
        return self.kind

    @property
    def maximise(self) -> bool:
        return self.kind != ObjectiveKind.MIN_COST


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
    if kind not in (ObjectiveKind.CVAR, ObjectiveKind.MIN_COST):
        raise UsageError(f"objective {text!r}: only cvar (alpha) and min_cost (target) take "
                         "a number")
    try:
        value = float(number)
    except ValueError:
        raise UsageError(f"objective {text!r}: {number!r} is not a number") from None
    if kind == ObjectiveKind.CVAR:
        if not 0 <= value < 1:
            raise UsageError(f"objective {text!r}: alpha must be in [0, 1)")
        return ObjectiveSpec(kind, alpha=value)
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise UsageError(f"objective {text!r}: the target must be in [0, 1]")
    return ObjectiveSpec(kind, target=value)


def instance_objective(doc: Any) -> ObjectiveSpec:
    """The objective an instance file states (its ``objective`` entry, with the defaults)."""
    entry = doc.get("objective") if isinstance(doc, dict) else None
    entry = entry if isinstance(entry, dict) else {}
    kind = str(entry.get("kind") or ObjectiveKind.WORST_CASE.value)
    if kind == ObjectiveKind.CVAR:
        return ObjectiveSpec(kind, alpha=float(entry.get("alpha", 0.9)))
    if kind == ObjectiveKind.MIN_COST:
        target = entry.get("target")
        return ObjectiveSpec(kind, target=None if target is None else float(target))
    return ObjectiveSpec(kind)
