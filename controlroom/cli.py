"""The `controlroom` command.

Every subcommand takes `--db` (env `CONTROLROOM_DB`), `--agents` and `--policies`. Errors an
operator can act on are printed as one line, `error: ...`, with a non-zero exit; a traceback
means a bug. Commands that change agents are delivered through the database, so they work
whether or not a supervisor is running, and from any SSH session.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import os
import select
import shlex
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from controlroom import demo as demo_mod
from controlroom.clock import SystemClock
from controlroom.config import bundled_agents_dir, bundled_policies_dir, data_dir
from controlroom.domain.approvals import Approval, ApprovalKind, ApprovalStatus, Verdict
from controlroom.domain.costs import AgentSpend, GroupBy, roll_up
from controlroom.domain.events import JournalEntry, ModelBreakerChanged
from controlroom.domain.models import AgentRecord
from controlroom.domain.specs import AgentSpec
from controlroom.errors import ControlRoomError, UnknownAgent
from controlroom.governance.policy_loader import PolicyError, PolicySet, load_policies
from controlroom.orchestration.bench_tree import tree_benchmark
from controlroom.orchestration.team_runner import TeamRunner
from controlroom.runtime.bench import benchmark, gate_overhead
from controlroom.runtime.bench_approvals import approvals_benchmark
from controlroom.runtime.bench_killswitch import kill_switch_benchmark
from controlroom.runtime.loader import load_agents
from controlroom.runtime.process import tune_for_supervisor
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store import approvals as approval_rows
from controlroom.store import queries
from controlroom.store.audit import AuditReport, export_rows, verify_journal
from controlroom.store.costs import agent_spend
from controlroom.store.database import Database, Synchronous, open_database
from controlroom.store.follow import POLL_S, journal_tail
from controlroom.store.inbox import enqueue_command, enqueue_decision, submit_agent
from controlroom.store.lease import LeaseOwner, owner_is_live, read_lease, wake, wake_owner
from controlroom.store.model_breakers import model_breakers

T = TypeVar("T")
_CLOCK = SystemClock()


@dataclass(frozen=True)
class Paths:
    db: Path
    agents: Path
    policies: Path | None


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every subcommand shares."""
    fn = click.option(
        "--policies",
        "policies",
        type=click.Path(path_type=Path),
        default=None,
        help="Policy directory (default ./policies).",
    )(fn)
    fn = click.option(
        "--agents",
        "agents_dir",
        type=click.Path(path_type=Path),
        default=Path("agents"),
        show_default=True,
        help="Directory of agent definition modules.",
    )(fn)
    fn = click.option(
        "--db",
        "db",
        type=click.Path(path_type=Path),
        envvar="CONTROLROOM_DB",
        default=Path("controlroom.db"),
        show_default=True,
        help="Database file (env CONTROLROOM_DB).",
    )(fn)
    return fn


def _paths(db: Path, agents_dir: Path, policies: Path | None) -> Paths:
    if policies is not None and not policies.is_dir():
        raise ControlRoomError(f"{policies}: policies directory does not exist")
    return Paths(db, agents_dir, policies)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn operator-facing errors into one line and an exit code."""
    try:
        return asyncio.run(coro)
    except ControlRoomError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _fails_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Report operator-facing errors, and database errors met after opening, as one line."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ControlRoomError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (DBAPIError, sqlite3.Error) as exc:
            where = kwargs.get("db") or "database"
            click.echo(f"error: {where}: {_database_problem(exc)}", err=True)
            sys.exit(1)

    return wrapper


def _database_problem(exc: DBAPIError | sqlite3.Error) -> str:
    """What went wrong, from the driver's error (reads on the loop's thread raise it bare)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(cause, sqlite3.OperationalError):
        return f"database unavailable: {cause}"
    return f"damaged or unreadable: {cause}"


