"""What policy files say, as validated models, and the decisions read off them.

A policy directory holds `*.toml` files; each may describe several agents under
`[agent.NAME]`. Everything is optional: an agent without a policy may use every tool its
definition declares, autonomously. The checks that need the agent definitions (unknown
agents, tools and arguments, contradicting tier rules) are in governance/policy_loader.py.

Authority tiers, from least to most human involvement: `autonomous` (just do it), `notify`
(do it and tell someone), `approve` (wait for a human's decision), `escalate` (wait for a
more senior human's decision).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Tier = Literal["autonomous", "notify", "approve", "escalate"]
TIERS: tuple[Tier, ...] = ("autonomous", "notify", "approve", "escalate")


class _Strict(BaseModel):
    """Policy models reject unknown fields: a misspelt limit must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TierRule(_Strict):
    """Calls of `tool` whose numeric `argument` lies in (above, at_most] take `tier`.

    Without `argument`, the rule covers every call of the tool.
    """

    tool: str
    tier: Tier
    argument: str | None = None
    above: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> TierRule:
        if self.argument is None and (self.above is not None or self.at_most is not None):
            raise ValueError("`above`/`at_most` need the `argument` they bound")
        if self.argument is not None and self.above is None and self.at_most is None:
            raise ValueError("a rule on an argument needs `above` and/or `at_most`")
        if self.above is not None and self.at_most is not None and self.above >= self.at_most:
            raise ValueError(f"empty range: above {self.above:g} and at_most {self.at_most:g}")
        return self

    @property
    def low(self) -> float:
        return -math.inf if self.above is None else self.above

    @property
    def high(self) -> float:
        return math.inf if self.at_most is None else self.at_most

    def matches(self, arguments: dict[str, Any]) -> bool:
        if self.argument is None:
            return True
        value = arguments.get(self.argument)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return self.low < value <= self.high

    def overlaps(self, other: TierRule) -> bool:
        """Whether some call could match both rules (same tool assumed)."""
        if self.argument is None or other.argument is None:
            return True
        if self.argument != other.argument:
            return True  # two different arguments: a call can fall in both ranges
        return max(self.low, other.low) < min(self.high, other.high)

    def describe(self) -> str:
        if self.argument is None:
            return f"{self.tool} -> {self.tier}"
        return f"{self.tool} {self.argument} in ({self.low:g}, {self.high:g}] -> {self.tier}"


class RateLimit(_Strict):
    """A token bucket: `calls_per_minute` on average, bursts of up to `burst` calls."""

    calls_per_minute: float = Field(gt=0)
    burst: int | None = Field(default=None, ge=1)


class LoopLimits(_Strict):
    """Repeats of one call (same tool, same canonical arguments) or of a cycle like A-B-A-B:
    warn after `warn_after`, require approval after `approve_after`, stop after `stop_after`."""

    warn_after: int = Field(default=3, ge=2)
    approve_after: int = Field(default=5, ge=2)
    stop_after: int = Field(default=8, ge=2, le=8)  # le: what the history can count

    @model_validator(mode="after")
    def _increasing(self) -> LoopLimits:
        if not self.warn_after <= self.approve_after <= self.stop_after:
            raise ValueError("need warn_after <= approve_after <= stop_after")
        return self


class OutboundRule(_Strict):
    """What may not leave through an argument: text matching `deny_patterns` (regular
    expressions), or e-mail addresses and URLs outside `allow_domains` (when given)."""

    argument: str
    tool: str | None = None
    deny_patterns: tuple[str, ...] = ()
    allow_domains: tuple[str, ...] | None = None

    @field_validator("deny_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regex: {exc}") from None
        return patterns


class BreakerLimits(_Strict):
    """When the breaker trips on its own (it can always be tripped by hand)."""

    # Calls that failed for good (after their retries) in a row: the service is down or the
    # agent is misusing it; more attempts would only add load.
    max_consecutive_failures: int = Field(default=5, ge=1)
    # Calls refused by a rate limit in a row: an agent that keeps pressing is misbehaving.
    max_rate_breaches: int = Field(default=3, ge=1)


class ApprovalSettings(_Strict):
    """How an agent's approvals behave.

    `amount_argument` names the argument that is the call's amount in dollars (default:
    the argument its tier rule bounds); above `two_person_above_usd`, or in a tier of
    `two_person_tiers`, two distinct approvers must approve. An approval past
    `expires_after_s` is escalated or denied (`on_expiry`), never approved.
    """

    amount_argument: str | None = None
    expires_after_s: float = Field(default=3600.0, gt=0)
    on_expiry: Literal["deny", "escalate"] = "escalate"
    two_person_above_usd: float | None = Field(default=None, ge=0)
    two_person_tiers: tuple[Tier, ...] = ()


