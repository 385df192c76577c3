"""The runtime with scripted agents defined here: the real Supervisor, AgentRunner, gate and
JournalWriter on a SQLite file, a fake clock and no retry backoff.

Each test reads what happened back from the journal (the truth), not from runtime internals.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cr_support import Harness, chain_break, connect, query

from controlroom import ModelError, ScriptView, ToolContext, Turn, agent, tool
from controlroom.clock import FakeClock
from controlroom.domain.models import AgentStatus, Resource
from controlroom.governance.policy import AgentPolicy, BreakerLimits
from controlroom.governance.policy_loader import PolicySet
from controlroom.runtime.keys import canonical_json, effect_key
from controlroom.store import queries
from controlroom.store.database import open_database
from controlroom.store.inbox import enqueue_command


def _kinds(entries: list[Any]) -> list[str]:
    """The kinds of events, without monitoring's alerts (a first use of each tool is one)."""
    return [e.event.kind for e in entries if e.event.kind != "monitor_alert"]


async def _command_outcome(harness: Harness, command_id: int, within_s: float = 10.0) -> str:
    async with asyncio.timeout(within_s):
        while True:
            state, outcome = await queries.command_outcome(harness.db, command_id)
            if state == "applied":
                return outcome or ""
            await asyncio.sleep(0.01)


# -- the gate: invalid arguments and tools off the allowlist ----------------------------------


async def test_invalid_arguments_are_a_failed_call_and_the_agent_continues(
    harness: Harness,
) -> None:
    told: dict[int, str | None] = {}
    ran: list[int] = []

    @tool(effect="idempotent_by_key")
    async def put(ctx: ToolContext, n: int) -> str:
        ran.append(n)
        return f"put {n}"

    def script(view: ScriptView) -> Turn:
        told[view.step] = view.last_tool_result
        if view.step == 1:
            return Turn.call("put", n="not a number")
        if view.step == 2:
            return Turn.call("put", n=2)
        return Turn.final("done")

    agent_id = await harness.submit("strict", "put things")
    await harness.run_until_idle([agent(name="strict", tools=[put], script=script)])

    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    [failed] = await harness.entries(agent_id, "tool_call_failed")
    assert failed.step == 1
    event = failed.event.model_dump()
    assert (event["tool"], event["attempt"], event["final"], event["key"]) == ("put", 0, True, "")
    assert "n:" in event["error"] and "invalid arguments for put" in event["error"]
    # Nothing was announced or run for the invalid call.
    assert [e.step for e in await harness.entries(agent_id, "tool_call_started")] == [2]
    assert ran == [2]
    # The model was told, and went on.
    assert told[2] is not None and told[2].startswith("error: invalid arguments for put")
    assert told[3] == "put 2"


async def test_tool_not_on_the_allowlist_is_denied_and_the_agent_continues(
    harness: Harness,
) -> None:
    told: dict[int, str | None] = {}
    deleted: list[str] = []

    @tool(effect="unsafe")
    def delete_everything(path: str) -> str:
        deleted.append(path)
        return "gone"

    @tool
    def look(path: str) -> str:
        return f"{path} is fine"

    def script(view: ScriptView) -> Turn:
        told[view.step] = view.last_tool_result
        if view.step == 1:
            return Turn.call("delete_everything", path="/")
        if view.step == 2:
            return Turn.call("look", path="/")
        return Turn.final("looked only")

    admin = agent(name="admin", tools=[delete_everything], script=script)
    reader = agent(name="reader", tools=[look], script=script)
    agent_id = await harness.submit("reader", "tidy up")
    await harness.run_until_idle([admin, reader])

    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    [denied] = await harness.entries(agent_id, "tool_call_denied")
    assert denied.step == 1
    assert denied.event.model_dump()["tool"] == "delete_everything"
    assert "allowlist" in denied.event.model_dump()["reason"]
    assert deleted == []
    assert not await harness.entries(agent_id, "tool_call_started")
    assert told[2] is not None and told[2].startswith("denied: ")
    assert told[3] == "/ is fine"


# -- retries and failures -----------------------------------------------------------------------


