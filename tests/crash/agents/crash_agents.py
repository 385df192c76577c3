"""Agents used only by the crash suite. Their tools write to an external ledger file.

The ledger ($CRASH_LEDGER, JSON lines) is the outside world: each record is appended with a
single `write` on an O_APPEND descriptor and fsynced before the tool returns, so whatever
a tool did survives the SIGKILL that may follow. Records:

- `idem`: the receiver dedupes on the idempotency key. A new key is recorded as
  `{"tool": "idem", "key", "agent", "step"}` (an *accepted* effect); a key seen before is
  recorded as `{"tool": "idem", ..., "dedup": true}` and changes nothing. Because every
  accepted effect carries its (agent, step), a retry of one logical call under a DIFFERENT
  key would show up as two accepted effects for one (agent, step).
- `recon`: appended on every call without deduplication; its lookup scans the ledger for
  `ctx.key` and returns the earlier result when present.
- `unsafe`: appended on every call without deduplication.
- `make` (agent `maker`): idempotent_by_key like `idem`, and registers the created resource
  with `ctx.created(...)`; its compensation appends `{"tool": "compensate", ...}` deduped on
  the resource id (a compensation may run again after a crash, see `mid-compensation`).

Each agent runs as many tool steps as its task text says ("30"), then answers. `tight` is
`idem` with max_steps=4: task "3" fits exactly.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from controlroom import ScriptView, ToolContext, Turn, agent, team, tool

_LOCK = threading.Lock()
# Per-process index of the ledger, refreshed incrementally from the file (the file is the
# truth: a forked child or a relaunched process catches up from the offset it last read).
_INDEX: dict[str, Any] = {"path": None, "offset": 0, "seen": set()}


def _ledger_path() -> str:
    path = os.environ.get("CRASH_LEDGER")
    if not path:
        raise RuntimeError("CRASH_LEDGER is not set")
    return path


def _refresh() -> set[tuple[str, str]]:
    """(tool, key) pairs already in the ledger; caller holds _LOCK."""
    path = _ledger_path()
    if _INDEX["path"] != path:
        _INDEX.update(path=path, offset=0, seen=set())
    seen: set[tuple[str, str]] = _INDEX["seen"]
    try:
        with open(path, "rb") as handle:
            handle.seek(_INDEX["offset"])
            data = handle.read()
    except FileNotFoundError:
        return seen
    end = data.rfind(b"\n") + 1  # only whole lines
    for line in data[:end].splitlines():
        record = json.loads(line)
        if not record.get("dedup"):
            seen.add((record["tool"], record["key"]))
    _INDEX["offset"] += end
    return seen


def _append(record: dict[str, Any]) -> None:
    """Append one record durably (one write of one whole line, then fsync); holds _LOCK."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(_ledger_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        assert written == len(line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _result(tool_name: str, ctx: ToolContext) -> dict[str, Any]:
    return {"tool": tool_name, "agent": ctx.agent_id, "step": ctx.step, "key": ctx.key}


def _receive_once(tool_name: str, ctx: ToolContext, key: str) -> bool:
    """A deduplicating receiver: apply the effect once per key. True if it was new."""
    with _LOCK:
        seen = _refresh()
        record = {"tool": tool_name, "key": key, "agent": ctx.agent_id, "step": ctx.step}
        if (tool_name, key) in seen:
            record["dedup"] = True
            _append(record)
            return False
        _append(record)
        seen.add((tool_name, key))
        return True


def _steps(task: str) -> int:
    return int(task.split()[0])


def _script(tool_name: str) -> Any:
    def script(view: ScriptView) -> Turn:
        total = _steps(view.task)
        if view.step <= total:
            return Turn.call(tool_name, n=view.step, note=f"{tool_name} call {view.step}")
        return Turn.final(f"done: {total} {tool_name} call(s)")

    return script


# -- idem: idempotent by key --------------------------------------------------------------


@tool(effect="idempotent_by_key", timeout=10, attempts=1)
def idem_put(ctx: ToolContext, n: int, note: str) -> dict[str, Any]:
    """Deliver one effect to a receiver that dedupes on the key."""
    _receive_once("idem", ctx, ctx.key)
    return _result("idem", ctx)


idem = agent(name="idem", tools=[idem_put], script=_script("idem_put"), max_steps=200)

