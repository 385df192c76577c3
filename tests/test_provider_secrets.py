"""The API key stays out of everything the product writes: the supervisor's own providers
(read from the environment variable its endpoint names) meet a server that echoes the key in
its 401 error and a server that fails until the endpoint's breaker opens. The key is in
none of the journal, the log, `controlroom status --json`, `audit export` or an error; the
breaker's transitions are journaled."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from cr_support import Cli, Harness
from http_support import drop_proxies
from provider_support import KEY, Reply, endpoints, error_body, fault_server, lookup
from sqlalchemy import text

from controlroom.domain.models import AgentStatus
from controlroom.domain.specs import AgentSpec, agent


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


async def _run(harness: Harness, spec: AgentSpec, url: str, threshold: int = 1000) -> None:
    supervisor = harness.supervisor(
        [spec],
        model_for=None,
        endpoints=endpoints(url, threshold=threshold, cooldown_s=3600),
        exit_when_idle=True,
    )
    await supervisor.start()
    try:
        async with asyncio.timeout(30):
            await supervisor.wait()
    finally:
        await supervisor.stop()
    assert supervisor.fatal_error is None, supervisor.fatal_error


async def test_the_key_never_leaves_and_the_breaker_is_journaled(
    harness: Harness,
    cli: Cli,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    spec = agent(name="weather", tools=[lookup], model="local:gpt-t", model_attempts=3)
    echoed = Reply(401, error_body("invalid_request_error", f"Incorrect API key provided: {KEY}"))
    refused = await harness.submit("weather", "Weather in Paris?")
    async with fault_server(default=echoed) as server:
        await _run(harness, spec, server.url)
    assert len(server.received) == 1, "a 401 is never retried"
    assert server.received[0].headers["authorization"] == f"Bearer {KEY}"

    failing = await harness.submit("weather", "Weather in Oslo?")
    async with fault_server(default=Reply(503, b"")) as server:
        await _run(harness, spec, server.url, threshold=2)
    assert len(server.received) == 2, "the breaker opened after two failures"

    for agent_id in (refused, failing):
        record = await harness.record(agent_id)
        assert record.status is AgentStatus.FAILED and record.error is not None
        assert KEY not in record.error
    [opened] = [e.event for e in await harness.entries(kind="model_breaker_changed")]
    assert (opened.endpoint, opened.previous, opened.state) == ("local", "closed", "open")  # type: ignore[attr-defined]

    async with harness.db.read_engine.connect() as conn:
        journal = (await conn.execute(text("SELECT identity, data FROM events"))).all()
    assert journal and all(KEY not in f"{identity}{data}" for identity, data in journal)
    assert KEY not in caplog.text
    for command in (["status", "--json"], ["audit", "export", "--jsonl"]):
        shown = cli(*command, "--db", harness.db.path)
        assert shown.returncode == 0, shown.describe()
        assert KEY not in shown.stdout + shown.stderr
    statuses = json.loads(cli("status", "--json", "--db", harness.db.path).stdout)
    assert any("401" in json.dumps(agent_status) for agent_status in statuses["agents"])
