"""Named crash points at every persistence boundary, for crash testing.

`CONTROLROOM_CRASH_AT=name` (or `name:N` for the N-th time the point is reached, or
`name@AGENT:N` for the N-th time an agent of definition AGENT reaches it) makes the
process SIGKILL itself there, so tests can stop a real process at an exact moment and prove
that relaunching on the same database loses nothing and repeats nothing.
"""

from __future__ import annotations

import os
import signal

POINTS: dict[str, str] = {
    "after-open": "database opened and lease taken, before recovery",
    "mid-recovery": "recovery has loaded some agents but not started them",
    "before-model-turn": "a model turn is about to be requested",
    "after-model-turn": "a model turn was received but not yet journaled",
    "in-transaction": "a group commit has written its rows but not committed",
    "after-commit": "a group commit is durable but waiting agents were not woken",
    "after-intent-commit": "a side-effecting call is journaled as started; the tool has not run",
    "after-tool-effect": "the tool ran (its effect happened); its result is not journaled",
    "after-step-commit": "a checkpoint after step 1 or later is durable; its agent has not gone on",
    "after-resource-created": "a tool registered a created resource",
    "mid-compensation": "a rollback ran one compensation and has not journaled it",
    "after-submit-pickup": "a queued task was picked up but not started",
    "after-team-commit": "a team's decision (members started, subtasks settled) is durable",
    "member-ended": "a team member's run ended (durably); its team has not been woken",
}

_target: str | None = None
_agent = ""
_remaining = 0


def _configure() -> None:
    global _target, _agent, _remaining
    spec = os.environ.get("CONTROLROOM_CRASH_AT", "")
    if not spec:
        _target = None
        return
    point, _, count = spec.partition(":")
    name, _, _agent = point.partition("@")
    if name not in POINTS:
        raise ValueError(f"CONTROLROOM_CRASH_AT names unknown crash point {name!r}")
    _target = name
    _remaining = int(count) if count else 1


def reached(name: str, agent: str = "") -> None:
    """Mark that execution reached crash point `name` (in an agent of definition `agent`);
    kill the process if it is the target."""
    global _remaining
    if _target != name or (_agent and _agent != agent):
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)


def reload() -> None:
    """Re-read the environment (for forked children in tests)."""
    _configure()


_configure()