async def test_failing_tool_is_retried_with_the_same_key(harness: Harness) -> None:
    keys: list[str] = []

    @tool(effect="idempotent_by_key", attempts=3)
    async def flaky(ctx: ToolContext, n: int) -> str:
        keys.append(ctx.key)
        if len(keys) < 3:
            raise ConnectionError(f"attempt {len(keys)} lost")
        return "stored"

    def script(view: ScriptView) -> Turn:
        return Turn.call("flaky", n=1) if view.step == 1 else Turn.final("ok")

    agent_id = await harness.submit("retrier", "store one")
    await harness.run_until_idle([agent(name="retrier", tools=[flaky], script=script)])

    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    expected = effect_key(agent_id, 1, "flaky", canonical_json({"n": 1}))
    assert keys == [expected] * 3
    step1 = [e for e in await harness.entries(agent_id) if e.step == 1]
    assert _kinds(step1) == [
        "model_turn",
        "tool_call_started",
        "tool_call_failed",
        "tool_call_failed",
        "tool_call_succeeded",
    ]
    failures = [e.event.model_dump() for e in step1 if e.event.kind == "tool_call_failed"]
    assert [(f["attempt"], f["final"], f["key"]) for f in failures] == [
        (1, False, expected),
        (2, False, expected),
    ]
    assert "ConnectionError: attempt 1 lost" in failures[0]["error"]
    assert step1[-1].event.model_dump()["key"] == expected


async def test_a_tool_failing_for_good_is_reported_and_repeated_failures_trip_the_breaker(
    harness: Harness,
) -> None:
    """A failed call (after its retries) is told to the model, which may go on; calls failing
    in a row trip the agent's breaker: paused with its state, not failed. Others run on."""
    calls: list[int] = []

    @tool(effect="idempotent_by_key", attempts=2)
    async def always_fails(ctx: ToolContext) -> str:
        calls.append(1)
        raise RuntimeError("service down")

    @tool
    async def fine(n: int) -> str:
        return f"ok {n}"

    def broken_script(view: ScriptView) -> Turn:
        return Turn.call("always_fails") if view.step <= 5 else Turn.final("gave up")

    def fine_script(view: ScriptView) -> Turn:
        return Turn.call("fine", n=view.step) if view.step <= 3 else Turn.final("fine")

    broken_id = await harness.submit("broken", "fail")
    fine_id = await harness.submit("steady", "work")
    limits = AgentPolicy(breaker=BreakerLimits(max_consecutive_failures=3))
    await harness.run_until_idle(
        [
            agent(name="broken", tools=[always_fails], script=broken_script),
            agent(name="steady", tools=[fine], script=fine_script),
        ],
        policies=PolicySet({"broken": limits}),
    )

    broken = await harness.record(broken_id)
    assert broken.status is AgentStatus.PAUSED
    assert broken.error == (
        "breaker tripped on failures: 3 calls in a row failed; the last, always_fails: "
        "RuntimeError: service down"
    )
    assert calls == [1] * 6  # three calls, two attempts each
    failures = [e.event.model_dump() for e in await harness.entries(broken_id, "tool_call_failed")]
    assert [(f["attempt"], f["final"]) for f in failures] == [(1, False), (2, True)] * 3
    trips = [e.event.model_dump() for e in await harness.entries(broken_id, "breaker_tripped")]
    assert [(t["cause"], t["action"]) for t in trips] == [("failures", "pause")]
    stored = await queries.load_agent(harness.db, broken_id)
    assert stored is not None and stored.state is not None
    assert stored.state.step == 3 and stored.state.consecutive_failures == 3
    told = [m.content for m in stored.messages if m.role == "tool"]
    assert told == ["error: RuntimeError: service down"] * 3

    steady = await harness.record(fine_id)
    assert steady.status is AgentStatus.COMPLETED
    assert steady.result == "fine"


