"""The result file (design section 3) as the reports read it: checked once, at the boundary.

The engine writes result documents as dicts (``optimizer.results.file``); reports read them back
through these pydantic models, so a hand-edited or truncated file fails with the file, the
JSON path and what is wrong instead of a ``KeyError`` deep inside a renderer. Fields the
reports do not use are ignored, so newer result files still read; fields added since
the first result files (the ceilings, the pinned scenarios, what decided the plan, the
solver's stages) are optional, so older result files still read too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from optimizer.errors import InputError, Problem
from optimizer.instance.reading import json_path, parse_json


class _Model(BaseModel):
    # Strict: "false" is not a boolean and "12" not a number. A lax reading turned
    # "open": "false" into closed here while bool("false") opened it elsewhere; every
    # command now reads a plan through these models (optimizer.results.file.read_plan).
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class InstanceRef(_Model):
    name: str
    sha256: str = ""
    budget: float
    path: str | None = None  # where the instance was read from, when the result records it
    currency: str | None = None  # what money is counted in, when the instance says


class Objective(_Model):
    kind: str
    alpha: float | None = None
    target: float | None = None
    value: float | None = None
    bound: float | None = None
    gap: float | None = None


class DepotDecision(_Model):
    id: str
    open: bool
    stock: dict[str, float] = Field(default_factory=dict)  # units bought, per commodity


class ShelterDecision(_Model):
    id: str
    open: bool
    modules: int = 0
    capacity: float = 0.0  # under the plan: 0 when closed


class Decisions(_Model):
    depots: list[DepotDecision]
    shelters: list[ShelterDecision]
    compensation_pool: float


class Cost(_Model):
    depots: float
    stock: float
    shelters: float
    modules: float
    compensation_pool: float
    total: float
    budget: float

    LINES: ClassVar[tuple[str, ...]] = ("depots", "stock", "shelters", "modules",
                                        "compensation_pool")
    # The rows of a table of costs: every line, their total and the budget.
    ROWS: ClassVar[tuple[str, ...]] = (*LINES, "total", "budget")


class Cvar(_Model):
    alpha: float
    value: float


class Resilience(_Model):
    worst_case: float
    expected: float
    cvar: Cvar
    # The most resilience any plan could reach per scenario (every candidate facility open
    # and full, budget ignored); None when the file does not record them.
    ceilings: dict[str, float | None] | None = None
    # Scenarios whose ceiling is the worst-case optimum: no plan does better there, so they
    # fix the worst case without deciding the plan. None when the file does not say.
    pinned: list[str] | None = None
    decided_by: str = ""  # what decided the plan, in plain words ("" when not recorded)

    @field_validator("decided_by", mode="before")
    @classmethod
    def _no_sentence(cls, value: Any) -> Any:
        return "" if value is None else value


class Unmet(_Model):
    need: dict[str, dict[str, float]] = Field(default_factory=dict)  # zone -> commodity -> units
    evacuees: dict[str, float] = Field(default_factory=dict)  # zone -> people


class ScenarioResult(_Model):
    id: str
    probability: float
    resilience: float
    supply: float
    shelter: float
    economic: float
    unmet: Unmet = Field(default_factory=Unmet)


class RestorationStep(_Model):
    period: int  # the period from which the road is back (0: the disrupted start)
    repaired_edge: Any = None
    resilience: float
    crew: int | None = None  # 1-based; absent in results from before crews
    start: int | None = None  # the period its repair began


class ExactRecovery(_Model):
    """The optimal restoration schedule (``recover --exact``) beside the greedy one."""

    status: str = ""
    recovery_area: float | None = None
    bound: float | None = None
    gap: float | None = None
    greedy_area: float | None = None
    crews: int | None = None
    restoration: list[RestorationStep] = Field(default_factory=list)


class ScenarioRecovery(_Model):
    """Design section 5 for one scenario; the measures are shown as the file gives them."""

    id: str
    cut_off: Any = None
    out_of_reach: Any = None
    detour_ratio: Any = None
    disjoint_paths: Any = None
    crews: int | None = None
    horizon: int | None = None  # periods one crew needs for every repair
    restoration: list[RestorationStep] = Field(default_factory=list)
    recovery_area: float | None = None
    exact: ExactRecovery | None = None


class Verification(_Model):
    method: str = ""
    max_difference: float | None = None
    plan_violations: list[str] = Field(default_factory=list)


class Stage(_Model):
    """One stage of the lexicographic solve: what it optimised and the value it reached."""

    objective: str  # "objective", "leximin_2", ..., "tiebreak_expected", "tiebreak_cost", ...
    status: str = ""
    value: float | None = None
    seconds: float | None = None


class Solver(_Model):
    name: str | None = None
    version: str | None = None
    method: str | None = None
    solve_seconds: float | None = None
    stages: list[Stage] = Field(default_factory=list)

    @field_validator("stages", mode="before")
    @classmethod
    def _no_stages(cls, value: Any) -> Any:
        return [] if value is None else value


class FrontierRow(_Model):
    """One point of a budget frontier (``optimizer.report.sheets.frontier_sheet``'s row)."""

    kind: str  # nothing, budget or target
    budget: float | None = None
    target: float | None = None
    status: str | None = None
    worst_case: float | None = None
    expected: float | None = None
    cvar: float | None = None
    cost: float | None = None
    marginal_per_1000: float | None = None
    diminishing_returns: bool | None = None
    note: str | None = None


class FrontierSection(_Model):
    """The budget frontier a result of ``resilience sweep --results`` belongs to."""

    objective: str  # what the budgets maximised: worst_case, expected or cvar
    points: list[FrontierRow]


class Result(_Model):
    """A result that holds a plan: what ``resilience solve`` writes and
    :func:`optimizer.solvers.extensive` returns, typed and checked.

    The fields are the sections of the result file (design section 3); :attr:`plan` is its
    ``decisions``. :meth:`to_json` gives back the whole file the engine wrote, including the
    sections this view does not type (the solver's sizes, for one); :meth:`from_json` reads
    one (text or bytes; :meth:`read` a path).
    """

    _document: dict[str, Any] | None = PrivateAttr(default=None)

    schema_version: int
    instance: InstanceRef
    status: str
    message: str = ""
    objective: Objective
    decisions: Decisions
    cost: Cost
    resilience: Resilience
    scenarios: list[ScenarioResult]
    recovery: list[ScenarioRecovery] | None = None
    recovery_pending: list[str] = Field(default_factory=list)
    solver: Solver | None = None
    verification: Verification | None = None
    warnings: list[str] = Field(default_factory=list)
    frontier: FrontierSection | None = None  # when the result came from `sweep --results`

    @field_validator("recovery_pending", mode="before")
    @classmethod
    def _no_pending(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("recovery", mode="before")
    @classmethod
    def _recovery_list(cls, value: Any) -> Any:
        # Accept {"scenarios": [...]} as well as a bare list of per-scenario entries.
        if isinstance(value, dict) and isinstance(value.get("scenarios"), list):
            return value["scenarios"]
        return value

    @property
    def plan(self) -> Decisions:
        """What the plan decides: depots, shelters and the compensation pool."""
        return self.decisions

    @property
    def document(self) -> dict[str, Any]:
        """The result file as a JSON-ready dict (a copy: the result itself never changes)."""
        if self._document is not None:
            return copy.deepcopy(self._document)
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The result file's text, as ``resilience solve -o`` writes it
        (``optimizer.results.file.dumps``, which imports the solver: not needed to write text)."""
        return json.dumps(self.document, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str | Path = "<result>") -> Result:
        """Read a result from its JSON text; :class:`InputError` names every problem."""
        raw = text.encode("utf-8") if isinstance(text, str) else text
        return parse_result(parse_json(Path(str(source)), raw), source)

    @classmethod
    def read(cls, path: str | Path) -> Result:
        """Read a result file."""
        return read_result(path)[0]

    @property
    def commodities(self) -> tuple[str, ...]:
        """Commodity ids in the order the depots list them."""
        seen: dict[str, None] = {}
        for d in self.decisions.depots:
            seen.update(dict.fromkeys(d.stock))
        for s in self.scenarios:
            for by_commodity in s.unmet.need.values():
                seen.update(dict.fromkeys(by_commodity))
        return tuple(seen)

    def ranked(self) -> list[ScenarioResult]:
        """Scenarios from the worst up (ties by id), as the terminal summary lists them."""
        return sorted(self.scenarios, key=lambda s: (s.resilience, s.id))


def parse_result(document: Any, source: str | Path = "<result>") -> Result:
    """Check a result document; raise :class:`InputError` naming every problem."""
    _has_plan(document, source)
    result = _validated(Result, document, source, ())
    result._document = copy.deepcopy(document)
    return result


def parse_decisions(document: Any, source: str | Path = "<result>") -> Decisions:
    """Check only the plan of a result document (``decisions``), with the same model: what
    evaluate and stress read, so a file that holds just a plan will do."""
    _has_plan(document, source)
    return _validated(Decisions, document["decisions"], source, ("decisions",))


def _has_plan(document: Any, source: str | Path) -> None:
    if not isinstance(document, dict):
        raise InputError(source, [Problem("", "not a result file (expected a JSON object)")])
    if document.get("decisions") is None:
        status = document.get("status", "?")
        why = document.get("message") or ""
        raise InputError(source, [Problem("decisions", f"no plan in this result (status "
                                          f"{status}{': ' + why if why else ''})")])


def _validated(model: type[_Model], value: Any, source: str | Path,
               at: tuple[str | int, ...]) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"]
            if error["type"] == "missing":
                message = "missing; is this a result file written by `resilience solve`?"
            problems.append(Problem(json_path(at + tuple(error["loc"])), message))
        raise InputError(source, problems) from None


def read_document(path: str | Path) -> Any:
    """A result file's JSON, unchecked; :class:`InputError` when it cannot be read or is
    not JSON. Every reader of result files starts here."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, [Problem("", f"cannot read: {exc.strerror}")]) from None
    return parse_json(path, raw)


def read_result(path: str | Path) -> tuple[Result, dict[str, Any]]:
    """Read and check a result file: the checked view and the raw document."""
    document = read_document(path)
    return parse_result(document, path), document
