"""The room the panes show: folding the journal into stream lines, alerts and spend, and
starting over from a full read without showing a line twice."""

from __future__ import annotations

from controlroom.domain.events import JournalEntry, MonitorAlert, ToolCallStarted
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
