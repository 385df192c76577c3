"""The `controlroom` command end to end, in real processes.

`submit` then `run --exit-when-idle` completes the example agents; `status --json` reports
them; `run` prints one JSON object per journal event; an operator command given from a
second process is delivered through the database to the process that owns it; SIGTERM and
SIGINT stop `run` cleanly (exit 0) with every agent checkpointed, and a relaunch continues.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cr_support import EXAMPLE_AGENTS, Cli, chain_break, query

from controlroom.store.database import open_database
from controlroom.store.inbox import submit_agent

SLOW_AGENT = '''\
"""CLI test agent: as many slow steps as the task says, each logged to $TICK_LOG."""
import asyncio
import json
import os

from controlroom import ScriptView, ToolContext, Turn, agent, tool


@tool(effect="idempotent_by_key")
async def tick(ctx: ToolContext, n: int) -> str:
    await asyncio.sleep(0.05)
    # The test may hold one step until it creates the release file.
    if str(ctx.step) == os.environ.get("TICK_HOLD_STEP"):
        while not os.path.exists(os.environ["TICK_RELEASE"]):
            await asyncio.sleep(0.02)
    with open(os.environ["TICK_LOG"], "a") as log:
        log.write(json.dumps({"agent": ctx.agent_id, "step": ctx.step, "key": ctx.key}) + "\\n")
    return f"tick {n}"


def script(view: ScriptView) -> Turn:
    total = int(view.task)
    return Turn.call("tick", n=view.step) if view.step <= total else Turn.final(f"ticked {total}")


slow = agent(name="slow", tools=[tick], script=script)
'''

LOG_KEYS = {"id", "ts_ms", "agent_id", "identity", "step", "kind"}


@pytest.fixture
def slow_agents(workdir: Path, cli: Cli) -> Path:
    directory = workdir / "agents"
    directory.mkdir()
    (directory / "slow.py").write_text(SLOW_AGENT)
    cli.env["TICK_LOG"] = str(workdir / "ticks.jsonl")
    return directory


def _ticks(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "ticks.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _submit(db: Path, agent: str, task: str) -> str:
    async def go() -> str:
        database = await open_database(db)
        try:
            return (await submit_agent(database, agent, task, "tester", None, 0)).id
        finally:
            await database.close()

    return asyncio.run(go())


def _check_log_lines(lines: list[dict[str, Any]]) -> None:
    assert lines, "run printed nothing"
    for line in lines:
        assert set(line) >= LOG_KEYS, line
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_submit_run_status_complete_the_example_agents(cli: Cli, workdir: Path) -> None:
    db = workdir / "control.db"
    common = ["--db", db, "--agents", EXAMPLE_AGENTS]
    mail = cli("submit", *common, "mailer", "Tell ops@example.com and dev@example.org: done.")
    refund = cli(
        "submit", *common, "refunds", "refund order A-1 10.50; refund B-2 3", "--user", "ana"
    )
    assert (mail.returncode, mail.stdout) == (0, "mailer-1\n"), mail.describe()
    assert (refund.returncode, refund.stdout) == (0, "refunds-1\n"), refund.describe()

    run = cli("run", *common, "--exit-when-idle")
    assert run.returncode == 0, run.describe()
    assert "Traceback" not in run.stderr
    lines = run.json_lines()  # every line of stdout is one JSON object
    _check_log_lines(lines)
    assert lines[0]["kind"] == "supervisor_started"
    assert [line["kind"] for line in lines[-2:]] == ["supervisor_stopped", "chain_head_signed"]
    completed = {line["agent_id"]: line for line in lines if line["kind"] == "agent_completed"}
    assert set(completed) == {"mailer-1", "refunds-1"}
    assert completed["refunds-1"]["result"] == "Refunded 2 order(s), 13.50 in total."
    # What was printed is what was journaled.
    stored = query(db, "SELECT id, kind, agent_id, step FROM events ORDER BY id")
    assert [(x["id"], x["kind"], x["agent_id"], x["step"]) for x in lines] == stored
    assert chain_break(db) is None

    as_json, table = cli.many([["status", "--db", db, "--json"], ["status", "--db", db]])
    assert as_json.returncode == 0, as_json.describe()
    report = json.loads(as_json.stdout)
    assert report["supervisor"] == "none running"
    agents = {a["id"]: a for a in report["agents"]}
    assert set(agents) == {"mailer-1", "refunds-1"}
    assert agents["mailer-1"]["status"] == "completed"
    assert agents["mailer-1"]["step"] == 3
    assert agents["refunds-1"]["status"] == "completed"
    assert agents["refunds-1"]["step"] == 5
    assert agents["refunds-1"]["user"] == "ana"
    assert table.returncode == 0
    assert "mailer-1" in table.stdout and "refunds-1" in table.stdout
    assert table.stdout.count("completed") == 2

    # The tools' effects happened once each.
    mails = sorted((workdir / "outbox").glob("*.eml"))
    assert len(mails) == 2
    sent_keys = {line["key"] for line in lines if line["kind"] == "tool_call_succeeded"}
    assert {m.stem for m in mails} <= sent_keys
    ledger = [json.loads(x) for x in (workdir / "refunds.jsonl").read_text().splitlines()]
    assert [(e["order_id"], e["amount"]) for e in ledger] == [("A-1", 10.5), ("B-2", 3.0)]


def test_pause_from_a_second_process_then_stop_and_resume(
    cli: Cli, workdir: Path, slow_agents: Path
) -> None:
    db = workdir / "control.db"
    common = ["--db", db, "--agents", slow_agents]
    agent_id = _submit(db, "slow", "40")
    cli.env["TICK_HOLD_STEP"] = "5"
    cli.env["TICK_RELEASE"] = str(workdir / "release")
    owner = cli.start("run", *common)
    # Step 5's tool is running and held: the agent cannot finish before the pause arrives.
    owner.wait_for(lambda e: e["kind"] == "tool_call_started" and e["step"] == 5)

    pausing = cli.start("pause", *common, agent_id, "--as", "night-shift")
    deadline = time.monotonic() + 20
    while query(db, "SELECT COUNT(*) FROM commands") == [(0,)]:
        assert pausing.proc.poll() is None, pausing.stderr()
        assert time.monotonic() < deadline, "the pause command never reached the database"
        time.sleep(0.02)
    (workdir / "release").touch()
    assert pausing.wait() == 0, pausing.stderr()
    assert pausing.out.read_text().strip() == f"paused {agent_id}"
    pause_line = owner.wait_for(lambda e: e["kind"] == "agent_paused")
    acted = owner.wait_for(lambda e: e["kind"] == "operator_action")
    assert (acted["command"], acted["operator"], acted["outcome"]) == (
        "pause",
        "night-shift",
        f"paused {agent_id}",
    )
    paused_at = pause_line["step"]
    assert 5 <= paused_at < 40

    owner.send(signal.SIGTERM)
    assert owner.wait() == 0, owner.stderr()
    assert "Traceback" not in owner.stderr()
    lines = owner.lines()
    _check_log_lines(lines)
    assert [line["kind"] for line in lines[-2:]] == ["supervisor_stopped", "chain_head_signed"]
    assert lines[-2]["reason"] == "signal SIGTERM"

    status = cli("status", "--db", db, "--json")
    [record] = json.loads(status.stdout)["agents"]
    assert (record["status"], record["step"]) == ("paused", paused_at)
    [(step, state)] = query(
        db,
        "SELECT step, state FROM checkpoints WHERE agent_id = ? ORDER BY event_id DESC LIMIT 1",
        (agent_id,),
    )
    assert step == paused_at and json.loads(state)["status"] == "paused"
    assert [t["step"] for t in _ticks(workdir)] == list(range(1, paused_at + 1))

    # No supervisor now: the command waits in the database for the next one.
    resumed = cli("resume", *common, agent_id)
    assert resumed.returncode == 0, resumed.describe()
    assert f"queued resume {agent_id}" in resumed.stdout
    relaunch = cli("run", *common, "--exit-when-idle")
    assert relaunch.returncode == 0, relaunch.describe()
    after = relaunch.json_lines()
    [started] = [e for e in after if e["kind"] == "agent_started"]
    assert (started["resumed"], started["step"]) == (True, paused_at)
    assert any(e["kind"] == "agent_completed" and e["agent_id"] == agent_id for e in after)

    ticks = _ticks(workdir)
    assert [t["step"] for t in ticks] == list(range(1, 41)), "a step ran twice or was skipped"
    assert len({t["key"] for t in ticks}) == 40
    final = json.loads(cli("status", "--db", db, "--json").stdout)["agents"][0]
    assert (final["status"], final["step"], final["result"]) == ("completed", 41, "ticked 40")
    assert chain_break(db) is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_run_cleanly_and_a_relaunch_continues(
    cli: Cli, workdir: Path, slow_agents: Path, sig: signal.Signals
) -> None:
    db = workdir / "control.db"
    common = ["--db", db, "--agents", slow_agents]
    agent_id = _submit(db, "slow", "30")
    owner = cli.start("run", *common)
    owner.wait_for(lambda e: e["kind"] == "tool_call_succeeded" and e["step"] >= 3)
    owner.send(sig)
    assert owner.wait() == 0, owner.stderr()
    assert "Traceback" not in owner.stderr()
    lines = owner.lines()
    _check_log_lines(lines)
    assert [line["kind"] for line in lines[-2:]] == ["supervisor_stopped", "chain_head_signed"]
    assert lines[-2]["reason"] == f"signal {sig.name}"
    assert query(db, "SELECT COUNT(*) FROM lease") == [(0,)], "the lease was not released"

    # Stopped at a step boundary: the agent is still running, checkpointed at its last step.
    [(status, step)] = query(
        db,
        "SELECT a.status, (SELECT MAX(step) FROM checkpoints c WHERE c.agent_id = a.id)"
        " FROM agents a",
    )
    assert status == "running"
    assert 3 <= step < 30
    assert [t["step"] for t in _ticks(workdir)] == list(range(1, step + 1))

    relaunch = cli("run", *common, "--exit-when-idle")
    assert relaunch.returncode == 0, relaunch.describe()
    [started] = [e for e in relaunch.json_lines() if e["kind"] == "agent_started"]
    assert (started["agent_id"], started["resumed"], started["step"]) == (agent_id, True, step)
    assert [t["step"] for t in _ticks(workdir)] == list(range(1, 31))
    assert query(db, "SELECT status FROM agents") == [("completed",)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_run_exits_zero_on_signal(cli: Cli, workdir: Path, sig: signal.Signals) -> None:
    owner = cli.start("run", "--db", workdir / "control.db", "--agents", EXAMPLE_AGENTS)
    owner.wait_for(lambda e: e["kind"] == "supervisor_started")
    owner.send(sig)
    assert owner.wait() == 0, owner.stderr()
    assert owner.stderr() == ""
    assert [e["kind"] for e in owner.lines()] == [
        "supervisor_started",
        "supervisor_stopped",
        "chain_head_signed",
    ]


def test_run_survives_its_reader_going_away(cli: Cli, workdir: Path, slow_agents: Path) -> None:
    """`run | head -1`: the log stops, the agents do not; `run` still exits 0."""
    db = workdir / "cr.db"
    for _ in range(2):
        assert cli("submit", "--db", db, "--agents", slow_agents, "slow", "3").returncode == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controlroom",
            "run",
            "--db",
            str(db),
            "--agents",
            str(slow_agents),
            "--exit-when-idle",
        ],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    json.loads(proc.stdout.readline())
    proc.stdout.close()  # the reader goes away
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in proc.stderr.read()
    statuses = [row[0] for row in query(db, "SELECT status FROM agents ORDER BY seq")]
    assert statuses == ["completed", "completed"]


def test_quarantine_from_a_second_process_holds_the_agents_effects_and_result(
    cli: Cli, workdir: Path, slow_agents: Path
) -> None:
    db = workdir / "control.db"
    common = ["--db", db, "--agents", slow_agents]
    agent_id = _submit(db, "slow", "6")
    cli.env["TICK_HOLD_STEP"] = "3"
    cli.env["TICK_RELEASE"] = str(workdir / "release")
    owner = cli.start("run", *common, "--exit-when-idle")
    owner.wait_for(lambda e: e["kind"] == "tool_call_started" and e["step"] == 3)

    held = cli("quarantine", *common, agent_id, "--as", "night-shift")
    assert held.returncode == 0, held.describe()
    assert held.stdout.strip() == f"quarantined {agent_id}: outputs held for review"
    (workdir / "release").touch()
    assert owner.wait() == 0, owner.stderr()

    lines = owner.lines()
    [marked] = [e for e in lines if e["kind"] == "agent_quarantined"]
    assert marked["reason"] == "quarantined by night-shift"
    # Its next side-effecting call waits for an approval; the call under way finished.
    [asked] = [e for e in lines if e["kind"] == "approval_requested"]
    assert asked["step"] == 4 and "the agent is quarantined" in asked["why"]
    assert [t["step"] for t in _ticks(workdir)] == [1, 2, 3]
    [record] = json.loads(cli("status", "--db", db, "--json").stdout)["agents"]
    assert record["status"] == "awaiting_approval"

    # Approved from another process while no supervisor runs: applied at the next start.
    approved = cli("approve", *common, str(asked["approval_id"]), "--as", "night-shift")
    assert approved.returncode == 0, approved.describe()
    assert "applied when a supervisor starts" in approved.stdout
    again = cli.start("run", *common, "--exit-when-idle")
    assert again.wait() == 0, again.stderr()
    assert [t["step"] for t in _ticks(workdir)] == [1, 2, 3, 4]  # step 5 waits again
    [record] = json.loads(cli("status", "--db", db, "--json").stdout)["agents"]
    assert record["status"] == "awaiting_approval"
    waiting = json.loads(cli("approvals", *common, "--json").stdout)
    assert [(a["step"], a["tool"]) for a in waiting] == [(5, "tick")]
    assert chain_break(db) is None
