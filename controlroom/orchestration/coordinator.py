"""The coordinator's decisions, as a pure function of its state and what happened.

Each time a team is woken (a member ended, a human decided an escalated subtask, a member's
deadline passed), `Coordinator.advance` reads the ends it has not acted on yet and says what
to do: members to start, members to stop, subtasks to escalate, events to journal, and
whether the team is done. It does no I/O, so every path (a plan, a rejection and its retry,
a failure and its policy, a poisoned message) is a plain unit test; `TeamRunner` makes the
decision durable in one commit.

The flow: the planner answers with a `Plan`; each subtask goes to the specialist of its type;
each result is screened and given to the critic; a rejected result is redone with the
critic's (screened) feedback up to `max_revisions` times; once every subtask is accepted or
skipped, the planner synthesizes the results. A member that fails, times out, answers
garbage or has its output held is retried `failure_retries` times, then the subtask is
skipped or escalated to a human, as the team says; the other members carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from controlroom.domain.events import (
    Event,
    MemberAssigned,
    MemberReported,
    MessageQuarantined,
    SubtaskReviewed,
    SubtaskSettled,
    TeamPlanned,
)
from controlroom.domain.models import AgentStatus
from controlroom.domain.teams import BadMessage, TeamSpec, read_plan, read_result, read_review
from controlroom.orchestration import briefs
from controlroom.orchestration.state import MemberRun, Role, SubtaskState, TeamState

# Subtask ids the planner may not use: they name the planner's and synthesizer's runs.
RESERVED_IDS = frozenset({"plan", "synth"})
# The ends of a member the coordinator acts on; any other status (paused, waiting on a
# human, in doubt) is the member's own business and the team keeps waiting.
SETTLED = frozenset(
    {AgentStatus.COMPLETED, AgentStatus.FAILED, AgentStatus.TERMINATED, AgentStatus.QUARANTINED}
)


class MemberEnd(NamedTuple):
    """How a member's run ended, as its row and checkpoint say; `tainted_by`: where
    untrusted content reached it, if it did (its output carries that taint on)."""

    status: AgentStatus
    result: str | None
    error: str | None
    tainted_by: str | None = None


class HumanDecision(NamedTuple):
    """A decision on an escalated subtask: approve (run it again), deny (skip it), respond
    (`message` is its result), or expired (skipped)."""

    verdict: str
    by: str
    note: str = ""
    message: str = ""


class Screened(NamedTuple):
    flagged: bool
    score: float
    reasons: tuple[str, ...]


# Never raises: a detector that fails flags the text (see `screen_or_hold`).
Screen = Callable[[str], Screened]


@dataclass(frozen=True)
class Spawn:
    """A member to start: sub-agent `child` running definition `agent`."""

    child: str
    agent: str
    role: Role
    brief: str
    subtask: str = ""
    attempt: int = 1
    budget_usd: float | None = None
    deadline_ms: int | None = None
    # The brief carries output of an agent that untrusted content had reached: the member
    # starts tainted (its side-effecting calls need approval), as if it had read it itself.
    tainted_by: str | None = None


@dataclass
class Decision:
    events: list[Event] = field(default_factory=list)
    spawns: list[Spawn] = field(default_factory=list)
    escalations: list[tuple[str, str]] = field(default_factory=list)  # (subtask, why)
    stop: list[str] = field(default_factory=list)  # members to terminate (timed out)
    outcome: Literal["waiting", "completed", "failed"] = "waiting"
    result: str | None = None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.events or self.spawns or self.escalations or self.stop) or (
            self.outcome != "waiting"
        )


class Coordinator:
    """Decides for one team (see the module docstring)."""

    def __init__(
        self,
        team_id: str,
        task: str,
        spec: TeamSpec,
        screen: Screen,
        *,
        budget_usd: float | None,
        now_ms: int,
    ) -> None:
        self.team_id = team_id
        self.task = task
        self.spec = spec
        self._screen = screen
        self._budget = budget_usd
        self._now = now_ms
        self._decision = Decision()

    def advance(
        self,
        state: TeamState,
        ends: Mapping[str, MemberEnd],
        decisions: Mapping[int, HumanDecision],
    ) -> Decision:
        """Act on every end and decision not acted on yet; `state` is updated in place."""
        self._decision = Decision()
        if state.phase == "planning" and state.planner_runs == 0:
            self._plan(state)
        for run in list(state.active):
            end = ends.get(run.child)
            if end is None and run.deadline_ms is not None and self._now >= run.deadline_ms:
                timeout = self.spec.member_timeout_s
                end = MemberEnd(AgentStatus.RUNNING, None, f"timed out after {timeout:g}s")
                self._decision.stop.append(run.child)
            if end is None:
                continue
            state.active.remove(run)
            self._ended(state, run, end)
        for entry in state.subtasks:
            decided = decisions.get(entry.approval_id or 0)
            if entry.status == "escalated" and decided is not None:
                self._decided(state, entry, decided)
        settled = all(entry.settled for entry in state.subtasks)
        if state.phase == "working" and not state.active and settled:
            self._synthesize(state, problem="")
        return self._decision

    # -- one member's end -----------------------------------------------------------------

    def _ended(self, state: TeamState, run: MemberRun, end: MemberEnd) -> None:
        if state.phase in ("done", "failed"):
            return
        if run.role == "planner":
            self._planner_ended(state, run, end)
        elif run.role == "synthesizer":
            self._synthesizer_ended(state, run, end)
        else:
            entry = state.subtask(run.subtask)
            if run.role == "specialist":
                self._specialist_ended(state, entry, run, end)
            else:
                self._critic_ended(state, entry, run, end)

    def _planner_ended(self, state: TeamState, run: MemberRun, end: MemberEnd) -> None:
        problem = _failure(end)
        if problem is None:
            try:
                plan = read_plan(end.result or "", self.spec)
                reserved = sorted({s.id for s in plan.subtasks} & RESERVED_IDS)
                if reserved:
                    raise BadMessage(f"plan: subtask id(s) {', '.join(reserved)} are reserved")
            except BadMessage as bad:
                self._report(run, end, "invalid", "retry", str(bad))
                self._member_failed_whole(state, str(bad), self._plan)
                return
            self._report(run, end, "ok", "continue")
            state.phase = "working"
            state.failures = 0
            state.subtasks = [SubtaskState(subtask=s) for s in plan.subtasks]
            self._emit(TeamPlanned(subtasks=[s.model_dump() for s in plan.subtasks]))
            for entry in state.subtasks:
                self._work(state, entry, problem="")
            return
        self._report(run, end, _kind(end), "retry", problem)
        self._member_failed_whole(state, problem, self._plan)

    def _synthesizer_ended(self, state: TeamState, run: MemberRun, end: MemberEnd) -> None:
        problem = _failure(end)
        if problem is None:
            try:
                result = read_result(end.result, self.spec)
            except BadMessage as bad:
                problem = str(bad)
                self._report(run, end, "invalid", "retry", problem)
            else:
                screened = self._screened(run, result)
                if screened is not None:
                    self._report(run, end, "ok", "complete")
                    state.phase = "done"
                    self._decision.outcome = "completed"
                    self._decision.result = screened
                    return
                problem = "its answer was quarantined by injection screening"
                self._report(run, end, "held", "retry", problem)
        else:
            self._report(run, end, _kind(end), "retry", problem)
        self._member_failed_whole(state, problem, self._synthesize)

    def _specialist_ended(
        self, state: TeamState, entry: SubtaskState, run: MemberRun, end: MemberEnd
    ) -> None:
        problem = _failure(end)
        outcome = _kind(end)
        if problem is None:
            try:
                result = read_result(end.result, self.spec)
            except BadMessage as bad:
                problem, outcome = str(bad), "invalid"
            else:
                screened = self._screened(run, result)
                if screened is None:
                    problem, outcome = "its result was quarantined by injection screening", "held"
                else:
                    entry.result = screened
                    entry.tainted_by = _carried(run, end)
                    if self.spec.critic is None:
                        self._report(run, end, "ok", "accept")
                        self._settle(entry, "accepted")
                    else:
                        self._report(run, end, "ok", "review")
                        self._review(state, entry)
                    return
        self._failed(state, entry, run, end, outcome, problem)

    def _critic_ended(
        self, state: TeamState, entry: SubtaskState, run: MemberRun, end: MemberEnd
    ) -> None:
        problem = _failure(end)
        outcome = _kind(end)
        if problem is None:
            try:
                review = read_review(end.result or "")
            except BadMessage as bad:
                problem, outcome = str(bad), "invalid"
            else:
                feedback = self._screened(run, review.feedback) if review.feedback else ""
                if feedback is None:
                    problem, outcome = "its feedback was quarantined by injection screening", "held"
                else:
                    self._emit(
                        SubtaskReviewed(
                            subtask=entry.subtask.id, verdict=review.verdict, feedback=feedback
                        )
                    )
                    self._reviewed(state, entry, run, end, review.verdict, feedback)
                    return
        self._failed(state, entry, run, end, outcome, problem)

    def _reviewed(
        self,
        state: TeamState,
        entry: SubtaskState,
        run: MemberRun,
        end: MemberEnd,
        verdict: str,
        feedback: str,
    ) -> None:
        if verdict == "accept":
            self._report(run, end, "ok", "accept")
            self._settle(entry, "accepted")
            return
        entry.feedback = feedback
        entry.feedback_tainted_by = _carried(run, end)
        if entry.revisions < self.spec.max_revisions:
            entry.revisions += 1
            self._report(run, end, "ok", "revise", feedback)
            self._work(state, entry, problem="")
            return
        why = f"the critic rejected it {entry.revisions + 1} time(s): {feedback or 'no reason'}"
        action = "escalate" if self.spec.after_failures == "escalate" else "skip"
        self._report(run, end, "ok", action, why)
        self._give_up(entry, why)

    def _failed(
        self,
        state: TeamState,
        entry: SubtaskState,
        run: MemberRun,
        end: MemberEnd,
        outcome: str,
        problem: str,
    ) -> None:
        """A member of a subtask failed: retry it while retries last, then skip or escalate.
        Only this subtask is affected; the other members run on."""
        entry.failures += 1
        if entry.failures <= self.spec.failure_retries:
            self._report(run, end, outcome, "retry", problem)
            if run.role == "critic":
                self._review(state, entry)
            else:
                self._work(state, entry, problem=problem)
            return
        action = "escalate" if self.spec.after_failures == "escalate" else "skip"
        self._report(run, end, outcome, action, problem)
        self._give_up(entry, f"{run.role} {run.child}: {problem}")

    def _give_up(self, entry: SubtaskState, why: str) -> None:
        if self.spec.after_failures == "escalate":
            entry.status = "escalated"
            self._decision.escalations.append((entry.subtask.id, why))
        else:
            self._settle(entry, "skipped", why)

    def _decided(self, state: TeamState, entry: SubtaskState, decision: HumanDecision) -> None:
        """A human settled an escalated subtask."""
        entry.approval_id = None
        said = f" ({decision.note})" if decision.note else ""
        if decision.verdict == "approve":
            entry.failures = 0
            entry.revisions = 0
            entry.status = "working"
            self._work(state, entry, problem="")
        elif decision.verdict == "respond":
            entry.result = decision.message
            entry.tainted_by = None  # an operator's word
            self._settle(entry, "accepted", f"result given by {decision.by}{said}")
        elif decision.verdict == "expired":
            self._settle(entry, "skipped", "its escalation expired unanswered")
        else:
            self._settle(entry, "skipped", f"skipped by {decision.by}{said}")

    def _member_failed_whole(
        self, state: TeamState, problem: str, again: Callable[[TeamState, str], None]
    ) -> None:
        """The planner or synthesizer failed: the whole team depends on it, so retry while
        retries last, then fail the team (with the structured reason)."""
        state.failures += 1
        if state.failures <= self.spec.failure_retries:
            again(state, problem)
            return
        state.phase = "failed"
        self._decision.outcome = "failed"
        self._decision.error = f"the team gave up: {problem}"

    # -- starting members -----------------------------------------------------------------

    def _plan(self, state: TeamState, problem: str = "") -> None:
        state.planner_runs += 1
        brief = briefs.plan_brief(self.task, self.spec, problem)
        self._start(state, "planner", self.spec.planner, f"plan-{state.planner_runs}", brief)

    def _work(self, state: TeamState, entry: SubtaskState, problem: str) -> None:
        entry.status = "working"
        entry.runs += 1
        brief = briefs.work_brief(self.task, entry.subtask, entry.feedback, problem)
        tainted_by = entry.feedback_tainted_by if entry.feedback else None
        share = self.spec.specialist_share
        budget = self._budget * share if self._budget is not None and share else None
        self._start(
            state,
            "specialist",
            self.spec.specialists[entry.subtask.type],
            f"{entry.subtask.id}-{entry.runs}",
            brief,
            subtask=entry.subtask.id,
            attempt=entry.runs,
            budget_usd=budget,
            tainted_by=tainted_by,
        )

    def _review(self, state: TeamState, entry: SubtaskState) -> None:
        assert self.spec.critic is not None
        entry.status = "reviewing"
        entry.reviews += 1
        self._start(
            state,
            "critic",
            self.spec.critic,
            f"{entry.subtask.id}-review-{entry.reviews}",
            briefs.review_brief(self.task, entry),
            subtask=entry.subtask.id,
            attempt=entry.reviews,
            tainted_by=entry.tainted_by,
        )

    def _synthesize(self, state: TeamState, problem: str) -> None:
        if not any(entry.status == "accepted" for entry in state.subtasks):
            state.phase = "failed"
            self._decision.outcome = "failed"
            notes = "; ".join(f"{e.subtask.id}: {e.note}" for e in state.subtasks)
            self._decision.error = f"no subtask produced a result ({notes})"
            return
        state.phase = "synthesizing"
        state.synthesis_runs += 1
        brief = briefs.synthesis_brief(self.task, state.subtasks, problem)
        carried = [e.tainted_by for e in state.subtasks if e.status == "accepted" and e.tainted_by]
        self._start(
            state,
            "synthesizer",
            self.spec.planner,
            f"synth-{state.synthesis_runs}",
            brief,
            tainted_by=carried[0] if carried else None,
        )

    def _start(
        self,
        state: TeamState,
        role: Role,
        agent: str,
        suffix: str,
        brief: str,
        *,
        subtask: str = "",
        attempt: int = 1,
        budget_usd: float | None = None,
        tainted_by: str | None = None,
    ) -> None:
        child = f"{self.team_id}.{suffix}"
        timeout = self.spec.member_timeout_s
        deadline = self._now + int(timeout * 1000) if timeout is not None else None
        state.active.append(
            MemberRun(child=child, role=role, subtask=subtask, deadline_ms=deadline)
        )
        self._decision.spawns.append(
            Spawn(child, agent, role, brief, subtask, attempt, budget_usd, deadline, tainted_by)
        )
        self._emit(
            MemberAssigned(
                child=child,
                agent=agent,
                role=role,
                subtask=subtask,
                attempt=attempt,
                tainted_by=tainted_by,
            )
        )

    # -- helpers --------------------------------------------------------------------------

    def _screened(self, run: MemberRun, text: str) -> str | None:
        """`text` if screening lets it pass to another member, else None (journaled)."""
        verdict = self._screen(text)
        if not verdict.flagged:
            return text
        self._emit(
            MessageQuarantined(
                child=run.child,
                subtask=run.subtask,
                score=verdict.score,
                reasons=verdict.reasons,
                original=text,
            )
        )
        return None

    def _settle(
        self, entry: SubtaskState, outcome: Literal["accepted", "skipped"], note: str = ""
    ) -> None:
        entry.status = outcome
        entry.note = note
        self._emit(SubtaskSettled(subtask=entry.subtask.id, outcome=outcome, note=note))

    def _report(
        self, run: MemberRun, end: MemberEnd, outcome: str, action: str, detail: str = ""
    ) -> None:
        self._emit(
            MemberReported(
                child=run.child,
                role=run.role,
                subtask=run.subtask,
                status=end.status.value,
                outcome=outcome,
                action=action,
                detail=detail,
            )
        )

    def _emit(self, event: Event) -> None:
        self._decision.events.append(event)


def _failure(end: MemberEnd) -> str | None:
    """Why a member's run did not give an answer, or None if it completed."""
    if end.status is AgentStatus.COMPLETED:
        return None
    if end.status is AgentStatus.QUARANTINED:
        return f"its output is held for review ({end.error or 'quarantined'})"
    if end.status is AgentStatus.TERMINATED:
        return f"it was terminated ({end.error or 'by an operator'})"
    return end.error or f"it ended {end.status.value}"


def _carried(run: MemberRun, end: MemberEnd) -> str | None:
    """The taint a member's output carries to whoever is given it."""
    if end.tainted_by is None:
        return None
    return f"the output of {run.child}, itself reached by {end.tainted_by}"


def _kind(end: MemberEnd) -> str:
    return "held" if end.status is AgentStatus.QUARANTINED else "failed"
