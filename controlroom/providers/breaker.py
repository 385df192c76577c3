"""A circuit breaker per model endpoint: stop calling an endpoint that keeps failing.

Closed, it lets every request through and counts consecutive failures; after `threshold`
of them it opens and refuses every request at once (no network), so a dead endpoint costs
agents nothing but a clear error. After `cooldown_s` the next request is let through as a
single probe (half-open): if it succeeds the breaker closes, if it fails it opens again.

Only failures that say the endpoint is unhealthy count: no connection, a timeout, a 5xx.
Any other HTTP answer, even a 401 or a 429, shows the endpoint is up and resets the count.
Results of requests admitted before the breaker opened are ignored once it is open: only
the probe decides.

Transitions are reported to a listener as `BreakerChanged` facts (the runtime journals
them, the UI shows them); the breaker itself keeps no history. The listener is called
synchronously and must not raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from controlroom.clock import Clock


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerChanged:
    """An endpoint's breaker moved from `previous` to `state`, at wall time `at_ms`."""

    endpoint: str
    previous: BreakerState
    state: BreakerState
    consecutive_failures: int
    reason: str
    at_ms: int


BreakerListener = Callable[[BreakerChanged], None]


class CircuitOpen(Exception):
    """The breaker refused a request; the message says why and until when."""


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker opens (`threshold` failures in a row) and how long it stays open."""

    threshold: int = 5
    cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.cooldown_s < 0:
            raise ValueError("a breaker needs threshold >= 1 and cooldown_s >= 0")


class CircuitBreaker:
    """One endpoint's breaker. Call `admit()` before each request, then exactly one of
    `succeeded`, `failed` or `abandoned` with what `admit` returned."""

    def __init__(
        self,
        endpoint: str,
        policy: BreakerPolicy,
        clock: Clock,
        listener: BreakerListener | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._policy = policy
        self._clock = clock
        self._listener = listener
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state as of the last request (an open breaker turns half-open when asked)."""
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def admit(self) -> bool:
        """Let a request through, or raise `CircuitOpen`.

        Returns True when this request is the half-open probe.
        """
        if self._state is BreakerState.OPEN:
            waited = self._clock.monotonic() - self._opened_at
            if waited < self._policy.cooldown_s:
                raise self._refusal(f"next probe in {self._policy.cooldown_s - waited:.1f}s")
            self._move(BreakerState.HALF_OPEN, f"cool-down of {self._policy.cooldown_s:g}s over")
        if self._state is BreakerState.HALF_OPEN:
            if self._probing:
                raise self._refusal("a probe request is in flight")
            self._probing = True
            return True
        return False

    def succeeded(self, probe: bool) -> None:
        """The endpoint answered."""
        if probe:
            self._probing = False
            self._failures = 0
            self._move(BreakerState.CLOSED, "probe answered")
        elif self._state is BreakerState.CLOSED:
            self._failures = 0

    def failed(self, probe: bool, why: str) -> None:
        """The endpoint did not answer usefully (no connection, a timeout, a 5xx)."""
        if probe:
            self._probing = False
            self._failures += 1
            self._open(f"probe failed: {why}")
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self._policy.threshold:
                self._open(f"{self._failures} consecutive failures, the last: {why}")

    def abandoned(self, probe: bool) -> None:
        """The request ended without a verdict (cancelled, or never sent)."""
        if probe:
            self._probing = False

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock.monotonic()
        self._move(BreakerState.OPEN, reason)

    def _refusal(self, detail: str) -> CircuitOpen:
        return CircuitOpen(f"circuit open after {self._failures} consecutive failures ({detail})")

    def _move(self, state: BreakerState, reason: str) -> None:
        previous, self._state = self._state, state
        if self._listener is not None and previous is not state:
            self._listener(
                BreakerChanged(
                    self.endpoint, previous, state, self._failures, reason, self._clock.now_ms()
                )
            )
