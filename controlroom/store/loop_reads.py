"""Small reads on the event loop's own thread, with a worker thread only when SQLite is busy.

A read through the async engine hands each of its steps (checkout, BEGIN, execute, fetch,
rollback) to aiosqlite's worker thread and back: about 1.5 ms for a one-row read on an idle
loop, several times that while agents keep the loop busy (each hand-back waits for the
GIL), and CPU on the loop's thread for SQLAlchemy's machinery besides. The same read on a
connection of the loop's thread takes microseconds: SQLite answers a small indexed read
from its page cache, and in WAL mode a reader never waits for the writer. A team's wake-up
reads its checkpoint and its members' rows before it can decide anything, so this is time
the whole tree waits.

A read may still meet SQLITE_BUSY (another process recovering the WAL after a crash, say).
The loop's connection has a busy timeout of 0, so that is known at once instead of blocking
every agent, and the read is done again on a worker thread that waits the usual busy
timeout. The connection is `query_only`: nothing written through it can reach the file.
Large reads (the whole journal, exports) are not for this: they would hold up every agent
while they run.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Params = Mapping[str, Any] | Sequence[Any]
Read = Callable[[sqlite3.Connection], T]


class _Busy(Exception):
    """SQLite could not give the read a snapshot without waiting."""


class LoopReads:
    """Read transactions on a connection of the calling thread (see the module docstring)."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Bumped by `close`: a thread's connection from before it is not used again.
        self._generation = 0

    async def run(self, read: Read[T]) -> T:
        """`read(connection)` in one read transaction: its statements see one snapshot."""
        try:
            return self._now(read)
        except _Busy:
            return await asyncio.to_thread(self._patiently, read)

    def close(self) -> None:
        """Close every thread's connection. As with the engines' `dispose`, a later read
        opens a new one (an app may open the database on one loop and read on another)."""
        with self._lock:
            self._generation += 1
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def _now(self, read: Read[T]) -> T:
        conn = self._connection()
        try:
            conn.execute("BEGIN")
            try:
                return read(conn)
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                raise _Busy from None
            raise

    def _patiently(self, read: Read[T]) -> T:
        conn = self._open(self._busy_timeout_ms)
        try:
            conn.execute("BEGIN")
            return read(conn)
        finally:
            conn.close()

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            conn = self._open(0)
            with self._lock:
                self._opened.append(conn)
                local.conn, local.generation = conn, self._generation
        connection: sqlite3.Connection = local.conn
        return connection

    def _open(self, busy_timeout_ms: int) -> sqlite3.Connection:
        # Autocommit mode: the transactions are the BEGINs above. Any thread may close it.
        # `mode=rw`: a database file removed meanwhile is an error, never created anew.
        conn = sqlite3.connect(
            f"{self._path.resolve().as_uri()}?mode=rw",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        conn.execute("PRAGMA query_only=ON")
        return conn
