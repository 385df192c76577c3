"""Delegated approvals in one process: the real supervisor on a real database file.

The `payer` agent pays what its task lists, all in one model turn (several calls at once),
then reports what each call gave it. Payments up to 100 are autonomous, up to 1000 need
an approval (two approvers above 800), above that they are escalated. Clerks (ann, bob)
may approve up to 900; the boss may decide anything.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cr_support import Harness, connect
from payer import PAID, PAYER

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.approvals import ApprovalKind, ApprovalStatus
from controlroom.domain.events import (
    ApprovalDecided,
    ApprovalRequested,
    DecisionRefused,
    ToolCallStarted,
)
from controlroom.domain.models import AgentStatus, ToolCall
from controlroom.governance.policy import (
    AgentPolicy,
    ApprovalSettings,
    ApproverRule,
    OutboundRule,
    TierRule,
)
from controlroom.governance.policy_loader import PolicySet
from controlroom.runtime.approvals import call_digest
from controlroom.store.inbox import enqueue_command

PAYER_POLICY = AgentPolicy(
    tiers=(
        TierRule(tool="pay", argument="amount", at_most=100, tier="autonomous"),
        TierRule(tool="pay", argument="amount", above=100, at_most=1000, tier="approve"),
        TierRule(tool="pay", argument="amount", above=1000, tier="escalate"),
    ),
    outbound=(OutboundRule(tool="pay", argument="to", deny_patterns=("(?i)mallory",)),),
    approval=ApprovalSettings(expires_after_s=600, on_expiry="deny", two_person_above_usd=800),
)
APPROVERS = (
    ApproverRule(who=("clerks",), tiers=("approve",), up_to_usd=900),
    ApproverRule(who=("boss",), tiers=("approve", "escalate")),
)


def _policies(**approval: Any) -> PolicySet:
    policy = PAYER_POLICY
    if approval:
        settings = PAYER_POLICY.approval.model_copy(update=approval)
        policy = PAYER_POLICY.model_copy(update={"approval": settings})
    return PolicySet({"payer": policy}, APPROVERS, roles={"clerks": ("ann", "bob")})


POLICIES = _policies()


@pytest.fixture(autouse=True)
def _no_payments() -> None:
    PAID.clear()


async def _run(harness: Harness, policies: PolicySet = POLICIES) -> None:
    await harness.run_until_idle([PAYER], policies=policies)


async def _waiting_for(harness: Harness, payments: list[tuple[str, float]]) -> str:
    agent_id = await harness.submit("payer", json.dumps(payments))
    await _run(harness)
    return agent_id


async def test_a_call_needing_approval_suspends_the_agent_with_a_full_record(
    harness: Harness,
) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    assert PAID == [], "nothing runs before the decision"
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.AWAITING_APPROVAL
    [approval] = await harness.waiting(agent_id)
    now = harness.clock.now_ms()
    assert (approval.kind, approval.agent_id, approval.agent, approval.task, approval.user) == (
        ApprovalKind.CALL,
        agent_id,
        "payer",
        '[["carol", 500]]',
        "tester",
    )
    assert (approval.step, approval.tool, approval.arguments) == (
        1,
        "pay",
        {"to": "carol", "amount": 500},
    )
    assert approval.digest == call_digest("pay", {"amount": 500, "to": "carol"})
    assert approval.reason == "paying as asked"
    assert "its authority tier is approve" in approval.why
    assert (approval.tier, approval.amount, approval.approvals_required) == ("approve", 500.0, 1)
    assert approval.approvers_allowed == ("ann", "bob", "boss")
    assert (approval.requested_ms, approval.expires_ms) == (now, now + 600_000)

    await harness.decide(approval.id, "approve", operator="ann", note="known supplier")
    await _run(harness)
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)]
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, "paid carol 500")
    [decided] = await harness.entries(agent_id, kind="approval_decided")
    assert decided.step == 1 and decided.identity == "operator:ann"
    assert isinstance(decided.event, ApprovalDecided) and decided.event.note == "known supplier"
    turns = await harness.entries(agent_id, kind="model_turn")
    assert [t.step for t in turns] == [1, 2], "the waiting turn was not asked for again"
    [closed] = await harness.approvals(agent_id)
    assert closed.status is ApprovalStatus.DECIDED and closed.decision is not None
    assert closed.decision.approvers == ("ann",)


async def test_a_denied_call_is_not_made_and_the_agent_is_told_why(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    await harness.decide(approval.id, "deny", operator="bob", note="not this month")
    await _run(harness)
    assert PAID == []
    record = await harness.record(agent_id)
    assert record.result == "denied: bob denied it: not this month"


async def test_a_reply_instead_of_the_call_reaches_the_agent(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    await harness.decide(approval.id, "respond", operator="boss", message="pay 250 twice")
    await _run(harness)
    assert PAID == []
    record = await harness.record(agent_id)
    assert record.result == "denied: not run: boss replied instead: pay 250 twice"


@pytest.mark.parametrize("order", ["first-then-second", "second-then-first"])
async def test_each_decision_reaches_exactly_its_own_call(harness: Harness, order: str) -> None:
    """One turn proposes three payments: the small one runs at once, the two others wait,
    and each decision applies to its own call whatever the order of deciding."""
    agent_id = await _waiting_for(harness, [("amy", 200), ("ben", 300), ("cat", 50)])
    assert [(to, amount) for to, amount, _ in PAID] == [("cat", 50)]
    amy, ben = await harness.waiting(agent_id)
    assert (amy.arguments["to"], ben.arguments["to"]) == ("amy", "ben")
    decisions = [(ben, "deny"), (amy, "approve")]
    if order == "second-then-first":
        decisions.reverse()
    (one, verdict_one), (other, verdict_other) = decisions
    await harness.decide(one.id, verdict_one, operator="ann")
    await _run(harness)
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    assert [(to, amount) for to, amount, _ in PAID] == [("cat", 50)], "waits for both"
    await harness.decide(other.id, verdict_other, operator="ann")
    await _run(harness)
    assert [(to, amount) for to, amount, _ in PAID] == [("cat", 50), ("amy", 200)]
    record = await harness.record(agent_id)
    assert record.result == "paid amy 200 | denied: ann denied it | paid cat 50"


async def test_edited_arguments_pass_the_gate_and_the_approvers_authority(
    harness: Harness,
) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    refused_edits = [
        {"to": "carol", "amount": 950},  # above ann's 900 (and the two-person limit)
        {"to": "Mallory", "amount": 400},  # an outbound rule forbids it
        {"to": "carol", "amount": "lots"},  # not an amount
        {"to": "carol", "amount": 400, "memo": "x"},  # no such argument
    ]
    for edit in refused_edits:
        await harness.decide(approval.id, "approve", operator="ann", arguments=edit)
    await _run(harness)
    refusals = [
        e.event.reason
        for e in await harness.entries(agent_id)
        if isinstance(e.event, DecisionRefused)
    ]
    assert len(refusals) == 4, refusals
    assert "ann may not decide this call (approve tier, $950.00)" in refusals[0]
    assert refusals[1].startswith("edited arguments refused: outbound rule: argument 'to'")
    assert "edited arguments refused: invalid arguments for pay: amount" in refusals[2]
    assert "edited arguments refused: invalid arguments for pay: memo" in refusals[3]
    assert PAID == [] and (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL

    await harness.decide(
        approval.id, "approve", operator="ann", arguments={"to": "carol", "amount": 450}
    )
    await _run(harness)
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 450)]
    [started] = await harness.entries(agent_id, kind="tool_call_started")
    assert isinstance(started.event, ToolCallStarted)
    assert started.event.arguments == {"to": "carol", "amount": 450.0}


async def test_an_approval_is_used_once_and_authorizes_no_other_call(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    await harness.decide(approval.id, "approve", operator="ann")
    await harness.decide(approval.id, "approve", operator="bob")  # too late: decided
    await _run(harness)
    assert len(PAID) == 1
    [refused] = [
        e.event for e in await harness.entries(agent_id) if isinstance(e.event, DecisionRefused)
    ]
    assert refused.reason == f"approval #{approval.id} is already decided: approve by ann"

    # The same payment proposed again by another task needs its own approval.
    again = await _waiting_for(harness, [("carol", 500)])
    assert len(PAID) == 1
    [second] = await harness.waiting(again)
    assert second.id != approval.id and second.digest == approval.digest


async def test_a_decision_never_runs_a_call_other_than_the_one_approved(
    harness: Harness,
) -> None:
    """The decision is bound to the call's digest: if the record no longer matches the
    journaled call (here: tampered with), the approval does not authorize it."""
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    forged = approval.model_copy(update={"digest": call_digest("pay", {"to": "x", "amount": 1})})
    conn = connect(harness.db.path)
    try:
        conn.execute(
            "UPDATE approvals SET data = ? WHERE id = ?", (forged.model_dump_json(), approval.id)
        )
    finally:
        conn.close()
    await harness.decide(approval.id, "approve", operator="ann")
    await _run(harness)
    assert PAID == []
    record = await harness.record(agent_id)
    assert record.result == f"denied: approval #{approval.id} was given for a different call"


async def test_two_decisions_queued_together_are_applied_once(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    await harness.decide(approval.id, "deny", operator="bob")
    await harness.decide(approval.id, "approve", operator="ann")
    await _run(harness)
    assert PAID == []
    kinds = [e.event.kind for e in await harness.entries(agent_id)]
    assert kinds.count("approval_decided") == 1 and kinds.count("decision_refused") == 1


async def test_the_two_person_rule_needs_two_distinct_approvers(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 850)])
    [approval] = await harness.waiting(agent_id)
    assert approval.approvals_required == 2
    await harness.decide(approval.id, "approve", operator="ann")
    await harness.decide(approval.id, "approve", operator="ann")
    await _run(harness)
    assert PAID == [] and (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    [endorsed] = await harness.waiting(agent_id)
    assert endorsed.endorsed_by == ("ann",)
    [refused] = [
        e.event for e in await harness.entries(agent_id) if isinstance(e.event, DecisionRefused)
    ]
    assert "ann has already approved" in refused.reason

    await harness.decide(approval.id, "approve", operator="bob")
    await _run(harness)
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 850)]
    [closed] = await harness.approvals(agent_id)
    assert closed.decision is not None and closed.decision.approvers == ("ann", "bob")


async def test_an_approver_the_policy_does_not_name_is_refused_and_journaled(
    harness: Harness,
) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    await harness.decide(approval.id, "approve", operator="mallory")
    await _run(harness)
    assert PAID == []
    [refused] = [e for e in await harness.entries(agent_id) if isinstance(e.event, DecisionRefused)]
    assert refused.identity == "operator:mallory"
    assert isinstance(refused.event, DecisionRefused)
    assert refused.event.reason == (
        "mallory may not decide this call (approve tier, $500.00); allowed: ann, bob, boss"
    )
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL


async def test_an_overdue_approval_is_denied_when_policy_says_so(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    harness.clock.advance(599)
    await _run(harness)
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    harness.clock.advance(2)
    await _run(harness)
    assert PAID == []
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED
    assert record.result == "denied: expiry denied it: no decision before the deadline"
    [expired] = await harness.approvals(agent_id)
    assert expired.status is ApprovalStatus.EXPIRED


async def test_an_overdue_approval_is_escalated_when_policy_says_so(harness: Harness) -> None:
    escalating = _policies(on_expiry="escalate")
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))
    await _run(harness, escalating)
    harness.clock.advance(601)
    await _run(harness, escalating)
    assert PAID == []
    assert (await harness.record(agent_id)).status is AgentStatus.ESCALATED
    [approval] = await harness.waiting(agent_id)
    assert (approval.tier, approval.approvers_allowed, approval.expires_ms) == (
        "escalate",
        ("boss",),
        None,
    )
    await harness.decide(approval.id, "approve", operator="ann")  # a clerk no longer may
    await harness.decide(approval.id, "approve", operator="boss")
    await _run(harness, escalating)
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)]


async def test_an_escalated_task_can_be_taken_over_and_completed_by_hand(
    harness: Harness,
) -> None:
    agent_id = await _waiting_for(harness, [("carol", 5000)])
    assert (await harness.record(agent_id)).status is AgentStatus.ESCALATED
    [approval] = await harness.waiting(agent_id)
    # This policy denies what is undecided at the deadline, escalated calls included.
    assert approval.tier == "escalate" and approval.expires_ms == approval.requested_ms + 600_000
    await harness.decide(approval.id, "complete", operator="ann", result="wired by hand")
    await harness.decide(approval.id, "complete", operator="boss", result="wired by hand")
    await _run(harness)
    assert PAID == []
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, "wired by hand")
    kinds = [e.event.kind for e in await harness.entries(agent_id)]
    assert kinds.count("decision_refused") == 1  # ann may not decide the escalate tier


async def test_an_escalated_task_handed_back_with_instructions_resumes(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 5000)])
    [approval] = await harness.waiting(agent_id)
    await harness.decide(approval.id, "respond", operator="boss", message="split it")
    await _run(harness)
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (
        AgentStatus.COMPLETED,
        "denied: not run: boss replied instead: split it",
    )


# -- in-doubt calls -----------------------------------------------------------------------------

SENT: list[str] = []


@tool(effect="unsafe", timeout=0.05)
async def transfer(ctx: ToolContext, amount: float) -> str:
    SENT.append(ctx.key)
    if len(SENT) == 1:  # the first attempt hangs past its timeout: did it go through?
        await asyncio.sleep(3600)  # cancelled by the timeout
    return f"transferred {amount:g}"


def _transfer_once(view: ScriptView) -> Turn:
    if view.step == 1:
        return Turn.call("transfer", amount=70)
    return Turn.final(view.results_of("transfer")[0])


TRANSFERRER = agent(name="transferrer", tools=[transfer], script=_transfer_once)


@pytest.mark.parametrize(
    ("verdict", "fields", "result", "sent"),
    [
        ("happened", {"result": "bank says: transferred 70"}, "bank says: transferred 70", 1),
        ("retry", {}, "transferred 70", 2),
        (
            "abort",
            {"note": "bank says no"},
            "error: aborted by ann: its outcome was unknown and it was not retried: bank says no",
            1,
        ),
    ],
)
async def test_an_in_doubt_call_is_settled_through_its_approval_record(
    harness: Harness, verdict: str, fields: dict[str, str], result: str, sent: int
) -> None:
    SENT.clear()
    agent_id = await harness.submit("transferrer", "move 70")
    await harness.run_until_idle([TRANSFERRER])
    assert (await harness.record(agent_id)).status is AgentStatus.IN_DOUBT
    [approval] = await harness.waiting(agent_id)
    assert approval.kind is ApprovalKind.IN_DOUBT and approval.expires_ms is None
    assert "timed out" in approval.why
    await harness.decide(approval.id, "approve", operator="ann")  # not a verdict it takes
    await harness.decide(approval.id, verdict, operator="ann", **fields)
    await harness.run_until_idle([TRANSFERRER])
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, result)
    assert len(SENT) == sent
    assert len(set(SENT)) == 1, "a retry uses the same idempotency key"
    requested = [
        e for e in await harness.entries(agent_id) if isinstance(e.event, ApprovalRequested)
    ]
    assert len(requested) == 1


# -- quarantine given while a step that then waits was under way -------------------------------

GATES: dict[str, asyncio.Event] = {}
MAILED: list[str] = []


@tool
async def wait_here() -> str:
    GATES["entered"].set()
    await GATES["release"].wait()
    return "waited"


@tool(effect="idempotent_by_key")
async def send(to: str) -> str:
    MAILED.append(to)
    return f"sent to {to}"


def _holder(view: ScriptView) -> Turn:
    if view.step == 1:
        calls = (
            ToolCall(id="", name="wait_here", arguments={}),
            ToolCall(id="", name="send", arguments={"to": "x@example.com"}),
        )
        return Turn(tool_calls=calls)
    if view.step == 2:
        return Turn.call("send", to="y@example.com")
    return Turn.final("the report")


HOLDER = agent(name="holder", tools=[wait_here, send], script=_holder)


async def test_a_quarantine_given_during_a_step_that_then_waits_is_kept(harness: Harness) -> None:
    """The step is rewound when the agent suspends; the operator's quarantine must not be
    rewound with it, or the agent's later effects and result would be released."""
    GATES.update(entered=asyncio.Event(), release=asyncio.Event())
    MAILED.clear()
    agent_id = await harness.submit("holder", "report")
    supervisor = harness.supervisor([HOLDER])
    await supervisor.start()
    try:
        await asyncio.wait_for(GATES["entered"].wait(), 10)
        command = await enqueue_command(harness.db, "quarantine", agent_id, "oncall", 0)
        supervisor.poke()
        await harness.wait_applied(command)
        GATES["release"].set()
        await harness.wait_status(agent_id, [AgentStatus.AWAITING_APPROVAL])
    finally:
        await supervisor.stop()
    assert MAILED == []
    [first] = await harness.waiting(agent_id)
    assert "the agent is quarantined (quarantined by oncall)" in first.why
    await harness.decide(first.id, "deny")
    await harness.run_until_idle([HOLDER])
    assert MAILED == [], "the next side effect still needs an approval"
    [second] = await harness.waiting(agent_id)
    assert second.step == 2 and "quarantined by oncall" in second.why
    await harness.decide(second.id, "deny")
    await harness.run_until_idle([HOLDER])
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.QUARANTINED, "the report")


