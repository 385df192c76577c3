"""The agent step loop, written once for a fresh start and for recovery.

A step is: a model turn, then each proposed tool call through the gate and (if allowed) the
tool, then one commit of the step's results with the checkpoint. The durability rules of
DESIGN.md are enforced here:

- Invariant 1: a step's commit is durable before the next step has any effect. The next
  model turn may be *requested* while that commit is in flight (a model turn changes nothing
  in the world), but it is journaled, and any tool runs, only after the commit is durable:
  the writer commits in submission order and the agent awaits the step's future before any
  tool call. This lets one fsync carry a step's result and the next step's intent.
- Invariant 2: a call with side effects is journaled as started, with its idempotency key,
  and that commit is awaited before the tool runs; its result is committed before the agent
  goes on (with the next call's intent or the step's checkpoint).
- Invariant 3: when recovery finds a call started without an outcome, it is re-sent with the
  same key only if the tool is `idempotent_by_key`, looked up first if `reconcilable`, and
  otherwise the agent stops *in doubt* for an operator.
- Invariant 5: resources a tool creates are recorded durably before the tool returns.

The same code path serves recovery: anything the journal already holds for the unfinished
step (the turn, outcomes) is reused instead of being asked for or done again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from pydantic import TypeAdapter

from controlroom import crashpoints
from controlroom.clock import Clock
from controlroom.domain.approvals import IN_DOUBT_VERDICTS, Approval, ApprovalKind, requested
from controlroom.domain.events import (
    AgentCompleted,
    AgentFailed,
    AgentPaused,
    AgentQuarantined,
    AgentStarted,
    AgentSubmitted,
    AgentSuspended,
    ApprovalDecided,
    BreakerTripped,
    ContextCompacted,
    CredentialIssued,
    Event,
    ModelTurnFailed,
    ModelTurnLost,
    ModelTurnRecorded,
    MonitorAlert,
    ResourceAcquired,
    ResourceConflict,
    ResourceCreated,
    ResourceWaited,
    ResultQuarantined,
    ToolCallDenied,
    ToolCallFailed,
    ToolCallInDoubt,
    ToolCallStarted,
    ToolCallSucceeded,
)
from controlroom.domain.models import (
    AgentRecord,
    AgentState,
    AgentStatus,
    Message,
    ToolCall,
    Turn,
    Usage,
)
from controlroom.domain.specs import AgentSpec, Effect, ToolContext, ToolSpec
from controlroom.governance import loops
from controlroom.governance.gate import CallProof, Gate, Verdict, arguments_dict, needs_approval
from controlroom.governance.identity import Credential, CredentialAuthority, bind
from controlroom.governance.novelty import NoveltyBook
from controlroom.governance.outbound import as_text, destinations
from controlroom.governance.policy import AgentPolicy, LoopLimits, budget_in_force
from controlroom.governance.ratelimit import RateLimiter
from controlroom.providers.base import Model, ModelError, TurnRequest
from controlroom.runtime.approvals import ApprovalDesk, call_digest
from controlroom.runtime.compaction import compact, size
from controlroom.runtime.costs import estimated_turn_cost, priced
from controlroom.runtime.daily_spend import DailySpend
from controlroom.runtime.deadlines import CallDeadlines
from controlroom.runtime.invoke import call_function, render_result
from controlroom.runtime.keys import canonical_json, effect_key
from controlroom.runtime.leases import LeaseBook
from controlroom.runtime.recovery import UnfinishedStep, unfinished_step
from controlroom.runtime.task_budgets import TaskBudgets
from controlroom.store import resource_leases
from controlroom.store.queries import StoredAgent
from controlroom.store.writer import (
    CheckpointDelta,
    CommitResult,
    JournalWriter,
    PendingEvent,
    Statement,
)

if TYPE_CHECKING:  # the module itself is imported on first use (see `Gate.screen`)
    from controlroom.governance.screening import Level

T = TypeVar("T")
_MESSAGES = TypeAdapter(list[Message])
_SET_STATUS = "UPDATE agents SET status = ?, updated_ms = ?, result = ?, error = ? WHERE id = ?"
_INSERT_NOVELTY = (
    "INSERT OR IGNORE INTO novelty (agent, kind, value, first_agent_id, first_seen_ms)"
    " VALUES (?, ?, ?, ?, ?)"
)
_INSERT_RESOURCE = (
    "INSERT OR IGNORE INTO resources (agent_id, tool, kind, resource_id, data, key, status,"
    " created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, 'live', ?, ?)"
)


def backoff_seconds(attempt: int, base: float = 0.05, cap: float = 5.0) -> float:
    """Exponential backoff before retry number `attempt` (1-based)."""
    return float(min(cap, base * (2 ** (attempt - 1))))


# What a tripped breaker's pause says: "breaker tripped on budget: spent $... of a $... budget".
BREAKER_TRIPPED = "breaker tripped on"
BUDGET_BREAKER = f"{BREAKER_TRIPPED} budget"


@dataclass(frozen=True)
class RunnerServices:
    """What every runner shares."""

    writer: JournalWriter
    clock: Clock
    gate: Gate
    model_for: Callable[[AgentSpec], Model]
    desk: ApprovalDesk
    backoff: Callable[[int], float] = backoff_seconds
    deadlines: CallDeadlines = field(default_factory=CallDeadlines)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    novelty: NoveltyBook = field(default_factory=NoveltyBook)
    daily_spend: DailySpend = field(default_factory=DailySpend)
    tasks: TaskBudgets = field(default_factory=TaskBudgets)
    # Issues each agent's credential (None: calls carry no proof, and the gate asks none).
    authority: CredentialAuthority | None = None
    run: str = ""  # the supervisor's run, which credentials are bound to
    # False only for the benchmark's comparison run: calls are validated and run, nothing
    # else (no identity, policy, monitoring or screening).
    governed: bool = True
    # Who holds which resource a tool names (`resource=`), and who waits for one.
    leases: LeaseBook = field(default_factory=LeaseBook)


class _Call(NamedTuple):
    """A call the gate allowed, ready to run: the tool, its context and arguments."""

    step: int
    call: ToolCall
    tool: ToolSpec
    ctx: ToolContext
    kwargs: dict[str, Any]


class ToolGaveUp(Exception):
    """A tool failed for good (after its attempts): the model is told, the breaker counts."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Interrupted(Exception):
    """A pause arrived while the agent waited on something safe to abandon (a model turn,
    a read-only tool, a backoff): the step is left unfinished, as after a crash."""


