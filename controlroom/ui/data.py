"""The control room's door to the store for what is not the journal feed (`bridge.py`): who
supervises the database, the commands operators give, and their outcomes.

Screens call these from workers; widgets never see the store. Operator actions are queued
as commands in the database (journaled by the supervisor that applies them), exactly as the
`controlroom` command queues them, so the screen changes only when the supervisor's result
comes back.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from controlroom.clock import Clock
from controlroom.domain.approvals import Verdict
from controlroom.store import queries
from controlroom.store.database import Database
from controlroom.store.inbox import enqueue_command, enqueue_decision
from controlroom.store.lease import owner_is_live, read_lease, wake_owner

Mode = Literal["hosting", "attached", "no supervisor"]
CommandName = Literal["pause", "resume", "terminate", "quarantine", "kill-switch"]


class Pokeable(Protocol):
    """A supervisor hosted in this process, as the UI sees it: something to wake."""

    def poke(self) -> None:
        """Read the inbox now rather than at the next poll."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What became of a queued command: applied, refused, or still waiting."""

    command_id: int
    state: str  # "applied", "refused", "pending" (nobody applied it in time)
    text: str


async def supervision(db: Database, clock: Clock, hosting: bool) -> tuple[Mode, str]:
    """Who supervises the database: this process, a live one elsewhere, or nobody."""
    if hosting:
        return "hosting", "this process"
    owner = await read_lease(db)
    if owner is not None and owner_is_live(owner, socket.gethostname(), clock.now_ms()):
        return "attached", owner.describe()
    return "no supervisor", "none running"


async def _wake(db: Database, clock: Clock, supervisor: Pokeable | None) -> None:
    if supervisor is not None:
        supervisor.poke()
    else:
        await wake_owner(db, socket.gethostname(), clock.now_ms())


async def queue_decision(
    db: Database,
    clock: Clock,
    supervisor: Pokeable | None,
    approval_id: int,
    verdict: Verdict,
    operator: str,
    note: str = "",
    arguments: dict[str, Any] | None = None,
) -> int:
    """Queue a decision as `controlroom approve/deny` does and wake whoever applies it;
    returns the command's id."""
    command_id = await enqueue_decision(
        db, approval_id, operator, clock.now_ms(), verdict, via="ui", note=note, arguments=arguments
    )
    await _wake(db, clock, supervisor)
    return command_id


async def queue_command(
    db: Database,
    clock: Clock,
    supervisor: Pokeable | None,
    command: CommandName,
    target: str,
    operator: str,
) -> int:
    """Queue an operator command as `controlroom pause/...` does (the supervisor journals it
    with the operator's name when it applies it); returns the command's id."""
    command_id = await enqueue_command(db, command, target, operator, clock.now_ms())
    await _wake(db, clock, supervisor)
    return command_id


async def outcome(
    db: Database, command_id: int, what: str, wait_s: float = 10.0, poll_s: float = 0.05
) -> Outcome:
    """Wait (up to about `wait_s`) for a queued command to be applied or refused."""
    # Counted polls, not the injected clock: a fake clock would never reach a deadline.
    for _ in range(max(1, round(wait_s / poll_s))):
        # Shielded: a read cancelled inside the driver can wedge its connection.
        state, text = await asyncio.shield(queries.command_outcome(db, command_id))
        if state in ("applied", "refused"):
            return Outcome(command_id, state, text or f"{what}: {state}")
        await asyncio.sleep(poll_s)
    return Outcome(command_id, "pending", f"{what} queued (command #{command_id}), not applied yet")
