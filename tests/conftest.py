"""Fixtures for the unit, integration and bad-input tests (tests/crash/ has its own).

Helpers the tests call directly are in `cr_support.py`; this file only wires them to
pytest: a fake clock, a real database file in `tmp_path` with the real Supervisor around it,
and the real `controlroom` command run in subprocesses with its outputs kept in `tmp_path`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cr_support import Cli, Harness, env_without_controlroom

from controlroom.clock import FakeClock
from controlroom.store.database import Database, open_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path / "control.db")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def harness(db: Database, clock: FakeClock) -> Harness:
    return Harness(db, clock)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The subprocesses' working directory (so stray relative paths land in tmp_path)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def cli(workdir: Path) -> Iterator[Cli]:
    env = env_without_controlroom(
        {
            "CONTROLROOM_OUTBOX": str(workdir / "outbox"),
            "CONTROLROOM_LEDGER": str(workdir / "refunds.jsonl"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    runner = Cli(workdir, env)
    try:
        yield runner
    finally:
        runner.cleanup()
