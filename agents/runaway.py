"""The runaway: a log analyst on an expensive model that reads page after page of logs.

It shows the budget breaker. Each of its model turns carries a large context and reports
what it cost (`Usage.cost_usd`, as a real provider's turn does); its policy's budget is
spent within a few turns, the breaker trips and the agent is paused with its state kept:
raise the budget and `resume` it, and it goes on from the page it was reading.

Reading a page waits the demo's pace ($CONTROLROOM_DEMO_PACE seconds, unset: none).
"""

from __future__ import annotations

import asyncio
import os

from controlroom import ScriptView, Turn, Usage, agent, tool

PAGES = 40
# What one turn over a few hundred kilobytes of logs costs on a large model.
TURN_USAGE = Usage(input_tokens=38_000, output_tokens=900, cost_usd=0.12)


@tool
async def read_logs(service: str, page: int) -> dict[str, object]:
    """Read one page of a service's logs (read-only)."""
    await asyncio.sleep(float(os.environ.get("CONTROLROOM_DEMO_PACE") or 0))
    first = (page - 1) * 500
    return {
        "service": service,
        "page": page,
        "lines": f"{first + 1}-{first + 500}",
        "sample": f"WARN checkout: upstream latency {180 + page * 7} ms (pool exhausted)",
    }


def runaway_script(view: ScriptView) -> Turn:
    """Read every page before concluding (which is what makes it expensive)."""
    if view.step > PAGES:
        return Turn.final("Every page read: the connection pool is exhausted under load.")
    turn = Turn.call(
        "read_logs",
        text="Not conclusive yet; reading the next page.",
        service="checkout",
        page=view.step,
    )
    return turn.model_copy(update={"usage": TURN_USAGE})


runaway = agent(
    name="runaway",
    role="log analyst on a large, expensive model",
    instructions="Find the root cause of the incident in the logs.",
    tools=[read_logs],
    script=runaway_script,
)
