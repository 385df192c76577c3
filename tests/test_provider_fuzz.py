"""Hundreds of random fault sequences against a real local server, each checked against a
small model of what the provider must do: the right turn or the right failure, after the
right number of attempts (never more than the cap), with the right waits, no exception
other than `ProviderError`, and never the key in a message.

The seed is random and printed; set PROVIDER_FUZZ_SEED to replay a failure.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from http_support import drop_proxies
from provider_support import (
    CUT,
    HANG,
    KEY,
    QUOTA_429,
    REFUSED,
    RESET,
    FaultServer,
    RecordingClock,
    RefusingTransport,
    Reply,
    Step,
    anthropic_answer,
    encode,
    endpoints,
    error_body,
    fault_server,
    openai_answer,
    providers,
    turn_request,
)

from controlroom.providers.failures import Failure, ProviderError

SEQUENCES = 250
MAX_RETRY_AFTER_S = 4.0
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.5, 8.0  # as provider_support.endpoints sets them

Api = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class Fault:
    name: str
    failure: Failure | None  # None: the turn succeeds
    weight: int = 3
    retry_after: float | None = None


FAULTS = [
    Fault("ok", None, 6),
    Fault("refused", Failure.TRANSPORT),
    Fault("hang", Failure.TIMEOUT, 1),
    Fault("reset", Failure.TRANSPORT),
    Fault("cut", Failure.TRANSPORT),
    Fault("500", Failure.SERVER),
    Fault("503", Failure.SERVER),
    Fault("529", Failure.SERVER),
    Fault("408", Failure.TIMEOUT, 1),
    Fault("429", Failure.RATE_LIMITED),
    Fault("401", Failure.AUTH, 1),
    Fault("403", Failure.AUTH, 1),
    Fault("400", Failure.REJECTED, 1),
    Fault("quota", Failure.QUOTA, 1),
    Fault("not_json", Failure.MALFORMED, 1),
    Fault("wrong_shape", Failure.MALFORMED, 1),
    Fault("empty", Failure.MALFORMED, 1),
    Fault("bad_arguments", Failure.MALFORMED, 1),
]
_UNHEALTHY = {Failure.TRANSPORT, Failure.TIMEOUT, Failure.SERVER}


def _draw(rng: random.Random) -> Fault:
    fault = rng.choices(FAULTS, [f.weight for f in FAULTS])[0]
    if fault.name == "429" and rng.random() < 0.5:
        # Mostly within the limit, sometimes beyond it (then the provider gives up).
        seconds = rng.choice([0, 1, 2.5, 4, 6, 30])
        return Fault("429", Failure.RATE_LIMITED, retry_after=seconds)
    return fault


def _step(fault: Fault, api: Api) -> Step:
    openai = api == "openai"
    match fault.name:
        case "ok":
            return Reply(200, encode(openai_answer("ok") if openai else anthropic_answer("ok")))
        case "refused":
            return REFUSED
        case "hang":
            return HANG
        case "reset":
            return RESET
        case "cut":
            return CUT
        case "quota":
            return QUOTA_429
        case "401":
            # Servers sometimes quote the key back: it must not reach our messages.
            return Reply(401, error_body("authentication_error", f"invalid x-api-key {KEY}"))
        case "not_json":
            return Reply(200, b'{"id": "x", "choices": [{"mess')
        case "wrong_shape":
            return Reply(200, encode({"id": "x", "content": "hello", "choices": {}}))
        case "empty":
            empty = {**openai_answer(), "choices": []} if openai else {"content": None}
            return Reply(200, encode(empty))
        case "bad_arguments":
            bad = (
                openai_answer(None, (("c1", "lookup", '{"city": "Pa'),))
                if openai
                else anthropic_answer("", (("t1", "lookup", "Paris"),))  # type: ignore[arg-type]
            )
            return Reply(200, encode(bad))
    headers = () if fault.retry_after is None else (("Retry-After", f"{fault.retry_after:g}"),)
    return Reply(int(fault.name), error_body("error", f"status {fault.name}"), headers)


@dataclass(frozen=True)
class Expected:
    failure: Failure | None
    attempts: int
    requests: int  # attempts that reached the server (a refused one does not)


def _expect(faults: list[Fault], cap: int, threshold: int) -> Expected:
    """What the provider must do with these faults, in this order (see endpoint.py)."""
    consecutive = 0
    for attempt, fault in enumerate(faults[:cap], start=1):
        reached = attempt - sum(f.name == "refused" for f in faults[:attempt])
        failure = fault.failure
        if failure is None:
            return Expected(None, attempt, reached)
        consecutive = consecutive + 1 if failure in _UNHEALTHY else 0
        if (
            not failure.transient
            or attempt == cap
            or consecutive >= threshold
            or (fault.retry_after or 0) > MAX_RETRY_AFTER_S
        ):
            return Expected(failure, attempt, reached)
    raise AssertionError("a sequence is as long as its cap")


def _check_waits(faults: list[Fault], sleeps: list[float], context: str) -> None:
    for attempt, (fault, slept) in enumerate(zip(faults, sleeps, strict=False), start=1):
        if fault.retry_after is not None:
            assert fault.retry_after <= slept <= fault.retry_after * 1.1 + 1e-9, context
        else:
            ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            assert ceiling / 2 <= slept <= ceiling, context


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


async def _run(server: FaultServer, api: Api, cap: int, threshold: int, seed: int) -> Any:
    clock = RecordingClock()
    settings = endpoints(
        server.url,
        api,
        read_s=0.15,
        threshold=threshold,
        max_retry_after_s=MAX_RETRY_AFTER_S,
    )
    built = providers(settings, clock, seed=seed, transport=RefusingTransport(server))
    async with built:
        try:
            outcome: Any = await built.model_for("local:m", attempts=cap).turn(turn_request())
        except ProviderError as exc:
            outcome = exc
    return outcome, clock.sleeps


async def test_random_fault_sequences() -> None:
    seed = int(os.environ.get("PROVIDER_FUZZ_SEED") or random.randrange(2**32))
    print(f"PROVIDER_FUZZ_SEED={seed}")
    rng = random.Random(seed)
    seen: dict[Failure | None, int] = {}
    async with fault_server() as server:
        for index in range(SEQUENCES):
            api: Api = rng.choice(["openai", "anthropic"])
            cap = rng.randint(1, 5)
            threshold = rng.randint(2, 6)
            faults = [_draw(rng) for _ in range(cap)]
            server.script = [_step(f, api) for f in faults]
            server.received.clear()
            context = (
                f"PROVIDER_FUZZ_SEED={seed} sequence {index}: {api} cap={cap}"
                f" threshold={threshold} faults={[(f.name, f.retry_after) for f in faults]}"
            )
            try:
                outcome, sleeps = await _run(server, api, cap, threshold, rng.randrange(2**32))
            except Exception as exc:  # pragma: no cover - the failure being looked for
                pytest.fail(f"{context}: unhandled {type(exc).__name__}: {exc}")
            expected = _expect(faults, cap, threshold)
            context += f" expected={expected} got={outcome!r}"
            assert len(server.received) == expected.requests, context
            assert len(sleeps) == expected.attempts - 1, context
            _check_waits(faults, sleeps, context)
            if expected.failure is None:
                assert not isinstance(outcome, ProviderError), context
                assert outcome.text == "ok", context
            else:
                assert isinstance(outcome, ProviderError), context
                assert outcome.failure is expected.failure, context
                assert outcome.attempts == expected.attempts <= cap, context
                assert not outcome.retryable, context
                assert KEY not in str(outcome), context
            seen[expected.failure] = seen.get(expected.failure, 0) + 1
    # The draw must have covered the ground, or the test proves little.
    assert set(seen) == {None, *(f.failure for f in FAULTS)}, (seed, seen)
