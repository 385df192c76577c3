"""Writes other processes make: `submit` queues an agent, operator commands queue in
`commands`. The supervisor that owns the database picks both up and journals them; with no
supervisor running they wait and are applied at its next start. Only the supervisor's writer
appends to the journal, so the hash chain has exactly one author.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from controlroom.domain.models import AgentRecord, AgentStatus
from controlroom.errors import UnknownAgent
from controlroom.store.database import Database


async def submit_agent(
    db: Database,
    agent: str,
    task: str,
    user: str,
    budget_usd: float | None,
    now_ms: int,
    parent_id: str | None = None,
) -> AgentRecord:
    """Queue a task for `agent`; returns the stored record with its new id (`agent-N`).
    With `parent_id` it is a sub-agent: its spend rolls up into its parent's task."""
    async with db.write_engine.begin() as conn:
        if parent_id is not None and not await conn.scalar(
            text("SELECT 1 FROM agents WHERE id = :id"), {"id": parent_id}
        ):
            raise UnknownAgent(f"no agent {parent_id!r} to be the parent")
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
                "INSERT INTO agents (id, agent, task, user, budget_usd, status, parent_id,"
                " submitted_ms, updated_ms)"
                " VALUES (:id, :agent, :task, :user, :budget, :status, :parent, :now, :now)"
            ),
            {
                "id": agent_id,
                "agent": agent,
                "task": task,
                "user": user,
                "budget": budget_usd,
                "status": AgentStatus.QUEUED.value,
                "parent": parent_id,
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
        parent_id=parent_id,
    )


async def enqueue_command(
    db: Database,
    command: str,
    target: str,
    operator: str,
    now_ms: int,
    payload: dict[str, Any] | None = None,
) -> int:
    """Queue an operator command for the supervisor; returns its id.

    `payload` carries what the command needs beyond its target (a decision's verdict,
    note and edits); the supervisor validates it when it applies the command.
    """
    async with db.write_engine.begin() as conn:
        result = await conn.execute(
            text(
                "INSERT INTO commands (ts_ms, command, target, operator, status, payload)"
                " VALUES (:now, :command, :target, :operator, 'pending', :payload)"
            ),
            {
                "now": now_ms,
                "command": command,
                "target": target,
                "operator": operator,
                "payload": None if payload is None else json.dumps(payload),
            },
        )
    return int(result.lastrowid or 0)


async def enqueue_decision(
    db: Database,
    approval_id: int,
    operator: str,
    now_ms: int,
    verdict: str,
    *,
    via: str,
    note: str = "",
    arguments: dict[str, Any] | None = None,
    message: str = "",
    result: str = "",
) -> int:
    """Queue a decision on an approval (the CLI, the control room and signed webhooks all
    write this one shape; the supervisor checks it when it applies it); returns its id."""
    payload = {
        "verdict": verdict,
        "note": note,
        "arguments": arguments,
        "message": message,
        "result": result,
        "via": via,
    }
    return await enqueue_command(db, "decide", str(approval_id), operator, now_ms, payload)


async def remember_signed_request(db: Database, signature: str, now_ms: int) -> bool:
    """Record a signed webhook request; False if its signature was seen before (a replay)."""
    async with db.write_engine.begin() as conn:
        result = await conn.execute(
            text("INSERT OR IGNORE INTO webhook_requests (signature, ts_ms) VALUES (:s, :now)"),
            {"s": signature, "now": now_ms},
        )
    return bool(result.rowcount)


async def forget_signed_requests(db: Database, before_ms: int) -> None:
    """Drop remembered signatures older than the signature window (they are stale anyway)."""
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM webhook_requests WHERE ts_ms < :before"), {"before": before_ms}
        )
