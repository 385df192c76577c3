"""The per-endpoint circuit breaker: closed -> open -> half-open -> closed (or open again),
on its own and in front of a real failing server."""

from __future__ import annotations

import asyncio

import pytest
from http_support import drop_proxies
from provider_support import (
    HANG,
    RecordingClock,
    Reply,
    encode,
    endpoints,
    fault_server,
    openai_answer,
    providers,
    turn_request,
)

from controlroom.clock import FakeClock
from controlroom.providers.breaker import (
    BreakerChanged,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
)
from controlroom.providers.failures import Failure, ProviderError

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
OK = Reply(200, encode(openai_answer("fine")))
DOWN = Reply(503, b"")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


def _breaker(threshold: int = 3) -> tuple[CircuitBreaker, FakeClock, list[BreakerChanged]]:
    clock = FakeClock()
    changes: list[BreakerChanged] = []
    breaker = CircuitBreaker("ep", BreakerPolicy(threshold, 10.0), clock, changes.append)
    return breaker, clock, changes


def test_it_opens_after_consecutive_failures_only() -> None:
    breaker, _, changes = _breaker()
    for _ in range(2):
        breaker.admit()
        breaker.failed(False, "HTTP 503")
    breaker.admit()
    breaker.succeeded(False)  # any answer (a 401, a 429) resets the count
    for _ in range(2):
        breaker.admit()
        breaker.failed(False, "HTTP 503")
    assert breaker.state is CLOSED and changes == []
    breaker.admit()
    breaker.failed(False, "HTTP 500")
    assert breaker.state is OPEN
    [opened] = changes
    assert (opened.previous, opened.state, opened.consecutive_failures) == (CLOSED, OPEN, 3)
    assert opened.reason == "3 consecutive failures, the last: HTTP 500"
    with pytest.raises(CircuitOpen, match=r"next probe in 10\.0s"):
        breaker.admit()


def test_half_open_lets_one_probe_through() -> None:
    breaker, clock, changes = _breaker(threshold=1)
    breaker.admit()
    breaker.failed(False, "reset")
    clock.advance(9.9)
    with pytest.raises(CircuitOpen):
        breaker.admit()
    clock.advance(0.1)
    assert breaker.admit() is True  # the probe
    assert breaker.state is HALF_OPEN
    with pytest.raises(CircuitOpen, match="a probe request is in flight"):
        breaker.admit()
    breaker.abandoned(True)  # a cancelled probe frees the slot
    assert breaker.admit() is True
    breaker.failed(False, "late")  # a request admitted long ago does not decide
    assert breaker.state is HALF_OPEN
    breaker.succeeded(True)
    assert breaker.state is CLOSED and breaker.consecutive_failures == 0
    assert [(c.previous, c.state) for c in changes] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]
    assert changes[1].reason == "cool-down of 10s over" and changes[2].reason == "probe answered"


async def test_breaker_cycle_in_front_of_a_real_server() -> None:
    """closed -> open (the retry loop stops there) -> requests refused without reaching the
    server -> half-open probe succeeds -> closed -> open again -> probe fails -> open."""
    clock = RecordingClock()
    changes: list[BreakerChanged] = []
    async with fault_server(DOWN, DOWN, DOWN, OK, DOWN, DOWN, DOWN, DOWN) as server:
        settings = endpoints(server.url, threshold=3, cooldown_s=30.0)
        async with providers(settings, clock, on_breaker=changes.append) as built:
            model = built.model_for("local:m", attempts=5)

            async def turn() -> ProviderError | None:
                try:
                    await model.turn(turn_request())
                except ProviderError as exc:
                    return exc
                return None

            first = await turn()
            assert first is not None and first.failure is Failure.SERVER
            assert first.attempts == 3 and "circuit now open" in str(first)
            assert built.breaker_states() == {"local": OPEN}

            refused = await turn()
            assert refused is not None and refused.failure is Failure.CIRCUIT_OPEN
            assert refused.attempts == 0 and "no request sent" in str(refused)
            assert len(server.received) == 3

            clock.advance(30.0)
            assert await turn() is None  # the probe got an answer
            assert built.breaker_states() == {"local": CLOSED}

            again = await turn()
            assert again is not None and again.attempts == 3
            clock.advance(30.0)
            probe = await turn()
            assert probe is not None and probe.failure is Failure.SERVER
            assert probe.attempts == 1  # the probe failed: no second attempt
            assert built.breaker_states() == {"local": OPEN}
            assert len(server.received) == 8
    assert [(c.previous, c.state) for c in changes] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, OPEN),
    ]
    assert all(c.endpoint == "local" for c in changes)
    assert changes[-1].reason.startswith("probe failed: HTTP 503")


async def test_a_cancelled_probe_does_not_wedge_the_breaker() -> None:
    clock = RecordingClock()
    async with fault_server(DOWN, HANG, OK) as server:
        settings = endpoints(server.url, threshold=1, cooldown_s=5.0)
        async with providers(settings, clock) as built:
            model = built.model_for("local:m", attempts=1)
            with pytest.raises(ProviderError):
                await model.turn(turn_request())
            clock.advance(5.0)
            probe = asyncio.create_task(model.turn(turn_request()))
            await server.wait_for(2)
            with pytest.raises(ProviderError, match="a probe request is in flight"):
                await model.turn(turn_request())
            probe.cancel()
            with pytest.raises(asyncio.CancelledError):
                await probe
            turn = await model.turn(turn_request())
    assert turn.text == "fine"
    assert built.breaker_states() == {"local": CLOSED}
