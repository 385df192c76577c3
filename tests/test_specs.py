"""The `tool` decorator and `agent(...)`: what a definition means and how a bad one is refused.

A tool's arguments are validated by a pydantic model built from its type hints, its first
parameter receives the ToolContext when annotated so or named `ctx`, and its effect decides
crash recovery, so every inconsistent declaration must be refused with a message that names
the tool and the problem.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from controlroom import Effect, Message, ScriptView, ToolContext, ToolSpec, Turn, agent, tool
from controlroom.domain.models import Resource
from controlroom.domain.specs import DefinitionError


def _lookup(ctx: ToolContext) -> None:
    return None


def _undo(resource: Resource, ctx: ToolContext) -> None:
    return None


def _script(view: ScriptView) -> Turn:
    return Turn.final("done")


# -- arguments from type hints ----------------------------------------------------------------


def test_arguments_model_from_type_hints() -> None:
    @tool
    def transfer(ctx: ToolContext, account: str, cents: int, memo: str = "") -> str:
        """Move money."""
        return "ok"

    assert isinstance(transfer, ToolSpec)
    assert transfer.name == "transfer"
    assert transfer.takes_context
    assert transfer.argument_names == ("account", "cents", "memo")
    assert transfer.description == "Move money."
    assert transfer.effect is Effect.READ_ONLY

    parsed = transfer.args_model.model_validate({"account": "A-1", "cents": "250"})
    assert (parsed.account, parsed.cents, parsed.memo) == ("A-1", 250, "")  # type: ignore[attr-defined]

    schema = transfer.json_schema()
    assert set(schema["properties"]) == {"account", "cents", "memo"}
    assert set(schema["required"]) == {"account", "cents"}
    assert "ctx" not in schema["properties"]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"account": "A-1"}, "cents"),  # missing
        ({"account": "A-1", "cents": "lots"}, "cents"),  # wrong type
        ({"account": "A-1", "cents": 1, "extra": True}, "extra"),  # not a parameter
    ],
)
def test_arguments_model_rejects_bad_arguments(arguments: dict[str, Any], problem: str) -> None:
    @tool
    def transfer(ctx: ToolContext, account: str, cents: int) -> str:
        return "ok"

    with pytest.raises(ValidationError) as caught:
        transfer.args_model.model_validate(arguments)
    assert problem in str(caught.value)


def test_context_detected_by_annotation_under_another_name() -> None:
    @tool
    def probe(context: ToolContext, query: str) -> str:
        return query

    assert probe.takes_context
    assert probe.argument_names == ("query",)


def test_context_detected_by_name_without_annotation() -> None:
    @tool
    def probe(ctx, query: str) -> str:  # type: ignore[no-untyped-def]
        return query

    assert probe.takes_context
    assert probe.argument_names == ("query",)


def test_no_context_when_first_parameter_is_an_argument() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert not add.takes_context
    assert add.argument_names == ("a", "b")


def test_tool_without_parameters() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert not ping.takes_context
    assert ping.argument_names == ()
    ping.args_model.model_validate({})


def test_parameter_without_type_hint_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"tool mystery: parameter 'what' needs a type hint"):

        @tool
        def mystery(ctx: ToolContext, what) -> str:  # type: ignore[no-untyped-def]
            return "?"


def test_star_args_are_refused() -> None:
    with pytest.raises(DefinitionError, match=r"tool loose: \*args/\*\*kwargs cannot be validated"):

        @tool
        def loose(**kwargs: Any) -> str:
            return "?"


def test_decorator_with_options_and_explicit_name() -> None:
    @tool(name="send-it", effect="idempotent_by_key", timeout=2.5, attempts=4, description="d")
    async def send(ctx: ToolContext, to: str) -> str:
        return to

    assert send.name == "send-it"
    assert send.effect is Effect.IDEMPOTENT_BY_KEY
    assert send.timeout_s == 2.5
    assert send.attempts == 4
    assert send.description == "d"
    assert not send.reversible


# -- effects ------------------------------------------------------------------------------------


def test_effects_and_side_effects() -> None:
    assert not Effect.READ_ONLY.has_side_effects
    for effect in (Effect.IDEMPOTENT_BY_KEY, Effect.RECONCILABLE, Effect.UNSAFE):
        assert effect.has_side_effects


def test_reconcilable_with_lookup_and_reversible_with_compensation() -> None:
    @tool(effect="reconcilable", lookup=_lookup, compensate=_undo)
    def create(ctx: ToolContext, name: str) -> str:
        return name

    assert create.effect is Effect.RECONCILABLE
    assert create.lookup is _lookup
    assert create.reversible


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"effect": "reconcilable"}, "tool thing: a reconcilable tool needs lookup="),
        ({"effect": "sometimes"}, "tool thing: effect 'sometimes' is not one of read_only, "),
        ({"effect": "unsafe", "lookup": _lookup}, "lookup= only applies to reconcilable tools"),
        ({"compensate": _undo}, "tool thing: a read-only tool has nothing to compensate"),
        ({"attempts": 0}, "tool thing: attempts must be at least 1, got 0"),
        ({"attempts": -3}, "tool thing: attempts must be at least 1, got -3"),
        ({"timeout": 0}, "tool thing: timeout must be positive, got 0"),
        ({"timeout": -1.5}, "tool thing: timeout must be positive, got -1.5"),
        ({"name": "Bad Name"}, "tool name 'Bad Name' must match"),
    ],
)
def test_bad_tool_declarations_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as caught:

        @tool(**options)
        def thing(ctx: ToolContext, x: int) -> int:
            return x

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_effect_message_lists_every_allowed_effect() -> None:
    with pytest.raises(DefinitionError) as caught:
        tool(effect="idempotent")(fetch.fn)
    for effect in Effect:
        assert effect.value in str(caught.value)


# -- agents -------------------------------------------------------------------------------------


@tool
def fetch(item: str) -> str:
    return item


@tool
def store(ctx: ToolContext, item: str) -> str:
    return item


def test_agent_definition() -> None:
    spec = agent(
        name="clerk",
        role="files things",
        tools=[fetch, store],
        script=_script,
        budget_usd=2.0,
        max_steps=7,
        model_attempts=2,
    )
    assert spec.tools == (fetch, store)
    assert spec.tool("store") is store
    assert spec.tool("delete") is None
    assert (spec.max_steps, spec.model_attempts, spec.budget_usd) == (7, 2, 2.0)


def test_duplicate_tool_names_are_refused() -> None:
    @tool(name="fetch")
    def other_fetch(item: str) -> str:
        return item

    with pytest.raises(DefinitionError, match=r"agent clerk: tool 'fetch' is listed twice"):
        agent(name="clerk", tools=[fetch, other_fetch], script=_script)


def test_scripted_agent_without_script_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"agent clerk: model 'scripted' needs script="):
        agent(name="clerk", tools=[fetch])


def test_agent_tools_must_be_tools() -> None:
    def plain(item: str) -> str:
        return item

    with pytest.raises(DefinitionError, match=r"agent clerk: .* is not a @tool"):
        agent(name="clerk", tools=[plain], script=_script)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "Clerk!"}, "agent name 'Clerk!' must match"),
        ({"name": "clerk", "budget_usd": -1.0}, "agent clerk: budget_usd must not be negative"),
        ({"name": "clerk", "max_steps": 0}, "agent clerk: max_steps and model_attempts"),
        ({"name": "clerk", "model_attempts": 0}, "agent clerk: max_steps and model_attempts"),
    ],
)
def test_bad_agent_declarations_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        agent(script=_script, **options)
    assert message in str(caught.value)


# -- what a script sees -------------------------------------------------------------------------


def test_script_view_last_tool_result() -> None:
    opening = [Message(role="system", content="s"), Message(role="user", content="task")]
    assert ScriptView("a-1", "task", 1, opening).last_tool_result is None
    after_call = [
        *opening,
        Message(role="assistant", content=""),
        Message(role="tool", content="first", tool_call_id="s1c0"),
        Message(role="tool", content="second", tool_call_id="s1c1"),
    ]
    assert ScriptView("a-1", "task", 2, after_call).last_tool_result == "second"
    answered = [*after_call, Message(role="assistant", content="thinking")]
    assert ScriptView("a-1", "task", 3, answered).last_tool_result is None


def test_turn_helpers() -> None:
    call = Turn.call("fetch", text="looking", item="x")
    assert call.text == "looking"
    assert [(c.name, c.arguments) for c in call.tool_calls] == [("fetch", {"item": "x"})]
    assert Turn.final("bye").tool_calls == ()


def test_script_view_results_of_a_tool_in_order() -> None:
    messages = [
        Message(role="user", content="task"),
        Message(role="tool", content="sent", tool_call_id="s1c0", name="send"),
        Message(role="tool", content="page", tool_call_id="s1c1", name="read"),
        Message(role="tool", content="denied: outbound rule", tool_call_id="s2c0", name="send"),
    ]
    view = ScriptView("a-1", "task", 3, messages)
    assert view.results_of("send") == ["sent", "denied: outbound rule"]
    assert view.results_of("read") == ["page"]
    assert view.results_of("other") == []