async def test_terminating_a_waiting_agent_cancels_its_approvals(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("amy", 200), ("ben", 300)])
    await enqueue_command(harness.db, "terminate", agent_id, "oncall", 0)
    await _run(harness)
    assert (await harness.record(agent_id)).status is AgentStatus.TERMINATED
    approvals = await harness.approvals(agent_id)
    assert [a.status for a in approvals] == [ApprovalStatus.CANCELLED] * 2
    await harness.decide(approvals[0].id, "approve", operator="ann")
    await _run(harness)
    assert PAID == []
    [refused] = [
        e.event for e in await harness.entries(agent_id) if isinstance(e.event, DecisionRefused)
    ]
    assert refused.reason == f"approval #{approvals[0].id} is cancelled"


async def test_the_kill_switch_holds_a_waiting_agent_even_once_its_call_is_approved(
    harness: Harness,
) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    [approval] = await harness.waiting(agent_id)
    await enqueue_command(harness.db, "kill-switch", "*", "oncall", 0)
    await _run(harness)
    assert (await harness.record(agent_id)).status is AgentStatus.PAUSED
    await harness.decide(approval.id, "approve", operator="ann")
    await _run(harness)
    assert PAID == [], "approved, but paused: nothing runs until an operator resumes it"
    assert (await harness.record(agent_id)).status is AgentStatus.PAUSED
    await enqueue_command(harness.db, "resume", agent_id, "oncall", 0)
    await _run(harness)
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)]
    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED


