"""The two wire formats: what the providers send (checked on what a real local server
received) and how they read answers, including every way an answer can be malformed."""

from __future__ import annotations

import copy
import json
import os
import random
import re
from typing import Any

import pytest
from http_support import drop_proxies
from provider_support import (
    KEY,
    RecordingClock,
    Reply,
    anthropic_answer,
    encode,
    endpoints,
    fault_server,
    lookup,
    openai_answer,
    providers,
    turn_request,
)

from controlroom.domain.models import ToolCall, Turn, Usage
from controlroom.providers import anthropic, openai
from controlroom.providers.failures import Failure, ProviderError
from controlroom.providers.registry import (
    DEFAULT_ENDPOINTS,
    ModelRef,
    Providers,
    UnknownModel,
    parse_model,
)
from controlroom.providers.scripted import ScriptedModel
from controlroom.providers.shape import Malformed


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


LOOKUP_SCHEMA = lookup.json_schema()


# -- what is sent -----------------------------------------------------------------------------


async def test_openai_request_as_the_server_receives_it() -> None:
    """System prompt first, tool calls with JSON-string arguments, tool results naming
    their call, function tools with our schema, the key as a bearer token."""
    answer = openai_answer(None, (("call_9", "lookup", '{"city": "Oslo"}'),), finish="tool_calls")
    async with (
        fault_server(Reply(200, encode(answer))) as server,
        providers(endpoints(server.url), RecordingClock()) as built,
    ):
        turn = await built.model_for("local:gpt-test").turn(turn_request())
    [received] = server.received
    assert received.path == "/chat/completions"
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.json() == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "You are weather. Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking both.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"city": "Rome", "days": 2}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Paris"},
            {"role": "tool", "tool_call_id": "call_2", "content": "rain in Rome"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look up the weather of a city.",
                    "parameters": LOOKUP_SCHEMA,
                },
            }
        ],
    }
    assert LOOKUP_SCHEMA["required"] == ["city"]
    assert turn == Turn(
        tool_calls=(ToolCall(id="call_9", name="lookup", arguments={"city": "Oslo"}),),
        usage=Usage(input_tokens=120, output_tokens=30, cost_usd=None),
    )


async def test_anthropic_request_as_the_server_receives_it() -> None:
    """The system prompt is a top-level field; the assistant turn is text plus tool_use
    blocks; both tool results travel as tool_result blocks in ONE user message; tools
    carry `input_schema`; `max_tokens` is always sent; the key goes in `x-api-key`."""
    answer = anthropic_answer("Done: sunny and rain.", cache_read=40, cache_write=10)
    async with (
        fault_server(Reply(200, encode(answer))) as server,
        providers(endpoints(server.url, "anthropic"), RecordingClock()) as built,
    ):
        turn = await built.model_for("local:claude-test").turn(turn_request())
    [received] = server.received
    assert received.path == "/v1/messages"
    assert received.headers["x-api-key"] == KEY
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers
    assert received.json() == {
        "model": "claude-test",
        "max_tokens": anthropic.DEFAULT_MAX_TOKENS,
        "system": "You are weather. Be brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking both."},
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "lookup",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "call_2",
                        "name": "lookup",
                        "input": {"city": "Rome", "days": 2},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny in Paris"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "rain in Rome"},
                ],
            },
        ],
        "tools": [
            {
                "name": "lookup",
                "description": "Look up the weather of a city.",
                "input_schema": LOOKUP_SCHEMA,
            }
        ],
    }
    # Cache reads and writes are part of the prompt: 100 + 40 + 10.
    assert turn == Turn(
        text="Done: sunny and rain.",
        usage=Usage(input_tokens=150, output_tokens=25, cached_input_tokens=40, cost_usd=None),
    )


def test_a_keyless_local_endpoint_sends_no_credentials() -> None:
    assert openai.headers("") == {}
    assert anthropic.headers("") == {"anthropic-version": "2023-06-01"}