_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Commands(click.Group):
    """A group that reports usage mistakes as one `error:` line, like every other mistake."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except _NO_ARGS as exc:  # bare `controlroom`: the help is the answer, not an error
            click.echo(exc.ctx.get_help() if exc.ctx else "")
            sys.exit(0)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()} (see controlroom --help)", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="controlroom")
def main() -> None:
    """Control Room: run LLM agents durably and watch them from a terminal."""
    # Diagnostics go to stderr; stdout carries data (JSON lines, tables, ids).
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


# -- run --------------------------------------------------------------------------------------


@main.command()
@_common
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
@_fails_cleanly
def run(
    db: Path, agents_dir: Path, policies: Path | None, exit_when_idle: bool, synchronous: str
) -> None:
    """Run the supervisor headless, printing one JSON object per journal event."""
    paths = _paths(db, agents_dir, policies)
    agents = load_agents(paths.agents)
    rules, directory = _policies_for(paths.policies, agents)
    tune_for_supervisor()
    served = Paths(paths.db, paths.agents, directory)
    code = _run(_serve(served, agents, rules, exit_when_idle, synchronous, _print_json_line))
    sys.exit(code)


def _print_json_line(entry: JournalEntry) -> None:
    sys.stdout.write(json.dumps(entry.as_log_record(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def _serve(
    paths: Paths,
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
            clock=_CLOCK,
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


# -- submit / status --------------------------------------------------------------------------


@main.command()
@_common
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
@_fails_cleanly
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
    paths = _paths(db, agents_dir, policies)
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
                owner or _os_user(),
                budget,
                _CLOCK.now_ms(),
                parent_id=parent,
            )
            await wake_owner(database, socket.gethostname(), _CLOCK.now_ms())
            return record
        finally:
            await database.close()

    record = _run(go())
    click.echo(record.id)


@main.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_fails_cleanly
def status(db: Path, agents_dir: Path, policies: Path | None, as_json: bool) -> None:
    """Show every agent: status, step, and why it stopped."""
    paths = _paths(db, agents_dir, policies)
    records, owner, breakers = _run(_load_status(paths.db))
    if as_json:
        agents = [record.model_dump(mode="json") for record in records]
        endpoints = {
            name: change.model_dump(mode="json", exclude={"endpoint"})
            for name, change in breakers.items()
        }
        report = {"supervisor": owner, "model_breakers": endpoints, "agents": agents}
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(_status_text(records, owner, breakers))


async def _load_status(
    db_path: Path,
) -> tuple[list[AgentRecord], str, dict[str, ModelBreakerChanged]]:
    """The agents, the supervisor, and (while one runs) its model endpoints' breakers."""
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        lease = await read_lease(database)
        live = lease is not None and owner_is_live(lease, socket.gethostname(), _CLOCK.now_ms())
        # Breakers live in the supervisor's memory: only a running one's are in force.
        breakers = await model_breakers(database) if live else {}
        owner = _owner_line(lease, live)
        return await queries.list_agents(database), owner, breakers
    finally:
        await database.close()


