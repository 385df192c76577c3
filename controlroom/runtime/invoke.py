"""Calling tool functions, lookups and compensations, sync or async, under a timeout.

Synchronous functions run in a worker thread so a slow one cannot freeze every other agent
and its timeout still fires.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from pydantic_core import to_json


async def call_function(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await `fn(*args, **kwargs)`: directly if it is async, in a thread if not."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


# A result longer than this is cut, with a marker saying so: a tool that returns a whole
# file or page must not blow up the journal, the model's context, or the agent.
MAX_RESULT_CHARS = 100_000


def render_result(value: Any, limit: int = MAX_RESULT_CHARS) -> str:
    """A tool's return value as the text the model will read: JSON unless it is text,
    truncated to `limit` characters with a marker.

    Values JSON cannot express (dates, paths, sets) are rendered as their `str`.
    """
    text = value if isinstance(value, str) else to_json(value, fallback=str).decode()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[truncated by Control Room: {len(text) - limit} more characters]"
