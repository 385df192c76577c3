"""Small reads on the loop's thread (store/loop_reads.py): they see committed rows, cannot
write, never block the loop when SQLite is busy, and end with the database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from controlroom.store.database import Database


@pytest.fixture
async def seeded(db: Database) -> Database:
    """The shared `db` with one agent row."""
    async with db.write_engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO agents (id, agent, task, user, status, submitted_ms, updated_ms)"
            " VALUES ('a-1', 'mailer', 'mail', 'u', 'queued', 0, 0)"
        )
    return db


async def test_a_read_sees_what_another_connection_committed(seeded: Database) -> None:
    assert await seeded.scalar("SELECT status FROM agents WHERE id = ?", ("a-1",)) == "queued"
    other = sqlite3.connect(seeded.path, isolation_level=None)
    other.execute("UPDATE agents SET status = 'running' WHERE id = 'a-1'")
    other.close()
    running = await seeded.scalar("SELECT status FROM agents WHERE id = :id", {"id": "a-1"})
    assert running == "running"


async def test_nothing_can_be_written_through_the_reads(seeded: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await seeded.rows("UPDATE agents SET status = 'failed'")
    assert await seeded.scalar("SELECT status FROM agents") == "queued"


async def test_a_busy_database_is_waited_for_off_the_loop(seeded: Database) -> None:
    """Another process holding SQLite's exclusive lock makes the loop's read busy at once:
    it is read again on a worker thread, which waits, while the loop goes on running."""
    db = seeded
    await db.close()  # its pooled connections would keep the holder from locking (it reopens)
    holder = sqlite3.connect(db.path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE agents SET status = 'running'")
    holder.execute("COMMIT")  # exclusive locking mode: the lock stays held
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def release_later() -> None:
        time.sleep(0.3)
        holder.execute("PRAGMA locking_mode=NORMAL")
        holder.execute("SELECT 1").fetchall()  # the next access lets the lock go
        holder.close()

    ticker = asyncio.create_task(ticking())
    releaser = threading.Thread(target=release_later)
    try:
        releaser.start()
        started = time.monotonic()
        status = await db.scalar("SELECT status FROM agents WHERE id = 'a-1'")
        waited = time.monotonic() - started
    finally:
        ticker.cancel()
        releaser.join()
    assert status == "running"
    assert waited >= 0.25, "the read did not wait for the lock"
    assert ticks >= 10, f"the loop was blocked while the read waited ({ticks} ticks)"


def _wal_left(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


async def test_closing_lets_go_of_the_file_and_a_later_read_reopens(seeded: Database) -> None:
    """Like the engines' dispose: nothing stays open (SQLite removes the WAL when its last
    connection closes), and the database can still be read afterwards."""
    db, path = seeded, seeded.path
    assert await db.rows("SELECT id FROM agents") == [("a-1",)]
    await db.close()
    assert not _wal_left(path), "a connection was left open"
    assert await asyncio.to_thread(asyncio.run, db.rows("SELECT id FROM agents")) == [("a-1",)]
    assert await db.rows("SELECT id FROM agents") == [("a-1",)]
    await db.close()
    assert not _wal_left(path), "a connection was left open"


async def test_a_database_file_removed_meanwhile_is_not_created_again(seeded: Database) -> None:
    await seeded.close()
    _remove_with_sidecars(seeded.path)
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        await seeded.rows("SELECT id FROM agents")
    assert not _exists(seeded.path), "the read created a new database file"


def _remove_with_sidecars(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _exists(path: Path) -> bool:
    return path.exists()
