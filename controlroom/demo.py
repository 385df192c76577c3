"""The demo: the example agents on the scripted model, on a database of their own.

It needs no network and no key. The first run queues a scenario that gives every pane of
the control room something to show: refunds waiting for approval, a researcher tainted and
quarantined by a prompt injection, a research team whose poisoned reading is held and
escalated, an ops agent caught in a loop, a runaway agent stopped
by its budget, restarts announced by notifications, and a watcher that keeps working for a
few minutes. Later runs resume whatever is unfinished (close it at any moment, even with
kill -9, and run it again).

The agents' slow tools wait $CONTROLROOM_DEMO_PACE seconds each, so the story unfolds at
a pace a person can follow; `prepare` sets it to `DEFAULT_PACE_S` unless it is set
already (the tests set it to 0).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from controlroom.domain.events import JournalEntry
from controlroom.store import queries
from controlroom.store.database import open_database
from controlroom.store.inbox import submit_agent

PACE_ENV = "CONTROLROOM_DEMO_PACE"
DEFAULT_PACE_S = 2.0

# The scenario, in the order it is queued (see agents/ and policies/ for each agent).
DEMO_TASKS: tuple[tuple[str, str], ...] = (
    # Refunds up to 50 are paid at once; 75 and 420 wait for an approver.
    ("refunds", "refund order A-1001 40.00; refund order A-1002 12.50; refund B-2201 75"),
    ("refunds", "refund order C-3107 18.20; refund order C-3108 420.00"),
    # The forum thread hides a prompt injection: screened, quarantined, the post held.
    (
        "research",
        "Brief #payments-eng on the payments outage from https://status.example.com/payments"
        " and https://forum.example.net/t/payments-outage",
    ),
    # The service never comes back: restarts notify, then the loop is warned, gated, paused.
    ("ops", "The billing service is down: restart it until it is healthy."),
    # Expensive turns: the budget breaker pauses it a few pages in.
    ("runaway", "Find the root cause of the checkout latency spike: read every page of the logs."),
    ("watcher", "Check the depth of the payments queue 90 times."),
    # The same question for a team: one reader meets the poisoned forum and is quarantined,
    # its reading never reaches the planner, and that subtask waits for on-call.
    (
        "research_team",
        "Brief on-call on the payments outage: https://status.example.com/payments"
        " https://forum.example.net/t/payments-outage",
    ),
    # One recipient is outside the mailer's allowed domains: that mail is refused.
    ("mailer", "Tell ops@example.com and oncall@example.org that the nightly deploy finished."),
    ("mailer", "Send the weekly digest to team@example.com."),
)


@dataclass(frozen=True)
class DemoPaths:
    home: Path
    db: Path
    outbox: Path
    ledger: Path


def demo_paths(home: Path) -> DemoPaths:
    return DemoPaths(home, home / "demo.db", home / "outbox", home / "refunds.jsonl")


def prepare(paths: DemoPaths, reset: bool) -> None:
    """Create (or, with `reset`, recreate) the demo's folder, point its tools there and
    set their pace (unless $CONTROLROOM_DEMO_PACE says otherwise)."""
    if reset and paths.home.exists():
        shutil.rmtree(paths.home)
    paths.home.mkdir(parents=True, exist_ok=True)
    os.environ["CONTROLROOM_OUTBOX"] = str(paths.outbox)
    os.environ["CONTROLROOM_LEDGER"] = str(paths.ledger)
    os.environ.setdefault(PACE_ENV, str(DEFAULT_PACE_S))


async def seed(db_path: Path, now_ms: int) -> int:
    """Queue the demo tasks if the database has no agents yet; return how many were queued."""
    db = await open_database(db_path)
    try:
        if await queries.list_agents(db):
            return 0
        for agent, task in DEMO_TASKS:
            await submit_agent(db, agent, task, "demo", None, now_ms)
        return len(DEMO_TASKS)
    finally:
        await db.close()


def summary_line(entry: JournalEntry) -> str:
    """One readable line per event, with anything an agent wrote made printable."""
    record = entry.as_log_record()
    skip = {"id", "ts_ms", "agent_id", "identity", "step", "kind"}
    details = ", ".join(
        f"{key}={_short(value)}"
        for key, value in record.items()
        if key not in skip and value not in ("", None, [], {})
    )
    when = datetime.fromtimestamp(entry.ts_ms / 1000).astimezone().strftime("%H:%M:%S")
    who = entry.agent_id or "supervisor"
    return f"{when}  {who:<12} {entry.event.kind:<20} {details}"


def _short(value: object, limit: int = 70) -> str:
    text = " ".join(str(value).split())
    text = "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
