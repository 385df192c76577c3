"""Delivering the notification outbox, aside from everything else.

Rows are written by the commits that create what they announce (store/outbox.py). Each
pending row is sent in a task of its own, with the route's retries, and its outcome is
journaled (`notification_sent` or `notification_failed`) with the row marked in the same
commit. Nothing waits on a delivery: an agent's approval is recorded whether or not anyone
could be told, and a failure is shown to operators rather than retried forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from controlroom.clock import Clock
from controlroom.domain.events import Event, NotificationFailed, NotificationSent
from controlroom.governance.policy import NotificationRoute
from controlroom.notify.deliver import DeliveryFailed, Notifier
from controlroom.notify.redact import display_url
from controlroom.store import outbox
from controlroom.store.database import Database
from controlroom.store.writer import JournalWriter, PendingEvent, WriterClosed

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends pending notifications, at most `max_in_flight` at a time."""

    def __init__(
        self,
        db: Database,
        writer: JournalWriter,
        identity: str,
        clock: Clock,
        notifier: Notifier | None = None,
        max_in_flight: int = 8,
    ) -> None:
        self._db = db
        self._writer = writer
        self._identity = identity
        self._clock = clock
        # A notifier passed in belongs to the caller, who closes it; ours we close.
        self._owns_notifier = notifier is None
        self._notifier = notifier or Notifier()
        self._max_in_flight = max_in_flight
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    async def dispatch(self) -> None:
        """Start sending pending rows that are not being sent already."""
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0:
            return
        # Rows being sent when the read starts may finish (and leave `_in_flight`) before
        # it returns, yet still read as pending: they are not started again.
        sending = set(self._in_flight)
        for outgoing in await outbox.pending(self._db, limit=room + len(sending)):
            if outgoing.id in sending or outgoing.id in self._in_flight:
                continue
            if len(self._in_flight) >= self._max_in_flight:
                break
            task = asyncio.create_task(self._send(outgoing), name=f"notify:{outgoing.id}")
            self._in_flight[outgoing.id] = task
            task.add_done_callback(functools.partial(self._done, outgoing.id))

    def _done(self, notification_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(notification_id, None)

    async def busy(self) -> bool:
        """Whether anything is being sent or waits to be."""
        return bool(self._in_flight) or bool(await outbox.pending(self._db, limit=1))

    async def close(self) -> None:
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._owns_notifier:
            await self._notifier.aclose()

    async def _send(self, outgoing: outbox.Outgoing) -> None:
        route = NotificationRoute.model_validate_json(outgoing.route_json)
        notification = outgoing.notification
        target = _shown_target(route)
        event: Event
        try:
            delivered = await self._notifier.deliver(route, notification)
        except Exception as exc:
            if isinstance(exc, DeliveryFailed):
                attempts, detail = exc.attempts, exc.reason
            else:  # a bug must not stop the supervisor, nor hide that nothing was sent
                log.warning("notification %s failed unexpectedly", outgoing.id, exc_info=True)
                attempts, detail = 0, f"{type(exc).__name__}: {exc}"
            status = "failed"
            event = NotificationFailed(
                notification_id=outgoing.id,
                channel=route.channel,
                target=target,
                subject=notification.subject,
                attempts=attempts,
                reason=detail,
            )
        else:
            status, attempts, detail = "sent", delivered.attempts, delivered.detail
            event = NotificationSent(
                notification_id=outgoing.id,
                channel=route.channel,
                target=target,
                subject=notification.subject,
                attempts=attempts,
            )
        now = self._clock.now_ms()
        try:
            await self._writer.commit(
                [PendingEvent(notification.agent_id, self._identity, 0, event)],
                statements=[outbox.mark(outgoing.id, status, attempts, detail, now)],
            )
        except WriterClosed:
            return  # shutting down: the row stays pending and is sent at the next start


def _shown_target(route: NotificationRoute) -> str:
    """Where a route sends, as safe to journal: a webhook URL's path is often its secret
    (Slack's are), so token-like parts are left out."""
    if route.channel == "smtp":
        return ", ".join(route.to)
    if route.channel == "log":
        return "log"
    return display_url(route.target)
