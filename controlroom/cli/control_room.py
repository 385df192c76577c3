"""`controlroom demo` and `controlroom ui`: the control room (the Textual app), on the
bundled examples or on your own agents.

Textual is imported inside `_control_room` only: the headless commands never load it.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from controlroom import demo as demo_mod
from controlroom.cli import base
from controlroom.cli.agents import load_status, status_text
from controlroom.cli.approvals import approvals_table, load_approvals
from controlroom.cli.run import serve
from controlroom.config import bundled_agents_dir, bundled_policies_dir, data_dir
from controlroom.domain.approvals import ApprovalKind
from controlroom.domain.specs import AgentSpec
from controlroom.governance.policy_loader import PolicySet
from controlroom.orchestration.team_runner import TeamRunner
from controlroom.runtime.loader import load_agents
from controlroom.runtime.process import tune_for_supervisor
from controlroom.runtime.supervisor import Supervisor
from controlroom.store.database import open_database
from controlroom.store.lease import owner_is_live, read_lease


@base.main.command()
@click.option("--reset", is_flag=True, help="Delete the demo's database and files first.")
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Demo folder (default: $CONTROLROOM_HOME or ~/.local/share/controlroom/demo).",
)
@click.option(
    "--agents",
    "agents_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Agent definitions (default: the examples shipped with Control Room).",
)
@click.option(
    "--headless",
    is_flag=True,
    help="Print the journal, one line per event, instead of opening the control room "
    "(the default when stdout is not a terminal).",
)
@click.option(
    "--as",
    "operator",
    default="oncall",
    show_default=True,
    help="Operator name in the control room (the demo's policies let oncall approve).",
)
@base.fails_cleanly
def demo(
    reset: bool, home: Path | None, agents_dir: Path | None, headless: bool, operator: str
) -> None:
    """The control room on the example agents and the built-in scripted model (no network,
    no API key): refunds waiting for approval, a prompt injection caught, a loop and a
    runaway budget stopped by their breakers."""
    paths = demo_mod.demo_paths(home or (data_dir() / "demo"))
    directory = agents_dir or bundled_agents_dir() or Path("agents")
    agents = load_agents(directory)
    bundled = bundled_policies_dir() if agents_dir is None else None
    rules = base.checked_policies(bundled, agents) if bundled is not None else PolicySet()
    demo_mod.prepare(paths, reset)
    queued = base.run_coroutine(demo_mod.seed(paths.db, base.CLOCK.now_ms()))
    if not headless and sys.stdin.isatty() and sys.stdout.isatty():
        served = base.Paths(paths.db, directory, bundled)
        sys.exit(base.run_coroutine(_control_room(served, agents, rules, False, operator)))
    click.echo(f"demo database: {paths.db}")
    click.echo(f"outbox: {paths.outbox}   refund ledger: {paths.ledger}")
    click.echo(f"queued {queued} demo task(s)" if queued else "resuming the demo's agents")
    show = lambda entry: click.echo(demo_mod.summary_line(entry))  # noqa: E731
    tune_for_supervisor()
    code = base.run_coroutine(
        serve(base.Paths(paths.db, directory, bundled), agents, rules, True, "FULL", show)
    )
    click.echo(status_text(*base.run_coroutine(load_status(paths.db))))
    waiting = base.run_coroutine(load_approvals(paths.db, False))
    if waiting:
        click.echo(f"\n{len(waiting)} approval(s) waiting:\n{approvals_table(waiting)}")
        click.echo("decide (or deny, respond, resolve), then run the demo again:")
        for approval in waiting:
            verb = "resolve" if approval.kind is ApprovalKind.IN_DOUBT else "approve"
            extra = " happened --result ..." if verb == "resolve" else ""
            who = f" --as {approval.approvers_allowed[0]}" if approval.approvers_allowed else ""
            db_flag = shlex.quote(str(paths.db))
            click.echo(f"  controlroom {verb} {approval.id}{extra}{who} --db {db_flag}")
    click.echo("run `controlroom demo` again to resume, or `controlroom demo --reset` to restart")
    sys.exit(code)


@base.main.command(name="ui")
@base.common
@click.option("--read-only", is_flag=True, help="Watch only: approve and deny are refused.")
@click.option("--as", "operator", default=None, help="Operator name (default: OS user).")
@click.option(
    "--refresh",
    "refresh_s",
    type=click.FloatRange(min=0.05, max=10),
    default=0.25,
    show_default=True,
    help="Seconds between screen updates (raise it over a slow link).",
)
@base.fails_cleanly
def ui(
    db: Path,
    agents_dir: Path,
    policies: Path | None,
    read_only: bool,
    operator: str | None,
    refresh_s: float,
) -> None:
    """The control room on your agents and policies. It hosts the supervisor unless a live
    one owns the database (then it attaches); with --read-only it never hosts."""
    paths = base.checked_paths(db, agents_dir, policies)
    agents = load_agents(paths.agents)
    rules, directory = base.policies_for(paths.policies, agents)
    served = base.Paths(paths.db, paths.agents, directory)
    operator = operator or base.os_user()
    sys.exit(
        base.run_coroutine(_control_room(served, agents, rules, read_only, operator, refresh_s))
    )


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Send log records to `path` while the control room runs: it draws on the terminal,
    and a warning written there would scribble over the screen."""
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    try:
        yield
    finally:
        root.handlers = saved
        handler.close()


async def _control_room(
    paths: base.Paths,
    agents: dict[str, AgentSpec],
    policies: PolicySet,
    read_only: bool,
    operator: str,
    refresh_s: float = 0.25,
) -> int:
    # Imported here: only this command loads Textual (the headless ones never pay for it).
    from controlroom.ui.app import make_app
    from controlroom.ui.definitions import Definitions

    database = await open_database(paths.db)  # checked as `run` checks it: it may host
    try:
        owner = await read_lease(database)
        attached = owner is not None and owner_is_live(
            owner, socket.gethostname(), base.CLOCK.now_ms()
        )
        supervisor = None
        if not attached and not read_only:
            tune_for_supervisor()
            supervisor = Supervisor(
                database,
                agents,
                clock=base.CLOCK,
                policies=policies,
                policies_dir=paths.policies,
                coordinate=TeamRunner,
            )
            await supervisor.start()
        try:
            app = make_app(
                database,
                clock=base.CLOCK,
                operator=operator,
                read_only=read_only,
                supervisor=supervisor,
                refresh_s=refresh_s,
                definitions=Definitions(agents, policies),
                freeze_after_load=True,
            )
            with _logs_to(paths.db.with_name(paths.db.name + ".log")):
                await app.run_async()
        finally:
            if supervisor is not None:
                await supervisor.stop()
        if supervisor is not None and supervisor.fatal_error is not None:
            click.echo(f"error: supervisor stopped: {supervisor.fatal_error}", err=True)
            return 1
        return 0
    finally:
        await database.close()
