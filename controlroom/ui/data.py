"""The control room's one door to the store: what the screens show and the commands they give.

Screens call these from workers; widgets never see the store. Reads go through the store's
query functions; operator actions are queued as commands in the database (journaled by the
supervisor that applies them), exactly as the `controlroom` command queues them, so the
screen changes only when the supervisor's result comes back.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Literal, Protocol

from controlroom.clock import Clock
from controlroom.domain.approvals import Approval, ApprovalStatus
from controlroom.domain.models import AgentRecord
from controlroom.store import approvals as approval_rows
from controlroom.store import queries
from controlroom.store.database import Database
from controlroom.store.inbox import enqueue_decision
from controlroom.store.lease import owner_is_live, read_lease, wake_owner

Mode = Literal["hosting", "attached", "no supervisor"]


class Pokeable(Protocol):
    """A supervisor hosted in this process, as the UI sees it: something to wake."""

    def poke(self) -> None:
        """Read the inbox now rather than at the next poll."""
        ...


@dataclass(frozen=True)
class Overview:
    """Everything the main screen shows, read at one moment."""

    agents: tuple[AgentRecord, ...]
    approvals: tuple[Approval, ...]
    mode: Mode
    owner: str  # who owns the database, for the title line


@dataclass(frozen=True)
class Outcome:
    """What became of a queued command: applied, refused, or still waiting."""

    command_id: int
    state: str  # "applied", "refused", "pending" (nobody applied it in time)
    text: str


async def overview(db: Database, clock: Clock, hosting: bool) -> Overview:
    """The agents, the approvals waiting, and who supervises the database."""
    agents = await queries.list_agents(db)
    waiting = await approval_rows.listed(db, [ApprovalStatus.PENDING])
    if hosting:
        return Overview(tuple(agents), tuple(waiting), "hosting", "this process")
    owner = await read_lease(db)
    if owner is not None and owner_is_live(owner, socket.gethostname(), clock.now_ms()):
        return Overview(tuple(agents), tuple(waiting), "attached", owner.describe())
    return Overview(tuple(agents), tuple(waiting), "no supervisor", "none running")


async def queue_decision(
    db: Database,
    clock: Clock,
    supervisor: Pokeable | None,
    approval_id: int,
    verdict: Literal["approve", "deny"],
    operator: str,
) -> int:
    """Queue a decision as `controlroom approve/deny` does and wake whoever applies it;
    returns the command's id."""
    now = clock.now_ms()
    command_id = await enqueue_decision(db, approval_id, operator, now, verdict, via="ui")
    if supervisor is not None:
        supervisor.poke()
    else:
        await wake_owner(db, socket.gethostname(), now)
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
