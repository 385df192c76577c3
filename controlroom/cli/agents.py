"""`controlroom submit` and `controlroom status`: queue a task, and show every agent.

`status_text` and `load_status` are also the summary `demo` prints when its agents stop.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import click

from controlroom.cli import base
from controlroom.domain.events import ModelBreakerChanged
from controlroom.domain.models import AgentRecord
from controlroom.errors import ControlRoomError, UnknownAgent
from controlroom.runtime.loader import load_agents
from controlroom.store import queries
from controlroom.store.database import open_database
from controlroom.store.inbox import submit_agent
from controlroom.store.lease import LeaseOwner, owner_is_live, read_lease, wake_owner
from controlroom.store.model_breakers import model_breakers


@base.main.command()
@base.common
@click.argument("agent_name", metavar="AGENT")
@click.argument("task")
@click.option("--user", default=None, help="Who the task is for (default: your OS user).")
@click.option(
    "--budget",
    "budget",
    type=click.FloatRange(min=0),
    default=None,
    help="Budget for this task in USD.",
)
@click.option(
    "--parent",
    default=None,
    metavar="AGENT_ID",
    help="Run it as a sub-agent of AGENT_ID: its spend rolls up into that task "
    "(and --user defaults to the parent's).",
)
@base.fails_cleanly
def submit(
    db: Path,
    agents_dir: Path,
    policies: Path | None,
    agent_name: str,
    task: str,
    user: str | None,
    budget: float | None,
    parent: str | None,
) -> None:
    """Queue TASK for AGENT; a running supervisor picks it up, or the next one started."""
    paths = base.checked_paths(db, agents_dir, policies)
    agents = load_agents(paths.agents)
    if agent_name not in agents:
        known = ", ".join(sorted(agents)) or "none"
        raise UnknownAgent(f"unknown agent {agent_name!r} in {paths.agents} (defined: {known})")
    if not task.strip():
        raise ControlRoomError("task text is empty")

    async def go() -> AgentRecord:
        database = await open_database(paths.db, integrity_check=False)
        try:
            owner = user
            if owner is None and parent is not None:
                above = await queries.get_agent(database, parent)
                owner = above.user if above is not None else None
            record = await submit_agent(
                database,
                agent_name,
                task,
                owner or base.os_user(),
                budget,
                base.CLOCK.now_ms(),
                parent_id=parent,
            )
            await wake_owner(database, socket.gethostname(), base.CLOCK.now_ms())
            return record
        finally:
            await database.close()

    record = base.run_coroutine(go())
    click.echo(record.id)


@base.main.command()
@base.common
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@base.fails_cleanly
def status(db: Path, agents_dir: Path, policies: Path | None, as_json: bool) -> None:
    """Show every agent: status, step, and why it stopped."""
    paths = base.checked_paths(db, agents_dir, policies)
    records, owner, breakers = base.run_coroutine(load_status(paths.db))
    if as_json:
        agents = [record.model_dump(mode="json") for record in records]
        endpoints = {
            name: change.model_dump(mode="json", exclude={"endpoint"})
            for name, change in breakers.items()
        }
        report = {"supervisor": owner, "model_breakers": endpoints, "agents": agents}
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(status_text(records, owner, breakers))


async def load_status(
    db_path: Path,
) -> tuple[list[AgentRecord], str, dict[str, ModelBreakerChanged]]:
    """The agents, the supervisor, and (while one runs) its model endpoints' breakers."""
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        lease = await read_lease(database)
        live = lease is not None and owner_is_live(lease, socket.gethostname(), base.CLOCK.now_ms())
        # Breakers live in the supervisor's memory: only a running one's are in force.
        breakers = await model_breakers(database) if live else {}
        owner = _owner_line(lease, live)
        return await queries.list_agents(database), owner, breakers
    finally:
        await database.close()


def status_text(
    records: list[AgentRecord], owner: str, breakers: dict[str, ModelBreakerChanged]
) -> str:
    lines = [f"supervisor: {owner}"]
    for change in breakers.values():
        if change.state != "closed":
            lines.append(
                f"model breaker {change.endpoint}: {change.state} ({base.one_line(change.reason)})"
            )
    lines.append(_table(records) if records else "no agents")
    return "\n".join(lines)


def _table(records: list[AgentRecord]) -> str:
    header = ("ID", "AGENT", "STATUS", "STEP", "UPDATED", "NOTE")
    rows = [header] + [
        (
            r.id,
            r.agent,
            r.status.value,
            str(r.step),
            base.local_time(r.updated_ms),
            base.one_line(r.error or r.result or r.task),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def _owner_line(owner: LeaseOwner | None, live: bool) -> str:
    if owner is None:
        return "none running"
    if live:
        return f"running ({owner.describe()})"
    return f"not running (last: {owner.describe()})"
