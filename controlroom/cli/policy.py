"""`controlroom policy check`: validate a policy directory against the agent definitions.

The loading itself (`checked_policies`) is in `base`: `run`, `ui` and `demo` load policies
the same way.
"""

from __future__ import annotations

from pathlib import Path

import click

from controlroom.cli import base
from controlroom.runtime.loader import load_agents


@base.main.group(cls=click.Group)
def policy() -> None:
    """Check policy files."""


@policy.command(name="check")
@base.common
@base.fails_cleanly
def policy_check(db: Path, agents_dir: Path, policies: Path | None) -> None:
    """Validate a policy directory against the agent definitions (exit 2 on problems)."""
    directory = policies or Path("policies")
    loaded = base.checked_policies(directory, load_agents(agents_dir))
    click.echo(
        f"{directory}: ok: {len(loaded.files)} file(s), policies for "
        f"{', '.join(sorted(loaded.agents)) or 'no agents'}"
    )
