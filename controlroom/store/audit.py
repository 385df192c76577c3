"""Verifying and exporting the journal: what `controlroom audit` reports.

Verification walks every row in id order inside one read transaction (a consistent snapshot
even while a supervisor writes), recomputing the hash chain from the first row; then it
checks every signed head journaled inside the database and the anchor file beside it (see
store/anchor.py). A modified, deleted, inserted or reordered row breaks the chain at the
first such row; a chain recomputed after tampering no longer matches the signed heads; a
truncated journal, or an older copy of the database, ends before the anchor's head.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from controlroom.domain.events import ChainHeadSigned
from controlroom.store.anchor import (
    Anchor,
    anchor_path,
    decode_key,
    head_message,
    read_anchor,
    signature_holds,
)
from controlroom.store.chain import GENESIS, row_hash
from controlroom.store.database import Database

AUDIT_KEY = "audit_public_key"
_PAGE = 2_000
_RECENT = 256  # rows whose hashes the walk remembers (see _walk_chain)
_COLUMNS = "id, ts_ms, agent_id, identity, kind, step, data, hash"


@dataclass(frozen=True)
class Problem:
    """One way the journal is not what was written; `row` is the first row concerned."""

    row: int | None
    what: str


@dataclass
class AuditReport:
    rows: int = 0
    head_id: int = 0
    head_hash: bytes = GENESIS
    signed_heads: int = 0
    last_signed: int = 0
    anchor: Anchor | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


async def _rows(conn: AsyncConnection) -> AsyncIterator[tuple[Any, ...]]:
    after = 0
    while True:
        page = (
            await conn.execute(
                text(f"SELECT {_COLUMNS} FROM events WHERE id > :after ORDER BY id LIMIT {_PAGE}"),
                {"after": after},
            )
        ).all()
        for row in page:
            yield tuple(row)
        if len(page) < _PAGE:
            return
        after = int(page[-1][0])


async def verify_journal(db: Database) -> AuditReport:
    """Check the chain, the signed heads and the anchor; see the module docstring."""
    report = AuditReport()
    async with db.read_engine.begin() as conn:
        signed = await _walk_chain(conn, report)
        key_text = await conn.scalar(
            text("SELECT value FROM meta WHERE key = :k"), {"k": AUDIT_KEY}
        )
        if report.intact:
            await _check_signed_heads(conn, report, signed, key_text)
            await _check_anchor(conn, report, db, key_text)
    return report


class _Signed(NamedTuple):
    """A signed-head row, with the hash its head row had when the walk passed it (None if it
    was too far back to remember; it is then looked up)."""

    event_id: int
    head: ChainHeadSigned
    head_hash: bytes | None


async def _walk_chain(conn: AsyncConnection, report: AuditReport) -> list[_Signed]:
    prev = GENESIS
    expected = 1
    signed: list[_Signed] = []
    # A head is signed moments before its signature is journaled: the last rows' hashes
    # spare a query per signed head (one every few seconds over months of journal).
    recent: dict[int, bytes] = {}
    async for event_id, ts_ms, agent_id, identity, kind, step, data, stored in _rows(conn):
        if event_id != expected:
            gap = (
                f"row {expected} is missing"
                if event_id == expected + 1
                else f"rows {expected}..{event_id - 1} are missing"
            )
            report.problems.append(
                Problem(expected, f"{gap}: row {event_id} follows row {expected - 1} (deleted)")
            )
            return signed
        digest = row_hash(prev, event_id, ts_ms, agent_id, identity, kind, step, data)
        if digest != bytes(stored):
            report.problems.append(
                Problem(
                    event_id,
                    f"row {event_id}: its hash does not match its contents and the row before it "
                    "(a row was modified, inserted or reordered here)",
                )
            )
            return signed
        if kind == ChainHeadSigned.kind:
            head = ChainHeadSigned.model_validate_json(data)
            signed.append(_Signed(event_id, head, recent.get(head.head_id)))
        recent[event_id] = digest
        recent.pop(event_id - _RECENT, None)
        prev = digest
        expected += 1
    report.rows = expected - 1
    report.head_id, report.head_hash = expected - 1, prev
    return signed


async def _hash_of(conn: AsyncConnection, event_id: int) -> bytes | None:
    value = await conn.scalar(text("SELECT hash FROM events WHERE id = :id"), {"id": event_id})
    return None if value is None else bytes(value)


async def _check_signed_heads(
    conn: AsyncConnection, report: AuditReport, signed: list[_Signed], key_text: str | None
) -> None:
    if signed and key_text is None:
        report.problems.append(
            Problem(
                signed[0].event_id, f"the journal has signed heads but meta.{AUDIT_KEY} is missing"
            )
        )
        return
    if key_text is None:
        return
    public_key = decode_key(key_text)
    for event_id, head, remembered in signed:
        stored = remembered
        if stored is None and 0 < head.head_id < event_id:
            stored = await _hash_of(conn, head.head_id)
        if stored is None or stored.hex() != head.head_hash:
            report.problems.append(
                Problem(
                    head.head_id,
                    f"row {event_id} signed row {head.head_id}, which no longer has the signed "
                    "hash (the journal was rewritten after it was signed)",
                )
            )
            return
        message = head_message(head.head_id, stored, head.signed_ms)
        if not signature_holds(public_key, head.signature, message):
            report.problems.append(
                Problem(event_id, f"row {event_id}: the head signature does not hold")
            )
            return
        report.signed_heads += 1
        report.last_signed = head.head_id


async def _check_anchor(
    conn: AsyncConnection, report: AuditReport, db: Database, key_text: str | None
) -> None:
    anchor = read_anchor(db.path)
    report.anchor = anchor
    where = anchor_path(db.path)
    if anchor is None:
        report.notes.append(
            f"no anchor file ({where.name}): a truncated journal or an older copy of the "
            "database would not be noticed"
        )
        return
    if key_text is None or anchor.public_key != key_text:
        report.problems.append(
            Problem(None, f"{where}: signed with a key that is not this database's audit key")
        )
        return
    if not anchor.holds_for(decode_key(key_text)):
        report.problems.append(Problem(None, f"{where}: its signature does not hold (edited)"))
        return
    if anchor.head_id > report.head_id:
        report.problems.append(
            Problem(
                report.head_id + 1,
                f"row {report.head_id + 1} and later are missing: the journal ends at row "
                f"{report.head_id} but {where.name} signed row {anchor.head_id} (its tail was "
                "truncated, or this is an older copy)",
            )
        )
        return
    if await _hash_of(conn, anchor.head_id) != bytes.fromhex(anchor.head_hash):
        report.problems.append(
            Problem(
                anchor.head_id,
                f"row {anchor.head_id} is not the row {where.name} signed: the journal was "
                "rewritten, or the anchor belongs to another database",
            )
        )
        return
    if report.head_id > anchor.head_id:
        report.notes.append(
            f"rows {anchor.head_id + 1}..{report.head_id} are newer than the anchor "
            "(signed at the next anchoring)"
        )


async def export_rows(db: Database) -> AsyncIterator[dict[str, Any]]:
    """Every journal row as a flat JSON-ready object, in order (for compliance exports)."""
    async with db.read_engine.begin() as conn:
        async for event_id, ts_ms, agent_id, identity, kind, step, data, stored in _rows(conn):
            yield {
                "id": event_id,
                "ts_ms": ts_ms,
                "agent_id": agent_id,
                "identity": identity,
                "kind": kind,
                "step": step,
                "data": json.loads(data),
                "hash": bytes(stored).hex(),
            }
