"""The UI benchmark: the control room attached to a busy database, measured from the keyboard.

`controlroom bench --scenario ui` answers "can an on-call engineer still drive the screen
while a thousand agents work?". It builds a database of N agents with some history (every
pane has rows: approvals waiting, agents paused by a breaker, alerts), then measures, for
`window_s` seconds while another process journals 500 events a second:

- key press to updated screen: `j` (or `k` at the bottom) pressed every 100-200 ms in the
  focused agents table, timed from the key entering the app to the first frame written to
  the terminal that shows the cursor on its new row (p50, p99, max);
- the app process's CPU (user + system, every thread, from `time.process_time`) over the
  wall time of the window, as a percentage of one core: an upper bound of the app's own cost
  (the probe and its typist thread are counted in it; the journal writer is not);
- the events actually written per second, the batches the app folded in, and whether it
  kept up: its room reached the last event written within a second of the end.

Three processes, each this module run with `python -m`: the caller makes the database; a
fresh process runs the app and the probe, as `controlroom` runs attached (not in the caller,
whose garbage collector the `bench` command tuned for a supervisor, and which has just made
a thousand agents); and the feed, so that the CPU figure is the app's own. The feed behaves
like a supervisor of N agents: it holds the lease (the app shows "attached") and heartbeats,
and journals each step as the runner does, through the same group-commit `JournalWriter`,
so rows are hash-chained and durable (`synchronous=FULL`) like real ones: the model turn
with its usage and cost and the tool call's intent, then the result (about 500 bytes) with
the step's checkpoint. The feed uses no Textual; it is here only because this file is the
UI benchmark's, and could move to a headless module.

With `team_size` (not on the command line: `ui_benchmark(team_size=10, spawn_per_s=2)`) the
agents are tasks as trees, as multi-agent teams make them: each run of `team_size` agents is
a root, two leads under it and the rest under the leads, so the panes draw markers and
roll-ups and every step of a member redraws its ancestors' rows; with `spawn_per_s` the feed
also submits that many new sub-agents a second during the window (under the roots of the
table's second half, below the rows the typist walks, whose positions must not move under
it: a key whose row moved would be counted as missed), each of which redraws the agents and
budgets panes whole.

Why not `run_test` (or `run_async(headless=True)`): the headless driver makes `App._display`
return before anything is written for the terminal. The compositor still renders the lines
that changed, so most of a frame's cost is there, but turning them into escape sequences
(about 1% of the app's CPU in a profile of this benchmark) is skipped, and the frame is
never flushed, which is the moment a key press becomes visible; and `Pilot.press` waits for
the whole process to look idle, so it times the load as much as the key. Here the app runs
with `_TerminalSink`, a driver that says it is not headless and swallows what it is sent
(counting the bytes): every frame is rendered as for a real 120x40 truecolor terminal.
Keys come from a thread, as the real driver's input thread sends them
(`Driver.process_message`), whenever the typist likes, busy loop or not. A press counts as
shown at the first frame flushed after the table's dirty regions were handed to the
compositor with the cursor on its new row and that row scrolled into view; the check reads
the table's `_repaint_regions`, private to Textual, which is pinned to an exact version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from textual import events
from textual.app import App
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot

from controlroom.clock import SystemClock
from controlroom.domain.approvals import Approval, ApprovalKind, requested
from controlroom.domain.events import (
    AgentPaused,
    AgentStarted,
    AgentSubmitted,
    AgentSuspended,
    BreakerTripped,
    Event,
    ModelTurnRecorded,
    MonitorAlert,
    ToolCallStarted,
    ToolCallSucceeded,
)
from controlroom.domain.models import AgentRecord, AgentState, AgentStatus, Message, ToolCall, Usage
from controlroom.errors import ControlRoomError
from controlroom.runtime.approvals import call_digest
from controlroom.store import approvals as approval_rows
from controlroom.store import queries
from controlroom.store.database import open_database
from controlroom.store.inbox import submit_agent
from controlroom.store.lease import HEARTBEAT_S, HEARTBEAT_SQL, acquire_lease, release_lease
from controlroom.store.writer import CheckpointDelta, JournalWriter, PendingEvent, Statement
from controlroom.ui.app import ControlRoomApp, make_app
from controlroom.ui.widgets.tables import SyncTable

SIZE = (120, 40)  # wide and tall: all six panes on screen at once
KINDS = (
    ("research", "summarise this week's incident reports"),
    ("ops", "rotate the staging certificates"),
    ("payments", "reconcile yesterday's supplier invoices"),
    ("support", "answer the open refund tickets"),
)
HISTORY_STEPS = 2  # steps every agent has taken before the window
HELD_EVERY = 50  # one agent in 50 waits on an approval, one in 50 is paused by a breaker
ALERT_EVERY = 100  # one step in 100 raises a monitor alert
CALL_S = 0.3  # how long a simulated tool call runs
TICK_S = 0.02  # the feed commits what is due this often
KEY_TIMEOUT_S = 5.0  # a press not shown by then is counted as missed
CATCH_UP_S = 1.0  # the app must show the last event this soon after the feed stops
_SET_STATUS = "UPDATE agents SET status = ?, updated_ms = ? WHERE id = ?"
_INSERT_AGENT = (
    "INSERT INTO agents (id, agent, task, user, budget_usd, status, parent_id, submitted_ms,"
    " updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MESSAGES = TypeAdapter(list[Message])
_ARGUMENT_TEXT = "payload " * 21  # with the other arguments, about 200 bytes
_RESULT_TEXT = "accepted; " * 45  # with the rest of the result, about 500 bytes

_Request = tuple[list[PendingEvent], CheckpointDelta | None, list[Statement]]


# -- the feed (a separate process; no Textual) -----------------------------------------------


@dataclass
class _Agent:
    """One simulated agent: its stored identity and the state its checkpoints carry."""

    record: AgentRecord
    identity: str
    state: AgentState
    call_id: str = ""

    def event(self, event: Event) -> PendingEvent:
        return PendingEvent(self.record.id, self.identity, self.state.step, event)


@dataclass
class _Feed:
    """Journals agent steps as the runner does, at a steady rate."""

    writer: JournalWriter
    clock: SystemClock
    agents: list[_Agent]
    steps_begun: int = 0
    spawned: int = 0

    def spawn(self, parent: _Agent) -> tuple[_Agent, _Request]:
        """A new sub-agent of `parent`, submitted and started in one commit (as a team
        queues a member and the supervisor starts it)."""
        self.spawned += 1
        now = self.clock.now_ms()
        record = AgentRecord(
            id=f"{parent.record.id}.s{self.spawned}",
            agent=parent.record.agent,
            task=f"a part of: {parent.record.task}",
            user=parent.record.user,
            budget_usd=parent.record.budget_usd,
            status=AgentStatus.QUEUED,
            submitted_ms=now,
            updated_ms=now,
            parent_id=parent.record.id,
        )
        agent = _Agent(
            record,
            f"agent:{record.id}/s{self.spawned:05x}",
            AgentState(agent_id=record.id, agent=record.agent, intent=record.task, user="oncall"),
        )
        row = (record.id, record.agent, record.task, record.user, record.budget_usd)
        insert = Statement(_INSERT_AGENT, (*row, "queued", record.parent_id, now, now))
        events, delta, statements = self.start(agent)
        return agent, (events, delta, [insert, *statements])

    def start(self, agent: _Agent) -> _Request:
        record = agent.record
        opening = [
            Message(role="system", content=f"You are {record.agent}."),
            Message(role="user", content=record.task),
        ]
        agent.state.message_count = len(opening)
        events = [
            agent.event(
                AgentSubmitted(
                    agent=record.agent,
                    task=record.task,
                    user=record.user,
                    budget_usd=record.budget_usd,
                )
            ),
            agent.event(AgentStarted(resumed=False, step=0)),
        ]
        delta = CheckpointDelta.of(record.id, _MESSAGES.dump_json(opening).decode(), agent.state)
        return events, delta, [self._status(agent, AgentStatus.RUNNING)]

    def begin(self, agent: _Agent) -> _Request:
        """A step's first commit: the model turn (with its cost) and the call's intent."""
        state = agent.state
        step = state.step + 1
        agent.call_id = f"call-{agent.record.id}-{step}"
        arguments = {"stream": agent.record.id, "sequence": step, "payload": _ARGUMENT_TEXT}
        usage = Usage(input_tokens=1_200 + 40 * step, output_tokens=60, cost_usd=0.0042)
        state.input_tokens += usage.input_tokens
        state.output_tokens += usage.output_tokens
        state.cost_usd += usage.cost_usd or 0.0
        call = ToolCall(id=agent.call_id, name="record_event", arguments=arguments)
        events = [
            agent.event(
                ModelTurnRecorded(text="Recording the next event.", tool_calls=(call,), usage=usage)
            ),
            agent.event(
                ToolCallStarted(
                    call_id=agent.call_id,
                    tool="record_event",
                    key=f"{agent.call_id}-key",
                    arguments=arguments,
                )
            ),
        ]
        self.steps_begun += 1
        if self.steps_begun % ALERT_EVERY == 0:
            events.append(
                agent.event(
                    MonitorAlert(
                        monitor="rate",
                        level="warn",
                        tool="record_event",
                        detail="40 calls in the last minute (limit 60)",
                    )
                )
            )
        return events, None, []

    def finish(self, agent: _Agent) -> _Request:
        """A step's second commit: the call's result and the step's checkpoint."""
        state = agent.state
        state.step += 1
        result = json.dumps({"sequence": state.step, "accepted": True, "note": _RESULT_TEXT})
        call = ToolCall(id=agent.call_id, name="record_event")
        added = [
            Message(role="assistant", content="Recording the next event.", tool_calls=(call,)),
            Message(role="tool", content=result, tool_call_id=agent.call_id, name="record_event"),
        ]
        state.message_count += len(added)
        event = ToolCallSucceeded(
            call_id=agent.call_id, tool="record_event", key=f"{agent.call_id}-key", result=result
        )
        delta = CheckpointDelta.of(agent.record.id, _MESSAGES.dump_json(added).decode(), state)
        return [agent.event(event)], delta, []

    def hold(self, agent: _Agent, approval_id: int) -> _Request:
        """Suspend `agent` on an approval (for the approvals pane)."""
        amount = 250.0 * approval_id
        arguments: dict[str, Any] = {"to": f"supplier-{approval_id}", "amount": amount}
        approval = Approval(
            id=approval_id,
            kind=ApprovalKind.CALL,
            agent_id=agent.record.id,
            agent=agent.record.agent,
            task=agent.record.task,
            user=agent.record.user,
            step=agent.state.step,
            call_id=f"call-{agent.record.id}-pay",
            tool="pay",
            arguments=arguments,
            digest=call_digest("pay", arguments),
            reason="The invoice is due today.",
            why="pay above $100 needs a clerk",
            amount=amount,
            requested_ms=self.clock.now_ms(),
            expires_ms=self.clock.now_ms() + 3_600_000,
        )
        agent.state.status = AgentStatus.AWAITING_APPROVAL
        events = [
            agent.event(requested(approval)),
            agent.event(AgentSuspended(approvals=(approval.id,), status=agent.state.status.value)),
        ]
        delta = CheckpointDelta.of(agent.record.id, "[]", agent.state)
        statements = [
            approval_rows.insert(approval),
            self._status(agent, AgentStatus.AWAITING_APPROVAL),
        ]
        return events, delta, statements

    def pause(self, agent: _Agent) -> _Request:
        """Pause `agent` with its budget breaker (for the breakers and alerts panes)."""
        detail = f"spent ${agent.state.cost_usd:.2f} of ${agent.record.budget_usd or 0:.2f}"
        agent.state.status = AgentStatus.PAUSED
        events = [
            agent.event(BreakerTripped(cause="budget", action="pause", detail=detail)),
            agent.event(AgentPaused(reason=f"budget breaker: {detail}")),
        ]
        delta = CheckpointDelta.of(agent.record.id, "[]", agent.state)
        return events, delta, [self._status(agent, AgentStatus.PAUSED)]

    def _status(self, agent: _Agent, status: AgentStatus) -> Statement:
        return Statement(_SET_STATUS, (status.value, self.clock.now_ms(), agent.record.id))

    async def commit(self, requests: Sequence[_Request]) -> int:
        """Submit every request at once (they share group commits, as agents' steps do) and
        wait until all are durable; returns the events written."""
        futures = [self.writer.submit(*request) for request in requests]
        results = await asyncio.gather(*futures)
        return sum(len(result.entries) for result in results)

    async def history(self) -> list[_Agent]:
        """Start every agent, take HISTORY_STEPS steps each, then hold a few; returns the
        agents still running."""
        await self.commit([self.start(agent) for agent in self.agents])
        for _ in range(HISTORY_STEPS):
            await self.commit([self.begin(agent) for agent in self.agents])
            await self.commit([self.finish(agent) for agent in self.agents])
        held: list[_Request] = []
        running = []
        for index, agent in enumerate(self.agents):
            if index % HELD_EVERY == 3:
                held.append(self.hold(agent, len(held) + 1))
            elif index % HELD_EVERY == 7:
                held.append(self.pause(agent))
            else:
                running.append(agent)
        await self.commit(held)
        return running

    async def stream(
        self,
        running: list[_Agent],
        events_per_s: float,
        window_s: float,
        spawn_per_s: float = 0.0,
        parents: Sequence[_Agent] = (),
    ) -> int:
        """Journal steps of the `running` agents at `events_per_s` for `window_s`, and
        submit `spawn_per_s` new sub-agents a second under `parents` in turn (they join the
        running ones); returns the events written. Whatever a slow commit delays is caught
        up in the next tick."""
        ready = deque(running)
        calls: deque[tuple[float, _Agent]] = deque()  # in flight, by when they finish
        written = 0
        started = time.perf_counter()
        while (now := time.perf_counter()) - started < window_s:
            due = int(events_per_s * (now - started)) - written
            requests: list[_Request] = []
            if parents and self.spawned < int(spawn_per_s * (now - started)):
                agent, request = self.spawn(parents[self.spawned % len(parents)])
                requests.append(request)
                ready.append(agent)
                due -= len(request[0])
            while due > 0 and (ready or calls):
                if calls and (calls[0][0] <= now or not ready):
                    _, agent = calls.popleft()
                    requests.append(self.finish(agent))
                    ready.append(agent)
                    due -= 1
                else:
                    agent = ready.popleft()
                    requests.append(self.begin(agent))
                    calls.append((now + CALL_S, agent))
                    due -= len(requests[-1][0])
            if requests:
                written += await self.commit(requests)
            await asyncio.sleep(TICK_S)
        return written


