"""The lease that makes one supervisor the owner of a database.

The owner heartbeats; another process may take the lease over only when the heartbeat is
stale, or when the owner is on this host and its pid is gone (a SIGKILLed supervisor is
replaced at once rather than after the stale timeout).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from sqlalchemy import text

from controlroom.errors import LeaseHeld
from controlroom.store.database import Database

HEARTBEAT_S = 1.0
STALE_AFTER_MS = 10_000


@dataclass(frozen=True)
class LeaseOwner:
    owner: str
    pid: int
    host: str
    started_ms: int
    heartbeat_ms: int
    wake_signal: int = 0

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_is_live(current: LeaseOwner, host: str, now_ms: int) -> bool:
    """Whether `current` still owns the database, judged from `host` at `now_ms`."""
    if current.host == host and not pid_alive(current.pid):
        return False
    return now_ms - current.heartbeat_ms < STALE_AFTER_MS


async def read_lease(db: Database) -> LeaseOwner | None:
    """The recorded owner, live or not."""
    row = await db.first(
        "SELECT owner, pid, host, started_ms, heartbeat_ms, wake_signal FROM lease WHERE id = 1"
    )
    if row is None:
        return None
    return LeaseOwner(str(row[0]), int(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5]))


def wake(owner: LeaseOwner, host: str) -> None:
    """Ask a live owner on this host to read its inbox now rather than at its next poll.

    Only an owner that recorded a wake-up signal is sent one: that signal's default action
    would end a process that does not handle it.
    """
    if owner.wake_signal and owner.host == host:
        with contextlib.suppress(OSError):
            os.kill(owner.pid, owner.wake_signal)


async def wake_owner(db: Database, host: str, now_ms: int) -> None:
    """`wake` the database's owner, if one is live (after queuing something for it)."""
    owner = await read_lease(db)
    if owner is not None and owner_is_live(owner, host, now_ms):
        wake(owner, host)


async def acquire_lease(
    db: Database, owner: str, pid: int, host: str, now_ms: int, wake_signal: int = 0
) -> LeaseOwner | None:
    """Take the lease or raise `LeaseHeld` naming the live owner; returns who it was taken from."""
    async with db.write_engine.begin() as conn:
        row = (
            await conn.execute(
                text("SELECT owner, pid, host, started_ms, heartbeat_ms FROM lease WHERE id = 1")
            )
        ).first()
        previous = None
        if row is not None:
            previous = LeaseOwner(str(row[0]), int(row[1]), str(row[2]), int(row[3]), int(row[4]))
            if previous.owner != owner and owner_is_live(previous, host, now_ms):
                raise LeaseHeld(
                    f"{db.path}: owned by a running supervisor ({previous.describe()}, "
                    f"heartbeat {max(0, now_ms - previous.heartbeat_ms) // 1000}s ago); "
                    "commands from this process go through the database instead"
                )
        await conn.execute(
            text(
                "INSERT OR REPLACE INTO lease (id, owner, pid, host, started_ms, heartbeat_ms,"
                " wake_signal) VALUES (1, :owner, :pid, :host, :now, :now, :wake)"
            ),
            {"owner": owner, "pid": pid, "host": host, "now": now_ms, "wake": wake_signal},
        )
    return previous


async def release_lease(db: Database, owner: str) -> None:
    """Give the lease up (only if we still hold it)."""
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM lease WHERE id = 1 AND owner = :owner"), {"owner": owner}
        )


HEARTBEAT_SQL = "UPDATE lease SET heartbeat_ms = ? WHERE id = 1 AND owner = ?"
