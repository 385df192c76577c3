"""Novelty: the first time an agent uses a tool, or sends something to a domain.

An agent that suddenly calls a tool it never called, or mails a domain it never mailed, is
the out-of-pattern action an on-call engineer wants to hear about, even when policy allows
it. What each agent definition has used is remembered for the life of the database (the
supervisor loads it at start), so "new" means new for that agent, not for this process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

Kind = Literal["tool", "destination"]


class FirstUse(NamedTuple):
    kind: Kind
    value: str

    def describe(self, agent: str, tool: str) -> str:
        if self.kind == "tool":
            return f"first use of {tool} by {agent}"
        return f"first call of {agent} to {self.value} (through {tool})"


class NoveltyBook:
    """What every agent definition has used so far."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str, str]] = set()

    def remember(self, seen: Iterable[tuple[str, str, str]]) -> None:
        """Add (agent, kind, value) uses recorded earlier (the database's `novelty` rows)."""
        self._seen.update(seen)

    def first_uses(self, agent: str, tool: str, domains: Iterable[str]) -> list[FirstUse]:
        """What in this call `agent` never used before (now remembered as used)."""
        news: list[FirstUse] = []
        if (agent, "tool", tool) not in self._seen:
            self._seen.add((agent, "tool", tool))
            news.append(FirstUse("tool", tool))
        for domain in domains:
            if (agent, "destination", domain) not in self._seen:
                self._seen.add((agent, "destination", domain))
                news.append(FirstUse("destination", domain))
        return news
