"""Behavioural monitoring and the agent's breaker: rate limits, budgets, authority tiers,
quarantine, and a pause that does not wait for a slow model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from cr_support import Harness

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.models import AgentStatus, Usage
from controlroom.domain.specs import AgentSpec
from controlroom.governance.policy import (
    AgentPolicy,
    BreakerLimits,
    Price,
    RateLimit,
    TierRule,
)
from controlroom.governance.policy_loader import PolicySet
from controlroom.governance.ratelimit import RateLimiter, TokenBucket
from controlroom.providers.base import TurnRequest
from controlroom.providers.scripted import ScriptedModel
from controlroom.store import queries
from controlroom.store.costs import agent_spend
from controlroom.store.inbox import enqueue_command, submit_agent

SENT: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    SENT.clear()


@tool(effect="idempotent_by_key")
async def send(ctx: ToolContext, to: str) -> str:
    SENT.append(to)
    return "sent"


@tool
async def read(n: int) -> str:
    return f"page {n}"


@tool(effect="idempotent_by_key")
async def refund(ctx: ToolContext, order: str, amount: float) -> str:
    SENT.append(f"{order}:{amount:g}")
    return "refunded"


async def _eventually(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def _sends(count: int) -> AgentSpec:
    def script(view: ScriptView) -> Turn:
        if view.step <= count:
            return Turn.call("send", to=f"user{view.step}@example.com")
        return Turn.final("done")

    return agent(name="mailer", tools=[send, read], script=script)


# -- rate limits ------------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket.full(RateLimit(calls_per_minute=60, burst=2), now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert not bucket.take(0.5)  # half a token so far
    assert bucket.take(1.0)
    assert bucket.take(10.0) and bucket.take(10.0) and not bucket.take(10.0)  # capped at 2


def test_a_refused_call_takes_nothing_from_the_agents_overall_bucket() -> None:
    limiter = RateLimiter()
    policy = AgentPolicy(
        rate=RateLimit(calls_per_minute=1, burst=2),
        tool_rates={"send": RateLimit(calls_per_minute=1, burst=1)},
    )
    assert limiter.breach("a-1", "send", policy, 0.0) is None
    assert limiter.breach("a-1", "send", policy, 0.0) == (
        "send is limited to 1 calls a minute (bursts of 1)"
    )
    assert limiter.breach("a-1", "read", policy, 0.0) is None  # the second overall token
    assert limiter.breach("a-1", "read", policy, 0.0) == (
        "the agent is limited to 1 calls a minute (bursts of 2) in all"
    )
    assert limiter.breach("a-2", "read", policy, 0.0) is None  # another agent, own buckets


async def test_calls_over_the_rate_are_refused_and_pressing_on_trips_the_breaker(
    harness: Harness,
) -> None:
    agent_id = await harness.submit("mailer", "send eight")
    policy = AgentPolicy(
        tool_rates={"send": RateLimit(calls_per_minute=1, burst=2)},
        breaker=BreakerLimits(max_rate_breaches=2),
    )
    await harness.run_until_idle([_sends(8)], policies=PolicySet({"mailer": policy}))

    record = await harness.record(agent_id)
    assert record.status is AgentStatus.PAUSED
    assert record.error is not None and record.error.startswith(
        "breaker tripped on rate: 2 calls in a row over the limit: send is limited to"
    )
    assert SENT == ["user1@example.com", "user2@example.com"]
    alerts = [e.event.model_dump() for e in await harness.entries(agent_id, "monitor_alert")]
    rate_alerts = [(a["monitor"], a["level"]) for a in alerts if a["monitor"] != "novelty"]
    assert rate_alerts == [("rate", "deny")] * 2
    denied = [e.event.model_dump() for e in await harness.entries(agent_id, "tool_call_denied")]
    assert denied[0]["reason"].startswith("rate limit: send is limited to 1 calls a minute")
    trips = [e.event.model_dump() for e in await harness.entries(agent_id, "breaker_tripped")]
    assert [t["cause"] for t in trips] == ["rate"]

    # Resumed, the breach count starts afresh: two more sends fit the (new) bucket, then the
    # breaker trips again, at the same place in the script.
    await enqueue_command(harness.db, "resume", agent_id, "oncall", harness.clock.now_ms())
    await harness.run_until_idle([_sends(8)], policies=PolicySet({"mailer": policy}))
    assert SENT[2:] == ["user5@example.com", "user6@example.com"]
    assert (await harness.record(agent_id)).status is AgentStatus.PAUSED


# -- budgets ----------------------------------------------------------------------------------


def _spender(cost: float, steps: int) -> AgentSpec:
    def script(view: ScriptView) -> Turn:
        usage = Usage(input_tokens=100, output_tokens=10, cost_usd=cost)
        if view.step <= steps:
            return Turn(tool_calls=Turn.call("read", n=view.step).tool_calls, usage=usage)
        return Turn(text="done", usage=usage)

    return agent(name="spender", tools=[read], script=script)


async def test_reaching_the_budget_pauses_the_agent_with_its_state_and_a_raise_resumes_it(
    harness: Harness,
) -> None:
    record = await submit_agent(
        harness.db, "spender", "spend", "tester", None, harness.clock.now_ms()
    )
    spender = _spender(cost=0.25, steps=10)
    tight = PolicySet({"spender": AgentPolicy(budget_usd=1.0)})
    await harness.run_until_idle([spender], policies=tight)

    paused = await harness.record(record.id)
    assert paused.status is AgentStatus.PAUSED
    assert paused.error == "breaker tripped on budget: spent $1.0000 of a $1.0000 budget"
    stored = await queries.load_agent(harness.db, record.id)
    assert stored is not None and stored.state is not None
    # The fourth turn reached the budget: its call was refused, and no fifth turn was asked.
    assert stored.state.step == 4 and stored.state.cost_usd == pytest.approx(1.0)
    turns = await harness.entries(record.id, "model_turn")
    assert len(turns) == 4
    denied = [e.event.model_dump() for e in await harness.entries(record.id, "tool_call_denied")]
    assert [d["reason"] for d in denied] == [paused.error]

    # Resumed under a raised budget, it finishes where it stopped.
    await enqueue_command(harness.db, "resume", record.id, "oncall", harness.clock.now_ms())
    roomy = PolicySet({"spender": AgentPolicy(budget_usd=100.0)})
    await harness.run_until_idle([spender], policies=roomy)
    done = await harness.record(record.id)
    assert done.status is AgentStatus.COMPLETED, done.error
    assert len(await harness.entries(record.id, "model_turn")) == 11


async def test_the_task_budget_given_at_submit_counts_too(harness: Harness) -> None:
    record = await submit_agent(
        harness.db, "spender", "spend", "tester", 0.5, harness.clock.now_ms()
    )
    await harness.run_until_idle([_spender(cost=0.25, steps=10)])
    paused = await harness.record(record.id)
    assert paused.status is AgentStatus.PAUSED
    assert paused.error == "breaker tripped on budget: spent $0.5000 of a $0.5000 budget"


# -- authority tiers --------------------------------------------------------------------------


async def test_calls_above_the_autonomous_tier_do_not_run_without_approval(
    harness: Harness,
) -> None:
    """A call above the autonomous tier suspends the agent until an operator decides it:
    an approve-tier refund runs once approved (and only then), an escalated one that is
    denied never runs, and the agent goes on after each decision."""
    amounts = [20.0, 80.0, 9000.0, 50.0]

    def script(view: ScriptView) -> Turn:
        if view.step <= len(amounts):
            return Turn.call("refund", order=f"o{view.step}", amount=amounts[view.step - 1])
        return Turn.final("done")

    policy = AgentPolicy(
        tiers=(
            TierRule(tool="refund", argument="amount", at_most=50, tier="autonomous"),
            TierRule(tool="refund", argument="amount", above=50, at_most=5000, tier="approve"),
            TierRule(tool="refund", argument="amount", above=5000, tier="escalate"),
        )
    )
    desk = agent(name="desk", tools=[refund], script=script)
    policies = PolicySet({"desk": policy})
    agent_id = await harness.submit("desk", "refunds")
    await harness.run_until_idle([desk], policies=policies)

    # The approve tier: the agent waits at step 2, the refund not made.
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    assert SENT == ["o1:20"]
    [approval] = await harness.waiting(agent_id)
    assert (approval.step, approval.tool, approval.tier) == (2, "refund", "approve")
    assert approval.arguments == {"order": "o2", "amount": 80.0}
    assert approval.why == (
        "refund needs an operator's approval: its authority tier is approve "
        "(refund amount in (50, 5000] -> approve)"
    )
    [suspended] = [e.event.model_dump() for e in await harness.entries(agent_id, "agent_suspended")]
    assert suspended == {"approvals": (approval.id,), "status": "awaiting_approval"}

    # Approved: it runs (once), and the escalate tier stops the agent at step 3.
    await harness.decide(approval.id, "approve", note="a known customer")
    await harness.run_until_idle([desk], policies=policies)
    assert (await harness.record(agent_id)).status is AgentStatus.ESCALATED
    assert SENT == ["o1:20", "o2:80"]
    [escalation] = await harness.waiting(agent_id)
    assert (escalation.step, escalation.tier) == (3, "escalate")
    assert escalation.arguments == {"order": "o3", "amount": 9000.0}
    assert escalation.why == (
        "refund needs an operator's approval: its authority tier is escalate "
        "(refund amount in (5000, inf] -> escalate)"
    )

    # Denied: it never runs; the agent is told so and finishes its task.
    await harness.decide(escalation.id, "deny", note="far too much")
    await harness.run_until_idle([desk], policies=policies)
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED and record.result == "done"
    assert SENT == ["o1:20", "o2:80", "o4:50"]
    assert not await harness.waiting(agent_id)
    requested = await harness.entries(agent_id, "approval_requested")
    assert [(e.step, e.event.model_dump()["tier"]) for e in requested] == [
        (2, "approve"),
        (3, "escalate"),
    ]
    denied = [e.event.model_dump() for e in await harness.entries(agent_id, "tool_call_denied")]
    assert [d["reason"] for d in denied] == ["tester denied it: far too much"]
    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None
    told = [m.content for m in stored.messages if m.role == "tool"]
    assert told == ["refunded", "refunded", "denied: tester denied it: far too much", "refunded"]
    # Each suspended step was replayed from its recorded turn, not asked again.
    turns = await harness.entries(agent_id, "model_turn")
    assert [e.step for e in turns] == [1, 2, 3, 4, 5]


# -- quarantine -------------------------------------------------------------------------------


async def test_a_quarantined_agent_runs_on_but_its_effects_and_result_are_held(
    harness: Harness,
) -> None:
    """Quarantined mid-task, the agent runs on, but its next side-effecting call waits for
    an approval (the agent suspended, the call not made); denied, it never runs, and the
    final result is held for review."""
    gate = asyncio.Event()

    @tool
    async def wait_here(n: int) -> str:
        await gate.wait()
        return "waited"

    def script(view: ScriptView) -> Turn:
        if view.step == 1:
            return Turn.call("send", to="before@example.com")
        if view.step == 2:
            return Turn.call("wait_here", n=1)
        if view.step == 3:
            return Turn.call("send", to="after@example.com")
        return Turn.final("the report")

    spec = agent(name="q", tools=[send, wait_here], script=script)
    agent_id = await harness.submit("q", "work")
    supervisor = harness.supervisor([spec])
    await supervisor.start()
    try:
        await harness.wait_status(agent_id, [AgentStatus.RUNNING])
        await _eventually(lambda: bool(SENT))
        await enqueue_command(harness.db, "quarantine", agent_id, "oncall", 0)
        outcome = None
        while outcome is None:
            await supervisor.poll_once()
            _state, outcome = await queries.command_outcome(harness.db, 1)
        assert outcome == f"quarantined {agent_id}: outputs held for review"
        gate.set()
        await harness.wait_status(agent_id, [AgentStatus.AWAITING_APPROVAL])
    finally:
        await supervisor.stop()

    assert SENT == ["before@example.com"]
    [approval] = await harness.waiting(agent_id)
    assert (approval.step, approval.tool, approval.tier) == (3, "send", "approve")
    assert approval.arguments == {"to": "after@example.com"}
    assert approval.why == (
        "send needs an operator's approval: the agent is quarantined (quarantined by oncall)"
    )

    await harness.decide(approval.id, "deny", note="not while quarantined")
    await harness.run_until_idle([spec])
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.QUARANTINED
    assert record.result == "the report" and record.error == "quarantined by oncall"
    assert SENT == ["before@example.com"]
    denied = [e.event.model_dump() for e in await harness.entries(agent_id, "tool_call_denied")]
    assert [d["reason"] for d in denied] == ["tester denied it: not while quarantined"]
    assert len(await harness.entries(agent_id, "agent_quarantined")) == 1


async def test_quarantining_a_paused_agent_holds_it_when_it_resumes(harness: Harness) -> None:
    """A quarantine is refused for an agent that never started; for one paused mid-task it
    waits in the checkpoint: resumed, the agent's next send waits for an approval, runs
    once approved, and the final result is held."""
    agent_id = await harness.submit("mailer", "send two")
    await enqueue_command(harness.db, "pause", agent_id, "oncall", 0)
    await harness.run_until_idle([_sends(2)])  # queued then paused: never started
    await enqueue_command(harness.db, "quarantine", agent_id, "oncall", 0)
    await harness.run_until_idle([_sends(2)])
    outcome = (await queries.command_outcome(harness.db, 2))[1]
    assert outcome == f"not quarantined: {agent_id} has not started (pause or terminate it instead)"

    # Started, paused mid-way, then quarantined: the mark waits in its checkpoint.
    started = await harness.submit("mailer", "send two")
    signals = {"first": asyncio.Event()}

    def script(view: ScriptView) -> Turn:
        if view.step <= 2:
            return Turn.call("send", to=f"user{view.step}@example.com")
        return Turn.final("done")

    @tool(effect="idempotent_by_key")
    async def send(ctx: ToolContext, to: str) -> str:  # a slower twin of `send`
        SENT.append(to)
        signals["first"].set()
        await asyncio.sleep(0.05)
        return "sent"

    slow = agent(name="mailer", tools=[send], script=script)
    supervisor = harness.supervisor([slow])
    await supervisor.start()
    try:
        await signals["first"].wait()
        await enqueue_command(harness.db, "pause", started, "oncall", 0)
        await harness.wait_status(started, [AgentStatus.PAUSED])
    finally:
        await supervisor.stop()
    assert SENT == ["user1@example.com"]
    await enqueue_command(harness.db, "quarantine", started, "oncall", 0)
    await enqueue_command(harness.db, "resume", started, "oncall", 0)
    await harness.run_until_idle([slow])
    assert (await harness.record(started)).status is AgentStatus.AWAITING_APPROVAL
    assert SENT == ["user1@example.com"]  # the second send waits for an approval
    [approval] = await harness.waiting(started)
    assert (approval.step, approval.tool) == (2, "send")
    assert approval.arguments == {"to": "user2@example.com"}
    assert approval.why == (
        "send needs an operator's approval: the agent is quarantined (quarantined by oncall)"
    )

    # Approved, the send runs exactly once; the result is still held for review.
    await harness.decide(approval.id, "approve", note="checked the recipient")
    await harness.run_until_idle([slow])
    record = await harness.record(started)
    assert record.status is AgentStatus.QUARANTINED and record.result == "done"
    assert SENT == ["user1@example.com", "user2@example.com"]
    assert not await harness.entries(started, "tool_call_denied")


# -- a pause does not wait for a slow model --------------------------------------------------


class _SlowModel:
    """A model whose turns take as long as the test wants (a real one can take minutes)."""

    def __init__(self, spec: AgentSpec, release: asyncio.Event, asked: list[int]) -> None:
        self._scripted = ScriptedModel(spec.script) if spec.script else None
        self._release = release
        self._asked = asked

    async def turn(self, request: TurnRequest) -> Turn:
        self._asked.append(request.step)
        await self._release.wait()
        assert self._scripted is not None
        return await self._scripted.turn(request)


async def test_pause_abandons_a_model_turn_in_flight_and_resume_asks_again(
    harness: Harness,
) -> None:
    release = asyncio.Event()
    asked: list[int] = []
    mailer = _sends(2)
    ids = [await harness.submit("mailer", f"task {n}") for n in range(20)]
    supervisor = harness.supervisor(
        [mailer], model_for=lambda spec: _SlowModel(spec, release, asked)
    )
    await supervisor.start()
    try:
        await _eventually(lambda: len(asked) == 20)
        await enqueue_command(harness.db, "kill-switch", "*", "oncall", 0)
        async with asyncio.timeout(5):  # the turns would never finish: only abandoning works
            for agent_id in ids:
                await harness.wait_status(agent_id, [AgentStatus.PAUSED])
    finally:
        await supervisor.stop()
    assert SENT == []
    for agent_id in ids:
        stored = await queries.load_agent(harness.db, agent_id)
        assert stored is not None and stored.state is not None and stored.state.step == 0
        assert not await harness.entries(agent_id, "model_turn")
        # The abandoned request is on the record as a turn of unknown cost, not forgotten.
        assert stored.state.unknown_cost_turns == 1
        [lost] = await harness.entries(agent_id, "model_turn_lost")
        assert lost.step == 1 and "paused" in lost.event.reason  # type: ignore[attr-defined]

    release.set()
    for agent_id in ids:
        await enqueue_command(harness.db, "resume", agent_id, "oncall", 0)
    await harness.run_until_idle([mailer], model_for=lambda spec: _SlowModel(spec, release, asked))
    for agent_id in ids:
        assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
        assert len(await harness.entries(agent_id, "model_turn_lost")) == 1
    assert sorted(SENT) == sorted(f"user{n}@example.com" for n in (1, 2) for _ in ids)


async def test_a_request_a_stop_abandons_counts_once_as_unknown_cost(harness: Harness) -> None:
    """Stopping the supervisor abandons a request in flight: it is journaled as lost (its
    cost unknown) with the state saying so, and the clean restart after it, which asks
    again, adds no second one (only a supervisor that died leaves requests in doubt)."""
    release = asyncio.Event()
    asked: list[int] = []
    mailer = _sends(1)
    priced = PolicySet(prices={"scripted": Price(input_per_million=1, output_per_million=1)})
    agent_id = await harness.submit("mailer", "task")
    supervisor = harness.supervisor(
        [mailer], priced, model_for=lambda spec: _SlowModel(spec, release, asked)
    )
    await supervisor.start()
    try:
        await _eventually(lambda: asked == [1])
    finally:
        await supervisor.stop()
    [lost] = await harness.entries(agent_id, "model_turn_lost")
    assert lost.step == 1 and "supervisor stopped" in lost.event.reason  # type: ignore[attr-defined]
    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None and stored.state is not None
    assert stored.state.unknown_cost_turns == 1

    release.set()
    await harness.run_until_idle(
        [mailer], policies=priced, model_for=lambda spec: _SlowModel(spec, release, asked)
    )
    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    assert asked == [1, 1, 2]
    assert len(await harness.entries(agent_id, "model_turn_lost")) == 1
    spend = {s.agent_id: s for s in await agent_spend(harness.db)}[agent_id]
    assert (spend.turns, spend.lost_turns, spend.unknown_cost_turns) == (2, 1, 1)
    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None and stored.state is not None
    assert stored.state.unknown_cost_turns == 1


def _send_then_slow_read(release: asyncio.Event, reads: list[int]) -> AgentSpec:
    """An agent whose first turn sends (a side effect) and then reads until `release` is set
    (safe to abandon); each turn costs something, so double-counted turns would show."""

    @tool
    async def slow_read(n: int) -> str:
        reads.append(n)
        await release.wait()
        return f"page {n}"

    def script(view: ScriptView) -> Turn:
        if view.step == 1:
            return Turn(
                tool_calls=(
                    *Turn.call("send", to="once@example.com").tool_calls,
                    *Turn.call("slow_read", n=1).tool_calls,
                ),
                usage=Usage(input_tokens=10, output_tokens=5, cost_usd=0.5),
            )
        return Turn(text="done", usage=Usage(input_tokens=10, output_tokens=1, cost_usd=0.25))

    return agent(name="reader", tools=[send, slow_read], script=script)


async def test_pause_abandons_a_read_only_tool_and_resume_reuses_the_recorded_turn(
    harness: Harness,
) -> None:
    release = asyncio.Event()
    reads: list[int] = []

    reader = _send_then_slow_read(release, reads)
    agent_id = await harness.submit("reader", "read")
    supervisor = harness.supervisor([reader])
    await supervisor.start()
    try:
        await _eventually(lambda: bool(reads))
        await enqueue_command(harness.db, "pause", agent_id, "oncall", 0)
        async with asyncio.timeout(5):
            await harness.wait_status(agent_id, [AgentStatus.PAUSED])
    finally:
        await supervisor.stop()
    assert SENT == ["once@example.com"]

    release.set()
    await enqueue_command(harness.db, "resume", agent_id, "oncall", 0)
    await harness.run_until_idle([reader])
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED
    assert SENT == ["once@example.com"]  # the side effect before the pause is not redone
    assert reads == [1, 1]  # the abandoned read runs again
    assert len(await harness.entries(agent_id, "model_turn")) == 2  # step 1's turn reused
    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None and stored.state is not None
    # The abandoned step's accounting was undone: each turn is charged once.
    assert stored.state.cost_usd == 0.75 and stored.state.input_tokens == 20


# -- novelty ----------------------------------------------------------------------------------


async def test_a_first_tool_or_destination_for_an_agent_is_an_alert_once_per_database(
    harness: Harness,
) -> None:
    recipients = ["a@example.com", "b@example.com", "x@elsewhere.test"]

    def script(view: ScriptView) -> Turn:
        if view.step <= len(recipients):
            return Turn.call("send", to=recipients[view.step - 1])
        if view.step == len(recipients) + 1:
            return Turn.call("read", n=1)
        return Turn.final("done")

    mailer = agent(name="mailer", tools=[send, read], script=script)
    first = await harness.submit("mailer", "first")
    await harness.run_until_idle([mailer])
    alerts = [
        e.event.model_dump()["detail"]
        for e in await harness.entries(first, "monitor_alert")
        if e.event.model_dump()["monitor"] == "novelty"
    ]
    assert alerts == [
        "first use of send by mailer",
        "first call of mailer to example.com (through send)",
        "first call of mailer to elsewhere.test (through send)",
        "first use of read by mailer",
    ]

    # Another task of the same agent, under a new supervisor: nothing is new any more,
    # except what is.
    recipients[1] = "y@new.example"
    second = await harness.submit("mailer", "second")
    await harness.run_until_idle([mailer])
    details = [
        e.event.model_dump()["detail"] for e in await harness.entries(second, "monitor_alert")
    ]
    assert details == ["first call of mailer to new.example (through send)"]


async def test_stopping_the_supervisor_abandons_a_slow_read_and_keeps_known_outcomes(
    harness: Harness,
) -> None:
    """Shutdown does not wait out a slow read (or model turn, which may take minutes): it is
    abandoned, the outcomes the step already had are kept, and the next start goes on."""
    release = asyncio.Event()
    reads: list[int] = []

    reader = _send_then_slow_read(release, reads)
    agent_id = await harness.submit("reader", "read")
    supervisor = harness.supervisor([reader], shutdown_grace_s=30)
    await supervisor.start()
    await _eventually(lambda: bool(reads))
    async with asyncio.timeout(5):  # far less than the grace period: nothing is waited out
        await supervisor.stop()
    assert (await harness.record(agent_id)).status is AgentStatus.RUNNING
    assert len(await harness.entries(agent_id, "tool_call_succeeded")) == 1  # the send's

    release.set()
    await harness.run_until_idle([reader])
    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    assert SENT == ["once@example.com"]  # its outcome was kept: not sent again
    assert reads == [1, 1]


async def test_a_turn_of_several_calls_over_budget_trips_the_breaker_once(
    harness: Harness,
) -> None:
    def script(view: ScriptView) -> Turn:
        usage = Usage(input_tokens=10, output_tokens=10, cost_usd=2.0)
        calls = (*Turn.call("read", n=1).tool_calls, *Turn.call("read", n=2).tool_calls)
        return Turn(tool_calls=calls, usage=usage)

    agent_id = await harness.submit("spender", "spend")
    spender = agent(name="spender", tools=[read], script=script)
    await harness.run_until_idle(
        [spender], policies=PolicySet({"spender": AgentPolicy(budget_usd=1.0)})
    )
    assert (await harness.record(agent_id)).status is AgentStatus.PAUSED
    assert len(await harness.entries(agent_id, "breaker_tripped")) == 1
    assert len(await harness.entries(agent_id, "tool_call_denied")) == 2
