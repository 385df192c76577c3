"""One supervisor owns a database at a time: a live owner is named in the refusal, a dead or
silent one is taken over (README: "a second one is refused with the owner's pid and host,
and a dead owner's lease is taken over")."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from cr_support import EXAMPLE_AGENTS, Cli, Harness, assert_clean_error, connect, query

from controlroom import ScriptView, Turn, agent
from controlroom.errors import LeaseHeld
from controlroom.store.lease import STALE_AFTER_MS, read_lease


def _script(view: ScriptView) -> Turn:
    return Turn.final("nothing to do")


IDLE = agent(name="idle", script=_script)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _set_lease(path: Path, pid: int, host: str, heartbeat_ms: int) -> None:
    conn = connect(path)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO lease (id, owner, pid, host, started_ms, heartbeat_ms)"
            " VALUES (1, 'someone-else', ?, ?, ?, ?)",
            (pid, host, heartbeat_ms, heartbeat_ms),
        )
    finally:
        conn.close()


async def _started_events(harness: Harness) -> list[dict[str, object]]:
    return [e.event.model_dump() for e in await harness.entries(kind="supervisor_started")]


async def test_second_supervisor_is_refused_naming_the_owner(harness: Harness) -> None:
    first = harness.supervisor([IDLE])
    await first.start()
    try:
        second = harness.supervisor([IDLE])
        with pytest.raises(LeaseHeld) as caught:
            await second.start()
        message = str(caught.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert str(harness.db.path) in message
        assert "\n" not in message
        owner = await read_lease(harness.db)
        assert owner is not None and owner.owner == first.owner
    finally:
        await first.stop()
    # Released on a clean stop: the next supervisor starts without taking anything over.
    assert await read_lease(harness.db) is None
    third = harness.supervisor([IDLE])
    await third.start()
    await third.stop()
    started = await _started_events(harness)
    assert [e["took_over_from"] for e in started] == ["", ""]


async def test_live_owner_on_another_host_is_refused(harness: Harness) -> None:
    _set_lease(harness.db.path, 4242, "build-host-7", harness.clock.now_ms() - 2_000)
    with pytest.raises(LeaseHeld, match=r"pid 4242 on build-host-7, heartbeat 2s ago"):
        await harness.supervisor([IDLE]).start()
    assert query(harness.db.path, "SELECT pid, host FROM lease") == [(4242, "build-host-7")]


async def test_heartbeat_just_inside_the_stale_limit_still_holds(harness: Harness) -> None:
    _set_lease(harness.db.path, 4242, "build-host-7", harness.clock.now_ms() - STALE_AFTER_MS + 1)
    with pytest.raises(LeaseHeld):
        await harness.supervisor([IDLE]).start()


async def test_dead_pid_on_this_host_is_taken_over(harness: Harness) -> None:
    pid = _dead_pid()
    host = socket.gethostname()
    _set_lease(harness.db.path, pid, host, harness.clock.now_ms())  # fresh heartbeat, dead pid
    supervisor = harness.supervisor([IDLE])
    await supervisor.start()
    try:
        owner = await read_lease(harness.db)
        assert owner is not None and (owner.owner, owner.pid) == (supervisor.owner, os.getpid())
    finally:
        await supervisor.stop()
    [started] = await _started_events(harness)
    assert started["took_over_from"] == f"pid {pid} on {host}"


async def test_stale_heartbeat_is_taken_over(harness: Harness) -> None:
    _set_lease(harness.db.path, 4242, "build-host-7", harness.clock.now_ms() - STALE_AFTER_MS - 1)
    supervisor = harness.supervisor([IDLE])
    await supervisor.start()
    await supervisor.stop()
    [started] = await _started_events(harness)
    assert started["took_over_from"] == "pid 4242 on build-host-7"


# -- between processes ------------------------------------------------------------------------


def test_second_run_process_is_refused_and_commands_go_through_the_database(
    cli: Cli, workdir: Path
) -> None:
    db = workdir / "control.db"
    owner = cli.start("run", "--db", db, "--agents", EXAMPLE_AGENTS)
    started = owner.wait_for(lambda e: e["kind"] == "supervisor_started")
    assert started["pid"] == owner.pid

    second, status, submitted = cli.many(
        [
            ["run", "--db", db, "--agents", EXAMPLE_AGENTS, "--exit-when-idle"],
            ["status", "--db", db],
            ["submit", "--db", db, "--agents", EXAMPLE_AGENTS, "mailer", "mail a@example.com"],
        ]
    )
    assert_clean_error(second, str(db), f"pid {owner.pid} on {socket.gethostname()}")
    assert f"running (pid {owner.pid} on {socket.gethostname()})" in status.stdout, (
        status.describe()
    )
    assert submitted.returncode == 0, submitted.describe()
    agent_id = submitted.stdout.strip()
    # The running owner picks the task up from the database.
    owner.wait_for(lambda e: e["kind"] == "agent_completed" and e["agent_id"] == agent_id)

    owner.send(signal.SIGTERM)
    assert owner.wait() == 0, owner.stderr()
    # A cleanly stopped owner released the lease: the next run starts without a takeover.
    after = cli("run", "--db", db, "--agents", EXAMPLE_AGENTS, "--exit-when-idle")
    assert after.returncode == 0, after.describe()
    [restarted] = [e for e in after.json_lines() if e["kind"] == "supervisor_started"]
    assert restarted["took_over_from"] == ""


def test_killed_owner_is_taken_over_at_once(cli: Cli, workdir: Path) -> None:
    db = workdir / "control.db"
    owner = cli.start("run", "--db", db, "--agents", EXAMPLE_AGENTS)
    owner.wait_for(lambda e: e["kind"] == "supervisor_started")
    owner.send(signal.SIGKILL)
    owner.wait()
    result = cli("run", "--db", db, "--agents", EXAMPLE_AGENTS, "--exit-when-idle")
    assert result.returncode == 0, result.describe()
    [started] = [e for e in result.json_lines() if e["kind"] == "supervisor_started"]
    assert started["took_over_from"] == f"pid {owner.pid} on {socket.gethostname()}"
