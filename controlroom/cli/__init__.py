"""The `controlroom` command.

Every subcommand takes `--db` (env `CONTROLROOM_DB`), `--agents` and `--policies`. Errors an
operator can act on are printed as one line, `error: ...`, with a non-zero exit; a traceback
means a bug. Commands that change agents are delivered through the database, so they work
whether or not a supervisor is running, and from any SSH session.

The group, its shared options and error handling are in `base`; each other module owns one
command or group of commands and registers it on `main` when imported, as this package does.
"""

from __future__ import annotations

# Imported for their commands: each module registers its own on `main`.
from controlroom.cli import (  # noqa: F401
    agents,
    approvals,
    audit,
    bench,
    control_room,
    costs,
    events,
    operator_commands,
    policy,
    run,
    screen,
    webhooks,
)
from controlroom.cli.base import main

__all__ = ["main"]
