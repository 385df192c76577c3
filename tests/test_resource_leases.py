"""Per-resource leases: two agents that would modify the same order never interleave.

The race is real: the agents run concurrently under one supervisor and read-modify-write a
JSON file over two steps (read the order's total, then write it back increased), the read
holding on long enough for the other agent to come in between. Without `resource=` on the
tools the same race loses an update, which shows the tests would catch a lease that does
not serialize.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cr_support import Harness, query

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.models import AgentStatus
from controlroom.domain.specs import AgentSpec, DefinitionError, ToolSpec
from controlroom.runtime.leases import LeaseBook
from controlroom.store.database import Database
from controlroom.store.inbox import enqueue_command, submit_agent

ORDER = "order_id:o-1"


class Orders:
    """A tiny order book in a JSON file, with tools that read and write it."""

    def __init__(self, path: Path, *, leased: bool = True, hold_s: float = 0.15) -> None:
        self.path = path
        path.write_text("{}")
        self.leased = leased
        self.hold_s = hold_s
        self.reading = 0
        self.most_reading = 0  # how many reads overlapped at most
        self.writes: list[tuple[str, int]] = []
        self.parked = asyncio.Event()  # a holder is inside `park`
        self.unpark = asyncio.Event()

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = json.loads(self.path.read_text())
        return totals

    def tools(self, *, wait_s: float | None = None) -> list[ToolSpec]:
        resource = "order_id" if self.leased else None
        timeout = wait_s if self.leased else None

        @tool(resource=resource, resource_timeout=timeout)
        async def read_order(order_id: str) -> int:
            """The order's total (it takes a while: the other agent gets its chance)."""
            self.reading += 1
            self.most_reading = max(self.most_reading, self.reading)
            try:
                total = self.totals().get(order_id, 0)
                await asyncio.sleep(self.hold_s)
                return total
            finally:
                self.reading -= 1

        @tool(effect="idempotent_by_key", resource=resource, resource_timeout=timeout)
        async def write_order(ctx: ToolContext, order_id: str, total: int) -> str:
            totals = self.totals()
            totals[order_id] = total
            self.path.write_text(json.dumps(totals))
            self.writes.append((ctx.agent_id, total))
            return f"{order_id} is now {total}"

        @tool
        async def park() -> str:
            """Waits until the test lets it go (read-only: a stop abandons it)."""
            self.parked.set()
            await self.unpark.wait()
            return "let go"

        return [read_order, write_order, park]

    def desk(self, name: str = "desk", *, wait_s: float | None = None) -> AgentSpec:
        """Task "add N to ORDER [then park]": read the total, write it plus N, finish."""

        def script(view: ScriptView) -> Turn:
            words = view.task.split()
            amount, order = int(words[1]), words[3]
            if view.step == 1:
                return Turn.call("read_order", order_id=order)
            if view.step == 2:
                told = view.last_tool_result or ""
                if not told.isdigit():  # the read failed: say so and stop
                    return Turn.final(f"gave up: {told}")
                return Turn.call("write_order", order_id=order, total=int(told) + amount)
            if view.step == 3 and "park" in words:
                return Turn.call("park")
            return Turn.final(f"added {amount} to {order}")

        return agent(name=name, tools=self.tools(wait_s=wait_s), script=script)


async def _kinds_of(harness: Harness, agent_id: str) -> list[str]:
    return [e.event.kind for e in await harness.entries(agent_id) if e.event.kind.startswith("res")]


# -- the race -----------------------------------------------------------------------------------


async def test_two_agents_on_the_same_order_are_serialized(
    harness: Harness, tmp_path: Path
) -> None:
    orders = Orders(tmp_path / "orders.json")
    first = await harness.submit("desk", "add 5 to o-1")
    second = await harness.submit("desk", "add 7 to o-1")
    # No periodic look at the holder's status: only its announced end lets the waiter in.
    await harness.run_until_idle([orders.desk()], resource_recheck_s=60)

    for agent_id in (first, second):
        assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    # Both updates are there: neither agent read before the other had written.
    assert orders.totals() == {"o-1": 12}
    assert orders.most_reading == 1
    assert sorted(total for _, total in orders.writes) in ([5, 12], [7, 12])

    # One of them waited for the other, and got the order only once the other had ended.
    waited = await harness.entries(kind="resource_waited")
    assert len(waited) == 1
    waiter = waited[0].agent_id
    holder = first if waiter == second else second
    assert waited[0].event.model_dump() == {
        "call_id": "s1c0",
        "tool": "read_order",
        "resource": ORDER,
        "holder": holder,
    }
    [ended] = await harness.entries(holder, "agent_completed")
    acquired = await harness.entries(kind="resource_acquired")
    assert [(e.agent_id, e.event.model_dump()["resource"]) for e in acquired] == [
        (holder, ORDER),
        (waiter, ORDER),
    ]
    assert waited[0].id < ended.id < acquired[1].id
    assert await _kinds_of(harness, waiter) == ["resource_waited", "resource_acquired"]
    # Every lease is gone with its holder.
    assert query(harness.db.path, "SELECT * FROM resource_leases") == []


