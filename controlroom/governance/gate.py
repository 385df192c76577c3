"""The gate every proposed tool call passes before anything runs.

The model may ask for any tool with any arguments; the framework decides. Checks run in a
fixed order (DESIGN.md, "Governance") and the first refusal wins; each verdict says why, so
the journal can show why a call did or did not run: the agent's credential and the call's
proof, the policy's allowlist, argument validation against the tool's schema, outbound
rules on the validated arguments, taint, and the authority tier. Monitoring (loops, rates,
budget) needs the agent's running state and is applied by the runner after this check.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ValidationError

from controlroom.domain.models import ToolCall
from controlroom.domain.specs import AgentSpec, ToolSpec
from controlroom.governance import outbound
from controlroom.governance.identity import CredentialAuthority, CredentialRefused
from controlroom.governance.policy import AgentPolicy, Tier
from controlroom.governance.policy_loader import PolicySet

if TYPE_CHECKING:  # the module itself is imported on first use (see `Gate.screen`)
    from controlroom.governance.screening import Level, Screening

Refusal = Literal["denied", "invalid", "needs_approval"]


class Verdict(NamedTuple):
    """The gate's decision on one call; `tool` and `arguments` are set when allowed."""

    allowed: bool
    reason: str
    refusal: Refusal | None = None
    tool: ToolSpec | None = None
    arguments: BaseModel | None = None
    tier: Tier = "autonomous"


class CallProof(NamedTuple):
    """What a call carries to prove who makes it: the agent's current credential (token)
    and a MAC binding it to this run, tool, arguments (hash) and call id."""

    agent_id: str
    run: str
    token: str
    proof: str
    args_hash: str


