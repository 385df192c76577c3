"""The store: group commit in the JournalWriter, per-step checkpoint deltas, loading an agent.

The writer is driven directly here (no supervisor) so the tests control exactly what is
submitted and when.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from cr_support import Harness, chain_break, query

from controlroom import Message, ScriptView, ToolContext, Turn, agent, tool
from controlroom.clock import FakeClock
from controlroom.domain.events import AgentPaused, OperatorActed
from controlroom.domain.models import AgentState, AgentStatus
from controlroom.governance.loops import HISTORY, SIGNATURE_CHARS
from controlroom.store import queries
from controlroom.store import writer as writer_module
from controlroom.store.database import Database
from controlroom.store.writer import (
    CheckpointDelta,
    CommitResult,
    JournalWriter,
    PendingEvent,
    Statement,
    WriterClosed,
)


def _event(i: int) -> PendingEvent:
    return PendingEvent(
        f"agent-{i % 7}",
        "test",
        i,
        OperatorActed(command="note", target=str(i), operator="tester", outcome=f"n{i}"),
    )


@pytest.fixture
async def writer(db: Database, clock: FakeClock) -> JournalWriter:
    journal = JournalWriter(db, clock)
    await journal.start()
    yield journal  # type: ignore[misc]
    await journal.close()


async def test_group_commit_batches_preserves_order_and_ids_are_contiguous(
    writer: JournalWriter, db: Database
) -> None:
    requests = 300
    futures = [
        writer.submit([_event(i)] + ([_event(i + 10_000)] if i % 3 == 0 else []))
        for i in range(requests)
    ]
    results = await asyncio.gather(*futures)

    assert 1 <= writer.commits < requests, f"{writer.commits} transactions for {requests} commits"
    ids = [entry.id for result in results for entry in result.entries]
    assert ids == list(range(1, len(ids) + 1)), "ids are not contiguous in submission order"
    targets = [entry.event.model_dump()["target"] for r in results for entry in r.entries]
    expected = [
        str(t) for i in range(requests) for t in ([i] + ([i + 10_000] if i % 3 == 0 else []))
    ]
    assert targets == expected
    stored = query(db.path, "SELECT id, json_extract(data, '$.target') FROM events ORDER BY id")
    assert stored == list(zip(ids, targets, strict=True))
    assert chain_break(db.path) is None


async def test_every_text_is_stored_exactly_as_given(writer: JournalWriter, db: Database) -> None:
    """Quotes, backslashes, control characters (NUL too), separators and characters outside
    the BMP come out of the journal and the checkpoint byte for byte, and the columns keep
    their types."""
    awkward = 'q"uote \\back\\slash\n\t\x00\x01\x1f \u2028\u2029 é 日本 😀 \ufeff end'
    event = OperatorActed(command="note", target=awkward, operator="tester", outcome=awkward)
    state = AgentState(agent_id="a-1", agent="a", intent=awkward)
    messages = Message(role="user", content=awkward).model_dump_json()
    delta = CheckpointDelta.of("a-1", f"[{messages}]", state)
    result = await writer.commit([PendingEvent("a-1", "agent:a-1", 4, event)], delta)

    stored = query(
        db.path, "SELECT id, typeof(ts_ms), identity, kind, step, typeof(step), data FROM events"
    )
    assert len(stored) == 1
    *columns, data = stored[0]
    assert columns == [result.entries[0].id, "integer", "agent:a-1", event.kind, 4, "integer"]
    assert data == event.model_dump_json()
    assert json.loads(data)["outcome"] == awkward
    checkpoint = query(
        db.path, "SELECT event_id, step, typeof(step), messages, state FROM checkpoints"
    )
    assert checkpoint == [
        (result.entries[0].id, 0, "integer", delta.messages_json, delta.state_json)
    ]
    assert AgentState.from_json(checkpoint[0][-1]).intent == awkward
    assert chain_break(db.path) is None


async def test_sequential_commits_each_wait_for_durability(
    writer: JournalWriter, db: Database
) -> None:
    for i in range(5):
        result = await writer.commit([_event(i)])
        # Durable when the await returns: a separate connection already sees the row.
        assert query(db.path, "SELECT COUNT(*) FROM events") == [(i + 1,)]
        assert result.entries[0].id == i + 1
    assert writer.commits == 5


async def test_writer_continues_the_chain_of_an_existing_journal(
    db: Database, clock: FakeClock
) -> None:
    first = JournalWriter(db, clock)
    await first.start()
    await first.commit([_event(1), _event(2)])
    await first.close()
    second = JournalWriter(db, clock)
    await second.start()
    result = await second.commit([_event(3)])
    await second.close()
    assert result.entries[0].id == 3
    assert chain_break(db.path) is None


async def test_statements_commit_with_events_and_report_rowcounts(
    writer: JournalWriter, db: Database
) -> None:
    result = await writer.commit(
        [_event(1)],
        statements=[
            Statement("INSERT INTO meta (key, value) VALUES (?, ?)", ("test-key", "x")),
            Statement("UPDATE meta SET value = 'y' WHERE key = ?", ("no-such-key",)),
        ],
    )
    assert result.rowcounts == [1, 0]
    assert query(db.path, "SELECT value FROM meta WHERE key = 'test-key'") == [("x",)]


async def test_checkpoint_needs_an_event_and_closed_writer_refuses(writer: JournalWriter) -> None:
    state = AgentState(agent_id="a-1", agent="a", intent="x")
    with pytest.raises(ValueError, match="at least one event"):
        writer.submit([], CheckpointDelta.of("a-1", "[]", state))
    await writer.close()
    with pytest.raises(WriterClosed):
        writer.submit([_event(1)])


async def test_failed_group_commit_stops_the_writer(writer: JournalWriter, db: Database) -> None:
    """A transaction that fails (here: a constraint) fails its waiters and every later commit:
    nothing may be chained to rows that never landed."""
    ok = await writer.commit([_event(1)])
    bad = writer.submit(
        [_event(2)], statements=[Statement("INSERT INTO no_such_table VALUES (1)", ())]
    )
    with pytest.raises(Exception, match="no_such_table"):
        await bad
    with pytest.raises(WriterClosed, match="stopped after an error"):
        writer.submit([_event(3)])
    assert query(db.path, "SELECT id FROM events") == [(ok.entries[0].id,)]
    assert chain_break(db.path) is None


async def test_a_batch_that_fails_part_way_leaves_no_row(
    writer: JournalWriter, db: Database
) -> None:
    """A group transaction is all or nothing: its second event's id taken (by a row planted
    from outside) fails it whole, the first event and the checkpoint included."""
    planted = sqlite3.connect(db.path, isolation_level=None)
    planted.execute(
        "INSERT INTO events (id, ts_ms, agent_id, identity, kind, step, data, hash)"
        " VALUES (2, 0, 'x', 'x', 'x', 0, '{}', x'00')"
    )
    planted.close()
    state = AgentState(agent_id="a-1", agent="a", intent="x")
    failing = writer.submit([_event(1), _event(2)], CheckpointDelta.of("a-1", "[]", state))
    with pytest.raises(sqlite3.IntegrityError):
        await failing
    assert query(db.path, "SELECT id, agent_id FROM events") == [(2, "x")]
    assert query(db.path, "SELECT COUNT(*) FROM checkpoints") == [(0,)]


async def test_requests_gathering_in_a_long_iteration_start_a_batch_before_its_end(
    writer: JournalWriter, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many agents woken at once split into cohorts: once requests have gathered for
    COHORT_AGE_S, the batch starts with them and later ones form the next."""
    cohort_age_s = 0.05  # long enough that the quick submissions below never reach it
    monkeypatch.setattr(writer_module, "COHORT_AGE_S", cohort_age_s)
    first = writer.submit([_event(1)])
    busy_until = time.perf_counter() + cohort_age_s * 2
    while time.perf_counter() < busy_until:  # the loop's thread busy running agents
        pass
    second = writer.submit([_event(2)])
    third = writer.submit([_event(3)])
    results = await asyncio.gather(first, second, third)
    assert writer.commits == 2
    assert [r.entries[0].id for r in results] == [1, 2, 3]
    assert chain_break(db.path) is None

    quick = [writer.submit([_event(i)]) for i in range(4, 8)]  # an iteration of short steps
    await asyncio.gather(*quick)
    assert writer.commits == 3


