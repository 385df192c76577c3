"""Idempotency keys derived deterministically from what a call is, never from when it ran.

The same (agent, step, tool, arguments) always yields the same key, so a call re-sent after
a crash carries the key of the first attempt and a deduplicating receiver applies it once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
# builds, made once: building it on every call costs more than encoding a call's arguments.
# Without a circular-reference check (arguments come from JSON, which has no cycles; a
# cyclic value ends in RecursionError instead of ValueError).
_CANONICAL = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, True
)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: one text for one value."""
    return "".join(_CANONICAL(value, 0))


def effect_key(agent_id: str, step: int, tool: str, canonical_arguments: str) -> str:
    """The idempotency key of a tool call (128 bits, hex)."""
    material = f"{agent_id}\x1f{step}\x1f{tool}\x1f{canonical_arguments}".encode()
    return hashlib.sha256(material).hexdigest()[:32]