class Gate:
    """The checks of the governance stack that need no running state (see the module).

    With an `authority`, every call must carry a `CallProof` it accepts.
    """

    def __init__(
        self, policies: PolicySet | None = None, authority: CredentialAuthority | None = None
    ) -> None:
        self._policies = policies or PolicySet()
        self._authority = authority
        self._screener: Callable[[str, Level], Screening] | None = None

    @property
    def policies(self) -> PolicySet:
        return self._policies

    def replace_policies(self, policies: PolicySet) -> None:
        """Enforce `policies` from the next call on (a reloaded, validated policy set)."""
        self._policies = policies

    def policy(self, agent: AgentSpec) -> AgentPolicy:
        return self._policies.for_agent(agent.name)

    def check(
        self,
        agent: AgentSpec,
        call: ToolCall,
        tainted_by: str | None = None,
        proof: CallProof | None = None,
        *,
        approved: bool = False,
    ) -> Verdict:
        """Decide whether `agent` may make `call` as proposed.

        The call's proof of identity first, then everything `review` checks.
        """
        authority = self._authority
        if authority is not None:
            if proof is None:
                why = "no credential: every call must carry its agent's credential"
                return Verdict(False, why, refusal="denied")
            try:
                authority.check_call(
                    proof.token,
                    proof.proof,
                    agent_id=proof.agent_id,
                    run=proof.run,
                    call_id=call.id,
                    tool=call.name,
                    args_hash=proof.args_hash,
                )
            except CredentialRefused as refused:
                why = f"credential refused ({refused.reason}): {refused.message}"
                return Verdict(False, why, refusal="denied")
        return self.review(agent, call, tainted_by, approved=approved)

    def review(
        self,
        agent: AgentSpec,
        call: ToolCall,
        tainted_by: str | None = None,
        *,
        approved: bool = False,
    ) -> Verdict:
        """The policy's checks on a call, whoever proposes it (the agent, or an approver
        editing its arguments).

        Tool names must match exactly: a name that differs only in case, width or invisible
        characters is a different name and is refused (and said to resemble the real one).
        `tainted_by` says where untrusted content reached the agent, if it did: from then on
        a side-effecting call is denied, or needs approval, as the agent's policy says.
        `approved` means a human approved this very call: what would need approval is
        allowed (what is refused outright stays refused).
        """
        policy = self._policies.for_agent(agent.name)
        tool = agent.tool(call.name)
        if tool is None or not policy.allows(tool.name):
            reason = f"tool {call.name!r} is not on agent {agent.name}'s allowlist"
            resembled = _resembled(agent, call.name)
            if resembled is not None and resembled != call.name:
                reason += f" (it resembles {resembled!r}; tool names must match exactly)"
            return Verdict(False, reason, refusal="denied")
        try:
            # The validator itself: `model_validate`'s keyword handling costs more than the
            # validation of a few arguments, once per call.
            arguments = tool.args_model.__pydantic_validator__.validate_python(call.arguments)
        except ValidationError as exc:
            return Verdict(
                False,
                f"invalid arguments for {tool.name}: {_summary(exc)}",
                refusal="invalid",
                tool=tool,
            )
        if policy.outbound:
            refused = outbound.refusal(policy.outbound, tool.name, arguments_dict(tool, arguments))
            if refused is not None:
                return Verdict(False, refused, refusal="denied", tool=tool)
        if (
            tainted_by is not None
            and tool.effect.has_side_effects
            and (policy.when_tainted == "deny" or not approved)
        ):
            return _tainted(policy.when_tainted, tool, tainted_by)
        tier: Tier = "autonomous"
        if policy.tiers:
            named = arguments_dict(tool, arguments)
            tier = policy.tier_for(tool.name, named)
            if tier in ("approve", "escalate") and not approved:
                why = f"its authority tier is {tier} ({_tier_rule(policy, tool.name, named, tier)})"
                return Verdict(
                    False,
                    needs_approval(tool.name, why),
                    refusal="needs_approval",
                    tool=tool,
                    tier=tier,
                )
        return Verdict(True, "allowed", tool=tool, arguments=arguments, tier=tier)

    def admit(self, agent: AgentSpec, call: ToolCall) -> Verdict:
        """Only what running a tool needs: it exists and its arguments validate.

        The ungoverned baseline that `controlroom bench --scenario gate-overhead` measures
        the full check against; nothing else calls it.
        """
        tool = agent.tool(call.name)
        if tool is None:
            return Verdict(False, f"no tool {call.name!r}", refusal="denied")
        try:
            arguments = tool.args_model.__pydantic_validator__.validate_python(call.arguments)
        except ValidationError as exc:
            reason = f"invalid arguments for {tool.name}: {_summary(exc)}"
            return Verdict(False, reason, refusal="invalid", tool=tool)
        return Verdict(True, "allowed", tool=tool, arguments=arguments)

    def screen(self, result: str, level: Level) -> Screening:
        """Injection screening's verdict on a tool result (governance/screening.py).

        The screening module is imported on first use: compiling its rules costs every CLI
        command a tenth of a second, and most never screen anything. The function is kept,
        so later results cost no import statement (a couple of microseconds each)."""
        screener = self._screener
        if screener is None:
            from controlroom.governance.screening import screen_or_hold

            self._screener = screener = screen_or_hold
        return screener(result, level)


def _tier_rule(policy: AgentPolicy, tool: str, arguments: dict[str, Any], tier: Tier) -> str:
    """The rule that put the call in `tier` (what the operator reads as the reason)."""
    return next(
        rule.describe()
        for rule in policy.tiers
        if rule.tool == tool and rule.tier == tier and rule.matches(arguments)
    )


def _tainted(action: str, tool: ToolSpec, tainted_by: str) -> Verdict:
    why = f"the agent has read untrusted content ({tainted_by})"
    if action == "deny":
        return Verdict(
            False, f"{why}; its policy denies side-effecting calls", refusal="denied", tool=tool
        )
    return Verdict(
        False, needs_approval(tool.name, why), refusal="needs_approval", tool=tool, tier="approve"
    )


def needs_approval(tool: str, why: str) -> str:
    """The reason given for a call that needs an operator's approval (tier, taint, loops,
    quarantine): the call waits for a decision and never runs without one."""
    return f"{tool} needs an operator's approval: {why}"


_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", name).translate(_INVISIBLE).casefold()


def _resembled(agent: AgentSpec, name: str) -> str | None:
    """The agent's tool whose name `name` folds to (case, width, invisible characters)."""
    folded = _folded(name)
    return next((tool.name for tool in agent.tools if _folded(tool.name) == folded), None)


def _summary(exc: ValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def arguments_dict(tool: ToolSpec, arguments: BaseModel) -> dict[str, Any]:
    """Validated arguments as plain Python values, by field name (what the tool receives)."""
    return {name: getattr(arguments, name) for name in tool.argument_names}
