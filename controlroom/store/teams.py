"""A team's members in the agents table: starting them (as rows in the coordinator's own
commit) and reading how they ended.

A member is an ordinary agent row with the team as `parent_id`, queued: the supervisor
picks it up like any submitted task. Its row is inserted in the same transaction as the
coordinator's checkpoint that records it, so a crash can neither lose a member the
coordinator counts on nor start one it does not know of.
"""

from __future__ import annotations

from collections.abc import Sequence

from controlroom.domain.models import AgentStatus
from controlroom.store.database import Database
from controlroom.store.writer import Statement

_INSERT_MEMBER = (
    "INSERT INTO agents (id, agent, task, user, budget_usd, status, parent_id, submitted_ms,"
    " updated_ms, tainted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def start_member(
    member_id: str,
    agent: str,
    brief: str,
    user: str,
    budget_usd: float | None,
    team_id: str,
    now_ms: int,
    tainted_by: str | None,
) -> Statement:
    """The row that queues a member (to commit with the coordinator's decision)."""
    return Statement(
        _INSERT_MEMBER,
        (
            member_id,
            agent,
            brief,
            user,
            budget_usd,
            AgentStatus.QUEUED.value,
            team_id,
            now_ms,
            now_ms,
            tainted_by,
        ),
    )


async def member_rows(
    db: Database, member_ids: Sequence[str]
) -> dict[str, tuple[AgentStatus, str | None, str | None, str | None]]:
    """(status, result, error, tainted_by) of each of `member_ids` that exists; the taint is
    its latest checkpoint's."""
    if not member_ids:
        return {}
    names = [f":m{n}" for n in range(len(member_ids))]
    rows = await db.rows(
        "SELECT a.id, a.status, a.result, a.error,"
        " (SELECT json_extract(c.state, '$.tainted_by') FROM checkpoints c"
        "  WHERE c.agent_id = a.id ORDER BY c.event_id DESC LIMIT 1)"
        f" FROM agents a WHERE a.id IN ({', '.join(names)})",
        {f"m{n}": member for n, member in enumerate(member_ids)},
    )
    return {str(r[0]): (AgentStatus(r[1]), r[2], r[3], r[4]) for r in rows}


async def descendants(db: Database, agent_id: str) -> list[str]:
    """Every agent under `agent_id` (children, their children...), parents before children."""
    rows = await db.rows(
        "WITH RECURSIVE tree(id, depth) AS ("
        " SELECT id, 1 FROM agents WHERE parent_id = :root"
        " UNION ALL"
        " SELECT a.id, tree.depth + 1 FROM agents a JOIN tree ON a.parent_id = tree.id)"
        " SELECT id FROM tree ORDER BY depth, id",
        {"root": agent_id},
    )
    return [str(r[0]) for r in rows]


async def task_root(db: Database, agent_id: str) -> tuple[str, float | None, str]:
    """The task an agent works for: its topmost ancestor's id, budget and definition."""
    row = await db.first(
        "WITH RECURSIVE up(id, parent_id, budget_usd, agent, depth) AS ("
        " SELECT id, parent_id, budget_usd, agent, 0 FROM agents WHERE id = :id"
        " UNION ALL"
        " SELECT a.id, a.parent_id, a.budget_usd, a.agent, up.depth + 1"
        " FROM agents a JOIN up ON a.id = up.parent_id WHERE up.depth < 64)"
        " SELECT id, budget_usd, agent FROM up ORDER BY depth DESC LIMIT 1",
        {"id": agent_id},
    )
    if row is None:
        return agent_id, None, ""
    return str(row[0]), row[1], str(row[2])


async def tree_spend(db: Database, root_id: str) -> float:
    """What the task's agents (the root and everything under it) have spent, by their
    latest checkpoints."""
    spent = await db.scalar(
        "WITH RECURSIVE tree(id) AS ("
        " SELECT :root UNION ALL"
        " SELECT a.id FROM agents a JOIN tree ON a.parent_id = tree.id)"
        " SELECT TOTAL((SELECT json_extract(c.state, '$.cost_usd') FROM checkpoints c"
        "  WHERE c.agent_id = tree.id ORDER BY c.event_id DESC LIMIT 1)) FROM tree",
        {"root": root_id},
    )
    return float(spent or 0)


def stop_member(member_id: str, team_id: str, now_ms: int) -> Statement:
    """A terminate command for a member (past its deadline), queued in the coordinator's
    commit and applied by the supervisor like an operator's: compensations run, each
    journaled."""
    return Statement(
        "INSERT INTO commands (ts_ms, command, target, operator, status, payload)"
        " VALUES (?, 'terminate', ?, ?, 'pending', NULL)",
        (now_ms, member_id, f"team:{team_id}"),
    )