async def test_a_paused_agent_resumed_before_its_decision_waits_again(harness: Harness) -> None:
    agent_id = await _waiting_for(harness, [("carol", 500)])
    await enqueue_command(harness.db, "pause", agent_id, "oncall", 0)
    await enqueue_command(harness.db, "resume", agent_id, "oncall", 0)
    await _run(harness)
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    assert PAID == [] and len(await harness.waiting(agent_id)) == 1


@tool
async def slow_read() -> str:
    GATES["entered"].set()
    await GATES["release"].wait()
    return "read"


def _pay_and_read(view: ScriptView) -> Turn:
    if view.step == 1:
        calls = (
            ToolCall(id="", name="pay", arguments={"to": "carol", "amount": 500}),
            ToolCall(id="", name="slow_read", arguments={}),
        )
        return Turn(tool_calls=calls)
    return Turn.final(" | ".join(view.results_of("pay")))


READER = agent(name="payer", tools=[PAYER.tools[0], slow_read], script=_pay_and_read)


async def test_a_decision_landing_while_a_resumed_agent_replays_still_resumes_it(
    harness: Harness,
) -> None:
    """Resumed from a pause, the agent replays its step and waits again on the approval it
    read as open; a decision applied in between must still resume it."""
    GATES.update(entered=asyncio.Event(), release=asyncio.Event())
    agent_id = await harness.submit("payer", "pay and read")
    supervisor = harness.supervisor([READER], POLICIES)
    await supervisor.start()
    try:
        await asyncio.wait_for(GATES["entered"].wait(), 10)  # asked for #1, now reading
        await harness.wait_applied(await enqueue_command(harness.db, "pause", agent_id, "x", 0))
        [approval] = await harness.waiting(agent_id)
        assert (await harness.record(agent_id)).status is AgentStatus.PAUSED
        GATES["entered"].clear()
        await harness.wait_applied(await enqueue_command(harness.db, "resume", agent_id, "x", 0))
        await asyncio.wait_for(GATES["entered"].wait(), 10)  # replaying: reading again
        outcome = await harness.wait_applied(await harness.decide(approval.id, "approve", "ann"))
        assert outcome == f"approval #{approval.id} ({agent_id} pay) approved by ann"
        GATES["release"].set()
        await harness.wait_status(agent_id, [AgentStatus.COMPLETED])
    finally:
        await supervisor.stop()
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)]


