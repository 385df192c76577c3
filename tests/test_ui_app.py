"""The control room driven by Pilot on a real database with the real supervisor: every
operator action is a key press, and the test asserts both the journal (what was queued,
applied and by whom) and the screen (what the panes show afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from cr_support import Harness
from payer import PAID, PAYER
from test_approvals import SENT, TRANSFERRER
from textual.widgets import DataTable, Input, TabbedContent
from ui_support import (
    NARROW,
    POLICIES,
    SPENDING_PAYER,
    TEAM_TREE,
    WIDE,
    answer,
    column,
    commands,
    journal,
    loaded,
    main_screen,
    seed,
    seed_team,
    status,
    sub_agent,
    table,
    until,
)

from controlroom.runtime.supervisor import Supervisor
from controlroom.store.inbox import submit_agent
from controlroom.ui.app import ControlRoomApp, make_app
from controlroom.ui.definitions import Definitions
from controlroom.ui.screens.agent import AgentScreen
from controlroom.ui.screens.dialogs import (
    ArgumentsDialog,
    NoteDialog,
    ResolveDialog,
    TypedConfirm,
)
from controlroom.ui.screens.help import HelpScreen
from controlroom.ui.screens.main import MainScreen


@pytest.fixture(autouse=True)
def _no_payments() -> None:
    PAID.clear()


@pytest.fixture
async def hosted(harness: Harness) -> AsyncIterator[Supervisor]:
    """The seeded database with a supervisor running, as `controlroom ui` hosts it. It polls
    at an everyday pace (the harness's default polls a hundred times a second, which keeps
    the process busy and makes Pilot wait up to a second after every key for it to idle);
    the control room wakes it when it queues a command."""
    await seed(harness)
    supervisor = harness.supervisor([PAYER], POLICIES, poll_interval_s=0.5)
    await supervisor.start()
    try:
        yield supervisor
    finally:
        await supervisor.stop()


def hosting_app(harness: Harness, supervisor: Supervisor, operator: str = "ann") -> ControlRoomApp:
    return make_app(
        harness.db,
        clock=harness.clock,
        operator=operator,
        supervisor=supervisor,
        definitions=Definitions({"payer": PAYER}, POLICIES),
    )


async def settled(pilot: Any, app: ControlRoomApp, kind: str = "ok") -> None:
    await until(pilot, lambda: "queued" not in status(app).message and status(app).message != "")
    assert status(app).kind == kind, status(app).message


async def test_panes_show_agents_approvals_calls_budgets_breakers_alerts(harness: Harness) -> None:
    """Every pane fills from the store; the title says nobody supervises the database."""
    await seed(harness)
    app = make_app(
        harness.db,
        clock=harness.clock,
        operator="ann",
        definitions=Definitions({"payer": PAYER}, POLICIES),
    )
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        assert column(app, "agents", 1) == ["payer-1", "payer-2"]
        assert column(app, "agents", 3) == ["awaiting_approval", "completed"]
        assert column(app, "agents", 5) == ["$0.00/$2.00", "$0.00/$2.00"]
        approval = [cell.plain for cell in table(app, "approvals").get_row_at(0)]
        assert approval[1:7] == ["1", "payer-1", "pay", "$500.00", "approve", "in 10m 00s"]
        assert approval[7] == '{"amount": 500, "to": "alice"}'
        verdicts = column(app, "calls", 3)
        assert verdicts.count("waiting") == 2 and "ok" in verdicts
        assert column(app, "breakers", 0) == ["payer-1"]
        assert "waiting on approval #1, #2" in column(app, "breakers", 3)[0]
        assert column(app, "budgets", 2) == ["$2.00", "$2.00"]
        context = str(main_screen(app).query_one("#approval-context").render())
        assert "alice" in context and "who ann, bob" in context and "taint none" in context
        title = str(main_screen(app).query_one("#title").render())
        assert "no supervisor running" in title


async def test_approve_is_applied_by_the_hosted_supervisor(
    harness: Harness, hosted: Supervisor
) -> None:
    """`a` queues one approve by the operator; the supervisor applies it, the journal says
    who, and the approval leaves the pane."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        assert "hosting" in str(main_screen(app).query_one("#title").render())
        await pilot.press("2", "a")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "approvals", 1) == ["2"])
    queued = await commands(harness.db)
    assert [(c["command"], c["target"], c["operator"], c["status"]) for c in queued] == [
        ("decide", "1", "ann", "applied")
    ]
    assert queued[0]["payload"]["verdict"] == "approve"
    decided = await journal(harness.db, "approval_decided")
    assert [(d["approval_id"], d["verdict"], d["approvers"]) for d in decided] == [
        (1, "approve", ["ann"])
    ]


