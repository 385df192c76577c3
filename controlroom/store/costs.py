"""Spend per agent, read from the journal: every model turn's usage is journaled with the
turn (`model_turn` events), and every request lost to a stop or a crash is journaled
(`model_turn_lost`, cost unknown), so the journal is the ledger and no other table can disagree
with it. Roll-ups (by task, agent definition, user) are made from these rows by
`domain.costs`.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from sqlalchemy import text

from controlroom.domain.costs import AgentSpend
from controlroom.store.database import Database

_SPEND = """
SELECT a.id, a.agent, a.user, a.parent_id,
       SUM(e.kind = 'model_turn'),
       SUM(CAST(ROUND(COALESCE(json_extract(e.data, '$.usage.cost_usd'), 0) * 1000000)
                AS INTEGER)),
       SUM(e.kind = 'model_turn_lost'
           OR (e.kind = 'model_turn'
               AND json_type(e.data, '$.usage.cost_usd') IS NOT 'real'
               AND json_type(e.data, '$.usage.cost_usd') IS NOT 'integer')),
       SUM(e.kind = 'model_turn_lost'),
       TOTAL(json_extract(e.data, '$.usage.input_tokens')),
       TOTAL(json_extract(e.data, '$.usage.output_tokens'))
FROM agents a
LEFT JOIN events e ON e.agent_id = a.id AND e.kind IN ('model_turn', 'model_turn_lost')
GROUP BY a.id
ORDER BY a.seq
"""


async def agent_spend(db: Database) -> list[AgentSpend]:
    """Every agent's turns, known cost, unknown-cost turns (lost requests among them) and
    tokens, in submission order."""
    async with db.read_engine.connect() as conn:
        rows = (await conn.execute(text(_SPEND))).all()
    return [
        AgentSpend(
            agent_id=str(r[0]),
            agent=str(r[1]),
            user=str(r[2]),
            parent_id=None if r[3] is None else str(r[3]),
            turns=int(r[4] or 0),
            cost_micro_usd=int(r[5] or 0),
            unknown_cost_turns=int(r[6] or 0),
            lost_turns=int(r[7] or 0),
            input_tokens=int(r[8]),
            output_tokens=int(r[9]),
        )
        for r in rows
    ]


async def spent_since(db: Database, since_ms: int) -> list[tuple[str, int, float]]:
    """(user, ts_ms, cost) of every priced model turn journaled at or after `since_ms`.

    Event ids grow with time, so the first event of the period is found by bisecting ids
    (a few point reads) rather than by scanning a journal of millions of rows.
    """
    rows = await db.read(functools.partial(_priced_turns_since, since_ms))
    return [(str(r[0]), int(r[1]), float(r[2])) for r in rows]


def _priced_turns_since(since_ms: int, conn: sqlite3.Connection) -> list[Any]:
    low = 1
    high = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]) + 1
    while low < high:  # the first id whose ts_ms >= since_ms (high if none)
        middle = (low + high) // 2
        row = conn.execute(
            "SELECT ts_ms FROM events WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
        ).fetchone()
        if row is None or int(row[0]) >= since_ms:
            high = middle
        else:
            low = middle + 1
    return conn.execute(
        "SELECT a.user, e.ts_ms, json_extract(e.data, '$.usage.cost_usd')"
        " FROM events e JOIN agents a ON a.id = e.agent_id"
        " WHERE e.id >= ? AND e.kind = 'model_turn'"
        " AND json_type(e.data, '$.usage.cost_usd') IN ('real', 'integer')",
        (low,),
    ).fetchall()
