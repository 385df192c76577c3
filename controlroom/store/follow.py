"""Reading the journal as it grows: the events export for log shippers (`controlroom events`).

A reader, never a writer: it polls `events` by primary key (`id > last seen`) on the read
engine, so it works beside a running supervisor without taking the write lock.

Polling by key neither skips nor repeats an event. Only the supervisor's journal writer
inserts events, and it numbers them consecutively inside a `BEGIN IMMEDIATE` transaction;
transactions commit one at a time, in id order, and a reader sees a commit whole or not at
all. So the rows a reader can see are always a prefix 1..N of the journal, and a reader
resumed "after N" is given exactly the rows with id > N, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from pydantic import ValidationError
from sqlalchemy import text

from controlroom.domain.events import JournalEntry, decode_event
from controlroom.errors import ControlRoomError
from controlroom.store.database import Database
from controlroom.store.queries import JournalRow, journal_rows

POLL_S = 0.2
BATCH = 1000


class NotInJournal(ControlRoomError):
    """A stream resumed after an event the journal does not hold: its events with higher
    ids, when they come, are not the ones the stream skipped, so nothing is printed."""


class UnreadableEvent(ControlRoomError):
    """A journal row this version cannot decode (written by a newer Control Room, say).

    Skipping it would break the promise that a stream holds every event, so the stream
    stops there, after every event before it.
    """


async def journal_tail(
    db: Database,
    after_id: int = 0,
    *,
    follow: bool = False,
    stop: asyncio.Event | None = None,
    poll_s: float = POLL_S,
    batch: int = BATCH,
) -> AsyncGenerator[JournalEntry, None]:
    """The journal's entries with id > `after_id`, in id order.

    Without `follow`, it ends once it has caught up with what was committed. With `follow`
    it then waits for new commits, polling every `poll_s` seconds, until `stop` is set.
    `stop` is checked before each entry, so a stream ends between two entries, never
    inside one. An `after_id` past the newest event is refused (`NotInJournal`): the
    stream's cursor belongs to another journal.
    """
    head = await journal_head(db)
    if after_id > head:
        raise NotInJournal(
            f"{db.path}: no event #{after_id}: the journal ends at #{head} "
            "(is this the database the stream came from?)"
        )
    stop = stop or asyncio.Event()
    last = after_id
    while not stop.is_set():
        rows = await journal_rows(db, last, batch)
        for row in rows:
            if stop.is_set():
                return
            entry = _decoded(row)
            last = entry.id
            yield entry
        if len(rows) == batch:
            continue  # catching up: the next batch is already committed
        if not follow:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_s)


async def journal_head(db: Database) -> int:
    """The id of the newest committed event (0 for an empty journal)."""
    async with db.read_engine.connect() as conn:
        return int(await conn.scalar(text("SELECT max(id) FROM events")) or 0)


def _decoded(row: JournalRow) -> JournalEntry:
    try:
        event = decode_event(row.kind, row.data)
    except (KeyError, ValidationError):
        raise UnreadableEvent(
            f"journal event #{row.id} ({row.kind}) cannot be read by this version of "
            f"controlroom: stopped after event #{row.id - 1}"
        ) from None
    return JournalEntry(row.id, row.ts_ms, row.agent_id, row.identity, row.step, event)
