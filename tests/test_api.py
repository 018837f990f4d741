"""The Python API (``import optimizer``), ``python -m optimizer`` and standard input.

The README's example runs as it is; the result the API returns is the file the CLI writes;
importing the package loads neither the solver nor the report libraries.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import optimizer
from optimizer.cli import main
from optimizer.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny.json"
# Numbers that change from run to run (timings), left out when results are compared.
TIMINGS = re.compile(r'"[a-z_]*seconds": [0-9.e-]+')


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    return section[section.index("```python\n") + 10:section.index("```\n", 10)]


def test_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "instances").mkdir()
    (tmp_path / "instances" / "tiny.json").write_bytes(TINY.read_bytes())
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_example(), "README.md", "exec"), {})
    assert (tmp_path / "tiny.xlsx").stat().st_size > 0
    assert json.loads((tmp_path / "tiny.result.json").read_text())["status"] == "optimal"


def test_the_api_result_is_the_file_the_cli_writes(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    written = tmp_path / "tiny.result.json"
    done = CliRunner().invoke(main, ["solve", str(TINY), "-o", str(written), "-q"])
    assert done.exit_code == 0, done.output
    from_cli = json.loads(written.read_text())
    result = optimizer.solve(TINY)
    from_api = json.loads(result.to_json())
    from_cli["instance"].pop("path")  # where the CLI wrote it, relative to the instance
    assert TIMINGS.sub("", json.dumps(from_api, sort_keys=True)) == TIMINGS.sub(
        "", json.dumps(from_cli, sort_keys=True))
    read = optimizer.Result.read(written)
    assert read.to_json() == written.read_text()  # every section, typed or not, kept
    assert read.status == "optimal" and read.plan == read.decisions
    assert optimizer.Result.from_json(result.to_json()).cost == result.cost


def test_api_takes_dicts_overrides_and_names_problems() -> None:
    document = json.loads(TINY.read_text())
    result = optimizer.solve(document, budget=100.0, objective="expected")
    assert result.cost.budget == 100.0 and result.objective.kind == "expected"
    assert optimizer.evaluate(document, result, budget=100.0).agrees
    document["depots"][0]["node"] = "Z"
    with pytest.raises(InputError, match=r"depots\[0\]\.node: unknown node 'Z'"):
        optimizer.load_instance(document)
    with pytest.raises(optimizer.ResilienceError, match="unknown solve option"):
        optimizer.solve(TINY, time_limt=3)


def _fresh_python(code: str) -> None:
    """Run ``code`` in a new interpreter (nothing imported yet); it must succeed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_import_is_cheap_and_python_m_runs_the_cli() -> None:
    code = ("import sys, optimizer\n"
            "heavy = [m for m in ('pyomo', 'highspy', 'scipy', 'matplotlib', 'openpyxl', "
            "'pyproj', 'networkx', 'click') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert callable(optimizer.solve) and optimizer.Result.__name__ == 'Result'\n")
    _fresh_python(code)
    done = subprocess.run([sys.executable, "-m", "optimizer", "validate", "-"],
                          input=TINY.read_text(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("-: valid. tiny:")


def test_an_instance_from_standard_input(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(main, ["solve", "-", "-q"], input=TINY.read_text())
    assert done.exit_code == 0, done.output
    result = json.loads((tmp_path / "tiny.result.json").read_text())  # named by the instance
    assert result["instance"]["path"] is None and result["status"] == "optimal"
    done = runner.invoke(main, ["validate", "-"], input='{"budget": 1}')
    assert done.exit_code == 2
    assert "<stdin>: network: required field is missing" in done.stderr


def test_a_solve_loads_no_pyomo() -> None:
    """The default route builds its model from arrays (models.direct): solving and verifying
    must not import Pyomo, whose import (and the scipy.stats its hook pulls in) cost every
    `resilience solve` about 1.5 s of its --time-limit."""
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from optimizer.instance.reading import load_instance\n"
            "from optimizer.pipeline import solve_and_verify\n"
            f"solved = solve_and_verify(load_instance(Path({str(TINY)!r})))\n"
            "assert solved.verified\n"
            "loaded = [m for m in ('pyomo', 'scipy.stats') if m in sys.modules]\n"
            "assert not loaded, loaded\n")
    _fresh_python(code)