async def test_an_approved_call_that_goes_in_doubt_stays_in_doubt_across_a_pause(
    harness: Harness,
) -> None:
    SENT.clear()
    policies = PolicySet(
        {"transferrer": AgentPolicy(tiers=(TierRule(tool="transfer", tier="approve"),))}
    )
    agent_id = await harness.submit("transferrer", "move 70")
    await harness.run_until_idle([TRANSFERRER], policies=policies)
    [asked] = await harness.waiting(agent_id)
    await harness.decide(asked.id, "approve")
    await harness.run_until_idle([TRANSFERRER], policies=policies)
    assert (await harness.record(agent_id)).status is AgentStatus.IN_DOUBT
    await enqueue_command(harness.db, "pause", agent_id, "oncall", 0)
    await enqueue_command(harness.db, "resume", agent_id, "oncall", 0)
    await harness.run_until_idle([TRANSFERRER], policies=policies)
    assert (await harness.record(agent_id)).status is AgentStatus.IN_DOUBT
    [in_doubt] = await harness.waiting(agent_id)
    assert in_doubt.kind is ApprovalKind.IN_DOUBT
    await harness.decide(in_doubt.id, "happened", result="bank says yes")
    await harness.run_until_idle([TRANSFERRER], policies=policies)
    record = await harness.record(agent_id)
    assert (record.status, record.result, len(SENT)) == (AgentStatus.COMPLETED, "bank says yes", 1)


async def test_an_escalated_approval_keeps_its_agent_escalated_across_a_pause(
    harness: Harness,
) -> None:
    escalating = _policies(on_expiry="escalate")
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))
    await _run(harness, escalating)
    harness.clock.advance(601)
    await _run(harness, escalating)
    assert (await harness.record(agent_id)).status is AgentStatus.ESCALATED
    await enqueue_command(harness.db, "pause", agent_id, "oncall", 0)
    await enqueue_command(harness.db, "resume", agent_id, "oncall", 0)
    await _run(harness, escalating)
    assert (await harness.record(agent_id)).status is AgentStatus.ESCALATED
    assert PAID == []
