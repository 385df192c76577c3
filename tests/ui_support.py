"""Shared by the control room's tests: seeded data, the commands queued, bounded waits.

Approvals are made by running the `payer` agent (tests/payer.py) under a policy that needs a
clerk's approval above $100. Waits are on the app (`pilot.pause`) in bounded loops, never on
sleeps, and fail rather than hang.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cr_support import Harness
from payer import PAYER, pay
from sqlalchemy import text
from textual.pilot import Pilot
from textual.widgets import Input

from controlroom import ScriptView, Turn, Usage, agent
from controlroom.governance.policy import AgentPolicy, ApprovalSettings, ApproverRule, TierRule
from controlroom.governance.policy_loader import PolicySet
from controlroom.store.database import Database
from controlroom.store.inbox import submit_agent
from controlroom.ui.app import ControlRoomApp
from controlroom.ui.screens.main import MainScreen
from controlroom.ui.widgets.status import StatusLine
from controlroom.ui.widgets.tables import SyncTable

POLICIES = PolicySet(
    {
        "payer": AgentPolicy(
            tiers=(TierRule(tool="pay", argument="amount", above=100, tier="approve"),),
            approval=ApprovalSettings(expires_after_s=600),
            budget_usd=2.0,
        )
    },
    (ApproverRule(who=("clerks",), tiers=("approve",)),),
    roles={"clerks": ("ann", "bob")},
)
WIDE = (120, 40)
NARROW = (80, 24)
# How the agents pane draws `seed_team`'s agents: each root (in submission order) followed
# by its sub-agents, depth-first.
TEAM_TREE = ["payer-1", "├ payer-3", "└ payer-4", "  └ payer-5", "payer-2"]


async def seed(harness: Harness) -> None:
    """Two payer agents: payer-1 waits on two approvals ($500 to alice, $300 to carol),
    payer-2 paid dave $20 without one and completed."""
    await harness.submit("payer", json.dumps([["alice", 500], ["carol", 300]]))
    await harness.submit("payer", json.dumps([["dave", 20]]))
    await harness.run_until_idle([PAYER], policies=POLICIES)


def _paying_at_a_price(view: ScriptView) -> Turn:
    """Like the payer, but one payment a turn, each costing a dollar in a thousand of what
    it pays, then a report costing a cent (the scripted model's own turns cost nothing)."""
    task = json.loads(view.task)
    if view.step <= len(task):
        to, amount = task[view.step - 1]
        turn = Turn.call("pay", to=to, amount=amount)
        usage = Usage(input_tokens=100, output_tokens=20, cost_usd=amount / 1_000)
    else:
        turn = Turn.final(" | ".join(view.results_of("pay")))
        usage = Usage(input_tokens=100, output_tokens=20, cost_usd=0.01)
    return turn.model_copy(update={"usage": usage})


# The payer, spending (for the roll-up of a task's spend over its tree).
SPENDING_PAYER = agent(name="payer", tools=[pay], script=_paying_at_a_price, max_steps=5)


async def sub_agent(harness: Harness, parent: str, task: str) -> str:
    """Submit a payer as `controlroom submit --parent` does; returns its id."""
    record = await submit_agent(
        harness.db, "payer", task, "tester", None, harness.clock.now_ms(), parent_id=parent
    )
    return record.id


async def seed_team(harness: Harness) -> None:
    """A task tree and a lone agent, submitted interleaved, spending (`SPENDING_PAYER`;
    a turn waiting for approval counts once its step is durable): payer-1 paid ann $70
    (spent $0.07) and waits on $500 to alice; its sub-agents are payer-3, which paid bob
    $40 ($0.05), and payer-4, which paid cy $90 ($0.09) and waits on $300 to carol, with
    its own sub-agent payer-5, which paid erin $10 ($0.02); payer-2, submitted second,
    paid dave $20 on its own ($0.03). payer-1's tree spent $0.23, payer-4's $0.11."""
    # One at a time, so that the journal (the tool-call stream) has one order.
    for parent, task in [
        (None, [["ann", 70], ["alice", 500]]),
        (None, [["dave", 20]]),
        ("payer-1", [["bob", 40]]),
        ("payer-1", [["cy", 90], ["carol", 300]]),
        ("payer-4", [["erin", 10]]),
    ]:
        if parent is None:
            await harness.submit("payer", json.dumps(task))
        else:
            await sub_agent(harness, parent, json.dumps(task))
        await harness.run_until_idle([SPENDING_PAYER], policies=POLICIES)


async def commands(db: Database) -> list[dict[str, Any]]:
    """Every command queued, oldest first."""
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT command, target, operator, payload, status FROM commands ORDER BY id")
            )
        ).all()
    return [
        {
            "command": r[0],
            "target": r[1],
            "operator": r[2],
            "payload": json.loads(r[3] or "{}"),
            "status": r[4],
        }
        for r in rows
    ]


async def journal(db: Database, kind: str) -> list[dict[str, Any]]:
    """The journal rows of one kind: identity, agent and payload."""
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT agent_id, identity, data FROM events WHERE kind = :k ORDER BY id"),
                {"k": kind},
            )
        ).all()
    return [{"agent_id": r[0], "identity": r[1], **json.loads(r[2])} for r in rows]


async def until(pilot: Pilot[Any], condition: Callable[[], bool], tries: int = 300) -> None:
    """Let the app run until `condition` holds (bounded: fails rather than hangs)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never held")


async def answer(pilot: Pilot[Any], app: ControlRoomApp, text: str) -> None:
    """Type `text` into the focused input line and press enter. The text is set, not typed
    key by key: Pilot waits for the process to look idle after every key, which a hosted
    supervisor's background work makes take up to a second a key."""
    field = app.focused
    assert isinstance(field, Input), f"no input line in focus but {field!r}"
    field.value = text
    await pilot.press("enter")


def main_screen(app: ControlRoomApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


def table(app: ControlRoomApp, pane: str) -> SyncTable:
    return main_screen(app).table(pane)


def status(app: ControlRoomApp) -> StatusLine:
    return main_screen(app).query_one(StatusLine)


def column(app: ControlRoomApp, pane: str, index: int) -> list[str]:
    """One column of a pane's table, top to bottom, as plain text."""
    shown = table(app, pane)
    return [shown.get_row_at(row)[index].plain for row in range(shown.row_count)]


async def loaded(pilot: Pilot[Any], app: ControlRoomApp, agents: int, approvals: int) -> None:
    """Wait for the first read to show `agents` agents and `approvals` approvals."""
    await until(
        pilot,
        lambda: (
            app.ready
            and table(app, "agents").row_count == agents
            and table(app, "approvals").row_count == approvals
        ),
    )
