"""Spend and its roll-ups: by task (a submitted task with every sub-agent under it), by
agent definition, by user (the submitter). Sums are kept in micro-dollars so that totals
add up exactly, and turns whose cost is unknown are counted, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

GroupBy = Literal["task", "agent", "user"]
MICRO = 1_000_000
# Characters to a token: the usual rule of thumb for English and JSON. The scripted provider
# counts its usage with it, and budgets estimate a turn's prompt with it.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class AgentSpend:
    """One agent's model turns as journaled."""

    agent_id: str
    agent: str
    user: str
    parent_id: str | None
    turns: int  # answered turns (lost requests are not among them)
    cost_micro_usd: int  # the turns whose cost is known, each rounded to a micro-dollar
    unknown_cost_turns: int  # unpriced turns and lost requests
    lost_turns: int  # requests abandoned by a stop or cut by a crash (billed or not: unknown)
    input_tokens: int
    output_tokens: int


@dataclass
class Spend:
    """A roll-up line: who or what, and what it spent."""

    key: str
    agents: int = 0
    turns: int = 0
    cost_micro_usd: int = 0
    unknown_cost_turns: int = 0
    lost_turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def cost_usd(self) -> float:
        return self.cost_micro_usd / MICRO

    def add(self, spend: AgentSpend) -> None:
        self.agents += 1
        self.turns += spend.turns
        self.cost_micro_usd += spend.cost_micro_usd
        self.unknown_cost_turns += spend.unknown_cost_turns
        self.lost_turns += spend.lost_turns
        self.input_tokens += spend.input_tokens
        self.output_tokens += spend.output_tokens


def task_of(agent_id: str, parents: dict[str, str | None]) -> str:
    """The task an agent works for: its topmost ancestor (itself if it has no parent)."""
    seen = {agent_id}
    current = agent_id
    while (parent := parents.get(current)) is not None and parent not in seen:
        seen.add(parent)
        current = parent
    return current


def roll_up(spends: Iterable[AgentSpend], by: GroupBy) -> list[Spend]:
    """Totals by task, agent definition or user, in order of first appearance."""
    rows = list(spends)
    parents = {s.agent_id: s.parent_id for s in rows}
    totals: dict[str, Spend] = {}
    for spend in rows:
        if by == "task":
            key = task_of(spend.agent_id, parents)
        elif by == "agent":
            key = spend.agent
        else:
            key = spend.user
        totals.setdefault(key, Spend(key)).add(spend)
    return list(totals.values())
