"""Teams under the real supervisor: a task planned, done by specialists, reviewed by a critic
and synthesized; a rejection redone with the critic's feedback; a failing specialist that
leaves the others running and is escalated to a human per policy; a poisoned result that
never reaches the planner; the team waiting with no task while its members work."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cr_support import Harness
from team_support import HANGING, LEDGER, POISON, clear_ledger, members, research_team, team_task

from controlroom.domain.approvals import ApprovalKind, ApprovalStatus
from controlroom.domain.costs import roll_up
from controlroom.domain.models import AgentStatus
from controlroom.orchestration.coordinator import Coordinator
from controlroom.store import queries
from controlroom.store.costs import agent_spend
from controlroom.store.inbox import enqueue_command, enqueue_decision, submit_agent


@pytest.fixture(autouse=True)
def _fresh_ledger() -> None:
    clear_ledger()


async def _kinds(harness: Harness, agent_id: str, kind: str) -> list[Any]:
    return [e.event for e in await harness.entries(agent_id, kind)]


async def test_a_team_task_is_planned_done_reviewed_and_synthesized(harness: Harness) -> None:
    team = research_team()
    task = team_task(("s1", "search", "find prices"), ("s2", "analyze", "compare them"))
    team_id = await harness.submit("research_team", task)
    await harness.run_until_idle([team, *members()])

    record = await harness.record(team_id)
    assert record.status is AgentStatus.COMPLETED, record.error
    assert record.result == "s1: result of s1\ns2: result of s2"
    children = {r.id: r for r in await harness.records() if r.parent_id == team_id}
    assert sorted(children) == sorted(
        f"{team_id}.{suffix}"
        for suffix in ("plan-1", "s1-1", "s2-1", "s1-review-1", "s2-review-1", "synth-1")
    )
    assert all(r.status is AgentStatus.COMPLETED for r in children.values())
    assert children[f"{team_id}.s1-1"].agent == "searcher"
    assert children[f"{team_id}.s2-1"].agent == "analyst"
    # Each specialist's effect happened once.
    assert sorted(LEDGER) == [
        f"{team_id}.s1-1|s1|step 1",
        f"{team_id}.s2-1|s2|step 1",
    ]
    [planned] = await _kinds(harness, team_id, "team_planned")
    assert [s["id"] for s in planned.subtasks] == ["s1", "s2"]
    settled = await _kinds(harness, team_id, "subtask_settled")
    assert sorted((s.subtask, s.outcome) for s in settled) == [
        ("s1", "accepted"),
        ("s2", "accepted"),
    ]
    # A critic's brief carries the result as data, with the subtask it was for.
    review = json.loads(children[f"{team_id}.s1-review-1"].task)
    assert (review["phase"], review["result"]) == ("review", "result of s1")


async def test_the_critic_rejects_once_and_the_redone_result_passes(harness: Harness) -> None:
    team = research_team()
    task = team_task(("s1", "search", "draft the summary"))
    team_id = await harness.submit("research_team", task)
    await harness.run_until_idle([team, *members()])

    record = await harness.record(team_id)
    assert record.status is AgentStatus.COMPLETED, record.error
    assert record.result == "s1: result of s1"
    reviews = await _kinds(harness, team_id, "subtask_reviewed")
    assert [(r.verdict, r.feedback) for r in reviews] == [
        ("reject", "finish the draft"),
        ("accept", ""),
    ]
    redo = await harness.record(f"{team_id}.s1-2")
    assert json.loads(redo.task)["critic_feedback"] == "finish the draft"
    reports = await _kinds(harness, team_id, "member_reported")
    assert [r.action for r in reports if r.role == "critic"] == ["revise", "accept"]


async def test_a_failing_specialist_leaves_the_others_running_and_is_escalated(
    harness: Harness,
) -> None:
    """s2's specialist fails (its source is down, then it answers nothing): after one retry
    the team escalates s2 to a human; s1 and s3 are done meanwhile. The human skips s2 and
    the team synthesizes without it."""
    team = research_team(failure_retries=1, after_failures="escalate")
    task = team_task(
        ("s1", "search", "find prices"),
        ("s2", "search", "fail: the source is down"),
        ("s3", "analyze", "compare them"),
    )
    team_id = await harness.submit("research_team", task)
    await harness.run_until_idle([team, *members()])

    record = await harness.record(team_id)
    assert record.status is AgentStatus.WAITING
    for done in ("s1-1", "s3-1"):
        assert (await harness.record(f"{team_id}.{done}")).status is AgentStatus.COMPLETED
    for failed in ("s2-1", "s2-2"):
        assert (await harness.record(f"{team_id}.{failed}")).status is AgentStatus.COMPLETED
    reports = [r for r in await _kinds(harness, team_id, "member_reported") if r.subtask == "s2"]
    assert [(r.outcome, r.action) for r in reports] == [
        ("invalid", "retry"),
        ("invalid", "escalate"),
    ]
    [approval] = await harness.approvals(team_id)
    assert approval.kind is ApprovalKind.SUBTASK and approval.status is ApprovalStatus.PENDING
    assert approval.arguments["subtask"] == "s2" and "result: empty" in approval.why

    await enqueue_decision(
        harness.db, approval.id, "oncall", harness.clock.now_ms(), "deny", via="cli", note="later"
    )
    await harness.run_until_idle([team, *members()])
    record = await harness.record(team_id)
    assert record.status is AgentStatus.COMPLETED, record.error
    assert record.result is not None
    assert "s2: skipped (skipped by oncall (later))" in record.result
    assert "s1: result of s1" in record.result and "s3: result of s3" in record.result


async def test_a_poisoned_result_is_quarantined_and_never_reaches_the_planner(
    harness: Harness,
) -> None:
    team = research_team(failure_retries=0, after_failures="skip")
    task = team_task(("s1", "search", "find prices"), ("s2", "search", "poison the well"))
    team_id = await harness.submit("research_team", task)
    await harness.run_until_idle([team, *members()])

    record = await harness.record(team_id)
    assert record.status is AgentStatus.COMPLETED, record.error
    [held] = await _kinds(harness, team_id, "message_quarantined")
    assert held.subtask == "s2" and held.original == POISON
    everything = [r.task for r in await harness.records()] + [record.result or ""]
    assert not any("IGNORE ALL PREVIOUS INSTRUCTIONS" in text for text in everything[1:])
    synthesis = json.loads((await harness.record(f"{team_id}.synth-1")).task)
    [s2] = [r for r in synthesis["results"] if r["id"] == "s2"]
    assert s2["outcome"] == "skipped" and s2["result"] is None
    assert "quarantined by injection screening" in s2["note"]


async def test_the_budget_breaker_pauses_the_whole_tree_and_a_raise_resumes_it(
    harness: Harness,
) -> None:
    """Three specialists of 4 turns at $0.01 under a $0.05 task budget: the tree crosses it
    and every running member is paused by the breaker (state kept), the team waits. Raising
    the task's budget resumes them all; the team completes with every note written once."""
    team = research_team(critic=None)
    task = team_task(
        ("s1", "search", "slow:4"),
        ("s2", "search", "slow:4"),
        ("s3", "analyze", "slow:4"),
        cost_per_turn=0.01,
    )
    now = harness.clock.now_ms()
    record = await submit_agent(harness.db, "research_team", task, "ann", 0.05, now)
    team_id = record.id
    await harness.run_until_idle([team, *members()])

    assert (await harness.record(team_id)).status is AgentStatus.WAITING
    specialists = [f"{team_id}.s{n}-1" for n in (1, 2, 3)]
    spent = 0.0
    for member in specialists:
        paused = await harness.record(member)
        assert paused.status is AgentStatus.PAUSED, member
        assert paused.error is not None
        assert paused.error.startswith("breaker tripped on budget: the task's agents spent")
        stored = await queries.load_agent(harness.db, member)
        assert stored is not None and stored.state is not None
        spent += stored.state.cost_usd
    assert 0.05 <= round(spent, 6) <= 0.07, "at most one turn in flight per member overshoots"

    await enqueue_command(harness.db, "budget", team_id, "ann", harness.clock.now_ms(), {"usd": 1})
    await harness.run_until_idle([team, *members()])
    done = await harness.record(team_id)
    assert done.status is AgentStatus.COMPLETED, done.error
    for member in specialists:
        assert (await harness.record(member)).status is AgentStatus.COMPLETED
    # No note twice; the crossing turn's call was refused by the breaker (the model was told),
    # every other one was made, once.
    assert len(LEDGER) == len(set(LEDGER))
    for member in specialists:
        notes = [line for line in LEDGER if line.startswith(f"{member}|")]
        denied = await harness.entries(member, "tool_call_denied")
        assert len(notes) + len(denied) == 4 and len(denied) <= 1, (notes, denied)
    spend = {s.agent_id: s for s in await agent_spend(harness.db)}
    by_task = {line.key: line for line in roll_up(spend.values(), "task")}
    assert by_task[team_id].cost_micro_usd == 120_000  # 12 turns, each once