async def _heartbeat(writer: JournalWriter, clock: SystemClock, owner: str) -> None:
    """Keep the lease fresh, as a supervisor does, so the app shows itself attached."""
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        await writer.commit([], statements=[Statement(HEARTBEAT_SQL, (clock.now_ms(), owner))])


def _say(figures: dict[str, Any]) -> None:
    print(json.dumps(figures), flush=True)


async def run_feed(
    db_path: Path, events_per_s: float, window_s: float, spawn_per_s: float = 0.0
) -> None:
    """The feed process: history, then `{"ready": ...}` on stdout; on a `go` line on stdin,
    `window_s` seconds at `events_per_s` (and `spawn_per_s` new sub-agents a second, if
    there are trees), then its figures on stdout."""
    clock = SystemClock()
    db = await open_database(db_path, create=False, integrity_check=False)
    owner = f"ui-bench-feed-{os.getpid()}"
    await acquire_lease(db, owner, os.getpid(), socket.gethostname(), clock.now_ms())
    writer = JournalWriter(db, clock)
    heartbeat: asyncio.Task[None] | None = None
    try:
        await writer.start()
        heartbeat = asyncio.create_task(_heartbeat(writer, clock, owner))
        agents = [
            _Agent(
                record,
                f"agent:{record.id}/c{index:05x}",
                AgentState(
                    agent_id=record.id, agent=record.agent, intent=record.task, user=record.user
                ),
            )
            for index, record in enumerate(await queries.list_agents(db))
        ]
        feed = _Feed(writer, clock, agents)
        running = await feed.history()
        parented = {a.record.parent_id for a in agents if a.record.parent_id is not None}
        roots = [a for a in agents if a.record.id in parented and a.record.parent_id is None]
        parents = roots[len(roots) // 2 :]  # below the rows the typist walks
        _say({"ready": writer.durable_head[0]})
        if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
            return
        cpu, started = time.process_time(), time.perf_counter()
        written = await feed.stream(running, events_per_s, window_s, spawn_per_s, parents)
        seconds = time.perf_counter() - started
        _say(
            {
                "events": written,
                "seconds": seconds,
                "last_id": writer.durable_head[0],
                "cpu_percent": (time.process_time() - cpu) / seconds * 100,
                "spawned": feed.spawned,
            }
        )
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await writer.close()
        await release_lease(db, owner)
        await db.close()


# -- the app under measurement ---------------------------------------------------------------


class _TerminalSink(HeadlessDriver):
    """A terminal that swallows what it is sent. Unlike the headless driver it says it is
    not headless, so the app renders every frame for it (see the module docstring)."""

    def __init__(
        self,
        app: App[Any],
        *,
        debug: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self.bytes_written = 0
        self.frames = 0
        self.probe: _Probe | None = None

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        self.bytes_written += len(data.encode())

    def flush(self) -> None:
        """The app flushes once per frame written."""
        self.frames += 1
        if self.probe is not None:
            self.probe.frame_written()


@dataclass
class _Probe:
    """Types keys into the app while the feed runs, times them, and reads the meters."""

    feed: asyncio.subprocess.Process
    agents: int
    window_s: float
    press_every_s: tuple[float, float]
    latencies_ms: list[float] = field(default_factory=list)
    missed: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    _table: SyncTable | None = None
    _waiting: tuple[int, Future[float]] | None = None

    def frame_written(self) -> None:
        """Resolve the pending press if this frame is the first to show it."""
        waiting, table = self._waiting, self._table
        if waiting is None or table is None:
            return
        target, shown = waiting
        if table.cursor_row != target or table._repaint_regions or shown.done():
            return
        if table.is_row_visible(target):
            shown.set_result(time.perf_counter())

    async def run(self, pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ControlRoomApp)
        driver = app._driver
        assert isinstance(driver, _TerminalSink)
        self._table = table = await self._loaded(app)
        driver.probe = self
        await asyncio.sleep(0.5)  # the first frames after loading are not measured
        batches, frames, sent = app.batches, driver.frames, driver.bytes_written
        assert self.feed.stdin is not None
        self.feed.stdin.write(b"go\n")
        await self.feed.stdin.drain()
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.to_thread(self._type, driver, table.cursor_row, table.row_count)
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu
        self.figures = {
            "cpu_percent": cpu_s / elapsed * 100,
            "window_s": elapsed,
            "batches": app.batches - batches,
            "frames": driver.frames - frames,
            "bytes_per_s": (driver.bytes_written - sent) / elapsed,
            "color_system": app.console.color_system,
        }
        fed = json.loads(await _line(self.feed, timeout_s=30.0))
        self.figures["feed"] = fed
        self.figures["catch_up_ms"] = await _catch_up(app, int(fed["last_id"]))
        app.exit()

    async def _loaded(self, app: ControlRoomApp) -> SyncTable:
        """The agents table, once the app has read every agent into it."""
        for _ in range(1_200):
            main = app.main_screen
            if app.ready and main is not None and main.is_mounted:
                table = main.table("agents")
                if table.row_count >= self.agents and app.focused is table:
                    return table
            await asyncio.sleep(0.05)
        raise RuntimeError("the control room did not load the agents within a minute")

    def _type(self, driver: _TerminalSink, row: int, rows: int) -> None:
        """The typist, on its own thread as the terminal driver's input is: a key whenever
        it likes, loop busy or not, each after the previous one is on the screen."""
        rng = random.Random(7)
        down = True
        stop_at = time.perf_counter() + self.window_s
        while time.perf_counter() < stop_at:
            time.sleep(rng.uniform(*self.press_every_s))
            if row >= rows - 1:
                down = False
            elif row <= 0:
                down = True
            target = row + (1 if down else -1)
            shown: Future[float] = Future()
            self._waiting = (target, shown)
            pressed = time.perf_counter()
            key = "j" if down else "k"
            driver.process_message(events.Key(key, key))
            try:
                at = shown.result(KEY_TIMEOUT_S)
                row = target
            except TimeoutError:
                self.missed += 1
                at = pressed + KEY_TIMEOUT_S
                row = self._table.cursor_row if self._table is not None else row
            self._waiting = None
            self.latencies_ms.append((at - pressed) * 1000)


async def _catch_up(app: ControlRoomApp, last_id: int) -> float | None:
    """Milliseconds until the app's room holds event `last_id` (None: not within the limit)."""
    started = time.perf_counter()
    while time.perf_counter() - started < CATCH_UP_S:
        if app.room.last_event_id >= last_id:
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(0.01)
    return None


async def _line(process: asyncio.subprocess.Process, timeout_s: float) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout_s)
    if not line:
        await process.wait()
        raise RuntimeError(f"the feed process stopped (exit {process.returncode})")
    return line.decode()


async def _submit(db_path: Path, agents: int, team_size: int = 0) -> None:
    """`agents` agents; with `team_size`, in trees of that many: a root, two leads under it,
    the others under the leads in turn."""
    db = await open_database(db_path, synchronous="NORMAL")  # setting up is not measured
    try:
        root = ""
        leads: list[str] = []
        for index in range(agents):
            agent, task = KINDS[index % len(KINDS)]
            position = index % team_size if team_size else 0
            parent = None if position == 0 else root if position <= 2 else leads[position % 2]
            record = await submit_agent(
                db, agent, task, "oncall", 1.0 + index % 4, 0, parent_id=parent
            )
            if position == 0:
                root, leads = record.id, []
            elif position <= 2:
                leads.append(record.id)
    finally:
        await db.close()


async def _measure(
    db_path: Path,
    agents: int,
    events_per_s: float,
    window_s: float,
    press_every_s: tuple[float, float],
    spawn_per_s: float = 0.0,
) -> dict[str, Any]:
    """In the measuring process: start the feed, run the app on `db_path` with the probe."""
    feed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controlroom.ui.bench",
        "feed",
        str(db_path),
        str(events_per_s),
        str(window_s),
        str(spawn_per_s),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        json.loads(await _line(feed, timeout_s=300.0))  # the history is written
        db = await open_database(db_path, create=False, integrity_check=False)
        try:
            app = make_app(db, clock=SystemClock(), operator="oncall", freeze_after_load=True)
            app.driver_class = _TerminalSink
            probe = _Probe(feed, agents, window_s, press_every_s)
            await app.run_async(size=SIZE, auto_pilot=probe.run)
            if not probe.figures:
                raise RuntimeError("the control room stopped before the window ended")
        finally:
            await db.close()
        await feed.wait()
    finally:
        if feed.returncode is None:
            feed.kill()
            await feed.wait()
    if feed.returncode != 0:
        raise RuntimeError(f"the feed process failed (exit {feed.returncode})")
    return _report(agents, events_per_s, probe)


def _report(agents: int, events_per_s: float, probe: _Probe) -> dict[str, Any]:
    figures, fed = probe.figures, probe.figures["feed"]
    latencies = sorted(probe.latencies_ms)
    catch_up = figures["catch_up_ms"]
    return {
        "agents": agents,
        "target_rate": events_per_s,
        "events_per_s": round(fed["events"] / fed["seconds"], 1),
        "window_s": round(figures["window_s"], 2),
        "keys": len(latencies),
        "keys_missed": probe.missed,
        "key_p50_ms": round(statistics.median(latencies), 1),
        "key_p99_ms": round(_percentile(latencies, 0.99), 1),
        "key_max_ms": round(latencies[-1], 1),
        "cpu_percent": round(figures["cpu_percent"], 1),
        "batches": figures["batches"],
        "frames": figures["frames"],
        "output_kb_per_s": round(figures["bytes_per_s"] / 1024, 1),
        "kept_up": catch_up is not None,
        "catch_up_ms": None if catch_up is None else round(catch_up, 1),
        "feed_cpu_percent": round(fed["cpu_percent"], 1),
        "spawned": fed["spawned"],
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "color_system": figures["color_system"],
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: with fewer than 100 samples the p99 is the maximum."""
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def ui_benchmark(
    agents: int = 1_000,
    events_per_s: float = 500.0,
    window_s: float = 15.0,
    press_every_s: tuple[float, float] = (0.1, 0.2),
    team_size: int = 0,
    spawn_per_s: float = 0.0,
) -> dict[str, Any]:
    """`controlroom bench --scenario ui`: one JSON object of figures.

    The app is measured in a fresh process, as `controlroom` runs it attached: not in this
    one, which made the database and whose collector the `bench` command tuned for a
    supervisor (an attached control room keeps Python's defaults). `team_size` (at least
    4) makes the agents tasks as trees, `spawn_per_s` adds sub-agents during the window
    (see the module).
    """
    if agents < 2:
        raise ControlRoomError("the UI benchmark needs at least two agents (the cursor moves)")
    if team_size and team_size < 4:
        raise ControlRoomError("a team is a root, two leads and their members: at least 4")
    with tempfile.TemporaryDirectory(prefix="controlroom-bench-") as directory:
        db_path = Path(directory) / "ui.db"
        asyncio.run(_submit(db_path, agents, team_size))
        low, high = press_every_s
        arguments = [
            str(db_path),
            str(agents),
            str(events_per_s),
            str(window_s),
            str(low),
            str(high),
            str(spawn_per_s),
        ]
        done = subprocess.run(
            [sys.executable, "-m", "controlroom.ui.bench", "app", *arguments],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "COLORTERM": "truecolor"},  # most terminals today
        )
    if done.returncode != 0:
        raise RuntimeError(f"measuring process failed: {done.stderr.strip()[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if team_size:
        figures["team_size"] = team_size
    return figures


def _main(role: str, db_path: Path, *numbers: str) -> None:
    if role == "feed":
        events_per_s, window_s, spawn_per_s = map(float, numbers)
        asyncio.run(run_feed(db_path, events_per_s, window_s, spawn_per_s))
    else:
        agents = int(numbers[0])
        events_per_s, window_s, low, high, spawn_per_s = map(float, numbers[1:])
        figures = asyncio.run(
            _measure(db_path, agents, events_per_s, window_s, (low, high), spawn_per_s)
        )
        print(json.dumps(figures))


if __name__ == "__main__":
    _main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:])
