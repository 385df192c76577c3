"""Reloading the policy directory while the supervisor runs.

An operator edits a policy file; the supervisor notices (the files' sizes and modification
times changed), validates the whole directory again and, if it holds, enforces it from the
next call on. A directory with problems is never half-applied: the last good policies stay
enforced and the problems are journaled as an alert, so the screen says why the edit did
not take effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from controlroom.domain.events import Event, PolicyLoaded, PolicyRejected
from controlroom.domain.specs import AgentSpec
from controlroom.governance.gate import Gate
from controlroom.governance.policy_loader import PolicyError, load_policies

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(directory: Path) -> Fingerprint:
    """What changes when a policy file is added, removed or edited."""
    try:
        stats = [(path.name, path.stat()) for path in sorted(directory.glob("*.toml"))]
    except OSError:
        return ()
    return tuple((name, stat.st_mtime_ns, stat.st_size) for name, stat in stats)


class PolicyWatcher:
    """Reloads `directory` into `gate` when it changes; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        agents: Mapping[str, AgentSpec],
        gate: Gate,
        journal: Callable[[Event], Awaitable[None]],
    ) -> None:
        self._directory = directory
        self._agents = agents
        self._gate = gate
        self._journal = journal
        self._seen: Fingerprint | None = None

    async def start(self) -> None:
        """Remember the directory as it is now (its policies were loaded at start)."""
        self._seen = await asyncio.to_thread(fingerprint, self._directory)

    async def check(self) -> None:
        """Reload if anything changed since the last check."""
        now = await asyncio.to_thread(fingerprint, self._directory)
        if now == self._seen:
            return
        self._seen = now
        try:
            policies = await asyncio.to_thread(load_policies, self._directory, self._agents)
        except PolicyError as exc:
            log.warning(
                "policies in %s rejected; the last good ones stay: %s", self._directory, exc
            )
            await self._journal(
                PolicyRejected(directory=str(self._directory), problems=exc.problems)
            )
            return
        self._gate.replace_policies(policies)
        await self._journal(
            PolicyLoaded(directory=str(self._directory), files=[p.name for p in policies.files])
        )