async def test_requests_gathered_during_a_short_commit_share_the_next_with_the_woken(
    writer: JournalWriter, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request made while a commit is on the disk does not get a commit of its own when
    that one ends, unless it gathered for COHORT_AGE_S (set out of reach here): it waits
    for the agents the commit wakes, and shares theirs."""
    monkeypatch.setattr(writer_module, "COHORT_AGE_S", 60.0)
    holder = sqlite3.connect(db.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # keeps the first commit in flight until released

    async def agent() -> CommitResult:
        await writer.submit([_event(1)])
        return await writer.submit([_event(3)])  # woken by the first commit, goes on at once

    stepping = asyncio.create_task(agent())
    for _ in range(3):
        await asyncio.sleep(0)  # the agent submits; its batch starts and waits for the lock
    # Without this the request below could join the first batch, and the test prove nothing.
    assert writer._in_flight, "the first batch has not started"
    meanwhile = writer.submit([_event(2)])
    holder.execute("COMMIT")
    holder.close()
    woken = await asyncio.wait_for(stepping, 5)
    assert (await meanwhile).entries[0].id == 2
    assert woken.entries[0].id == 3
    assert writer.commits == 2


async def test_a_write_lock_held_elsewhere_is_waited_for_off_the_loop(
    writer: JournalWriter, db: Database
) -> None:
    """Another process (a CLI command) holding the write lock delays the commit, never the
    event loop: the transaction waits for the lock on the connection's own thread."""
    holder = sqlite3.connect(db.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        pending = writer.submit([_event(1)])
        started = time.monotonic()
        for _ in range(10):
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 1.0, "the event loop was blocked"
        assert not pending.done()
        holder.execute("COMMIT")
    finally:
        holder.close()
    result = await asyncio.wait_for(pending, 5)
    assert query(db.path, "SELECT id FROM events") == [(result.entries[0].id,)]
    assert (await writer.commit([_event(2)])).entries[0].id == result.entries[0].id + 1
    assert chain_break(db.path) is None


# -- checkpoints ----------------------------------------------------------------------------


RESULT = "r" * 300


@tool(effect="idempotent_by_key")
async def record(ctx: ToolContext, payload: str) -> str:
    return RESULT


def _steady_script(view: ScriptView) -> Turn:
    if view.step <= 40:
        return Turn.call("record", payload=f"{view.step:03d}" + "p" * 197)  # no loop
    return Turn.final("recorded 40")


STEADY = agent(name="steady", tools=[record], script=_steady_script)


def _checkpoint_rows(path: Path, agent_id: str) -> list[dict[str, Any]]:
    rows = query(
        path,
        "SELECT event_id, step, messages, state FROM checkpoints WHERE agent_id = ?"
        " ORDER BY event_id",
        (agent_id,),
    )
    return [
        {
            "event_id": event_id,
            "step": step,
            "messages": messages,
            "state": json.loads(state),
            "calls": [m["tool_call_id"] for m in json.loads(messages) if m["role"] == "tool"],
        }
        for event_id, step, messages, state in rows
    ]


async def test_checkpoints_are_per_step_deltas(harness: Harness) -> None:
    """The checkpoint a step writes holds only what that step added: the row of step 40 is
    no bigger than the row of step 2 (rows found by the tool call they record)."""
    agent_id = await harness.submit("steady", "record forty")
    await harness.run_until_idle([STEADY])

    rows = _checkpoint_rows(harness.db.path, agent_id)
    by_call = {row["calls"][0]: row for row in rows if row["calls"]}
    assert sorted(by_call) == sorted(f"s{i}c0" for i in range(1, 41))
    step2, step40 = by_call["s2c0"], by_call["s40c0"]
    assert len(step2["messages"]) < 1_000
    # Only the call ids ("s2c0" / "s40c0", twice each) differ in length.
    assert len(step40["messages"]) - len(step2["messages"]) == 2
    # The small state only gains digits (and a bounded history of recent calls).
    state30, state40 = json.dumps(by_call["s30c0"]["state"]), json.dumps(step40["state"])
    assert len(state40) - len(state30) < 40
    assert len(step40["state"]["recent_calls"]) == HISTORY * SIGNATURE_CHARS
    total = sum(len(row["messages"]) for row in rows)
    assert total < 42 * 1_000, "checkpoints grow with the history"


async def test_each_checkpoint_row_holds_the_state_after_its_own_step(harness: Harness) -> None:
    """A step's checkpoint row is labelled with that step and holds the state after it, not
    the state of a later step (which recovery would resume from, skipping a step)."""
    agent_id = await harness.submit("steady", "record forty")
    await harness.run_until_idle([STEADY])

    problems = []
    completed_rows = 0
    for row in _checkpoint_rows(harness.db.path, agent_id):
        state = AgentState.from_json(json.dumps(row["state"]))  # defaults are not stored
        if state.step != row["step"]:
            problems.append(f"row {row['event_id']}: step column {row['step']}, state {state.step}")
        for call in row["calls"]:
            if not call.startswith(f"s{row['step']}c"):
                problems.append(
                    f"row {row['event_id']} labelled step {row['step']} (state step "
                    f"{state.step}, status {state.status}) records call {call}"
                )
        completed_rows += state.status is AgentStatus.COMPLETED
    assert not problems, "\n".join(problems)
    assert completed_rows == 1, "only the completing commit may say completed"


async def test_load_agent_restores_the_full_message_list(harness: Harness) -> None:
    seen: dict[int, list[Message]] = {}

    def script(view: ScriptView) -> Turn:
        seen[view.step] = list(view.messages)
        return _steady_script(view)

    agent_id = await harness.submit("steady", "record forty")
    await harness.run_until_idle([agent(name="steady", tools=[record], script=script)])

    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None and stored.state is not None
    assert stored.record.status is AgentStatus.COMPLETED
    messages = stored.messages
    # What the model saw at its last turn, plus its answer.
    assert messages[:-1] == seen[41]
    assert messages[-1] == Message(role="assistant", content="recorded 40")
    assert len(messages) == 2 + 40 * 2 + 1
    assert [m.role for m in messages[:4]] == ["system", "user", "assistant", "tool"]
    assert messages[1].content == "record forty"
    assert all(m.content == RESULT for m in messages if m.role == "tool")
    assert [m.tool_call_id for m in messages if m.role == "tool"] == [
        f"s{i}c0" for i in range(1, 41)
    ]
    assert stored.state.step == 41
    assert stored.state.message_count == len(messages)
    assert stored.tail == []


async def test_load_agent_after_a_status_only_checkpoint(harness: Harness) -> None:
    """A checkpoint that adds no messages (pause) does not disturb the message list."""
    agent_id = await harness.submit("steady", "record forty")
    await harness.run_until_idle([STEADY])
    before = await queries.load_agent(harness.db, agent_id)
    assert before is not None and before.state is not None
    state = dataclasses.replace(before.state, status=AgentStatus.PAUSED)
    writer = JournalWriter(harness.db, harness.clock)
    await writer.start()
    await writer.commit(
        [PendingEvent(agent_id, "test", state.step, AgentPaused(reason="test"))],
        CheckpointDelta.of(agent_id, "[]", state),
    )
    await writer.close()
    after = await queries.load_agent(harness.db, agent_id)
    assert after is not None and after.state is not None
    assert after.messages == before.messages
    assert after.state.status is AgentStatus.PAUSED
    assert after.state.step == before.state.step


async def test_load_unknown_agent(harness: Harness) -> None:
    assert await queries.load_agent(harness.db, "nobody-1") is None
    assert await queries.get_agent(harness.db, "nobody-1") is None


async def test_submit_numbers_agents_per_name(harness: Harness) -> None:
    ids = [await harness.submit(name, "t") for name in ("mailer", "mailer", "refunds", "mailer")]
    assert ids == ["mailer-1", "mailer-2", "refunds-1", "mailer-3"]
    records = await queries.list_agents(harness.db)
    assert [r.id for r in records] == ids
    assert all(r.status is AgentStatus.QUEUED for r in records)
    queued = await queries.list_agents(harness.db, [AgentStatus.QUEUED])
    assert len(queued) == 4
    assert await queries.list_agents(harness.db, [AgentStatus.RUNNING]) == []
