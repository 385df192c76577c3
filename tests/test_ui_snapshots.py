"""Snapshots of the main screen at 80x24 and 120x40, on seeded deterministic data.

The data comes from the real supervisor on a fake clock (fixed timestamps, counted ids); times
are shown in local time, so the tests pin the zone to UTC.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cr_support import Harness
from test_ui_app import seed

from controlroom.clock import FakeClock
from controlroom.store.database import Database, open_database
from controlroom.ui.app import make_app


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, FakeClock]]:
    """A seeded database whose connections are closed, ready for the app's own event loop."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    clock = FakeClock()

    async def prepare() -> Database:
        db = await open_database(tmp_path / "control.db")
        await seed(Harness(db, clock))
        await db.close()  # the engines reconnect on first use, in the app's loop
        return db

    db = asyncio.run(prepare())
    try:
        yield db, clock
    finally:
        asyncio.run(db.close())
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_main_screen(
    seeded: tuple[Database, FakeClock], snap_compare: Any, size: tuple[int, int]
) -> None:
    """The agents and approvals panes with the footer, approvals pane focused."""
    db, clock = seeded
    app = make_app(db, clock=clock, operator="ann", refresh_s=60)
    assert snap_compare(app, press=["tab"], terminal_size=size)


def test_help_screen(seeded: tuple[Database, FakeClock], snap_compare: Any) -> None:
    """The `?` help over the main screen at 80x24."""
    db, clock = seeded
    app = make_app(db, clock=clock, operator="ann", refresh_s=60)
    assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24))
