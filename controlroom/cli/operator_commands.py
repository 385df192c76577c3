"""The operator's commands on agents: pause, resume, terminate, quarantine, kill-switch and
budget. Each is queued in the database and applied by the supervisor (see `delivery`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from controlroom.cli import base
from controlroom.cli.delivery import delivered, handed_over
from controlroom.errors import UnknownAgent
from controlroom.store import queries
from controlroom.store.database import open_database
from controlroom.store.inbox import enqueue_command


def _operator_command(name: str, help_text: str, takes_target: bool = True) -> None:
    @base.main.command(name=name, help=help_text)
    @base.common
    @delivered("Operator name (default: OS user).")
    @base.fails_cleanly
    def command(
        db: Path,
        agents_dir: Path,
        policies: Path | None,
        operator: str | None,
        wait_s: float,
        target: str = "*",
    ) -> None:
        paths = base.checked_paths(db, agents_dir, policies)
        click.echo(
            base.run_coroutine(_deliver(paths, name, target, operator or base.os_user(), wait_s))
        )

    if takes_target:
        click.argument("target", metavar="AGENT")(command)


async def _deliver(paths: base.Paths, name: str, target: str, operator: str, wait_s: float) -> str:
    database = await open_database(paths.db, create=False, integrity_check=False)
    try:
        if target != "*" and not any(
            r.id == target or r.agent == target for r in await queries.list_agents(database)
        ):
            raise UnknownAgent(f"no agent {target!r} in {paths.db}")
        command_id = await enqueue_command(database, name, target, operator, base.CLOCK.now_ms())
        text, _refused = await handed_over(database, command_id, f"{name} {target}", wait_s)
        return text
    finally:
        await database.close()


_operator_command("pause", "Pause AGENT (an id, or a name for all its agents) at its next step.")
_operator_command("resume", "Resume a paused AGENT from its checkpoint.")
_operator_command(
    "terminate", "Stop AGENT and roll back what it created (compensations, newest first)."
)
_operator_command(
    "quarantine",
    "Hold AGENT's outputs for review: it runs on, its side-effecting calls need approval and "
    "its final result is held.",
)
_operator_command("kill-switch", "Pause every agent now.", takes_target=False)


@base.main.command()
@base.common
@delivered("Operator name (default: OS user).")
@click.argument("target", metavar="AGENT")
@click.argument("usd", type=click.FloatRange(min=0))
@base.fails_cleanly
def budget(
    db: Path,
    agents_dir: Path,
    policies: Path | None,
    operator: str | None,
    wait_s: float,
    target: str,
    usd: float,
) -> None:
    """Set AGENT's task budget to USD; an agent its budget breaker paused goes on if the new
    budget is above what it spent."""
    paths = base.checked_paths(db, agents_dir, policies)

    async def go() -> tuple[str, bool]:
        database = await open_database(paths.db, create=False, integrity_check=False)
        try:
            if await queries.get_agent(database, target) is None:
                raise UnknownAgent(f"no agent {target!r} in {paths.db}")
            command_id = await enqueue_command(
                database,
                "budget",
                target,
                operator or base.os_user(),
                base.CLOCK.now_ms(),
                {"usd": usd},
            )
            return await handed_over(database, command_id, f"budget {target}", wait_s)
        finally:
            await database.close()

    text, _refused = base.run_coroutine(go())
    click.echo(text)
    if text.startswith("refused"):
        sys.exit(1)
