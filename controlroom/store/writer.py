"""The journal writer: one task owns the write connection and commits in groups.

Agents hand it their step's rows and await; it takes everything that queued up while the
previous transaction was committing, writes it as one transaction (`BEGIN IMMEDIATE`, one
`executemany` per table, `COMMIT`), and only then wakes each waiter (Invariant 1). While one
commit is on the disk the event loop keeps running agents, so the next batch forms in the
meantime: many agents share each fsync.

Rows go through the driver connection's `executemany` rather than SQLAlchemy statements:
on this hot path the Core overhead per row costs more than the insert itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from controlroom import crashpoints
from controlroom.clock import Clock
from controlroom.domain.events import Event, JournalEntry
from controlroom.domain.models import AgentState
from controlroom.store.chain import GENESIS, row_hash
from controlroom.store.database import Database

_INSERT_EVENT = (
    "INSERT INTO events (id, ts_ms, agent_id, identity, kind, step, data, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (agent_id, event_id, step, messages, state) VALUES (?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event to journal, with the agent and identity it is attributed to."""

    agent_id: str
    identity: str
    step: int
    event: Event


@dataclass(frozen=True, slots=True)
class CheckpointDelta:
    """The messages a step added (JSON array) and the agent's small state after it."""

    agent_id: str
    messages_json: str
    state: AgentState


@dataclass(frozen=True, slots=True)
class Statement:
    """Any other write that must be atomic with the events (status changes, inbox marks)."""

    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CommitResult:
    entries: list[JournalEntry]
    rowcounts: list[int]


@dataclass(slots=True)
class _Request:
    events: Sequence[PendingEvent]
    checkpoint: CheckpointDelta | None
    statements: Sequence[Statement]
    future: asyncio.Future[CommitResult] = field(repr=False)


class WriterClosed(RuntimeError):
    """The writer was closed; nothing more can be committed."""


