"""The room the panes show: folding the journal into stream lines, alerts and spend, and
starting over from a full read without showing a line twice."""

from __future__ import annotations

from controlroom.domain.events import (
    JournalEntry,
    ModelBreakerChanged,
    MonitorAlert,
    SupervisorStarted,
    ToolCallStarted,
)
from controlroom.ui.projection import Room


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
