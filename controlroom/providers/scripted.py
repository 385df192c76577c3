"""The built-in, offline, deterministic model: each agent's `script` chooses its turns.

It drives the demo, the examples, the benchmark and the tests without network or keys.
Usage is estimated from text length (about four characters a token) so budgets and meters
have something real to show; a scripted turn costs nothing, unless the script gives its turn
a usage of its own (how the demo and the tests exercise budgets).
"""

from __future__ import annotations

from controlroom.domain.costs import CHARS_PER_TOKEN
from controlroom.domain.models import ToolCall, Turn, Usage
from controlroom.domain.specs import Script, ScriptView
from controlroom.providers.base import ModelError, TurnRequest


class ScriptedModel:
    """A `Model` backed by a script function."""

    def __init__(self, script: Script) -> None:
        self._script = script

    async def turn(self, request: TurnRequest) -> Turn:
        view = ScriptView(request.agent_id, request.task, request.step, request.messages)
        try:
            turn = self._script(view)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"script raised {type(exc).__name__}: {exc}", retryable=False) from exc
        if not isinstance(turn, Turn):
            raise ModelError(f"script returned {type(turn).__name__}, not a Turn", retryable=False)
        usage = _estimated_usage(request, turn) if turn.usage is _NO_USAGE else turn.usage
        calls = tuple(
            call
            if call.id
            else ToolCall(id=f"s{request.step}c{index}", name=call.name, arguments=call.arguments)
            for index, call in enumerate(turn.tool_calls)
        )
        return Turn(text=turn.text, tool_calls=calls, usage=usage)


# The default every Turn shares (pydantic does not copy an immutable default): a script that
# sets no usage leaves it, and an identity check costs nothing per turn.
_NO_USAGE: Usage = Turn.model_fields["usage"].default


def _estimated_usage(request: TurnRequest, turn: Turn) -> Usage:
    output_chars = len(turn.text) + sum(
        len(call.name) + len(str(call.arguments)) for call in turn.tool_calls
    )
    return Usage(
        input_tokens=request.context_chars // CHARS_PER_TOKEN,
        output_tokens=max(1, output_chars // CHARS_PER_TOKEN),
        cost_usd=0.0,
    )
