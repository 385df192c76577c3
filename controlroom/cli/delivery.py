"""How a command reaches the agents: queued in the database, then handed to the live
supervisor (if one runs) and waited for.

Shared by the operator commands (pause, budget, ...) and the approval decisions (approve,
deny, ...), which are delivered the same way.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import click

from controlroom.cli import base
from controlroom.store import queries
from controlroom.store.database import Database
from controlroom.store.lease import owner_is_live, read_lease, wake


async def handed_over(
    database: Database, command_id: int, what: str, wait_s: float
) -> tuple[str, bool]:
    """Wake the live owner, if any, and wait for it to apply the queued command.

    Returns the outcome to print and whether the command was refused.
    """
    host = socket.gethostname()
    owner = await read_lease(database)
    if owner is None or not owner_is_live(owner, host, base.CLOCK.now_ms()):
        return f"queued {what} (#{command_id}): applied when a supervisor starts", False
    wake(owner, host)
    deadline = base.CLOCK.monotonic() + wait_s
    while base.CLOCK.monotonic() < deadline:
        state, outcome = await queries.command_outcome(database, command_id)
        if state in ("applied", "refused"):
            return outcome or state, state == "refused"
        await asyncio.sleep(0.05)
    return f"queued {what} (#{command_id}); the supervisor has not applied it yet", False


def delivered(who: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
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
