"""The room the panes show: folding the journal into stream lines, alerts and spend,
starting over from a full read without showing a line twice, and the agents as a tree
(order, markers, roll-ups, late arrivals, the filter)."""

from __future__ import annotations

from rich.text import Text

from controlroom.domain.events import (
    JournalEntry,
    ModelBreakerChanged,
    MonitorAlert,
    SupervisorStarted,
    ToolCallStarted,
)
from controlroom.domain.models import AgentRecord, AgentState, AgentStatus
from controlroom.store.agent_views import AgentView
from controlroom.ui import rows
from controlroom.ui.projection import Room, TreeRow


def _entries() -> list[JournalEntry]:
    started = ToolCallStarted(call_id="c1", tool="pay", key="k", arguments={"to": "ann"})
    alert = MonitorAlert(monitor="loop", level="warn", tool="pay", detail="3 times")
    return [
        JournalEntry(1, 1_000, "payer-1", "agent:payer-1/a", 1, started),
        JournalEntry(2, 2_000, "payer-1", "agent:payer-1/a", 1, alert),
    ]


def test_a_reload_refolds_the_journal_without_doubling_lines() -> None:
    room = Room()
    room.reset([], [], since=0)
    touched = room.absorb(_entries())
    assert (touched.calls, touched.alerts, touched.agents) == (1, 1, frozenset({"payer-1"}))
    assert room.absorb(_entries()).anything is False, "entries already folded are skipped"
    room.reset([], [], since=0)  # a reload reads the same journal again
    room.absorb(_entries())
    assert [line.verdict for line in room.calls] == ["started"]
    assert [line.kind for line in room.alerts] == ["loop"]
    assert room.last_event_id == 2


def _change(endpoint: str, previous: str, state: str) -> ModelBreakerChanged:
    return ModelBreakerChanged(
        endpoint=endpoint, previous=previous, state=state, consecutive_failures=3, reason="503"
    )


def _moved(event_id: int, endpoint: str, previous: str, state: str) -> JournalEntry:
    change = _change(endpoint, previous, state)
    return JournalEntry(event_id, event_id * 1_000, "", "supervisor", 0, change)


def test_model_breakers_not_closed_are_shown_until_they_close_or_a_supervisor_starts() -> None:
    """The room holds each endpoint whose breaker is open or half-open (the strip shows
    them); closing removes it, and a new supervisor, whose breakers start closed, clears
    them all. A reload starts from what the store says stands."""
    room = Room()
    room.reset([], [], since=0)
    room.absorb([_moved(1, "openai", "closed", "open"), _moved(2, "local", "closed", "open")])
    assert {name: b.state for name, b in room.model_breakers.items()} == {
        "openai": "open",
        "local": "open",
    }
    room.absorb([_moved(3, "openai", "open", "half-open"), _moved(4, "local", "open", "closed")])
    assert {name: b.state for name, b in room.model_breakers.items()} == {"openai": "half-open"}
    started = SupervisorStarted(pid=1, host="h")
    room.absorb([JournalEntry(5, 5_000, "", "supervisor", 0, started)])
    assert room.model_breakers == {}
    room.reset([], [], since=5, model_breakers=[_change("anthropic", "closed", "open")])
    assert list(room.model_breakers) == ["anthropic"]


# -- the tree of agents -----------------------------------------------------------------------


def _view(
    agent_id: str, parent: str | None = None, cost: float = 0.0, unknown: int = 0
) -> AgentView:
    record = AgentRecord(
        id=agent_id,
        agent=agent_id.split("-")[0],
        task="t",
        user="u",
        budget_usd=None,
        status=AgentStatus.RUNNING,
        submitted_ms=0,
        updated_ms=0,
        parent_id=parent,
    )
    state = AgentState(
        agent_id=agent_id,
        agent=record.agent,
        intent="t",
        user="u",
        cost_usd=cost,
        unknown_cost_turns=unknown,
    )
    return AgentView(record, state, None)


def _shown(rows: list[TreeRow]) -> list[str]:
    """Each row as the id cell draws it: the marker, then the id."""
    return [row.marker + row.view.record.id for row in rows]


# Submitted interleaved: two teams, the first with a nested sub-team, and a lone agent.
TEAMS = [
    _view("team-1", cost=0.10),
    _view("team-2", cost=0.01),
    _view("plan-1", "team-1", cost=0.20),
    _view("search-1", "team-1", cost=0.30),
    _view("plan-2", "team-2", cost=0.02),
    _view("fetch-1", "search-1", cost=0.40, unknown=1),
    _view("fetch-2", "search-1", cost=0.50),
    _view("solo-1", cost=1.00),
    _view("critic-1", "team-1", cost=0.60),
]
TREE = [
    "team-1",
    "├ plan-1",
    "├ search-1",
    "│ ├ fetch-1",
    "│ └ fetch-2",
    "└ critic-1",
    "team-2",
    "└ plan-2",
    "solo-1",
]


