"""One model endpoint (a base URL): its shared HTTP client, its circuit breaker, and the
retry loop every request to it goes through.

Where retries live. The HTTP layer is the only place that retries a model call: it can
tell a connection reset from a 401, it sees `Retry-After`, and it knows when the breaker
has opened. It makes at most `attempts` requests per turn (the agent's `model_attempts`),
waiting a jittered exponential backoff between them, or what the server asked for in
`Retry-After` (plus at most 5%). The `ProviderError` it finally raises is never retryable
for the runner (its `failure` says whether the cause was transient), so the runner's own
retry loop, which exists for models that do not retry themselves, never multiplies the
attempts: a turn costs at most `attempts` requests end to end.

What is retried: connection errors, an answer cut mid-way, timeouts (connect, read, and a
deadline on the whole request, since a server trickling bytes never trips a read
timeout), 408, 429 and 5xx including Anthropic's 529 "overloaded". Never retried: other
4xx (400, 401, 403, ...), a 429 whose error code says the quota is exhausted, an answer
that is not JSON or not the published shape (the same request would get the same answer),
and a `Retry-After` longer than the policy will wait. Redirects are not followed: a POST
carrying an API key is not replayed to wherever a 3xx points.

Time is injected: backoff sleeps on the `Clock` and the breaker's cool-down reads its
monotonic time, so tests record the waits instead of waiting. The per-request deadlines
are real time, because they bound real I/O.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import httpx

from controlroom.clock import Clock
from controlroom.providers.breaker import BreakerState, CircuitBreaker, CircuitOpen
from controlroom.providers.failures import Failure, ProviderError
from controlroom.providers.shape import Malformed

T = TypeVar("T")

USER_AGENT = "controlroom/0.1"
RETRY_AFTER_JITTER = 0.05
"""A `Retry-After` wait is stretched by up to this fraction, so clients told the same
moment do not all come back in step."""
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Timeouts:
    """Seconds for each phase of one request, and for the whole of it (`total_s`)."""

    connect_s: float = 10.0
    # Generous: a non-streaming completion sends nothing until the whole answer is ready.
    read_s: float = 120.0
    write_s: float = 30.0
    pool_s: float = 10.0
    total_s: float = 300.0

    def for_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_s, read=self.read_s, write=self.write_s, pool=self.pool_s
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts (their number is the caller's)."""

    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0
    max_retry_after_s: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): half the exponential
        ceiling plus a random part of the other half. Unlike full jitter it never retries
        at once, which an overloaded endpoint would not thank us for."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * rng.random())


