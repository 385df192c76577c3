"""The one path from the journal to the screen: follow it in batches, post one message each.

Every `interval_s` the bridge reads the journal entries committed since the last batch (by
primary key, so a quiet database costs one indexed lookup), folds them into the `Room`,
rereads only the agents and approvals they touched, and posts a single `RoomChanged`. A
hosting app and an attached one follow the same journal the same way, so they show the same
thing; 500 events a second become a few messages a second, never one per event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual.message import Message

from controlroom.domain.approvals import ApprovalStatus
from controlroom.store import agent_views, queries
from controlroom.store import approvals as approval_rows
from controlroom.store.database import Database
from controlroom.store.model_breakers import model_breakers
from controlroom.ui.projection import Room, Touched

BATCH = 5_000  # entries read per query
CATCH_UP_LIMIT = 50_000  # further behind than this, reread the store instead of the journal


class RoomChanged(Message):
    """The room changed; `touched` says where."""

    def __init__(self, touched: Touched) -> None:
        super().__init__()
        self.touched = touched


@dataclass
class Bridge:
    """Keeps `room` up to date with `db`."""

    db: Database
    room: Room

    async def open(self) -> Touched:
        """Read everything the panes start with."""
        head = await agent_views.latest_event_id(self.db)
        views = await agent_views.agent_views(self.db)
        waiting = await approval_rows.listed(self.db, [ApprovalStatus.PENDING])
        # The recent stream and alerts are folded again, so the panes are not empty after
        # a restart (and hold each line once after a reload).
        since = max(0, head - 2_000)
        breakers = await model_breakers(self.db)
        self.room.reset(views, waiting, since, breakers.values())
        recent = await queries.journal_entries(self.db, since, 2_000)
        touched = self.room.absorb(recent)
        return Touched(calls=touched.calls, alerts=touched.alerts, gap=True)

    async def step(self) -> Touched:
        """Fold in what was committed since the last step."""
        entries = await queries.journal_entries(self.db, self.room.last_event_id, BATCH)
        if not entries:
            return Touched()
        if len(entries) == BATCH:
            head = await agent_views.latest_event_id(self.db)
            if head - self.room.last_event_id > CATCH_UP_LIMIT:
                return await self.open()
            while len(entries) < CATCH_UP_LIMIT:
                more = await queries.journal_entries(self.db, entries[-1].id, BATCH)
                entries.extend(more)
                if len(more) < BATCH:
                    break
        touched = self.room.absorb(entries)
        views = await agent_views.agent_views(self.db, sorted(touched.agents))
        changed = await approval_rows.by_ids(self.db, sorted(touched.approvals))
        self.room.refresh(views, changed)
        return touched

    async def next_batch(self, interval_s: float) -> Touched:
        """Wait for the next tick and read what came: shielded, since a read cancelled inside
        the database driver can leave its connection waiting for ever."""
        await asyncio.sleep(interval_s)
        return await asyncio.shield(self.step())
