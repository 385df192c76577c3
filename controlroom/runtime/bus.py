"""The event bus: committed journal entries fan out to subscribers on bounded queues.

Publishing never blocks the runtime. A subscriber that falls behind loses the oldest entries
and is told how many (`dropped`), so it can re-read from the store: the journal is the truth,
the bus only the fast path to the screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from controlroom.domain.events import JournalEntry


class Subscription:
    """One subscriber's bounded queue."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[JournalEntry] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, entry: JournalEntry) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(entry)

    async def get(self) -> JournalEntry:
        return await self.queue.get()


class EventBus:
    """Fan-out of committed entries."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        subscription = Subscription(maxsize)
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, entries: Iterable[JournalEntry]) -> None:
        if not self._subscriptions:
            return
        for entry in entries:
            for subscription in self._subscriptions:
                subscription.offer(entry)
