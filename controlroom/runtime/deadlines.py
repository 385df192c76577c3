"""Tool-call timeouts for every agent, checked by one periodic timer instead of one per call.

`asyncio.timeout` makes a context object and schedules (then cancels) a timer handle for
every call: at thousands of calls a second that was an eighth of the step loop's work.
Here a call records its deadline; while any call is armed, a check runs every
`resolution` seconds and cancels the task of each call past its deadline. The caller then
turns that cancellation into `TimeoutError` exactly as `asyncio.timeout` does: only if the
cancellation was ours (`Task.uncancel` says no one else asked), so a supervisor shutting a
task down is never mistaken for a timeout. Timeouts fire up to `resolution` late.
"""

from __future__ import annotations

import asyncio

DEFAULT_RESOLUTION_S = 0.02


class Armed:
    """One call's deadline; `expired` is set when the check cancelled its task."""

    __slots__ = ("cancelling", "expired", "task", "when")

    def __init__(self, task: asyncio.Task[object], when: float) -> None:
        self.task = task
        self.when = when
        self.cancelling = task.cancelling()
        self.expired = False


class CallDeadlines:
    """The deadlines of all calls in flight on one event loop."""

    def __init__(self, resolution_s: float = DEFAULT_RESOLUTION_S) -> None:
        self._resolution = resolution_s
        self._armed: set[Armed] = set()
        self._check_handle: asyncio.TimerHandle | None = None

    def arm(self, timeout_s: float) -> Armed:
        """Start timing the current task's call; `disarm` it when the call returns or raises."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a deadline needs a task to cancel"
        armed = Armed(task, loop.time() + timeout_s)
        self._armed.add(armed)
        if self._check_handle is None:
            self._check_handle = loop.call_later(self._resolution, self._check)
        return armed

    def disarm(self, armed: Armed, error: BaseException | None) -> None:
        """Stop timing; raise `TimeoutError` if `error` is the cancellation the deadline caused.

        Call it from the `except`/`finally` of the timed call with the exception in flight.
        """
        self._armed.discard(armed)
        if not armed.expired:
            return
        # As asyncio.timeout does: withdraw our cancellation request in every case, and report
        # a timeout only if no one else asked for the task to be cancelled.
        ours = armed.task.uncancel() <= armed.cancelling
        if ours and isinstance(error, asyncio.CancelledError):
            raise TimeoutError from error

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for armed in self._armed:
            if not armed.expired and armed.when <= now:
                armed.expired = True
                armed.task.cancel()
        self._check_handle = loop.call_later(self._resolution, self._check) if self._armed else None
