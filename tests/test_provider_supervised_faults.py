"""The supervisor under random model faults: 200 agents on one OpenAI-style endpoint whose
every answer is drawn from a seeded mix of good turns, 5xx, 529, 429, quota, 401, bad JSON,
wrong shapes, empty choices, resets and cut bodies. The supervisor never crashes, every
agent ends completed or failed with a reason, no turn costs more than its attempts, and
the key appears nowhere. The seed is printed; PROVIDER_FUZZ_SEED replays it."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter

import pytest
from cr_support import Harness
from http_support import drop_proxies
from provider_support import (
    CUT,
    KEY,
    QUOTA_429,
    RESET,
    Reply,
    Step,
    encode,
    endpoints,
    error_body,
    fault_server,
    openai_answer,
)
from sqlalchemy import text

from controlroom.domain.models import AgentStatus
from controlroom.domain.specs import agent

AGENTS = 200
ATTEMPTS = 3
GOOD = Reply(200, encode(openai_answer("done")))
FAULTS: tuple[Step, ...] = (
    Reply(500, b"{}"),
    Reply(503, b""),
    Reply(529, error_body("overloaded_error", "Overloaded")),
    Reply(429, error_body("rate_limit_exceeded", "slow down"), (("retry-after", "0"),)),
    QUOTA_429,
    Reply(401, error_body("invalid_request_error", f"Incorrect API key provided: {KEY}")),
    Reply(200, b'{"choices": [{"message": {"content": "trunc'),
    Reply(200, encode({"choices": "not a list"})),
    Reply(200, encode({"choices": []})),
    RESET,
    CUT,
)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


async def test_two_hundred_agents_under_random_faults_never_crash_the_supervisor(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int(os.environ.get("PROVIDER_FUZZ_SEED") or random.randrange(2**32))
    print(f"PROVIDER_FUZZ_SEED={seed}")
    rng = random.Random(seed)
    script = [GOOD if rng.random() < 0.4 else rng.choice(FAULTS) for _ in range(AGENTS * 4)]
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)
    spec = agent(name="asker", model="local:gpt-t", model_attempts=ATTEMPTS)
    for n in range(AGENTS):
        await harness.submit("asker", f"question {n}")
    async with fault_server(*script, default=GOOD) as server:
        supervisor = harness.supervisor(
            [spec], model_for=None, endpoints=endpoints(server.url), exit_when_idle=True
        )
        await supervisor.start()
        try:
            async with asyncio.timeout(120):
                await supervisor.wait()
        finally:
            await supervisor.stop()
    assert supervisor.fatal_error is None, f"seed {seed}: {supervisor.fatal_error}"
    records = [await harness.record(f"asker-{n}") for n in range(1, AGENTS + 1)]
    done = [r for r in records if r.status is AgentStatus.COMPLETED]
    failed = [r for r in records if r.status is AgentStatus.FAILED]
    assert len(done) + len(failed) == AGENTS, f"seed {seed}"
    assert done and failed, f"seed {seed}: both outcomes should occur"
    assert all(r.result == "done" for r in done), f"seed {seed}"
    assert all(r.error and KEY not in r.error for r in failed), f"seed {seed}"
    asked = Counter(
        next(m["content"] for m in r.json()["messages"] if m["role"] == "user")
        for r in server.received
    )
    assert max(asked.values()) <= ATTEMPTS, f"seed {seed}: a turn asked more than its cap"
    assert sum(asked.values()) > AGENTS, f"seed {seed}: faults were retried"
    async with harness.db.read_engine.connect() as conn:
        journal = (await conn.execute(text("SELECT data FROM events"))).scalars().all()
    assert all(KEY not in str(data) for data in journal), f"seed {seed}"
