"""`controlroom costs`: what the model turns cost, from the journal, by task, agent or user."""

from __future__ import annotations

import json
from pathlib import Path

import click

from controlroom.cli import base
from controlroom.domain.costs import AgentSpend, GroupBy, roll_up
from controlroom.store.costs import agent_spend
from controlroom.store.database import open_database


@base.main.command()
@base.common
@click.option(
    "--by",
    "group_by",
    type=click.Choice(["task", "agent", "user"]),
    default="task",
    show_default=True,
    help="task: each submitted task with its sub-agents; agent: each agent definition; "
    "user: each submitter.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@base.fails_cleanly
def costs(
    db: Path, agents_dir: Path, policies: Path | None, group_by: GroupBy, as_json: bool
) -> None:
    """What the model turns cost, from the journal; turns of unknown cost are counted and
    left out of the totals, never guessed."""
    paths = base.checked_paths(db, agents_dir, policies)
    spends = base.run_coroutine(_load_spend(paths.db))
    lines = roll_up(spends, group_by)
    unknown = sum(line.unknown_cost_turns for line in lines)
    lost = sum(line.lost_turns for line in lines)
    total = sum(line.cost_micro_usd for line in lines) / 1_000_000
    if as_json:
        report = {
            "by": group_by,
            "total_usd": total,
            "unknown_cost_turns": unknown,
            "lost_turns": lost,
            "excludes": _excluded(unknown, lost) if unknown else "nothing",
            "lines": [
                {
                    group_by: line.key,
                    "cost_usd": line.cost_usd,
                    "agents": line.agents,
                    "turns": line.turns,
                    "unknown_cost_turns": line.unknown_cost_turns,
                    "lost_turns": line.lost_turns,
                    "input_tokens": line.input_tokens,
                    "output_tokens": line.output_tokens,
                }
                for line in lines
            ],
        }
        click.echo(json.dumps(report))
        return
    click.echo(
        f"{group_by:<24} {'cost':>12} {'agents':>6} {'turns':>6} {'unknown':>7}"
        f" {'tokens in/out':>16}"
    )
    for line in lines:
        tokens = f"{line.input_tokens}/{line.output_tokens}"
        click.echo(
            f"{base.one_line(line.key, 24):<24} {_usd(line.cost_usd):>12} {line.agents:>6}"
            f" {line.turns:>6} {line.unknown_cost_turns:>7} {tokens:>16}"
        )
    click.echo(f"{'total':<24} {_usd(total):>12}")
    if unknown:
        click.echo(f"excludes {_excluded(unknown, lost)}")


def _excluded(unknown: int, lost: int) -> str:
    """What the totals leave out: turns of unknown cost, saying how many of them were
    requests lost to a stop or a crash (which the provider may or may not have billed)."""
    said = f"{unknown} model turn(s) of unknown cost"
    if lost:
        said += f", {lost} of them request(s) cut short by a stop or a crash (billed or not)"
    return said


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


async def _load_spend(db_path: Path) -> list[AgentSpend]:
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        return await agent_spend(database)
    finally:
        await database.close()
