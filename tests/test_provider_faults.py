"""Every fault an endpoint can throw at a turn, on real sockets: what is retried (and how
long we wait), what is never retried, and that the caps hold."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from http_support import drop_proxies
from provider_support import (
    CUT,
    HANG,
    KEY,
    QUOTA_429,
    RESET,
    TRICKLE,
    RecordingClock,
    Reply,
    Step,
    anthropic_answer,
    dead_port,
    encode,
    endpoints,
    error_body,
    fault_server,
    openai_answer,
    providers,
    turn_request,
)

from controlroom.domain.models import Turn
from controlroom.providers.failures import Failure, ProviderError

OK = Reply(200, encode(openai_answer("fine")))


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


async def _turn(
    *script: Step,
    attempts: int = 3,
    clock: RecordingClock | None = None,
    api: Literal["openai", "anthropic"] = "openai",
    **settings: Any,
) -> tuple[Turn | ProviderError, int]:
    """One turn against a server playing `script` (then 500s): the turn or the error, and
    how many requests the server received."""
    async with fault_server(*script) as server:
        built = providers(endpoints(server.url, api, **settings), clock or RecordingClock())
        async with built:
            try:
                turn: Turn | ProviderError = await built.model_for(
                    "local:m", attempts=attempts
                ).turn(turn_request())
            except ProviderError as exc:
                turn = exc
    return turn, len(server.received)


def _failed(outcome: Turn | ProviderError, failure: Failure, attempts: int) -> ProviderError:
    assert isinstance(outcome, ProviderError), outcome
    assert outcome.failure is failure, outcome
    assert outcome.attempts == attempts, outcome
    assert not outcome.retryable  # the runner must never multiply our attempts
    assert KEY not in str(outcome)
    return outcome


# -- never retried --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (Reply(401, error_body("invalid_request_error", "bad key")), Failure.AUTH),
        (Reply(403, error_body("permission_error", "no access")), Failure.AUTH),
        (Reply(400, error_body("invalid_request_error", "bad tools")), Failure.REJECTED),
        (Reply(404, b'{"error": "model not found"}'), Failure.REJECTED),
        (Reply(307, b"", (("Location", "http://elsewhere/"),)), Failure.REJECTED),
        (QUOTA_429, Failure.QUOTA),
    ],
)
async def test_permanent_errors_are_never_retried(reply: Reply, failure: Failure) -> None:
    clock = RecordingClock()
    outcome, requests = await _turn(reply, OK, attempts=5, clock=clock)
    error = _failed(outcome, failure, 1)
    assert requests == 1 and clock.sleeps == []
    assert f"HTTP {reply.status}" in str(error) and "not retried" in str(error)
    assert not error.transient


async def test_quota_is_told_apart_from_a_rate_limit() -> None:
    outcome, _ = await _turn(QUOTA_429)
    assert "insufficient_quota: You exceeded your current quota" in str(outcome)


async def test_the_key_is_blanked_even_when_the_server_echoes_it() -> None:
    echo = Reply(401, error_body("invalid_request_error", f"Incorrect API key provided: {KEY}."))
    outcome, _ = await _turn(echo)
    error = _failed(outcome, Failure.AUTH, 1)
    assert "Incorrect API key provided: [redacted]." in str(error)
    assert KEY not in repr(error.args)


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply(200, b'{"choices": [{"message": {"content": "hal'), "answer is not JSON"),
        (Reply(200, b"<html>gateway</html>"), "answer is not JSON"),
        (Reply(200, encode({"id": "x", "object": "chat.completion"})), "choices is null"),
        (Reply(200, encode({**openai_answer(), "choices": []})), "choices is empty"),
        (Reply(200, b"[" * 100_000), "answer is not JSON"),
    ],
)
async def test_malformed_answers_fail_the_turn_without_a_retry(reply: Reply, why: str) -> None:
    outcome, requests = await _turn(reply, OK)
    error = _failed(outcome, Failure.MALFORMED, 1)
    assert why in str(error) and requests == 1


# -- retried, up to the cap -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (Reply(500, b"oops"), Failure.SERVER),
        (Reply(503, error_body("server_error", "unavailable")), Failure.SERVER),
        (Reply(529, error_body("overloaded_error", "Overloaded")), Failure.SERVER),
        (Reply(429, error_body("rate_limit_error", "slow down")), Failure.RATE_LIMITED),
        (Reply(408, b""), Failure.TIMEOUT),
        (RESET, Failure.TRANSPORT),
        (CUT, Failure.TRANSPORT),
    ],
)
async def test_transient_errors_are_retried_up_to_the_cap(reply: Step, failure: Failure) -> None:
    clock = RecordingClock()
    outcome, requests = await _turn(reply, reply, reply, reply, OK, attempts=4, clock=clock)
    error = _failed(outcome, failure, 4)
    assert requests == 4 and len(clock.sleeps) == 3
    assert "gave up after 4 attempts" in str(error) and error.transient


@pytest.mark.parametrize("reply", [Reply(529, b""), Reply(503, b""), RESET, CUT])
async def test_a_transient_error_then_an_answer_is_a_turn(reply: Step) -> None:
    outcome, requests = await _turn(reply, OK, attempts=2)
    assert isinstance(outcome, Turn) and outcome.text == "fine" and requests == 2


async def test_anthropic_overloaded_is_retried() -> None:
    overloaded = Reply(529, error_body("overloaded_error", "Overloaded"))
    answer = Reply(200, encode(anthropic_answer("calm again")))
    outcome, requests = await _turn(overloaded, overloaded, answer, api="anthropic")
    assert isinstance(outcome, Turn) and outcome.text == "calm again" and requests == 3


async def test_connection_refused_is_retried_up_to_the_cap() -> None:
    clock = RecordingClock()
    settings = endpoints(f"http://127.0.0.1:{dead_port()}")
    async with providers(settings, clock) as built:
        with pytest.raises(ProviderError) as caught:
            await built.model_for("local:m", attempts=3).turn(turn_request())
    error = _failed(caught.value, Failure.TRANSPORT, 3)
    assert "connection failed (ConnectError" in str(error) and len(clock.sleeps) == 2


async def test_a_read_timeout_is_retried() -> None:
    outcome, requests = await _turn(HANG, OK, read_s=0.2)
    assert isinstance(outcome, Turn) and requests == 2
    outcome, requests = await _turn(HANG, HANG, attempts=2, read_s=0.2)
    assert "no data received for 0.2s" in str(_failed(outcome, Failure.TIMEOUT, 2))


async def test_a_trickling_answer_is_cut_by_the_total_deadline() -> None:
    """A server that sends a byte every 20 ms never trips the read timeout."""
    outcome, _ = await _turn(TRICKLE, attempts=1, read_s=1.0, total_s=0.3)
    assert "no complete answer within 0.3s" in str(_failed(outcome, Failure.TIMEOUT, 1))


# -- how long we wait -------------------------------------------------------------------------


async def test_retry_after_seconds_is_honoured() -> None:
    clock = RecordingClock()
    wait = Reply(429, error_body("rate_limit_error", "slow"), (("Retry-After", "7"),))
    outcome, _ = await _turn(wait, wait, OK, clock=clock)
    assert isinstance(outcome, Turn)
    assert len(clock.sleeps) == 2
    assert all(7.0 <= s <= 7.7 for s in clock.sleeps), clock.sleeps


async def test_retry_after_as_an_http_date_is_honoured() -> None:
    clock = RecordingClock()
    when = datetime.fromtimestamp(clock.now_ms() / 1000 + 30, UTC)
    header = email.utils.format_datetime(when, usegmt=True)
    wait = Reply(503, b"", (("Retry-After", header),))
    outcome, _ = await _turn(wait, OK, clock=clock)
    assert isinstance(outcome, Turn)
    [slept] = clock.sleeps
    assert 30.0 <= slept <= 33.0


async def test_retry_after_ms_is_honoured() -> None:
    clock = RecordingClock()
    wait = Reply(429, b"", (("retry-after-ms", "1500"), ("Retry-After", "2")))
    await _turn(wait, OK, clock=clock)
    [slept] = clock.sleeps
    assert 1.5 <= slept <= 1.65


async def test_a_retry_after_beyond_the_limit_gives_up_at_once() -> None:
    clock = RecordingClock()
    wait = Reply(429, b"", (("Retry-After", "3600"),))
    outcome, requests = await _turn(wait, OK, clock=clock, max_retry_after_s=60.0)
    error = _failed(outcome, Failure.RATE_LIMITED, 1)
    assert "server asks to wait 3600s, more than the 60s limit" in str(error)
    assert requests == 1 and clock.sleeps == []


async def test_backoff_is_exponential_jittered_and_capped() -> None:
    clock = RecordingClock()
    reply = Reply(500, b"")
    await _turn(*[reply] * 7, attempts=7, clock=clock)
    # Base 0.5 s, cap 8 s: each wait lies in [ceiling/2, ceiling].
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(clock.sleeps) == len(ceilings)
    for slept, ceiling in zip(clock.sleeps, ceilings, strict=True):
        assert ceiling / 2 <= slept <= ceiling, clock.sleeps
    assert len(set(clock.sleeps)) == len(clock.sleeps)  # jittered, not in step