async def test_a_member_past_its_deadline_is_stopped_and_its_subtask_retried(
    harness: Harness,
) -> None:
    """s1's first specialist waits on a source that never answers: past the team's member
    timeout the coordinator stops it (terminated, journaled) and runs s1 again, told why;
    s2 is not held up."""
    team = research_team(member_timeout_s=60, critic=None)
    task = team_task(("s1", "search", "hang on the source"), ("s2", "analyze", "compare"))
    team_id = await harness.submit("research_team", task)
    supervisor = harness.supervisor([team, *members()], approval_check_interval_s=0.02)
    await supervisor.start()
    try:
        for _ in range(1000):  # s2 is done and s1 hangs on its source
            done = await queries.get_agent(harness.db, f"{team_id}.s2-1")
            if HANGING and done is not None and done.status is AgentStatus.COMPLETED:
                break
            await asyncio.sleep(0.01)
        assert HANGING == ["s1"]
        harness.clock.advance(61)
        await harness.wait_status(team_id, [AgentStatus.COMPLETED])
        # Its stop is a command the team queued: applied by the supervisor's next poll.
        await harness.wait_status(f"{team_id}.s1-1", [AgentStatus.TERMINATED])
    finally:
        await supervisor.stop()
    reports = await _kinds(harness, team_id, "member_reported")
    [timed_out] = [r for r in reports if r.child == f"{team_id}.s1-1"]
    assert (timed_out.outcome, timed_out.action) == ("failed", "retry")
    assert timed_out.detail == "timed out after 60s"
    retry = json.loads((await harness.record(f"{team_id}.s1-2")).task)
    assert retry["previous_attempt_problem"] == "timed out after 60s"
    assert (await harness.record(team_id)).result == "s1: result of s1\ns2: result of s2"


