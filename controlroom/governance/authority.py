"""Who may decide an approval, and how many must.

Approver rules (`[[approvers]]` in policy files) name people or roles (`[roles]`) allowed
to decide calls of some tiers, for some agents, up to an amount. A policy directory with
no approver rules lets anyone decide: a single engineer's setup works without ceremony,
and a team opts into authority by writing rules. The check is made where the decision is
applied (the supervisor, with the policies it enforces), whatever process sent it.
"""

from __future__ import annotations

from typing import Any

from controlroom.governance.policy import AgentPolicy
from controlroom.governance.policy_loader import PolicySet


def amount_of(policy: AgentPolicy, tool: str, arguments: dict[str, Any]) -> float | None:
    """The call's amount in dollars: the argument the policy names, else the one its tier
    rules bound; None if the call has none."""
    name = policy.approval.amount_argument or next(
        (rule.argument for rule in policy.tiers if rule.tool == tool and rule.argument), None
    )
    if name is None:
        return None
    value = arguments.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def approvals_required(policy: AgentPolicy, tier: str, amount: float | None) -> int:
    """Two distinct approvers for the highest risk (as the policy defines it), else one."""
    settings = policy.approval
    if tier in settings.two_person_tiers:
        return 2
    limit = settings.two_person_above_usd
    if limit is not None and amount is not None and amount > limit:
        return 2
    return 1


def allowed_approvers(
    policies: PolicySet, agent: str, tier: str, amount: float | None
) -> tuple[str, ...] | None:
    """The people who may decide such a call; None when no rule restricts it (anyone)."""
    if not policies.approvers:
        return None
    names: list[str] = []
    for rule in policies.approvers:
        if tier not in rule.tiers:
            continue
        if rule.agents is not None and agent not in rule.agents:
            continue
        if rule.up_to_usd is not None and amount is not None and amount > rule.up_to_usd:
            continue
        for who in rule.who:
            names.extend(name for name in policies.members(who) if name not in names)
    return tuple(names)


def refusal(
    policies: PolicySet, agent: str, tier: str, amount: float | None, approver: str
) -> str | None:
    """Why `approver` may not decide such a call, or None if they may."""
    allowed = allowed_approvers(policies, agent, tier, amount)
    if allowed is None or approver in allowed:
        return None
    what = f"{tier} tier" + (f", ${amount:,.2f}" if amount is not None else "")
    if not allowed:
        return f"{approver} may not decide this call ({what}): no approver rule covers it"
    return f"{approver} may not decide this call ({what}); allowed: {', '.join(allowed)}"
