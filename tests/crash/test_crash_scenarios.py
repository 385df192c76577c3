"""Named crash scenarios: SIGKILL (a) during a model turn, (b) after a side-effecting tool
started and before its result was recorded, (c) between steps, (d) while 50 agents are
committing; and what a crash does to a rollback and to a queued operator command.
Supervisors are forked from this process (see crashkit.py) and kill themselves at a crash
point; relaunches run without one. Each test ends with `raise_problems`: every violation
of the invariants checked in crashkit.py, at every stage, fails it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from crashkit import SIGKILLED, CrashLab, Facts, connect

from controlroom.domain.models import AgentState

Mix = Callable[..., list[tuple[str, str]]]


def _turns(facts: Facts, agent_id: str) -> list[int]:
    return sorted(e["step"] for e in facts.of(agent_id, "model_turn"))


# -- (a) during a model turn -----------------------------------------------------------------


@pytest.mark.parametrize("point", ["before-model-turn:3", "after-model-turn:3"])
def test_kill_during_model_turn(crashlab: CrashLab, point: str) -> None:
    """The third turn is being asked for (before) or was received and not yet journaled
    (after): it is not in the journal, and the relaunch asks again, once. The request the
    crash cut is journaled as lost (once, cost unknown) and `costs` says it leaves it out."""
    lab = crashlab
    [agent_id] = lab.submit([("idem", "4")])
    killed = lab.expect_killed(lab.run_fork(point))
    facts = lab.verify("after the kill")
    assert 3 not in _turns(facts, agent_id), "a turn that was never journaled is in the journal"
    assert killed.steps[agent_id] <= 2
    assert all(r["step"] < 3 for r in facts.effects(agent_id))

    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", final=True)
    assert facts.statuses[agent_id] == "completed"
    assert _turns(facts, agent_id) == [1, 2, 3, 4, 5], "one journaled model turn per step"
    assert [r["step"] for r in facts.effects(agent_id)] == [1, 2, 3, 4]
    [lost] = facts.of(agent_id, "model_turn_lost")
    assert lost["step"] == 3 and "died" in json.loads(lost["data"])["reason"]
    report = lab.cli_fork([["costs", "--json"]])
    assert report.returncode == 0, report.describe()
    costs = json.loads(report.stdout.read_text())
    assert (costs["lost_turns"], costs["unknown_cost_turns"]) == (1, 1)
    assert "1 of them request(s) cut short by a stop or a crash" in costs["excludes"]
    lab.raise_problems()


# -- (b) after a side-effecting call started, before its result was recorded ----------------


@pytest.mark.parametrize("point", ["after-intent-commit:2", "after-tool-effect:2"])
@pytest.mark.parametrize("kind", ["idem", "recon", "unsafe"])
def test_kill_between_tool_start_and_result(crashlab: CrashLab, kind: str, point: str) -> None:
    """The second call is journaled as started; the tool has not run (after-intent-commit)
    or has run (after-tool-effect); its result is not journaled.

    idem: re-sent with the same key, the receiver applies it once. recon: looked up first,
    so it takes effect once. unsafe: the agent stops in_doubt and the effect never repeats,
    however often the supervisor is relaunched.
    """
    lab = crashlab
    [agent_id] = lab.submit([(kind, "3")])
    killed = lab.expect_killed(lab.run_fork(point))
    facts = lab.verify("after the kill")
    [intent] = [e for e in facts.of(agent_id, "tool_call_started") if e["step"] == 2]
    key = intent["payload"]["key"]
    assert not [e for e in facts.of(agent_id, "tool_call_succeeded") if e["step"] == 2]
    effect_before = [r for r in facts.effects(agent_id) if r["step"] == 2]
    tool_ran = point.startswith("after-tool-effect")
    assert [r["key"] for r in effect_before] == ([key] if tool_ran else [])

    lab.relaunch_until_idle(killed)
    if kind == "unsafe":
        # Relaunch again: an in-doubt agent is never retried automatically.
        lab.relaunch_until_idle()
    facts = lab.verify("after relaunch", final=True)
    step2 = [r for r in facts.effects(agent_id) if r["step"] == 2]
    resent = [r for r in facts.effects(agent_id, dedup=True) if r["step"] == 2]

    if kind == "unsafe":
        assert facts.statuses[agent_id] == "in_doubt"
        [doubt] = facts.of(agent_id, "tool_call_in_doubt")
        assert (doubt["step"], doubt["payload"]["key"]) == (2, key)
        assert [r["key"] for r in step2] == ([key] if tool_ran else []), "effect repeated"
        assert not [r for r in facts.effects(agent_id) if r["step"] == 3]
        status = {a["id"]: a for a in lab.status_json()["agents"]}[agent_id]
        assert status["status"] == "in_doubt"
        assert key in (status["error"] or "")
    else:
        assert facts.statuses[agent_id] == "completed"
        assert [r["key"] for r in step2] == [key], "the effect must happen exactly once"
        [done] = [e for e in facts.of(agent_id, "tool_call_succeeded") if e["step"] == 2]
        assert done["payload"]["key"] == key
        if kind == "idem":
            # Re-sent with the SAME key after the crash; the receiver deduplicated it.
            assert [r["key"] for r in resent] == ([key] if tool_ran else [])
        else:
            # Reconciled by lookup when the effect had happened; never re-sent.
            assert done["payload"]["reconciled"] is tool_ran
            assert resent == []
    lab.raise_problems()


# -- (c) between steps -----------------------------------------------------------------------


def test_kill_between_steps(crashlab: CrashLab, mix: Mix) -> None:
    """Killed right after a step's checkpoint is durable: the relaunch resumes each agent
    after its last checkpoint and does no committed step again (no turn, no call)."""
    lab = crashlab
    ids = lab.submit(mix(1, 1, 1, 4))
    killed = lab.expect_killed(lab.run_fork("after-step-commit:5"))
    facts = lab.verify("after the kill")
    last_event = killed.last_event_id
    ledger_seen = len(facts.ledger)
    assert sum(killed.steps.values()) >= 2, killed.steps

    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", final=True)
    for agent_id in ids:
        if killed.statuses[agent_id] != "running":
            continue  # finished before the kill: nothing to resume
        done = killed.steps[agent_id]
        later = [e for e in facts.of(agent_id) if e["id"] > last_event]
        resumed = [e for e in later if e["kind"] == "agent_started"]
        assert resumed and resumed[0]["payload"]["resumed"] is True
        assert resumed[0]["step"] == done, f"{agent_id} resumed at {resumed[0]['step']}, not {done}"
        redone = [e for e in later if e["kind"] == "model_turn" and e["step"] <= done]
        assert not redone, f"{agent_id}: committed step(s) asked again: {redone}"
        touched = [
            r for r in facts.ledger[ledger_seen:] if r["agent"] == agent_id and r["step"] <= done
        ]
        assert not touched, f"{agent_id}: a committed step's call ran again: {touched}"
    lab.raise_problems()


@pytest.mark.parametrize("kind", ["idem", "tight"])
def test_kill_between_last_tool_step_and_answer(crashlab: CrashLab, kind: str) -> None:
    """Killed right after the third (last) tool step is durable, before the answer step.

    The checkpoint of step 3 must describe step 3 (running, step 3), so the relaunch asks
    for the answer as step 4 and completes at step 4. `tight` has max_steps=4: it must not
    fail for lack of steps it never used.
    """
    lab = crashlab
    [agent_id] = lab.submit([(kind, "3")])
    killed = lab.expect_killed(lab.run_fork("after-step-commit:3"))
    with connect(lab.db) as conn:
        step, state_json = conn.execute(
            "SELECT step, state FROM checkpoints WHERE agent_id = ? ORDER BY event_id DESC LIMIT 1",
            (agent_id,),
        ).fetchone()
    state = AgentState.from_json(state_json).status.value
    problems = []
    if (step, state) != (3, "running"):
        problems.append(
            f"after the kill the last checkpoint of {agent_id} says step {step}, {state}: "
            "expected step 3, running (its last durable step; the answer was never journaled)"
        )
    assert killed.statuses[agent_id] == "running"

    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", final=True)
    turns = _turns(facts, agent_id)
    if (facts.statuses[agent_id], facts.steps[agent_id], turns) != ("completed", 4, [1, 2, 3, 4]):
        problems.append(
            f"after relaunch {agent_id} is {facts.statuses[agent_id]} at step "
            f"{facts.steps[agent_id]} with model turns at steps {turns}; expected completed at "
            "step 4 with turns 1..4"
        )
    lab.problems[:0] = problems
    lab.raise_problems()


# -- (d) while 50 agents are committing -------------------------------------------------------


def test_kill_inside_group_commit_of_50_agents(crashlab: CrashLab, mix: Mix) -> None:
    """SIGKILL inside the sixth group transaction (rows written, COMMIT not reached) while
    50 agents share the writer: the transaction vanishes whole, nothing committed before it
    is lost, and the relaunch finishes every agent."""
    lab = crashlab
    ids = lab.submit(mix(17, 17, 16, 3))
    assert len(ids) == 50
    result = lab.run_fork("in-transaction:6")
    killed = lab.expect_killed(result)
    facts = lab.verify("after the kill")
    started = {e["agent_id"] for e in facts.events if e["kind"] == "agent_started"}
    assert len(started) == 50, f"only {len(started)} agents had started"
    # Group commit: many agents' rows went into one transaction (one timestamp per batch).
    with connect(lab.db) as conn:
        widest = conn.execute(
            "SELECT MAX(n) FROM (SELECT COUNT(DISTINCT agent_id) AS n FROM events GROUP BY ts_ms)"
        ).fetchone()[0]
    print(f"agents started before the kill: {len(started)}; widest transaction: {widest} agents")
    assert widest >= 10, f"no transaction carried many agents (widest: {widest})"
    printed = max(r["id"] for r in result.printed())
    assert killed.last_event_id >= printed

    # Kill the relaunch inside a transaction too, then finish.
    again = lab.run_fork("in-transaction:4")
    assert again.returncode == SIGKILLED, again.describe()
    killed = lab.after_kill(again, killed)
    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", final=True)
    assert all(facts.statuses[a] in ("completed", "in_doubt") for a in ids)
    assert all(facts.statuses[a] == "completed" for a in ids if not a.startswith("unsafe"))
    lab.raise_problems()


# -- operator commands queued while the supervisor is down -----------------------------------


@pytest.mark.parametrize("task", ["3", "60"])
def test_pause_queued_after_a_crash_applies_before_the_agent_runs_on(
    crashlab: CrashLab, task: str
) -> None:
    """The supervisor died with an agent running; the operator pauses it before restarting
    (no supervisor is live, so the command is queued: "applied when a supervisor starts").
    The restarted supervisor must not let the agent take further steps before the pause
    (the step in flight at the crash, whose intent may be journaled, may be finished), and
    the journaled outcome of the command must be what happened to the agent."""
    lab = crashlab
    [agent_id] = lab.submit([("idem", task)])
    killed = lab.expect_killed(lab.run_fork("after-step-commit:1"))
    assert killed.statuses[agent_id] == "running"
    outcome = lab.command("pause", agent_id)
    assert outcome.startswith(f"queued pause {agent_id}"), outcome

    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", {agent_id: {"paused"}}, final=True)
    [action] = [e for e in facts.events if e["kind"] == "operator_action"]
    said, status = action["payload"]["outcome"], facts.statuses[agent_id]
    problems = []
    if said.startswith("paused") and status != "paused":
        problems.append(
            f"the journal says {said!r} (event {action['id']}) but {agent_id} is {status}"
        )
    in_flight = killed.steps[agent_id] + 1
    new_turns = sorted(
        e["step"]
        for e in facts.of(agent_id, "model_turn")
        if e["id"] > killed.last_event_id and e["step"] > in_flight
    )
    if new_turns or status != "paused":
        problems.append(
            f"{agent_id} is {status} at step {facts.steps[agent_id]}: after the restart it ran "
            f"step(s) {new_turns} before the pause queued at step {killed.steps[agent_id]} was "
            f"applied (event {action['id']}: {said!r})"
        )
    lab.problems[:0] = problems
    lab.raise_problems()


# -- resources ---------------------------------------------------------------------------------


def test_resource_of_a_resent_call_is_compensated_once(crashlab: CrashLab) -> None:
    """Killed after the first call registered its widget and before its result was journaled:
    the call is re-sent with the same key (the receiver dedupes the effect). Rolling the
    agent back must then compensate that widget once, not once per registration."""
    lab = crashlab
    [agent_id] = lab.submit([("maker", "60")])
    killed = lab.expect_killed(lab.run_fork("after-resource-created:1"))
    lab.command("pause", agent_id)
    lab.command("terminate", agent_id)
    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", {agent_id: {"terminated"}}, final=True)
    assert facts.statuses[agent_id] == "terminated"
    compensated: dict[str, int] = {}
    for e in facts.of(agent_id, "resource_compensated"):
        rid = e["payload"]["resource_id"]
        compensated[rid] = compensated.get(rid, 0) + 1
    [terminated] = facts.of(agent_id, "agent_terminated")
    widgets = {r["resource_id"] for r in facts.resources}
    assert compensated and set(compensated) == widgets
    twice = {rid: n for rid, n in compensated.items() if n > 1}
    assert not twice, (
        f"compensation ran more than once for {twice}; agent_terminated reports "
        f"{terminated['payload']['compensated']} compensations for {len(widgets)} widgets"
    )
    lab.raise_problems()
