"""Loop detection: the same call again and again, or a cycle of calls (A-B-A-B).

Each call an agent makes is reduced to a short signature of its tool and canonical
arguments; the agent keeps the most recent ones in its checkpointed state, as one string of
fixed-width signatures (it is written with every step, so it is kept small). A loop is the
longest run, at the end of that history, of one block of calls repeated back to back: three
identical calls in a row are a loop of period 1 repeated 3 times, A-B-A-B-A-B is period 2
repeated 3 times. The policy's thresholds turn the repeat count into a warning, then a call
that needs approval, then a stop.
"""

from __future__ import annotations

import hashlib
from typing import Literal, NamedTuple

from controlroom.governance.policy import LoopLimits

# How many recent calls an agent remembers (checkpointed with every step, so kept small),
# and the longest cycle looked for: a cycle of MAX_PERIOD calls can be counted up to
# HISTORY // MAX_PERIOD repeats, which bounds the policy's `stop_after`.
HISTORY = 24
MAX_PERIOD = 3
SIGNATURE_CHARS = 6  # 24 bits: a false repeat needs a collision in every repeated block

Level = Literal["none", "warn", "approve", "stop"]


class Loop(NamedTuple):
    """The latest block of `period` calls, repeated `repeats` times back to back; `length`
    is how many calls at the end of the history follow that pattern."""

    repeats: int
    period: int
    level: Level
    length: int

    def describe(self) -> str:
        what = "the same call" if self.period == 1 else f"a cycle of {self.period} calls"
        return f"{what} repeated {self.repeats} times"


_NO_LOOP = Loop(1, 1, "none", 1)


def signature(tool: str, canonical_arguments: str) -> str:
    """A short, stable name for a call: equal calls, equal signatures."""
    digest = hashlib.sha256(f"{tool}\x1f{canonical_arguments}".encode()).hexdigest()
    return digest[:SIGNATURE_CHARS]


def remember(history: str, call: str) -> str:
    """`history` with a call's signature appended, keeping the most recent `HISTORY`."""
    return (history + call)[-HISTORY * SIGNATURE_CHARS :]


def detect(history: str, limits: LoopLimits) -> Loop:
    """The loop a history string ends in (if any), graded by `limits`.

    For each period p, the loop is the longest suffix in which every call equals the one p
    calls before it; it grows by one with every further call of the pattern, so a threshold
    is crossed exactly once (`length == threshold * period`). Signatures are compared in
    place in the string: this runs for every proposed call.
    """
    w = SIGNATURE_CHARS
    last = history[-w:]
    if last not in history[:-w]:
        # Most calls repeat none before them, which one search says: then each period's
        # loop is the last call alone (a block equal to it would be found), which no
        # threshold grades (they are all at least 2).
        return _NO_LOOP
    n = len(history) // w
    best = _NO_LOOP
    for period in range(1, min(MAX_PERIOD, n - 1) + 1):
        # Unless the last call equals the one `period` before, this period's loop is the
        # last call alone, and the scan is skipped.
        if history[(n - period - 1) * w : (n - period) * w] != last:
            continue
        length = period
        while length < n:
            earlier = (n - length - 1) * w
            later = earlier + period * w
            if history[earlier : earlier + w] != history[later : later + w]:
                break
            length += 1
        repeats = length // period
        if repeats > best.repeats:
            best = Loop(repeats, period, "none", length)
    if best.repeats >= limits.stop_after:
        return best._replace(level="stop")
    if best.repeats >= limits.approve_after:
        return best._replace(level="approve")
    if best.repeats >= limits.warn_after:
        return best._replace(level="warn")
    return best
