"""Token-bucket rate limits per agent and per tool.

A bucket holds up to `burst` tokens and refills at `calls_per_minute`; a call takes one.
Buckets live in memory: after a restart they start full, which at worst allows one extra
burst, and keeps the hot path free of writes. They are keyed by the agent's id (one task)
and the limit itself, so a policy reload with a different limit starts a fresh bucket
instead of applying the new rate to tokens counted under the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlroom.governance.policy import AgentPolicy, RateLimit


@dataclass(slots=True)
class TokenBucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, limit: RateLimit, now: float) -> TokenBucket:
        capacity = float(
            limit.burst if limit.burst is not None else max(1.0, limit.calls_per_minute)
        )
        return cls(capacity, limit.calls_per_minute / 60.0, capacity, now)

    def take(self, now: float) -> bool:
        """Take one token if there is one (refilling for the time since the last call)."""
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
            self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """The buckets of every running agent."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, RateLimit], TokenBucket] = {}

    def breach(self, agent_id: str, tool: str, policy: AgentPolicy, now: float) -> str | None:
        """Take a token from the agent's and the tool's bucket; say which limit is exceeded.

        The tool's own limit is checked first and a refused call takes nothing from the
        agent's overall bucket: a refused call is not a call.
        """
        tool_limit = policy.tool_rates.get(tool)
        if tool_limit is not None and not self._bucket(agent_id, tool, tool_limit, now).take(now):
            return f"{tool} is limited to {_describe(tool_limit)}"
        if policy.rate is not None and not self._bucket(agent_id, "*", policy.rate, now).take(now):
            return f"the agent is limited to {_describe(policy.rate)} in all"
        return None

    def forget(self, agent_id: str) -> None:
        """Drop a finished agent's buckets."""
        for key in [key for key in self._buckets if key[0] == agent_id]:
            del self._buckets[key]

    def _bucket(self, agent_id: str, scope: str, limit: RateLimit, now: float) -> TokenBucket:
        key = (agent_id, scope, limit)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(limit, now)
        return bucket


def _describe(limit: RateLimit) -> str:
    burst = f" (bursts of {limit.burst})" if limit.burst is not None else ""
    return f"{limit.calls_per_minute:g} calls a minute{burst}"