async def test_without_resource_the_same_race_loses_an_update(
    harness: Harness, tmp_path: Path
) -> None:
    """The control: the very same agents without `resource=` interleave (so the test above
    fails if the leases do not serialize)."""
    orders = Orders(tmp_path / "orders.json", leased=False)
    await harness.submit("desk", "add 5 to o-1")
    await harness.submit("desk", "add 7 to o-1")
    await harness.run_until_idle([orders.desk()])

    assert orders.most_reading == 2
    assert orders.totals()["o-1"] in (5, 7)  # one of the two updates was lost
    assert not await harness.entries(kind="resource_waited")


async def test_different_orders_do_not_wait_for_each_other(
    harness: Harness, tmp_path: Path
) -> None:
    orders = Orders(tmp_path / "orders.json")
    first = await harness.submit("desk", "add 5 to o-1")
    second = await harness.submit("desk", "add 7 to o-2")
    await harness.run_until_idle([orders.desk()])

    assert orders.totals() == {"o-1": 5, "o-2": 7}
    assert orders.most_reading == 2  # they ran side by side
    assert not await harness.entries(kind="resource_waited")
    assert await _kinds_of(harness, first) == ["resource_acquired"]
    assert await _kinds_of(harness, second) == ["resource_acquired"]
    [lease] = [e.event.model_dump() for e in await harness.entries(second, "resource_acquired")]
    assert lease == {
        "call_id": "s1c0",
        "tool": "read_order",
        "resource": "order_id:o-2",
        "waited_ms": 0,
    }


async def test_the_lease_row_is_durable_before_a_write_runs(
    harness: Harness, tmp_path: Path
) -> None:
    """A call with side effects takes its lease in the commit of its intent."""
    orders = Orders(tmp_path / "orders.json")
    seen: list[list[tuple[object, ...]]] = []

    @tool(effect="unsafe", resource=("order", "order_id"))
    def refund(order_id: int) -> str:
        seen.append(query(harness.db.path, "SELECT resource FROM resource_leases"))
        return "refunded"

    def script(view: ScriptView) -> Turn:
        return Turn.call("refund", order_id=42) if view.step == 1 else Turn.final("done")

    await harness.submit("refunder", "refund order 42")
    await harness.run_until_idle([agent(name="refunder", tools=[refund], script=script)])

    assert seen == [[("order:42",)]]
    assert orders.totals() == {}
    assert query(harness.db.path, "SELECT * FROM resource_leases") == []


# -- the bound on a wait ----------------------------------------------------------------------


async def test_a_wait_past_its_bound_is_a_conflict_and_the_agent_goes_on(
    harness: Harness, tmp_path: Path
) -> None:
    orders = Orders(tmp_path / "orders.json")
    holder_id = await harness.submit("desk", "add 5 to o-1 park")
    supervisor = harness.supervisor([orders.desk(), orders.desk("hasty", wait_s=0.2)])
    await supervisor.start()
    try:
        async with asyncio.timeout(10):
            await orders.parked.wait()  # the holder has the order, and keeps it
            hasty = await harness.submit("hasty", "add 7 to o-1")
            await harness.wait_status(hasty, [AgentStatus.COMPLETED])
            orders.unpark.set()
            await harness.wait_status(holder_id, [AgentStatus.COMPLETED])
    finally:
        await supervisor.stop()

    assert orders.totals() == {"o-1": 5}  # the hasty agent wrote nothing
    [conflict] = await harness.entries(hasty, "resource_conflict")
    detail = conflict.event.model_dump()
    assert (detail["resource"], detail["holder"], detail["tool"]) == (
        ORDER,
        holder_id,
        "read_order",
    )
    [failed] = await harness.entries(hasty, "tool_call_failed")
    error = failed.event.model_dump()
    assert error["final"] and error["attempt"] == 0
    assert f"{ORDER} is being worked on by agent {holder_id}" in error["error"]
    # The model was told, and went on.
    record = await harness.record(hasty)
    assert record.result is not None and record.result.startswith("gave up: error: order_id:o-1")
    assert await _kinds_of(harness, hasty) == ["resource_waited", "resource_conflict"]


