"""The vocabulary the array builder (:mod:`models.direct`) writes the model in: variable
families, constraint families and their terms, each a handful of numpy arrays.

:mod:`models.objectives` writes each objective's variables, rows and terms in it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INF = float("inf")


@dataclass(frozen=True)
class Variables:
    """One variable family: flat indices, bounds, integrality and fixed entries (at 1)."""

    name: str
    lower: np.ndarray
    upper: np.ndarray
    integer: bool | np.ndarray  # one flag for the family, or one per entry
    fixed: np.ndarray | None = None  # bool mask; a fixed entry's value is 1

    @property
    def size(self) -> int:
        return len(self.lower)


@dataclass(frozen=True)
class Terms:
    """Terms of one variable family in some rows of one constraint family (or objective).

    ``pos`` is where the family's first term in that row stands in the Pyomo expression;
    only the order of first appearance of each family depends on it.
    """

    family: str
    row: np.ndarray  # row within its constraint family (zeros for an objective)
    index: np.ndarray  # flat index within the variable family
    coef: np.ndarray
    pos: np.ndarray | int = 0


@dataclass(frozen=True)
class Rows:
    """One constraint family: ``lower <= body <= upper`` per row, and its terms."""

    name: str
    labels: np.ndarray | None  # Pyomo index of each row; None for a scalar constraint
    lower: np.ndarray
    upper: np.ndarray
    terms: tuple[Terms, ...]

    @property
    def size(self) -> int:
        return len(self.lower)


def terms_of(family: str, index: np.ndarray, coef: np.ndarray | float,
           row: np.ndarray | None = None, pos: np.ndarray | int = 0) -> Terms:
    index = np.asarray(index, dtype=np.int64)
    coef = np.broadcast_to(np.asarray(coef, dtype=float), index.shape)
    row = np.zeros(len(index), dtype=np.int64) if row is None else np.asarray(row, np.int64)
    return Terms(family, row, index, coef, pos)
