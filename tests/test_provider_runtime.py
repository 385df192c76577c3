"""The HTTP providers under the real Supervisor: an agent driven by a local OpenAI-style
server calls a tool and finishes, and a failing endpoint costs exactly the declared model
attempts, end to end (the runner does not retry on top of the provider)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from cr_support import Cli, Harness
from http_support import drop_proxies
from provider_support import (
    KEY,
    Reply,
    encode,
    endpoints,
    fault_server,
    lookup,
    openai_answer,
    providers,
)
from ui_support import main_screen, until

from controlroom.domain.models import AgentStatus
from controlroom.domain.specs import AgentSpec, agent
from controlroom.governance.policy_loader import PolicyError, load_policies
from controlroom.providers.base import Model
from controlroom.providers.registry import Providers
from controlroom.store.model_breakers import model_breakers
from controlroom.ui.app import make_app


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


async def _run(harness: Harness, spec: AgentSpec, built: Providers) -> None:
    def model_for(agent_spec: AgentSpec) -> Model:
        return built.model_for(
            agent_spec.model, script=agent_spec.script, attempts=agent_spec.model_attempts
        )

    supervisor = harness.supervisor([spec], model_for=model_for, exit_when_idle=True)
    await supervisor.start()
    try:
        async with asyncio.timeout(20):
            await supervisor.wait()
    finally:
        await supervisor.stop()
    assert supervisor.fatal_error is None, supervisor.fatal_error


async def test_an_agent_calls_a_tool_and_finishes_over_http(harness: Harness) -> None:
    call = Reply(
        200,
        encode(
            openai_answer(None, (("call_a", "lookup", '{"city": "Paris"}'),), finish="tool_calls")
        ),
    )
    final = Reply(200, encode(openai_answer("Sunny in Paris.")))
    spec = agent(name="weather", instructions="Be brief.", tools=[lookup], model="local:gpt-t")
    agent_id = await harness.submit("weather", "Weather in Paris?")
    async with (
        fault_server(call, final) as server,
        providers(endpoints(server.url), harness.clock) as built,
    ):
        await _run(harness, spec, built)
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED and record.result == "Sunny in Paris."
    first, second = (r.json() for r in server.received)
    assert first["messages"][0]["role"] == "system"
    assert "Be brief." in first["messages"][0]["content"]
    assert first["tools"][0]["function"]["name"] == "lookup"
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_a",
        "content": "sunny in Paris",
    }
    [recorded, _] = await harness.entries(agent_id, "model_turn")
    # Tokens are counted; the cost is unknown until a price table is wired in.
    assert recorded.event.model_dump()["usage"] == {
        "input_tokens": 120,
        "output_tokens": 30,
        "cached_input_tokens": 0,
        "cost_usd": None,
    }


async def test_a_failing_endpoint_costs_exactly_the_declared_attempts(harness: Harness) -> None:
    spec = agent(name="weather", tools=[lookup], model="local:gpt-t", model_attempts=3)
    agent_id = await harness.submit("weather", "Weather in Paris?")
    async with (
        fault_server(default=Reply(503, b"")) as server,
        providers(endpoints(server.url), harness.clock) as built,
    ):
        await _run(harness, spec, built)
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.FAILED
    assert len(server.received) == 3
    assert record.error is not None and "gave up after 3 attempts" in record.error
    assert record.error.startswith("model failed after 3 attempt(s): "), record.error
    assert len(await harness.entries(agent_id, "model_turn_failed")) == 1


async def test_an_endpoint_added_in_the_policy_files_serves_agents(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[endpoints.local]` in a policy file (API, base URL, the key's variable) is what a
    supervisor with no endpoints given serves `local:MODEL` agents from; a bad endpoint is
    a policy problem naming the file and field."""
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)
    spec = agent(name="weather", tools=[lookup], model="local:gpt-t")
    final = Reply(200, encode(openai_answer("Sunny.")))
    async with fault_server(final) as server:
        (tmp_path / "models.toml").write_text(
            f'[endpoints.local]\napi = "openai"\nbase_url = "{server.url}"\n'
            'key_env = "TEST_MODEL_KEY"\n'
        )
        policies = load_policies(tmp_path, {"weather": spec})
        agent_id = await harness.submit("weather", "Weather?")
        await harness.run_until_idle([spec], policies=policies, model_for=None)
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, "Sunny.")
    assert server.received[0].headers["authorization"] == f"Bearer {KEY}"

    (tmp_path / "models.toml").write_text(
        '[endpoints."a:b"]\napi = "openai"\nbase_url = "ftp://x"\nkey_env = "sk-123"\n'
    )
    with pytest.raises(PolicyError) as refused:
        load_policies(tmp_path, {"weather": spec})
    problems = "\n".join(refused.value.problems)
    assert "models.toml" in problems and "base_url" in problems and "key_env" in problems


async def test_an_open_model_breaker_is_shown_by_status_and_the_control_room(
    harness: Harness, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint failing until its breaker opens: while the supervisor runs, `status`
    (text and JSON) and an attached control room's strip say the breaker is open. A new
    supervisor's breakers start closed, and then nothing says otherwise."""
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)
    # `status` judges the lease by the wall clock: the supervisor's heartbeat must be now.
    harness.clock.advance(time.time() - harness.clock.now_ms() / 1000)
    spec = agent(name="weather", tools=[lookup], model="local:gpt-t", model_attempts=3)
    agent_id = await harness.submit("weather", "Weather in Oslo?")
    async with fault_server(default=Reply(503, b"")) as server:
        supervisor = harness.supervisor(
            [spec], model_for=None, endpoints=endpoints(server.url, threshold=2, cooldown_s=3600)
        )
        await supervisor.start()
        try:
            await harness.wait_status(agent_id, [AgentStatus.FAILED])
            for _ in range(500):  # the breaker's move is journaled aside
                if await model_breakers(harness.db):
                    break
                await asyncio.sleep(0.02)
            shown = cli("status", "--db", harness.db.path)
            assert shown.returncode == 0, shown.describe()
            assert "model breaker local: open (" in shown.stdout
            report = json.loads(cli("status", "--json", "--db", harness.db.path).stdout)
            assert report["model_breakers"]["local"]["state"] == "open"
            app = make_app(harness.db, clock=harness.clock, operator="ann")
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: app.ready)
                strip = main_screen(app).query_one("#alerts-strip")
                await until(pilot, lambda: "model breaker local open" in str(strip.render()))
        finally:
            await supervisor.stop()

    await harness.run_until_idle([spec])
    assert await model_breakers(harness.db) == {}
    report = json.loads(cli("status", "--json", "--db", harness.db.path).stdout)
    assert report["model_breakers"] == {}
