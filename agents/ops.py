"""The ops agent: restarts a service that is down, then checks whether it came back.

It shows the loop monitor. In the demo the service never comes back, so the agent restarts
and checks again and again: the same two calls, a cycle the monitor counts. Its policy
warns, then makes each restart need approval, then pauses the agent. Restarts are in the
`notify` tier: each one runs at once and on-call is told.

Each turn asks for both calls, restart then check, as a model batches them. That is also
why nobody has to act for all three levels to show: the restart that first needs approval
and the check that trips the breaker fall in the same turn (the agent then waits on the
approval; once it is decided, the breaker pauses it).

The service is simulated (nothing outside the demo is touched): a restart is accepted and
the health check keeps failing. The check waits the demo's pace ($CONTROLROOM_DEMO_PACE
seconds, unset: none), as a real one waits for the service to answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re

from controlroom import ScriptView, ToolCall, ToolContext, Turn, agent, tool

SERVICE = re.compile(r"\bthe\s+([a-z][\w-]*)\s+service\b", re.IGNORECASE)
MAX_RESTARTS = 10


@tool(effect="idempotent_by_key", timeout=10)
async def restart_service(ctx: ToolContext, service: str) -> dict[str, str]:
    """Ask the orchestrator to restart a service (it dedupes requests on the key)."""
    return {"service": service, "restart": "requested", "request_id": ctx.key[:12]}


@tool
async def check_status(service: str) -> dict[str, object]:
    """Run a service's health check (read-only)."""
    await asyncio.sleep(float(os.environ.get("CONTROLROOM_DEMO_PACE") or 0))
    return {"service": service, "healthy": False, "detail": "connection refused on :8443"}


def ops_script(view: ScriptView) -> Turn:
    """Restart and check, until the service is healthy or restarts run out."""
    found = SERVICE.search(view.task)
    if found is None:
        return Turn.final("No service named in the task; nothing restarted.")
    service = found.group(1)
    checks = view.results_of("check_status")
    if checks and _healthy(checks[-1]):
        return Turn.final(f"{service} is healthy again after {len(checks)} restart(s).")
    if view.step > MAX_RESTARTS:
        return Turn.final(
            f"{service} is still down after {MAX_RESTARTS} restarts; a human is needed."
        )
    return Turn(
        text=f"{service} is down: restarting it and checking again.",
        tool_calls=(
            ToolCall(id="", name="restart_service", arguments={"service": service}),
            ToolCall(id="", name="check_status", arguments={"service": service}),
        ),
    )


def _healthy(result: str) -> bool:
    try:
        report = json.loads(result)
    except ValueError:
        return False  # a refusal or an error is no sign of health
    return isinstance(report, dict) and report.get("healthy") is True


ops = agent(
    name="ops",
    role="keeps production services running",
    instructions="When a service is down, restart it and check its health.",
    tools=[restart_service, check_status],
    script=ops_script,
)
