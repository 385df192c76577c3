"""Read queries. Each is one short read transaction (store/loop_reads.py) returning domain
models, so a reader never blocks the writer (WAL) and rows never leave the store.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import text

from controlroom.domain.events import JournalEntry, decode_event
from controlroom.domain.models import AgentRecord, AgentState, AgentStatus, Message, Resource
from controlroom.store.database import Database

_MESSAGES = TypeAdapter(list[Message])


@dataclass(frozen=True)
class StoredAgent:
    """Everything needed to resume an agent: its record, checkpoint and the journal tail."""

    record: AgentRecord
    state: AgentState | None
    messages: list[Message]
    tail: list[JournalEntry]


@dataclass(frozen=True)
class StoredCommand:
    id: int
    ts_ms: int
    command: str
    target: str
    operator: str
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class JournalRow:
    """A raw journal row, as the chain verifier needs it."""

    id: int
    ts_ms: int
    agent_id: str
    identity: str
    kind: str
    step: int
    data: str
    hash: bytes


AGENT_COLUMNS = (
    "a.id, a.agent, a.task, a.user, a.budget_usd, a.status, a.submitted_ms, a.updated_ms,"
    " a.result, a.error, a.parent_id, a.tainted_by,"
    " (SELECT c.step FROM checkpoints c WHERE c.agent_id = a.id"
    "  ORDER BY c.event_id DESC LIMIT 1) AS step"
)


def agent_record(row: Any) -> AgentRecord:
    """An `AgentRecord` from the first columns of a row selected with `AGENT_COLUMNS`."""
    return AgentRecord(
        id=row[0],
        agent=row[1],
        task=row[2],
        user=row[3],
        budget_usd=row[4],
        status=AgentStatus(row[5]),
        submitted_ms=row[6],
        updated_ms=row[7],
        result=row[8],
        error=row[9],
        parent_id=row[10],
        tainted_by=row[11],
        step=row[12] or 0,
    )


async def list_agents(db: Database, statuses: Sequence[AgentStatus] = ()) -> list[AgentRecord]:
    """Agents in submission order, optionally only those in `statuses`."""
    sql = f"SELECT {AGENT_COLUMNS} FROM agents a"
    params: dict[str, object] = {}
    if statuses:
        names = [f":s{i}" for i in range(len(statuses))]
        sql += f" WHERE a.status IN ({', '.join(names)})"
        params = {f"s{i}": status.value for i, status in enumerate(statuses)}
    sql += " ORDER BY a.seq"
    return [agent_record(row) for row in await db.rows(sql, params)]


async def get_agent(db: Database, agent_id: str) -> AgentRecord | None:
    """One agent by id."""
    row = await db.first(f"SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = :id", {"id": agent_id})
    return None if row is None else agent_record(row)


async def load_agent(db: Database, agent_id: str) -> StoredAgent | None:
    """The agent's checkpoint (state + all message deltas) and its unfinished step's events."""
    read = await db.read(functools.partial(_agent_rows, agent_id))
    if read is None:
        return None
    row, deltas, tail_rows = read
    state: AgentState | None = None
    messages: list[Message] = []
    if deltas:
        state = AgentState.from_json(str(deltas[-1][2]))
        parts = [str(d[1])[1:-1] for d in deltas if d[1] != "[]"]
        messages = _MESSAGES.validate_json("[" + ",".join(parts) + "]")
    tail = [journal_entry(r) for r in tail_rows]
    return StoredAgent(agent_record(row), state, messages, tail)


def _agent_rows(agent_id: str, conn: sqlite3.Connection) -> tuple[Any, list[Any], list[Any]] | None:
    """An agent's row, checkpoint deltas and journal tail, read in one snapshot."""
    row = conn.execute(
        f"SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = :id", {"id": agent_id}
    ).fetchone()
    if row is None:
        return None
    # Every delta's messages, but only the latest state: a state is written whole with
    # each row, and a team's (its plan and results) can be large.
    deltas = conn.execute(
        "SELECT step, messages, CASE WHEN event_id = MAX(event_id) OVER ()"
        " THEN state END FROM checkpoints WHERE agent_id = :id ORDER BY event_id",
        {"id": agent_id},
    ).fetchall()
    done_step = int(deltas[-1][0]) if deltas else 0
    # The unfinished step's events, even those before a mid-step checkpoint (in doubt).
    tail_rows = conn.execute(
        "SELECT id, ts_ms, agent_id, identity, kind, step, data FROM events"
        " WHERE agent_id = :id AND step > :done ORDER BY id",
        {"id": agent_id, "done": done_step},
    ).fetchall()
    return row, deltas, tail_rows


