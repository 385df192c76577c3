"""The watcher: checks a queue's depth every few seconds for a few minutes.

It is what keeps the demo alive for someone watching it: a steady agent whose step count,
tool calls and (small) spending move while the others wait on people. Each check waits
the demo's pace ($CONTROLROOM_DEMO_PACE seconds, unset: none), so 90 checks at the demo's
default pace take three minutes, and no time at all in the tests.

Each check is numbered, so the loop monitor sees different calls, not a loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import re

from controlroom import ScriptView, Turn, Usage, agent, tool

TIMES = re.compile(r"(\d+)\s+times")
DEFAULT_ROUNDS = 90
LIMIT = 60
# A small model reading a short report: a cost that shows on a meter without alarming it.
TURN_USAGE = Usage(input_tokens=600, output_tokens=40, cost_usd=0.001)


@tool
async def check_queue(queue: str, reading: int) -> dict[str, object]:
    """Read a queue's depth (read-only; simulated, deterministic)."""
    await asyncio.sleep(float(os.environ.get("CONTROLROOM_DEMO_PACE") or 0))
    return {"queue": queue, "reading": reading, "depth": 20 + (reading * 17) % 37}


def watcher_script(view: ScriptView) -> Turn:
    """One check per step for the rounds the task asks; then the deepest reading."""
    found = TIMES.search(view.task)
    rounds = int(found.group(1)) if found else DEFAULT_ROUNDS
    if view.step <= rounds:
        turn = Turn.call("check_queue", queue="payments", reading=view.step)
        return turn.model_copy(update={"usage": TURN_USAGE})
    depths = [_depth(result) for result in view.results_of("check_queue")]
    deepest = max(depths, default=0)
    verdict = "above" if deepest > LIMIT else "within"
    return Turn.final(f"{len(depths)} checks; deepest {deepest}, {verdict} the limit of {LIMIT}.")


def _depth(result: str) -> int:
    try:
        depth = json.loads(result).get("depth", 0)
    except (ValueError, AttributeError):
        return 0  # a refused or failed check read nothing
    return depth if isinstance(depth, int) else 0


watcher = agent(
    name="watcher",
    role="watches the payments queue",
    instructions="Check the queue's depth as often as the task says and report the deepest.",
    tools=[check_queue],
    script=watcher_script,
)
