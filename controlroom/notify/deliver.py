"""Delivering one notification over one route, with retries: the only entry point the
supervisor's outbox calls.

A delivery either returns `Delivered` or raises `DeliveryFailed` with one line saying
where and why (never a secret); the outbox journals either. Transient failures are
retried with jittered exponential backoff (or after the server's `Retry-After`), up to
the route's `attempts`; permanent ones are not retried. Every attempt is bounded by the
route's `timeout_s`, so one delivery takes at most about
`attempts * timeout_s` plus the waits between attempts.

One `Notifier` keeps one HTTP client, so webhook posts share a bounded connection pool;
sleeping and backoff are injected so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from types import TracebackType

import httpx

from controlroom.domain.approvals import Notification
from controlroom.governance.policy import NotificationRoute
from controlroom.notify import mail, webhook
from controlroom.notify.outcome import AttemptFailed, Delivered, DeliveryFailed
from controlroom.notify.redact import display_url
from controlroom.notify.render import email_message, generic_payload, slack_payload

__all__ = ["Delivered", "DeliveryFailed", "Notifier", "default_backoff"]

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


def default_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): full jitter over
    an exponential ceiling (0.5 s, 1 s, 2 s, ... capped at 30 s), so many notifiers
    failing at once do not retry in step."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return random.uniform(0.0, ceiling)


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


class Notifier:
    """Delivers notifications; one per process, closed with `aclose()` (or `async with`).

    `sleep` waits between attempts and `backoff(attempt)` says how long (default:
    `default_backoff`); `transport` replaces httpx's network transport (tests).
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Callable[[int], float] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sleep = sleep
        self._backoff = backoff or default_backoff
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    async def __aenter__(self) -> Notifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = webhook.new_client(self._transport)
        return self._client

    async def aclose(self) -> None:
        """Close the shared HTTP client; the Notifier delivers nothing afterwards."""
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def deliver(self, route: NotificationRoute, notification: Notification) -> Delivered:
        """Send `notification` over `route`, retrying transient failures.

        Returns how it was delivered; raises DeliveryFailed when it was not.
        """
        if self._closed:
            raise RuntimeError("this Notifier is closed")
        if route.channel == "log":
            return Delivered(attempts=1, detail="logged")
        if route.channel == "smtp":
            host = f"[{route.smtp_host}]" if ":" in route.smtp_host else route.smtp_host
            label = f"smtp://{host}:{route.smtp_port}"
            try:
                username, password = mail.credentials(route)
            except AttemptFailed as failure:
                raise DeliveryFailed(
                    f"{label}: {failure.what}", attempts=0, retryable=False
                ) from None
            message = email_message(notification, route.sender, route.to)
            return await self._retrying(
                route, label, lambda: mail.send_once(route, message, username, password)
            )
        payload = (
            slack_payload(notification)
            if route.channel == "slack"
            else generic_payload(notification)
        )
        client = self._http()
        return await self._retrying(
            route,
            display_url(route.target),
            lambda: webhook.post_once(client, route.target, payload, route.timeout_s),
        )

    async def _retrying(
        self, route: NotificationRoute, label: str, attempt: Callable[[], Awaitable[str]]
    ) -> Delivered:
        for number in range(1, route.attempts + 1):
            try:
                detail = await attempt()
            except AttemptFailed as failure:
                if not failure.retryable:
                    raise DeliveryFailed(
                        f"{label}: {failure.what}; permanent, not retried ({_attempts(number)})",
                        attempts=number,
                        retryable=False,
                    ) from None
                if number == route.attempts:
                    raise DeliveryFailed(
                        f"{label}: {failure.what}; gave up after {_attempts(number)}",
                        attempts=number,
                        retryable=True,
                    ) from None
                wait = failure.retry_after
                await self._sleep(self._backoff(number) if wait is None else wait)
            else:
                return Delivered(attempts=number, detail=detail)
        raise AssertionError("unreachable: route.attempts >= 1")  # pragma: no cover
