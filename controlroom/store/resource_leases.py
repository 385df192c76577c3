"""The `resource_leases` rows: the durable record of which agent holds which resource.

The runtime's lease book (runtime/leases.py) decides and waits in memory; these rows make
its decisions survive a crash. They are written as statements of the commits they belong
to, never on their own: a lease is taken in the commit of the call's intent (a read-only
call's, with its step) and released in the commit that ends its holder. A row whose holder
has ended (completed, failed, terminated) or no longer exists is free, so a release that
was missed costs nothing but a row.
"""

from __future__ import annotations

from controlroom.domain.models import AgentStatus
from controlroom.store.database import Database
from controlroom.store.writer import Statement

# Replacing: a row left by a holder that has ended is taken over.
_TAKE = "INSERT OR REPLACE INTO resource_leases (resource, agent_id, since_ms) VALUES (?, ?, ?)"
_RELEASE_ALL = "DELETE FROM resource_leases WHERE agent_id = ?"
_ENDED = tuple(status.value for status in AgentStatus if status.is_terminal)
_ENDED_MARKS = ", ".join("?" * len(_ENDED))
_HELD = (
    "SELECT l.resource, l.agent_id FROM resource_leases l JOIN agents a ON a.id = l.agent_id"
    f" WHERE a.status NOT IN ({_ENDED_MARKS})"
)


def take(resource: str, agent_id: str, now_ms: int) -> Statement:
    """The write that records `agent_id` as the holder of `resource`."""
    return Statement(_TAKE, (resource, agent_id, now_ms))


def released(agent_id: str, status: AgentStatus) -> list[Statement]:
    """The writes to commit with an agent's move to `status`: the release of every lease it
    holds if that ends it for good, else none (a paused or waiting agent keeps its leases)."""
    return [Statement(_RELEASE_ALL, (agent_id,))] if status.is_terminal else []


async def held(db: Database) -> dict[str, str]:
    """Every resource whose lease a live agent holds, with that agent's id."""
    rows = await db.rows(_HELD, _ENDED)
    return {str(resource): str(agent_id) for resource, agent_id in rows}


async def holder_status(db: Database, agent_id: str) -> AgentStatus | None:
    """The status of a lease's holder, or None if no such agent exists."""
    value = await db.scalar("SELECT status FROM agents WHERE id = :id", {"id": agent_id})
    return None if value is None else AgentStatus(value)
