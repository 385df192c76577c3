"""The control room's main screen, driven by Pilot on a real database with the real supervisor.

Approvals are made by running the `payer` agent (tests/payer.py) under a policy that needs a
clerk's approval above $100; the tests press keys and assert on the commands table and on
widget state, waiting on the app (`pilot.pause`) in bounded loops, never on sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cr_support import Harness
from payer import PAID, PAYER
from sqlalchemy import text
from textual.coordinate import Coordinate
from textual.pilot import Pilot

from controlroom.governance.policy import AgentPolicy, ApprovalSettings, ApproverRule, TierRule
from controlroom.governance.policy_loader import PolicySet
from controlroom.store.database import Database
from controlroom.store.inbox import submit_agent
from controlroom.ui.app import ControlRoomApp, make_app
from controlroom.ui.screens.help import HelpScreen
from controlroom.ui.screens.main import MainScreen
from controlroom.ui.widgets.status import StatusLine
from controlroom.ui.widgets.tables import AgentsTable, ApprovalsTable

POLICIES = PolicySet(
    {
        "payer": AgentPolicy(
            tiers=(TierRule(tool="pay", argument="amount", above=100, tier="approve"),),
            approval=ApprovalSettings(expires_after_s=600),
        )
    },
    (ApproverRule(who=("clerks",), tiers=("approve",)),),
    roles={"clerks": ("ann", "bob")},
)
SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _no_payments() -> None:
    PAID.clear()


async def seed(harness: Harness) -> None:
    """Two payer agents: one waiting on two approvals, one done without any."""
    await harness.submit("payer", json.dumps([["alice", 500], ["carol", 300]]))
    await harness.submit("payer", json.dumps([["dave", 20]]))
    await harness.run_until_idle([PAYER], policies=POLICIES)


async def commands(db: Database) -> list[dict[str, Any]]:
    async with db.read_engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT command, target, operator, payload FROM commands"))
        ).all()
    return [
        {"command": r[0], "target": r[1], "operator": r[2], "payload": json.loads(r[3] or "{}")}
        for r in rows
    ]


async def until(pilot: Pilot[Any], condition: Callable[[], bool], tries: int = 200) -> None:
    """Let the app run until `condition` holds (bounded: fails rather than hangs)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never held")


def tables(app: ControlRoomApp) -> tuple[AgentsTable, ApprovalsTable, StatusLine]:
    screen = app.screen
    return (
        screen.query_one(AgentsTable),
        screen.query_one(ApprovalsTable),
        screen.query_one(StatusLine),
    )


