"""A supervisor on this host is woken by a signal when another process queues a command,
instead of finding it at its next poll."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

from cr_support import Harness

from controlroom.clock import FakeClock
from controlroom.runtime.supervisor import Supervisor
from controlroom.runtime.wakeup import WAKE_SIGNAL
from controlroom.store.database import open_database
from controlroom.store.inbox import enqueue_command
from controlroom.store.lease import read_lease, wake_owner


async def test_a_queued_command_wakes_the_owner_at_once(harness: Harness) -> None:
    agent_id = await harness.submit("nobody", "x")  # no definition: a target that exists
    supervisor = harness.supervisor([], poll_interval_s=60.0)
    await supervisor.start()
    other = await open_database(harness.db.path, create=False)  # the other process's view
    try:
        owner = await read_lease(other)
        assert owner is not None
        assert (owner.pid, owner.wake_signal) == (os.getpid(), int(WAKE_SIGNAL))
        await supervisor.poll_once()  # the start-up poll is behind us; the next is a minute off
        command = await enqueue_command(other, "pause", agent_id, "ann", 0)
        await wake_owner(other, socket.gethostname(), harness.clock.now_ms())
        outcome = await harness.wait_applied(command, within_s=10)
        assert outcome is not None and "paused" in outcome
    finally:
        await other.close()
        await supervisor.stop()
    assert (await read_lease(harness.db)) is None


def test_an_owner_that_cannot_take_the_signal_records_none(tmp_path: Path) -> None:
    """Off the main thread no handler can be installed: the lease then names no signal, so
    no process sends one (its default action would end the supervisor's process)."""

    async def start_and_read() -> int:
        db = await open_database(tmp_path / "thread.db")
        supervisor = Supervisor(db, {}, clock=FakeClock())
        try:
            await supervisor.start()
            owner = await read_lease(db)
            assert owner is not None and owner.pid == os.getpid()
            return owner.wake_signal
        finally:
            await supervisor.stop()
            await db.close()

    found: list[int] = []
    thread = threading.Thread(target=lambda: found.append(asyncio.run(start_and_read())))
    thread.start()
    thread.join(30)
    assert found == [0]
