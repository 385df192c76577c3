"""Reading a provider's JSON answer without trusting it.

A response is data from outside: every field the providers use is checked for presence
and type here, and anything else raises `Malformed` with the path of the field, which
the endpoint turns into a failed turn. Nothing in a parser may raise anything else.
"""

from __future__ import annotations

import json
from typing import Any


class Malformed(Exception):
    """The answer does not have the published shape; the message names the field."""


def obj(value: Any, where: str) -> dict[str, Any]:
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise Malformed(f"{where} is {_kind(value)}, not an object")
    return value


def array(value: Any, where: str) -> list[Any]:
    """`value` as a JSON array."""
    if not isinstance(value, list):
        raise Malformed(f"{where} is {_kind(value)}, not an array")
    return value


def text(value: Any, where: str) -> str:
    """`value` as a string."""
    if not isinstance(value, str):
        raise Malformed(f"{where} is {_kind(value)}, not a string")
    return value


def optional_text(value: Any, where: str) -> str:
    """`value` as a string, "" for null or absent."""
    return "" if value is None else text(value, where)


def count(value: Any, where: str) -> int:
    """`value` as a token count (a non-negative integer), 0 for null or absent."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Malformed(f"{where} is {_kind(value)}, not a token count")
    return value


def arguments(value: Any, where: str) -> dict[str, Any]:
    """Tool-call arguments sent as a JSON string that must decode to an object."""
    raw = text(value, where)
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError):
        raise Malformed(f"{where} is not valid JSON ({len(raw)} characters)") from None
    return obj(decoded, where)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
