"""What the agent definitions and policies say about an agent that its rows do not: its role
and the budget its breaker trips at (the same rule the runner applies)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controlroom.domain.models import AgentRecord
from controlroom.domain.specs import AgentSpec
from controlroom.governance.policy import budget_in_force
from controlroom.governance.policy_loader import PolicySet


@dataclass(frozen=True)
class Definitions:
    """The loaded agent definitions and policies (both may be empty)."""

    specs: Mapping[str, AgentSpec] = field(default_factory=dict)
    policies: PolicySet = field(default_factory=PolicySet)

    def role(self, agent: str) -> str:
        spec = self.specs.get(agent)
        return spec.role if spec is not None else ""

    def budget(self, record: AgentRecord) -> float | None:
        """The budget in force: the smallest of the task's, the definition's, the policy's."""
        spec = self.specs.get(record.agent)
        return budget_in_force(
            record.budget_usd,
            spec.budget_usd if spec is not None else None,
            self.policies.for_agent(record.agent).budget_usd,
        )
