"""The journal's signed head, kept inside the database and in an anchor file beside it.

The hash chain alone proves the rows agree with each other, but anyone who can write the
file can recompute it, cut off its tail, or put back an older copy. So the supervisor signs
the chain head periodically with its audit key (Ed25519): the signature is journaled (a
`chain_head_signed` event) and the newest signed head is also written to `<db>.anchor`, a
small JSON file outside the database that can be copied to external records. A journal
rewritten after a signed head no longer matches the signature; a truncated journal or an
older copy ends before the anchor's head.

The private key lives in `<db>.key` (mode 0600); its public half is recorded in the
database's `meta` table the first time it is used, and verification trusts that record.
Someone who can read the key file can forge signatures: keeping the anchor's printed head
somewhere else is what protects against an attacker who owns the machine.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from controlroom.errors import ControlRoomError

_DOMAIN = "controlroom-journal-head"


class AnchorError(ControlRoomError):
    """The anchor or key file beside a database is unreadable or malformed."""


def key_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".key")


def anchor_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".anchor")


def head_message(head_id: int, head_hash: bytes, ts_ms: int) -> bytes:
    """The bytes a head signature covers: which row, its hash, and when it was signed."""
    return f"{_DOMAIN}\x1f{head_id}\x1f{head_hash.hex()}\x1f{ts_ms}".encode()


def encode_key(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def decode_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise AnchorError(f"not an Ed25519 public key: {text!r}") from exc


def sign_head(key: Ed25519PrivateKey, head_id: int, head_hash: bytes, ts_ms: int) -> str:
    """The base64 signature of a journal head."""
    return base64.b64encode(key.sign(head_message(head_id, head_hash, ts_ms))).decode()


def signature_holds(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create_key(db_path: Path) -> Ed25519PrivateKey:
    """The database's audit key, created (readable by its owner only) if there is none."""
    path = key_path(db_path)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return load_or_create_key(db_path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        return key
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise AnchorError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise AnchorError(f"{path}: not an Ed25519 key")
    return loaded


class Anchor(BaseModel):
    """The newest signed journal head, as written to `<db>.anchor`."""

    database: str
    head_id: int
    head_hash: str
    ts_ms: int
    public_key: str
    signature: str

    @classmethod
    def sign(
        cls, key: Ed25519PrivateKey, db_path: Path, head_id: int, head_hash: bytes, ts_ms: int
    ) -> Anchor:
        return cls(
            database=db_path.name,
            head_id=head_id,
            head_hash=head_hash.hex(),
            ts_ms=ts_ms,
            public_key=encode_key(key.public_key()),
            signature=sign_head(key, head_id, head_hash, ts_ms),
        )

    def holds_for(self, public_key: Ed25519PublicKey) -> bool:
        """Whether the signature is `public_key`'s over this head."""
        try:
            head_hash = bytes.fromhex(self.head_hash)
        except ValueError:
            return False
        return signature_holds(
            public_key, self.signature, head_message(self.head_id, head_hash, self.ts_ms)
        )


def write_anchor(db_path: Path, anchor: Anchor) -> None:
    """Replace the anchor file atomically (a crash leaves the old one or the new one)."""
    path = anchor_path(db_path)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(anchor.model_dump_json(indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_anchor(db_path: Path) -> Anchor | None:
    """The anchor beside `db_path`, or None if there is none."""
    path = anchor_path(db_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"{path}: unreadable ({exc})") from None
    try:
        data: Any = json.loads(text)
        return Anchor.model_validate(data)
    except (json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise AnchorError(f"{path}: not an anchor file ({first})") from None
