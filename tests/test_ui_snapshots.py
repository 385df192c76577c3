"""Snapshots of the control room at 80x24 and 120x40, on seeded deterministic data: the main
screen, the approvals pane, an agent's detail, the help, and a task shown as a tree.

The data comes from the real supervisor on a fake clock (fixed timestamps, counted ids);
times are shown in local time, so the tests pin the zone to UTC. Each snapshot waits for the
first read of the store before pressing its keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cr_support import REPO, Harness
from payer import PAYER
from textual.pilot import Pilot
from ui_support import NARROW, POLICIES, SPENDING_PAYER, WIDE, seed, seed_team

from controlroom import demo
from controlroom.clock import FakeClock
from controlroom.governance.policy_loader import load_policies
from controlroom.runtime.loader import load_agents
from controlroom.store.database import Database, open_database
from controlroom.ui.app import ControlRoomApp, make_app
from controlroom.ui.definitions import Definitions

DEMO_AGENTS = load_agents(REPO / "agents")
DEMO_POLICIES = load_policies(REPO / "policies", DEMO_AGENTS)
SIZES = pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "120x40"])


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC while the test runs (the screens show local times)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


@contextlib.contextmanager
def prepared(fill: Callable[[Database], Awaitable[None]], path: Path) -> Iterator[Database]:
    """A database filled by `fill`, its connections closed so that the app's own event loop
    reconnects on first use; closed again afterwards."""

    async def prepare() -> Database:
        db = await open_database(path)
        await fill(db)
        await db.close()
        return db

    db = asyncio.run(prepare())
    try:
        yield db
    finally:
        asyncio.run(db.close())


@pytest.fixture
def seeded(tmp_path: Path, utc: None) -> Iterator[tuple[Database, FakeClock]]:
    """The payer agents of `ui_support.seed`: one waiting on two approvals, one done."""
    clock = FakeClock()

    async def fill(db: Database) -> None:
        await seed(Harness(db, clock))

    with prepared(fill, tmp_path / "control.db") as db:
        yield db, clock


def app_on(seeded: tuple[Database, FakeClock]) -> ControlRoomApp:
    db, clock = seeded
    definitions = Definitions({"payer": PAYER}, POLICIES)
    return make_app(db, clock=clock, operator="ann", refresh_s=60, definitions=definitions)


def after_loading(*keys: str, agents: int = 2) -> Any:
    """A `run_before` that waits for the first read of `agents` agents, then presses `keys`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ControlRoomApp)
        for _ in range(500):
            main = app.main_screen
            if app.ready and main is not None and main.table("agents").row_count == agents:
                break
            await pilot.pause(0.02)
        else:
            raise AssertionError("the control room never loaded")
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


@SIZES
def test_main_screen(seeded: tuple[Database, FakeClock], snap_compare: Any, size: Any) -> None:
    """Agents pane in focus: every pane at 120x40, the agents tab at 80x24."""
    assert snap_compare(app_on(seeded), run_before=after_loading(), terminal_size=size)


@SIZES
def test_approvals_pane(seeded: tuple[Database, FakeClock], snap_compare: Any, size: Any) -> None:
    """Approvals pane in focus, second approval highlighted, its context below the table."""
    assert snap_compare(app_on(seeded), run_before=after_loading("2", "j"), terminal_size=size)


@SIZES
def test_agent_detail(seeded: tuple[Database, FakeClock], snap_compare: Any, size: Any) -> None:
    """The detail of payer-1: its conversation, with the turn that waits for approval."""
    assert snap_compare(app_on(seeded), run_before=after_loading("enter"), terminal_size=size)


@SIZES
def test_help_screen(seeded: tuple[Database, FakeClock], snap_compare: Any, size: Any) -> None:
    """The `?` help over the approvals pane: its keys, then the commands."""
    app = app_on(seeded)
    assert snap_compare(app, run_before=after_loading("2", "question_mark"), terminal_size=size)


@pytest.fixture
def team_seeded(tmp_path: Path, utc: None) -> Iterator[tuple[Database, FakeClock]]:
    """The task tree of `ui_support.seed_team`: payer-1 over payer-3 and payer-4, payer-4
    over payer-5, and payer-2 alone."""
    clock = FakeClock()

    async def fill(db: Database) -> None:
        await seed_team(Harness(db, clock))

    with prepared(fill, tmp_path / "control.db") as db:
        yield db, clock


def team_app_on(seeded: tuple[Database, FakeClock]) -> ControlRoomApp:
    db, clock = seeded
    definitions = Definitions({"payer": SPENDING_PAYER}, POLICIES)
    return make_app(db, clock=clock, operator="ann", refresh_s=60, definitions=definitions)


@SIZES
def test_task_tree(team_seeded: tuple[Database, FakeClock], snap_compare: Any, size: Any) -> None:
    """A task as a tree: sub-agents under their parent with tree markers, each parent's
    cost with its tree's total (Σ), in the agents pane and the budgets pane."""
    app = team_app_on(team_seeded)
    assert snap_compare(app, run_before=after_loading(agents=5), terminal_size=size)


def test_team_detail(team_seeded: tuple[Database, FakeClock], snap_compare: Any) -> None:
    """The detail of payer-1 at 80x24, opened on its Team tab: its sub-agents as a tree,
    their status, step and cost, and the tree's total."""
    app = team_app_on(team_seeded)
    assert snap_compare(app, run_before=after_loading("enter", agents=5), terminal_size=NARROW)


@pytest.fixture
def demo_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Database, FakeClock]]:
    """The demo's scenario (the shipped agents and policies, the demo's tasks) run to rest on
    a fake clock, at no pace. The tasks are run one after the other, not all at once as the
    demo runs them, so that the journal's order (what the stream shows) is the same on
    every run."""
    monkeypatch.setenv(demo.PACE_ENV, "0")
    monkeypatch.setenv("CONTROLROOM_OUTBOX", "unset")  # restored after; `prepare` sets them
    monkeypatch.setenv("CONTROLROOM_LEDGER", "unset")
    paths = demo.demo_paths(tmp_path / "demo")
    demo.prepare(paths, reset=True)
    clock = FakeClock()

    async def fill(db: Database) -> None:
        harness = Harness(db, clock)
        for name, task in demo.DEMO_TASKS:
            await harness.submit(name, task, user="demo")
            await harness.run_until_idle(DEMO_AGENTS.values(), within_s=60, policies=DEMO_POLICIES)

    with prepared(fill, paths.db) as db:
        yield db, clock


def test_demo_screen(demo_db: tuple[Database, FakeClock], snap_compare: Any) -> None:
    """The demo at rest at 120x40, as the README shows it: refunds, a poisoned page, a loop
    and a runaway budget waiting for the on-call engineer."""
    db, clock = demo_db
    app = make_app(
        db,
        clock=clock,
        operator="oncall",
        refresh_s=60,
        definitions=Definitions(DEMO_AGENTS, DEMO_POLICIES),
    )
    assert snap_compare(app, run_before=after_loading("2", agents=15), terminal_size=WIDE)
