"""User-facing errors: each carries one line an operator can act on.

The CLI prints `error: <message>` and exits non-zero for these; anything else is a bug.
"""

from __future__ import annotations


class ControlRoomError(Exception):
    """An error whose message is a complete, one-line explanation for the operator."""

    exit_code: int = 1


class DatabaseRefused(ControlRoomError):
    """The file given as a database is not one we may open or write."""


class LeaseHeld(ControlRoomError):
    """Another live supervisor owns the database."""


class AgentLoadError(ControlRoomError):
    """An agent definition file could not be loaded."""


class UnknownAgent(ControlRoomError):
    """A command named an agent that is not defined or not stored."""
