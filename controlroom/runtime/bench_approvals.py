"""The approvals-at-rest benchmark: what waiting costs, and how fast a decision resumes.

N agents each propose a payment that needs approval and are suspended (Invariant 4). Then
two fresh supervisor processes are measured side by side: one on the database with the N
agents waiting, one on an empty database. Both start, settle, and report their resident
memory and their asyncio tasks; the difference is what the waiting agents cost. The first
then approves agents one at a time, as an operator would (a `decide` command through its
own connection, then a poke, which is what `controlroom approve` does for a supervisor on
the same host), and times each from the decision being queued to the approved call being
durable as started (the agent is running again) and to its result being durable.

Separate processes, because a process that has just run N agents keeps the memory it
touched: only a fresh one shows what the waiting agents hold.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from controlroom.domain.events import ToolCallStarted, ToolCallSucceeded
from controlroom.domain.models import AgentStatus, Turn
from controlroom.domain.specs import AgentSpec, ScriptView, ToolContext, agent, tool
from controlroom.governance.policy import AgentPolicy, TierRule
from controlroom.governance.policy_loader import PolicySet
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store.database import Database, open_database
from controlroom.store.inbox import enqueue_command

SETTLE_S = 1.0


def _payer() -> AgentSpec:
    @tool(effect="idempotent_by_key")
    async def pay(ctx: ToolContext, to: str, amount: float) -> str:
        """A payment (the benchmark's side effect does nothing)."""
        return f"paid {to} {amount:g}"

    def script(view: ScriptView) -> Turn:
        if view.step == 1:
            return Turn.call("pay", to=f"supplier-{view.agent_id}", amount=500.0)
        return Turn.final("done")

    return agent(name="payer", role="benchmark", tools=[pay], script=script, max_steps=5)


POLICIES = PolicySet({"payer": AgentPolicy(tiers=(TierRule(tool="pay", tier="approve"),))})


def _supervisor(db: Database) -> Supervisor:
    return Supervisor(db, {"payer": _payer()}, policies=POLICIES, options=SupervisorOptions())


async def _count(db: Database, status: AgentStatus) -> int:
    async with db.read_engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT COUNT(*) FROM agents WHERE status = :s"), {"s": status.value}
        )
    return int(found or 0)


async def suspend_agents(db_path: Path, agents: int) -> float:
    """Submit `agents` payers and run them until every one waits; returns the seconds."""
    db = await open_database(db_path)
    try:
        if agents:
            async with db.write_engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO agents (id, agent, task, user, status, submitted_ms,"
                        " updated_ms) VALUES (:id, 'payer', 'pay the supplier', 'bench',"
                        " 'queued', 0, 0)"
                    ),
                    [{"id": f"payer-{i + 1}"} for i in range(agents)],
                )
        started = time.perf_counter()
        supervisor = _supervisor(db)
        await supervisor.start()
        try:
            while True:
                if await _count(db, AgentStatus.AWAITING_APPROVAL) >= agents:
                    break
                await asyncio.sleep(0.05)
        finally:
            await supervisor.stop()
        return time.perf_counter() - started
    finally:
        await db.close()


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def measure(db_path: Path, resumes: int) -> dict[str, Any]:
    """In a fresh process: start, settle, report memory and tasks; then time `resumes`
    approvals one after another."""
    db = await open_database(db_path, integrity_check=False)
    operator = await open_database(db_path, create=False, integrity_check=False)
    supervisor = _supervisor(db)
    try:
        await supervisor.start()
        await asyncio.sleep(SETTLE_S)
        figures: dict[str, Any] = {
            "rss_kb": _rss_kb(),
            "tasks": len(asyncio.all_tasks()),
            "waiting": await _count(operator, AgentStatus.AWAITING_APPROVAL),
        }
        if resumes:
            figures.update(await _time_resumes(supervisor, operator, resumes))
    finally:
        await supervisor.stop()
        await operator.close()
        await db.close()
    return figures


async def _time_resumes(supervisor: Supervisor, operator: Database, resumes: int) -> dict[str, Any]:
    subscription = supervisor.bus.subscribe(maxsize=100_000)
    to_start: list[float] = []
    to_result: list[float] = []
    for approval_id in range(1, resumes + 1):
        agent_id = f"payer-{approval_id}"
        begun = time.perf_counter()
        await enqueue_command(
            operator, "decide", str(approval_id), "bench", 0, {"verdict": "approve"}
        )
        supervisor.poke()
        started_at = 0.0
        while True:
            entry = await subscription.get()
            if entry.agent_id != agent_id:
                continue
            if isinstance(entry.event, ToolCallStarted):
                started_at = time.perf_counter()
            elif isinstance(entry.event, ToolCallSucceeded):
                to_start.append((started_at - begun) * 1000)
                to_result.append((time.perf_counter() - begun) * 1000)
                break
    return {
        "resumes": resumes,
        "resume_p50_ms": round(statistics.median(to_start), 2),
        "resume_p99_ms": round(_p99(to_start), 2),
        "resume_max_ms": round(max(to_start), 2),
        "result_p50_ms": round(statistics.median(to_result), 2),
        "result_p99_ms": round(_p99(to_result), 2),
    }


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _measure_in_child(db_path: Path, resumes: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "controlroom.runtime.bench_approvals", str(db_path), str(resumes)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring process failed: {done.stderr.strip()[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def approvals_benchmark(agents: int, resumes: int = 200) -> dict[str, Any]:
    """`controlroom bench --scenario approvals`: one JSON object of figures."""
    resumes = min(resumes, agents)
    with tempfile.TemporaryDirectory(prefix="controlroom-bench-") as directory:
        waiting_db = Path(directory) / "waiting.db"
        empty_db = Path(directory) / "empty.db"
        suspend_s = asyncio.run(suspend_agents(waiting_db, agents))
        asyncio.run(suspend_agents(empty_db, 0))
        waiting = _measure_in_child(waiting_db, resumes)
        empty = _measure_in_child(empty_db, 0)
    added_kb = waiting["rss_kb"] - empty["rss_kb"]
    return {
        "agents": agents,
        "suspend_s": round(suspend_s, 2),
        "waiting": waiting["waiting"],
        "rss_mb_waiting": round(waiting["rss_kb"] / 1024, 1),
        "rss_mb_empty": round(empty["rss_kb"] / 1024, 1),
        "added_rss_mb": round(added_kb / 1024, 2),
        "tasks_waiting": waiting["tasks"],
        "tasks_empty": empty["tasks"],
        **{k: v for k, v in waiting.items() if k.startswith(("resume", "result"))},
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(Path(sys.argv[1]), int(sys.argv[2])))))
