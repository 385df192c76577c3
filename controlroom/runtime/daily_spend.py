"""What each submitter's agents have spent today (UTC), for the per-user daily budget.

Kept in memory by the supervisor: read from the journal when it starts (today's model turns
by the agents' users), then added to as each turn is accounted. Days are UTC days of the
injected clock, so a fake clock moves them in tests.
"""

from __future__ import annotations

from collections import defaultdict

DAY_MS = 86_400_000


class DailySpend:
    """Micro-dollars spent per (user, UTC day)."""

    def __init__(self) -> None:
        self._spent: defaultdict[tuple[str, int], int] = defaultdict(int)

    def add(self, user: str, now_ms: int, cost_usd: float) -> None:
        self._spent[(user, now_ms // DAY_MS)] += round(cost_usd * 1_000_000)

    def today(self, user: str, now_ms: int) -> float:
        """What `user`'s agents spent on the UTC day of `now_ms`, in USD."""
        return self._spent.get((user, now_ms // DAY_MS), 0) / 1_000_000

    def remember(self, rows: list[tuple[str, int, float]]) -> None:
        """Journal rows of (user, ts_ms, cost_usd) already spent."""
        for user, ts_ms, cost in rows:
            self.add(user, ts_ms, cost)