def test_agents_are_listed_as_a_tree_in_submission_order() -> None:
    """Each root in submission order, then its descendants depth-first, children in
    submission order, each id after the marker of its place in the tree."""
    room = Room()
    room.reset(TEAMS, [], since=0)
    rows = room.tree()
    assert _shown(rows) == TREE
    assert [row.depth for row in rows] == [0, 1, 1, 2, 2, 1, 0, 1, 0]
    assert not any(row.context for row in rows)
    # Redrawing one row in place gives what the whole tree gives it.
    assert [room.row(row.view.record.id) for row in rows] == rows
    assert room.ancestors("fetch-2") == ["search-1", "team-1"]
    assert _shown(room.subtree("team-1")) == TREE[1:6]
    assert _shown(room.subtree("search-1")) == ["├ fetch-1", "└ fetch-2"]
    assert room.subtree("solo-1") == []


def test_a_parent_rolls_up_its_whole_tree() -> None:
    """A parent's total is its own spend plus every descendant's, nested ones included;
    turns of unknown cost anywhere below are counted; an agent alone has no roll-up."""
    room = Room()
    room.reset(TEAMS, [], since=0)
    totals = {row.view.record.id: row.total for row in room.tree()}
    team = totals["team-1"]
    assert team is not None and round(team.cost_usd, 2) == 2.10
    assert (team.unknown_cost_turns, team.agents) == (1, 6)
    search = totals["search-1"]
    assert search is not None and round(search.cost_usd, 2) == 1.20 and search.agents == 3
    assert totals["solo-1"] is None and totals["plan-1"] is None
    assert room.rollup("team-1") == team
    cells = rows.agent_cells(TEAMS[0], 2.0, False, "", team)
    assert cells[1] == "team-1" and cells[5] == "$0.10/$2.00 Σ ≥$2.10"
    cells = rows.agent_cells(TEAMS[5], None, False, "│ ├ ")
    assert cells[1] == "│ ├ fetch-1" and cells[5] == "$0.40/-"
    # The budgets pane meters a task's root by its tree (its budget binds the tree).
    cells = rows.budget_cells(TEAMS[0], 4.2, [], "", team)
    assert cells[1] == "$0.10 Σ ≥$2.10" and cells[3].endswith(" 50% Σ")
    assert cells[5] == "tree pauses at $4.20"
    plain = rows.budget_cells(TEAMS[3], 1.0, [], "├ ", search)
    assert plain[3].endswith(" 30%") and plain[5] == "pause at $1.00"


def test_late_arrivals_land_under_their_parent() -> None:
    """Sub-agents arriving after the first read go under their parent and say the tree
    changed (panes that append must redraw); a new root, at the end, does not. A
    sub-agent seen before its parent is a root until the parent arrives."""
    room = Room()
    room.reset(TEAMS[:2], [], since=0)
    version = room.tree_version
    room.refresh([_view("solo-1")], [])
    assert room.tree_version == version, "a new root lands at the end"
    room.refresh([_view("plan-2", "team-2"), _view("plan-1", "team-1")], [])
    assert room.tree_version > version
    assert _shown(room.tree()) == ["team-1", "└ plan-1", "team-2", "└ plan-2", "solo-1"]
    version = room.tree_version
    room.refresh([_view("fetch-1", "search-1")], [])  # its parent is not known yet
    assert room.tree_version == version
    assert _shown(room.tree())[-1] == "fetch-1"
    room.refresh([_view("search-1", "team-1", cost=0.3)], [])
    assert room.tree_version > version
    assert _shown(room.tree())[:4] == ["team-1", "├ plan-1", "└ search-1", "  └ fetch-1"]
    version = room.tree_version
    room.refresh([_view("fetch-1", "search-1", cost=0.5)], [])  # an update, not a newcomer
    assert room.tree_version == version
    total = room.rollup("team-1")
    assert round(total.cost_usd, 2) == 0.90 and total.agents == 4


def test_a_filter_keeps_matches_in_their_tree() -> None:
    """A filter keeps the agents that match and, as context, their ancestors (never a
    sub-agent out of its tree); markers are drawn among what is shown; roll-ups stay
    those of the whole tree."""
    room = Room()
    room.reset(TEAMS, [], since=0)
    kept = room.tree(lambda view: view.record.id in ("fetch-2", "plan-2", "solo-1"))
    assert _shown(kept) == ["team-1", "└ search-1", "  └ fetch-2", "team-2", "└ plan-2", "solo-1"]
    assert [row.context for row in kept] == [True, True, False, True, False, False]
    team = kept[0].total
    assert team is not None and round(team.cost_usd, 2) == 2.10
    assert room.tree(lambda view: False) == []
    everyone = room.tree(lambda view: True)
    assert _shown(everyone) == TREE and not any(row.context for row in everyone)
    # A context row is dimmed; its text is the same (it reads the same without colour).
    context = rows.agent_cells(kept[1].view, None, False, kept[1].marker, kept[1].total, True)
    assert isinstance(context[1], Text) and context[1].plain == "└ search-1"
    assert context[1].spans and all(span.style == "dim" for span in context[1].spans)