async def test_a_success_between_failures_resets_the_breaker_count(harness: Harness) -> None:
    """Failures alternating with successes never reach two in a row, so a breaker that trips
    on two consecutive failures stays shut. (Each call names its step: the same call
    repeated five times would be a loop, which needs an approval.)"""
    outcomes = iter([False, True, False, True, False])

    @tool(effect="idempotent_by_key")
    async def flaky(ctx: ToolContext, n: int) -> str:
        if not next(outcomes):
            raise RuntimeError("blip")
        return "ok"

    def script(view: ScriptView) -> Turn:
        return Turn.call("flaky", n=view.step) if view.step <= 5 else Turn.final("done")

    agent_id = await harness.submit("flaky", "work")
    limits = AgentPolicy(breaker=BreakerLimits(max_consecutive_failures=2))
    await harness.run_until_idle(
        [agent(name="flaky", tools=[flaky], script=script)],
        policies=PolicySet({"flaky": limits}),
    )
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED, record.error
    assert not await harness.entries(agent_id, "breaker_tripped")
    # All five calls ran, alternating as scripted: nothing was refused or waited.
    ran = [
        (e.step, e.event.kind)
        for e in await harness.entries(agent_id)
        if e.event.kind in ("tool_call_failed", "tool_call_succeeded")
    ]
    assert ran == [
        (1, "tool_call_failed"),
        (2, "tool_call_succeeded"),
        (3, "tool_call_failed"),
        (4, "tool_call_succeeded"),
        (5, "tool_call_failed"),
    ]
    assert not await harness.approvals(agent_id)


@pytest.mark.parametrize(
    ("failures", "retryable", "status", "turn_failures"),
    [
        (99, True, AgentStatus.FAILED, 3),  # retried up to model_attempts, then failed
        (2, True, AgentStatus.COMPLETED, 2),  # recovers on the third attempt
        (99, False, AgentStatus.FAILED, 1),  # not retryable: no second attempt
    ],
)
async def test_model_errors_are_retried_up_to_model_attempts(
    harness: Harness, failures: int, retryable: bool, status: AgentStatus, turn_failures: int
) -> None:
    asked: list[int] = []

    def script(view: ScriptView) -> Turn:
        asked.append(view.step)
        if len(asked) <= failures:
            raise ModelError("503 overloaded", retryable=retryable)
        return Turn.final("answered")

    backoffs: list[int] = []

    def backoff(attempt: int) -> float:
        backoffs.append(attempt)
        return 0.0

    agent_id = await harness.submit("talker", "talk")
    await harness.run_until_idle(
        [agent(name="talker", script=script, model_attempts=3)], backoff=backoff
    )

    record = await harness.record(agent_id)
    assert record.status is status
    failed = [e.event.model_dump() for e in await harness.entries(agent_id, "model_turn_failed")]
    assert [f["attempt"] for f in failed] == list(range(1, turn_failures + 1))
    assert all(f["error"] == "503 overloaded" for f in failed)
    assert asked == [1] * len(asked)
    # The supervisor's backoff is consulted before each retry, never after the last attempt.
    retries = turn_failures if status is AgentStatus.COMPLETED else turn_failures - 1
    assert backoffs == list(range(1, retries + 1))
    if status is AgentStatus.FAILED:
        assert record.error == f"model failed after {turn_failures} attempt(s): 503 overloaded"
        assert not await harness.entries(agent_id, "model_turn")
    else:
        assert len(await harness.entries(agent_id, "model_turn")) == 1


async def test_script_exception_fails_the_agent_without_retry(harness: Harness) -> None:
    asked: list[int] = []

    def script(view: ScriptView) -> Turn:
        asked.append(view.step)
        raise KeyError("plan")

    agent_id = await harness.submit("buggy", "go")
    await harness.run_until_idle([agent(name="buggy", script=script, model_attempts=5)])
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.FAILED
    assert record.error is not None and "script raised KeyError" in record.error
    assert asked == [1]


async def test_max_steps_stops_a_looping_agent(harness: Harness) -> None:
    @tool
    def noop() -> str:
        return ""

    def script(view: ScriptView) -> Turn:
        return Turn.call("noop")

    agent_id = await harness.submit("looper", "loop")
    await harness.run_until_idle([agent(name="looper", tools=[noop], script=script, max_steps=5)])
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.FAILED
    assert record.error == "reached max_steps (5) without finishing"
    assert record.step == 5


async def test_unsafe_tool_that_times_out_is_in_doubt_and_not_retried(harness: Harness) -> None:
    runs: list[str] = []

    @tool(effect="unsafe", timeout=0.05, attempts=3)
    async def pay(ctx: ToolContext, amount: int) -> str:
        runs.append(ctx.key)
        await asyncio.sleep(5)
        return "paid"

    def script(view: ScriptView) -> Turn:
        return Turn.call("pay", amount=10) if view.step == 1 else Turn.final("paid")

    agent_id = await harness.submit("payer", "pay")
    await harness.run_until_idle([agent(name="payer", tools=[pay], script=script)])
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.IN_DOUBT
    assert len(runs) == 1
    [doubt] = await harness.entries(agent_id, "tool_call_in_doubt")
    assert doubt.event.model_dump()["key"] == runs[0]
    assert not await harness.entries(agent_id, "tool_call_succeeded")


