"""The budget of a task run by many agents (a team and its members, or an agent and the
sub-agents submitted under it): what the whole tree has spent, against the root's budget.

Kept in memory by the supervisor, shared by the runners of the tree's agents: read from the
agents' checkpoints when the first of them is launched, then added to as each turn is
accounted. Every member checks it before each turn, so crossing it pauses each running
member at its next turn (the breaker; their state kept) and a raised budget resumes them.
"""

from __future__ import annotations

MICRO = 1_000_000


class TaskBudgets:
    """Spend (micro-USD) and budget of each task tree, by its root agent's id."""

    def __init__(self) -> None:
        self._spent: dict[str, int] = {}
        self._budget: dict[str, float | None] = {}

    def knows(self, root: str) -> bool:
        return root in self._spent

    def track(self, root: str, spent_usd: float, budget_usd: float | None) -> None:
        self._spent[root] = round(spent_usd * MICRO)
        self._budget[root] = budget_usd

    def add(self, root: str, cost_usd: float) -> None:
        if root in self._spent:
            self._spent[root] += round(cost_usd * MICRO)

    def spent(self, root: str) -> float:
        return self._spent.get(root, 0) / MICRO

    def budget(self, root: str) -> float | None:
        return self._budget.get(root)

    def set_budget(self, root: str, budget_usd: float | None) -> None:
        if root in self._spent:
            self._budget[root] = budget_usd
