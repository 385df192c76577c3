"""The control room across processes and restarts: the real `controlroom ui` and `demo`
commands in a pseudo-terminal (as over SSH), an attached control room working the hosting
one's approvals, and a control room closed and relaunched on the same database."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cr_support import EXAMPLE_AGENTS, REPO, Cli, Harness, chain_break, query
from payer import PAID, PAYER
from terminal import Terminal
from ui_support import POLICIES, WIDE, column, loaded, main_screen, seed, status, table, until

from controlroom.clock import SystemClock
from controlroom.store.database import open_database
from controlroom.ui.app import make_app


@pytest.fixture(autouse=True)
def _no_payments() -> None:
    PAID.clear()


def _eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def _count(db: Path, sql: str) -> int:
    """A count from `db`, or -1 while the file is not there or not yet a database."""
    try:
        return int(query(db, sql)[0][0]) if db.exists() else -1
    except sqlite3.OperationalError:
        return -1


def _ledger(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "refunds.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    try:
        yield opened
    finally:
        for terminal in opened:
            terminal.close()


async def test_an_approval_made_in_an_attached_control_room_runs_in_the_hosting_one(
    cli: Cli, workdir: Path, terminals: list[Terminal]
) -> None:
    """`controlroom ui` hosts the supervisor in a terminal; a second control room on the
    same database attaches, says so, and approves the refund waiting there: the hosting
    process pays it once, and quits cleanly on `q`."""
    db = workdir / "control.db"
    common = ["--db", db, "--agents", EXAMPLE_AGENTS, "--policies", REPO / "policies"]
    submitted = cli("submit", *common, "refunds", "refund order A-7 120")
    assert submitted.returncode == 0, submitted.describe()
    host = Terminal(["ui", *common, "--as", "oncall"], workdir, cli.env, WIDE)
    terminals.append(host)
    _eventually(
        lambda: (
            query(db, "SELECT status FROM agents") == [("awaiting_approval",)]
            and query(db, "SELECT COUNT(*) FROM lease") == [(1,)]
        )
    )

    database = await open_database(db)
    try:
        app = make_app(database, clock=SystemClock(), operator="oncall")
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot, app, agents=1, approvals=1)
            await until(pilot, lambda: app.mode == "attached")
            assert "attached to" in str(main_screen(app).query_one("#title").render())
            await pilot.press("2", "a")
            await until(pilot, lambda: status(app).kind == "ok", tries=1000)
            await until(pilot, lambda: table(app, "approvals").row_count == 0, tries=1000)
            await until(pilot, lambda: column(app, "agents", 3) == ["completed"], tries=1000)
    finally:
        await database.close()

    assert [(e["order_id"], e["amount"]) for e in _ledger(workdir)] == [("A-7", 120.0)]
    [(data,)] = query(db, "SELECT data FROM events WHERE kind = 'approval_decided'")
    assert json.loads(data)["approvers"] == ["oncall"]
    host.type("q")
    assert host.wait(30) == 0, host.text()
    assert chain_break(db) is None
    assert b"Control Room" in host.output and b"hosting the supervisor" in host.output


async def test_approve_close_relaunch_resumes_and_keeps_the_state(harness: Harness) -> None:
    """Approve with no supervisor running (queued), close; relaunch hosting: the queued
    decision is applied and the last approval made there resumes the agent; close and
    relaunch again: the same state, nothing paid twice."""
    await seed(harness)

    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "a")
        await until(pilot, lambda: "applied when a supervisor starts" in status(app).message)
    assert [(to, amount) for to, amount, _ in PAID] == [("dave", 20)]

    supervisor = harness.supervisor([PAYER], POLICIES, poll_interval_s=0.5)
    await supervisor.start()
    try:
        app = make_app(harness.db, clock=harness.clock, operator="ann", supervisor=supervisor)
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: app.ready and table(app, "approvals").row_count == 1)
            assert column(app, "approvals", 1) == ["2"]
            await pilot.press("2", "a")
            await until(pilot, lambda: column(app, "agents", 3)[0] == "completed", tries=1000)
    finally:
        await supervisor.stop()

    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=0)
        assert column(app, "agents", 3) == ["completed", "completed"]
        assert column(app, "calls", 3).count("ok") == 3
    assert sorted((to, amount) for to, amount, _ in PAID) == [
        ("alice", 500),
        ("carol", 300),
        ("dave", 20),
    ]


def test_demo_opens_the_control_room_and_resumes_after_a_close(
    workdir: Path, terminals: list[Terminal]
) -> None:
    """`controlroom demo` in a terminal hosts the scripted scenario in the control room;
    `q` closes it with every agent checkpointed; relaunched, it resumes the same database
    (nothing queued twice: the tasks submitted are the same, though a team may have started
    more of its members meanwhile); `--reset` starts over."""
    home = workdir / "demo"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONTROLROOM_")}
    env.update({"CONTROLROOM_DEMO_PACE": "0.05", "PYTHONUNBUFFERED": "1"})
    started = "SELECT COUNT(*) FROM events WHERE kind = 'supervisor_started'"
    submitted = "SELECT COUNT(*) FROM agents WHERE parent_id IS NULL"
    first = Terminal(["demo", "--home", home], workdir, env, WIDE)
    terminals.append(first)
    db = home / "demo.db"
    _eventually(lambda: _count(db, "SELECT COUNT(*) FROM approvals") >= 2)
    first.type("q")
    assert first.wait(30) == 0, first.text()
    agents = query(db, submitted)[0][0]
    assert b"hosting the supervisor" in first.output

    again = Terminal(["demo", "--home", home], workdir, env, WIDE)
    terminals.append(again)
    _eventually(lambda: _count(db, started) == 2)
    again.type("q")
    assert again.wait(30) == 0, again.text()
    assert query(db, submitted)[0][0] == agents
    assert chain_break(db) is None

    fresh = Terminal(["demo", "--home", home, "--reset"], workdir, env, WIDE)
    terminals.append(fresh)
    _eventually(lambda: _count(db, started) == 1)
    fresh.type("q")
    assert fresh.wait(30) == 0, fresh.text()
    assert query(db, submitted)[0][0] == agents, "the same tasks, anew"
    assert query(db, started)[0][0] == 1


def test_ui_on_a_file_that_is_not_a_database_fails_in_one_line(cli: Cli, workdir: Path) -> None:
    """A file that is not a control room database is refused with one line naming it,
    a non-zero exit, and the file left as it was."""
    bogus = workdir / "notes.db"
    bogus.write_text("these are my notes, not a database\n")
    result = cli("ui", "--db", bogus, "--agents", EXAMPLE_AGENTS)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bogus) in lines[0], result.describe()
    assert bogus.read_text() == "these are my notes, not a database\n"
