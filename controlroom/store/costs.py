"""Spend per agent, read from the journal: every model turn's usage is journaled with the
turn (`model_turn` events), so the journal is the ledger and no other table can disagree
with it. Roll-ups (by task, agent definition, user) are made from these rows by
`domain.costs`.
"""

from __future__ import annotations

from sqlalchemy import text

from controlroom.domain.costs import AgentSpend
from controlroom.store.database import Database

_SPEND = """
SELECT a.id, a.agent, a.user, a.parent_id,
       COUNT(e.id),
       SUM(CAST(ROUND(COALESCE(json_extract(e.data, '$.usage.cost_usd'), 0) * 1000000)
                AS INTEGER)),
       SUM(CASE WHEN e.id IS NOT NULL
                 AND json_type(e.data, '$.usage.cost_usd') IS NOT 'real'
                 AND json_type(e.data, '$.usage.cost_usd') IS NOT 'integer'
            THEN 1 ELSE 0 END),
       TOTAL(json_extract(e.data, '$.usage.input_tokens')),
       TOTAL(json_extract(e.data, '$.usage.output_tokens'))
FROM agents a
LEFT JOIN events e ON e.agent_id = a.id AND e.kind = 'model_turn'
GROUP BY a.id
ORDER BY a.seq
"""


async def agent_spend(db: Database) -> list[AgentSpend]:
    """Every agent's turns, known cost, unknown-cost turns and tokens, in submission order."""
    async with db.read_engine.connect() as conn:
        rows = (await conn.execute(text(_SPEND))).all()
    return [
        AgentSpend(
            agent_id=str(r[0]),
            agent=str(r[1]),
            user=str(r[2]),
            parent_id=None if r[3] is None else str(r[3]),
            turns=int(r[4]),
            cost_micro_usd=int(r[5] or 0),
            unknown_cost_turns=int(r[6]),
            input_tokens=int(r[7]),
            output_tokens=int(r[8]),
        )
        for r in rows
    ]
