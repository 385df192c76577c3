"""The journal writer: one owner of the write connection, committing in groups.

Agents hand it their step's rows and await a future. Each batch of requests is one
transaction and only once it is durable are its waiters woken (Invariant 1). A transaction
is split in two phases so the disk and the CPU work at the same time:

- the rows are inserted on the event loop's thread (`BEGIN IMMEDIATE`, one `executemany`
  per table): this only touches SQLite's page cache and costs microseconds a row;
- `COMMIT` (the WAL append and the fsync) runs on aiosqlite's thread, which holds no GIL
  while SQLite writes, so agents keep running meanwhile.

Running the inserts on the worker thread instead would hand the GIL back and forth once a
row while the loop is busy, each handoff waiting for the loop thread's switch interval.
Fewer, larger statements do not rescue it. Measured here, alternating fresh processes:
each table's rows as one `json_each` statement lost 16% at W(100,50) and 12% at W(10,100)
(JSON encoding and parsing came on top); the rows as multi-row `VALUES` statements lost
15% at W(100,50) (each statement still waits for the lock twice); all of them in one
autocommit insert into a TEMP view whose triggers fill both tables gained 3% at W(100,50)
and lost 5% at W(10,100).

When does a batch start? An idle writer starts one at the end of the current loop
iteration, so that every agent running in it shares one fsync. But if requests have been
gathering for `COHORT_AGE_S` in one iteration (many agents woken at once), the batch starts
at once with those, and the rest form the next: the agents split into cohorts, one
computing while the other's commit is on the disk. When a commit ends, the requests made
meanwhile start the next batch at once if they too gathered that long; if not (a few
agents, short steps), they wait for the agents the commit wakes and share their commit,
so that quick steps never settle into cohorts too small to pay for an fsync each. A
cohort's commit is woken as soon as the loop's thread lets go of the GIL, which the
supervisor's process makes happen within 0.5 ms (`runtime/process.py`). Measured here with
fresh processes alternating between builds: W(100,50) went from 5,736 to 6,624 durable
steps/s (medians of eight), W(10,100) did not change (4,482 and 4,549, medians of six): its
iterations are shorter than a commit, so it does not split.

If another process holds the write lock, `BEGIN IMMEDIATE` is not waited for on the loop's
thread: the whole transaction is handed to the worker thread, which waits up to the busy
timeout. Rows go through the driver connection rather than SQLAlchemy statements: on this
hot path the Core overhead per row costs more than the insert itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from controlroom import crashpoints
from controlroom.clock import Clock
from controlroom.domain.events import Event, JournalEntry, event_json
from controlroom.domain.models import AgentState
from controlroom.store.chain import GENESIS, row_hash
from controlroom.store.database import BUSY_TIMEOUT_MS, Database

# How long requests may gather in one loop iteration before a batch starts without waiting
# for the iteration's end (see the module docstring).
COHORT_AGE_S = 0.002

_INSERT_EVENT = (
    "INSERT INTO events (id, ts_ms, agent_id, identity, kind, step, data, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (agent_id, event_id, step, messages, state) VALUES (?, ?, ?, ?, ?)"
)


_Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, tuple[Any, ...]]]]


class PendingEvent(NamedTuple):
    """An event to journal, with the agent and identity it is attributed to."""

    agent_id: str
    identity: str
    step: int
    event: Event


class CheckpointDelta(NamedTuple):
    """The messages a step added (JSON array) and the agent's small state after it.

    Both are serialised when the delta is made: the agent goes on mutating its state while
    the commit is queued, and the checkpoint must hold the state of *this* step.
    """

    agent_id: str
    step: int
    messages_json: str
    state_json: str

    @classmethod
    def of(cls, agent_id: str, messages_json: str, state: AgentState) -> CheckpointDelta:
        """A snapshot of `state` as it is now."""
        return cls(agent_id, state.step, messages_json, state.to_json())


class Statement(NamedTuple):
    """Any other write that must be atomic with the events (status changes, inbox marks)."""

    sql: str
    params: tuple[Any, ...]


class CommitResult(NamedTuple):
    """What a request's commit produced: its journal entries, each statement's rowcount, and
    when (the clock's monotonic time) the batch became durable."""

    entries: list[JournalEntry]
    rowcounts: list[int]
    durable_at: float


@dataclass(slots=True)
class _Request:
    events: Sequence[PendingEvent]
    checkpoint: CheckpointDelta | None
    statements: Sequence[Statement]
    future: asyncio.Future[CommitResult] = field(repr=False)


class WriterClosed(RuntimeError):
    """The writer was closed or stopped after an error; nothing more can be committed."""


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
        self._first_pending_at = 0.0  # time.perf_counter() of the oldest pending request
        self._in_flight = False
        self._start_scheduled = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = False
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._last_id = 0
        self._last_hash = GENESIS
        # The id and hash of the newest durable row (what an audit anchor may sign).
        self.durable_head: tuple[int, bytes] = (0, GENESIS)
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
        self.durable_head = (self._last_id, self._last_hash)
        # Never wait for a lock on the loop's thread (see the module docstring).
        await self._driver.execute("PRAGMA busy_timeout=0")
        self._open = True

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
        if not self._open:
            raise WriterClosed("journal writer is closed")
        if checkpoint is not None and not events:
            raise ValueError("a checkpoint must be committed with at least one event")
        future: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        pending = self._pending
        pending.append(_Request(events, checkpoint, statements, future))
        if len(pending) == 1:
            self._first_pending_at = time.perf_counter()
        if self._in_flight:
            return future
        if self._cohort_gathered():
            self._start_batch()
        else:
            # Start at the end of this loop iteration, not now: every agent woken by the last
            # commit is already queued to run in it, and their requests then share one fsync.
            self._schedule_start()
        return future

    def _cohort_gathered(self) -> bool:
        """Whether the pending requests have gathered long enough to be worth a commit of
        their own while later ones gather (see the module docstring)."""
        return time.perf_counter() - self._first_pending_at >= COHORT_AGE_S

    def _schedule_start(self) -> None:
        if not self._start_scheduled:
            self._start_scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_start)

    def _scheduled_start(self) -> None:
        self._start_scheduled = False
        if self._pending and not self._in_flight and self._failure is None:
            self._start_batch()

    async def commit(
        self,
        events: Sequence[PendingEvent],
        checkpoint: CheckpointDelta | None = None,
        statements: Sequence[Statement] = (),
    ) -> CommitResult:
        """Write these rows in the next group transaction; return once they are durable."""
        return await self.submit(events, checkpoint, statements)

    async def close(self) -> None:
        """Let queued requests commit, then release the connection."""
        self._open = False
        await self._idle.wait()
        if self._conn is not None:
            # The connection goes back to the pool: give it back its busy timeout (if it still
            # works at all after a failure).
            with contextlib.suppress(sqlite3.Error):
                await self._driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await self._conn.close()
            self._conn = None

    def _start_batch(self) -> None:
        batch, self._pending = self._pending, []
        conn = self._driver._conn
        try:
            rows, batch_entries = self._rows(batch)
            try:
                counts = _insert_rows(conn, busy_wait=False, rows=rows)
                job = functools.partial(_commit, conn, counts)
            except _Busy:
                job = functools.partial(_write_transaction, conn, rows)
            done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
            # aiosqlite's worker queue: the primitive its public methods are built on. Putting
            # the job there directly starts the commit now, from this call, instead of when a
            # task would next be scheduled (the dependency is pinned accordingly).
            self._driver._tx.put_nowait((done, job))
        except Exception as exc:
            self._stop(batch, exc)
            return
        self._in_flight = True
        self._idle.clear()
        head = (self._last_id, self._last_hash)
        done.add_done_callback(functools.partial(self._finish_batch, batch, batch_entries, head))

    def _finish_batch(
        self,
        batch: list[_Request],
        batch_entries: list[list[JournalEntry]],
        head: tuple[int, bytes],
        done: asyncio.Future[list[int]],
    ) -> None:
        self._in_flight = False
        exc = done.exception()
        if exc is not None:
            self._stop(batch, exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            return
        self.commits += 1
        self.durable_head = head
        crashpoints.reached("after-commit")
        merge = False
        if not self._pending:
            self._idle.set()
        elif self._cohort_gathered():
            self._start_batch()  # the disk gets the next cohort before anyone is woken
        else:
            # A few requests that gathered during a short commit: rather than a commit of
            # their own, they share the one of the agents woken now (started after them),
            # gathering afresh with those.
            merge = True
            self._first_pending_at = time.perf_counter()
        durable_at = self._clock.monotonic()
        counts = iter(done.result())
        published: list[JournalEntry] = []
        for request, entries in zip(batch, batch_entries, strict=True):
            published.extend(entries)
            if request.checkpoint is not None and request.checkpoint.step > 0:
                crashpoints.reached("after-step-commit")
            rowcounts = [next(counts) for _ in request.statements] if request.statements else []
            if not request.future.done():
                request.future.set_result(CommitResult(entries, rowcounts, durable_at))
        if self._on_committed is not None and published:
            self._on_committed(published)
        if merge:
            self._schedule_start()  # queued after the wake-ups, so it runs after those agents

    def _stop(self, batch: list[_Request], exc: Exception) -> None:
        """A failed group commit (disk full, I/O error) stops the writer for good.

        Committing later requests would put the journal out of the order agents relied on.
        """
        self._failure = exc
        self._open = False
        for request in batch + self._pending:
            if not request.future.done():
                request.future.set_exception(exc)
        self._pending = []
        self._idle.set()

    def _rows(self, batch: list[_Request]) -> tuple[_Rows, list[list[JournalEntry]]]:
        """Assign ids, timestamps and chain hashes; build the rows of one transaction.

        The chain head advances here, at submission to the database: if the transaction
        fails the writer stops for good, so no later row can be chained to a lost one.
        """
        ts = self._clock.now_ms()
        next_id = self._last_id + 1
        prev = self._last_hash
        event_rows: list[tuple[Any, ...]] = []
        checkpoint_rows: list[tuple[Any, ...]] = []
        statements: list[tuple[str, tuple[Any, ...]]] = []
        batch_entries: list[list[JournalEntry]] = []
        for request in batch:
            entries: list[JournalEntry] = []
            for agent_id, identity, step, event in request.events:
                kind = event.kind
                data = event_json(event)
                prev = row_hash(prev, next_id, ts, agent_id, identity, kind, step, data)
                event_rows.append((next_id, ts, agent_id, identity, kind, step, data, prev))
                entries.append(JournalEntry(next_id, ts, agent_id, identity, step, event))
                next_id += 1
            checkpoint = request.checkpoint
            if checkpoint is not None:
                checkpoint_rows.append(
                    (
                        checkpoint.agent_id,
                        next_id - 1,
                        checkpoint.step,
                        checkpoint.messages_json,
                        checkpoint.state_json,
                    )
                )
            if request.statements:
                statements.extend(request.statements)
            batch_entries.append(entries)
        self._last_id = next_id - 1
        self._last_hash = prev
        return (event_rows, checkpoint_rows, statements), batch_entries


class _Busy(Exception):
    """Another connection holds the write lock; the transaction must wait off the loop."""


def _insert_rows(conn: sqlite3.Connection, *, busy_wait: bool, rows: _Rows) -> list[int]:
    """Phase one: open the transaction and insert the batch. Returns statement rowcounts.

    With `busy_wait` false the connection's busy timeout is zero and a held write lock
    raises `_Busy` at once, before anything is written.
    """
    event_rows, checkpoint_rows, statements = rows
    if busy_wait:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if not busy_wait and exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
            raise _Busy from None
        raise
    finally:
        if busy_wait:
            conn.execute("PRAGMA busy_timeout=0")
    try:
        if event_rows:
            conn.executemany(_INSERT_EVENT, event_rows)
        if checkpoint_rows:
            conn.executemany(_INSERT_CHECKPOINT, checkpoint_rows)
        rowcounts = [conn.execute(sql, params).rowcount for sql, params in statements]
        crashpoints.reached("in-transaction")
    except BaseException:
        _roll_back(conn)
        raise
    return rowcounts


def _commit(conn: sqlite3.Connection, rowcounts: list[int]) -> list[int]:
    """Phase two, on the connection's worker thread: make the batch durable."""
    try:
        conn.execute("COMMIT")
    except BaseException:
        _roll_back(conn)
        raise
    return rowcounts


def _write_transaction(conn: sqlite3.Connection, rows: _Rows) -> list[int]:
    """Both phases on the worker thread, waiting for a write lock another process holds."""
    return _commit(conn, _insert_rows(conn, busy_wait=True, rows=rows))


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