def _status_text(
    records: list[AgentRecord], owner: str, breakers: dict[str, ModelBreakerChanged]
) -> str:
    lines = [f"supervisor: {owner}"]
    for change in breakers.values():
        if change.state != "closed":
            lines.append(
                f"model breaker {change.endpoint}: {change.state} ({_one_line(change.reason)})"
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
            _local_time(r.updated_ms),
            _one_line(r.error or r.result or r.task),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _local_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _owner_line(owner: LeaseOwner | None, live: bool) -> str:
    if owner is None:
        return "none running"
    if live:
        return f"running ({owner.describe()})"
    return f"not running (last: {owner.describe()})"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# -- operator commands ------------------------------------------------------------------------


def _operator_command(name: str, help_text: str, takes_target: bool = True) -> None:
    @main.command(name=name, help=help_text)
    @_common
    @_delivered("Operator name (default: OS user).")
    @_fails_cleanly
    def command(
        db: Path,
        agents_dir: Path,
        policies: Path | None,
        operator: str | None,
        wait_s: float,
        target: str = "*",
    ) -> None:
        paths = _paths(db, agents_dir, policies)
        click.echo(_run(_deliver(paths, name, target, operator or _os_user(), wait_s)))

    if takes_target:
        click.argument("target", metavar="AGENT")(command)


async def _handed_over(
    database: Database, command_id: int, what: str, wait_s: float
) -> tuple[str, bool]:
    """Wake the live owner, if any, and wait for it to apply the queued command.

    Returns the outcome to print and whether the command was refused.
    """
    host = socket.gethostname()
    owner = await read_lease(database)
    if owner is None or not owner_is_live(owner, host, _CLOCK.now_ms()):
        return f"queued {what} (#{command_id}): applied when a supervisor starts", False
    wake(owner, host)
    deadline = _CLOCK.monotonic() + wait_s
    while _CLOCK.monotonic() < deadline:
        state, outcome = await queries.command_outcome(database, command_id)
        if state in ("applied", "refused"):
            return outcome or state, state == "refused"
        await asyncio.sleep(0.05)
    return f"queued {what} (#{command_id}); the supervisor has not applied it yet", False


def _delivered(who: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of a command delivered through the database: who gives it, and how long
    to wait for a running supervisor to apply it."""

    def options(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option(
            "--wait",
            "wait_s",
            type=float,
            default=10.0,
            show_default=True,
            help="Seconds to wait for a running supervisor to apply it.",
        )(fn)
        return click.option("--as", "operator", default=None, help=who)(fn)

    return options


async def _deliver(paths: Paths, name: str, target: str, operator: str, wait_s: float) -> str:
    database = await open_database(paths.db, create=False, integrity_check=False)
    try:
        if target != "*" and not any(
            r.id == target or r.agent == target for r in await queries.list_agents(database)
        ):
            raise UnknownAgent(f"no agent {target!r} in {paths.db}")
        command_id = await enqueue_command(database, name, target, operator, _CLOCK.now_ms())
        text, _refused = await _handed_over(database, command_id, f"{name} {target}", wait_s)
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


@main.command()
@_common
@_delivered("Operator name (default: OS user).")
@click.argument("target", metavar="AGENT")
@click.argument("usd", type=click.FloatRange(min=0))
@_fails_cleanly
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
    paths = _paths(db, agents_dir, policies)

    async def go() -> tuple[str, bool]:
        database = await open_database(paths.db, create=False, integrity_check=False)
        try:
            if await queries.get_agent(database, target) is None:
                raise UnknownAgent(f"no agent {target!r} in {paths.db}")
            command_id = await enqueue_command(
                database, "budget", target, operator or _os_user(), _CLOCK.now_ms(), {"usd": usd}
            )
            return await _handed_over(database, command_id, f"budget {target}", wait_s)
        finally:
            await database.close()

    text, _refused = _run(go())
    click.echo(text)
    if text.startswith("refused"):
        sys.exit(1)


# -- approvals --------------------------------------------------------------------------------


@main.command()
@_common
@click.option("--all", "show_all", is_flag=True, help="Include decided, expired and cancelled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_fails_cleanly
def approvals(
    db: Path, agents_dir: Path, policies: Path | None, show_all: bool, as_json: bool
) -> None:
    """List the approvals waiting for a decision (in-doubt calls included)."""
    paths = _paths(db, agents_dir, policies)
    listed = _run(_load_approvals(paths.db, show_all))
    if as_json:
        click.echo(json.dumps([a.model_dump(mode="json") for a in listed], indent=2))
        return
    click.echo(_approvals_table(listed) if listed else "no approvals waiting")


async def _load_approvals(db_path: Path, show_all: bool) -> list[Approval]:
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        statuses = () if show_all else (ApprovalStatus.PENDING,)
        return await approval_rows.listed(database, statuses)
    finally:
        await database.close()


def _approvals_table(listed: list[Approval]) -> str:
    header = ("ID", "AGENT", "KIND", "TIER", "AMOUNT", "STATUS", "EXPIRES", "CALL")
    rows = [header] + [
        (
            str(a.id),
            a.agent_id,
            a.kind.value,
            a.tier,
            f"${a.amount:,.2f}" if a.amount is not None else "-",
            _approval_status(a),
            _local_time(a.expires_ms) if a.expires_ms is not None else "-",
            _one_line(f"{a.tool} {json.dumps(a.arguments, ensure_ascii=False)}", 70),
        )
        for a in listed
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


def _approval_status(approval: Approval) -> str:
    if approval.decision is not None:
        return f"{approval.decision.verdict} ({', '.join(approval.decision.approvers)})"
    if approval.endorsed_by:
        return f"1/{approval.approvals_required} ({', '.join(approval.endorsed_by)})"
    return approval.status.value


def _decision_command(
    name: str, verdict: Verdict | None, help_text: str, extra: list[Callable[..., Any]]
) -> None:
    """A command that decides an approval: delivered through the database like every
    operator command, applied (and checked) by the supervisor."""

    @main.command(name=name, help=help_text)
    @_common
    @click.argument("approval_id", metavar="ID", type=int)
    @click.option("--note", default="", help="Why: recorded with the decision.")
    @_delivered("Approver name (default: OS user).")
    @_fails_cleanly
    def command(
        db: Path,
        agents_dir: Path,
        policies: Path | None,
        approval_id: int,
        note: str,
        operator: str | None,
        wait_s: float,
        **options: Any,
    ) -> None:
        paths = _paths(db, agents_dir, policies)
        payload = _decision_payload(verdict, note, options)
        text, refused = _run(
            _deliver_decision(paths, approval_id, payload, operator or _os_user(), wait_s)
        )
        click.echo(text)
        if refused:
            sys.exit(1)

    for option in extra:
        option(command)


def _decision_payload(
    verdict: Verdict | None, note: str, options: dict[str, Any]
) -> dict[str, Any]:
    arguments = None
    raw = options.get("args")
    if raw is not None:
        try:
            arguments = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ControlRoomError(f"--args: not JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(arguments, dict):
            raise ControlRoomError("--args: must be a JSON object of argument names to values")
    return {
        "verdict": verdict or options["verdict"],
        "note": note,
        "arguments": arguments,
        "message": options.get("message") or "",
        "result": options.get("result") or "",
    }


async def _deliver_decision(
    paths: Paths, approval_id: int, payload: dict[str, Any], operator: str, wait_s: float
) -> tuple[str, bool]:
    database = await open_database(paths.db, create=False, integrity_check=False)
    try:
        approval = await approval_rows.get(database, approval_id)
        if approval is None:
            raise ControlRoomError(f"no approval #{approval_id} in {paths.db}")
        if not approval.status.is_open:
            raise ControlRoomError(f"approval #{approval_id} is {approval.settled()}")
        if payload["verdict"] not in approval.verdicts:
            raise ControlRoomError(
                f"approval #{approval_id} takes {' / '.join(approval.verdicts)}, "
                f"not {payload['verdict']}"
            )
        command_id = await enqueue_decision(
            database, approval_id, operator, _CLOCK.now_ms(), via="cli", **payload
        )
        what = f"{payload['verdict']} #{approval_id}"
        return await _handed_over(database, command_id, what, wait_s)
    finally:
        await database.close()


_decision_command(
    "approve",
    "approve",
    "Approve the call ID waits on (--args JSON to approve it with edited arguments).",
    [click.option("--args", "args", default=None, help="Edited arguments, a JSON object.")],
)
_decision_command("deny", "deny", "Deny the call ID waits on; the agent goes on without it.", [])
_decision_command(
    "respond",
    "respond",
    "Answer the agent with MESSAGE instead of running the call ID waits on.",
    [click.argument("message")],
)
_decision_command(
    "complete",
    "complete",
    "Take an escalated task over: mark it done with RESULT (its call does not run).",
    [click.argument("result")],
)
_decision_command(
    "resolve",
    None,
    "Settle an in-doubt call: it HAPPENED (give --result), RETRY it with the same key, or "
    "ABORT it.",
    [
        click.option("--result", "result", default="", help="What the call returned."),
        click.argument("verdict", type=click.Choice(["happened", "retry", "abort"])),
    ],
)


@main.group(cls=click.Group)
def webhooks() -> None:
    """Accept decisions from chat tools and other systems over signed HTTP requests."""


@webhooks.command(name="serve")
@_common
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8787, show_default=True, help="Port (0: any free).")
@click.option(
    "--secret-env",
    default="CONTROLROOM_WEBHOOK_SECRET",
    show_default=True,
    help="Environment variable holding the shared signing secret (16+ bytes).",
)
@click.option(
    "--allow-remote", is_flag=True, help="Listen on a non-loopback address (put TLS in front)."
)
@_fails_cleanly
def webhooks_serve(
    db: Path,
    agents_dir: Path,
    policies: Path | None,
    host: str,
    port: int,
    secret_env: str,
    allow_remote: bool,
) -> None:
    """Serve POST /decisions: HMAC-signed decisions (Slack's signing scheme), applied
    exactly like `controlroom approve` and friends; refusals are journaled."""
    # Imported here: the web server's packages cost every other command their start-up.
    from controlroom.webhooks.server import secret_from_env
    from controlroom.webhooks.server import serve as serve_webhooks

    paths = _paths(db, agents_dir, policies)
    secret = secret_from_env(secret_env)

    def ready(bound: int) -> None:
        click.echo(f"listening on http://{host}:{bound}/decisions", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # ctrl-c: uvicorn already shut down cleanly
        _run(
            serve_webhooks(
                paths.db,
                host=host,
                port=port,
                secret=secret,
                allow_remote=allow_remote,
                ready=ready,
            )
        )


# -- events -----------------------------------------------------------------------------------


@main.command()
@_common
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing events as they are committed, until SIGINT or SIGTERM.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line, as `run` prints them."
)
@click.option(
    "--after",
    "after_id",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="ID",
    help="Only events after event ID (resume from the last id a stream printed).",
)
@_fails_cleanly
def events(
    db: Path, agents_dir: Path, policies: Path | None, follow: bool, as_json: bool, after_id: int
) -> None:
    """Print the journal's events in order; with --follow, keep printing them as they are
    committed (for log shippers, which resume with --after <last id>).

    A reader only: it works while a supervisor owns the database. It exits 0 on SIGINT or
    SIGTERM, and quietly when the reader of its output goes away.
    """
    paths = _paths(db, agents_dir, policies)
    show = _print_json_line if as_json else _print_event_line
    sys.exit(_run(_stream_events(paths.db, after_id, follow, show)))


def _print_event_line(entry: JournalEntry) -> None:
    sys.stdout.write(f"{entry.id:>6}  {demo_mod.summary_line(entry)}\n")
    sys.stdout.flush()


async def _stream_events(
    db_path: Path, after_id: int, follow: bool, show: Callable[[JournalEntry], None]
) -> int:
    # A signal ends the stream between two events, so the last line printed is whole and
    # `--after <its id>` resumes exactly after it.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    database = await open_database(db_path, create=False, integrity_check=False)
    watching = asyncio.create_task(_until_reader_gone(stop)) if follow else None
    try:
        tail = journal_tail(database, after_id, follow=follow, stop=stop)
        async with contextlib.aclosing(tail) as entries:
            async for entry in entries:
                try:
                    show(entry)
                except BrokenPipeError:  # the reader went away: nobody to tell
                    _stdout_to_devnull()
                    return 0
        return 0
    finally:
        if watching is not None:
            watching.cancel()
        await database.close()


async def _until_reader_gone(stop: asyncio.Event) -> None:
    """Set `stop` once stdout is a pipe nobody reads any more. A follower waiting for the
    next event would otherwise only find out when it writes, which may be never."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if not hasattr(select, "poll"):
        return
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: only POLLERR, POLLHUP and POLLNVAL come
    while not stop.is_set():
        if poller.poll(0):
            _stdout_to_devnull()
            stop.set()
            return
        await asyncio.sleep(POLL_S)


def _stdout_to_devnull() -> None:
    # So that the interpreter's last flush of stdout at exit does not fail again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# -- audit ------------------------------------------------------------------------------------


@main.group(cls=click.Group)
def audit() -> None:
    """Check or export the tamper-evident journal."""


@audit.command(name="verify")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_fails_cleanly
def audit_verify(db: Path, agents_dir: Path, policies: Path | None, as_json: bool) -> None:
    """Exit 0 if the journal is intact; 1, naming the first bad row, if it is not.

    Checks the hash chain of every row, the signed heads in the journal and the anchor file
    beside the database (`<db>.anchor`), which catches a truncated tail or an older copy.
    """
    report = _run(_verify(_paths(db, agents_dir, policies).db))
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2))
    else:
        click.echo(_report_text(db, report))
    sys.exit(0 if report.intact else 1)


async def _verify(db_path: Path) -> AuditReport:
    database = await open_database(db_path, create=False)
    try:
        return await verify_journal(database)
    finally:
        await database.close()


def _report_json(report: AuditReport) -> dict[str, Any]:
    return {
        "intact": report.intact,
        "rows": report.rows,
        "head": {"id": report.head_id, "hash": report.head_hash.hex()},
        "signed_heads": report.signed_heads,
        "last_signed": report.last_signed,
        "anchor": report.anchor.model_dump() if report.anchor else None,
        "problems": [{"row": p.row, "problem": p.what} for p in report.problems],
        "notes": report.notes,
    }


def _report_text(db: Path, report: AuditReport) -> str:
    if report.problems:
        first = report.problems[0]
        lines = [f"{db}: journal NOT intact: {first.what}"]
        lines += [f"also: {p.what}" for p in report.problems[1:]]
    else:
        lines = [
            f"{db}: journal intact: {report.rows} rows, head #{report.head_id} "
            f"{report.head_hash.hex()}",
            f"signed heads: {report.signed_heads} (newest covers row {report.last_signed})",
        ]
        if report.anchor is not None:
            lines.append(f"anchor: {report.anchor.model_dump_json()}")
    return "\n".join(lines + [f"note: {note}" for note in report.notes])


@audit.command(name="export")
@_common
@click.option("--jsonl", "_jsonl", is_flag=True, help="One JSON object per row (the format).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file instead of stdout.",
)
@_fails_cleanly
def audit_export(
    db: Path, agents_dir: Path, policies: Path | None, _jsonl: bool, out: Path | None
) -> None:
    """Export every journal row, in order, with its hash, as JSON lines."""
    db_path = _paths(db, agents_dir, policies).db
    if out is None:
        _run(_export(db_path, sys.stdout))
        return
    if out.exists():
        raise ControlRoomError(f"{out}: exists; choose a new file for the export")
    # Written under a temporary name and renamed when complete: no half export is left.
    partial = out.with_name(out.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as sink:
            _run(_export(db_path, sink))
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)


async def _export(db_path: Path, sink: TextIO) -> None:
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        async for row in export_rows(database):
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        await database.close()


# -- policy -----------------------------------------------------------------------------------


@main.group(cls=click.Group)
def policy() -> None:
    """Check policy files."""


@policy.command(name="check")
@_common
@_fails_cleanly
def policy_check(db: Path, agents_dir: Path, policies: Path | None) -> None:
    """Validate a policy directory against the agent definitions (exit 2 on problems)."""
    directory = policies or Path("policies")
    loaded = _checked_policies(directory, load_agents(agents_dir))
    click.echo(
        f"{directory}: ok: {len(loaded.files)} file(s), policies for "
        f"{', '.join(sorted(loaded.agents)) or 'no agents'}"
    )


def _checked_policies(directory: Path, agents: dict[str, AgentSpec]) -> PolicySet:
    """The policies in `directory`, or every problem printed (one line each) and exit 2."""
    try:
        return load_policies(directory, agents)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem(s) in {directory}", err=True)
        sys.exit(exc.exit_code)


def _policies_for(
    directory: Path | None, agents: dict[str, AgentSpec]
) -> tuple[PolicySet, Path | None]:
    """`--policies DIR`, else ./policies if there is one, else no policies (every agent may
    use the tools its definition declares); and the directory to watch for edits."""
    if directory is None:
        default = Path("policies")
        if not default.is_dir():
            return PolicySet(), None
        directory = default
    return _checked_policies(directory, agents), directory


# -- costs ------------------------------------------------------------------------------------


@main.command()
@_common
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
@_fails_cleanly
def costs(
    db: Path, agents_dir: Path, policies: Path | None, group_by: GroupBy, as_json: bool
) -> None:
    """What the model turns cost, from the journal; turns of unknown cost are counted and
    left out of the totals, never guessed."""
    paths = _paths(db, agents_dir, policies)
    spends = _run(_load_spend(paths.db))
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
            f"{_one_line(line.key, 24):<24} {_usd(line.cost_usd):>12} {line.agents:>6}"
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


# -- demo -------------------------------------------------------------------------------------


@main.command()
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
@_fails_cleanly
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
    rules = _checked_policies(bundled, agents) if bundled is not None else PolicySet()
    demo_mod.prepare(paths, reset)
    queued = _run(demo_mod.seed(paths.db, _CLOCK.now_ms()))
    if not headless and sys.stdin.isatty() and sys.stdout.isatty():
        served = Paths(paths.db, directory, bundled)
        sys.exit(_run(_control_room(served, agents, rules, False, operator)))
    click.echo(f"demo database: {paths.db}")
    click.echo(f"outbox: {paths.outbox}   refund ledger: {paths.ledger}")
    click.echo(f"queued {queued} demo task(s)" if queued else "resuming the demo's agents")
    show = lambda entry: click.echo(demo_mod.summary_line(entry))  # noqa: E731
    tune_for_supervisor()
    code = _run(_serve(Paths(paths.db, directory, bundled), agents, rules, True, "FULL", show))
    click.echo(_status_text(*_run(_load_status(paths.db))))
    waiting = _run(_load_approvals(paths.db, False))
    if waiting:
        click.echo(f"\n{len(waiting)} approval(s) waiting:\n{_approvals_table(waiting)}")
        click.echo("decide (or deny, respond, resolve), then run the demo again:")
        for approval in waiting:
            verb = "resolve" if approval.kind is ApprovalKind.IN_DOUBT else "approve"
            extra = " happened --result ..." if verb == "resolve" else ""
            who = f" --as {approval.approvers_allowed[0]}" if approval.approvers_allowed else ""
            db_flag = shlex.quote(str(paths.db))
            click.echo(f"  controlroom {verb} {approval.id}{extra}{who} --db {db_flag}")
    click.echo("run `controlroom demo` again to resume, or `controlroom demo --reset` to restart")
    sys.exit(code)


# -- ui ---------------------------------------------------------------------------------------


@main.command(name="ui")
@_common
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
@_fails_cleanly
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
    paths = _paths(db, agents_dir, policies)
    agents = load_agents(paths.agents)
    rules, directory = _policies_for(paths.policies, agents)
    served = Paths(paths.db, paths.agents, directory)
    operator = operator or _os_user()
    sys.exit(_run(_control_room(served, agents, rules, read_only, operator, refresh_s)))


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
    paths: Paths,
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
        attached = owner is not None and owner_is_live(owner, socket.gethostname(), _CLOCK.now_ms())
        supervisor = None
        if not attached and not read_only:
            tune_for_supervisor()
            supervisor = Supervisor(
                database,
                agents,
                clock=_CLOCK,
                policies=policies,
                policies_dir=paths.policies,
                coordinate=TeamRunner,
            )
            await supervisor.start()
        try:
            app = make_app(
                database,
                clock=_CLOCK,
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


# -- bench ------------------------------------------------------------------------------------


@main.command()
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
@_fails_cleanly
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


# -- screen -----------------------------------------------------------------------------------


class _ScreenInputError(ControlRoomError):
    """A text to screen could not be read: a missing file, a stdin line not a JSON string."""

    exit_code = 2


@main.command(name="screen")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--level",
    type=click.Choice(["standard", "strict"]),
    default="standard",
    show_default=True,
    help="strict flags on weaker evidence.",
)
@click.option(
    "--corpus",
    type=click.Choice(["bastioncorpus"]),
    default=None,
    help="Measure detection and false positives on a labelled corpus instead.",
)
@click.option("--json", "as_json", is_flag=True, help="With --corpus: print one JSON object.")
@_fails_cleanly
def screen_command(files: tuple[Path, ...], level: str, corpus: str | None, as_json: bool) -> None:
    """Screen texts for prompt injection, one JSON line per text (exit 2 on unreadable input).

    Each FILE is one text; without files, each stdin line is one JSON string (blank lines are
    skipped). A flagged text is a finding, not an error: the exit status stays 0.
    """
    # Imported here: compiling the rules takes a while, and other commands never need them.
    from controlroom.governance.screening import Level
    from controlroom.governance.screening import screen as screen_text
    from controlroom.governance.screening_bench import corpus_report, report_table

    chosen: Level = "strict" if level == "strict" else "standard"
    if corpus is not None:
        if files:
            raise click.UsageError("--corpus measures a corpus and takes no files")
        report = corpus_report(corpus, chosen)
        click.echo(json.dumps(report) if as_json else report_table(report))
        return
    if as_json:
        raise click.UsageError("--json applies to --corpus; results are JSON lines already")
    texts = _file_texts(files) if files else _stdin_texts(sys.stdin)
    for source, text in texts:
        found = screen_text(text, chosen)
        line = {"source": source, "flagged": found.flagged, "score": found.score}
        click.echo(json.dumps({**line, "reasons": list(found.reasons)}))


def _file_texts(files: tuple[Path, ...]) -> list[tuple[str, str]]:
    """Every file read before any is screened, so a bad path fails the command up front."""
    texts = []
    for path in files:
        try:
            texts.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        except FileNotFoundError:
            raise _ScreenInputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise _ScreenInputError(f"{path}: is a directory, not a file") from None
        except OSError as exc:
            raise _ScreenInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return texts


def _stdin_texts(stream: TextIO) -> Iterator[tuple[str, str]]:
    """Texts from stdin as they arrive, one JSON string per line."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            text = json.loads(line)
        except json.JSONDecodeError:
            text = None
        if not isinstance(text, str):
            shown = _one_line(line.strip(), 60)
            raise _ScreenInputError(f"stdin:{number}: not a JSON string: {shown!r}")
        yield f"stdin:{number}", text


if __name__ == "__main__":
    main()