async def test_panes_show_agents_and_waiting_approvals(harness: Harness) -> None:
    """Both panes fill from the store; the title says nobody supervises the database."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=SIZE) as pilot:
        agents, approvals, _ = tables(app)
        await until(pilot, lambda: agents.row_count == 2 and approvals.row_count == 2)
        assert agents.get_cell_at(Coordinate(0, 0)).plain == "payer-1"
        assert agents.get_cell_at(Coordinate(0, 2)).plain == "awaiting_approval"
        assert agents.get_cell_at(Coordinate(1, 2)).plain == "completed"
        row = [cell.plain for cell in approvals.get_row_at(0)]
        assert row[:5] == ["1", "payer-1", "pay", "$500.00", "approve"]
        assert row[6] == '{"amount": 500, "to": "alice"}'
        title = str(app.screen.query_one("#title").render())
        assert "no supervisor running" in title


async def test_approve_with_hosted_supervisor_applies_and_reloads(harness: Harness) -> None:
    """`a` queues one `decide` approve by the operator; the hosted supervisor applies it,
    the status line says so and the approval leaves the pane."""
    await seed(harness)
    supervisor = harness.supervisor([PAYER], POLICIES)
    await supervisor.start()
    try:
        app = make_app(harness.db, clock=harness.clock, operator="ann", supervisor=supervisor)
        async with app.run_test(size=SIZE) as pilot:
            _, approvals, status = tables(app)
            await until(pilot, lambda: approvals.row_count == 2)
            assert "hosting" in str(app.screen.query_one("#title").render())
            await pilot.press("a")
            await until(pilot, lambda: status.kind == "ok")
            await until(pilot, lambda: approvals.row_count == 1)
            assert approvals.highlighted_approval == 2
        queued = await commands(harness.db)
        assert queued == [
            {
                "command": "decide",
                "target": "1",
                "operator": "ann",
                "payload": {
                    "verdict": "approve",
                    "note": "",
                    "arguments": None,
                    "message": "",
                    "result": "",
                    "via": "ui",
                },
            }
        ]
    finally:
        await supervisor.stop()


async def test_refusal_is_shown_as_refused(harness: Harness) -> None:
    """An approver the policy does not allow is refused by the supervisor, and the status
    line says refused; the approval stays."""
    await seed(harness)
    supervisor = harness.supervisor([PAYER], POLICIES)
    await supervisor.start()
    try:
        app = make_app(harness.db, clock=harness.clock, operator="mallory", supervisor=supervisor)
        async with app.run_test(size=SIZE) as pilot:
            _, approvals, status = tables(app)
            await until(pilot, lambda: approvals.row_count == 2)
            await pilot.press("a")
            await until(pilot, lambda: status.kind == "refused")
            assert status.message.startswith("refused: ")
            assert approvals.row_count == 2
    finally:
        await supervisor.stop()


async def test_deny_moves_with_j_and_queues_deny(harness: Harness) -> None:
    """`tab` to the approvals, `j` to the second row, `d` queues a deny of that approval."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="bob")
    async with app.run_test(size=SIZE) as pilot:
        _, approvals, status = tables(app)
        await until(pilot, lambda: approvals.row_count == 2)
        await pilot.press("tab")
        assert app.focused is approvals
        await pilot.press("j")
        assert approvals.highlighted_approval == 2
        await pilot.press("d")
        await until(pilot, lambda: "queued" in status.message)
    queued = await commands(harness.db)
    assert [(c["target"], c["operator"], c["payload"]["verdict"]) for c in queued] == [
        ("2", "bob", "deny")
    ]


async def test_read_only_refuses_and_queues_nothing(harness: Harness) -> None:
    """With read_only, `a` and `d` say read-only and nothing reaches the database."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann", read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        _, approvals, status = tables(app)
        await until(pilot, lambda: approvals.row_count == 2)
        await pilot.press("a")
        assert status.message.startswith("read-only")
        assert status.kind == "refused"
        await pilot.press("d")
        assert status.message.startswith("read-only")
        assert "read-only" in str(app.screen.query_one("#title").render())
    assert await commands(harness.db) == []


async def test_help_opens_and_closes_and_q_quits(harness: Harness) -> None:
    """`?` opens the help listing the keys, `escape` closes it, `q` quits the app."""
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys").render())
        for key in ("approve", "deny", "quit", "tab"):
            assert key in keys
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_footer_bindings_have_ids(harness: Harness) -> None:
    """Every key the footer shows has a stable id (so it can be remapped)."""
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=SIZE):
        shown = {binding.id for _, binding, _, _ in app.active_bindings.values() if binding.show}
        assert {
            "approval.approve",
            "approval.deny",
            "view.refresh",
            "app.quit",
            "app.help",
        } <= shown


async def test_hostile_task_is_shown_literally(db: Database, harness: Harness) -> None:
    """Markup, escape sequences, bidi overrides and a 10,000-char line in a task are shown as
    text: the cell holds the literal `[bold red]` and no ESC, BEL or U+202E."""
    hostile = (
        "[bold red]FAKE[/] [link=http://evil]x[/link] \x1b[2J \x1b]52;c;ZXZpbA==\x07 \u202e"
        + "y" * 10_000
    )
    await submit_agent(db, "payer", hostile, "tester", None, harness.clock.now_ms())
    app = make_app(db, clock=harness.clock, operator="ann")
    async with app.run_test(size=SIZE) as pilot:
        agents, _, _ = tables(app)
        await until(pilot, lambda: agents.row_count == 1)
        cell = agents.get_cell_at(Coordinate(0, 4))
        assert cell.plain.startswith("[bold red]FAKE[/] [link=http://evil]x[/link] \\x1b[2J")
        assert "⟨U+202E⟩" in cell.plain
        assert len(cell.plain) <= 120
        for bad in ("\x1b", "\x07", "\u202e"):
            assert bad not in cell.plain
        assert all(span.style == "reverse" for span in cell.spans)
        screenshot = app.export_screenshot()
        assert "FAKE" in screenshot
        assert "\x1b" not in screenshot
