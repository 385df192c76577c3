"""A conversation longer than the model's context keeps running: each request carries the
opening (the task, never dropped), a note of what was left out and the newest messages;
the compaction is journaled; the checkpoints keep every message."""

from __future__ import annotations

from cr_support import Harness

from controlroom import ScriptView, Turn, agent, tool
from controlroom.domain.models import AgentStatus, Message, ToolCall
from controlroom.domain.specs import AgentSpec
from controlroom.providers.base import Model, TurnRequest
from controlroom.providers.scripted import ScriptedModel
from controlroom.runtime.compaction import compact, size
from controlroom.store import queries

TASK = "Read all 40 pages of the incident log and summarise them. Never delete anything."


@tool
def read_page(page: int) -> str:
    """One page of a log (read-only)."""
    return f"page {page}: " + "x" * 300


def _reader(view: ScriptView) -> Turn:
    if view.step > 40:
        return Turn.final(f"read {len(view.results_of('read_page'))} pages in view")
    return Turn.call("read_page", page=view.step)


READER = agent(name="reader", tools=[read_page], script=_reader, context_limit=3_000)


class Recording:
    """The scripted model, keeping every request it was given."""

    def __init__(self) -> None:
        self.requests: list[list[Message]] = []  # a copy: the runtime's list grows on

    def __call__(self, spec: AgentSpec) -> Model:
        assert spec.script is not None
        inner = ScriptedModel(spec.script)
        recording = self

        class Model_:
            async def turn(self, request: TurnRequest) -> Turn:
                recording.requests.append(list(request.messages))
                return await inner.turn(request)

        return Model_()


async def test_a_long_conversation_is_compacted_and_keeps_running(harness: Harness) -> None:
    recording = Recording()
    agent_id = await harness.submit("reader", TASK)
    await harness.run_until_idle([READER], model_for=recording)
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED
    assert len(recording.requests) == 41
    for messages in recording.requests:
        assert next(m.content for m in messages if m.role == "user") == TASK
        assert size(messages) <= 3_000
    late = recording.requests[-1]
    assert any("earlier message(s) of this task were left out" in m.content for m in late)
    compacted = [e.event for e in await harness.entries(agent_id, "context_compacted")]
    assert compacted and all(c.dropped > 0 for c in compacted)  # type: ignore[attr-defined]
    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None
    pages = [m.content for m in stored.messages if m.role == "tool"]
    assert len(pages) == 40 and pages[0].startswith("page 1:"), "the checkpoints keep it all"


def test_compaction_keeps_the_opening_and_never_orphans_a_tool_result() -> None:
    opening = [Message(role="system", content="s"), Message(role="user", content=TASK)]
    history: list[Message] = []
    for n in range(30):
        call = ToolCall(id=f"c{n}", name="read_page", arguments={"page": n})
        history.append(Message(role="assistant", tool_calls=(call,)))
        history.append(Message(role="tool", content="y" * 200, tool_call_id=f"c{n}"))
    kept = compact([*opening, *history], 2_000)
    assert kept.messages[:2] == opening
    assert kept.messages[2].role == "user" and "left out" in kept.messages[2].content
    assert kept.messages[3].role == "assistant", "a result is never sent without its call"
    assert kept.dropped == len(history) - (len(kept.messages) - 3)
    assert size(kept.messages) <= 2_000
    assert compact(opening, 2_000).messages == opening and compact(opening, 2_000).dropped == 0