async def test_a_deadlock_is_broken_by_the_bound(harness: Harness, tmp_path: Path) -> None:
    """A holds o-1 and wants o-2 while B holds o-2 and wants o-1: a wait gives up."""
    orders = Orders(tmp_path / "orders.json")
    read_order = orders.tools()[0]

    def script(view: ScriptView) -> Turn:
        mine, theirs = view.task.split()
        if view.step == 1:
            return Turn.call("read_order", order_id=mine)
        if view.step == 2:
            return Turn.call("read_order", order_id=theirs)
        return Turn.final(view.last_tool_result or "")

    crosser = agent(name="crosser", tools=[read_order], script=script)
    a = await harness.submit("crosser", "o-1 o-2")
    b = await harness.submit("crosser", "o-2 o-1")
    await harness.run_until_idle([crosser], within_s=10, resource_wait_s=0.3)

    for agent_id in (a, b):
        assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    assert await harness.entries(kind="resource_conflict")


async def test_terminate_releases_the_lease_to_a_waiter(harness: Harness, tmp_path: Path) -> None:
    orders = Orders(tmp_path / "orders.json")
    holder_id = await harness.submit("desk", "add 5 to o-1 park")
    supervisor = harness.supervisor([orders.desk()], resource_recheck_s=60)
    journal = supervisor.bus.subscribe()
    await supervisor.start()
    try:
        async with asyncio.timeout(10):
            await orders.parked.wait()
            waiter = await harness.submit("desk", "add 7 to o-1")
            while (await journal.get()).event.kind != "resource_waited":
                pass
            await supervisor.terminate(holder_id, "tester")
            await harness.wait_status(waiter, [AgentStatus.COMPLETED])
    finally:
        await supervisor.stop()

    assert orders.totals() == {"o-1": 12}
    [terminated] = await harness.entries(holder_id, "agent_terminated")
    [acquired] = await harness.entries(waiter, "resource_acquired")
    assert terminated.id < acquired.id
    assert query(harness.db.path, "SELECT * FROM resource_leases") == []


async def test_a_pause_while_waiting_leaves_the_queue_and_resume_waits_again(
    harness: Harness, tmp_path: Path
) -> None:
    orders = Orders(tmp_path / "orders.json")
    holder_id = await harness.submit("desk", "add 5 to o-1 park")
    supervisor = harness.supervisor([orders.desk()], resource_recheck_s=60)
    journal = supervisor.bus.subscribe()
    await supervisor.start()
    try:
        async with asyncio.timeout(10):
            await orders.parked.wait()
            waiter = await harness.submit("desk", "add 7 to o-1")
            while (await journal.get()).event.kind != "resource_waited":
                pass
            paused = await enqueue_command(harness.db, "pause", waiter, "tester", 0)
            await harness.wait_applied(paused)
            assert (await harness.record(waiter)).status is AgentStatus.PAUSED
            orders.unpark.set()
            await harness.wait_status(holder_id, [AgentStatus.COMPLETED])
            # Nobody was handed the order: the paused agent had left the queue.
            assert supervisor._services.leases.holder(ORDER) is None
            resumed = await enqueue_command(harness.db, "resume", waiter, "tester", 0)
            await harness.wait_applied(resumed)
            await harness.wait_status(waiter, [AgentStatus.COMPLETED])
    finally:
        await supervisor.stop()

    assert orders.totals() == {"o-1": 12}
    assert await _kinds_of(harness, waiter) == ["resource_waited", "resource_acquired"]


# -- across a restart ---------------------------------------------------------------------------


