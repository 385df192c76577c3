"""The supervisor: owns a database (by lease), runs its agents as asyncio tasks, recovers
them after a crash, and applies what other processes asked for through the database.

Start-up order matters: validate and open the database, take the lease (refusing if a live
supervisor owns it), start the writer, then resume every agent that was running from its
checkpoint. Queued tasks and operator commands are polled from their tables, so an
engineer in a second SSH session can act on agents this process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from controlroom import crashpoints
from controlroom.clock import Clock, SystemClock
from controlroom.domain.events import (
    AgentPaused,
    AgentQuarantined,
    AgentResumed,
    AgentTerminated,
    BudgetChanged,
    Event,
    ModelBreakerChanged,
    OperatorActed,
    ResourceCompensated,
    SupervisorStarted,
    SupervisorStopped,
)
from controlroom.domain.models import AgentRecord, AgentStatus, Resource
from controlroom.domain.specs import AgentSpec, ToolContext
from controlroom.errors import ControlRoomError
from controlroom.governance.gate import Gate
from controlroom.governance.identity import CredentialAuthority
from controlroom.governance.policy import budget_in_force
from controlroom.governance.policy_loader import PolicySet
from controlroom.ids import TokenFactory, random_token
from controlroom.notify.deliver import Notifier
from controlroom.providers.base import Model
from controlroom.providers.breaker import BreakerChanged
from controlroom.providers.registry import EndpointSettings, Providers
from controlroom.providers.scripted import ScriptedModel
from controlroom.runtime import wakeup
from controlroom.runtime.anchoring import JournalSigner
from controlroom.runtime.approvals import ApprovalDesk
from controlroom.runtime.bus import EventBus
from controlroom.runtime.daily_spend import DAY_MS
from controlroom.runtime.decisions import BadDecision, DecisionRequest, Decisions
from controlroom.runtime.endpoints import endpoints_of
from controlroom.runtime.invoke import call_function
from controlroom.runtime.leases import DEFAULT_RECHECK_S, DEFAULT_WAIT_S, LeaseBook
from controlroom.runtime.notifications import Dispatcher
from controlroom.runtime.policy_watch import PolicyWatcher
from controlroom.runtime.runner import BUDGET_BREAKER, AgentRunner, RunnerServices, backoff_seconds
from controlroom.store import approvals as approval_rows
from controlroom.store import queries, resource_leases
from controlroom.store import teams as team_rows
from controlroom.store.costs import spent_since
from controlroom.store.database import Database
from controlroom.store.lease import HEARTBEAT_S, HEARTBEAT_SQL, acquire_lease, release_lease
from controlroom.store.writer import (
    CheckpointDelta,
    JournalWriter,
    PendingEvent,
    Statement,
    WriterClosed,
)

log = logging.getLogger(__name__)

COMMANDS = (
    "pause",
    "resume",
    "terminate",
    "quarantine",
    "kill-switch",
    "budget",
    "decide",
    "decision-refused",
)
_MARK_COMMAND = "UPDATE commands SET status = ?, applied_ms = ?, outcome = ? WHERE id = ?"
_SET_STATUS = "UPDATE agents SET status = ?, updated_ms = ?, error = ? WHERE id = ?"
_SET_BUDGET = "UPDATE agents SET budget_usd = ?, updated_ms = ? WHERE id = ?"
_MARK_RESOURCE = "UPDATE resources SET status = ?, updated_ms = ? WHERE id = ?"
_PAUSABLE = (
    AgentStatus.QUEUED,
    AgentStatus.WAITING,
    AgentStatus.RUNNING,
    AgentStatus.AWAITING_APPROVAL,
    AgentStatus.ESCALATED,
    AgentStatus.IN_DOUBT,
)


class LeaseLost(ControlRoomError):
    """Another process took the lease over; this supervisor must stop writing."""


def default_model_for(spec: AgentSpec) -> Model:
    """The scripted model only (tests that must never reach a network use this)."""
    if spec.model == "scripted" and spec.script is not None:
        return ScriptedModel(spec.script)
    raise ControlRoomError(
        f"agent {spec.name}: model {spec.model!r} is not available (available: scripted)"
    )


@dataclass
class SupervisorOptions:
    poll_interval_s: float = 0.2
    exit_when_idle: bool = False
    shutdown_grace_s: float = 10.0
    # How often the journal head is signed and the anchor file rewritten (and at stop).
    anchor_interval_s: float = 10.0
    # How often the policy directory (if any) is checked for edits.
    policy_check_interval_s: float = 2.0
    backoff: Callable[[int], float] = backoff_seconds
    # How long an agent's credential is valid (it is renewed before it expires).
    credential_lifetime_s: int = 15 * 60
    # Off only for the benchmark's baseline (`controlroom bench --scenario gate-overhead`).
    governance: bool = True
    # How often approval deadlines are checked.
    approval_check_interval_s: float = 1.0
    # How long a call waits for a resource another agent holds (a tool's own
    # `resource_timeout` comes first) before it fails with a conflict.
    resource_wait_s: float = DEFAULT_WAIT_S
    # How often such a waiter checks whether the holder ended without this supervisor
    # hearing of it (runtime/leases.py); ends it hears of hand the resource on at once.
    resource_recheck_s: float = DEFAULT_RECHECK_S


class Supervised(Protocol):
    """What the supervisor drives: an agent's runner, or a team's coordinator."""

    record: AgentRecord
    recovered_after_crash: bool
    waits_on_earlier: bool
    step_latencies: list[float] | None

    @property
    def started_members(self) -> Sequence[AgentRecord]:
        """Sub-agents this run queued (a team's new members): launched at once."""

    @property
    def next_deadline_ms(self) -> int | None:
        """When a member this team waits on is past its deadline (the team is woken)."""

    async def run(self) -> AgentStatus: ...

    def request_pause(self, reason: str) -> None: ...

    def request_stop(self, *, terminate: bool = False) -> None: ...

    def quarantine(self, reason: str) -> None: ...

    def set_task_budget(self, budget_usd: float) -> None: ...


# Builds a team's coordinator (the orchestration layer, above this one, supplies it).
Coordinate = Callable[[AgentSpec, "queries.StoredAgent", RunnerServices, Database], Supervised]


@dataclass
class _Running:
    runner: Supervised
    task: asyncio.Task[AgentStatus]
    on_exit: list[asyncio.Future[None]] = field(default_factory=list)


class Supervisor:
    """See the module docstring."""

    def __init__(
        self,
        db: Database,
        agents: dict[str, AgentSpec],
        *,
        clock: Clock | None = None,
        tokens: TokenFactory = random_token,
        bus: EventBus | None = None,
        model_for: Callable[[AgentSpec], Model] | None = None,
        options: SupervisorOptions | None = None,
        policies: PolicySet | None = None,
        policies_dir: Path | None = None,
        notifier: Notifier | None = None,
        endpoints: Mapping[str, EndpointSettings] | None = None,
        coordinate: Coordinate | None = None,
    ) -> None:
        self.db = db
        self.agents = agents
        self._coordinate = coordinate
        self.clock = clock or SystemClock()
        self.bus = bus or EventBus()
        self.options = options or SupervisorOptions()
        self.owner = tokens()
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.identity = f"supervisor:{self.host}:{self.pid}"
        self.writer = JournalWriter(db, self.clock, self.bus.publish)
        lifetime_s = self.options.credential_lifetime_s
        governed = self.options.governance
        if governed:
            # Loading the screening rules takes a tenth of a second: once, here, rather than
            # in some agent's first step (and commands that run no agent never pay it).
            importlib.import_module("controlroom.governance.screening")
        # Agents' credentials are signed by a key that lives as long as this process.
        authority = (
            CredentialAuthority(
                self.clock, lifetime_s=lifetime_s, renewal_margin_s=lifetime_s // 5, new_id=tokens
            )
            if governed
            else None
        )
        self.gate = Gate(policies, authority)
        self.desk = ApprovalDesk(self.gate, db.path)
        self.decisions = Decisions(
            db, self.writer, self.clock, self.gate, self.desk, agents, self.identity
        )
        self.notifications = Dispatcher(db, self.writer, self.identity, self.clock, notifier)
        # Real models' endpoints: one shared HTTP client and circuit breaker per endpoint,
        # every breaker transition journaled. `model_for`, if given, replaces them.
        self.providers = Providers(
            endpoints if endpoints is not None else endpoints_of(self.gate.policies),
            clock=self.clock,
            on_breaker=self._model_breaker_changed,
        )
        self._services = RunnerServices(
            self.writer,
            self.clock,
            self.gate,
            model_for or self._model_for,
            self.desk,
            self.options.backoff,
            authority=authority,
            run=self.owner,
            governed=governed,
            leases=LeaseBook(
                db,
                wait_s=self.options.resource_wait_s,
                recheck_s=self.options.resource_recheck_s,
            ),
        )
        self._policy_watcher = (
            PolicyWatcher(policies_dir, agents, self.gate, self._journal) if policies_dir else None
        )
        self._signer = JournalSigner(db, self.writer, self.clock, self.identity)
        self._running: dict[str, _Running] = {}
        self._rewake: set[str] = set()  # teams woken while their coordinator ran
        self._waking: set[str] = set()  # teams whose coordinator is being launched
        self._roots: dict[str, str] = {}  # the task (root agent) of each agent in a tree
        self._launched: set[str] = set()  # queued agents launched (see `poll_once`)
        self._team_runs: Counter[str] = Counter()  # coordinator runs ended, by team
        self._stopping = False
        self._team_deadlines: dict[str, int] = {}  # a member's deadline each team waits on
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._poke = asyncio.Event()
        self._stop_reason = ""
        self._fatal: BaseException | None = None
        self._loops: list[asyncio.Task[None]] = []
        self.collect_latencies = False
        self.latencies: list[float] = []

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Take the lease, start the writer, and resume or start every runnable agent."""
        wake_signal = wakeup.listen(id(self), self.poke)
        try:
            previous = await acquire_lease(
                self.db, self.owner, self.pid, self.host, self.clock.now_ms(), wake_signal
            )
        except BaseException:
            wakeup.stop_listening(id(self))
            raise
        try:
            await self.writer.start()
            await self._signer.prepare()
            self._services.novelty.remember(await queries.novelty_seen(self.db))
            today = self.clock.now_ms() // DAY_MS * DAY_MS
            self._services.daily_spend.remember(await spent_since(self.db, today))
            await self._services.leases.load()  # a recovered agent keeps what it held
            self.desk.start_after(await approval_rows.highest_id(self.db))
            took_over = previous.describe() if previous and previous.owner != self.owner else ""
            await self._journal(
                SupervisorStarted(pid=self.pid, host=self.host, took_over_from=took_over)
            )
            crashpoints.reached("after-open")
            # Commands given while no supervisor ran come first: an agent paused or
            # terminated from another shell must not be resumed by recovery.
            for command in await queries.pending_commands(self.db):
                await self._apply_command(command, inline=True)
            # Deadlines that passed while no supervisor ran are settled before anything runs.
            await self.decisions.expire()
            await self._recover(after_crash=bool(took_over))
        except BaseException:
            await self.writer.close()
            await release_lease(self.db, self.owner)
            wakeup.stop_listening(id(self))
            raise
        self._loops = [
            asyncio.create_task(self._poll_loop(), name="supervisor-poll"),
            asyncio.create_task(self._heartbeat_loop(), name="supervisor-heartbeat"),
            asyncio.create_task(
                self._every(self.options.anchor_interval_s, self._signer.sign, "signing"),
                name="supervisor-anchor",
            ),
            asyncio.create_task(
                self._every(
                    self.options.approval_check_interval_s,
                    self._expire_approvals,
                    "expiring approvals",
                ),
                name="supervisor-expiry",
            ),
        ]
        if self._policy_watcher is not None:
            await self._policy_watcher.start()
            reload = self._every(
                self.options.policy_check_interval_s,
                self._policy_watcher.check,
                "checking the policy directory",
            )
            self._loops.append(asyncio.create_task(reload, name="supervisor-policy"))

    async def _recover(self, *, after_crash: bool) -> None:
        """Resume the agents that were running; `after_crash`: the previous owner died
        holding the lease (it did not stop), so their requests in flight were lost. Teams
        waiting on members are woken too: a member may have ended while nobody ran."""
        running = await queries.list_agents(self.db, [AgentStatus.RUNNING, AgentStatus.WAITING])
        for index, record in enumerate(running):
            if index == 1:
                crashpoints.reached("mid-recovery")
            await self._launch(record, after_crash=after_crash)

    def request_stop(self, reason: str) -> None:
        """Ask the supervisor to stop (signal handlers call this)."""
        if not self._stop_reason:
            self._stop_reason = reason
        self._stopped.set()

    async def wait(self) -> None:
        """Block until a stop was requested (or a fatal error happened)."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Checkpoint-consistent shutdown: agents stop at their next safe point."""
        self._stopping = True
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            try:
                await loop
            except asyncio.CancelledError:
                pass
            except Exception:  # the loop's failure was already reported
                log.debug("loop ended with an error", exc_info=True)
        for running in self._running.values():
            running.runner.request_stop()
        # Deliveries in progress are abandoned: their rows stay pending and are sent at the
        # next start (a notification may arrive twice, never not at all).
        await self.notifications.close()
        tasks = [r.task for r in self._running.values()] + list(self._background)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=self.options.shutdown_grace_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        await self.providers.aclose()
        # Journaling set aside while the agents stopped (a model breaker's move) lands
        # before the writer closes.
        if self._background:
            await asyncio.wait(list(self._background), timeout=self.options.shutdown_grace_s)
        if self._fatal is None:
            await self._journal(SupervisorStopped(reason=self._stop_reason or "stopped"))
            await self._signer.sign()
        await self.writer.close()
        if not isinstance(self._fatal, LeaseLost):
            await release_lease(self.db, self.owner)
        wakeup.stop_listening(id(self))

    @property
    def fatal_error(self) -> BaseException | None:
        return self._fatal

    # -- agents -----------------------------------------------------------------------------

    async def _launch(
        self,
        record: AgentRecord,
        *,
        after_crash: bool = False,
        loaded: tuple[queries.StoredAgent, int] | None = None,
    ) -> None:
        """Start a runner for the agent: queued, or from its checkpoint (`loaded`: the one
        the caller has just read, and the team's count of runs before it read it)."""
        if record.id in self._running:
            return
        # A team may run and go back to waiting while this reads it (a wake-up and recovery
        # at once): then what was read may be older than its last decision.
        runs_before = loaded[1] if loaded else self._team_runs.get(record.id, 0)
        spec = self.agents.get(record.agent)
        if spec is None:
            if record.status is AgentStatus.QUEUED:
                await self._set_status(
                    record.id,
                    AgentStatus.FAILED,
                    f"no agent definition named {record.agent!r} is loaded",
                )
            else:
                log.warning(
                    "agent %s: definition %r not loaded; left %s",
                    record.id,
                    record.agent,
                    record.status.value,
                )
            return
        root = None
        if record.parent_id is not None and spec.team is None:
            root = await self._task_of(record)
        if record.status is AgentStatus.QUEUED:
            # Listed queued, it may have been launched since (by a poll and by its team).
            fresh = record.id not in self._launched
            stored = queries.StoredAgent(record, None, [], []) if fresh else None
        else:
            stored = loaded[0] if loaded else await queries.load_agent(self.db, record.id)
        # `record` may be stale: meanwhile the agent may have been launched, or have run and
        # finished (a resume applied at start-up, then recovery listing it). Nothing below
        # awaits, so the check holds until the runner is registered. Once stopping, nothing
        # new starts (a team's members queued meanwhile start at the next start).
        if stored is None or record.id in self._running or self._stopping:
            return
        if self._team_runs.get(record.id, 0) != runs_before:
            # It ran meanwhile; what woke this launch may have come after that run read
            # its members: wake it again, from its latest checkpoint.
            self._aside(self._wake_team(record.id), f"wake:{record.id}")
            return
        if record.status is not AgentStatus.QUEUED and stored.record.status not in (
            AgentStatus.RUNNING,
            AgentStatus.WAITING,
        ):
            return
        runner: Supervised
        if spec.team is not None:
            if self._coordinate is None:
                await self._set_status(
                    record.id, AgentStatus.FAILED, "this supervisor runs no teams (no coordinator)"
                )
                return
            runner = self._coordinate(spec, stored, self._services, self.db)
            if record.parent_id is None:
                self._roots[record.id] = record.id
        elif stored.record.status is AgentStatus.WAITING:
            return  # only a team waits on members
        else:
            agent_runner = AgentRunner(spec, stored, self._services)
            agent_runner.task_root = root
            runner = agent_runner
        runner.recovered_after_crash = after_crash
        if self.collect_latencies:
            runner.step_latencies = self.latencies
        if record.status is AgentStatus.QUEUED:
            self._launched.add(record.id)
        task = asyncio.create_task(runner.run(), name=f"agent:{record.id}")
        running = _Running(runner, task)
        self._running[record.id] = running
        task.add_done_callback(functools.partial(self._on_runner_done, record.id))

    def _on_runner_done(self, agent_id: str, task: asyncio.Task[AgentStatus]) -> None:
        running = self._running.pop(agent_id, None)
        ended = _ended_as(task)
        if ended is not None and ended.is_terminal:
            self._services.leases.release(agent_id)  # its end, durable, released the rows
        self._services.limiter.forget(agent_id)
        if not self._running:
            self._poke.set()  # an idle supervisor may want to exit now, not at the next poll
        if running is not None:
            self._after_run(agent_id, running.runner)
        if running is not None:
            for waiter in running.on_exit:
                if not waiter.done():
                    waiter.set_result(None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A runner only raises for infrastructure failures (the store), never agent errors.
            log.error("agent %s stopped by an internal error: %s", agent_id, exc)
            self._fatal = self._fatal or exc
            self.request_stop(f"internal error: {exc}")
            return
        if running is not None and running.runner.waits_on_earlier:
            self._aside(self._resume_if_settled(agent_id), f"recheck:{agent_id}")

    def _after_run(self, agent_id: str, runner: Supervised) -> None:
        """A team hears of its member's end; a team woken while it ran is woken again."""
        if not isinstance(runner, AgentRunner):
            self._team_runs[agent_id] += 1
        state = runner.state if isinstance(runner, AgentRunner) else None
        if state is not None and state.status.is_terminal:
            self._roots.pop(agent_id, None)  # a team's entry stays: its members need it
        parent = runner.record.parent_id
        if parent is not None:
            crashpoints.reached("member-ended", runner.record.agent)
            self._aside(self._wake_team(parent), f"wake:{parent}")
        deadline = runner.next_deadline_ms
        if deadline is not None:
            self._team_deadlines[agent_id] = deadline
        else:
            self._team_deadlines.pop(agent_id, None)
        if runner.started_members:
            self._aside(self._launch_all(runner.started_members), f"members:{agent_id}")
        if agent_id in self._rewake:
            self._rewake.discard(agent_id)
            self._aside(self._wake_team(agent_id), f"wake:{agent_id}")

    async def _launch_all(self, records: Sequence[AgentRecord]) -> None:
        for record in records:
            await self._launch(record)

    async def _task_of(self, record: AgentRecord) -> str:
        """The root of a sub-agent's task, with the tree's spend and budget tracked. Known
        from its parent's when the parent's is (a team starting fifty members asks once)."""
        root = self._roots.get(record.parent_id or "")
        if root is None:
            root, _budget, _definition = await team_rows.task_root(self.db, record.id)
        self._roots[record.id] = root
        tasks = self._services.tasks
        if not tasks.knows(root):
            top = await queries.get_agent(self.db, root)
            binding = self._binding(top.agent, top.budget_usd) if top is not None else None
            spent = await team_rows.tree_spend(self.db, root)
            if not tasks.knows(root):  # another member's launch may have tracked it meanwhile
                tasks.track(root, spent, binding)
        return root

    async def _wake_team(self, team_id: str) -> None:
        """Run a waiting team's coordinator (something it waits on may have happened).

        One wake at a time per team: a second one while a coordinator loads or runs is
        held over until it is done, so no run ever starts from a checkpoint that an
        earlier run is about to replace.
        """
        if team_id in self._running or team_id in self._waking:
            self._rewake.add(team_id)
            return
        self._waking.add(team_id)
        try:
            # One read: the team's row and checkpoint (a coordinator needs no more).
            runs = self._team_runs.get(team_id, 0)
            stored = await queries.load_team(self.db, team_id)
            # Running: resumed or recovered, its coordinator not yet back to waiting.
            live = (AgentStatus.WAITING, AgentStatus.RUNNING)
            team = stored is not None and self._is_team(stored.record)
            if stored is not None and team and stored.record.status in live:
                await self._launch(stored.record, loaded=(stored, runs))
        finally:
            self._waking.discard(team_id)
        if team_id in self._rewake and team_id not in self._running:
            self._rewake.discard(team_id)
            self._aside(self._wake_team(team_id), f"wake:{team_id}")

    def _is_team(self, record: AgentRecord) -> bool:
        """Whether the agent is a team (a sub-agent's parent may be a plain agent, which is
        never woken: it runs from its full checkpoint, not from a team's one read)."""
        spec = self.agents.get(record.agent)
        return spec is not None and spec.team is not None

    async def _wake_teams_past_deadline(self) -> None:
        now = self.clock.now_ms()
        for team_id, deadline in list(self._team_deadlines.items()):
            if now >= deadline:
                del self._team_deadlines[team_id]
                await self._wake_team(team_id)

    def _model_for(self, spec: AgentSpec) -> Model:
        return self.providers.model_for(
            spec.model, script=spec.script, attempts=spec.model_attempts
        )

    def _model_breaker_changed(self, change: BreakerChanged) -> None:
        """Journal a model endpoint's breaker moving (called from inside a turn: the event is
        committed aside, so the turn is not held up)."""
        event = ModelBreakerChanged(
            endpoint=change.endpoint,
            previous=change.previous,
            state=change.state,
            consecutive_failures=change.consecutive_failures,
            reason=change.reason,
        )
        self._aside(self._journal(event), f"model-breaker:{change.endpoint}")

    def _aside(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _resume_if_settled(self, agent_id: str) -> None:
        if await self.decisions.resume_if_settled(agent_id):
            await self._wake(agent_id)

    async def _runner_exit(self, agent_id: str) -> None:
        running = self._running.get(agent_id)
        if running is None:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        running.on_exit.append(waiter)
        await waiter

    async def _set_status(
        self,
        agent_id: str,
        status: AgentStatus,
        error: str | None = None,
        event: Event | None = None,
    ) -> None:
        events = [PendingEvent(agent_id, self.identity, 0, event)] if event else []
        await self.writer.commit(
            events,
            statements=[
                Statement(_SET_STATUS, (status.value, self.clock.now_ms(), error, agent_id)),
                *resource_leases.released(agent_id, status),
            ],
        )
        if status.is_terminal:
            self._services.leases.release(agent_id)

    async def _journal(
        self, event: Event, agent_id: str = "", statements: list[Statement] | None = None
    ) -> None:
        await self.writer.commit(
            [PendingEvent(agent_id, self.identity, 0, event)], statements=statements or []
        )

    # -- polling --------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while True:
            # Cleared before polling, so a poke that arrives meanwhile is not lost.
            self._poke.clear()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._fatal = exc
                self.request_stop(f"internal error: {exc}")
                return
            if self.options.exit_when_idle and await self._idle():
                self.request_stop("idle: every agent is finished or waiting")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.options.poll_interval_s)

    async def poll_once(self) -> None:
        """Apply pending operator commands, start queued agents, send notifications."""
        # An agent launched from the queue is no longer listed queued once it has begun,
        # which it has if its run is over: only those still running can be listed again.
        self._launched.intersection_update(self._running)
        for command in await queries.pending_commands(self.db):
            await self._apply_command(command)
        for record in await queries.list_agents(self.db, [AgentStatus.QUEUED]):
            await self._launch(record)
            crashpoints.reached("after-submit-pickup")
        await self.notifications.dispatch()

    def poke(self) -> None:
        """Poll now rather than at the next interval (a command was just queued)."""
        self._poke.set()

    async def _idle(self) -> bool:
        if self._running or self._background or await self.notifications.busy():
            return False
        if await queries.pending_commands(self.db):
            return False
        # An agent whose definition is not loaded cannot run here; it must not keep us busy.
        waiting = await queries.list_agents(self.db, [AgentStatus.QUEUED, AgentStatus.RUNNING])
        return not [record for record in waiting if record.agent in self.agents]

    async def _every(
        self, interval_s: float, action: Callable[[], Awaitable[None]], what: str
    ) -> None:
        """Run a housekeeping `action` every `interval_s`; its failure is logged, not fatal."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await action()
            except WriterClosed:
                return  # the writer failed; the supervisor is stopping for that reason
            except Exception:
                log.warning("%s failed", what, exc_info=True)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            result = await self.writer.commit(
                [], statements=[Statement(HEARTBEAT_SQL, (self.clock.now_ms(), self.owner))]
            )
            if result.rowcounts and result.rowcounts[0] == 0:
                self._fatal = LeaseLost(f"{self.db.path}: another supervisor took the lease over")
                self.request_stop("lease lost")
                return

    # -- operator commands ----------------------------------------------------------------

    async def _apply_command(self, command: queries.StoredCommand, inline: bool = False) -> None:
        if command.command == "decide":
            await self._decide(command)
            return
        if command.command == "decision-refused":
            payload = command.payload or {}
            target = int(command.target) if command.target.isdigit() else None
            await self.decisions.refuse(
                target,
                command.operator,
                str(payload.get("via", "webhook")),
                str(payload.get("reason", "refused")),
                command.id,
            )
            return
        if command.command == "terminate":
            if inline:
                await self._terminate_command(command)
                return
            # Terminating waits for the agent's safe point and runs compensations: do it
            # aside so other commands are not held up. It is marked applied when done.
            if any(t.get_name() == f"terminate:{command.id}" for t in self._background):
                return
            self._aside(self._terminate_command(command), f"terminate:{command.id}")
            return
        if command.command == "pause":
            outcome = await self._pause(command.target, f"paused by {command.operator}")
        elif command.command == "kill-switch":
            outcome = await self._pause("*", f"kill switch by {command.operator}")
        elif command.command == "resume":
            outcome = await self._resume(command.target, command.operator)
        elif command.command == "quarantine":
            outcome = await self._quarantine(command.target, f"quarantined by {command.operator}")
        elif command.command == "budget":
            outcome = await self._set_budget(command, (command.payload or {}).get("usd"))
        else:
            outcome = f"unknown command {command.command!r}"
        await self._finish_command(command, outcome)

    async def _decide(self, command: queries.StoredCommand) -> None:
        try:
            request = DecisionRequest.from_command(
                command.target, command.operator, command.payload
            )
        except BadDecision as bad:
            via = str((command.payload or {}).get("via", "cli"))
            target = int(command.target) if command.target.isdigit() else None
            await self.decisions.refuse(target, command.operator, via, str(bad), command.id)
            return
        applied = await self.decisions.decide(request, command.id)
        if applied.resume is not None:
            await self._wake(applied.resume)

    async def _expire_approvals(self) -> None:
        for agent_id in await self.decisions.expire():
            await self._wake(agent_id)
        await self._wake_teams_past_deadline()

    async def _wake(self, agent_id: str) -> None:
        """Launch an agent whose decisions are all made (its status is running again), or
        the team a decision was for."""
        # It may still be finishing the step that suspended it.
        await self._runner_exit(agent_id)
        record = await queries.get_agent(self.db, agent_id)
        if record is not None and record.status is AgentStatus.RUNNING:
            await self._launch(record)
        elif record is not None and record.status is AgentStatus.WAITING:
            await self._wake_team(agent_id)

    async def _finish_command(self, command: queries.StoredCommand, outcome: str) -> None:
        await self.writer.commit(
            [
                PendingEvent(
                    command.target if command.target != "*" else "",
                    f"operator:{command.operator}",
                    0,
                    OperatorActed(
                        command=command.command,
                        target=command.target,
                        operator=command.operator,
                        outcome=outcome,
                    ),
                )
            ],
            statements=[
                Statement(_MARK_COMMAND, ("applied", self.clock.now_ms(), outcome, command.id))
            ],
        )

    async def _targets(self, target: str) -> list[AgentRecord]:
        records = await queries.list_agents(self.db)
        if target == "*":
            return [r for r in records if not r.status.is_terminal]
        exact = [r for r in records if r.id == target]
        if exact:
            spec = self.agents.get(exact[0].agent)
            if spec is not None and spec.team is not None:
                # A team is acted on with its members (the team first: a member's end must
                # not wake a team being stopped into starting another).
                under = set(await team_rows.descendants(self.db, target))
                exact += [r for r in records if r.id in under and not r.status.is_terminal]
            return exact
        return [r for r in records if r.agent == target and not r.status.is_terminal]

    async def _pause(self, target: str, reason: str) -> str:
        targets = await self._targets(target)
        if not targets:
            return f"no agent matches {target!r}"
        paused: list[str] = []
        others: list[str] = []
        # Every running target is asked at once and they stop together (the kill switch
        # must not wait for 200 agents one after the other).
        asked = [
            (record.id, running)
            for record in targets
            if (running := self._running.get(record.id)) is not None
        ]
        idle = [record for record in targets if record.id not in self._running]
        for _agent_id, running in asked:
            running.runner.request_pause(reason)
        await asyncio.gather(*(self._runner_exit(agent_id) for agent_id, _ in asked))
        for agent_id, running in asked:
            ended = _ended_as(running.task)
            if ended is AgentStatus.PAUSED:
                paused.append(agent_id)
            else:  # it finished its step another way before reaching the pause
                others.append(f"{agent_id} is {ended.value if ended else 'stopped'}")
        # An agent waiting for a decision is paused too: a decision made afterwards is
        # recorded, but the agent goes on only when an operator resumes it.
        waiting = [r for r in idle if r.status in _PAUSABLE]
        await asyncio.gather(
            *(
                self._set_status(r.id, AgentStatus.PAUSED, None, AgentPaused(reason=reason))
                for r in waiting
            )
        )
        paused += [r.id for r in waiting]
        others += [f"{r.id} is {r.status.value}" for r in idle if r not in waiting]
        parts = [f"paused {', '.join(paused)}"] if paused else []
        parts += [f"not paused: {'; '.join(others)}"] if others else []
        return "; ".join(parts) or f"nothing to pause for {target!r}"

    async def _quarantine(self, target: str, reason: str) -> str:
        """Hold the outputs of the agent(s) for review; they run on (if running)."""
        targets = [r for r in await self._targets(target) if not r.status.is_terminal]
        if not targets:
            return f"no live agent matches {target!r}"
        done: list[str] = []
        others: list[str] = []
        for record in targets:
            running = self._running.get(record.id)
            if running is not None:
                running.runner.quarantine(reason)
                done.append(record.id)
                continue
            stored = await queries.load_agent(self.db, record.id)
            if stored is None or stored.state is None:
                others.append(f"{record.id} has not started (pause or terminate it instead)")
                continue
            if stored.state.quarantined is None:
                # Recorded in its checkpoint: it takes effect when the agent next runs.
                stored.state.quarantined = reason
                await self.writer.commit(
                    [PendingEvent(record.id, self.identity, 0, AgentQuarantined(reason=reason))],
                    CheckpointDelta.of(record.id, "[]", stored.state),
                )
            done.append(record.id)
        parts = [f"quarantined {', '.join(done)}: outputs held for review"] if done else []
        parts += [f"not quarantined: {'; '.join(others)}"] if others else []
        return "; ".join(parts)

    async def _set_budget(self, command: queries.StoredCommand, usd: object) -> str:
        """Set a task's budget; an agent its budget breaker paused goes on if the new line is
        above what it spent, and one running is held to the new line at its next check."""
        if not isinstance(usd, int | float) or isinstance(usd, bool) or usd < 0:
            return f"refused: budget {usd!r} is not an amount of USD"
        record = await queries.get_agent(self.db, command.target)
        if record is None or record.status.is_terminal:
            return f"refused: no live agent {command.target!r}"
        budget = float(usd)
        await self.writer.commit(
            [
                PendingEvent(
                    record.id,
                    f"operator:{command.operator}",
                    0,
                    BudgetChanged(budget_usd=budget, operator=command.operator),
                )
            ],
            statements=[Statement(_SET_BUDGET, (budget, self.clock.now_ms(), record.id))],
        )
        running = self._running.get(record.id)
        if running is not None:
            running.runner.set_task_budget(budget)
        outcome = f"budget of {record.id} set to ${budget:,.2f}"
        binding = self._binding(record.agent, budget)
        tasks = self._services.tasks
        tree = await team_rows.descendants(self.db, record.id)
        if tree and tasks.knows(record.id):
            tasks.set_budget(record.id, binding)
            spent_by_tree = tasks.spent(record.id)
            if binding is not None and spent_by_tree >= binding:
                return f"{outcome}; the task's agents spent ${spent_by_tree:,.4f} of it"
        held = await self._held_by_budget([record.id, *tree])
        if not held:
            return outcome
        resumed: list[str] = []
        for member, spent, own in held:
            if own is not None and spent >= own:
                outcome += f"; {member} still paused: spent ${spent:,.4f} of ${own:,.4f}"
            else:
                resumed.append(member)
        for member in resumed:
            outcome += f"; {await self._resume(member, command.operator)}"
        return outcome

    def _binding(self, definition: str, budget: float | None) -> float | None:
        """The budget that binds an agent whose task's budget is `budget`."""
        spec = self.agents.get(definition)
        return budget_in_force(
            budget,
            spec.budget_usd if spec is not None else None,
            self.gate.policy(spec).budget_usd if spec is not None else None,
        )

    async def _held_by_budget(self, ids: list[str]) -> list[tuple[str, float, float | None]]:
        """(id, spent, own binding budget) of each of `ids` its budget breaker paused."""
        held: list[tuple[str, float, float | None]] = []
        for agent_id in ids:
            record = await queries.get_agent(self.db, agent_id)
            if record is None or record.status is not AgentStatus.PAUSED:
                continue
            if not (record.error or "").startswith(BUDGET_BREAKER):
                continue
            stored = await queries.load_agent(self.db, agent_id)
            spent = stored.state.cost_usd if stored is not None and stored.state else 0.0
            held.append((agent_id, spent, self._binding(record.agent, record.budget_usd)))
        return held

    async def _resume(self, target: str, operator: str) -> str:
        targets = [r for r in await self._targets(target) if r.status is AgentStatus.PAUSED]
        if not targets:
            return f"no paused agent matches {target!r}"
        for record in targets:
            await self._set_status(
                record.id, AgentStatus.RUNNING, None, AgentResumed(reason=f"resumed by {operator}")
            )
            refreshed = await queries.get_agent(self.db, record.id)
            if refreshed is not None:
                await self._launch(refreshed)
        return f"resumed {', '.join(r.id for r in targets)}"

    async def _terminate_command(self, command: queries.StoredCommand) -> None:
        try:
            outcome = await self.terminate(command.target, command.operator)
        except asyncio.CancelledError:
            return  # shutting down: the command stays pending and runs again at next start
        await self._finish_command(command, outcome)

    async def terminate(self, target: str, operator: str) -> str:
        """Stop the agent(s), run compensations newest first (each journaled), mark terminated."""
        targets = [r for r in await self._targets(target) if not r.status.is_terminal]
        if not targets:
            return f"no live agent matches {target!r}"
        summaries = []
        done: set[str] = set()
        while targets:
            record = targets.pop(0)
            done.add(record.id)
            if not targets:  # a team's last decision may have started members meanwhile
                targets = [
                    r
                    for r in await self._targets(target)
                    if not r.status.is_terminal and r.id not in done
                ]
            running = self._running.get(record.id)
            if running is not None:
                running.runner.request_stop(terminate=True)
                await self._runner_exit(record.id)
            compensated, failed = await self._compensate(record)
            await self.decisions.cancel(record.id, f"the agent was terminated by {operator}")
            await self._set_status(
                record.id,
                AgentStatus.TERMINATED,
                None,
                AgentTerminated(reason=f"terminated by {operator}", compensated=compensated),
            )
            note = f" ({failed} compensation(s) failed)" if failed else ""
            summaries.append(f"{record.id}: {compensated} resource(s) compensated{note}")
            if record.parent_id is not None:
                await self._wake_team(record.parent_id)
        return "terminated " + "; ".join(summaries)

    async def _compensate(self, record: AgentRecord) -> tuple[int, int]:
        spec = self.agents.get(record.agent)
        done = failed = 0
        for resource in await queries.live_resources(self.db, record.id):
            tool = spec.tool(resource.tool) if spec else None
            ok, error = await self._run_compensation(tool.compensate if tool else None, resource)
            crashpoints.reached("mid-compensation")
            await self.writer.commit(
                [
                    PendingEvent(
                        record.id,
                        self.identity,
                        0,
                        ResourceCompensated(
                            tool=resource.tool,
                            resource_kind=resource.kind,
                            resource_id=resource.resource_id,
                            ok=ok,
                            error=error,
                        ),
                    )
                ],
                statements=[
                    Statement(
                        _MARK_RESOURCE,
                        (
                            "compensated" if ok else "compensation_failed",
                            self.clock.now_ms(),
                            resource.id,
                        ),
                    )
                ],
            )
            done += ok
            failed += not ok
        return done, failed

    async def _run_compensation(self, compensate: object, resource: Resource) -> tuple[bool, str]:
        if compensate is None or not callable(compensate):
            return False, f"tool {resource.tool} declares no compensation"

        async def no_register(_kind: str, _rid: str, _data: dict[str, object]) -> None:
            raise RuntimeError("a compensation cannot create resources")

        ctx = ToolContext(
            key=resource.key,
            agent_id=resource.agent_id,
            agent="",
            identity=self.identity,
            step=0,
            call_id="",
            arguments={},
            _register=no_register,
        )
        try:
            await call_function(compensate, resource, ctx)
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, ""


def _ended_as(task: asyncio.Task[AgentStatus]) -> AgentStatus | None:
    """The status a finished runner task returned, if it returned one."""
    if task.cancelled() or task.exception() is not None:
        return None
    return task.result()
