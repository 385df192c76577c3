"""Keeping a long conversation within the model's context: the request gets the opening
(system prompt and the task, the original intent and constraints, never dropped), a note
saying how much was left out, and the newest messages that fit; the journal and the
checkpoints keep every message. Deterministic, so a replayed step asks for the same turn.

A cut never falls between an assistant's tool calls and their results (providers refuse a
tool result whose call they were not shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controlroom.domain.models import Message


@dataclass(frozen=True)
class Compacted:
    """The messages to send, and how many of the stored ones were left out."""

    messages: list[Message]
    dropped: int


def size(messages: Sequence[Message]) -> int:
    """Characters a request of `messages` carries (content and tool-call arguments)."""
    return sum(
        len(m.content) + sum(len(str(c.arguments)) + len(c.name) for c in m.tool_calls)
        for m in messages
    )


def compact(messages: Sequence[Message], limit: int) -> Compacted:
    """`messages` within about `limit` characters: the opening kept, then the newest."""
    if size(messages) <= limit:
        return Compacted(list(messages), 0)
    opening = _opening(messages)
    rest = list(messages[opening:])
    budget = limit - size(messages[:opening]) - 200  # room for the note
    kept: list[Message] = []
    used = 0
    for message in reversed(rest):
        cost = size([message])
        if used + cost > budget and kept and kept[0].role != "tool":
            break
        kept.insert(0, message)
        used += cost
    while kept and kept[0].role == "tool":  # its call was cut: drop the orphaned results
        kept.pop(0)
    dropped = len(rest) - len(kept)
    note = Message(
        role="user",
        content=(
            f"[{dropped} earlier message(s) of this task were left out to fit the context;"
            " the task above is unchanged.]"
        ),
    )
    return Compacted([*messages[:opening], note, *kept], dropped)


def _opening(messages: Sequence[Message]) -> int:
    """How many leading messages are the opening: system prompts and the first user turn."""
    count = 0
    for message in messages:
        if message.role == "system":
            count += 1
            continue
        if message.role == "user":
            count += 1
        break
    return count
