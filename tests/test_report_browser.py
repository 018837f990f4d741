"""The HTML report and comparison in a real browser: headless Chromium.

Each page is rendered to a screenshot, which must not be blank, with the browser's console
captured, which must stay empty: the page has no script, and its Content-Security-Policy
turns any attempt to load something from outside into a console message. The report is
also printed to PDF, which must come out on A4 pages. `.ci/run` installs Debian's
``chromium``; on a developer's machine without a browser these tests are skipped, but in CI
(``CI`` set) a missing browser is a failure: the check must not quietly vanish.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report import ok, recovery_document, run, solve_to_files, town_doc

from optimizer.cli.report import compare, report

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                "google-chrome", "google-chrome-stable")
                if shutil.which(name)), None)
if BROWSER is None and os.environ.get("CI"):
    raise RuntimeError("CI must run the browser checks: .ci/run installs Debian's chromium")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="needs Chromium (.ci/run installs "
                                "Debian's chromium package)")
WINDOW = (1200, 2000)
CONSOLE = re.compile(r":CONSOLE[:(]")


def headless(tmp_path: Path, page: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium once on ``page`` with a fresh profile, console logged to stderr."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               f"--window-size={WINDOW[0]},{WINDOW[1]}", *action, page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def screenshot(tmp_path: Path, page: Path) -> tuple[np.ndarray, list[str]]:
    """The rendered page as an RGB array, and the console messages it produced."""
    import matplotlib.image

    png = tmp_path / f"{page.stem}.png"
    done = headless(tmp_path, page, f"--screenshot={png}")
    image = matplotlib.image.imread(png)[..., :3]
    return image, console_messages(done.stderr)


def colours(image: np.ndarray) -> int:
    """How many distinct colours an RGB image holds."""
    rgb = (image * 255).astype(np.uint32)
    return len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))


def assert_not_blank(image: np.ndarray) -> None:
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    assert colours(image) > 100, f"only {colours(image)} colours: is the page blank?"
    inked = (image.min(axis=2) < 0.9).mean()
    assert 0.03 < inked < 0.9, f"{inked:.1%} of the screenshot is not white"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The town's report (with a hand-made recovery section) and a comparison, as HTML."""
    folder = tmp_path_factory.mktemp("browser")
    instance, result, doc = solve_to_files(folder, town_doc())
    _, low, _ = solve_to_files(folder, town_doc(), budget=250.0)
    with_recovery = folder / "recovery.result.json"
    with_recovery.write_text(json.dumps(recovery_document(doc)), encoding="utf-8")
    out = {"report": folder / "report.html", "comparison": folder / "comparison.html"}
    ok(run(report, with_recovery, "-o", out["report"], "--instance", instance))
    ok(run(compare, low, result, "-o", out["comparison"], "--instance", instance))
    return out


def test_the_report_renders(tmp_path: Path, pages: dict[str, Path]) -> None:
    image, console = screenshot(tmp_path, pages["report"])
    assert console == []
    assert_not_blank(image)
    # The top of the page holds the key figures and the map: drawn, not empty boxes.
    assert colours(image[:700]) > 50


def test_the_rendered_report_has_every_section(tmp_path: Path,
                                               pages: dict[str, Path]) -> None:
    done = headless(tmp_path, pages["report"], "--dump-dom")
    assert console_messages(done.stderr) == []
    dom = done.stdout
    for section in ("plan", "cost", "scenarios", "dimensions", "unmet", "nothing", "recovery"):
        assert f'id="{section}"' in dom, section
    assert dom.count("<svg") == 4  # the map and the cost, scenario and recovery charts
    assert 'aria-label="Recovery curves"' in dom


def test_the_report_prints_on_a4(tmp_path: Path, pages: dict[str, Path]) -> None:
    pdf = tmp_path / "report.pdf"
    headless(tmp_path, pages["report"], f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert len(boxes) >= 2, "the report should run over several pages"
    for width, height in boxes:  # A4 is 595 x 842 points
        assert abs(float(width) - 595.3) < 1.5 and abs(float(height) - 841.9) < 1.5


def test_the_comparison_renders(tmp_path: Path, pages: dict[str, Path]) -> None:
    image, console = screenshot(tmp_path, pages["comparison"])
    assert console == []
    assert_not_blank(image)


def test_the_console_check_sees_a_blocked_load(tmp_path: Path,
                                              pages: dict[str, Path]) -> None:
    """The check is not vacuous: the report's policy blocks and logs an outside image."""
    html = pages["report"].read_text(encoding="utf-8")
    leaky = tmp_path / "leaky.html"
    leaky.write_text(html.replace("<main>", '<main><img src="http://192.0.2.1/x.png">', 1),
                     encoding="utf-8")
    _, console = screenshot(tmp_path, leaky)
    assert any("Content Security Policy" in line for line in console), console
