"""The demo's scenario, headless: the shipped agents and policies, seeded as `controlroom demo`
seeds them, run by the real supervisor with no pace until every agent is done or waiting.

Each test checks that one pane of the control room has what the demo promises it: approvals
waiting, a quarantined and tainted researcher, a loop warned, gated and stopped, a budget
breaker, a notification, and a watcher paced by $CONTROLROOM_DEMO_PACE.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cr_support import REPO, Harness

from controlroom import demo
from controlroom.domain.approvals import Approval
from controlroom.domain.events import (
    BreakerTripped,
    MonitorAlert,
    NotificationSent,
    ResultQuarantined,
)
from controlroom.domain.models import AgentRecord, AgentState, AgentStatus
from controlroom.governance.policy_loader import load_policies
from controlroom.runtime.loader import load_agents
from controlroom.store import queries

# As `controlroom demo` loads them (the bundled agents, checked against the bundled policies).
AGENTS = load_agents(REPO / "agents")
POLICIES = load_policies(REPO / "policies", AGENTS)


@dataclass
class Scenario:
    """The seeded demo after a run: its harness and folder, and lookups by agent name."""

    harness: Harness
    paths: demo.DemoPaths

    async def agents(self, name: str) -> list[AgentRecord]:
        """The agents running `name`, in the order their tasks were queued."""
        return [a for a in await queries.list_agents(self.harness.db) if a.agent == name]

    async def one(self, name: str) -> AgentRecord:
        [record] = await self.agents(name)
        return record

    async def state(self, agent_id: str) -> AgentState:
        stored = await queries.load_agent(self.harness.db, agent_id)
        assert stored is not None and stored.state is not None
        return stored.state

    async def run(self) -> None:
        await self.harness.run_until_idle(AGENTS.values(), within_s=30, policies=POLICIES)


@pytest.fixture
async def scenario(harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The demo seeded into the harness's database and run to rest, at no pace."""
    monkeypatch.setenv(demo.PACE_ENV, "0")
    # `prepare` points the tools at the demo's folder; monkeypatch restores the variables.
    monkeypatch.setenv("CONTROLROOM_OUTBOX", "unset")
    monkeypatch.setenv("CONTROLROOM_LEDGER", "unset")
    paths = demo.demo_paths(tmp_path / "demo")
    demo.prepare(paths, reset=True)
    assert await demo.seed(harness.db.path, harness.clock.now_ms()) == len(demo.DEMO_TASKS)
    assert await demo.seed(harness.db.path, harness.clock.now_ms()) == 0, "seeded once"
    story = Scenario(harness, paths)
    await story.run()
    return story


async def _approvals(scenario: Scenario, name: str) -> list[Approval]:
    waiting = await scenario.harness.waiting()
    return [a for a in waiting if a.agent == name]


async def test_refunds_over_the_limit_wait_and_the_others_are_paid(scenario: Scenario) -> None:
    desks = await scenario.agents("refunds")
    assert [d.status for d in desks] == [AgentStatus.AWAITING_APPROVAL] * 2
    waiting = await _approvals(scenario, "refunds")
    # The two desks run side by side: their calls interleave in any order.
    assert sorted((a.tool, a.tier, a.amount) for a in waiting) == [
        ("issue_refund", "approve", 75.0),
        ("issue_refund", "approve", 420.0),
    ]
    ledger = [json.loads(line) for line in scenario.paths.ledger.read_text().splitlines()]
    assert sorted((e["order_id"], e["amount"]) for e in ledger) == [
        ("A-1001", 40.0),
        ("A-1002", 12.5),
        ("C-3107", 18.2),
    ]


async def test_the_researcher_is_quarantined_tainted_and_its_post_waits(
    scenario: Scenario,
) -> None:
    research = await scenario.one("research")
    entries = await scenario.harness.entries(research.id)
    [flagged] = [e.event for e in entries if isinstance(e.event, ResultQuarantined)]
    assert flagged.tool == "fetch_page"
    assert "ignore your previous instructions" in flagged.original
    trips = [e.event for e in entries if isinstance(e.event, BreakerTripped)]
    assert [(t.cause, t.action) for t in trips] == [("injection", "quarantine")]
    state = await scenario.state(research.id)
    assert state.tainted_by == "fetch_page at step 1"
    assert state.quarantined is not None
    assert research.status is AgentStatus.AWAITING_APPROVAL
    [post] = await _approvals(scenario, "research")
    assert post.tool == "post_summary"
    assert "untrusted content (fetch_page at step 1)" in post.why
    assert "[result withheld" in post.arguments["body"], "the injected page is not summarised"
    assert list(scenario.paths.outbox.glob("*.post")) == [], "nothing posted without approval"


async def test_the_ops_loop_is_warned_then_gated_then_stopped(scenario: Scenario) -> None:
    ops = await scenario.one("ops")
    entries = await scenario.harness.entries(ops.id)
    loop_alerts = [
        (e.step, e.event.tool, e.event.level)
        for e in entries
        if isinstance(e.event, MonitorAlert) and e.event.monitor == "loop"
    ]
    assert loop_alerts == [
        (3, "check_status", "warn"),
        (6, "restart_service", "approve"),
        (6, "check_status", "stop"),
    ]
    trips = [(e.step, e.event.cause) for e in entries if isinstance(e.event, BreakerTripped)]
    assert trips == [(6, "loop")]
    # The breaker tripped on the check of the very turn whose restart waits for a decision.
    assert ops.status is AgentStatus.AWAITING_APPROVAL
    [gated] = await _approvals(scenario, "ops")
    assert (gated.tool, gated.step) == ("restart_service", 6)
    assert "loop: a cycle of 2 calls repeated 5 times" in gated.why

    # The operator says no: the agent is then paused by its breaker, state kept.
    await scenario.harness.decide(gated.id, "deny", operator="oncall", note="stop restarting it")
    await scenario.run()
    ops = await scenario.one("ops")
    assert ops.status is AgentStatus.PAUSED
    assert "breaker tripped on loop" in (ops.error or "")


