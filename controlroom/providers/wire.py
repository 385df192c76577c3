"""What the two HTTP dialects (`openai`, `anthropic`) have in common: the parsed answer
they hand back and the dialect's shape itself.

A dialect is pure: it turns a `TurnRequest` into a JSON body and headers, and a JSON
answer into a `Reply` (or raises `Malformed`). All I/O is `HttpModel`'s, so the formats
are tested without a network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controlroom.domain.models import ToolCall
from controlroom.providers.base import TurnRequest


@dataclass(frozen=True)
class Reply:
    """A parsed answer: what the model said and asked for, and its token counts.

    `input_tokens` is the whole prompt, cached parts included (as `Usage` counts it);
    `cached_input_tokens` were read from the provider's prompt cache.
    """

    text: str
    tool_calls: tuple[ToolCall, ...]
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0


@dataclass(frozen=True)
class Dialect:
    """One API's request and answer formats."""

    path: str
    headers: Callable[[str], dict[str, str]]
    body: Callable[[str, TurnRequest, int | None], Mapping[str, Any]]
    parse: Callable[[Any], Reply]


TRUNCATED_CALL = "the answer was cut at the token limit inside a tool call; raise max_tokens"