async def test_a_recovered_holder_keeps_its_lease_and_an_ended_one_frees_it(
    harness: Harness, tmp_path: Path
) -> None:
    orders = Orders(tmp_path / "orders.json")
    holder_id = await harness.submit("desk", "add 5 to o-1 park")
    first = harness.supervisor([orders.desk()])
    await first.start()
    try:
        async with asyncio.timeout(10):
            await orders.parked.wait()
    finally:
        await first.stop()  # the holder is left running, mid-task
    assert (await harness.record(holder_id)).status is AgentStatus.RUNNING
    assert query(harness.db.path, "SELECT resource, agent_id FROM resource_leases") == [
        (ORDER, holder_id)
    ]

    # A new supervisor on the same database: the recovered holder still has the order.
    orders.parked.clear()
    hasty = await harness.submit("hasty", "add 7 to o-1")
    second = harness.supervisor([orders.desk(), orders.desk("hasty", wait_s=0.2)])
    await second.start()
    try:
        async with asyncio.timeout(10):
            await harness.wait_status(hasty, [AgentStatus.COMPLETED])
            await orders.parked.wait()
            orders.unpark.set()
            await harness.wait_status(holder_id, [AgentStatus.COMPLETED])
    finally:
        await second.stop()
    [conflict] = await harness.entries(hasty, "resource_conflict")
    assert conflict.event.model_dump()["holder"] == holder_id
    assert orders.totals() == {"o-1": 5}
    assert query(harness.db.path, "SELECT * FROM resource_leases") == []

    # A row whose holder has ended (as a crash between its end and the release would leave
    # it) is free: the next agent takes the order at once.
    conn_rows = (ORDER, holder_id, 0)
    query(harness.db.path, "INSERT INTO resource_leases VALUES (?, ?, ?)", conn_rows)
    latecomer = await harness.submit("desk", "add 7 to o-1")
    await harness.run_until_idle([orders.desk()])
    assert (await harness.record(latecomer)).status is AgentStatus.COMPLETED
    assert await _kinds_of(harness, latecomer) == ["resource_acquired"]
    assert orders.totals() == {"o-1": 12}


# -- the book on its own ----------------------------------------------------------------------


async def test_waiters_are_served_in_order_and_a_cancelled_one_hands_on() -> None:
    book = LeaseBook()
    assert await book.take("r", "a") == (True, None)
    assert await book.take("r", "a") == (False, None)
    assert await book.take("r", "b") == (False, "a")
    b = asyncio.create_task(book.wait("r", "b", 5))
    c = asyncio.create_task(book.wait("r", "c", 5))
    await asyncio.sleep(0)
    book.release("a")
    assert book.holder("r") == "b"
    b.cancel()  # given the lease, then cancelled before it woke: the next in line gets it
    assert await c is None
    assert b.cancelled()
    assert book.holder("r") == "c"
    assert book.held_by("b") == frozenset()
    assert await book.wait("r", "d", 0.05) == "c"  # timed out: c still holds it


async def test_a_holder_that_ended_elsewhere_is_noticed(db: Database, tmp_path: Path) -> None:
    """An agent that ended without the book being told (an operator completed it) frees its
    resources: found when a call contends, and by a waiter's periodic look."""
    holder = await submit_agent(db, "desk", "x", "tester", None, 0)
    book = LeaseBook(db, recheck_s=0.05)
    assert (await book.take("r", holder.id)).taken
    assert (await book.take("s", holder.id)).taken
    assert await book.take("r", "b") == (False, holder.id)  # queued: a live holder
    waiting = asyncio.create_task(book.wait("r", "b", 5))
    query(db.path, "UPDATE agents SET status = 'completed' WHERE id = ?", (holder.id,))
    async with asyncio.timeout(2):
        assert await waiting is None
    assert await book.take("s", "c") == (True, None)
    assert await book.take("t", "ghost") == (True, None)
    assert await book.take("t", "d") == (True, None)  # no such agent: free


# -- definitions ----------------------------------------------------------------------------------


def test_resource_must_name_an_argument_of_the_tool() -> None:
    with pytest.raises(DefinitionError, match=r"names argument 'order'.*order_id, amount"):

        @tool(effect="unsafe", resource="order")
        def refund(order_id: str, amount: float) -> str:
            return "ok"

    with pytest.raises(DefinitionError, match="resource_timeout= needs resource="):

        @tool(resource_timeout=5)
        def look(order_id: str) -> str:
            return "ok"

    with pytest.raises(DefinitionError, match="resource_timeout must be positive"):

        @tool(resource="order_id", resource_timeout=0)
        def peek(order_id: str) -> str:
            return "ok"

    @tool(resource=("order", "id"), resource_timeout=2)
    def cancel(ctx: ToolContext, id: int, note: str | None = None) -> str:
        return "ok"

    assert (cancel.resource, cancel.resource_timeout_s) == (("order", "id"), 2.0)
    assert cancel.resource_of({"id": 42, "note": None}) == "order:42"
    assert cancel.resource_of({"id": None}) is None
    assert look_free().resource_of({"order_id": "o-1"}) is None


def look_free() -> ToolSpec:
    @tool
    def look(order_id: str) -> str:
        return "ok"

    return look