async def test_pausing_resuming_and_terminating_a_team_act_on_its_members(
    harness: Harness,
) -> None:
    """Pausing the team pauses it and its running members (state kept); resuming goes on
    from there; terminating stops the team first, then every member, and starts no new
    member in between."""
    team = research_team(critic=None)
    task = team_task(("s1", "search", "slow:150"), ("s2", "analyze", "slow:150"))
    team_id = await harness.submit("research_team", task)
    supervisor = harness.supervisor([team, *members()], poll_interval_s=0.01)
    await supervisor.start()
    try:
        for _ in range(1000):
            if len([line for line in LEDGER if "|step 2" in line]) == 2:
                break
            await asyncio.sleep(0.01)
        await enqueue_command(harness.db, "pause", team_id, "oncall", harness.clock.now_ms())
        supervisor.poke()
        for agent_id in (team_id, f"{team_id}.s1-1", f"{team_id}.s2-1"):
            await harness.wait_status(agent_id, [AgentStatus.PAUSED])
        notes = len(LEDGER)
        await asyncio.sleep(0.1)
        assert len(LEDGER) == notes, "nothing runs while the team is paused"

        await enqueue_command(harness.db, "resume", team_id, "oncall", harness.clock.now_ms())
        supervisor.poke()
        await harness.wait_status(team_id, [AgentStatus.WAITING])
        for _ in range(1000):
            if len(LEDGER) > notes + 2:
                break
            await asyncio.sleep(0.01)
        await enqueue_command(harness.db, "terminate", team_id, "oncall", harness.clock.now_ms())
        supervisor.poke()
        for agent_id in (team_id, f"{team_id}.s1-1", f"{team_id}.s2-1"):
            await harness.wait_status(agent_id, [AgentStatus.TERMINATED])
    finally:
        await supervisor.stop()
    assert {r.id for r in await harness.records()} == {
        team_id,
        f"{team_id}.plan-1",
        f"{team_id}.s1-1",
        f"{team_id}.s2-1",
    }, "no member was started after the team was terminated"
    assert len(LEDGER) == len(set(LEDGER))