# -- idempotency keys -------------------------------------------------------------------------


def test_effect_key_is_a_function_of_what_the_call_is() -> None:
    args = canonical_json({"to": "a@example.com", "n": 1})
    assert args == canonical_json({"n": 1, "to": "a@example.com"})  # key order is irrelevant
    key = effect_key("mailer-1", 3, "send_mail", args)
    assert key == effect_key("mailer-1", 3, "send_mail", args)
    assert len(key) == 32 and int(key, 16) >= 0
    others = {
        effect_key("mailer-2", 3, "send_mail", args),
        effect_key("mailer-1", 4, "send_mail", args),
        effect_key("mailer-1", 3, "send_fax", args),
        effect_key("mailer-1", 3, "send_mail", canonical_json({"to": "b@example.com", "n": 1})),
    }
    assert key not in others and len(others) == 4


def test_canonical_json_is_the_sorted_compact_json_keys_were_always_derived_from() -> None:
    """Keys of calls journaled by earlier versions are re-derived on recovery: the text must
    stay exactly `json.dumps` with sorted keys, compact separators and raw UTF-8."""
    values: list[Any] = [
        {"b": [1, 2.5, None, True], "a": {"z": "é\u2028\U0001f600", "y": 'q"\\\n\x00'}},
        {2: "int keys", 1: "become strings"},
        [float("nan"), float("inf"), 1e-7, 10**30],
        "text",
        {},
    ]
    for value in values:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(value) == expected
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        canonical_json({"a": {1, 2}})


async def test_keys_are_identical_across_a_rerun(harness: Harness, tmp_path: Any) -> None:
    """The same agent, task and steps on another database, later, by another supervisor:
    every call carries the same key (it depends on what the call is, never on when)."""

    @tool(effect="idempotent_by_key")
    async def put(ctx: ToolContext, item: str, count: int) -> str:
        return ctx.key

    def script(view: ScriptView) -> Turn:
        if view.step <= 4:
            return Turn.call("put", item=f"item-{view.step % 2}", count=view.step)
        return Turn.final("done")

    spec = agent(name="keyed", tools=[put], script=script)

    async def keys_of(h: Harness) -> list[tuple[int, str]]:
        agent_id = await h.submit("keyed", "put four")
        assert agent_id == "keyed-1"
        await h.run_until_idle([spec])
        return [
            (e.step, e.event.model_dump()["key"])
            for e in await h.entries(agent_id, "tool_call_started")
        ]

    first = await keys_of(harness)
    other_clock = FakeClock(start_ms=harness.clock.now_ms() + 86_400_000)
    other_db = await open_database(tmp_path / "rerun.db")
    try:
        second = await keys_of(Harness(other_db, other_clock))
    finally:
        await other_db.close()
    assert [step for step, _ in first] == [1, 2, 3, 4]
    assert first == second
    assert len({key for _, key in first}) == 4
    # The key a tool received is the key the journal announced.
    results = [
        e.event.model_dump()["result"]
        for e in await harness.entries("keyed-1", "tool_call_succeeded")
    ]
    assert results == [key for _, key in first]


# -- resources and terminate --------------------------------------------------------------------


