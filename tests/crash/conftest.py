"""Fixtures of the crash suite; the machinery and the checks are in crashkit.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The suite's modules import `crashkit` from this directory, whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))

from crashkit import CrashLab, agent_mix

from controlroom import crashpoints


@pytest.fixture
def crashlab(tmp_path: Path) -> Iterator[CrashLab]:
    """A scratch database, ledger and process log directory; no crash point inherited.

    Violations the checks kept are reported even when the test failed on an assertion
    before calling `raise_problems` (as an error at teardown)."""
    os.environ.pop("CONTROLROOM_CRASH_AT", None)
    crashpoints.reload()
    lab = CrashLab(tmp_path / "lab")
    yield lab
    if lab.problems and not lab.reported:
        lab.raise_problems()


@pytest.fixture
def mix() -> Callable[..., list[tuple[str, str]]]:
    """`mix(idem, recon, unsafe, steps, maker=0)`: an interleaved (agent, task) plan."""
    return agent_mix