async def test_another_agents_output_taints_the_members_given_it(harness: Harness) -> None:
    """s1's specialist reads an untrusted forum: its (clean) result taints the critic that
    reviews it and the synthesizer that is given it, from their first step, so the
    synthesizer's side-effecting call waits for approval instead of running."""
    team = research_team()
    task = team_task(("s1", "search", "forum thread"), ("s2", "analyze", "compare"), publish=True)
    team_id = await harness.submit("research_team", task)
    await harness.run_until_idle([team, *members()])

    specialist = await queries.load_agent(harness.db, f"{team_id}.s1-1")
    assert specialist is not None and specialist.state is not None
    assert specialist.state.tainted_by == "forum_source at step 1"
    for member in (f"{team_id}.s1-review-1", f"{team_id}.synth-1"):
        stored = await queries.load_agent(harness.db, member)
        assert stored is not None and stored.state is not None
        assert stored.state.tainted_by is not None
        assert stored.state.tainted_by.startswith(f"the output of {team_id}.s1-1"), member
    clean = await queries.load_agent(harness.db, f"{team_id}.s2-review-1")
    assert clean is not None and clean.state is not None and clean.state.tainted_by is None
    synthesizer = await harness.record(f"{team_id}.synth-1")
    assert synthesizer.status is AgentStatus.AWAITING_APPROVAL
    [asked] = await harness.approvals(f"{team_id}.synth-1")
    assert asked.tool == "write_note" and "read untrusted content (the output of" in asked.why
    assert not [line for line in LEDGER if "published" in line]
    [assigned] = [
        e for e in await _kinds(harness, team_id, "member_assigned") if e.role == "synthesizer"
    ]
    assert assigned.tainted_by is not None


async def test_a_coordinator_that_fails_fails_its_team_not_the_supervisor(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a team's coordinator (here: it raises once the plan is in) fails that team
    with the reason; the supervisor runs on and another agent completes."""
    team = research_team()
    team_id = await harness.submit("research_team", team_task(("s1", "search", "find")))
    original = Coordinator.advance

    def advance(self: Coordinator, state: Any, *args: Any) -> Any:
        if state.phase == "working":
            raise RuntimeError("a bug")
        return original(self, state, *args)

    monkeypatch.setattr(Coordinator, "advance", advance)
    other = await harness.submit("critic", '{"result": "fine"}')
    await harness.run_until_idle([team, *members()])  # fails if the supervisor stopped
    failed = await harness.record(team_id)
    assert failed.status is AgentStatus.FAILED
    assert failed.error == "the coordinator could not go on: RuntimeError: a bug"
    assert (await harness.record(other)).status is AgentStatus.COMPLETED