async def test_deny_asks_for_a_note_and_journals_it(harness: Harness, hosted: Supervisor) -> None:
    """`d` opens a note dialog; the note typed goes with the deny into the journal."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "j", "d")
        assert isinstance(app.screen, NoteDialog)
        await answer(pilot, app, "over limit")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "approvals", 1) == ["1"])
    decided = await journal(harness.db, "approval_decided")
    assert [(d["approval_id"], d["verdict"], d["note"]) for d in decided] == [
        (2, "deny", "over limit")
    ]


async def test_escape_cancels_a_deny(harness: Harness, hosted: Supervisor) -> None:
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "d", "escape")
        assert isinstance(app.screen, MainScreen)
        assert status(app).message == "deny cancelled"
    assert await commands(harness.db) == []


async def test_edited_arguments_are_approved_and_paid(harness: Harness, hosted: Supervisor) -> None:
    """`e` shows the arguments as JSON; bad JSON is refused in the dialog; the edited call
    is what the supervisor runs once both approvals are settled."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "e")
        dialog = app.screen
        assert isinstance(dialog, ArgumentsDialog)
        answer = dialog.query_one(Input)
        assert answer.value == '{"amount": 500, "to": "alice"}'
        answer.value = "{not json"
        await pilot.press("enter")
        assert isinstance(app.screen, ArgumentsDialog)
        assert "not JSON" in str(dialog.query_one("#dialog-error").render())
        answer.value = '{"amount": 150, "to": "alice"}'
        await pilot.press("enter")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "approvals", 1) == ["2"])
        await pilot.press("a")  # the second approval, now under the cursor
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "agents", 3)[0] == "completed")
    assert sorted((to, amount) for to, amount, _ in PAID) == [
        ("alice", 150),
        ("carol", 300),
        ("dave", 20),
    ]
    decided = await journal(harness.db, "approval_decided")
    assert decided[0]["arguments"] == {"amount": 150, "to": "alice"}


async def test_pause_and_resume_are_journaled_with_the_operator(
    harness: Harness, hosted: Supervisor
) -> None:
    """`p` pauses the highlighted agent and `r` resumes it; the journal names the operator
    and the agents pane follows the stored status."""
    app = hosting_app(harness, hosted, operator="bob")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("1", "p")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "agents", 3)[0] == "paused")
        await pilot.press("r")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "agents", 3)[0] == "awaiting_approval")
    acted = await journal(harness.db, "operator_action")
    assert [(a["command"], a["target"], a["operator"], a["identity"]) for a in acted] == [
        ("pause", "payer-1", "bob", "operator:bob"),
        ("resume", "payer-1", "bob", "operator:bob"),
    ]


async def test_terminate_needs_the_agent_name_and_acts_on_the_pinned_agent(
    harness: Harness, hosted: Supervisor
) -> None:
    """`t` asks for the agent's id; a wrong answer is refused in the dialog; the agent
    terminated is the one highlighted when the dialog opened, even if the cursor moved."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("1", "t")
        dialog = app.screen
        assert isinstance(dialog, TypedConfirm) and dialog.expected == "payer-1"
        await answer(pilot, app, "payer-2")
        assert isinstance(app.screen, TypedConfirm)
        assert "type payer-1 exactly" in str(dialog.query_one("#dialog-error").render())
        table(app, "agents").move_cursor(row=1)  # the rows move under the dialog
        dialog.query_one(Input).value = "payer-1"
        await pilot.press("enter")
        await until(pilot, lambda: column(app, "agents", 3)[0] == "terminated", tries=500)
        assert column(app, "agents", 3)[1] == "completed"
        await until(pilot, lambda: table(app, "approvals").row_count == 0)
    assert [(c["command"], c["target"]) for c in await commands(harness.db)] == [
        ("terminate", "payer-1")
    ]
    assert [(to, amount) for to, amount, _ in PAID] == [("dave", 20)]


async def test_kill_switch_needs_kill_typed(harness: Harness, hosted: Supervisor) -> None:
    """`K` asks for KILL; escape cancels; KILL pauses every agent that can be paused."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("K", "escape")
        assert status(app).message == "kill switch cancelled"
        await pilot.press("K")
        await answer(pilot, app, "KILL")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "agents", 3) == ["paused", "completed"])
    assert [(c["command"], c["target"], c["operator"]) for c in await commands(harness.db)] == [
        ("kill-switch", "*", "ann")
    ]