class AgentPolicy(_Strict):
    """Everything the gate needs to know about one agent."""

    tools: tuple[str, ...] | None = None
    tiers: tuple[TierRule, ...] = ()
    rate: RateLimit | None = None
    tool_rates: dict[str, RateLimit] = Field(default_factory=dict)
    loops: LoopLimits = LoopLimits()
    budget_usd: float | None = Field(default=None, gt=0)
    outbound: tuple[OutboundRule, ...] = ()
    screening: Literal["off", "standard", "strict"] = "standard"
    when_tainted: Literal["approve", "deny"] = "approve"
    breaker: BreakerLimits = BreakerLimits()
    approval: ApprovalSettings = ApprovalSettings()

    def allows(self, tool: str) -> bool:
        """Whether the allowlist names `tool` (no allowlist: the definition's tools)."""
        return self.tools is None or tool in self.tools

    def tier_for(self, tool: str, arguments: dict[str, Any]) -> Tier:
        """The tier of a call: the most demanding rule it matches, else autonomous."""
        matched = [
            rule.tier for rule in self.tiers if rule.tool == tool and rule.matches(arguments)
        ]
        return max(matched, key=TIERS.index, default="autonomous")


class ApproverRule(_Strict):
    """Who may decide approvals of `tiers` (for `agents`, or all), up to `up_to_usd` of
    the call's amount when set. `who` names people or roles (`[roles]`)."""

    who: tuple[str, ...] = Field(min_length=1)
    tiers: tuple[Tier, ...] = ("approve",)
    agents: tuple[str, ...] | None = None
    up_to_usd: float | None = Field(default=None, gt=0)


NotificationKind = Literal[
    "approval_requested", "escalated", "in_doubt", "notified", "breaker", "expired"
]
NOTIFICATION_KINDS: tuple[NotificationKind, ...] = (
    "approval_requested",
    "escalated",
    "in_doubt",
    "notified",
    "breaker",
    "expired",
)


class NotificationRoute(_Strict):
    """Where notifications of `kinds` go.

    `webhook` posts generic JSON to `target` (a URL), `slack` posts Slack incoming-webhook
    JSON, `smtp` mails `to` through `smtp_host`, `log` only journals. Credentials are named
    by environment variable, never written in a policy file.
    """

    channel: Literal["log", "webhook", "slack", "smtp"]
    target: str = ""
    kinds: tuple[NotificationKind, ...] = NOTIFICATION_KINDS
    timeout_s: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=5, ge=1, le=20)
    # smtp
    to: tuple[str, ...] = ()
    sender: str = "controlroom@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username_env: str | None = None
    password_env: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> NotificationRoute:
        if self.channel in ("webhook", "slack") and not self.target.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"a {self.channel} route needs `target`, an http(s) URL")
        if self.channel == "smtp" and not self.to:
            raise ValueError("an smtp route needs `to`, the addresses to mail")
        return self


class Price(_Strict):
    """What a model's tokens cost, in USD per million (`[prices."openai:gpt-4o-mini"]`).
    Cached input tokens cost `cached_input_per_million`, or the input price if not set."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)
    cached_input_per_million: float | None = Field(default=None, ge=0)

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = (
            self.input_per_million
            if self.cached_input_per_million is None
            else self.cached_input_per_million
        )
        return (
            (input_tokens - cached) * self.input_per_million
            + cached * cached_rate
            + output_tokens * self.output_per_million
        ) / 1_000_000


class EndpointConfig(_Strict):
    """A model endpoint agents name as `ENDPOINT:MODEL` (`[endpoints.ollama]`): which API it
    speaks, where, and the NAME of the environment variable holding its key (none for a
    local server that takes no key). The key itself never goes in a file."""

    api: Literal["openai", "anthropic"]
    base_url: str = Field(pattern=r"^https?://[^\s]+$")
    key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_tokens: int | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=300.0, gt=0)


class UserBudget(_Strict):
    """What a submitter's agents may spend together per day (UTC), `[users.NAME]`; `"*"`
    is everyone without a line of their own."""

    daily_budget_usd: float = Field(gt=0)


class PolicyFile(_Strict):
    """One `policies/*.toml` file."""

    agent: dict[str, AgentPolicy] = Field(default_factory=dict)
    prices: dict[str, Price] = Field(default_factory=dict)
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    users: dict[str, UserBudget] = Field(default_factory=dict)
    approvers: tuple[ApproverRule, ...] = ()
    roles: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    notify: tuple[NotificationRoute, ...] = ()


DEFAULT_POLICY = AgentPolicy()


def budget_in_force(*budgets: float | None) -> float | None:
    """The budget an agent is held to: the smallest of those set (the task's, the agent
    definition's, the policy's), or None when none is. The runner's budget breaker and the
    control room's meters both use this, so the meter shows the line the breaker trips at.

    A loop rather than `min` over a generator, which costs four times as much: the budget
    breaker asks on every call and every turn. It keeps what `min` would (the first of the
    smallest)."""
    in_force = None
    for budget in budgets:
        if budget is not None and (in_force is None or budget < in_force):
            in_force = budget
    return in_force
