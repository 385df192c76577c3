"""The notification outbox: rows written with the facts they tell of, delivered later.

A notification row is inserted in the same transaction as the approval (or breaker trip)
it announces, so a crash can never lose it; the supervisor delivers pending rows and marks
each sent or failed in the transaction that journals the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlroom.domain.approvals import Notification
from controlroom.store.database import Database
from controlroom.store.writer import Statement

_INSERT = (
    "INSERT INTO notifications (created_ms, route, notification, status, attempts, updated_ms,"
    " detail) VALUES (?, ?, ?, 'pending', 0, ?, '')"
)
_MARK = "UPDATE notifications SET status = ?, attempts = ?, updated_ms = ?, detail = ? WHERE id = ?"


@dataclass(frozen=True)
class Outgoing:
    """A pending notification and the route it goes by (the route's JSON: routes are
    policy, which the store does not interpret)."""

    id: int
    route_json: str
    notification: Notification


def enqueue(route_json: str, notification: Notification, now_ms: int) -> Statement:
    return Statement(_INSERT, (now_ms, route_json, notification.model_dump_json(), now_ms))


def mark(notification_id: int, status: str, attempts: int, detail: str, now_ms: int) -> Statement:
    """`status`: sent or failed."""
    return Statement(_MARK, (status, attempts, now_ms, detail, notification_id))


async def pending(db: Database, limit: int = 100) -> list[Outgoing]:
    """Undelivered notifications, oldest first."""
    rows = await db.rows(
        "SELECT id, route, notification FROM notifications WHERE status = 'pending'"
        " ORDER BY id LIMIT :limit",
        {"limit": limit},
    )
    return [
        Outgoing(int(row[0]), str(row[1]), Notification.model_validate_json(str(row[2])))
        for row in rows
    ]
