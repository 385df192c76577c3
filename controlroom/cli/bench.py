"""`controlroom bench`: the benchmarks (durability, gate overhead, kill switch, approvals,
the control room, team trees). The ui scenario imports Textual inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from controlroom.cli import base
from controlroom.orchestration.bench_tree import tree_benchmark
from controlroom.runtime.bench import benchmark, gate_overhead
from controlroom.runtime.bench_approvals import approvals_benchmark
from controlroom.runtime.bench_killswitch import kill_switch_benchmark
from controlroom.runtime.process import tune_for_supervisor
from controlroom.store.database import Synchronous


@base.main.command()
@click.option(
    "--agents",
    "agent_count",
    type=click.IntRange(min=1),
    default=None,
    help="Agents running concurrently.  [default: 100; 200 for kill-switch; 10000 for approvals;"
    " 1000 for ui]",
)
@click.option(
    "--steps", type=click.IntRange(min=1), default=50, show_default=True, help="Steps per agent."
)
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    help="Database file to create (default: a temporary file).",
)
@click.option(
    "--synchronous", type=click.Choice(["FULL", "NORMAL"]), default="FULL", show_default=True
)
@click.option(
    "--scenario",
    type=click.Choice(["durability", "gate-overhead", "kill-switch", "approvals", "ui", "tree"]),
    default="durability",
    show_default=True,
    help="durability: the canonical workload; gate-overhead: it with and without the "
    "governance gate, alternately, 7 runs each; kill-switch: time for `kill-switch` to pause "
    "every busy agent; approvals: memory and tasks of agents waiting for approval, and the "
    "time from a decision to the agent running again; ui: the control room attached while "
    "another process journals 500 events/s (key press to screen, the app's CPU); tree: a "
    "team of a planner and N specialists (default 50) against N + 1 independent agents, "
    "durable steps/s, alternately, 7 runs each.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@base.fails_cleanly
def bench(
    agent_count: int | None,
    steps: int,
    db: Path | None,
    synchronous: str,
    scenario: str,
    as_json: bool,
) -> None:
    """Benchmarks (default: durability, N agents x S steps, each a model turn and a
    side-effecting call through the gate)."""
    tune_for_supervisor()
    if scenario == "kill-switch":
        result = kill_switch_benchmark(agent_count or 200)
    elif scenario == "gate-overhead":
        result = gate_overhead(agent_count or 100, steps)
    elif scenario == "approvals":
        result = approvals_benchmark(agent_count or 10_000)
    elif scenario == "ui":
        from controlroom.ui.bench import ui_benchmark  # only this scenario loads Textual

        result = ui_benchmark(agent_count or 1000)
    elif scenario == "tree":
        result = tree_benchmark(agent_count or 50, steps)
    else:
        mode: Synchronous = "FULL" if synchronous == "FULL" else "NORMAL"
        result = benchmark(agent_count or 100, steps, db, mode)
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        click.echo(f"{key:>16}  {value}")
