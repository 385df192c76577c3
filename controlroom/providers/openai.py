"""The OpenAI chat-completions format, spoken by OpenAI and by most local servers (vLLM,
Ollama, llama.cpp): `POST {base_url}/chat/completions`.

Our conversation maps one to one: a tool call's arguments travel as a JSON string, a tool
result is a `tool` message naming the call it answers. Only the first choice is read. An
answer without choices, or with tool-call arguments that are not a JSON object, is
malformed: there is no turn to take from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from controlroom.domain.models import Message, ToolCall
from controlroom.domain.specs import ToolSpec
from controlroom.providers import shape
from controlroom.providers.base import TurnRequest
from controlroom.providers.shape import Malformed
from controlroom.providers.wire import TRUNCATED_CALL, Dialect, Reply


def headers(key: str) -> dict[str, str]:
    """A bearer token, when the endpoint wants one (local servers often do not)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def body(model: str, request: TurnRequest, max_tokens: int | None) -> Mapping[str, Any]:
    """The request body for one turn."""
    payload: dict[str, Any] = {
        "model": model,
        "messages": [_message(message) for message in request.messages],
    }
    if request.tools:
        payload["tools"] = [_tool(spec) for spec in request.tools]
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    return payload


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            # null, not "", when the model only called tools: some servers reject "".
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.json_schema(),
        },
    }


def parse(answer: Any) -> Reply:
    """A chat-completion answer as a `Reply`; raises `Malformed`."""
    data = shape.obj(answer, "answer")
    choices = shape.array(data.get("choices"), "choices")
    if not choices:
        raise Malformed("choices is empty")
    choice = shape.obj(choices[0], "choices[0]")
    message = shape.obj(choice.get("message"), "choices[0].message")
    text = shape.optional_text(message.get("content"), "message.content")
    if not text:  # a refusal is the model's answer too
        text = shape.optional_text(message.get("refusal"), "message.refusal")
    raw_calls = message.get("tool_calls")
    calls = tuple(
        _call(raw, f"message.tool_calls[{index}]")
        for index, raw in enumerate(
            [] if raw_calls is None else shape.array(raw_calls, "tool_calls")
        )
    )
    if calls and choice.get("finish_reason") == "length":
        raise Malformed(TRUNCATED_CALL)
    usage = data.get("usage")
    if usage is None:  # some compatible servers do not count
        return Reply(text, calls, 0, 0)
    usage = shape.obj(usage, "usage")
    details = usage.get("prompt_tokens_details")
    cached = (
        0 if details is None else shape.obj(details, "prompt_tokens_details").get("cached_tokens")
    )
    return Reply(
        text,
        calls,
        input_tokens=shape.count(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=shape.count(usage.get("completion_tokens"), "usage.completion_tokens"),
        cached_input_tokens=shape.count(cached, "cached_tokens"),
    )


def _call(raw: Any, where: str) -> ToolCall:
    call = shape.obj(raw, where)
    kind = call.get("type", "function")
    if kind != "function":
        raise Malformed(f"{where}.type is {kind!r}, not 'function'")
    function = shape.obj(call.get("function"), f"{where}.function")
    name = shape.text(function.get("name"), f"{where}.function.name")
    if not name:
        raise Malformed(f"{where}.function.name is empty")
    return ToolCall(
        # An empty id is given one by the runner.
        id=shape.optional_text(call.get("id"), f"{where}.id"),
        name=name,
        arguments=shape.arguments(function.get("arguments"), f"{where}.function.arguments"),
    )


DIALECT = Dialect("chat/completions", headers, body, parse)
