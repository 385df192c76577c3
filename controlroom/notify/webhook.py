"""One POST of a JSON notification to a webhook (generic or Slack), and what its outcome
means for retrying.

An attempt never outlives its route's `timeout_s`: httpx bounds each phase (connect,
read, write, pool) and an overall deadline bounds the whole exchange, because a server
that trickles a byte every second never trips a read timeout. Transient failures
(connection errors, timeouts, 5xx, 429) are retryable; any other non-2xx answer is not.
Redirects are not followed: a webhook that moved is a configuration to fix, and a POST
replayed to wherever a 3xx points could leak the notification.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx

from controlroom.notify.outcome import AttemptFailed
from controlroom.notify.redact import excerpt
from controlroom.notify.render import one_line

RETRY_AFTER_CAP_S = 60.0
"""A server's `Retry-After` is honoured up to this many seconds."""

MAX_BODY = 64 * 1024
"""At most this much of a response is read (all of a short one, so its connection can be
reused; a longer one is dropped with its connection)."""

_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=5, keepalive_expiry=30.0)
_HEADERS = {"User-Agent": "controlroom-notify/1"}


def new_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The client every webhook post shares (its connection pool bounded)."""
    return httpx.AsyncClient(
        transport=transport, limits=_LIMITS, headers=_HEADERS, follow_redirects=False
    )


def retry_after(value: str | None) -> float | None:
    """A numeric `Retry-After` header in seconds, capped at `RETRY_AFTER_CAP_S`; None for
    an absent or non-numeric one (the HTTP-date form: our backoff decides instead)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CAP_S)


async def _read_bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= MAX_BODY:
                break
    except httpx.DecodingError:
        pass  # the status is what matters; a body we cannot decode only loses its excerpt
    return bytes(body)


def _describe(exc: Exception) -> str:
    text = one_line(str(exc), 120)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def post_once(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any], timeout_s: float
) -> str:
    """POST `payload` as JSON to `url` once; the server's answer (`HTTP 200`) on a 2xx.

    Raises AttemptFailed otherwise, saying whether a retry could help.
    """
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "POST", url, json=payload, timeout=httpx.Timeout(timeout_s)
            ) as response:
                body = await _read_bounded(response)
    except (TimeoutError, httpx.TimeoutException):
        raise AttemptFailed(f"timed out after {timeout_s:g}s", retryable=True) from None
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        raise AttemptFailed(f"connection failed ({_describe(exc)})", retryable=True) from None
    except httpx.InvalidURL:
        # Its message may quote the URL, which may be a secret.
        raise AttemptFailed("invalid URL", retryable=False) from None
    except httpx.TransportError as exc:
        # An unsupported scheme, a header httpx refuses to send: the route is wrong.
        raise AttemptFailed(f"cannot send ({_describe(exc)})", retryable=False) from None
    status = response.status_code
    if 200 <= status < 300:
        return f"HTTP {status}"
    shown = excerpt(body)
    what = f"HTTP {status} {shown}".rstrip()
    if status == 429 or status >= 500:
        wait = retry_after(response.headers.get("Retry-After"))
        raise AttemptFailed(what, retryable=True, retry_after=wait)
    if 300 <= status < 400:
        what += " (redirects are not followed)"
    raise AttemptFailed(what, retryable=False)
