"""The conversation, model turns and agent state that the runtime checkpoints.

These are the shapes that cross layers: the provider returns a `Turn`, the runtime keeps
`Message`s, the store persists `AgentState`. They are frozen where mutation would be a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Usage(BaseModel):
    """Tokens a model turn consumed; `cost_usd` is None when unknown."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0  # all the prompt's tokens, cached ones included
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    cached_input_tokens: int = 0  # of input_tokens, those served from the provider's cache


class ToolCall(BaseModel):
    """A tool call the model asked for. Asking is not doing: the gate decides."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Turn(BaseModel):
    """One model response: text and/or tool calls, with usage."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()

    @classmethod
    def call(cls, name: str, /, *, text: str = "", **arguments: Any) -> Turn:
        """A turn with a single tool call (its id is filled in by the runtime)."""
        return cls(text=text, tool_calls=(ToolCall(id="", name=name, arguments=arguments),))

    @classmethod
    def final(cls, text: str) -> Turn:
        """A turn that answers without calling tools: the agent is done."""
        return cls(text=text)


class Message(BaseModel):
    """One entry of an agent's conversation, in provider-neutral form."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


class AgentStatus(StrEnum):
    """Where an agent is in its life. Terminal states never change again."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    # Waiting for decisions (no task, nothing in memory): on an approval, or escalated to a
    # human who may also take the task over.
    AWAITING_APPROVAL = "awaiting_approval"
    ESCALATED = "escalated"
    # A team waiting on its sub-agents (no task, nothing in memory): woken as each settles.
    WAITING = "waiting"
    IN_DOUBT = "in_doubt"
    # Finished, but its result is held for an operator's review (not terminal: the
    # operator releases it or terminates the agent).
    QUARANTINED = "quarantined"
    COMPLETED = "completed"
    FAILED = "failed"
    TERMINATED = "terminated"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({AgentStatus.COMPLETED, AgentStatus.FAILED, AgentStatus.TERMINATED})


@dataclass(slots=True)
class AgentState:
    """The small part of an agent's checkpoint (the messages are stored as per-step deltas).

    Keeping this small and separate is what keeps checkpoints linear: each step writes this
    plus only the messages that step added. A plain dataclass rather than a model because the
    runtime updates it several times a step; pydantic still defines its JSON form.
    """

    agent_id: str
    agent: str
    intent: str
    user: str = ""
    step: int = 0
    status: AgentStatus = AgentStatus.RUNNING
    plan: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unknown_cost_turns: int = 0
    context_chars: int = 0
    message_count: int = 0
    result: str | None = None
    error: str | None = None
    # Where untrusted content first reached this agent's context ("web_fetch at step 3"), or
    # None: a tainted agent's side-effecting calls need approval, whatever a detector says.
    tainted_by: str | None = None
    # Signatures of the most recent calls, for loop detection (governance/loops.py).
    recent_calls: str = ""
    # Breaker counters: calls that failed for good, and calls refused by a rate limit, in a row.
    consecutive_failures: int = 0
    rate_breaches: int = 0
    # Why the agent's outputs are held for review, once it is quarantined.
    quarantined: str | None = None

    def to_json(self) -> str:
        """Fields at their default are left out: most are, and this is written every step."""
        return _AGENT_STATE.serializer.to_json(self, exclude_defaults=True).decode()

    @staticmethod
    def from_json(text: str) -> AgentState:
        """Rebuild a state from `to_json`'s output (raises pydantic's ValidationError)."""
        return _AGENT_STATE.validate_json(text)


_AGENT_STATE: TypeAdapter[AgentState] = TypeAdapter(AgentState)


class AgentRecord(BaseModel):
    """One row of the agents table: a submitted task bound to an agent definition."""

    model_config = ConfigDict(frozen=True)

    id: str
    agent: str
    task: str
    user: str
    budget_usd: float | None
    status: AgentStatus
    submitted_ms: int
    updated_ms: int
    step: int = 0
    error: str | None = None
    result: str | None = None
    # The agent that spawned this one (a team's sub-agent, or `submit --parent`).
    parent_id: str | None = None
    # Where untrusted content reached it before it started (a team member given another
    # agent's output): it starts tainted.
    tainted_by: str | None = None


class Resource(BaseModel):
    """Something a tool created, with what undoes it (Invariant 5)."""

    model_config = ConfigDict(frozen=True)

    id: int
    agent_id: str
    tool: str
    kind: str
    resource_id: str
    data: dict[str, Any]
    key: str
    status: Literal["live", "compensated", "compensation_failed"]
    created_ms: int
