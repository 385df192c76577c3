"""The durability benchmark: the canonical workload of DESIGN.md, measured end to end.

N agents run concurrently, S steps each; every step is one scripted model turn plus one
side-effecting (`idempotent_by_key`) tool call with about 200 bytes of arguments and 500 of
result, through the gate, journaled (intent before the call, result and checkpoint after)
and durable before the next step. Reported: durable steps per second over the whole run,
p50/p99 step latency, the time to resume one agent from its checkpoint, database bytes per
step and peak RSS. Bytes per step is the growth of the database file over the run (the empty
schema and the queued tasks are measured first and left out).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from controlroom.domain.models import AgentRecord, AgentStatus, Turn
from controlroom.domain.specs import AgentSpec, ScriptView, ToolContext, agent, tool
from controlroom.errors import ControlRoomError
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store import queries
from controlroom.store.database import Database, Synchronous, open_database

ARGUMENT_PAYLOAD = "a" * 170
RESULT_PAYLOAD = "r" * 470


class Receiver:
    """A stand-in for a remote service that dedupes on the idempotency key."""

    def __init__(self) -> None:
        self.effects: dict[str, str] = {}


def bench_agent(steps: int, receiver: Receiver) -> AgentSpec:
    """The benchmark agent: `steps` tool-calling turns, then a final answer."""

    @tool(effect="idempotent_by_key", timeout=10)
    async def record_event(
        ctx: ToolContext, stream: str, payload: str, sequence: int
    ) -> dict[str, Any]:
        """Append an event to a stream (deduplicated by key at the receiver)."""
        receiver.effects.setdefault(ctx.key, stream)
        return {"stream": stream, "sequence": sequence, "accepted": True, "echo": RESULT_PAYLOAD}

    def script(view: ScriptView) -> Turn:
        if view.step > steps:
            return Turn.final(f"recorded {steps} events")
        return Turn.call(
            "record_event", stream=view.agent_id, payload=ARGUMENT_PAYLOAD, sequence=view.step
        )

    return agent(
        name="bench", role="benchmark", tools=[record_event], script=script, max_steps=steps + 1
    )


async def _seed(db: Database, agents: int, steps: int) -> None:
    """Queue the agents in one transaction (submission is not what is measured)."""
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO agents (id, agent, task, user, status, submitted_ms, updated_ms)"
                " VALUES (:id, 'bench', :task, 'bench', 'queued', 0, 0)"
            ),
            [{"id": f"bench-{i + 1}", "task": f"record {steps} events"} for i in range(agents)],
        )


async def run_benchmark(
    agents: int,
    steps: int,
    db_path: Path,
    synchronous: Synchronous = "FULL",
    governance: bool = True,
) -> dict[str, Any]:
    """Run the workload on a fresh database at `db_path` and return the figures.

    `governance=False` is the baseline the gate's cost is measured against: tool calls are
    validated and run, with no identity, policy, monitoring or screening.
    """
    receiver = Receiver()
    seeded = await open_database(db_path, synchronous=synchronous)
    try:
        await _seed(seeded, agents, steps)
    finally:
        await seeded.close()  # checkpoints the WAL: the file now holds schema and queue only
    baseline = _size(db_path)
    db = await open_database(db_path, synchronous=synchronous)
    try:
        supervisor = Supervisor(
            db,
            {"bench": bench_agent(steps, receiver)},
            options=SupervisorOptions(
                exit_when_idle=True, poll_interval_s=0.05, governance=governance
            ),
        )
        supervisor.collect_latencies = True
        elapsed, records = await run_until_idle(supervisor, db)
        # Only the S tool-calling steps are counted; the closing answer turn is free time.
        total_steps = agents * steps
        resume_ms = await _resume_ms(db, [r.id for r in records[: min(20, len(records))]])
    finally:
        # Closing the last connection checkpoints the WAL into the main file.
        await db.close()
    latencies = sorted(supervisor.latencies)
    size = sum(_size(Path(f"{db_path}{suffix}")) for suffix in ("", "-wal")) - baseline
    return {
        "agents": agents,
        "steps": steps,
        "governance": governance,
        "durable_steps": total_steps,
        "synchronous": synchronous,
        "seconds": round(elapsed, 3),
        "steps_per_s": round(total_steps / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 3),
        "resume_ms": round(resume_ms, 3),
        "bytes_per_step": round(size / total_steps, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "effects": len(receiver.effects),
        "commits": supervisor.writer.commits,
    }


async def run_until_idle(supervisor: Supervisor, db: Database) -> tuple[float, list[AgentRecord]]:
    """Run `supervisor` (made with `exit_when_idle`) until nothing is left to do: the seconds
    from its start to then, and every agent's record. Raises unless every agent completed."""
    started = time.perf_counter()
    await supervisor.start()
    await supervisor.wait()
    elapsed = time.perf_counter() - started
    await supervisor.stop()
    if supervisor.fatal_error is not None:
        raise supervisor.fatal_error
    records = await queries.list_agents(db)
    unfinished = [r.id for r in records if r.status is not AgentStatus.COMPLETED]
    if unfinished:
        raise RuntimeError(f"benchmark agents did not complete: {unfinished[:5]}")
    return elapsed, records


async def _resume_ms(db: Database, agent_ids: list[str]) -> float:
    """Median time to load one agent's checkpoint (state + messages + journal tail)."""
    samples = []
    for agent_id in agent_ids:
        started = time.perf_counter()
        stored = await queries.load_agent(db, agent_id)
        samples.append((time.perf_counter() - started) * 1000)
        assert stored is not None and stored.state is not None
    return statistics.median(samples)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    index = min(len(values) - 1, round(fraction * (len(values) - 1)))
    return values[index]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@contextlib.contextmanager
def scratch_database(path: Path | None) -> Iterator[Path]:
    """`path` if given (must not exist yet), else a temporary file removed afterwards."""
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="controlroom-bench-") as directory:
        yield Path(directory) / "bench.db"


def benchmark(
    agents: int,
    steps: int,
    db_path: Path | None = None,
    synchronous: Synchronous = "FULL",
    governance: bool = True,
) -> dict[str, Any]:
    """Synchronous entry point for the CLI."""
    with scratch_database(db_path) as path:
        if path.exists():
            raise ControlRoomError(f"{path}: exists; the benchmark needs a new database file")
        return asyncio.run(run_benchmark(agents, steps, path, synchronous, governance))


def gate_overhead(agents: int, steps: int, rounds: int = 7) -> dict[str, Any]:
    """The workload with the full gate and without it, alternately, `rounds` times each.

    Alternating (and swapping which goes first each round) spreads a shared machine's drift
    over both sides; the medians are compared.
    """
    governed: list[float] = []
    ungoverned: list[float] = []
    for round_number in range(rounds):
        order = (True, False) if round_number % 2 == 0 else (False, True)
        for governance in order:
            figures = benchmark(agents, steps, governance=governance)
            (governed if governance else ungoverned).append(figures["steps_per_s"])
    with_gate = statistics.median(governed)
    without_gate = statistics.median(ungoverned)
    return {
        "agents": agents,
        "steps": steps,
        "rounds": rounds,
        "governed_steps_per_s": with_gate,
        "ungoverned_steps_per_s": without_gate,
        "overhead_pct": round((without_gate / with_gate - 1) * 100, 1),
        "governed_runs": governed,
        "ungoverned_runs": ungoverned,
    }
