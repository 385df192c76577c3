"""`controlroom approvals` and the decisions on them: approve, deny, respond, complete and
resolve. A decision is delivered through the database like an operator command, and the
supervisor applies (and checks) it.

`load_approvals` and `approvals_table` are also what `demo` shows of the approvals waiting.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from controlroom.cli import base
from controlroom.cli.delivery import delivered, handed_over
from controlroom.domain.approvals import Approval, ApprovalStatus, Verdict
from controlroom.errors import ControlRoomError
from controlroom.store import approvals as approval_rows
from controlroom.store.database import open_database
from controlroom.store.inbox import enqueue_decision


@base.main.command()
@base.common
@click.option("--all", "show_all", is_flag=True, help="Include decided, expired and cancelled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@base.fails_cleanly
def approvals(
    db: Path, agents_dir: Path, policies: Path | None, show_all: bool, as_json: bool
) -> None:
    """List the approvals waiting for a decision (in-doubt calls included)."""
    paths = base.checked_paths(db, agents_dir, policies)
    listed = base.run_coroutine(load_approvals(paths.db, show_all))
    if as_json:
        click.echo(json.dumps([a.model_dump(mode="json") for a in listed], indent=2))
        return
    click.echo(approvals_table(listed) if listed else "no approvals waiting")


async def load_approvals(db_path: Path, show_all: bool) -> list[Approval]:
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        statuses = () if show_all else (ApprovalStatus.PENDING,)
        return await approval_rows.listed(database, statuses)
    finally:
        await database.close()


def approvals_table(listed: list[Approval]) -> str:
    header = ("ID", "AGENT", "KIND", "TIER", "AMOUNT", "STATUS", "EXPIRES", "CALL")
    rows = [header] + [
        (
            str(a.id),
            a.agent_id,
            a.kind.value,
            a.tier,
            f"${a.amount:,.2f}" if a.amount is not None else "-",
            _approval_status(a),
            base.local_time(a.expires_ms) if a.expires_ms is not None else "-",
            base.one_line(f"{a.tool} {json.dumps(a.arguments, ensure_ascii=False)}", 70),
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

    @base.main.command(name=name, help=help_text)
    @base.common
    @click.argument("approval_id", metavar="ID", type=int)
    @click.option("--note", default="", help="Why: recorded with the decision.")
    @delivered("Approver name (default: OS user).")
    @base.fails_cleanly
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
        paths = base.checked_paths(db, agents_dir, policies)
        payload = _decision_payload(verdict, note, options)
        text, refused = base.run_coroutine(
            _deliver_decision(paths, approval_id, payload, operator or base.os_user(), wait_s)
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
    paths: base.Paths, approval_id: int, payload: dict[str, Any], operator: str, wait_s: float
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
            database, approval_id, operator, base.CLOCK.now_ms(), via="cli", **payload
        )
        what = f"{payload['verdict']} #{approval_id}"
        return await handed_over(database, command_id, what, wait_s)
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
