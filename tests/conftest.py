"""Shared test set-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optimizer import stopping


@pytest.fixture(autouse=True)
def _no_stop_left_over() -> Iterator[None]:
    """A stop requested in one test (tests/test_interrupt.py) stays readable after its
    command, for the exit code (optimizer.stopping.session); it must not reach the next
    test's solves, which would skip stages or stop at once."""
    yield
    with stopping.session():
        pass