async def test_terminate_compensates_newest_first(harness: Harness) -> None:
    undone: list[str] = []
    three_made = asyncio.Event()

    def recall(resource: Resource, ctx: ToolContext) -> None:
        assert ctx.key == resource.key
        undone.append(resource.resource_id)

    @tool(effect="idempotent_by_key", compensate=recall)
    async def make(ctx: ToolContext, name: str) -> str:
        await ctx.created("widget", name, {"name": name})
        if name == "w3":
            three_made.set()
        return name

    @tool
    async def idle() -> str:
        await asyncio.sleep(0.005)
        return "idle"

    def script(view: ScriptView) -> Turn:
        if view.step <= 3:
            return Turn.call("make", name=f"w{view.step}")
        return Turn.call("idle")

    spec = agent(name="maker", tools=[make, idle], script=script, max_steps=100_000)
    agent_id = await harness.submit("maker", "make three")
    supervisor = harness.supervisor([spec])
    await supervisor.start()
    try:
        async with asyncio.timeout(10):
            await three_made.wait()
        command = await enqueue_command(
            harness.db, "terminate", agent_id, "tester", harness.clock.now_ms()
        )
        outcome = await _command_outcome(harness, command)
    finally:
        await supervisor.stop()

    assert outcome == f"terminated {agent_id}: 3 resource(s) compensated"
    assert undone == ["w3", "w2", "w1"]
    compensated = [
        e.event.model_dump() for e in await harness.entries(agent_id, "resource_compensated")
    ]
    assert [(c["resource_id"], c["ok"]) for c in compensated] == [
        ("w3", True),
        ("w2", True),
        ("w1", True),
    ]
    # Each compensation is journaled before the agent is marked terminated.
    kinds = _kinds(await harness.entries(agent_id))
    assert kinds.index("agent_terminated") > max(
        i for i, k in enumerate(kinds) if k == "resource_compensated"
    )
    [terminated] = await harness.entries(agent_id, "agent_terminated")
    assert terminated.event.model_dump()["compensated"] == 3
    assert (await harness.record(agent_id)).status is AgentStatus.TERMINATED
    assert await queries.live_resources(harness.db, agent_id) == []


# -- pause and resume ---------------------------------------------------------------------------


async def test_pause_then_resume_continues_from_the_checkpoint(harness: Harness) -> None:
    ran: list[int] = []
    at_step_3 = asyncio.Event()
    gate = asyncio.Event()

    @tool(effect="idempotent_by_key")
    async def work(ctx: ToolContext, n: int) -> str:
        ran.append(ctx.step)
        if ctx.step == 3:
            at_step_3.set()
            await gate.wait()
        return f"did {n}"

    def script(view: ScriptView) -> Turn:
        return Turn.call("work", n=view.step) if view.step <= 6 else Turn.final("all done")

    spec = agent(name="worker", tools=[work], script=script)
    agent_id = await harness.submit("worker", "six steps")
    supervisor = harness.supervisor([spec])
    await supervisor.start()
    try:
        async with asyncio.timeout(10):
            await at_step_3.wait()
        pause = await enqueue_command(harness.db, "pause", agent_id, "tester", 0)
        await asyncio.sleep(0.3)  # the poll loop (every 10 ms) takes the command up
        gate.set()
        assert await _command_outcome(harness, pause) == f"paused {agent_id}"

        paused = await harness.record(agent_id)
        assert (paused.status, paused.step) == (AgentStatus.PAUSED, 3)
        stored = await queries.load_agent(harness.db, agent_id)
        assert stored is not None and stored.state is not None
        assert (stored.state.step, stored.state.status) == (3, AgentStatus.PAUSED)
        assert ran == [1, 2, 3]

        resume = await enqueue_command(harness.db, "resume", agent_id, "tester", 0)
        assert await _command_outcome(harness, resume) == f"resumed {agent_id}"
        done = await harness.wait_status(agent_id, [AgentStatus.COMPLETED])
    finally:
        await supervisor.stop()

    assert done.result == "all done"
    assert ran == [1, 2, 3, 4, 5, 6], "a step ran twice or was skipped"
    turns = [e.step for e in await harness.entries(agent_id, "model_turn")]
    assert turns == [1, 2, 3, 4, 5, 6, 7]
    started = [e.event.model_dump() for e in await harness.entries(agent_id, "agent_started")]
    assert [(s["resumed"], s["step"]) for s in started] == [(False, 0), (True, 3)]
    [paused_event] = await harness.entries(agent_id, "agent_paused")
    assert paused_event.step == 3


# -- recovery -----------------------------------------------------------------------------------


