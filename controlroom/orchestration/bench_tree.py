"""The team benchmark: a tree of one planner and N specialists against N + 1 independent agents.

Both sides do the same durable work, the canonical workload of `runtime.bench`: S steps per
agent, each one scripted model turn and one side-effecting call through the full gate,
durable before the next. In the tree, the planner makes its S steps and then a plan of N
subtasks; the coordinator starts a specialist per subtask (S steps each) and, once all are
done, the planner's synthesis. So the tree adds what orchestration costs (the coordinator's
decisions, members queued and woken, the synthesis turn) and the planner's steps come
before the specialists' instead of beside them. Reported: durable steps per second of each
(the (N + 1) x S tool steps over the whole run), and the tree's as a percentage of the
independent agents'. Runs alternate, and medians are compared.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

from sqlalchemy import text

from controlroom.domain.models import Turn
from controlroom.domain.specs import AgentSpec, ScriptView, agent
from controlroom.domain.teams import team
from controlroom.orchestration.team_runner import TeamRunner
from controlroom.runtime.bench import (
    Receiver,
    bench_agent,
    run_benchmark,
    run_until_idle,
    scratch_database,
)
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store.database import open_database


def _planner(steps: int, members: int, worker: AgentSpec) -> AgentSpec:
    """S record_event steps, then the plan; the synthesis is one answer."""
    record_event = worker.tools[0]
    work = worker.script
    assert work is not None

    def script(view: ScriptView) -> Turn:
        brief = json.loads(view.task)
        if brief["phase"] != "plan":
            return Turn.final(f"{len(brief['results'])} results")
        if view.step <= steps:
            return work(view)
        subtasks = [{"id": f"t{n}", "type": "work", "brief": "record"} for n in range(members)]
        return Turn.final(json.dumps({"subtasks": subtasks}))

    return agent(name="bench_planner", tools=[record_event], script=script, max_steps=steps + 1)


async def run_tree(members: int, steps: int, db_path: Path) -> dict[str, Any]:
    receiver = Receiver()
    worker = bench_agent(steps, receiver)
    planner = _planner(steps, members, worker)
    crew = team(
        name="bench_team",
        planner="bench_planner",
        specialists={"work": "bench"},
        max_subtasks=members,
    )
    agents = {spec.name: spec for spec in (worker, planner, crew)}
    db = await open_database(db_path)
    try:
        async with db.write_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO agents (id, agent, task, user, status, submitted_ms,"
                    " updated_ms) VALUES ('tree-1', 'bench_team', 'bench', 'bench', 'queued',"
                    " 0, 0)"
                )
            )
        supervisor = Supervisor(
            db,
            agents,
            options=SupervisorOptions(exit_when_idle=True, poll_interval_s=0.05),
            coordinate=TeamRunner,
        )
        elapsed, records = await run_until_idle(supervisor, db)
    finally:
        await db.close()
    total = (members + 1) * steps
    if len(receiver.effects) != total:
        raise RuntimeError(f"{len(receiver.effects)} effects, expected {total}")
    return {
        "agents": len(records),
        "seconds": round(elapsed, 3),
        "steps_per_s": round(total / elapsed, 1),
    }


def tree_benchmark(members: int = 50, steps: int = 10, rounds: int = 7) -> dict[str, Any]:
    """The tree and the independent agents, alternately, `rounds` times each."""
    tree: list[float] = []
    independent: list[float] = []
    for round_number in range(rounds):
        order = ("tree", "independent") if round_number % 2 == 0 else ("independent", "tree")
        for side in order:
            with scratch_database(None) as path:
                if side == "tree":
                    tree.append(asyncio.run(run_tree(members, steps, path))["steps_per_s"])
                else:
                    figures = asyncio.run(run_benchmark(members + 1, steps, path))
                    independent.append(figures["steps_per_s"])
    with_tree = statistics.median(tree)
    alone = statistics.median(independent)
    return {
        "members": members,
        "steps": steps,
        "rounds": rounds,
        "tree_steps_per_s": with_tree,
        "independent_steps_per_s": alone,
        "tree_pct_of_independent": round(with_tree / alone * 100, 1),
        "tree_runs": tree,
        "independent_runs": independent,
    }
