"""Results are checked, not trusted (issue 15): a plan is read through one strict model by
every command, and judged under the instance's budget whatever the result says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from optimizer.cli import main

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("tampered") / "tiny.result.json"
    ran = CliRunner().invoke(main, ["solve", str(TINY), "-o", str(out), "-q"])
    assert ran.exit_code == 0, ran.stderr
    return json.loads(out.read_text())


def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "edited.result.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _run(*args: str) -> tuple[int, str]:
    ran = CliRunner().invoke(main, list(args))
    return ran.exit_code, ran.output + ran.stderr


@pytest.mark.parametrize("where, value", [
    (("depots", 0, "open"), "false"),
    (("depots", 0, "open"), 1),
    (("shelters", None, "modules"), "2"),
    (("depots", 0, "stock", "kit"), "25"),
    (("compensation_pool",), "0"),
])
def test_a_wrong_type_is_exit_2_with_its_json_path_for_every_command(
        tmp_path: Path, solved: dict[str, Any], where: tuple, value: Any) -> None:
    doc = json.loads(json.dumps(solved))
    target = doc["decisions"]
    if where[0] == "shelters":  # tiny has no shelter: add one entry with the wrong type
        target["shelters"] = [{"id": "nowhere", "open": False, where[2]: value}]
        path_text = "decisions.shelters[0].modules"
    else:
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value
        path_text = "decisions." + ".".join(
            f"{k}" if not isinstance(k, int) else f"[{k}]" for k in where).replace(".[", "[")
    result = _write(tmp_path, doc)
    for command in (["evaluate", str(TINY), result], ["stress", str(TINY), result, "-k", "1"],
                    ["report", result, "-o", str(tmp_path / "r.html")]):
        code, err = _run(*command)
        assert code == 2, (command, err)
        assert path_text in err, (command, err)


def test_a_raised_budget_in_the_result_does_not_hide_overspending(
        tmp_path: Path, solved: dict[str, Any]) -> None:
    doc = json.loads(json.dumps(solved))
    for depot in doc["decisions"]["depots"]:
        depot["open"], depot["stock"] = True, {"kit": 100}  # costs 300 of a budget of 150
    doc["instance"]["budget"] = 1000.0
    code, err = _run("evaluate", str(TINY), _write(tmp_path, doc))
    assert code == 4, err
    assert "over the budget 150.00" in err
    assert "judged under 150.00" in " ".join(err.split())
    # The budget is the user's to choose, not the file's: under 300 the plan stands.
    code, err = _run("evaluate", str(TINY), _write(tmp_path, doc), "--budget", "300")
    assert "over the budget" not in err
    assert "judged under 300.00" in " ".join(err.split())


@pytest.mark.parametrize("recorded", ["x" * 300, "a/" * 3000 + "tiny.json"])
def test_an_instance_path_the_system_cannot_look_up_is_not_found(
        tmp_path: Path, solved: dict[str, Any], recorded: str) -> None:
    """Found by benchmarks/fuzz_solve.py: a tampered result whose ``instance.path`` is a
    sentence (a string swapped in from ``decided_by``) made ``report`` and ``compare`` exit
    4 with 'File name too long'. Such a path names no file: the report is written without
    the instance, with the warning any missing instance gets."""
    doc = json.loads(json.dumps(solved))
    doc["instance"]["path"] = recorded
    result = _write(tmp_path, doc)
    for command in (["report", result, "-o", str(tmp_path / "r.md")],
                    ["compare", result, result, "-o", str(tmp_path / "c.md")]):
        code, err = _run(*command)
        assert code == 0, (command, err)
        assert "cannot be found; give --instance" in err
        assert "internal error" not in err


def test_a_path_that_looks_like_markup_is_printed_as_it_is(
        tmp_path: Path, solved: dict[str, Any]) -> None:
    """The warning that a result was solved from another version of the instance names
    both files literally: a folder called ``[x]`` was taken for rich markup by
    ``evaluate`` (and dropped from the path it printed)."""
    folder = tmp_path / "[x]"
    folder.mkdir()
    edited = json.loads(TINY.read_text(encoding="utf-8"))
    edited["description"] = "another version: " + edited["description"]
    instance = folder / "tiny.json"
    instance.write_text(json.dumps(edited), encoding="utf-8")
    result = str(folder / "tiny.result.json")
    Path(result).write_text(json.dumps(solved), encoding="utf-8")
    said = f"{result} was solved from a different version of {instance} (sha256 differs)"
    for command in (["evaluate", str(instance), result],
                    ["stress", str(instance), result, "-k", "1"],
                    ["recover", str(instance), result, "-o", str(tmp_path / "r.json")]):
        code, err = _run(*command)
        assert code == 0, (command, err)
        assert said in " ".join(err.split()), (command, err)
