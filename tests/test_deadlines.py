"""Tool-call timeouts: one periodic check for all calls, with asyncio.timeout's semantics."""

from __future__ import annotations

import asyncio
import time

import pytest

from controlroom.runtime.deadlines import CallDeadlines


async def _timed(deadlines: CallDeadlines, timeout_s: float, sleep_s: float) -> str:
    armed = deadlines.arm(timeout_s)
    try:
        await asyncio.sleep(sleep_s)
    except BaseException as exc:
        deadlines.disarm(armed, exc)
        raise
    deadlines.disarm(armed, None)
    return "done"


async def test_a_call_past_its_deadline_times_out_within_the_resolution() -> None:
    deadlines = CallDeadlines(resolution_s=0.01)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await _timed(deadlines, 0.05, 10)
    assert 0.05 <= time.monotonic() - started < 0.5
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_call_in_time_returns_and_leaves_no_timer_running() -> None:
    deadlines = CallDeadlines(resolution_s=0.01)
    assert await _timed(deadlines, 1.0, 0.001) == "done"
    await asyncio.sleep(0.03)  # the check ran once more, found nothing armed and stopped
    assert deadlines._check_handle is None
    # The task was never cancelled: awaiting again works.
    await asyncio.sleep(0)


async def test_many_calls_each_keep_their_own_deadline() -> None:
    deadlines = CallDeadlines(resolution_s=0.01)
    results = await asyncio.gather(
        *(_timed(deadlines, 0.05, 0.2 if i % 2 else 0.001) for i in range(10)),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["str", "TimeoutError"] * 5


async def test_a_cancellation_from_elsewhere_is_not_turned_into_a_timeout() -> None:
    """The supervisor cancelling an agent's task must cancel it, even if the call's deadline
    expired at the same moment."""
    deadlines = CallDeadlines(resolution_s=0.01)
    task = asyncio.create_task(_timed(deadlines, 0.02, 10))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    racing = asyncio.create_task(_timed(deadlines, 0.01, 10))
    await asyncio.sleep(0.001)
    # Expire it now, and cancel it from outside before the task runs again.
    deadlines._check_handle.cancel()  # type: ignore[union-attr]
    for armed in list(deadlines._armed):
        armed.when = 0
    deadlines._check()
    racing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await racing