class JournalWriter:
    """Owns the write connection; see the module docstring."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        on_committed: Callable[[list[JournalEntry]], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_committed = on_committed
        self._pending: list[_Request] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._last_id = 0
        self._last_hash = GENESIS
        self._failure: Exception | None = None
        self.commits = 0

    async def start(self) -> None:
        """Open the write connection and find the journal's head."""
        self._conn = await self._db.write_engine.connect()
        raw = await self._conn.get_raw_connection()
        self._driver = raw.driver_connection
        cursor = await self._driver.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")
        row = await cursor.fetchone()
        await cursor.close()
        if row is not None:
            self._last_id, self._last_hash = int(row[0]), bytes(row[1])
        self._task = asyncio.create_task(self._run(), name="journal-writer")

    @property
    def last_event_id(self) -> int:
        return self._last_id

    def submit(
        self,
        events: Sequence[PendingEvent],
        checkpoint: CheckpointDelta | None = None,
        statements: Sequence[Statement] = (),
    ) -> asyncio.Future[CommitResult]:
        """Queue rows for the next group transaction; the future resolves once they are durable.

        Requests are committed in the order they were submitted, never reordered: a request
        is durable no later than every request submitted after it.
        """
        if self._failure is not None:
            raise WriterClosed(f"journal writer stopped after an error: {self._failure}")
        if self._closing or self._task is None:
            raise WriterClosed("journal writer is closed")
        if checkpoint is not None and not events:
            raise ValueError("a checkpoint must be committed with at least one event")
        future: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(events, checkpoint, statements, future))
        self._wakeup.set()
        return future

    async def commit(
        self,
        events: Sequence[PendingEvent],
        checkpoint: CheckpointDelta | None = None,
        statements: Sequence[Statement] = (),
    ) -> CommitResult:
        """Write these rows in the next group transaction; return once they are durable."""
        return await self.submit(events, checkpoint, statements)

    async def close(self) -> None:
        """Commit what is queued, then stop and release the connection."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if batch and self._failure is None:
                await self._write_batch(batch)
            elif self._closing or self._failure is not None:
                return

    async def _write_batch(self, batch: list[_Request]) -> None:
        try:
            results = await self._transaction(batch)
        except Exception as exc:
            # A failed group commit (disk full, I/O error) stops the writer: committing later
            # requests would put the journal out of the order agents relied on.
            self._failure = exc
            for request in batch + self._pending:
                _fail(request, exc)
            self._pending = []
            return
        self._deliver(batch, results)

    def _deliver(self, batch: list[_Request], results: list[CommitResult]) -> None:
        crashpoints.reached("after-commit")
        published: list[JournalEntry] = []
        for request, result in zip(batch, results, strict=True):
            published.extend(result.entries)
            if not request.future.done():
                request.future.set_result(result)
        if self._on_committed is not None and published:
            self._on_committed(published)

    async def _transaction(self, batch: list[_Request]) -> list[CommitResult]:
        ts = self._clock.now_ms()
        next_id = self._last_id + 1
        prev = self._last_hash
        event_rows: list[tuple[Any, ...]] = []
        checkpoint_rows: list[tuple[Any, ...]] = []
        results: list[CommitResult] = []
        for request in batch:
            entries: list[JournalEntry] = []
            for pending in request.events:
                event = pending.event
                data = event.model_dump_json()
                digest = row_hash(
                    prev,
                    next_id,
                    ts,
                    pending.agent_id,
                    pending.identity,
                    event.kind,
                    pending.step,
                    data,
                )
                event_rows.append(
                    (
                        next_id,
                        ts,
                        pending.agent_id,
                        pending.identity,
                        event.kind,
                        pending.step,
                        data,
                        digest,
                    )
                )
                entries.append(
                    JournalEntry(
                        next_id, ts, pending.agent_id, pending.identity, pending.step, event
                    )
                )
                prev = digest
                next_id += 1
            checkpoint = request.checkpoint
            if checkpoint is not None:
                state = checkpoint.state
                checkpoint_rows.append(
                    (
                        checkpoint.agent_id,
                        next_id - 1,
                        state.step,
                        checkpoint.messages_json,
                        state.model_dump_json(),
                    )
                )
            results.append(CommitResult(entries, []))
        statements = [(st.sql, st.params) for request in batch for st in request.statements]
        rowcounts = await _in_connection_thread(
            self._driver, _write_transaction, event_rows, checkpoint_rows, statements
        )
        counts = iter(rowcounts)
        for request, result in zip(batch, results, strict=True):
            result.rowcounts.extend(next(counts) for _ in request.statements)
        self.commits += 1
        self._last_id = next_id - 1
        self._last_hash = prev
        for request, result in zip(batch, results, strict=True):
            checkpoint = request.checkpoint
            if checkpoint is not None and result.entries:
                checkpoint.state.last_event_id = result.entries[-1].id
        return results


async def _in_connection_thread(driver: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(sqlite3_connection, *args)` on aiosqlite's own thread, in one hop.

    aiosqlite's public methods make one thread round trip each, and every round trip waits
    behind a whole pass of the event loop over the agents; a transaction of four calls then
    costs four such passes. `_execute` is the primitive every aiosqlite method is built on
    (the dependency is pinned to versions that have it).
    """
    return await driver._execute(fn, driver._conn, *args)


def _write_transaction(
    conn: sqlite3.Connection,
    event_rows: list[tuple[Any, ...]],
    checkpoint_rows: list[tuple[Any, ...]],
    statements: list[tuple[str, tuple[Any, ...]]],
) -> list[int]:
    """One group commit, run on the connection's thread. Returns each statement's rowcount."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if event_rows:
            conn.executemany(_INSERT_EVENT, event_rows)
        if checkpoint_rows:
            conn.executemany(_INSERT_CHECKPOINT, checkpoint_rows)
        rowcounts = [conn.execute(sql, params).rowcount for sql, params in statements]
        crashpoints.reached("in-transaction")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return rowcounts


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