async def load_team(db: Database, agent_id: str) -> StoredAgent | None:
    """A team's row and latest checkpoint state in one read: its coordinator needs neither
    messages (it has none) nor a journal tail (each decision is one commit)."""
    row = await db.first(
        f"SELECT {AGENT_COLUMNS}, (SELECT c.state FROM checkpoints c"
        " WHERE c.agent_id = a.id ORDER BY c.event_id DESC LIMIT 1)"
        " FROM agents a WHERE a.id = :id",
        {"id": agent_id},
    )
    if row is None:
        return None
    state = None if row[-1] is None else AgentState.from_json(str(row[-1]))
    return StoredAgent(agent_record(row), state, [], [])


def journal_entry(row: Any) -> JournalEntry:
    """An entry from a row of (id, ts_ms, agent_id, identity, kind, step, data)."""
    return JournalEntry(
        int(row[0]),
        int(row[1]),
        str(row[2]),
        str(row[3]),
        int(row[5]),
        decode_event(str(row[4]), str(row[6])),
    )


async def pending_commands(db: Database) -> list[StoredCommand]:
    """Operator commands not yet applied, oldest first."""
    rows = await db.rows(
        "SELECT id, ts_ms, command, target, operator, payload FROM commands"
        " WHERE status = 'pending' ORDER BY id"
    )
    return [
        StoredCommand(
            int(r[0]),
            int(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            None if r[5] is None else _json_object(str(r[5])),
        )
        for r in rows
    ]


async def command_outcome(db: Database, command_id: int) -> tuple[str, str | None]:
    """(status, outcome) of a command."""
    row = await db.first("SELECT status, outcome FROM commands WHERE id = :id", {"id": command_id})
    if row is None:
        return ("missing", None)
    return (str(row[0]), row[1])


async def novelty_seen(db: Database) -> list[tuple[str, str, str]]:
    """(agent, kind, value) of every tool and destination each agent definition has used."""
    rows = await db.rows("SELECT agent, kind, value FROM novelty")
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


async def live_resources(db: Database, agent_id: str) -> list[Resource]:
    """Resources an agent created that were not compensated, newest first."""
    return await resources(db, agent_id, include_compensated=False)


async def resources(
    db: Database, agent_id: str, include_compensated: bool = True
) -> list[Resource]:
    """Resources an agent created, newest first (by default also those compensated)."""
    where = "" if include_compensated else " AND status != 'compensated'"
    rows = await db.rows(
        "SELECT id, agent_id, tool, kind, resource_id, data, key, status, created_ms"
        f" FROM resources WHERE agent_id = :id{where} ORDER BY id DESC",
        {"id": agent_id},
    )
    return [
        Resource.model_validate(
            {
                "id": r[0],
                "agent_id": r[1],
                "tool": r[2],
                "kind": r[3],
                "resource_id": r[4],
                "data": _json_object(str(r[5])),
                "key": r[6],
                "status": r[7],
                "created_ms": r[8],
            }
        )
        for r in rows
    ]


def _json_object(raw: str) -> dict[str, object]:
    value = json.loads(raw)
    return value if isinstance(value, dict) else {}


async def journal_rows(db: Database, after_id: int = 0, limit: int = 10_000) -> list[JournalRow]:
    """Raw journal rows in order, for verification and export."""
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, ts_ms, agent_id, identity, kind, step, data, hash FROM events"
                    " WHERE id > :after ORDER BY id LIMIT :limit"
                ),
                {"after": after_id, "limit": limit},
            )
        ).all()
    return [
        JournalRow(
            int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), str(r[6]), bytes(r[7])
        )
        for r in rows
    ]


async def journal_entries(db: Database, after_id: int = 0, limit: int = 1000) -> list[JournalEntry]:
    """Decoded journal entries in order."""
    return [
        JournalEntry(r.id, r.ts_ms, r.agent_id, r.identity, r.step, decode_event(r.kind, r.data))
        for r in await journal_rows(db, after_id, limit)
    ]
