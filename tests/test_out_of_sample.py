"""``resilience evaluate INSTANCE RESULT --scenarios OTHER``: a plan judged on scenarios it
was not optimised for.

The plan is tiny.json's optimum: both depots open with 25 kits each; in sample (one road
cut, the village behind it needs 100 kits) every scenario has R = 0.25. OTHER keeps the
village and its roads and asks two other questions, each with probability 0.5:

- both_cut: A-B and B-C fail, A and C each need 100: each depot serves its own village,
  50 of 200 kits arrive: R = 0.25;
- calm: no road fails, half of A needs kits (50): both depots reach A (C is 2 away, reach
  5): R = 1.

Out of sample: worst case 0.25, expected 0.625, CVaR(0.9) (the worst 10% of mass) 0.25.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import INSTANCES, tiny_doc

from optimizer.cli import main

OTHER_SCENARIOS = [
    {"id": "both_cut", "probability": 0.5, "failed_edges": ["AB", "BC"],
     "affected": {"A": 1.0, "C": 1.0}},
    {"id": "calm", "probability": 0.5, "affected": {"A": 0.5}},
]


def run(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("oos")
    instance = folder / "tiny.json"
    shutil.copyfile(INSTANCES / "tiny.json", instance)
    result = folder / "tiny.result.json"
    res = run("solve", instance, "-o", result, "--quiet")
    assert res.exit_code == 0, res.output
    return instance, result


def other_doc() -> dict[str, Any]:
    doc = tiny_doc()
    doc["name"] = "tiny-other"
    doc["scenarios"] = OTHER_SCENARIOS
    return doc


def test_out_of_sample_against_in_sample(solved: tuple[Path, Path], tmp_path: Path) -> None:
    instance, result = solved
    other = write(tmp_path / "other.json", other_doc())
    out = tmp_path / "evaluation.json"
    res = run("evaluate", instance, result, "--scenarios", other, "-o", out)
    assert res.exit_code == 0, res.output
    assert "in sample" in res.stdout and "out of sample" in res.stdout
    assert "0.625000" in res.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["resilience"]["worst_case"] == pytest.approx(0.25)
    assert doc["max_difference"] == pytest.approx(0.0, abs=1e-9)  # in sample: as claimed
    oos = doc["out_of_sample"]
    assert oos["scenarios_from"]["name"] == "tiny-other"
    assert [s["id"] for s in oos["scenarios"]] == ["both_cut", "calm"]
    assert [s["resilience"] for s in oos["scenarios"]] == pytest.approx([0.25, 1.0])
    assert oos["resilience"]["worst_case"] == pytest.approx(0.25)
    assert oos["resilience"]["expected"] == pytest.approx(0.625)
    assert oos["resilience"]["cvar"] == {"alpha": 0.9, "value": pytest.approx(0.25)}
    gap = doc["in_sample_vs_out_of_sample"]
    assert gap["expected"] == {"in_sample": pytest.approx(0.25),
                               "out_of_sample": pytest.approx(0.625),
                               "difference": pytest.approx(0.375)}


def test_ids_in_another_order_are_matched(solved: tuple[Path, Path], tmp_path: Path) -> None:
    instance, result = solved
    doc = other_doc()
    doc["network"]["nodes"].reverse()
    doc["network"]["edges"].reverse()
    doc["depots"].reverse()
    other = write(tmp_path / "reordered.json", doc)
    res = run("evaluate", instance, result, "--scenarios", other, "-o", "-")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert [s["resilience"] for s in report["out_of_sample"]["scenarios"]] == (
        pytest.approx([0.25, 1.0]))
    assert "out of sample" in res.stderr  # the table goes to standard error with -o -


def test_the_same_file_gives_the_same_numbers(solved: tuple[Path, Path]) -> None:
    instance, result = solved
    res = run("evaluate", instance, result, "--scenarios", instance, "-o", "-")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["out_of_sample"]["resilience"] == report["resilience"]


@pytest.mark.parametrize("change, named", [
    (lambda d: d["network"]["edges"][1].update(id="BC2"), ["network.edges", "BC2", "BC"]),
    (lambda d: d["depots"][1].update(id="depot_X"), ["depots", "depot_X", "depot_C"]),
    (lambda d: d["network"]["nodes"].append({"id": "D", "population": 0}),
     ["network.nodes", "D"]),
], ids=["edge", "depot", "node"])
def test_another_community_is_refused(solved: tuple[Path, Path], tmp_path: Path,
                                      change: Any, named: list[str]) -> None:
    instance, result = solved
    doc = other_doc()
    change(doc)
    for scenario in doc["scenarios"]:  # keep OTHER itself valid
        scenario["failed_edges"] = [e["id"] for e in doc["network"]["edges"]][:1]
    other = write(tmp_path / "other.json", doc)
    out = tmp_path / "evaluation.json"
    res = run("evaluate", instance, result, "--scenarios", other, "-o", out)
    assert res.exit_code == 2, res.output
    assert str(other) in res.stderr
    for word in named:
        assert word in res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()


def test_different_populations_are_warned_about(solved: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    instance, result = solved
    doc = other_doc()
    doc["network"]["nodes"][0]["population"] = 200  # A: both_cut needs 300 in all
    other = write(tmp_path / "other.json", doc)
    res = run("evaluate", instance, result, "--scenarios", other, "-o", "-")
    assert res.exit_code == 0, res.output
    assert "populations or economic exposures differ" in res.stderr
    report = json.loads(res.stdout)
    # both_cut: A needs 200 and gets 25, C needs 100 and gets 25: 50/300.
    assert report["out_of_sample"]["scenarios"][0]["resilience"] == pytest.approx(50 / 300)


def test_help_mentions_scenarios() -> None:
    res = run("evaluate", "--help")
    assert res.exit_code == 0
    assert "--scenarios" in res.stdout


def test_reseed_draws_other_scenarios_from_the_same_generators(tmp_path: Path) -> None:
    medium = INSTANCES / "medium.json"
    result = tmp_path / "medium.result.json"
    assert run("solve", medium, "-o", result, "-q").exit_code == 0
    out = tmp_path / "evaluation.json"
    ran = run("evaluate", medium, result, "--reseed", 1, "-o", out)
    assert ran.exit_code == 0, ran.output
    report = json.loads(out.read_text())
    inside = [s["resilience"] for s in report["scenarios"]]
    outside = [s["resilience"] for s in report["out_of_sample"]["scenarios"]]
    assert len(outside) == len(inside) == 20
    assert outside != inside  # other hazards, not the same ones again
    summary = report["in_sample_vs_out_of_sample"]["worst_case"]
    assert summary["out_of_sample"] == pytest.approx(min(outside))
    # The instance on standard input: read once, drawn again with other seeds (the second
    # read found standard input empty).
    piped = tmp_path / "piped.json"
    ran = CliRunner().invoke(main, ["evaluate", "-", str(result), "--reseed", "1", "-o",
                                    str(piped)], input=medium.read_bytes())
    assert ran.exit_code == 0, ran.output
    again = json.loads(piped.read_text())
    assert [s["resilience"] for s in again["out_of_sample"]["scenarios"]] == outside


def test_reseed_needs_seeded_generators(solved: tuple[Path, Path]) -> None:
    instance, result = solved
    ran = run("evaluate", instance, result, "--reseed", 1)
    assert ran.exit_code == 2
    assert "no seeded scenario generator" in ran.output