class Suspended(Exception):
    """The step asked for decisions: the agent is left waiting in `status`."""

    def __init__(self, status: AgentStatus) -> None:
        super().__init__(status.value)
        self.status = status


class NeedsHuman(Exception):
    """A call needs an operator's decision (its tier, taint, a loop, quarantine)."""

    def __init__(self, why: str, tier: str) -> None:
        super().__init__(why)
        self.why = why
        self.tier = tier


class StopAgent(Exception):
    """Ends the run loop in `status` (failed, in doubt) with `reason`."""

    def __init__(self, status: AgentStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class AgentRunner:
    """Runs one agent from its checkpoint until it finishes, stops or is asked to stop."""

    # An agent starts no sub-agents itself, and has no members' deadlines to keep.
    started_members: tuple[AgentRecord, ...] = ()
    next_deadline_ms: int | None = None

    def __init__(self, spec: AgentSpec, stored: StoredAgent, services: RunnerServices) -> None:
        self.spec = spec
        self.record: AgentRecord = stored.record
        self.agent_id = stored.record.id
        self._services = services
        # The task's and the definition's budgets never change (the policy's may).
        self._fixed_budget = budget_in_force(stored.record.budget_usd, spec.budget_usd)
        self._credential: Credential | None = None
        self.identity = f"agent:{self.agent_id}"
        self._writer = services.writer
        self._model = services.model_for(spec)
        self._stored: StoredAgent | None = stored
        self._state = stored.state
        # The state as last checkpointed: an interrupted step is undone back to it.
        self._checkpointed = stored.state.to_json() if stored.state is not None else ""
        self._messages: list[Message] = list(stored.messages)
        self._compacted = 0  # messages left out when the compaction was last journaled
        self._pending: list[PendingEvent] = []
        self._statements: list[Statement] = []  # writes that go with the next commit
        self._inflight: asyncio.Future[CommitResult] | None = None
        self._inflight_started = 0.0  # when the step now committing began (for latencies)
        self._step_taint: str | None = None  # untrusted output read in the current step
        self._turn_text = ""  # what the model said with the current step's calls
        self._awaiting: list[Approval] = []  # approvals the current step asked for
        self.waits_on_earlier = False  # suspended on approvals an earlier run asked for
        self.pause_requested: str | None = None
        self._tripped: set[str] = set()  # breaker causes journaled since this run began
        self._task: asyncio.Task[Any] | None = None
        self._interruptible = False  # waiting on something a pause may abandon
        self._interrupting = False  # a pause cancelled that wait
        self.stop_requested = False
        self.terminate_requested = False
        self.step_latencies: list[float] | None = None
        # Set by the supervisor for agents it recovers after another one died holding the
        # database: a request of theirs may have been in flight (see `ModelTurnLost`).
        self.recovered_after_crash = False
        # The task this sub-agent works for (its root agent), whose budget the whole tree
        # shares (see `TaskBudgets`); None for an agent without a parent.
        self.task_root: str | None = None
        self._abandoned_turn: str | None = None  # why a request in flight was abandoned
        self._state_unsaved = False  # the state changed outside a step's checkpoint
        self._renew_credential()

    def _renew_credential(self) -> None:
        """Take a fresh credential; the events from now on are attributed to it."""
        authority = self._services.authority
        if authority is None:
            return
        self._credential = credential = authority.issue(self.agent_id, self._services.run)
        self.identity = f"agent:{self.agent_id}/{credential.jti}"
        step = self._state.step if self._state is not None else 0
        self._pending.append(
            self._event(
                CredentialIssued(credential=credential.jti, expires_ms=credential.expires_ms),
                step,
            )
        )

    def _proof(self, call: ToolCall, key: str) -> CallProof | None:
        """Prove `call` with the agent's credential (renewed first if it is due).

        The call's effect key stands for its arguments: it is the hash of agent, step, tool
        and canonical arguments, so it binds the arguments and a little more.
        """
        authority = self._services.authority
        if authority is None:
            return None
        credential = self._credential
        assert credential is not None
        if authority.needs_renewal(credential):
            self._renew_credential()
            credential = self._credential
            assert credential is not None
        proof = bind(credential, call_id=call.id, tool=call.name, args_hash=key)
        return CallProof(self.agent_id, self._services.run, credential.token, proof, key)

    @property
    def state(self) -> AgentState | None:
        return self._state

    def request_pause(self, reason: str) -> None:
        """Pause at the next safe point: at once if the agent waits on a model turn, a
        read-only tool or a backoff (nothing in the world changes by abandoning those),
        otherwise when its current step's side effects are recorded."""
        if self.pause_requested is None:
            self.pause_requested = reason
        self._interrupt()

    def request_stop(self, *, terminate: bool = False) -> None:
        """Leave at the next safe point, as `request_pause` does, without changing status:
        the supervisor is shutting down (the agent resumes at its next start), or it
        terminates the agent."""
        self.stop_requested = True
        self.terminate_requested = self.terminate_requested or terminate
        self._interrupt()

    def _why_interrupted(self) -> str:
        if self.terminate_requested:
            return "abandoned in flight: the agent was terminated"
        if self.stop_requested:
            return "abandoned in flight: the supervisor stopped"
        return f"abandoned in flight: paused ({self.pause_requested})"

    def _interrupt(self) -> None:
        if self._interruptible and not self._interrupting and self._task is not None:
            self._interrupting = True
            self._task.cancel()

    def quarantine(self, reason: str) -> None:
        """Hold the agent's outputs for review from now on (it runs on)."""
        state = self._state
        if state is None or state.quarantined is not None:
            return
        state.quarantined = reason
        self._pending.append(self._event(AgentQuarantined(reason=reason), state.step))

    async def _abandonable(self, awaitable: Awaitable[T]) -> T:
        """Await something a pause may abandon (see `request_pause`).

        The pause cancels this task only while it is suspended here, so the cancellation
        can only land inside `awaitable`; it is turned into `Interrupted` and uncounted.
        """
        self._interruptible = True
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self._interrupting:
                raise
            self._interrupting = False
            if self._task is not None:
                self._task.uncancel()
            raise Interrupted from None
        finally:
            self._interruptible = False
            if self._interrupting:  # the awaitable swallowed the cancellation
                self._interrupting = False
                if self._task is not None:
                    self._task.uncancel()

    async def run(self) -> AgentStatus:
        """Run until done; return the status the agent is left in."""
        self._task = asyncio.current_task()
        unfinished = None
        if self._stored is not None and self._state is not None:
            unfinished = unfinished_step(self._stored.tail, self._state.step + 1)
            if self.recovered_after_crash:
                # The journal cannot say whether a request was in flight (the next turn is
                # requested while a step's commit is), so one may have been: the next turn
                # after what the journal holds.
                lost = self._state.step + (1 if unfinished.turn is None else 2)
                why = "the supervisor died while a request for this turn may have been in flight"
                self._lose_turn(self._state, lost, why)
        state = await self._begin()
        self._stored = None
        try:
            while True:
                if self.terminate_requested or self.stop_requested:
                    # An abandoned step's outcomes so far are kept: recovery reuses them.
                    await self._commit_pending(with_state=self._state_unsaved)
                    return state.status
                if self.pause_requested is not None:
                    await self._durable()
                    await self._set_status(
                        AgentStatus.PAUSED, AgentPaused(reason=self.pause_requested)
                    )
                    return AgentStatus.PAUSED
                if state.step >= self.spec.max_steps:
                    raise StopAgent(
                        AgentStatus.FAILED,
                        f"reached max_steps ({self.spec.max_steps}) without finishing",
                    )
                requests_turn = unfinished is None or unfinished.turn is None
                over = self._over_budget(state, self._next_turn_estimate(state, requests_turn))
                if over is not None:
                    self._trip(state.step, "budget", over)
                    continue
                try:
                    done = await self._step(state.step + 1, unfinished or UnfinishedStep())
                except Suspended as suspended:
                    return suspended.status
                except Interrupted:
                    # Undo the step's effects on the state (its journaled events stay, and
                    # resuming reuses them like recovery does); the loop's top pauses.
                    state = self._rewound()
                    if self._abandoned_turn is not None:
                        self._lose_turn(state, state.step + 1, self._abandoned_turn)
                        self._abandoned_turn = None
                    continue
                unfinished = None
                if done:
                    await self._durable()
                    return state.status
        except StopAgent as stop:
            await self._durable()
            await self._stop(stop)
            return stop.status

    async def _begin(self) -> AgentState:
        record = self.record
        if self._state is None:
            state = AgentState(
                agent_id=self.agent_id,
                agent=self.spec.name,
                intent=record.task,
                user=record.user,
                tainted_by=record.tainted_by,
            )
            opening = [
                Message(role="system", content=self._system_prompt()),
                Message(role="user", content=record.task),
            ]
            self._messages = opening
            state.message_count = len(opening)
            state.context_chars = sum(len(m.content) for m in opening)
            self._state = state
            opening_delta = CheckpointDelta.of(
                self.agent_id, _MESSAGES.dump_json(opening).decode(), state
            )
            self._checkpointed = opening_delta.state_json
            pending, self._pending = self._pending, []
            await self._writer.commit(
                [
                    *pending,
                    self._event(
                        AgentSubmitted(
                            agent=record.agent,
                            task=record.task,
                            user=record.user,
                            budget_usd=record.budget_usd,
                        ),
                        0,
                    ),
                    self._event(AgentStarted(resumed=False, step=0), 0),
                ],
                opening_delta,
                [self._status_statement(AgentStatus.RUNNING)],
            )
            return state
        state = self._state
        if state.status is AgentStatus.PAUSED:
            # An operator resumed it: the pause's reason is over, the monitors count afresh.
            state.recent_calls = ""
            state.error = None
            state.consecutive_failures = 0
            state.rate_breaches = 0
        state.status = AgentStatus.RUNNING
        self._checkpointed = state.to_json()
        pending, self._pending = self._pending, []
        checkpoint = CheckpointDelta.of(self.agent_id, "[]", state) if self._state_unsaved else None
        self._state_unsaved = False
        await self._writer.commit(
            [*pending, self._event(AgentStarted(resumed=True, step=state.step), state.step)],
            checkpoint,
            [self._status_statement(AgentStatus.RUNNING)],
        )
        return state

    def _system_prompt(self) -> str:
        parts = [f"You are {self.spec.name}."]
        if self.spec.role:
            parts.append(f"Role: {self.spec.role}.")
        if self.spec.instructions:
            parts.append(self.spec.instructions)
        return " ".join(parts)

    def _event(self, event: Event, step: int) -> PendingEvent:
        return PendingEvent(self.agent_id, self.identity, step, event)

    def _status_statement(
        self, status: AgentStatus, result: str | None = None, error: str | None = None
    ) -> Statement:
        return Statement(
            _SET_STATUS, (status.value, self._services.clock.now_ms(), result, error, self.agent_id)
        )

    async def _commit_pending(self, *, with_state: bool = False) -> None:
        pending, self._pending = self._pending, []
        statements, self._statements = self._statements, []
        state = self._state
        checkpoint = None
        if with_state and state is not None:
            checkpoint = CheckpointDelta.of(self.agent_id, "[]", state)
            self._state_unsaved = False
        if pending or statements or checkpoint:
            await self._writer.commit(pending, checkpoint, statements)
        await self._durable()

    def _lose_turn(self, state: AgentState, step: int, reason: str) -> None:
        """Journal a model request that got no recorded answer (see `ModelTurnLost`): it
        counts as a turn of unknown cost, in the state as in the journal."""
        state.unknown_cost_turns += 1
        self._checkpointed = state.to_json()  # a rewind must not forget it
        self._state_unsaved = True
        self._pending.append(self._event(ModelTurnLost(model=self.spec.model, reason=reason), step))

    async def _durable(self) -> None:
        """Wait until the previous step's commit is durable (raises if it failed)."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            committed = await inflight
            if self.step_latencies is not None:
                self.step_latencies.append(committed.durable_at - self._inflight_started)

    # -- one step -------------------------------------------------------------------------

    async def _step(self, step: int, known: UnfinishedStep) -> bool:
        state = self._state
        assert state is not None
        started = self._services.clock.monotonic()
        if known.turn is not None:
            turn = Turn(
                text=known.turn.text, tool_calls=known.turn.tool_calls, usage=known.turn.usage
            )
        else:
            turn = await self._request_turn(step)
            self._pending.append(
                self._event(
                    ModelTurnRecorded(text=turn.text, tool_calls=turn.tool_calls, usage=turn.usage),
                    step,
                )
            )
        self._account(turn.usage)  # before the calls: their budget check includes this turn
        self._turn_text = turn.text
        added = [Message(role="assistant", content=turn.text, tool_calls=turn.tool_calls)]
        waiting = False
        for call in turn.tool_calls:
            content = await self._run_call(step, call, known)
            if content is None:
                waiting = True
                continue
            added.append(
                Message(role="tool", content=content, tool_call_id=call.id, name=call.name)
            )
        if waiting:
            raise Suspended(await self._suspend(step, known))
        if self._step_taint is not None and state.tainted_by is None:
            state.tainted_by = self._step_taint
        self._step_taint = None
        state.step = step
        self._messages.extend(added)
        state.message_count += len(added)
        state.context_chars += sum(len(m.content) for m in added)
        finished = not turn.tool_calls
        statements: list[Statement] = []
        if finished:
            # A quarantined agent finishes, but its result is held for review.
            status = AgentStatus.QUARANTINED if state.quarantined else AgentStatus.COMPLETED
            state.status = status
            state.result = turn.text
            self._pending.append(self._event(AgentCompleted(result=turn.text), step))
            statements.append(
                self._status_statement(status, result=turn.text, error=state.quarantined)
            )
        pending, self._pending = self._pending, []
        if self._statements:
            statements += self._statements
            self._statements = []
        statements += resource_leases.released(self.agent_id, state.status)  # if it ended
        delta = CheckpointDelta.of(
            self.agent_id, _MESSAGES.serializer.to_json(added).decode(), state
        )
        self._checkpointed = delta.state_json
        self._state_unsaved = False
        # Not awaited here: see Invariant 1 in the module docstring.
        await self._durable()
        self._inflight = self._writer.submit(pending, delta, statements)
        self._inflight_started = started
        return finished

    def _account(self, usage: Usage) -> None:
        state = self._state
        assert state is not None
        state.input_tokens += usage.input_tokens
        state.output_tokens += usage.output_tokens
        if usage.cost_usd is None:
            state.unknown_cost_turns += 1
        elif usage.cost_usd:  # a free turn (the scripted model's) changes no total
            state.cost_usd += usage.cost_usd
            now = self._services.clock.now_ms()
            self._services.daily_spend.add(self.record.user, now, usage.cost_usd)
            if self.task_root is not None:
                self._services.tasks.add(self.task_root, usage.cost_usd)

    async def _request_turn(self, step: int) -> Turn:
        state = self._state
        assert state is not None
        messages: list[Message] = self._messages
        limit = self.spec.context_limit
        if limit is not None:
            compacted = compact(self._messages, limit)
            if compacted.dropped:
                messages = compacted.messages
                # Journaled when it starts and then as it doubles: the operator sees it
                # happen without an event every step.
                if compacted.dropped >= 2 * self._compacted:
                    self._compacted = compacted.dropped
                    chars = size(messages)
                    kept = len(messages)
                    event = ContextCompacted(dropped=compacted.dropped, kept=kept, chars=chars)
                    self._pending.append(self._event(event, step))
        request = TurnRequest(
            self.agent_id,
            state.intent,
            step,
            messages,
            self.spec.tools,
            state.context_chars if messages is self._messages else size(messages),
        )
        attempt = 0
        requests = 0  # what the attempts cost: a provider that retries makes several each
        while True:
            attempt += 1
            crashpoints.reached("before-model-turn", self.spec.name)
            try:
                turn = await self._abandonable(self._model.turn(request))
            except Interrupted:
                self._abandoned_turn = self._why_interrupted()
                raise
            except ModelError as exc:
                requests += exc.attempts
                self._pending.append(
                    self._event(ModelTurnFailed(attempt=attempt, error=str(exc)), step)
                )
                if not exc.retryable or attempt >= self.spec.model_attempts:
                    raise StopAgent(
                        AgentStatus.FAILED, f"model failed after {requests} attempt(s): {exc}"
                    ) from None
                await self._abandonable(self._services.clock.sleep(self._services.backoff(attempt)))
                continue
            crashpoints.reached("after-model-turn", self.spec.name)
            if turn.usage.cost_usd is None:
                prices = self._services.gate.policies.prices
                turn = turn.model_copy(
                    update={"usage": priced(turn.usage, self.spec.model, prices)}
                )
            return _with_call_ids(turn, step)

    # -- one call ---------------------------------------------------------------------------

    async def _run_call(self, step: int, call: ToolCall, known: UnfinishedStep) -> str | None:
        """One proposed call through the gate and, if allowed, the tool: the text the model
        is given, or None while the call waits for a human decision."""
        state = self._state
        assert state is not None
        # The arguments as the model proposed them (and the journaled turn holds them): they
        # name the call for loop detection and, with agent, step and tool, derive its key.
        canonical = canonical_json(call.arguments)
        governed = self._services.governed
        if governed:
            # Every proposed call counts towards loops (a replayed step re-counts its calls:
            # the history is checkpointed with the step).
            state.recent_calls = loops.remember(
                state.recent_calls, loops.signature(call.name, canonical)
            )
        decision = known.decisions.get(call.id)
        outcome = known.outcomes.get(call.id)
        # An in-doubt call an operator has settled is acted on below; any other outcome
        # (an in-doubt one still unsettled included) is what it was.
        settled = decision is not None and decision.verdict in IN_DOUBT_VERDICTS
        if outcome is not None and not (outcome.kind == "in_doubt" and settled):
            # Replaying the step: count it as the monitors did the first time.
            if outcome.kind == "in_doubt":
                raise StopAgent(AgentStatus.IN_DOUBT, outcome.content)
            if outcome.kind == "succeeded":
                state.consecutive_failures = 0
                self._note_output(step, self.spec.tool(call.name))
                if call.id in known.quarantined and state.quarantined is None:
                    state.quarantined = _screened_out(call.name, step)  # journaled then
            elif outcome.kind == "failed":
                state.consecutive_failures += 1
            return outcome.content
        if call.id in known.awaiting:
            return None  # its decision has not been made
        retrying = False
        if decision is not None:
            if decision.verdict == "retry":
                retrying = True
            elif decision.verdict != "approve":
                return self._settled(step, call, known, decision)
            elif decision.digest != call_digest(call.name, call.arguments):
                # Decisions are found by call id; the digest makes sure the call is the one
                # that was approved, not whatever now carries its id.
                why = f"approval #{decision.approval_id} was given for a different call"
                return self._deny(step, call, why)
            elif decision.arguments is not None:
                call = call.model_copy(update={"arguments": decision.arguments})
                canonical = canonical_json(call.arguments)
        gate = self._services.gate
        policy = gate.policy(self.spec)
        # Named as proposed: an allowed call's name is exactly its tool's.
        key = effect_key(self.agent_id, step, call.name, canonical)
        if retrying:
            # Exactly what started before, under the same key (the tool deduplicates on it,
            # if it can).
            started = known.started[call.id]
            call = call.model_copy(update={"arguments": started.arguments})
            key = started.key
        try:
            verdict = self._admitted(state, step, call, key, policy, approved=decision is not None)
        except NeedsHuman as needs:
            self._ask(ApprovalKind.CALL, step, call.id, call.name, call.arguments, needs)
            return None
        if isinstance(verdict, str):
            return verdict
        tool, validated = verdict.tool, verdict.arguments
        assert tool is not None and validated is not None
        plain = validated.__pydantic_serializer__.to_python(validated, mode="json")
        if governed:
            self._note_novelty(step, tool, plain)
        ctx = self._context(step, call, key, plain, known.resources)
        prepared = _Call(step, call, tool, ctx, arguments_dict(tool, validated))
        resource = tool.resource_of(plain)
        if resource is not None:
            refused = await self._take_lease(state, step, call, tool, resource, policy)
            if refused is not None:
                return refused

        try:
            if not tool.effect.has_side_effects:
                await self._durable()
                result, reconciled = await self._abandonable(
                    self._invoke(prepared, first_attempt=1)
                )
            elif call.id in known.started and not retrying:
                await self._durable()
                result, reconciled = await self._recover_call(prepared, known)
            else:
                self._pending.append(
                    self._event(
                        ToolCallStarted(call_id=call.id, tool=tool.name, key=key, arguments=plain),
                        step,
                    )
                )
                await self._commit_pending()
                crashpoints.reached("after-intent-commit", self.spec.name)
                result, reconciled = await self._invoke(prepared, first_attempt=1)
                crashpoints.reached("after-tool-effect", self.spec.name)
        except ToolGaveUp as gave_up:
            return self._failed_for_good(state, step, policy, tool.name, gave_up.error)
        state.consecutive_failures = 0
        self._note_output(step, tool)
        if governed and policy.screening != "off":
            result = self._screen(step, call, result, policy.screening)
        self._pending.append(
            self._event(
                ToolCallSucceeded(
                    call_id=call.id, tool=tool.name, key=key, result=result, reconciled=reconciled
                ),
                step,
            )
        )
        if verdict.tier == "notify":
            desk = self._services.desk
            now = self._services.clock.now_ms()
            notice = desk.ran(self.record, tool.name, plain, result, now)
            self._statements += desk.notify("notified", notice, now)
        return result

    async def _take_lease(
        self,
        state: AgentState,
        step: int,
        call: ToolCall,
        tool: ToolSpec,
        resource: str,
        policy: AgentPolicy,
    ) -> str | None:
        """Hold `resource` before the call runs (runtime/leases.py): at once, or after
        waiting for the agent that holds it to end. Returns the model's message if the wait
        gave up (the call failed without running).

        A new lease's row goes with the next commit: the call's intent, for a call with
        side effects, so it is durable before the tool runs.
        """
        leases = self._services.leases
        take = await leases.take(resource, self.agent_id)
        waited_ms = 0
        if take.holder is not None:
            waited = ResourceWaited(
                call_id=call.id, tool=tool.name, resource=resource, holder=take.holder
            )
            self._pending.append(self._event(waited, step))
            await self._commit_pending()  # the operator sees the wait as it begins
            timeout_s = tool.resource_timeout_s or leases.wait_s
            clock = self._services.clock
            began = clock.monotonic()
            holder = await self._abandonable(leases.wait(resource, self.agent_id, timeout_s))
            waited_ms = round((clock.monotonic() - began) * 1000)
            if holder is not None:
                error = (
                    f"{resource} is being worked on by agent {holder}; gave up after waiting"
                    f" {timeout_s:g}s (the call did not run: try again later)"
                )
                conflict = ResourceConflict(
                    call_id=call.id,
                    tool=tool.name,
                    resource=resource,
                    holder=holder,
                    waited_ms=waited_ms,
                )
                self._pending.append(self._event(conflict, step))
                failed = ToolCallFailed(  # key "": it never started
                    call_id=call.id, tool=tool.name, key="", attempt=0, error=error, final=True
                )
                self._pending.append(self._event(failed, step))
                return self._failed_for_good(state, step, policy, tool.name, error)
        elif not take.taken:
            return None  # held since an earlier call
        acquired = ResourceAcquired(
            call_id=call.id, tool=tool.name, resource=resource, waited_ms=waited_ms
        )
        self._pending.append(self._event(acquired, step))
        now = self._services.clock.now_ms()
        self._statements.append(resource_leases.take(resource, self.agent_id, now))
        return None

    def _admitted(
        self,
        state: AgentState,
        step: int,
        call: ToolCall,
        key: str,
        policy: AgentPolicy,
        *,
        approved: bool,
    ) -> Verdict | str:
        """The gate's and the monitors' verdict on a call: allowed, or the model's message.

        Raises NeedsHuman when it may only run with an operator's approval (`approved`: it
        has one).
        """
        gate = self._services.gate
        if not self._services.governed:
            verdict = gate.admit(self.spec, call)
        else:
            verdict = gate.check(
                self.spec, call, state.tainted_by, self._proof(call, key), approved=approved
            )
            loop = loops.detect(state.recent_calls, policy.loops)
            if loop.level != "none":
                refused = self._act_on_loop(
                    state, step, call, verdict, loop, policy.loops, approved=approved
                )
                if refused is not None:
                    return refused
            if verdict.refusal == "needs_approval":
                raise NeedsHuman(verdict.reason, verdict.tier)
            if verdict.allowed:
                refused = self._monitor(state, step, call, verdict, policy, approved=approved)
                if refused is not None:
                    return refused
        if verdict.allowed:
            return verdict
        if verdict.refusal == "invalid":
            return self._failed_outright(step, call, verdict.reason)
        return self._deny(step, call, verdict.reason)

    def _failed_outright(self, step: int, call: ToolCall, error: str) -> str:
        """Journal a call that failed without running (what the model is told)."""
        self._pending.append(
            self._event(
                ToolCallFailed(
                    call_id=call.id, tool=call.name, key="", attempt=0, error=error, final=True
                ),
                step,
            )
        )
        return f"error: {error}"

    def _ask(
        self,
        kind: ApprovalKind,
        step: int,
        call_id: str,
        tool: str,
        arguments: dict[str, Any],
        needs: NeedsHuman,
    ) -> None:
        """Ask for a decision on a call: the record, its event and notifications go with
        the step's next commit."""
        desk = self._services.desk
        now = self._services.clock.now_ms()
        approval = desk.request(
            kind=kind,
            record=self.record,
            step=step,
            call_id=call_id,
            tool=tool,
            arguments=arguments,
            why=needs.why,
            reason=self._turn_text,
            tier=needs.tier,
            now_ms=now,
        )
        self._pending.append(self._event(requested(approval), step))
        self._statements += desk.writes(approval, now)
        self._awaiting.append(approval)

    def _settled(
        self, step: int, call: ToolCall, known: UnfinishedStep, decision: ApprovalDecided
    ) -> str:
        """A decision that does not run the call as approved: what the model is told."""
        who = ", ".join(decision.approvers)
        note = f": {decision.note}" if decision.note else ""
        if decision.verdict == "happened":
            started = known.started.get(call.id)
            self._pending.append(
                self._event(
                    ToolCallSucceeded(
                        call_id=call.id,
                        tool=call.name,
                        key=started.key if started else "",
                        result=decision.result,
                        reconciled=True,
                    ),
                    step,
                )
            )
            return decision.result
        if decision.verdict == "abort":
            error = f"aborted by {who}: its outcome was unknown and it was not retried{note}"
            return self._failed_outright(step, call, error)
        if decision.verdict == "respond":
            return self._deny(step, call, f"not run: {who} replied instead: {decision.message}")
        return self._deny(step, call, f"{who} denied it{note}")

    async def _suspend(self, step: int, known: UnfinishedStep) -> AgentStatus:
        """End the task until every decision the step waits on is made.

        The step stays unfinished: its events are journaled and it is replayed, with the
        decisions, when the agent resumes; the state goes back to its checkpoint, so
        nothing the replay counts again is counted twice.
        """
        asked, self._awaiting = self._awaiting, []
        # Waiting again on approvals asked before: a decision may have landed since this
        # run read the journal, and then nobody would wake the agent (the supervisor checks).
        self.waits_on_earlier = bool(known.awaiting)
        ids = tuple(a.id for a in asked) + tuple(e.approval_id for e in known.awaiting.values())
        escalated = any(a.tier == "escalate" for a in asked) or any(
            e.tier == "escalate" for e in known.awaiting.values()
        )
        status = AgentStatus.ESCALATED if escalated else AgentStatus.AWAITING_APPROVAL
        state = self._rewound()
        state.status = status
        pending, self._pending = self._pending, []
        pending.append(self._event(AgentSuspended(approvals=ids, status=status.value), step))
        statements, self._statements = self._statements, []
        statements.append(self._status_statement(status))
        await self._durable()
        await self._writer.commit(
            pending, CheckpointDelta.of(self.agent_id, "[]", state), statements
        )
        return status

    def _rewound(self) -> AgentState:
        """The state as last checkpointed: an unfinished step's effects on it are undone
        (its replay counts them again), but not an operator's quarantine given meanwhile,
        which no replay would bring back."""
        quarantined = self._state.quarantined if self._state is not None else None
        state = self._state = AgentState.from_json(self._checkpointed)
        if state.quarantined is None:
            state.quarantined = quarantined
        self._step_taint = None
        return state

    def _monitor(
        self,
        state: AgentState,
        step: int,
        call: ToolCall,
        verdict: Verdict,
        policy: AgentPolicy,
        *,
        approved: bool,
    ) -> str | None:
        """Budget, quarantine and rate limits on a call the gate allowed; the model's
        message if the call is refused (NeedsHuman if it needs an approval it lacks)."""
        over = self._over_budget(state, 0.0)  # a call costs no model tokens
        if over is not None:
            return self._deny(step, call, self._trip(step, "budget", over))
        tool = verdict.tool
        assert tool is not None
        if state.quarantined is not None and tool.effect.has_side_effects and not approved:
            why = f"the agent is quarantined ({state.quarantined})"
            raise NeedsHuman(needs_approval(call.name, why), "approve")
        if policy.rate is None and not policy.tool_rates:
            return None
        breach = self._services.limiter.breach(
            self.agent_id, tool.name, policy, self._services.clock.monotonic()
        )
        if breach is None:
            state.rate_breaches = 0
            return None
        state.rate_breaches += 1
        self._alert(step, "rate", tool.name, "deny", breach)
        reason = f"rate limit: {breach}"
        limit = policy.breaker.max_rate_breaches
        if state.rate_breaches >= limit:
            reason = self._trip(
                step, "rate", f"{state.rate_breaches} calls in a row over the limit: {breach}"
            )
        return self._deny(step, call, reason)

    def _screen(self, step: int, call: ToolCall, result: str, level: Level) -> str:
        """The result the model may see: itself, or a placeholder if screening flags it.

        A flagged result is held for the operator (the original is journaled) and the
        agent is quarantined: it runs on with its outputs held, since whatever the text
        asked for, the content it came from is suspect.
        """
        verdict = self._services.gate.screen(result, level)
        if not verdict.flagged:
            return result
        self._pending.append(
            self._event(
                ResultQuarantined(
                    call_id=call.id,
                    tool=call.name,
                    score=verdict.score,
                    reasons=verdict.reasons,
                    original=result,
                ),
                step,
            )
        )
        reason = _screened_out(call.name, step)
        self._pending.append(
            self._event(BreakerTripped(cause="injection", action="quarantine", detail=reason), step)
        )
        self._notify_breaker("injection", reason)
        self.quarantine(reason)
        return (
            f"[result withheld: the output of {call.name} was quarantined by injection "
            f"screening (score {verdict.score:.2f}) and is held for an operator's review]"
        )

    def _note_novelty(self, step: int, tool: ToolSpec, arguments: dict[str, Any]) -> None:
        """Alert on a tool, or (for calls with effects) a destination, new to this agent."""
        domains = _destinations_in(arguments) if tool.effect.has_side_effects else []
        news = self._services.novelty.first_uses(self.spec.name, tool.name, domains)
        if not news:
            return
        now = self._services.clock.now_ms()
        for news_item in news:
            detail = news_item.describe(self.spec.name, tool.name)
            self._alert(step, "novelty", tool.name, "notice", detail)
            self._statements.append(
                Statement(
                    _INSERT_NOVELTY,
                    (self.spec.name, news_item.kind, news_item.value, self.agent_id, now),
                )
            )

    def _next_turn_estimate(self, state: AgentState, requests_turn: bool) -> float:
        """What the next step's model turn should cost (0 if the step reuses a recorded
        turn, or the model has no price to estimate with)."""
        price = self._services.gate.policies.prices.get(self.spec.model)
        if not requests_turn or price is None:
            return 0.0
        chars = state.context_chars
        if self.spec.context_limit is not None:
            chars = min(chars, self.spec.context_limit)
        average_output = state.output_tokens // state.step if state.step else 0
        return estimated_turn_cost(chars, average_output, price)

    def _over_budget(self, state: AgentState, estimate: float) -> str | None:
        """Why the agent may not spend more: it has reached its budget (the smallest of the
        task's, the definition's and the policy's) or its user's daily budget, or the next
        turn's `estimate` would cross one."""
        budget = budget_in_force(
            self._fixed_budget, self._services.gate.policy(self.spec).budget_usd
        )
        if budget is not None:
            crossed = _crossed(state.cost_usd, estimate, f"${budget:.4f} budget", budget)
            if crossed is not None:
                return crossed
        root = self.task_root
        task_budget = self._services.tasks.budget(root) if root is not None else None
        if root is not None and task_budget is not None:
            spent = self._services.tasks.spent(root)
            crossed = _crossed(
                spent, estimate, f"${task_budget:.4f} budget of task {root}", task_budget
            )
            if crossed is not None:
                return f"the task's agents {crossed}"
        user = self.record.user
        daily = self._services.gate.policies.daily_budget(user)
        if daily is not None:
            today = self._services.daily_spend.today(user, self._services.clock.now_ms())
            crossed = _crossed(today, estimate, f"${daily:.4f} daily budget", daily, " today")
            if crossed is not None:
                return f"{user}'s agents {crossed}"
        return None

    def _failed_for_good(
        self, state: AgentState, step: int, policy: AgentPolicy, tool: str, error: str
    ) -> str:
        """A call failed after its retries: the model is told (as a replay would tell it),
        and too many such calls in a row trip the breaker."""
        state.consecutive_failures += 1
        if state.consecutive_failures >= policy.breaker.max_consecutive_failures:
            self._trip(
                step,
                "failures",
                f"{state.consecutive_failures} calls in a row failed; the last, {tool}: {error}",
            )
        return f"error: {error}"

    def set_task_budget(self, budget_usd: float) -> None:
        """An operator set the task's budget: it binds from the next check on."""
        self._fixed_budget = budget_in_force(budget_usd, self.spec.budget_usd)

    def _trip(self, step: int, cause: str, detail: str) -> str:
        """Trip the agent's breaker: journal the alert, pause after this step (state kept).

        Returns the reason, which is also what `status` shows until an operator resumes it.
        """
        state = self._state
        assert state is not None
        reason = f"{BREAKER_TRIPPED} {cause}: {detail}"
        if cause not in self._tripped:  # later calls of the same turn are refused quietly
            self._tripped.add(cause)
            self._pending.append(
                self._event(BreakerTripped(cause=cause, action="pause", detail=detail), step)
            )
            self._notify_breaker(cause, detail)
        if self.pause_requested is None:
            self.pause_requested = reason
            state.error = reason
        return reason

    def _notify_breaker(self, cause: str, detail: str) -> None:
        desk = self._services.desk
        now = self._services.clock.now_ms()
        self._statements += desk.notify(
            "breaker", desk.breaker(self.agent_id, cause, detail, now), now
        )

    def _deny(self, step: int, call: ToolCall, reason: str) -> str:
        """Journal a refused call; return what the model is told."""
        self._pending.append(
            self._event(ToolCallDenied(call_id=call.id, tool=call.name, reason=reason), step)
        )
        return f"denied: {reason}"

    def _act_on_loop(
        self,
        state: AgentState,
        step: int,
        call: ToolCall,
        verdict: Verdict,
        loop: loops.Loop,
        limits: LoopLimits,
        *,
        approved: bool,
    ) -> str | None:
        """Warn about, gate or stop a looping agent; the model's message if the call is
        refused (NeedsHuman when it needs an approval it lacks).

        A stop pauses the agent after this step (state kept: an operator resumes it); until
        then, side-effecting calls need approval.
        """
        detail = loop.describe()
        if loop.level == "stop":
            self._alert(step, "loop", call.name, "stop", detail)
            return self._deny(step, call, self._trip(step, "loop", detail))
        tool = verdict.tool
        if (
            loop.level == "approve"
            and verdict.allowed
            and tool is not None
            and tool.effect.has_side_effects
            and not approved
        ):
            self._alert(step, "loop", call.name, "approve", detail)
            raise NeedsHuman(needs_approval(call.name, f"loop: {detail}"), "approve")
        if loop.length == limits.warn_after * loop.period:
            self._alert(step, "loop", call.name, "warn", detail)
        return None

    def _alert(self, step: int, monitor: str, tool: str, level: str, detail: str) -> None:
        self._pending.append(
            self._event(MonitorAlert(monitor=monitor, level=level, tool=tool, detail=detail), step)
        )

    def _note_output(self, step: int, tool: ToolSpec | None) -> None:
        """A tool's output is about to enter the context: taint the agent if it is untrusted.

        The taint takes effect at the end of the step, with the results: calls proposed in
        the same turn were chosen before the model read this output.
        """
        if tool is not None and tool.untrusted and self._step_taint is None:
            self._step_taint = f"{tool.name} at step {step}"

    async def _recover_call(self, prepared: _Call, known: UnfinishedStep) -> tuple[str, bool]:
        """Invariant 3: a call started before a crash, with no recorded outcome."""
        tool, ctx = prepared.tool, prepared.ctx
        next_attempt = known.failed_attempts.get(prepared.call.id, 0) + 1
        if tool.effect is Effect.IDEMPOTENT_BY_KEY:
            return await self._invoke(prepared, first_attempt=next_attempt)
        if tool.effect is Effect.RECONCILABLE:
            found = await self._lookup(tool, ctx)
            if found is not None:
                return found, True
            return await self._invoke(prepared, first_attempt=next_attempt)
        reason = (
            f"{tool.name} was started (key {ctx.key}) but its outcome was not recorded "
            "before a crash; it is not idempotent, so it is never retried automatically"
        )
        self._in_doubt(prepared, reason)
        raise StopAgent(AgentStatus.IN_DOUBT, reason)

    def _in_doubt(self, prepared: _Call, reason: str) -> None:
        ctx = prepared.ctx
        self._pending.append(
            self._event(
                ToolCallInDoubt(
                    call_id=prepared.call.id,
                    tool=prepared.tool.name,
                    key=ctx.key,
                    arguments=ctx.arguments,
                    reason=reason,
                ),
                prepared.step,
            )
        )
        needs = NeedsHuman(reason, "approve")
        self._ask(
            ApprovalKind.IN_DOUBT,
            prepared.step,
            prepared.call.id,
            prepared.tool.name,
            ctx.arguments,
            needs,
        )

    async def _lookup(self, tool: ToolSpec, ctx: ToolContext) -> str | None:
        assert tool.lookup is not None
        try:
            found = await self._timed(tool.timeout_s, tool.lookup, ctx)
        except Exception as exc:
            raise StopAgent(
                AgentStatus.IN_DOUBT,
                f"{tool.name}: looking up key {ctx.key} failed ({exc}); "
                "cannot tell whether the effect happened",
            ) from None
        return None if found is None else render_result(found)

    async def _invoke(self, prepared: _Call, *, first_attempt: int) -> tuple[str, bool]:
        """Run the tool under its timeout, retrying with backoff up to its attempts.

        Returns the result text and whether it came from a reconciling lookup.
        """
        tool, ctx = prepared.tool, prepared.ctx
        args = (ctx,) if tool.takes_context else ()
        attempt = first_attempt
        while True:
            try:
                value = await self._timed(tool.timeout_s, tool.fn, *args, **prepared.kwargs)
                return render_result(value), False
            except TimeoutError:
                error = f"timed out after {tool.timeout_s:g}s"
                if tool.effect is Effect.UNSAFE:
                    reason = f"{tool.name} {error}; it is not idempotent and may have taken effect"
                    self._in_doubt(prepared, reason)
                    raise StopAgent(AgentStatus.IN_DOUBT, reason) from None
                if tool.effect is Effect.RECONCILABLE:
                    found = await self._lookup(tool, ctx)
                    if found is not None:
                        return found, True
            except StopAgent:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            final = attempt >= tool.attempts
            self._pending.append(
                self._event(
                    ToolCallFailed(
                        call_id=prepared.call.id,
                        tool=tool.name,
                        key=ctx.key,
                        attempt=attempt,
                        error=error,
                        final=final,
                    ),
                    prepared.step,
                )
            )
            if final:
                raise ToolGaveUp(error)
            await self._services.clock.sleep(self._services.backoff(attempt))
            attempt += 1

    async def _timed(
        self, timeout_s: float, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """`fn(*args, **kwargs)` in this task, raising TimeoutError after `timeout_s`."""
        deadlines = self._services.deadlines
        armed = deadlines.arm(timeout_s)
        try:
            value = await call_function(fn, *args, **kwargs)
        except BaseException as exc:
            deadlines.disarm(armed, exc)
            raise
        deadlines.disarm(armed, None)
        return value

    def _context(
        self,
        step: int,
        call: ToolCall,
        key: str,
        plain: dict[str, Any],
        recorded: set[tuple[str, str, str]],
    ) -> ToolContext:
        async def register(kind: str, resource_id: str, data: dict[str, Any]) -> None:
            if (key, kind, resource_id) in recorded:
                return  # a call resent after a crash reports what it created the first time
            recorded.add((key, kind, resource_id))
            now = self._services.clock.now_ms()
            await self._writer.commit(
                [
                    self._event(
                        ResourceCreated(
                            tool=call.name, resource_kind=kind, resource_id=resource_id, key=key
                        ),
                        step,
                    )
                ],
                statements=[
                    Statement(
                        _INSERT_RESOURCE,
                        (
                            self.agent_id,
                            call.name,
                            kind,
                            resource_id,
                            json.dumps(data, default=str),
                            key,
                            now,
                            now,
                        ),
                    )
                ],
            )
            crashpoints.reached("after-resource-created")

        return ToolContext(
            key=key,
            agent_id=self.agent_id,
            agent=self.spec.name,
            identity=self.identity,
            step=step,
            call_id=call.id,
            arguments=plain,
            _register=register,
        )

    # -- leaving the loop -------------------------------------------------------------------

    async def _set_status(self, status: AgentStatus, event: Event) -> None:
        state = self._state
        assert state is not None
        state.status = status
        self._state_unsaved = False
        pending, self._pending = self._pending, []
        pending.append(self._event(event, state.step))
        statements, self._statements = self._statements, []
        await self._writer.commit(
            pending,
            CheckpointDelta.of(self.agent_id, "[]", state),
            [
                *statements,
                self._status_statement(status, error=state.error),
                *resource_leases.released(self.agent_id, status),
            ],
        )

    async def _stop(self, stop: StopAgent) -> None:
        state = self._state
        assert state is not None
        state.error = stop.reason
        if stop.status is AgentStatus.FAILED:
            await self._set_status(AgentStatus.FAILED, AgentFailed(error=stop.reason))
            return
        # In doubt: the step stays unfinished, like a suspension (see `_suspend`): its
        # events, the in-doubt approval and the status land together, and the state stays
        # as last checkpointed so that the replay after a decision counts nothing twice.
        state = self._rewound()
        state.status = stop.status
        self._awaiting = []
        pending, self._pending = self._pending, []
        statements, self._statements = self._statements, []
        statements.append(self._status_statement(stop.status, error=stop.reason))
        if not pending:  # a replay that found the call still in doubt: nothing new to keep
            await self._writer.commit([], statements=statements)
            return
        await self._writer.commit(
            pending, CheckpointDelta.of(self.agent_id, "[]", state), statements
        )


def _crossed(
    spent: float, estimate: float, budget_named: str, budget: float, when: str = ""
) -> str | None:
    """How `spent`, or `spent` plus the next turn's `estimate`, crosses `budget`, if it
    does: "spent $X of a $Y budget" or "spent $X; the next turn (about $E) would pass..."."""
    if spent >= budget:
        return f"spent ${spent:.4f}{when} of a {budget_named}"
    if spent + estimate > budget:
        return (
            f"spent ${spent:.4f}{when}; the next turn (about ${estimate:.4f})"
            f" would pass a {budget_named}"
        )
    return None


def _destinations_in(arguments: dict[str, Any]) -> list[str]:
    """The domains a call's arguments send something to (e-mail addresses, URLs)."""
    domains: list[str] = []
    for value in arguments.values():
        if isinstance(value, str):
            text = value  # as_text's answer, without the call
        elif value is None or isinstance(value, _NUMBERS):
            continue  # no address in a number
        else:
            text = as_text(value)
        if "@" in text or "://" in text:
            domains += destinations(text)
    return domains


_NUMBERS = (int, float)  # bool is an int


def _screened_out(tool: str, step: int) -> str:
    return f"injection screening flagged the result of {tool} at step {step}"


def _with_call_ids(turn: Turn, step: int) -> Turn:
    """Give every call an id unique within the agent (providers' ids are kept)."""
    if all(call.id for call in turn.tool_calls):
        return turn
    calls = tuple(
        call if call.id else call.model_copy(update={"id": f"s{step}c{index}"})
        for index, call in enumerate(turn.tool_calls)
    )
    return turn.model_copy(update={"tool_calls": calls})