async def test_bulk_approve_marks_two_rows(harness: Harness, hosted: Supervisor) -> None:
    """`space` marks rows; `a` then approves every marked approval, and the agent goes on."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "space", "j", "space")
        assert table(app, "approvals").marks == {"1", "2"}
        assert column(app, "approvals", 0) == ["●", "●"]
        await pilot.press("a")
        await settled(pilot, app)
        assert "2 applied, 0 refused" in status(app).message
        await until(pilot, lambda: column(app, "agents", 3)[0] == "completed")
    assert sorted((to, amount) for to, amount, _ in PAID) == [
        ("alice", 500),
        ("carol", 300),
        ("dave", 20),
    ]


async def test_bulk_deny_needs_deny_typed(harness: Harness, hosted: Supervisor) -> None:
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "space", "j", "space", "d")
        assert isinstance(app.screen, TypedConfirm) and app.screen.expected == "DENY"
        await answer(pilot, app, "DENY")
        await settled(pilot, app)
        await until(pilot, lambda: table(app, "approvals").row_count == 0)
    decided = await journal(harness.db, "approval_decided")
    assert sorted((d["approval_id"], d["verdict"]) for d in decided) == [(1, "deny"), (2, "deny")]


async def test_filter_narrows_every_pane_and_escape_clears_it(harness: Harness) -> None:
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("slash")
        await answer(pilot, app, "payer-2")
        assert column(app, "agents", 1) == ["payer-2"]
        assert set(column(app, "calls", 1)) == {"payer-2"}
        assert table(app, "approvals").row_count == 0
        assert "filter 'payer-2'" in str(main_screen(app).query_one("#title").render())
        await pilot.press("escape")
        assert column(app, "agents", 1) == ["payer-1", "payer-2"]
        assert table(app, "approvals").row_count == 2


async def test_command_mode_jumps_acts_and_explains_mistakes(
    harness: Harness, hosted: Supervisor
) -> None:
    """`:approvals` jumps, `:pause payer-1` acts, `:agent payer-1` opens the detail, and a
    command that does not parse says why and queues nothing."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("colon")
        await answer(pilot, app, "approvals")
        assert main_screen(app).pane == "approvals"
        assert app.focused is table(app, "approvals")
        await pilot.press("colon")
        await answer(pilot, app, "frobnicate")
        assert (
            status(app).kind == "refused" and "unknown command :frobnicate" in status(app).message
        )
        await pilot.press("colon")
        await answer(pilot, app, "pause payer-1")
        await settled(pilot, app)
        await until(pilot, lambda: column(app, "agents", 3)[0] == "paused")
        await pilot.press("colon")
        await answer(pilot, app, "agent payer-1")
        assert isinstance(app.screen, AgentScreen) and app.screen.agent_id == "payer-1"
    assert [(c["command"], c["target"]) for c in await commands(harness.db)] == [
        ("pause", "payer-1")
    ]


async def test_palette_jumps_to_a_pane(harness: Harness) -> None:
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("ctrl+p", *"show alerts")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: main_screen(app).pane == "alerts")


