"""Approvals across real processes: the supervisor SIGKILLed while an agent waits, decisions
made from other processes (with and without a supervisor running), two approvers deciding
at once. The example refund desk is used as shipped: refunds above 50 need an approval,
and `issue_refund` appends to a ledger file with no deduplication, so a refund paid twice
would show as two lines.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from cr_support import EXAMPLE_AGENTS, REPO, Background, Cli, chain_break, query

POLICIES = REPO / "policies"


def _common(db: Path) -> list[str | Path]:
    return ["--db", db, "--agents", EXAMPLE_AGENTS, "--policies", POLICIES]


def _ledger(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "refunds.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _suspended_supervisor(cli: Cli, db: Path, task: str) -> tuple[Background, str, int]:
    """Submit a refund that needs approval and run a supervisor until the agent waits."""
    submitted = cli("submit", *_common(db), "refunds", task)
    assert submitted.returncode == 0, submitted.describe()
    agent_id = submitted.stdout.strip()
    owner = cli.start("run", *_common(db))
    suspended = owner.wait_for(lambda e: e["kind"] == "agent_suspended")
    [approval_id] = suspended["approvals"]
    return owner, agent_id, approval_id


def _starts(db: Path, tool: str) -> int:
    [(count,)] = query(
        db,
        "SELECT COUNT(*) FROM events WHERE kind = 'tool_call_started' AND data LIKE ?",
        (f'%"tool":"{tool}"%',),
    )
    return int(count)


def test_killed_while_waiting_then_approved_from_another_process_runs_the_refund_once(
    cli: Cli, workdir: Path
) -> None:
    db = workdir / "control.db"
    owner, agent_id, approval_id = _suspended_supervisor(cli, db, "refund order A-7 120")
    owner.send(signal.SIGKILL)
    owner.wait()
    assert _ledger(workdir) == [], "nothing is paid before the decision"

    listed = json.loads(cli("approvals", *_common(db), "--json").stdout)
    [waiting] = listed
    assert (waiting["id"], waiting["agent_id"], waiting["tool"]) == (
        approval_id,
        agent_id,
        "issue_refund",
    )
    assert waiting["amount"] == 120.0 and waiting["tier"] == "approve"
    assert waiting["arguments"] == {
        "order_id": "A-7",
        "amount": 120.0,
        "reason": "customer request",
    }

    approved = cli("approve", *_common(db), str(approval_id), "--as", "oncall", "--note", "ok")
    assert approved.returncode == 0, approved.describe()
    assert "applied when a supervisor starts" in approved.stdout

    relaunched = cli.start("run", *_common(db), "--exit-when-idle")
    assert relaunched.wait() == 0, relaunched.stderr()
    lines = relaunched.lines()
    assert [e["kind"] for e in lines].count("agent_started") == 1, "resumed exactly once"
    [decided] = [e for e in lines if e["kind"] == "approval_decided"]
    assert decided["approvers"] == ["oncall"] and decided["note"] == "ok"

    assert [(r["order_id"], r["amount"]) for r in _ledger(workdir)] == [("A-7", 120.0)]
    assert _starts(db, "issue_refund") == 1
    status = json.loads(cli("status", "--db", db, "--json").stdout)["agents"]
    assert [(a["id"], a["status"]) for a in status] == [(agent_id, "completed")]
    assert status[0]["result"] == "Refunded 1 order(s), 120.00 in total."
    assert chain_break(db) is None


def test_a_decision_made_while_the_supervisor_runs_reaches_it_through_the_database(
    cli: Cli, workdir: Path
) -> None:
    db = workdir / "control.db"
    owner, agent_id, approval_id = _suspended_supervisor(cli, db, "refund order B-2 75")

    refused = cli("approve", *_common(db), str(approval_id), "--as", "mallory")
    assert refused.returncode == 1, refused.describe()
    assert refused.stdout.strip() == (
        "refused: mallory may not decide this call (approve tier, $75.00); "
        "allowed: oncall, finance-lead"
    )
    assert _ledger(workdir) == []

    denied = cli("deny", *_common(db), str(approval_id), "--as", "finance-lead", "--note", "dup")
    assert denied.returncode == 0, denied.describe()
    assert denied.stdout.strip() == (
        f"approval #{approval_id} ({agent_id} issue_refund) denied by finance-lead"
    )
    owner.wait_for(lambda e: e["kind"] == "agent_completed")
    owner.send(signal.SIGTERM)
    assert owner.wait() == 0, owner.stderr()

    assert _ledger(workdir) == [], "a denied refund is never paid"
    kinds = [e["kind"] for e in owner.lines()]
    assert kinds.count("decision_refused") == 1
    status = json.loads(cli("status", "--db", db, "--json").stdout)["agents"]
    assert status[0]["result"] == "Refunded 0 order(s), 0.00 in total. Not refunded: B-2."
    assert chain_break(db) is None


def test_two_approvers_deciding_at_the_same_moment_apply_exactly_one_decision(
    cli: Cli, workdir: Path
) -> None:
    db = workdir / "control.db"
    owner, _agent_id, approval_id = _suspended_supervisor(cli, db, "refund order C-9 300")
    first, second = cli.many(
        [
            ["approve", *_common(db), str(approval_id), "--as", "oncall"],
            ["approve", *_common(db), str(approval_id), "--as", "finance-lead"],
        ]
    )
    results = sorted([first, second], key=lambda r: r.returncode)
    applied, refused = results
    assert applied.returncode == 0, applied.describe()
    assert "approved by" in applied.stdout
    # Refused by the supervisor, or (when the first decision was applied before this
    # process looked) by the command itself: either way, with the same words.
    assert refused.returncode == 1, refused.describe()
    said = refused.stdout + refused.stderr
    assert f"approval #{approval_id} is already decided: approve by" in said, said
    owner.wait_for(lambda e: e["kind"] == "agent_completed")
    owner.send(signal.SIGTERM)
    assert owner.wait() == 0, owner.stderr()

    assert [(r["order_id"], r["amount"]) for r in _ledger(workdir)] == [("C-9", 300.0)]
    assert _starts(db, "issue_refund") == 1
    decided = query(db, "SELECT COUNT(*) FROM events WHERE kind = 'approval_decided'")
    assert decided == [(1,)]
    assert chain_break(db) is None