async def test_the_runaway_agent_is_paused_by_its_budget(scenario: Scenario) -> None:
    runaway = await scenario.one("runaway")
    entries = await scenario.harness.entries(runaway.id)
    trips = [e.event for e in entries if isinstance(e.event, BreakerTripped)]
    assert [(t.cause, t.action) for t in trips] == [("budget", "pause")]
    assert runaway.status is AgentStatus.PAUSED
    assert "breaker tripped on budget" in (runaway.error or "")
    state = await scenario.state(runaway.id)
    budget = POLICIES.for_agent("runaway").budget_usd
    assert budget is not None and state.cost_usd >= budget
    # Paused with its state kept: the pages it read are in its checkpoint.
    assert state.step == 5 and state.message_count > 2


async def test_restarts_in_the_notify_tier_are_announced(scenario: Scenario) -> None:
    ops = await scenario.one("ops")
    sent = [
        e.event
        for e in await scenario.harness.entries(kind="notification_sent")
        if isinstance(e.event, NotificationSent)
    ]
    notices = [n for n in sent if n.subject == f"Notice: {ops.id} ran restart_service"]
    assert len(notices) == 5, "one per restart that ran (the 6th waits for approval)"
    assert {(n.channel, n.target) for n in notices} == {("log", "log")}
    # Approval requests and breaker trips are announced too.
    requested = await scenario.harness.entries(kind="approval_requested")
    tripped = await scenario.harness.entries(kind="breaker_tripped")
    assert len(requested) == 5
    assert sum(n.subject.startswith("Approval #") for n in sent) == 4
    [escalated] = [n for n in sent if n.subject.startswith("Escalated #")]
    assert escalated.subject.endswith("research_team-1 subtask page2 failed")
    assert sum(n.subject.startswith("Breaker tripped") for n in sent) == len(tripped) == 4


async def test_the_watcher_and_the_mailer_finish(scenario: Scenario) -> None:
    watcher = await scenario.one("watcher")
    assert watcher.status is AgentStatus.COMPLETED
    assert watcher.result == "90 checks; deepest 56, within the limit of 60."
    assert [m.status for m in await scenario.agents("mailer")] == [AgentStatus.COMPLETED] * 2


@pytest.mark.parametrize(
    ("name", "tool", "arguments"),
    [
        ("research", "fetch_page", {"url": "https://status.example.com/payments"}),
        ("ops", "check_status", {"service": "billing"}),
        ("runaway", "read_logs", {"service": "checkout", "page": 1}),
        ("watcher", "check_queue", {"queue": "payments", "reading": 1}),
    ],
)
async def test_the_slow_tools_wait_the_pace(
    monkeypatch: pytest.MonkeyPatch, name: str, tool: str, arguments: dict[str, object]
) -> None:
    spec = AGENTS[name].tool(tool)
    assert spec is not None and not spec.effect.has_side_effects, "only waits that may be cut"
    monkeypatch.setenv(demo.PACE_ENV, "0.2")
    started = time.monotonic()
    await spec.fn(**arguments)
    assert time.monotonic() - started >= 0.2
    monkeypatch.setenv(demo.PACE_ENV, "0")
    started = time.monotonic()
    await spec.fn(**arguments)
    assert time.monotonic() - started < 0.1


def test_prepare_sets_the_default_pace_unless_one_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CONTROLROOM_OUTBOX", "CONTROLROOM_LEDGER", demo.PACE_ENV):
        monkeypatch.setenv(name, "placeholder")
    monkeypatch.delenv(demo.PACE_ENV)
    demo.prepare(demo.demo_paths(tmp_path / "a"), reset=False)
    assert os.environ[demo.PACE_ENV] == str(demo.DEFAULT_PACE_S)
    monkeypatch.setenv(demo.PACE_ENV, "0.5")
    demo.prepare(demo.demo_paths(tmp_path / "b"), reset=False)
    assert os.environ[demo.PACE_ENV] == "0.5"


async def test_the_research_teams_poisoned_reading_is_held_and_escalated(
    scenario: Scenario,
) -> None:
    """The team planned one reading per page; the status page's reading was sent back once
    for its source and then accepted; the forum's reader was quarantined by screening, its
    reading reached nobody, and that subtask waits for on-call while the team waits."""
    team = await scenario.one("research_team")
    assert team.status is AgentStatus.WAITING
    members = {r.id: r for r in await queries.list_agents(scenario.harness.db)}
    assert members[f"{team.id}.page1-2"].status is AgentStatus.COMPLETED
    assert "(source: https://status.example.com/payments)" in (
        members[f"{team.id}.page1-2"].result or ""
    )
    reader = members[f"{team.id}.page2-1"]
    assert reader.status is AgentStatus.QUARANTINED
    assert f"{team.id}.synth-1" not in members, "no synthesis while a subtask is open"
    briefs = [r.task for r in members.values() if r.parent_id == team.id]
    assert not any("ignore your previous instructions" in brief for brief in briefs)
    [escalated] = await _approvals(scenario, "research_team")
    assert (escalated.kind.value, escalated.tier) == ("subtask", "escalate")
    assert escalated.arguments["subtask"] == "page2"
    assert "its output is held for review" in escalated.why
    assert escalated.approvers_allowed == ("oncall",)
