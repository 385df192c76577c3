"""The signature on inbound webhook requests: Slack's signed-request scheme (`v0`).

The sender signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 under a shared secret and
sends `X-Signature: v0=<hex>` with `X-Request-Timestamp: <unix seconds>` (Slack's own
`X-Slack-Signature` / `X-Slack-Request-Timestamp` are accepted too, so a Slack app can
point here directly). The timestamp is signed, so a captured request is only good within
the tolerance window; inside it, replays are caught by remembering signatures (the app
does that, this module has no I/O).
"""

from __future__ import annotations

import hashlib
import hmac

VERSION = "v0"
SIGNATURE_HEADERS = ("X-Signature", "X-Slack-Signature")
TIMESTAMP_HEADERS = ("X-Request-Timestamp", "X-Slack-Request-Timestamp")
DEFAULT_TOLERANCE_S = 300

# Unix seconds fit in 11 digits until the year 5138; a longer "timestamp" is not one.
_MAX_TIMESTAMP_DIGITS = 12


class SignatureRefused(Exception):
    """A request whose signature does not hold; `reason` is one line, `stale` tells a
    correctly signed but too old (or too far future) request from a forged one."""

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `X-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    return _signature(secret, str(timestamp), body)


def verify(
    secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now_s: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> str:
    """Check a request's signature and freshness; returns the signature (the replay key).

    The signature is checked before the timestamp's age, so `stale` is only ever reported
    for requests the secret's holder really sent (clock skew or a late replay), never for
    forgeries. Raises `SignatureRefused`.
    """
    if not timestamp_header:
        raise SignatureRefused("missing request timestamp header")
    if not signature_header:
        raise SignatureRefused("missing signature header")
    stamp = timestamp_header.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS):
        raise SignatureRefused("request timestamp is not a number of unix seconds")
    given = signature_header.strip()
    version, separator, _digest = given.partition("=")
    if not separator or version != VERSION:
        raise SignatureRefused(f"unsupported signature version (expected {VERSION}=...)")
    # The base string is built from the header text as sent, which is what was signed.
    expected = _signature(secret, stamp, body)
    # Compared as bytes: compare_digest refuses non-ASCII str, and headers may carry any.
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise SignatureRefused("bad signature")
    skew = now_s - int(stamp)
    if abs(skew) > tolerance_s:
        when = "old" if skew > 0 else "in the future"
        raise SignatureRefused(
            f"stale timestamp: {abs(skew):.0f} s {when} (tolerance {tolerance_s} s)",
            stale=True,
        )
    return expected


def _signature(secret: bytes, stamp: str, body: bytes) -> str:
    base = f"{VERSION}:{stamp}:".encode() + body
    return f"{VERSION}={hmac.new(secret, base, hashlib.sha256).hexdigest()}"
