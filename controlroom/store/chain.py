"""The journal's hash chain: each row's hash covers the previous row's hash and its own
columns, so modifying, deleting, inserting or reordering a row breaks every hash after it.

The payload is hashed as stored (the JSON text the writer produced), so verification needs
no re-serialisation and cannot disagree with the writer about canonical form.
"""

from __future__ import annotations

import hashlib

GENESIS = bytes(32)


def row_hash(
    prev: bytes,
    event_id: int,
    ts_ms: int,
    agent_id: str,
    identity: str,
    kind: str,
    step: int,
    data: str,
) -> bytes:
    """The chained hash of one journal row."""
    fields = f"{event_id}\x1f{ts_ms}\x1f{agent_id}\x1f{identity}\x1f{kind}\x1f{step}\x1f{data}"
    return hashlib.sha256(prev + fields.encode()).digest()
