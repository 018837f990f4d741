"""A clone from anywhere: the README's set-up commands are true, and nothing reads outside.

The README's "Set up" section must work in a new shell, with no activated environment and
nothing beside the repository. Its code blocks are read here and each command is checked:
it names only the environment's programs (``.venv/bin/...``), or activates the environment
first, and every repository file it names exists. ``RESILIENCE_SLOW_TESTS=1`` also runs the
first set-up command verbatim in a fresh clone (a few minutes: it installs the package).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# Programs a set-up command may run: the system's Python to create the environment, then
# only what the environment holds (pip's, Python's and the project's console scripts).
SYSTEM = {"python3"}
ENVIRONMENT = {"pip", "python", "pytest", "resilience", "ruff"}
ACTIVATE = ("source", ".venv/bin/activate")


def _section(text: str, title: str) -> str:
    """The text of the ``## title`` section, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def code_blocks(markdown: str) -> list[list[str]]:
    """Indented code blocks (four spaces, after a blank line), as lists of lines."""
    blocks: list[list[str]] = []
    current: list[str] = []
    previous_blank = True
    for line in markdown.splitlines():
        if line.startswith("    ") and (current or previous_blank):
            current.append(line[4:])
        elif current and not line.strip():
            continue
        else:
            if current:
                blocks.append(current)
            current = []
        previous_blank = not line.strip()
    if current:
        blocks.append(current)
    return blocks


def commands(block: list[str]) -> list[list[str]]:
    """Each command of a block (lines joined by ``&&`` split apart), as shell words."""
    out = []
    for line in block:
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                out.append(words)
    return out


def setup_blocks() -> list[list[str]]:
    return code_blocks(_section(README.read_text(encoding="utf-8"), "Set up"))


def _console_scripts() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = re.search(r"^\[project\.scripts\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    assert scripts
    return {line.split("=")[0].strip() for line in scripts.group(1).splitlines()
            if "=" in line}


def _problems(block: list[str]) -> list[str]:
    """What is wrong with one set-up block; empty when it runs in a new shell as written."""
    problems = []
    activated = False
    for words in commands(block):
        program = words[0]
        if tuple(words[:2]) == ACTIVATE:
            activated = True
            continue
        if program in SYSTEM and words[1:3] == ["-m", "venv"]:
            continue
        if program.startswith(".venv/bin/"):
            if program.removeprefix(".venv/bin/") not in ENVIRONMENT:
                problems.append(f"{program}: not a program the environment installs")
        elif not activated:
            problems.append(f"{' '.join(words)}: runs {program!r} without naming "
                            ".venv/bin/ and without activating the environment first")
        for word in words[1:]:
            # Repository files the command reads (outputs follow -o and are not checked).
            if re.fullmatch(r"(instances|tests|benchmarks|docs)/[\w./-]+", word):
                if not (ROOT / word).exists():
                    problems.append(f"{' '.join(words)}: {word} does not exist")
    return problems


def test_setup_section_has_the_two_install_commands() -> None:
    blocks = setup_blocks()
    installs = [b for b in blocks if any("pip install" in line for line in b)]
    assert len(installs) == 2
    first, second = (" ".join(b) for b in installs)
    assert ".venv/bin/pip install -e ." in first and ".venv/bin/resilience solve" in first
    assert '.venv/bin/pip install -e ".[test]"' in second and ".venv/bin/pytest" in second


def test_setup_commands_run_in_a_new_shell() -> None:
    blocks = setup_blocks()
    assert blocks
    problems = [p for block in blocks for p in _problems(block)]
    assert problems == []
    named = {words[0].removeprefix(".venv/bin/") for block in blocks
             for words in commands(block)}
    # The README's own examples of what works without activating.
    assert {"resilience", "python"} <= named
    assert "resilience" in _console_scripts()


@pytest.mark.parametrize(("block", "problem"), [
    (["resilience solve instances/tiny.json"], "without naming .venv/bin/"),
    (["python instances/make_siouxfalls.py"], "without naming .venv/bin/"),
    ([".venv/bin/python instances/make_nowhere.py"], "does not exist"),
    ([".venv/bin/resilience-gui"], "not a program the environment installs"),
])
def test_the_setup_check_catches_what_fails_in_a_new_shell(block: list[str],
                                                           problem: str) -> None:
    assert any(problem in p for p in _problems(block))
    assert _problems(["source .venv/bin/activate", "resilience --version"]) == []


def test_make_scripts_run_with_the_environments_python(tmp_path: Path) -> None:
    """``.venv/bin/python instances/make_*.py`` from the repository root: the script finds
    the ``optimizer`` package (installed by the set-up) and rebuilds the same file."""
    script = ROOT / "instances" / "make_siouxfalls.py"
    before = (ROOT / "instances" / "siouxfalls.json").read_bytes()
    run = subprocess.run([sys.executable, str(script.relative_to(ROOT))], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout
    assert (ROOT / "instances" / "siouxfalls.json").read_bytes() == before


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): walk instead
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts
                and ".git" not in p.parts]
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


# The folder that used to hold the real data beside the repository, in the ways a path to it
# is written (spelled in pieces so that this file does not match itself).
BESIDE = re.compile("|".join([
    r"\.\./" + "shared",
    r"parent\s*/\s*[\"']" + "shared" + r"[\"']",
    r"[\"']\.\.[\"']\s*,\s*[\"']" + "shared",
]))


def test_nothing_reads_a_folder_beside_the_repository() -> None:
    hits = []
    for path in _tracked_files():
        if path.suffix not in {".py", ".md", ".toml", ".cfg", ".txt", ".json", ""} or \
                not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in BESIDE.finditer(text)]
    assert hits == []


@pytest.mark.skipif(os.environ.get("RESILIENCE_SLOW_TESTS") != "1",
                    reason="installs the package in a fresh clone; RESILIENCE_SLOW_TESTS=1")
def test_first_setup_command_verbatim_in_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    first = next(b for b in setup_blocks() if any("pip install" in line for line in b))
    run = subprocess.run(["bash", "-c", " ".join(first)], cwd=clone, capture_output=True,
                         text=True, timeout=900, env={k: v for k, v in os.environ.items()
                                                      if k != "VIRTUAL_ENV"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert (clone / "medium.result.json").is_file()
