"""`controlroom run`: the supervisor headless, one JSON line per journal event.

`serve` (the supervisor until it stops, showing each event) is also what `demo` runs
headless, and `print_json_line` is the line `events --json` prints too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from controlroom.cli import base
from controlroom.domain.events import JournalEntry
from controlroom.domain.specs import AgentSpec
from controlroom.governance.policy_loader import PolicySet
from controlroom.orchestration.team_runner import TeamRunner
from controlroom.runtime.loader import load_agents
from controlroom.runtime.process import tune_for_supervisor
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store.database import open_database


@base.main.command()
@base.common
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Exit once no agent is running or queued (batch jobs, tests).",
)
@click.option(
    "--synchronous",
    type=click.Choice(["FULL", "NORMAL"]),
    default="FULL",
    show_default=True,
    help="SQLite synchronous level (FULL survives power loss).",
)
@base.fails_cleanly
def run(
    db: Path, agents_dir: Path, policies: Path | None, exit_when_idle: bool, synchronous: str
) -> None:
    """Run the supervisor headless, printing one JSON object per journal event."""
    paths = base.checked_paths(db, agents_dir, policies)
    agents = load_agents(paths.agents)
    rules, directory = base.policies_for(paths.policies, agents)
    tune_for_supervisor()
    served = base.Paths(paths.db, paths.agents, directory)
    code = base.run_coroutine(
        serve(served, agents, rules, exit_when_idle, synchronous, print_json_line)
    )
    sys.exit(code)


def print_json_line(entry: JournalEntry) -> None:
    sys.stdout.write(json.dumps(entry.as_log_record(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def serve(
    paths: base.Paths,
    agents: dict[str, AgentSpec],
    policies: PolicySet,
    exit_when_idle: bool,
    synchronous: str,
    show: Callable[[JournalEntry], None],
) -> int:
    db = await open_database(paths.db, synchronous="FULL" if synchronous == "FULL" else "NORMAL")
    try:
        supervisor = Supervisor(
            db,
            agents,
            clock=base.CLOCK,
            options=SupervisorOptions(exit_when_idle=exit_when_idle),
            policies=policies,
            policies_dir=paths.policies,
            coordinate=TeamRunner,
        )
        subscription = supervisor.bus.subscribe()

        async def printer() -> None:
            while True:
                entry = await subscription.get()
                try:
                    show(entry)
                except BrokenPipeError:
                    # The reader went away (`run | head`): the agents keep running, durably;
                    # only the log is no longer shown.
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return

        printing = asyncio.create_task(printer())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, supervisor.request_stop, f"signal {sig.name}")
        await supervisor.start()
        await supervisor.wait()
        await supervisor.stop()
        if not printing.done():
            printing.cancel()
            while not subscription.queue.empty():
                show(subscription.queue.get_nowait())
        fatal = supervisor.fatal_error
        if fatal is not None:
            click.echo(f"error: supervisor stopped: {fatal}", err=True)
            return 1
        return 0
    finally:
        await db.close()