def test_an_assistant_turn_of_only_tool_calls_is_sent_with_null_content() -> None:
    request = turn_request()
    bare = request.messages[2].model_copy(update={"content": ""})
    body = openai.body("m", turn_request((*request.messages[:2], bare)), 256)
    assert body["messages"][2]["content"] is None
    assert body["max_tokens"] == 256
    blocks = anthropic.body("m", turn_request((*request.messages[:2], bare)), None)
    assert [b["type"] for b in blocks["messages"][1]["content"]] == ["tool_use", "tool_use"]


# -- what is read -----------------------------------------------------------------------------


def test_openai_answers_are_read() -> None:
    reply = openai.parse(
        openai_answer(
            "Let me look.",
            (("c1", "lookup", '{"city": "Paris"}'), ("c2", "lookup", "{}")),
            finish="tool_calls",
            cached=64,
        )
    )
    assert reply.text == "Let me look."
    assert reply.tool_calls == (
        ToolCall(id="c1", name="lookup", arguments={"city": "Paris"}),
        ToolCall(id="c2", name="lookup", arguments={}),
    )
    assert (reply.input_tokens, reply.output_tokens, reply.cached_input_tokens) == (120, 30, 64)
    without_usage = openai_answer("hi")
    del without_usage["usage"]
    assert openai.parse(without_usage).input_tokens == 0


def test_anthropic_answers_are_read_and_unknown_blocks_skipped() -> None:
    answer = anthropic_answer("Let me look.", (("toolu_1", "lookup", {"city": "Paris"}),))
    answer["content"].insert(0, {"type": "thinking", "thinking": "hmm", "signature": "x"})
    reply = anthropic.parse(answer)
    assert reply.text == "Let me look."
    assert reply.tool_calls == (ToolCall(id="toolu_1", name="lookup", arguments={"city": "Paris"}),)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"choices": []}, "choices is empty"),
        ({"object": "chat.completion"}, "choices is null, not an array"),
        ([1, 2], "answer is an array, not an object"),
        ({"choices": [{"message": "hi"}]}, "choices[0].message is a string, not an object"),
        (
            openai_answer(None, (("c1", "lookup", '{"city": "Par'),)),
            "message.tool_calls[0].function.arguments is not valid JSON",
        ),
        (openai_answer(None, (("c1", "lookup", "[1]"),)), "is an array, not an object"),
        (openai_answer(None, (("c1", "", "{}"),)), "function.name is empty"),
        (
            openai_answer(None, (("c1", "lookup", "{}"),), finish="length"),
            "cut at the token limit",
        ),
        ({**openai_answer("x"), "usage": {"prompt_tokens": "many"}}, "not a token count"),
    ],
)
def test_malformed_openai_answers(answer: Any, why: str) -> None:
    with pytest.raises(Malformed, match=re.escape(why)):
        openai.parse(answer)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"type": "message"}, "content is null, not an array"),
        ({"content": [{"type": "text", "text": 3}]}, "content[0].text is a number"),
        ({"content": [{"type": "tool_use", "id": "t", "name": "x", "input": "{}"}]}, "input"),
        ({"content": [{"type": "tool_use", "name": "x", "input": {}}]}, "content[0].id"),
        (
            {**anthropic_answer("", (("t", "lookup", {}),)), "stop_reason": "max_tokens"},
            "cut at the token limit",
        ),
        ({**anthropic_answer(), "usage": {"input_tokens": -1}}, "not a token count"),
    ],
)
def test_malformed_anthropic_answers(answer: Any, why: str) -> None:
    with pytest.raises(Malformed, match=re.escape(why)):
        anthropic.parse(answer)


