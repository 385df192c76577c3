"""Control Room: a durable, governed runtime for LLM agents and a terminal control room.

This module is the public API that agent definition files (`agents/*.py`) use.
"""

from controlroom.domain.models import Message, ToolCall, Turn, Usage
from controlroom.domain.specs import (
    AgentSpec,
    Effect,
    ScriptView,
    ToolContext,
    ToolSpec,
    agent,
    tool,
)
from controlroom.domain.teams import Plan, Review, Subtask, team
from controlroom.providers.base import ModelError

__all__ = [
    "AgentSpec",
    "Effect",
    "Message",
    "ModelError",
    "Plan",
    "Review",
    "ScriptView",
    "Subtask",
    "ToolCall",
    "ToolContext",
    "ToolSpec",
    "Turn",
    "Usage",
    "agent",
    "team",
    "tool",
]
