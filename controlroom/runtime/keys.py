"""Idempotency keys derived deterministically from what a call is, never from when it ran.

The same (agent, step, tool, arguments) always yields the same key, so a call re-sent after
a crash carries the key of the first attempt and a deduplicating receiver applies it once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: one text for one value."""
    return _CANONICAL.encode(value)


def effect_key(agent_id: str, step: int, tool: str, canonical_arguments: str) -> str:
    """The idempotency key of a tool call (128 bits, hex)."""
    material = f"{agent_id}\x1f{step}\x1f{tool}\x1f{canonical_arguments}".encode()
    return hashlib.sha256(material).hexdigest()[:32]
