"""Writes other processes make: `submit` queues an agent, operator commands queue in
`commands`. The supervisor that owns the database picks both up and journals them; with no
supervisor running they wait and are applied at its next start. Only the supervisor's writer
appends to the journal, so the hash chain has exactly one author.
"""

from __future__ import annotations

from sqlalchemy import text

from controlroom.domain.models import AgentRecord, AgentStatus
from controlroom.store.database import Database


async def submit_agent(
    db: Database, agent: str, task: str, user: str, budget_usd: float | None, now_ms: int
) -> AgentRecord:
    """Queue a task for `agent`; returns the stored record with its new id (`agent-N`)."""
    async with db.write_engine.begin() as conn:
        number = (
            int(
                await conn.scalar(
                    text("SELECT COUNT(*) FROM agents WHERE agent = :agent"), {"agent": agent}
                )
                or 0
            )
            + 1
        )
        while await conn.scalar(
            text("SELECT 1 FROM agents WHERE id = :id"), {"id": f"{agent}-{number}"}
        ):
            number += 1
        agent_id = f"{agent}-{number}"
        await conn.execute(
            text(
                "INSERT INTO agents (id, agent, task, user, budget_usd, status, submitted_ms,"
                " updated_ms) VALUES (:id, :agent, :task, :user, :budget, :status, :now, :now)"
            ),
            {
                "id": agent_id,
                "agent": agent,
                "task": task,
                "user": user,
                "budget": budget_usd,
                "status": AgentStatus.QUEUED.value,
                "now": now_ms,
            },
        )
    return AgentRecord(
        id=agent_id,
        agent=agent,
        task=task,
        user=user,
        budget_usd=budget_usd,
        status=AgentStatus.QUEUED,
        submitted_ms=now_ms,
        updated_ms=now_ms,
    )


async def enqueue_command(
    db: Database, command: str, target: str, operator: str, now_ms: int
) -> int:
    """Queue an operator command for the supervisor; returns its id."""
    async with db.write_engine.begin() as conn:
        result = await conn.execute(
            text(
                "INSERT INTO commands (ts_ms, command, target, operator, status)"
                " VALUES (:now, :command, :target, :operator, 'pending')"
            ),
            {"now": now_ms, "command": command, "target": target, "operator": operator},
        )
    return int(result.lastrowid or 0)