@pytest.mark.parametrize(
    "keys",
    [
        ["2", "a"],
        ["2", "d"],
        ["2", "e"],
        ["1", "p"],
        ["1", "r"],
        ["1", "t"],
        ["1", "x"],
        ["K"],
        ["colon", *"pause payer-1", "enter"],
    ],
)
async def test_read_only_refuses_every_action(harness: Harness, keys: list[str]) -> None:
    """With read_only every action says read-only, opens no dialog and queues nothing."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann", read_only=True)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press(*keys)
        assert isinstance(app.screen, MainScreen)
        assert status(app).message.startswith("read-only") and status(app).kind == "refused"
        assert "read-only" in str(main_screen(app).query_one("#title").render())
    assert await commands(harness.db) == []


async def test_new_work_appears_without_a_key_press(harness: Harness, hosted: Supervisor) -> None:
    """The journal feed brings a newly submitted agent and its calls onto the screen."""
    app = hosting_app(harness, hosted)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        before = app.batches
        await submit_agent(
            harness.db, "payer", '[["erin", 5]]', "tester", None, harness.clock.now_ms()
        )
        hosted.poke()
        await until(pilot, lambda: column(app, "agents", 1)[-1:] == ["payer-3"], tries=500)
        await until(pilot, lambda: column(app, "agents", 3)[-1] == "completed", tries=500)
        assert app.batches > before
        assert "paid erin 5" in column(app, "calls", 4)


async def test_detail_screen_shows_the_agent_in_full(harness: Harness) -> None:
    """`enter` opens the highlighted agent: its conversation, calls with verdicts and
    approvals; `escape` comes back."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, AgentScreen) and detail.agent_id == "payer-1"
        await until(pilot, lambda: detail.detail is not None)
        assert detail.detail is not None
        conversation = str(detail.query_one("#messages").render())
        assert "paying as asked" in conversation
        await pilot.press("2")
        calls = detail.query_one("#detail-calls")
        assert calls.row_count == 2  # type: ignore[attr-defined]
        await pilot.press("5")
        assert detail.query_one("#detail-approvals").row_count == 2  # type: ignore[attr-defined]
        await pilot.press("y")
        assert app.clipboard == "payer-1"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_copy_puts_the_id_on_the_clipboard(harness: Harness) -> None:
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("j", "y")
        assert app.clipboard == "payer-2"
        assert status(app).message == "copied payer-2 (OSC 52)"


async def test_narrow_terminal_folds_panes_into_tabs(harness: Harness) -> None:
    """At 80x24 one pane shows at a time; number keys and tab switch it."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        screen = main_screen(app)
        assert screen.has_class("-narrow") and screen.query_one("#tabs").display
        shown = [pane.id for pane in screen.query(".pane") if pane.display]
        assert shown == ["pane-agents"]
        await pilot.press("3")
        shown = [pane.id for pane in screen.query(".pane") if pane.display]
        assert shown == ["pane-calls"] and app.focused is table(app, "calls")
        await pilot.press("tab")
        assert screen.pane == "budgets"
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        screen = main_screen(app)
        assert all(pane.display for pane in screen.query(".pane"))
        assert not screen.query_one("#tabs").display


async def test_help_lists_the_keys_of_the_current_pane(harness: Harness) -> None:
    """`?` on the approvals pane lists approve and deny; on the agents pane, pause."""
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("2", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys").render())
        assert "Approve the highlighted approval" in keys
        assert "Pause" not in keys
        await pilot.press("escape", "1", "question_mark")
        keys = str(app.screen.query_one("#help-keys").render())
        assert "Pause" in keys and "Approve" not in keys
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_every_key_shown_has_an_id_and_fits_at_80_columns(harness: Harness) -> None:
    """Each key in the key bar has a stable id (so it can be remapped), and at 80 columns
    every one is on screen."""
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=NARROW) as pilot:
        for pane in ("1", "2", "3"):
            await pilot.press(pane)
            shown = [b for _, b, _, _ in app.active_bindings.values() if b.show]
            assert all(b.id for b in shown), [b.key for b in shown if not b.id]
            bar = main_screen(app).query_one("#keys")
            rendered = str(bar.render())
            for binding in shown:
                assert binding.description in rendered
            assert max(len(line) for line in rendered.splitlines()) <= 78


async def test_hostile_text_is_shown_literally(harness: Harness) -> None:
    """Markup, escape sequences, bidi overrides and a 10,000-char line in a task are shown as
    text: the cell holds the literal `[bold red]` and no ESC, BEL or U+202E."""
    hostile = (
        "[bold red]FAKE[/] [link=http://evil]x[/link] \x1b[2J \x1b]52;c;ZXZpbA==\x07 \u202e"
        + "y" * 10_000
    )
    await submit_agent(harness.db, "payer", hostile, "tester", None, harness.clock.now_ms())
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=1, approvals=0)
        cell = table(app, "agents").get_row_at(0)[8]
        assert cell.plain.startswith("[bold red]FAKE[/] [link=http://evil]x[/link] \\x1b[2J")
        assert "⟨U+202E⟩" in cell.plain
        assert len(cell.plain) <= 100
        for bad in ("\x1b", "\x07", "\u202e"):
            assert bad not in cell.plain
        assert all(span.style == "reverse" for span in cell.spans)
        assert "\x1b" not in app.export_screenshot()


async def test_resizing_folds_and_unfolds_the_panes(harness: Harness) -> None:
    """A terminal resized from 120x40 to 80x24 folds the panes into tabs, keeps the pane in
    focus and its cursor on screen; back to 120x40 they unfold."""
    await seed(harness)
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        screen = main_screen(app)
        await pilot.press("3", "G")
        await pilot.resize_terminal(*NARROW)
        await pilot.pause()
        assert screen.has_class("-narrow")
        assert [pane.id for pane in screen.query(".pane") if pane.display] == ["pane-calls"]
        calls = table(app, "calls")
        assert app.focused is calls and calls.is_row_visible(calls.cursor_row)
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        assert all(pane.display for pane in screen.query(".pane"))


async def test_no_color_still_shows_the_cursor_and_the_marks(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NO_COLOR the screen drops colour, and nothing it says depends on colour: the
    cursor is drawn reversed, a marked row carries a ●."""
    await seed(harness)
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(harness.db, clock=harness.clock, operator="ann")
    assert app.no_color
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app, agents=2, approvals=2)
        await pilot.press("2", "space")
        approvals = table(app, "approvals")
        assert column(app, "approvals", 0) == ["●", " "]
        cursor_line = approvals.render_line(1)
        assert any(segment.style and segment.style.reverse for segment in cursor_line)
        other_line = approvals.render_line(2)
        assert not any(segment.style and segment.style.reverse for segment in other_line)


