"""One bad instance file per failure mode, and the message each must produce.

Every file in ``tests/data/bad/`` is ``instances/tiny.json`` with one thing wrong (its
``description`` says what), except ``several_problems.json``, whose message must list all
of its problems at once. The table below is the contract: for each file, the JSON path of
every problem and the words that say what is wrong. Files with no JSON path (bytes that are
not UTF-8, a syntax error) name a line and column instead. ``ENVIRONMENT`` sets what a file
needs to be refused (a small size limit for ``over_size_limit.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.errors import InputError
from optimizer.instance.reading import MAX_DEPTH, MAX_FILE_BYTES_ENV, load_instance

BAD = Path(__file__).resolve().parent / "data" / "bad"
TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"

# file -> [(JSON path or None, [substrings of that problem's message]), ...]
EXPECTED: dict[str, list[tuple[str | None, list[str]]]] = {
    # Not JSON at all, or not an object.
    "syntax_error.json": [(None, ["invalid JSON at line 28, column 3", "Expecting ',' delimiter"])],
    "not_utf8.json": [(None, ["not UTF-8", "0xe9", "line 4, column 50"])],
    "top_level_array.json": [(None, ["top level must be a JSON object", "not an array"])],
    "nan_literal.json": [("budget", ["NaN is not a number JSON allows"])],
    "infinity_literal.json": [("depots[0].capacity", ["Infinity is not a number JSON allows"])],
    "duplicate_key.json": [("budget", ["given more than once"])],
    "lone_surrogate.json": [
        ("policy", ["key 'supply_reach\\ud800'", "\\ud800 is half of a surrogate pair"]),
    ],
    # Too large, too deep or too long: refused before anything works through them.
    "over_size_limit.json": [(None, ["file is 1,", "bytes, over the limit of 1,000 bytes",
                                     MAX_FILE_BYTES_ENV])],
    "deeply_nested.json": [
        (None, [f"nested more than {MAX_DEPTH} levels deep at line 27, column 44"]),
    ],
    "nested_past_limit.json": [
        ("budget" + "[0]" * (MAX_DEPTH - 1), [f"nested more than {MAX_DEPTH} levels deep"]),
    ],
    "integer_too_long.json": [("budget", ["an integer of 5,001 digits is too long"])],
    "number_too_large.json": [("depots[0].capacity", ["number too large (over 1.8e308)"])],
    # One field at a time (pydantic).
    "budget_string.json": [("budget", ["valid number", '"a lot"'])],
    "missing_budget.json": [("budget", ["required field is missing"])],
    "missing_node_id.json": [("network.nodes[0].id", ["required field is missing"])],
    "unknown_field_near_name.json": [
        ("budget", ["required field is missing"]),
        ("budgett", ["unknown field 'budgett'", "did you mean 'budget'?"]),
    ],
    "unknown_nested_field.json": [
        ("policy.supply_rech", ["unknown field 'supply_rech'", "did you mean 'supply_reach'?"]),
    ],
    "misplaced_field.json": [("weights", ["unknown field 'weights'", "belongs in resilience"])],
    "negative_capacity.json": [("depots[0].capacity", ["greater than or equal to 0", "-100"])],
    "fraction_over_one.json": [("scenarios[0].affected.A", ["less than or equal to 1", "1.5"])],
    "alpha_one.json": [("objective.alpha", ["less than 1", "got 1"])],
    "no_scenarios.json": [("scenarios", ["no scenarios", "scenario_generators"])],
    "no_nodes.json": [("network.nodes", ["at least 1 item"])],
    # Fields against each other (optimizer.instance.checks).
    "edge_unknown_node.json": [("network.edges[1].to", ["unknown node 'D'"])],
    "depot_unknown_node.json": [("depots[1].node", ["unknown node 'Z'"])],
    "duplicate_node_id.json": [("network.nodes[3].id", ["duplicate id 'B'", "network.nodes[1]"])],
    "duplicate_depot_id.json": [("depots[1].id", ["duplicate id 'depot_A'", "depots[0]"])],
    "unknown_failed_edge.json": [("scenarios[0].failed_edges[0]", ["unknown edge 'AX'"])],
    "unknown_depot_loss.json": [("scenarios[1].depot_loss.depot_B", ["unknown depot 'depot_B'"])],
    "unknown_unit_cost_commodity.json": [
        ("depots[0].unit_cost.water", ["unknown commodity 'water'"]),
    ],
    "weights_sum_far_from_one.json": [("resilience.weights", ["weights sum to 1.5", "not 1"])],
    "probabilities_sum_far_from_one.json": [("scenarios", ["probabilities sum to 0.8", "not 1"])],
    "probabilities_partly_given.json": [
        ("scenarios", ["every scenario a probability or none", "missing on 'east_cut'"]),
    ],
    "min_cost_without_target.json": [("objective.target", ["min_cost needs a target"])],
    "priority_unknown_road.json": [("recovery.priority[1]", ["unknown road or node 'XY'"])],
    "repair_time_zero.json": [("network.edges[1].repair_time",
                               ["greater than or equal to 1", "got 0"])],
    "crews_fractional.json": [("recovery.crews", ["valid integer", "1.5"])],
    "stock_at_new_depot.json": [("depots[0].existing_stock", ["depot is not existing"])],
    "stock_over_capacity.json": [
        ("depots[0].existing_stock", ["volume 150", "more than the depot's capacity 100"]),
    ],
    # Where the coordinates lie (network.crs, optimizer.instance.checks.check_crs).
    "crs_unknown_epsg.json": [("network.crs.epsg", ["EPSG:999999", "system PROJ knows"])],
    "crs_both_forms.json": [("network.crs", ["either 'epsg'", "not both"])],
    "crs_local_without_origin.json": [("network.crs.lat0", ["required for a local projection"])],
    "crs_origin_off_the_globe.json": [("network.crs.lat0", ["less than or equal to 90"])],
    # Several at once: a field problem does not hide the cross-field ones.
    "several_problems.json": [
        ("scenarios[0].affected.A", ["less than or equal to 1", "1.5"]),
        ("network.nodes[3].id", ["duplicate id 'B'"]),
        ("depots[1].node", ["unknown node 'Z'"]),
    ],
}

# file -> environment variables set while it is read
ENVIRONMENT: dict[str, dict[str, str]] = {
    "over_size_limit.json": {MAX_FILE_BYTES_ENV: "1000"},
}

CASES = sorted(EXPECTED)


def _assert_names_everything(text: str, name: str) -> None:
    assert str(BAD / name) in text
    for path, words in EXPECTED[name]:
        if path is not None:
            assert f"{path}: " in text, f"{path!r} not in {text!r}"
        for w in words:
            assert w in text, f"{w!r} not in {text!r}"


def test_every_bad_file_has_an_expected_message() -> None:
    on_disk = {p.name for p in BAD.glob("*.json")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", CASES)
def test_load_instance_names_file_path_and_problem(name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENVIRONMENT.get(name, {}).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InputError) as info:
        load_instance(BAD / name)
    exc = info.value
    assert exc.file == str(BAD / name)
    assert len(exc.problems) == len(EXPECTED[name]), [str(p) for p in exc.problems]
    assert sorted(p.path for p in exc.problems) == sorted(p or "" for p, _ in EXPECTED[name])
    _assert_names_everything(str(exc), name)


@pytest.mark.parametrize("name", CASES)
def test_validate_exits_2_with_the_message_on_stderr(name: str) -> None:
    result = CliRunner().invoke(main, ["validate", str(BAD / name)],
                                env=ENVIRONMENT.get(name))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "Traceback" not in result.output
    _assert_names_everything(result.stderr, name)


def test_headline_dangling_depot_node() -> None:
    """The issue's case: a depot at a node that does not exist."""
    result = CliRunner().invoke(main, ["validate", str(BAD / "depot_unknown_node.json")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {BAD / 'depot_unknown_node.json'}: depots[1].node: unknown node 'Z'")


def _tiny_with(tmp_path: Path, change) -> Path:
    doc = json.loads(TINY.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def test_probabilities_near_one_are_rescaled_with_a_warning(tmp_path: Path) -> None:
    path = _tiny_with(tmp_path, lambda d: d["scenarios"][1].update(probability=0.495))
    inst = load_instance(path)
    assert sum(s.probability for s in inst.scenarios) == pytest.approx(1)
    assert inst.scenarios[0].probability == pytest.approx(0.5 / 0.995)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "rescaled" in result.stderr and "probabilities sum to 0.995" in result.stderr
    assert "valid" in result.stdout


def test_weights_near_one_are_rescaled_with_a_warning(tmp_path: Path) -> None:
    path = _tiny_with(tmp_path, lambda d: d["resilience"]["weights"].update(
        supply=0.5, shelter=0.3, economic=0.195))
    inst = load_instance(path)
    w = inst.weights
    assert w.supply + w.shelter + w.economic == pytest.approx(1)
    assert w.supply == pytest.approx(0.5 / 0.995)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "rescaled" in result.stderr and "resilience.weights" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.stderr and "cannot read" in result.stderr
    assert "Traceback" not in result.output


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Editors on Windows often save UTF-8 with a BOM; that is still UTF-8."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + TINY.read_bytes())
    assert load_instance(path).name == "tiny"


def test_number_given_as_a_string_is_rejected(tmp_path: Path) -> None:
    path = _tiny_with(tmp_path, lambda d: d.update(budget="150"))
    with pytest.raises(InputError, match="budget"):
        load_instance(path)


def test_the_size_limit_applies_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``over_size_limit.json`` is valid under the default limit; the variable is what
    refuses it."""
    monkeypatch.delenv(MAX_FILE_BYTES_ENV, raising=False)
    assert load_instance(BAD / "over_size_limit.json").name == "tiny"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_file_without_a_size_is_read_only_up_to_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Devices and pipes report size 0; reading stops one byte past the limit."""
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, "1000")
    with pytest.raises(InputError, match="over the limit of 1,000 bytes"):
        load_instance("/dev/zero")


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_bad_size_limit_is_a_usage_error(value: str) -> None:
    result = CliRunner().invoke(main, ["validate", str(TINY)],
                                env={MAX_FILE_BYTES_ENV: value})
    assert result.exit_code == 2
    assert f"{MAX_FILE_BYTES_ENV} must be a whole number of at least 1, not {value!r}" \
        in result.stderr
