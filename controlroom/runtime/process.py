"""Process-wide settings for a process that hosts a supervisor.

Called by the commands that host one (run, demo, bench), never by the library itself: these
are the host process's choices to make.
"""

from __future__ import annotations

import gc
import sys

# The youngest generation is collected every 7,000 net allocations instead of 700: a step
# allocates a few hundred short-lived objects, so the default collects several times a step.
GC_YOUNG_THRESHOLD = 7_000

# How long a thread that wants the GIL waits before the holder is asked to let go (Python's
# default is 5 ms). The journal writer's thread wants it back each time SQLite returns, and
# while it waits the agents it would wake wait too (`store/writer.py`).
SWITCH_INTERVAL_S = 0.0005


def tune_for_supervisor() -> None:
    """Make the cyclic garbage collector cheap for a long-lived supervisor, and hand the GIL
    to the journal writer's thread promptly.

    Everything allocated at start-up (modules, classes, agent definitions) lives as long as
    the process: freezing it keeps full collections from re-scanning it forever. Collection
    of young objects is made less frequent. Reference counting frees most garbage at once
    either way; this only changes how often cycles are looked for.
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
