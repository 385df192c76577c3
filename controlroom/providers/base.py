"""The `Model` protocol: messages and tool schemas in, one turn out.

Providers raise `ModelError` for a failed turn; `retryable` says whether asking again may
help (a 503) or not (a 401), and the runtime's retry loop honours it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from controlroom.domain.models import Message, Turn
from controlroom.domain.specs import ToolSpec


class ModelError(Exception):
    """A model turn failed, after `attempts` requests to the model (a provider that retries
    on its own says how many it made; 0: none was sent)."""

    def __init__(self, message: str, *, retryable: bool = True, attempts: int = 1) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.attempts = attempts


@dataclass(frozen=True)
class TurnRequest:
    """Everything a provider needs for one turn."""

    agent_id: str
    task: str
    step: int
    messages: Sequence[Message]
    tools: Sequence[ToolSpec]
    context_chars: int


class Model(Protocol):
    """One async call per turn."""

    async def turn(self, request: TurnRequest) -> Turn:
        """Return the model's next turn or raise `ModelError`."""
        ...