def _mutations(value: Any, rng: random.Random) -> Any:
    """`value` with one node somewhere replaced by something of another type, or removed."""
    replacements: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], {}, [None], {"a": 1}]
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            del value[key]
        else:
            value[key] = _mutations(value[key], rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        value[index] = _mutations(value[index], rng)
        return value
    return rng.choice(replacements)


def test_mutated_answers_only_ever_raise_malformed() -> None:
    """Thousands of random corruptions of valid answers: each parses or raises Malformed,
    never anything else (a KeyError or TypeError here would crash a turn)."""
    seed = int(os.environ.get("PROVIDER_FUZZ_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    originals = [
        (openai.parse, openai_answer("t", (("c", "lookup", '{"city": "x"}'),), cached=3)),
        (anthropic.parse, anthropic_answer("t", (("c", "lookup", {"city": "x"}),), cache_read=2)),
    ]
    outcomes = {"parsed": 0, "malformed": 0}
    for _ in range(3000):
        parse, original = rng.choice(originals)
        mutated = _mutations(copy.deepcopy(original), rng)
        try:
            parse(mutated)
        except Malformed:
            outcomes["malformed"] += 1
        except Exception as exc:  # pragma: no cover - the failure being looked for
            pytest.fail(f"seed {seed}: {type(exc).__name__} on {json.dumps(mutated)}")
        else:
            outcomes["parsed"] += 1
    assert outcomes["malformed"] > 500 and outcomes["parsed"] > 100, (seed, outcomes)


# -- the registry -----------------------------------------------------------------------------


def test_model_strings() -> None:
    assert parse_model("scripted") == ModelRef("scripted", "")
    assert parse_model("openai:gpt-4o-mini") == ModelRef("openai", "gpt-4o-mini")
    assert parse_model("anthropic:claude-x") == ModelRef("anthropic", "claude-x")
    local = {**DEFAULT_ENDPOINTS, "ollama": DEFAULT_ENDPOINTS["openai"]}
    assert parse_model("ollama:llama3.1:8b", local) == ModelRef("ollama", "llama3.1:8b")
    for bad, why in [
        ("gpt-4o", "expected 'scripted' or 'ENDPOINT:MODEL'"),
        ("openai:", "expected"),
        ("mistral:large", "no endpoint named 'mistral' \\(endpoints: anthropic, openai\\)"),
    ]:
        with pytest.raises(UnknownModel, match=why):
            parse_model(bad)


async def test_defaults_and_shared_endpoints() -> None:
    async with Providers(environ={}) as built:
        assert built.settings["openai"].base_url == "https://api.openai.com/v1"
        assert built.settings["openai"].key_env == "OPENAI_API_KEY"
        assert built.settings["anthropic"].base_url == "https://api.anthropic.com"
        assert built.settings["anthropic"].key_env == "ANTHROPIC_API_KEY"
        first = built.model_for("openai:a", attempts=2)
        second = built.model_for("openai:b", attempts=5)
        assert first.endpoint is second.endpoint  # type: ignore[attr-defined]
        assert isinstance(built.model_for("scripted", script=lambda view: Turn()), ScriptedModel)
        with pytest.raises(UnknownModel, match="needs a script"):
            built.model_for("scripted")
    with pytest.raises(ValueError, match="cannot be told"):
        Providers({"scripted": DEFAULT_ENDPOINTS["openai"]})


async def test_a_missing_key_fails_before_any_request_and_names_the_variable() -> None:
    async with (
        fault_server() as server,
        providers(endpoints(server.url), RecordingClock(), environ={}) as built,
    ):
        with pytest.raises(ProviderError) as caught:
            await built.model_for("local:m").turn(turn_request())
    assert caught.value.failure is Failure.CONFIG
    assert not caught.value.retryable
    assert "TEST_MODEL_KEY is not set" in str(caught.value)
    assert server.received == []


async def test_openai_cached_tokens_reach_the_usage() -> None:
    """Cached prompt tokens are reported for the price table; the cost is left unknown."""
    answer = openai_answer("ok", cached=64)
    async with (
        fault_server(Reply(200, encode(answer))) as server,
        providers(endpoints(server.url), RecordingClock()) as built,
    ):
        turn = await built.model_for("local:gpt-test").turn(turn_request())
    assert turn.usage == Usage(
        input_tokens=120, output_tokens=30, cached_input_tokens=64, cost_usd=None
    )