# The same, with no step to spare: task "3" needs exactly 4 steps (3 calls and the answer).
tight = agent(name="tight", tools=[idem_put], script=_script("idem_put"), max_steps=4)


# -- recon: reconcilable -------------------------------------------------------------------


def recon_lookup(ctx: ToolContext) -> dict[str, Any] | None:
    """Find the effect of this call (by key) in the ledger; None if it never happened."""
    with _LOCK:
        seen = _refresh()
        if ("recon", ctx.key) in seen:
            return _result("recon", ctx)
    return None


@tool(effect="reconcilable", lookup=recon_lookup, timeout=10)
def recon_put(ctx: ToolContext, n: int, note: str) -> dict[str, Any]:
    """Append an effect with no deduplication (recovery must look it up first)."""
    with _LOCK:
        _refresh()
        _append({"tool": "recon", "key": ctx.key, "agent": ctx.agent_id, "step": ctx.step})
    return _result("recon", ctx)


recon = agent(name="recon", tools=[recon_put], script=_script("recon_put"), max_steps=200)


# -- unsafe: never repeated automatically --------------------------------------------------


@tool(effect="unsafe", timeout=10)
def unsafe_put(ctx: ToolContext, n: int, note: str) -> dict[str, Any]:
    """Append an effect with no deduplication and no way to look it up."""
    with _LOCK:
        _append({"tool": "unsafe", "key": ctx.key, "agent": ctx.agent_id, "step": ctx.step})
    return _result("unsafe", ctx)


unsafe = agent(name="unsafe", tools=[unsafe_put], script=_script("unsafe_put"), max_steps=200)


# -- maker: creates resources, which a rollback compensates --------------------------------


def destroy_widget(resource: Any, ctx: ToolContext) -> None:
    """Compensation: undo a widget (deduplicated on the resource id, so re-running is safe)."""
    with _LOCK:
        seen = _refresh()
        record = {
            "tool": "compensate",
            "key": resource.resource_id,
            "agent": resource.agent_id,
            "step": 0,
        }
        if ("compensate", resource.resource_id) in seen:
            record["dedup"] = True
        else:
            seen.add(("compensate", resource.resource_id))
        _append(record)


@tool(effect="idempotent_by_key", compensate=destroy_widget, timeout=10)
async def make_widget(ctx: ToolContext, n: int, note: str) -> dict[str, Any]:
    """Create a widget (deduplicated on the key) and register it for rollback."""
    _receive_once("make", ctx, ctx.key)
    await ctx.created("widget", f"widget-{ctx.key}", {"n": n})
    return _result("make", ctx)


maker = agent(name="maker", tools=[make_widget], script=_script("make_widget"), max_steps=200)


# -- crew: a team -----------------------------------------------------------------------------
# Task: {"subtasks": N, "steps": S}. The planner plans N subtasks t1..tN; each is done by a
# worker making S idem_put calls, reviewed by a critic that accepts; the planner sums up.


def _crew_plan(view: ScriptView) -> Turn:
    brief = json.loads(view.task)
    if brief["phase"] == "plan":
        spec = json.loads(brief["task"])
        subtasks = [
            {"id": f"t{n}", "type": "work", "brief": str(spec["steps"])}
            for n in range(1, int(spec["subtasks"]) + 1)
        ]
        return Turn.final(json.dumps({"subtasks": subtasks}))
    return Turn.final("; ".join(f"{r['id']}={r['result']}" for r in brief["results"]))


def _crew_work(view: ScriptView) -> Turn:
    subtask = json.loads(view.task)["subtask"]
    total = int(subtask["brief"])
    if view.step <= total:
        return Turn.call("idem_put", n=view.step, note=f"crew {subtask['id']} {view.step}")
    return Turn.final(f"{total} calls")


def _crew_review(view: ScriptView) -> Turn:
    return Turn.final(json.dumps({"verdict": "accept"}))


crew_planner = agent(name="crew_planner", script=_crew_plan)
crew_worker = agent(name="crew_worker", tools=[idem_put], script=_crew_work)
crew_critic = agent(name="crew_critic", script=_crew_review)
crew = team(
    name="crew",
    planner="crew_planner",
    specialists={"work": "crew_worker"},
    critic="crew_critic",
    max_subtasks=20,
)
