"""Loop detection: a looping agent is warned, then gated, then stopped, and can be resumed."""

from __future__ import annotations

import random

from cr_support import Harness

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.events import MonitorAlert, ToolCallDenied
from controlroom.domain.models import AgentStatus
from controlroom.governance.loops import HISTORY, SIGNATURE_CHARS, detect
from controlroom.governance.policy import LoopLimits
from controlroom.store import queries
from controlroom.store.inbox import enqueue_command

LIMITS = LoopLimits()  # warn 3, approve 5, stop 8


def _history(calls: str) -> str:
    """A history string of one-letter calls (each letter a whole signature)."""
    return "".join(call * SIGNATURE_CHARS for call in calls)


def test_detect_finds_repeats_and_cycles() -> None:
    assert detect("", LIMITS).level == "none"
    assert detect(_history("aa"), LIMITS)[:2] == (2, 1)
    assert detect(_history("xaaa"), LIMITS)[:3] == (3, 1, "warn")
    assert detect(_history("ab" * 3), LIMITS)[:3] == (3, 2, "warn")
    assert detect(_history("ab" * 3 + "a"), LIMITS)[:4] == (3, 2, "warn", 7)
    assert detect(_history("abc" * 5), LIMITS)[:3] == (5, 3, "approve")
    assert detect(_history("ababc"), LIMITS).level == "none"
    assert detect(_history("q" * HISTORY), LIMITS).level == "stop"
    # The longest cycle the history can count up to the largest stop_after a policy accepts.
    assert detect(_history("abc" * (HISTORY // 3)), LIMITS)[:3] == (8, 3, "stop")
    # Signatures are compared whole: histories that agree only in part are no loop.
    assert detect("aaaaab" + "aaaaac" + "aaaaab", LIMITS).level == "none"


def _reference(history: str, limits: LoopLimits) -> tuple[int, int, str, int]:
    """`detect` by brute force: for each period, the longest suffix of calls that each
    equal the call that period before, graded by `limits`."""
    calls = [history[at : at + SIGNATURE_CHARS] for at in range(0, len(history), SIGNATURE_CHARS)]
    best = (1, 1, 1)  # repeats, period, length
    for period in range(1, 4):
        length = period if len(calls) > period else 1
        while length < len(calls) and calls[-length - 1] == calls[-length - 1 + period]:
            length += 1
        if len(calls) > period and length // period > best[0]:
            best = (length // period, period, length)
    repeats, period, length = best
    thresholds = ((limits.stop_after, "stop"), (limits.approve_after, "approve"))
    level = next((lvl for at, lvl in thresholds if repeats >= at), "none")
    if level == "none" and repeats >= limits.warn_after:
        level = "warn"
    return repeats, period, level, length


def test_detect_agrees_with_a_brute_force_reading() -> None:
    """On random histories over a few calls (signatures that also occur out of step, so the
    quick "no earlier repeat" search is tried on near misses), `detect` finds what checking
    every period call by call does."""
    rng = random.Random(3)
    signatures = ["aaaaaa", "aaaaab", "baaaaa", "abcabc", "cabcab"]
    for _ in range(20_000):
        calls = [rng.choice(signatures[: rng.randint(1, 5)]) for _ in range(rng.randint(0, 24))]
        history = "".join(calls)
        assert tuple(detect(history, LIMITS)) == _reference(history, LIMITS), calls


SENT: list[int] = []


@tool(effect="idempotent_by_key")
async def nudge(ctx: ToolContext, who: str) -> str:
    SENT.append(ctx.step)
    return "nudged"


def _stuck(view: ScriptView) -> Turn:
    # The same call every step until step 11; then it answers.
    return Turn.call("nudge", who="ops") if view.step <= 10 else Turn.final("done nudging")


STUCK = agent(name="stuck", tools=[nudge], script=_stuck, max_steps=20)


async def test_a_looping_agent_is_warned_then_gated_then_paused_and_resumable(
    harness: Harness,
) -> None:
    SENT.clear()
    agent_id = await harness.submit("stuck", "nudge ops")
    await harness.run_until_idle([STUCK])
    # From the 5th repeat on, the side effect waits for an approval; the operator denies
    # each one and the agent goes on without it, until the 8th repeat stops it.
    asked = []
    while (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL:
        [approval] = await harness.waiting(agent_id)
        asked.append(approval.step)
        assert "loop: the same call repeated" in approval.why
        await harness.decide(approval.id, "deny", note="stop repeating yourself")
        await harness.run_until_idle([STUCK])
    assert asked == [5, 6, 7]

    assert SENT == [1, 2, 3, 4], "from the 5th repeat on, the side effect needs approval"
    entries = await harness.entries(agent_id)
    alerts = [
        (e.step, e.event.level)
        for e in entries
        if isinstance(e.event, MonitorAlert) and e.event.monitor == "loop"
    ]
    assert alerts == [(3, "warn"), (5, "approve"), (6, "approve"), (7, "approve"), (8, "stop")]
    denied = [e.step for e in entries if isinstance(e.event, ToolCallDenied)]
    assert denied == [5, 6, 7, 8]
    assert all(
        "tester denied it: stop repeating yourself" in e.event.reason
        for e in entries
        if isinstance(e.event, ToolCallDenied) and e.step < 8
    )
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.PAUSED
    assert "loop: the same call repeated 8 times" in (record.error or ""), record
    stored = await queries.load_agent(harness.db, agent_id)
    assert stored is not None and stored.state is not None and stored.state.step == 8

    # The operator looks, decides it may go on, and resumes it: loops are counted afresh.
    await enqueue_command(harness.db, "resume", agent_id, "tester", 0)
    await harness.run_until_idle([STUCK])
    assert SENT == [1, 2, 3, 4, 9, 10]
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED, record
    turns = [e.step for e in await harness.entries(agent_id, kind="model_turn")]
    assert turns == list(range(1, 12)), "no step was lost or repeated across the pause"


@tool
async def look(where: str) -> str:
    return f"nothing at {where}"


def _pacing(view: ScriptView) -> Turn:
    return Turn.call("look", where="left" if view.step % 2 else "right")


PACER = agent(name="pacer", tools=[look], script=_pacing, max_steps=50)


async def test_a_cycle_of_read_only_calls_is_warned_then_stopped(harness: Harness) -> None:
    agent_id = await harness.submit("pacer", "find it")
    await harness.run_until_idle([PACER])
    entries = await harness.entries(agent_id)
    alerts = [
        (e.step, e.event.level)
        for e in entries
        if isinstance(e.event, MonitorAlert) and e.event.monitor == "loop"
    ]
    # left-right is a cycle of 2: repeated 3 times at step 6, 8 times at step 16. Read-only
    # calls need no approval, so nothing is gated in between.
    assert alerts == [(6, "warn"), (16, "stop")]
    assert (await harness.record(agent_id)).status is AgentStatus.PAUSED