def _roll_back_to(path: Any, last_event_id: int) -> None:
    """Leave the file as a crash right after the commit ending at `last_event_id` would:
    every later commit undone (commits are whole transactions, so this is a real state)."""
    conn = connect(path)
    try:
        conn.execute("BEGIN")
        conn.execute("DELETE FROM events WHERE id > ?", (last_event_id,))
        conn.execute("DELETE FROM checkpoints WHERE event_id > ?", (last_event_id,))
        conn.execute("UPDATE agents SET status = 'running', result = NULL, error = NULL")
        conn.execute("DELETE FROM lease")
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_recovery_after_a_step_commit_runs_the_next_step(harness: Harness) -> None:
    """Crash right after step 2's commit is durable: the relaunch runs step 3 (the answer),
    never skips it. The step-2 commit is found by the call it records."""
    answers: list[int] = []

    @tool(effect="idempotent_by_key")
    async def put(ctx: ToolContext, n: int) -> str:
        return f"put {n}"

    def script(view: ScriptView) -> Turn:
        if view.step <= 2:
            return Turn.call("put", n=view.step)
        answers.append(view.step)
        return Turn.final(f"answered at step {view.step}")

    spec = agent(name="stepper", tools=[put], script=script)
    agent_id = await harness.submit("stepper", "two puts")
    await harness.run_until_idle([spec])
    assert (await harness.record(agent_id)).result == "answered at step 3"

    rows = query(
        harness.db.path,
        "SELECT event_id, messages FROM checkpoints WHERE agent_id = ? ORDER BY event_id",
        (agent_id,),
    )
    [step2_commit] = [
        event_id for event_id, messages in rows if '"s2c0"' in messages and '"tool"' in messages
    ]
    _roll_back_to(harness.db.path, step2_commit)
    assert chain_break(harness.db.path) is None
    answers.clear()

    await harness.run_until_idle([spec])
    record = await harness.record(agent_id)
    turns = [e.step for e in await harness.entries(agent_id, "model_turn")]
    assert turns == [1, 2, 3], f"model turns journaled for steps {turns}: a step was skipped"
    assert answers == [3]
    assert (record.status, record.step, record.result) == (
        AgentStatus.COMPLETED,
        3,
        "answered at step 3",
    )


# -- the journal --------------------------------------------------------------------------------


async def test_hash_chain_verifies_and_detects_tampering(harness: Harness) -> None:
    @tool(effect="idempotent_by_key")
    async def put(ctx: ToolContext, value: str) -> str:
        return value

    def script(view: ScriptView) -> Turn:
        return Turn.call("put", value=f"v{view.step}") if view.step <= 3 else Turn.final("ok")

    for _ in range(3):
        await harness.submit("chained", "three puts")
    await harness.run_until_idle([agent(name="chained", tools=[put], script=script)])

    path = harness.db.path
    assert chain_break(path) is None
    [(target,)] = query(
        path,
        "SELECT id FROM events WHERE kind = 'tool_call_succeeded' ORDER BY id LIMIT 1 OFFSET 4",
    )
    conn = connect(path)
    try:
        before = conn.execute("SELECT data FROM events WHERE id = ?", (target,)).fetchone()[0]
        conn.execute(
            "UPDATE events SET data = json_set(data, '$.result', 'forged') WHERE id = ?", (target,)
        )
        after = conn.execute("SELECT data FROM events WHERE id = ?", (target,)).fetchone()[0]
        assert after != before and "forged" in after
    finally:
        conn.close()
    assert chain_break(path) == f"event {target}: hash does not match its contents"


async def test_hash_chain_detects_a_deleted_row(harness: Harness) -> None:
    def script(view: ScriptView) -> Turn:
        return Turn.final("ok")

    for _ in range(3):
        await harness.submit("quick", "answer")
    await harness.run_until_idle([agent(name="quick", script=script)])
    assert chain_break(harness.db.path) is None
    conn = connect(harness.db.path)
    try:
        conn.execute("DELETE FROM events WHERE id = (SELECT MAX(id) - 2 FROM events)")
    finally:
        conn.close()
    assert chain_break(harness.db.path) is not None


async def test_bus_publishes_exactly_what_was_journaled(harness: Harness) -> None:
    @tool
    def look(n: int) -> str:
        return str(n)

    def script(view: ScriptView) -> Turn:
        return Turn.call("look", n=view.step) if view.step <= 2 else Turn.final("seen")

    for _ in range(2):
        await harness.submit("watcher", "watch")
    spec = agent(name="watcher", tools=[look], script=script)
    supervisor = harness.supervisor([spec], exit_when_idle=True)
    subscription = supervisor.bus.subscribe()
    await supervisor.start()
    async with asyncio.timeout(10):
        await supervisor.wait()
    await supervisor.stop()
    published = []
    while not subscription.queue.empty():
        published.append(subscription.queue.get_nowait())
    stored = await harness.entries()
    assert [(e.id, e.event) for e in published] == [(e.id, e.event) for e in stored]
    assert subscription.dropped == 0
