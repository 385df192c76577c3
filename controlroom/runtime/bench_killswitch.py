"""The kill-switch benchmark: how long from `controlroom kill-switch` to every agent paused.

N agents are busy the way production agents are: most of the time waiting on a model turn
(here 0.5 to 3 seconds of simulated thinking), sometimes running a side-effecting tool
(50 ms). Once every agent has finished a step, the kill switch is queued through the
database exactly as the CLI does from another SSH session (its own connection), and the
clock stops when that connection reads every agent as paused. A turn in flight is
abandoned (it changed nothing); a tool call in flight is let finish and recorded first.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from controlroom.domain.models import AgentStatus, Turn
from controlroom.domain.specs import AgentSpec, ScriptView, ToolContext, agent, tool
from controlroom.providers.base import Model, TurnRequest
from controlroom.providers.scripted import ScriptedModel
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store.database import Database, open_database
from controlroom.store.inbox import enqueue_command

TOOL_SECONDS = 0.05


class _ThinkingModel:
    """The scripted model, slowed to a real model's pace (seeded, so runs compare)."""

    def __init__(self, spec: AgentSpec, rng: random.Random) -> None:
        assert spec.script is not None
        self._scripted = ScriptedModel(spec.script)
        self._rng = rng

    async def turn(self, request: TurnRequest) -> Turn:
        await asyncio.sleep(self._rng.uniform(0.5, 3.0))
        return await self._scripted.turn(request)


def _busy_agent() -> AgentSpec:
    @tool(effect="idempotent_by_key")
    async def update_ticket(ctx: ToolContext, ticket: int, note: str) -> str:
        """Write to an external system (takes a while)."""
        await asyncio.sleep(TOOL_SECONDS)
        return f"ticket {ticket} updated"

    def script(view: ScriptView) -> Turn:
        return Turn.call("update_ticket", ticket=view.step, note="still working")

    return agent(
        name="busy", role="benchmark", tools=[update_ticket], script=script, max_steps=10_000
    )


async def _statuses(db: Database) -> dict[str, int]:
    async with db.read_engine.connect() as conn:
        rows = await conn.execute(text("SELECT status, COUNT(*) FROM agents GROUP BY status"))
        return {str(status): int(count) for status, count in rows}


async def _started_steps(db: Database) -> int:
    async with db.read_engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT COUNT(DISTINCT agent_id) FROM checkpoints WHERE step >= 1")
        )
        return int(found or 0)


async def _until(condition: Callable[[], Awaitable[bool]], every_s: float) -> None:
    while True:
        if await condition():
            return
        await asyncio.sleep(every_s)


async def run_kill_switch(agents: int, db_path: Path) -> dict[str, Any]:
    rng = random.Random(7)
    spec = _busy_agent()
    db = await open_database(db_path)
    operator = await open_database(db_path, create=False)  # the second SSH session
    try:
        async with db.write_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO agents (id, agent, task, user, status, submitted_ms, updated_ms)"
                    " VALUES (:id, 'busy', 'work', 'bench', 'queued', 0, 0)"
                ),
                [{"id": f"busy-{i + 1}"} for i in range(agents)],
            )

        def model_for(agent_spec: AgentSpec) -> Model:
            return _ThinkingModel(agent_spec, rng)

        supervisor = Supervisor(
            db, {"busy": spec}, model_for=model_for, options=SupervisorOptions()
        )
        await supervisor.start()
        try:

            async def all_busy() -> bool:
                return await _started_steps(operator) == agents

            async def all_paused() -> bool:
                return (await _statuses(operator)).get(AgentStatus.PAUSED.value, 0) == agents

            await _until(all_busy, every_s=0.05)
            started = time.perf_counter()
            await enqueue_command(operator, "kill-switch", "*", "bench", 0)
            queued = time.perf_counter()
            await _until(all_paused, every_s=0.005)
            paused = time.perf_counter()
        finally:
            await supervisor.stop()
        statuses = await _statuses(operator)
    finally:
        await operator.close()
        await db.close()
    return {
        "agents": agents,
        "kill_switch_ms": round((paused - started) * 1000, 1),
        "queue_ms": round((queued - started) * 1000, 1),
        "poll_interval_s": SupervisorOptions().poll_interval_s,
        "statuses": statuses,
    }


def kill_switch_benchmark(agents: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="controlroom-bench-") as directory:
        return asyncio.run(run_kill_switch(agents, Path(directory) / "kill.db"))