async def test_a_call_in_doubt_is_resolved_with_one_key(harness: Harness) -> None:
    """An in-doubt call is not approved or denied: `a` asks whether it happened, `r` runs
    it again with the same key, and the agent completes; `d` and bulk actions refuse it."""
    SENT.clear()
    await harness.submit("transferrer", "move 70")
    await harness.run_until_idle([TRANSFERRER])
    supervisor = harness.supervisor([TRANSFERRER], poll_interval_s=0.5)
    await supervisor.start()
    try:
        app = make_app(harness.db, clock=harness.clock, operator="ann", supervisor=supervisor)
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot, app, agents=1, approvals=1)
            assert column(app, "approvals", 5) == ["in doubt"]
            await pilot.press("2", "d")
            assert "call in doubt" in status(app).message and status(app).kind == "refused"
            await pilot.press("a")
            assert isinstance(app.screen, ResolveDialog)
            await pilot.press("r")
            await settled(pilot, app)
            await until(pilot, lambda: column(app, "agents", 3) == ["completed"], tries=1000)
    finally:
        await supervisor.stop()
    decided = await journal(harness.db, "approval_decided")
    assert [(d["verdict"], d["approvers"]) for d in decided] == [("retry", ["ann"])]
    assert len(SENT) == 2 and len(set(SENT)) == 1, "retried once, with the same key"


# -- tasks as trees ---------------------------------------------------------------------------


def team_app(harness: Harness, supervisor: Supervisor | None = None) -> ControlRoomApp:
    return make_app(
        harness.db,
        clock=harness.clock,
        operator="ann",
        supervisor=supervisor,
        definitions=Definitions({"payer": SPENDING_PAYER}, POLICIES),
    )


def team_rows(detail: AgentScreen) -> list[list[str]]:
    """The Team tab's rows: id (with its marker), agent, status, step, cost."""
    shown = detail.query_one("#detail-team", DataTable)
    return [[cell.plain for cell in shown.get_row_at(row)] for row in range(shown.row_count)]


