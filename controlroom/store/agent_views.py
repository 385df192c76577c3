"""What a watcher needs to know of each agent, read in one query: its row, the small state of
its latest checkpoint (spend, taint, quarantine) and its latest journal event (identity, last
action).

The control room reads every agent once when it opens, and afterwards only the agents the
journal says have changed (`ids`), so a screen of a thousand agents never rereads them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from controlroom.domain.events import JournalEntry
from controlroom.domain.models import AgentRecord, AgentState
from controlroom.store.database import Database
from controlroom.store.queries import AGENT_COLUMNS, agent_record, journal_entry

# The latest checkpoint's state and the latest event, by the indexes on (agent_id, ...).
_COLUMNS = (
    f"{AGENT_COLUMNS},"
    " (SELECT c.state FROM checkpoints c WHERE c.agent_id = a.id"
    "  ORDER BY c.event_id DESC LIMIT 1) AS state,"
    " (SELECT MAX(e.id) FROM events e WHERE e.agent_id = a.id) AS last_event"
)


@dataclass(frozen=True)
class AgentView:
    """An agent as the control room shows it."""

    record: AgentRecord
    state: AgentState | None  # None before its first durable step
    last: JournalEntry | None  # its latest journal event, if any

    @property
    def cost_usd(self) -> float:
        return 0.0 if self.state is None else self.state.cost_usd


async def agent_views(db: Database, ids: Sequence[str] | None = None) -> list[AgentView]:
    """Every agent in submission order, or only those in `ids`."""
    params: dict[str, object] = {}
    where = ""
    if ids is not None:
        if not ids:
            return []
        names = [f":i{n}" for n in range(len(ids))]
        where = f" WHERE a.id IN ({', '.join(names)})"
        params = {f"i{n}": agent_id for n, agent_id in enumerate(ids)}
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(f"SELECT {_COLUMNS} FROM agents a{where} ORDER BY a.seq"), params
            )
        ).all()
        wanted = [int(row[-1]) for row in rows if row[-1] is not None]
        last: dict[int, JournalEntry] = {}
        for start in range(0, len(wanted), 500):  # SQLite caps the number of parameters
            chunk = wanted[start : start + 500]
            names = [f":e{n}" for n in range(len(chunk))]
            found = (
                await conn.execute(
                    text(
                        "SELECT id, ts_ms, agent_id, identity, kind, step, data FROM events"
                        f" WHERE id IN ({', '.join(names)})"
                    ),
                    {f"e{n}": event_id for n, event_id in enumerate(chunk)},
                )
            ).all()
            for r in found:
                last[int(r[0])] = journal_entry(r)
    return [
        AgentView(
            agent_record(row),
            None if row[-2] is None else AgentState.from_json(str(row[-2])),
            None if row[-1] is None else last.get(int(row[-1])),
        )
        for row in rows
    ]


async def latest_event_id(db: Database) -> int:
    """The id of the journal's newest event (0 when empty): where following starts."""
    async with db.read_engine.connect() as conn:
        value = await conn.scalar(text("SELECT MAX(id) FROM events"))
    return int(value or 0)


@dataclass(frozen=True)
class CheckpointView:
    """One durable step of an agent: the journal row it followed, messages it added, state."""

    event_id: int
    step: int
    messages_added: int
    state: AgentState


async def agent_journal(db: Database, agent_id: str, limit: int = 2_000) -> list[JournalEntry]:
    """The agent's newest `limit` journal events, oldest first."""
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, ts_ms, agent_id, identity, kind, step, data FROM events"
                    " WHERE agent_id = :id ORDER BY id DESC LIMIT :limit"
                ),
                {"id": agent_id, "limit": limit},
            )
        ).all()
    return [journal_entry(r) for r in reversed(rows)]


async def agent_checkpoints(db: Database, agent_id: str, limit: int = 500) -> list[CheckpointView]:
    """The agent's newest `limit` checkpoints, oldest first."""
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT event_id, step, json_array_length(messages), state FROM checkpoints"
                    " WHERE agent_id = :id ORDER BY event_id DESC LIMIT :limit"
                ),
                {"id": agent_id, "limit": limit},
            )
        ).all()
    return [
        CheckpointView(int(r[0]), int(r[1]), int(r[2] or 0), AgentState.from_json(str(r[3])))
        for r in reversed(rows)
    ]
