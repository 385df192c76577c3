"""The supervisor's side of the audit anchor: sign the journal head now and then.

Each signing journals a `chain_head_signed` event (the signature of the newest durable
row), then writes the anchor file for the head that includes that event, so the file
covers everything up to its own signing. See store/anchor.py for what this protects.
"""

from __future__ import annotations

import asyncio
import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controlroom.clock import Clock
from controlroom.domain.events import ChainHeadSigned
from controlroom.store.anchor import (
    Anchor,
    AnchorError,
    encode_key,
    key_path,
    load_or_create_key,
    sign_head,
    write_anchor,
)
from controlroom.store.audit import AUDIT_KEY
from controlroom.store.database import Database
from controlroom.store.writer import JournalWriter, PendingEvent, Statement

log = logging.getLogger(__name__)

_RECORD_KEY = "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)"


class JournalSigner:
    """Signs the journal head for one supervisor (disabled, with a warning, if it cannot)."""

    def __init__(self, db: Database, writer: JournalWriter, clock: Clock, identity: str) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._identity = identity
        self._key: Ed25519PrivateKey | None = None
        self._key_recorded = False
        self._signed_id = 0

    async def prepare(self) -> None:
        """Load (or create) the audit key and check it is the one the database knows."""
        recorded = await self._db.scalar("SELECT value FROM meta WHERE key = ?", (AUDIT_KEY,))
        path = key_path(self._db.path)
        if recorded is not None and not await asyncio.to_thread(path.exists):
            log.warning("%s is missing: the journal will not be signed", path)
            return
        try:
            key = await asyncio.to_thread(load_or_create_key, self._db.path)
        except (AnchorError, OSError) as exc:
            log.warning("audit key unavailable, the journal will not be signed: %s", exc)
            return
        if recorded is not None and recorded != encode_key(key.public_key()):
            log.warning("%s is not this database's audit key: the journal will not be signed", path)
            return
        self._key = key
        self._key_recorded = recorded is not None

    async def sign(self) -> None:
        """Sign the newest durable row if it changed since the last signing."""
        key = self._key
        head_id, head_hash = self._writer.durable_head
        if key is None or head_id in (0, self._signed_id):
            return
        signed_ms = self._clock.now_ms()
        statements = []
        if not self._key_recorded:
            statements.append(Statement(_RECORD_KEY, (AUDIT_KEY, encode_key(key.public_key()))))
        event = ChainHeadSigned(
            head_id=head_id,
            head_hash=head_hash.hex(),
            signed_ms=signed_ms,
            signature=sign_head(key, head_id, head_hash, signed_ms),
        )
        await self._writer.commit(
            [PendingEvent("", self._identity, 0, event)], statements=statements
        )
        self._key_recorded = True
        anchored_id, anchored_hash = self._writer.durable_head
        anchor = Anchor.sign(key, self._db.path, anchored_id, anchored_hash, self._clock.now_ms())
        try:
            await asyncio.to_thread(write_anchor, self._db.path, anchor)
        except OSError as exc:
            log.warning("could not write the audit anchor file: %s", exc)
            return
        self._signed_id = anchored_id