async def test_a_task_is_shown_as_a_tree_with_its_spend_rolled_up(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80x24 without colour: the agents and budgets panes list each root followed by its
    sub-agents, indented under tree markers; a parent's cost adds its tree's total (Σ); the
    filter keeps a match's ancestors; `enter` on a parent opens its Team tab, `enter` there
    opens a sub-agent, whose title names its parent (`u` goes back up)."""
    await seed_team(harness)
    monkeypatch.setenv("NO_COLOR", "1")
    app = team_app(harness)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app, agents=5, approvals=2)
        assert column(app, "agents", 1) == TEAM_TREE
        assert column(app, "agents", 3) == [
            "awaiting_approval",
            "completed",
            "awaiting_approval",
            "completed",
            "completed",
        ]
        assert column(app, "agents", 5) == [
            "$0.07/$2.00 Σ $0.23",
            "$0.05/$2.00",
            "$0.09/$2.00 Σ $0.11",
            "$0.02/$2.00",
            "$0.03/$2.00",
        ]
        agents = table(app, "agents")
        drawn = ["".join(s.text for s in agents.render_line(y)) for y in range(1, 6)]
        assert [line.split()[0:2] for line in drawn[1:4]] == [
            ["├", "payer-3"],
            ["└", "payer-4"],
            ["└", "payer-5"],
        ]
        assert drawn[3].startswith("     └ payer-5"), "mark column, gap, then the indent"
        assert column(app, "budgets", 0) == TEAM_TREE
        assert column(app, "budgets", 1) == [
            "$0.07 Σ $0.23",
            "$0.05",
            "$0.09 Σ $0.11",
            "$0.02",
            "$0.03",
        ]
        # The task's root is metered by its tree's spend: its budget binds the tree.
        assert column(app, "budgets", 3)[0].endswith(" 12% Σ")

        await pilot.press("slash")
        await answer(pilot, app, "payer-5")
        assert column(app, "agents", 1) == ["payer-1", "└ payer-4", "  └ payer-5"]
        assert column(app, "agents", 5)[0] == "$0.07/$2.00 Σ $0.23", "the whole tree's total"
        assert table(app, "breakers").row_count == 0, "the context rows are not matches"
        await pilot.press("escape")
        assert column(app, "agents", 1) == TEAM_TREE

        await pilot.press("g", "enter")
        detail = app.screen
        assert isinstance(detail, AgentScreen) and detail.agent_id == "payer-1"
        await until(pilot, lambda: detail.detail is not None)
        assert detail.query_one(TabbedContent).active == "team", "a team opens on its members"
        assert team_rows(detail) == [
            ["├ payer-3", "payer", "completed", "2", "$0.05"],
            ["└ payer-4", "payer", "awaiting_approval", "1", "$0.09 Σ $0.11"],
            ["  └ payer-5", "payer", "completed", "2", "$0.02"],
        ]
        summary = str(detail.query_one("#team-summary").render())
        assert "3 sub-agent(s): 1 awaiting_approval, 2 completed" in summary
        assert "Σ $0.23 for the tree: $0.07 its own, $0.16 its sub-agents'" in summary
        assert "Σ $0.23 with 3 sub-agent(s)" in str(detail.query_one("#detail-title").render())
        assert "Parent" not in str(detail.query_one("#keys").render()), "a root has none"

        await pilot.press("enter")  # the highlighted member, payer-3
        child = app.screen
        assert isinstance(child, AgentScreen) and child.agent_id == "payer-3"
        await until(pilot, lambda: child.detail is not None)
        title = str(child.query_one("#detail-title").render())
        assert "payer-3 (payer) · sub-agent of payer-1 · completed" in title
        assert child.query_one(TabbedContent).active == "conversation"
        assert "u Parent" in str(child.query_one("#keys").render())
        await pilot.press("u")
        assert app.screen is detail, "back up to the parent it came from"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_a_sub_agent_arriving_lands_under_its_parent(harness: Harness) -> None:
    """A sub-agent submitted while the control room is open appears under its parent, last
    of its siblings (its elder sibling's marker turning), and its spend reaches its
    parent's Σ, on the main screen and on the parent's open Team tab; a sub-agent that
    spends moves its ancestors' Σ."""
    await seed_team(harness)
    supervisor = harness.supervisor([SPENDING_PAYER], POLICIES, poll_interval_s=0.5)
    await supervisor.start()
    try:
        app = team_app(harness, supervisor)
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot, app, agents=5, approvals=2)
            await pilot.press("enter")
            detail = app.screen
            assert isinstance(detail, AgentScreen) and detail.agent_id == "payer-1"
            await sub_agent(harness, "payer-1", '[["fay", 30]]')
            supervisor.poke()
            await until(pilot, lambda: len(team_rows(detail)) == 4, tries=500)
            await until(pilot, lambda: team_rows(detail)[-1][2] == "completed", tries=500)
            assert [row[0] for row in team_rows(detail)] == [
                "├ payer-3",
                "├ payer-4",
                "│ └ payer-5",
                "└ payer-6",
            ]
            await until(
                pilot,
                lambda: "Σ $0.27 for the tree" in str(detail.query_one("#team-summary").render()),
            )
            await pilot.press("escape")
            assert column(app, "agents", 1) == [
                "payer-1",
                "├ payer-3",
                "├ payer-4",
                "│ └ payer-5",
                "└ payer-6",
                "payer-2",
            ]
            assert column(app, "agents", 3)[4] == "completed"
            # What is drawn, not only the cells: lines drawn before payer-6 came are redrawn
            # where their marker changed.
            agents = table(app, "agents")
            drawn = ["".join(s.text for s in agents.render_line(y)) for y in range(1, 7)]
            assert [line.split()[:2] for line in drawn[2:5]] == [
                ["├", "payer-4"],
                ["│", "└"],
                ["└", "payer-6"],
            ]
            assert column(app, "agents", 5)[0] == "$0.07/$2.00 Σ $0.27"
            assert column(app, "budgets", 0) == column(app, "agents", 1)
            # One level further down: payer-7 waits on $150 to gus.
            await sub_agent(harness, "payer-5", '[["gus", 150]]')
            supervisor.poke()
            await until(pilot, lambda: table(app, "approvals").row_count == 3, tries=500)
            tree = [
                "payer-1",
                "├ payer-3",
                "├ payer-4",
                "│ └ payer-5",
                "│   └ payer-7",
                "└ payer-6",
                "payer-2",
            ]
            assert column(app, "agents", 1) == tree
            assert column(app, "agents", 3)[4] == "awaiting_approval"
            # Another operator lets payer-4 go on, while payer-1's detail is open: its Team
            # row and the tree's total change in place; on the main screen its row is
            # redrawn in place and its ancestor's Σ follows, though nothing happens to the
            # ancestor itself.
            await pilot.press("1", "g", "enter")
            detail = app.screen
            assert isinstance(detail, AgentScreen) and detail.agent_id == "payer-1"
            await until(pilot, lambda: len(team_rows(detail)) == 5)
            await harness.decide(2, "approve", operator="bob")
            supervisor.poke()
            await until(pilot, lambda: team_rows(detail)[1][2] == "completed", tries=500)
            assert team_rows(detail)[1][0] == "├ payer-4"
            assert team_rows(detail)[1][4] == "$0.40 Σ $0.42"
            summary = str(detail.query_one("#team-summary").render())
            assert "Σ $0.58 for the tree" in summary
            await pilot.press("escape")
            await until(
                pilot, lambda: column(app, "agents", 5)[0] == "$0.07/$2.00 Σ $0.58", tries=500
            )
            assert column(app, "agents", 1) == tree
            assert column(app, "agents", 3)[2] == "completed"
            assert column(app, "agents", 5)[2] == "$0.40/$2.00 Σ $0.42"
            assert column(app, "budgets", 1)[0] == "$0.07 Σ $0.58"
            # Under a filter, payer-7 goes on: its ancestors stay shown (its context) and
            # their Σ follow.
            await pilot.press("slash")
            await answer(pilot, app, "payer-7")
            context = ["payer-1", "└ payer-4", "  └ payer-5", "    └ payer-7"]
            assert column(app, "agents", 1) == context
            assert column(app, "approvals", 1) == ["3"]
            await pilot.press("2", "a")
            await settled(pilot, app)
            await until(pilot, lambda: column(app, "agents", 3)[-1:] == ["completed"], tries=500)
            await until(
                pilot, lambda: column(app, "agents", 5)[0] == "$0.07/$2.00 Σ $0.74", tries=500
            )
            assert column(app, "agents", 1) == context
            assert column(app, "agents", 5)[1:] == [
                "$0.40/$2.00 Σ $0.58",
                "$0.02/$2.00 Σ $0.18",
                "$0.16/$2.00",
            ]
            await pilot.press("escape")
            assert column(app, "agents", 1) == tree
    finally:
        await supervisor.stop()
