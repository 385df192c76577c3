"""Waking the supervisors of this process when another process queued something for them.

Commands, decisions and submissions reach a supervisor through its database, which it
polls a few times a second. A process on the same host can do better: the lease records
the owner's pid and the signal it listens for, and `store.lease.wake` sends it, so the
owner reads its inbox at once (an approval from another SSH session resumes the agent in
milliseconds, not after the next poll). The handler is installed on the running loop
while at least one supervisor listens; the lease records no signal when it cannot be
installed (not the main thread), so nobody sends one that would end the process.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

WAKE_SIGNAL = signal.SIGUSR1

_pokes: dict[int, Callable[[], None]] = {}
_loop: asyncio.AbstractEventLoop | None = None


def listen(key: int, poke: Callable[[], None]) -> int:
    """Call `poke` when the wake-up signal arrives; returns the signal (0 if unavailable)."""
    global _loop
    loop = asyncio.get_running_loop()
    if _loop is not loop:
        _pokes.clear()  # listeners of a loop that is gone (its handlers went with it)
        try:
            loop.add_signal_handler(WAKE_SIGNAL, _wake_all)
        except (RuntimeError, ValueError, NotImplementedError):
            return 0  # not the main thread, or no signals here: the poll still works
        _loop = loop
    _pokes[key] = poke
    return int(WAKE_SIGNAL)


def stop_listening(key: int) -> None:
    global _loop
    if _pokes.pop(key, None) is None or _pokes or _loop is None:
        return
    if not _loop.is_closed():
        _loop.remove_signal_handler(WAKE_SIGNAL)
    _loop = None


def _wake_all() -> None:
    for poke in list(_pokes.values()):
        poke()