def retry_after_s(headers: httpx.Headers, now_ms: int) -> float | None:
    """How long the server asked us to wait, from `retry-after-ms` (OpenAI) or
    `Retry-After` (seconds or an HTTP-date); None when it did not say, or said nonsense."""
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_ms / 1000)


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _AttemptFailed(Exception):
    def __init__(
        self,
        failure: Failure,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


# What each failure says about the endpoint's health (see breaker.py); others: it answered.
_UNHEALTHY = frozenset({Failure.TRANSPORT, Failure.TIMEOUT, Failure.SERVER})
_QUOTA_CODES = frozenset({"insufficient_quota"})


class Endpoint:
    """A base URL with one pooled `httpx.AsyncClient` (created on first use), one breaker
    and one retry policy, shared by every model that calls it. Close with `aclose()`."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        breaker: CircuitBreaker,
        clock: Clock,
        rng: random.Random,
        timeouts: Timeouts,
        retry: RetryPolicy,
        limits: httpx.Limits,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.breaker = breaker
        self._clock = clock
        self._rng = rng
        self._timeouts = timeouts
        self._retry = retry
        self._limits = limits
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        try:
            host = httpx.URL(base_url).netloc.decode("ascii", "replace")
        except httpx.InvalidURL:
            host = "invalid URL"
        # The label errors start with: never the full URL, which may carry credentials.
        self.label = f"{name} ({host})"

    async def aclose(self) -> None:
        """Close the connection pool (a later request opens a new one)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str],
        attempts: int,
        secret: str,
        parse: Callable[[Any], T],
    ) -> T:
        """POST `body` as JSON to `path` and return `parse(answer)`, retrying as the module
        docstring says, in at most `attempts` requests.

        Raises `ProviderError` (never retryable); `secret` is blanked out of its message.
        """
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        for attempt in range(1, attempts + 1):
            try:
                probe = self.breaker.admit()
            except CircuitOpen as refusal:
                raise self._error(
                    Failure.CIRCUIT_OPEN, f"{refusal}; no request sent", attempt - 1, secret
                ) from None
            try:
                result = await self._once(path, body, headers, parse)
            except _AttemptFailed as failed:
                if failed.failure is Failure.CONFIG:
                    self.breaker.abandoned(probe)
                elif failed.failure in _UNHEALTHY:
                    self.breaker.failed(probe, failed.detail)
                else:
                    self.breaker.succeeded(probe)
                delay = self._retry_delay(failed, attempt, attempts)
                if isinstance(delay, str):
                    raise self._error(
                        failed.failure,
                        f"{failed.detail}; {delay}",
                        attempt,
                        secret,
                        failed.status,
                    ) from None
                await self._clock.sleep(delay)
            except BaseException:
                self.breaker.abandoned(probe)  # cancelled: the probe slot must not leak
                raise
            else:
                self.breaker.succeeded(probe)
                return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _retry_delay(self, failed: _AttemptFailed, attempt: int, attempts: int) -> float | str:
        """Seconds to wait before the next attempt, or why there is none."""
        if not failed.failure.transient:
            return f"permanent, not retried ({_attempts(attempt)})"
        if attempt >= attempts:
            return f"gave up after {_attempts(attempt)}"
        if self.breaker.state is BreakerState.OPEN:
            return f"circuit now open, gave up after {_attempts(attempt)}"
        wait = failed.retry_after
        if wait is None:
            return self._retry.backoff(attempt, self._rng)
        if wait > self._retry.max_retry_after_s:
            return (
                f"server asks to wait {wait:g}s, more than the"
                f" {self._retry.max_retry_after_s:g}s limit; gave up after {_attempts(attempt)}"
            )
        return wait * (1 + RETRY_AFTER_JITTER * self._rng.random())

    async def _once(
        self,
        path: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        parse: Callable[[Any], T],
    ) -> T:
        timeouts = self._timeouts
        try:
            async with asyncio.timeout(timeouts.total_s):
                response = await self._http().post(path, json=body, headers=headers)
        except TimeoutError:
            raise _AttemptFailed(
                Failure.TIMEOUT, f"no complete answer within {timeouts.total_s:g}s"
            ) from None
        except httpx.ConnectTimeout:
            raise _AttemptFailed(
                Failure.TIMEOUT, f"connect timed out after {timeouts.connect_s:g}s"
            ) from None
        except httpx.ReadTimeout:
            raise _AttemptFailed(
                Failure.TIMEOUT, f"no data received for {timeouts.read_s:g}s"
            ) from None
        except httpx.TimeoutException as exc:
            raise _AttemptFailed(Failure.TIMEOUT, f"timed out ({_describe(exc)})") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            raise _AttemptFailed(
                Failure.TRANSPORT, f"connection failed ({_describe(exc)})"
            ) from None
        except httpx.DecodingError as exc:
            raise _AttemptFailed(
                Failure.MALFORMED, f"answer cannot be decoded ({_describe(exc)})"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # An unsupported scheme, a header httpx refuses to send: the settings are wrong.
            raise _AttemptFailed(Failure.CONFIG, f"cannot send ({_describe(exc)})") from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                answer = response.json()
            except (ValueError, RecursionError):
                raise _AttemptFailed(
                    Failure.MALFORMED,
                    f"HTTP {status} answer is not JSON ({len(response.content)} bytes)",
                    status=status,
                ) from None
            try:
                return parse(answer)
            except Malformed as exc:
                raise _AttemptFailed(
                    Failure.MALFORMED, f"malformed answer: {exc}", status=status
                ) from None
        detail, codes = _refusal(response)
        if status == 429:
            failure = Failure.QUOTA if codes & _QUOTA_CODES else Failure.RATE_LIMITED
        elif status == 408:
            failure = Failure.TIMEOUT
        elif status >= 500:
            failure = Failure.SERVER
        elif status in (401, 403):
            failure = Failure.AUTH
        else:
            failure = Failure.REJECTED
            if 300 <= status < 400:
                detail += " (redirects are not followed)"
        raise _AttemptFailed(
            failure,
            detail,
            status=status,
            retry_after=retry_after_s(response.headers, self._clock.now_ms()),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self._timeouts.for_httpx(),
                limits=self._limits,
                transport=self._transport,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    def _error(
        self,
        failure: Failure,
        detail: str,
        attempts: int,
        secret: str,
        status: int | None = None,
    ) -> ProviderError:
        message = f"{self.label}: {detail}"
        if secret:
            message = message.replace(secret, "[redacted]")
        return ProviderError(failure, message, attempts=attempts, status=status)


def _refusal(response: httpx.Response) -> tuple[str, frozenset[str]]:
    """`HTTP 429 insufficient_quota: You exceeded...` and the error's type and code, from
    the OpenAI and Anthropic error shapes (`{"error": {"type", "code", "message"}}`), the
    bare `{"error": "..."}` of Ollama and llama.cpp, or the body's text."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    codes: set[str] = set()
    message = ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        codes = {value for key in ("type", "code") if isinstance(value := error.get(key), str)}
        message = str(error.get("message") or "")
    elif isinstance(error, str):
        message = error
    elif data is None:
        message = response.content.decode("utf-8", "replace")
    else:
        message = str(data)
    shown = " ".join(message.split())[:EXCERPT_CHARS]
    label = f"HTTP {response.status_code}"
    if codes:
        label += " " + "/".join(sorted(codes))
    return (f"{label}: {shown}" if shown else label), frozenset(codes)


def _describe(exc: BaseException) -> str:
    """`ReadError: [Errno 104] Connection reset by peer`: httpx often wraps the socket's
    error without a message of its own, so the first message down the chain is shown."""
    cause: BaseException | None = exc
    for _ in range(5):  # a chain can loop; the message is near the top when there is one
        if cause is None:
            break
        shown = " ".join(str(cause).split())[:EXCERPT_CHARS]
        if shown:
            return f"{type(exc).__name__}: {shown}"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"
