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


def render_result(value: Any) -> str:
    """A tool's return value as the text the model will read: JSON unless it is text.

    Values JSON cannot express (dates, paths, sets) are rendered as their `str`.
    """
    if isinstance(value, str):
        return value
    return to_json(value, fallback=str).decode()
