"""The approvals table: reading approval records, and the writes that go with journal events.

Only the supervisor's writer changes this table (its statements ride in the transaction of
the events that explain them: requested, decided, expired); other processes read it and
ask for decisions through the command inbox.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

from controlroom.domain.approvals import Approval, ApprovalStatus
from controlroom.store.database import Database
from controlroom.store.writer import Statement

_INSERT = (
    "INSERT OR IGNORE INTO approvals (id, agent_id, status, expires_ms, data)"
    " VALUES (?, ?, ?, ?, ?)"
)
_UPDATE = "UPDATE approvals SET status = ?, expires_ms = ?, data = ? WHERE id = ?"


def insert(approval: Approval) -> Statement:
    """The write that records a new approval (ignored if that id is already recorded)."""
    return Statement(
        _INSERT,
        (
            approval.id,
            approval.agent_id,
            approval.status.value,
            approval.expires_ms,
            approval.model_dump_json(),
        ),
    )


def update(approval: Approval) -> Statement:
    """The write that stores `approval`'s new status and decision."""
    return Statement(
        _UPDATE,
        (approval.status.value, approval.expires_ms, approval.model_dump_json(), approval.id),
    )


async def get(db: Database, approval_id: int) -> Approval | None:
    raw = await db.scalar("SELECT data FROM approvals WHERE id = :id", {"id": approval_id})
    return None if raw is None else Approval.model_validate_json(str(raw))


async def listed(
    db: Database,
    statuses: Sequence[ApprovalStatus] = (),
    agent_id: str | None = None,
) -> list[Approval]:
    """Approvals in request order, optionally only in `statuses` and for `agent_id`."""
    clauses: list[str] = []
    params: dict[str, object] = {}
    if statuses:
        names = [f":s{i}" for i in range(len(statuses))]
        clauses.append(f"status IN ({', '.join(names)})")
        params.update({f"s{i}": s.value for i, s in enumerate(statuses)})
    if agent_id is not None:
        clauses.append("agent_id = :agent")
        params["agent"] = agent_id
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.rows(f"SELECT data FROM approvals{where} ORDER BY id", params)
    return [Approval.model_validate_json(str(row[0])) for row in rows]


async def overdue(db: Database, now_ms: int) -> list[Approval]:
    """Pending approvals whose deadline has passed."""
    rows = await db.rows(
        "SELECT data FROM approvals WHERE status = 'pending'"
        " AND expires_ms IS NOT NULL AND expires_ms <= :now ORDER BY id",
        {"now": now_ms},
    )
    return [Approval.model_validate_json(str(row[0])) for row in rows]


async def next_deadline(db: Database) -> int | None:
    """The earliest deadline of a pending approval, if any."""
    value = await db.scalar("SELECT MIN(expires_ms) FROM approvals WHERE status = 'pending'")
    return None if value is None else int(value)


async def highest_id(db: Database) -> int:
    value = await db.scalar("SELECT MAX(id) FROM approvals")
    return int(value or 0)


async def by_ids(db: Database, ids: Sequence[int]) -> list[Approval]:
    """The approvals among `ids` that exist, in id order."""
    rows = await db.read(functools.partial(_data_by_ids, list(ids)))
    found = [Approval.model_validate_json(str(row[0])) for row in rows]
    return sorted(found, key=lambda a: a.id)


def _data_by_ids(ids: list[int], conn: sqlite3.Connection) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(ids), 500):  # SQLite caps the number of parameters
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows += conn.execute(f"SELECT data FROM approvals WHERE id IN ({marks})", chunk).fetchall()
    return rows
