"""The Anthropic Messages format: `POST {base_url}/v1/messages`.

It differs from our conversation in three ways, handled here: the system prompt is a
top-level field, not a message; a turn is a list of content blocks (text, `tool_use` with
an id and an input object); and tool results go back as `tool_result` blocks inside a
user message, all results of one assistant turn in the same message, since the API
wants roles to alternate. `max_tokens` is required by the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlroom.domain.models import Message, ToolCall
from controlroom.domain.specs import ToolSpec
from controlroom.providers import shape
from controlroom.providers.base import TurnRequest
from controlroom.providers.shape import Malformed
from controlroom.providers.wire import TRUNCATED_CALL, Dialect, Reply

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096


def headers(key: str) -> dict[str, str]:
    """The key and the API version every request must name."""
    pinned = {"anthropic-version": API_VERSION}
    return {"x-api-key": key, **pinned} if key else pinned


def body(model: str, request: TurnRequest, max_tokens: int | None) -> Mapping[str, Any]:
    """The request body for one turn."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:  # the API refuses empty text blocks and empty messages
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
        "messages": messages,
    }
    if system:
        payload["system"] = system
    if request.tools:
        payload["tools"] = [_tool(spec) for spec in request.tools]
    return payload


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks += [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        for call in message.tool_calls
    ]
    return blocks


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "input_schema": spec.json_schema()}


def parse(answer: Any) -> Reply:
    """A Messages answer as a `Reply`; raises `Malformed`. Block types we do not use
    (thinking, ...) are skipped."""
    data = shape.obj(answer, "answer")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for index, raw in enumerate(shape.array(data.get("content"), "content")):
        where = f"content[{index}]"
        block = shape.obj(raw, where)
        kind = block.get("type")
        if kind == "text":
            texts.append(shape.text(block.get("text"), f"{where}.text"))
        elif kind == "tool_use":
            calls.append(_call(block, where))
    stop_reason = shape.optional_text(data.get("stop_reason"), "stop_reason")
    if calls and stop_reason == "max_tokens":
        raise Malformed(TRUNCATED_CALL)
    usage = data.get("usage")
    if usage is None:
        return Reply("".join(texts), tuple(calls), 0, 0)
    usage = shape.obj(usage, "usage")
    cached = shape.count(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    written = shape.count(
        usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens"
    )
    return Reply(
        "".join(texts),
        tuple(calls),
        # Anthropic counts cache reads and writes apart from `input_tokens`; ours is the
        # whole prompt, as OpenAI's is. (Cache writes, billed higher, are not told apart.)
        input_tokens=shape.count(usage.get("input_tokens"), "usage.input_tokens")
        + cached
        + written,
        output_tokens=shape.count(usage.get("output_tokens"), "usage.output_tokens"),
        cached_input_tokens=cached,
    )


def _call(block: dict[str, Any], where: str) -> ToolCall:
    name = shape.text(block.get("name"), f"{where}.name")
    if not name:
        raise Malformed(f"{where}.name is empty")
    return ToolCall(
        id=shape.text(block.get("id"), f"{where}.id"),
        name=name,
        arguments=shape.obj(block.get("input"), f"{where}.input"),
    )


DIALECT = Dialect("v1/messages", headers, body, parse)
