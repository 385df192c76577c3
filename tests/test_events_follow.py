"""`controlroom events [--follow] [--json] [--after ID]`: the journal for log shippers.

In real processes: the export prints what `run` prints for the same events, in id order; a
follower beside a running supervisor prints every committed event exactly once; a follower
stopped by SIGTERM and restarted with `--after <last id it printed>` leaves no gap and no
duplicate; a reader that goes away ends it quietly; a missing database is one error line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cr_support import EXAMPLE_AGENTS, PYTHON, Background, Cli, assert_clean_error, query

PACER = '''\
"""Test agent: as many steps as its task says. A step listed in $PACE_HOLD waits for the
file go-<step> in $PACE_DIR; the final answer is padded with dots to $PACE_PAD characters."""
import asyncio
import os

from controlroom import ScriptView, ToolContext, Turn, agent, tool


@tool(effect="idempotent_by_key")
async def pace(ctx: ToolContext, n: int) -> str:
    if str(ctx.step) in os.environ.get("PACE_HOLD", "").split(","):
        while not os.path.exists(os.path.join(os.environ["PACE_DIR"], f"go-{ctx.step}")):
            await asyncio.sleep(0.02)
    return f"paced {n}"


def script(view: ScriptView) -> Turn:
    if view.step <= int(view.task):
        return Turn.call("pace", n=view.step)
    return Turn.final("paced".ljust(int(os.environ.get("PACE_PAD", "0")), "."))


pacer = agent(name="pacer", tools=[pace], script=script)
'''


@pytest.fixture
def pacer(workdir: Path, cli: Cli) -> Path:
    directory = workdir / "agents"
    directory.mkdir()
    (directory / "pacer.py").write_text(PACER)
    cli.env["PACE_DIR"] = str(workdir)
    return directory


def _journal_ids(db: Path) -> list[int]:
    return [row[0] for row in query(db, "SELECT id FROM events ORDER BY id")]


def _committed(db: Path, kind: str, step: int) -> bool:
    sql = "SELECT count(*) FROM events WHERE kind = ? AND step = ?"
    return bool(query(db, sql, (kind, step))[0][0])


def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _started(step: int) -> Any:
    return lambda e: e["kind"] == "tool_call_started" and e["step"] == step


def _stop(follower: Background) -> list[dict[str, Any]]:
    """SIGTERM a follower: it exits 0, without a traceback, its last line whole."""
    follower.send(signal.SIGTERM)
    assert follower.wait() == 0, follower.stderr()
    assert follower.stderr() == ""
    assert follower.out.read_bytes().endswith(b"\n")
    return follower.lines()


def _submit(cli: Cli, db: Path, agents: Path, agent: str, task: str) -> None:
    result = cli("submit", "--db", db, "--agents", agents, agent, task)
    assert result.returncode == 0, result.describe()


def test_events_print_the_journal_in_order_as_run_prints_it(cli: Cli, workdir: Path) -> None:
    db = workdir / "control.db"
    common = ["--db", db, "--agents", EXAMPLE_AGENTS]
    for submitted in cli.many(
        [
            ["submit", *common, "mailer", "Tell ops@example.com: done."],
            ["submit", *common, "refunds", "refund order A-1 10.50; refund B-2 3"],
        ]
    ):
        assert submitted.returncode == 0, submitted.describe()
    run = cli("run", *common, "--exit-when-idle")
    assert run.returncode == 0, run.describe()
    ids = _journal_ids(db)
    middle = ids[len(ids) // 2]

    as_json, text, resumed, caught_up, beyond = cli.many(
        [
            ["events", "--db", db, "--json"],
            ["events", "--db", db],
            ["events", "--db", db, "--json", "--after", str(middle)],
            ["events", "--db", db, "--json", "--after", str(ids[-1])],
            ["events", "--db", db, "--follow", "--after", str(ids[-1] + 1)],
        ]
    )
    for result in (as_json, text, resumed, caught_up):
        assert (result.returncode, result.stderr) == (0, ""), result.describe()
    # The same objects, byte for byte, that `run` printed as it journaled them.
    assert as_json.stdout == run.stdout
    assert [e["id"] for e in as_json.json_lines()] == ids
    # The readable form: one line per event, led by its id.
    assert [int(line.split()[0]) for line in text.stdout.splitlines()] == ids
    assert [e["id"] for e in resumed.json_lines()] == [i for i in ids if i > middle]
    assert caught_up.stdout == ""
    # A cursor past the end came from another journal: following it would skip events.
    assert beyond.stdout == ""
    assert_clean_error(beyond, f"no event #{ids[-1] + 1}", f"ends at #{ids[-1]}")


def test_follow_prints_each_committed_event_once_while_a_supervisor_runs(
    cli: Cli, workdir: Path, pacer: Path
) -> None:
    db = workdir / "control.db"
    for _ in range(2):
        _submit(cli, db, pacer, "pacer", "3")
    cli.env["PACE_HOLD"] = "2"
    run = cli.start("run", "--db", db, "--agents", pacer, "--exit-when-idle")
    follower = cli.start("events", "--db", db, "--follow", "--json")
    # The follower sees the run's events while the run is still going ...
    follower.wait_for(_started(2))
    assert run.proc.poll() is None
    (workdir / "go-2").touch()
    assert run.wait() == 0, run.stderr()
    # ... and those committed after, up to the last.
    last = _journal_ids(db)[-1]
    follower.wait_for(lambda e: e["id"] == last)
    printed = _stop(follower)

    assert [e["id"] for e in printed] == _journal_ids(db)
    assert printed == run.lines()


def test_a_follower_resumed_after_its_last_id_neither_skips_nor_repeats(
    cli: Cli, workdir: Path, pacer: Path
) -> None:
    db = workdir / "control.db"
    _submit(cli, db, pacer, "pacer", "5")
    cli.env["PACE_HOLD"] = "2,4"
    run = cli.start("run", "--db", db, "--agents", pacer, "--exit-when-idle")
    first = cli.start("events", "--db", db, "--follow", "--json")
    first.wait_for(_started(2))
    before = _stop(first)
    last = before[-1]["id"]

    # Events are committed while no follower runs; the next one starts from there.
    (workdir / "go-2").touch()
    _until(lambda: _committed(db, "tool_call_started", 4))
    second = cli.start("events", "--db", db, "--follow", "--json", "--after", str(last))
    second.wait_for(_started(4))
    (workdir / "go-4").touch()
    assert run.wait() == 0, run.stderr()
    final = _journal_ids(db)[-1]
    second.wait_for(lambda e: e["id"] == final)
    after = _stop(second)

    assert [e["id"] for e in before + after] == _journal_ids(db)
    assert before + after == run.lines()


def test_the_reader_going_away_ends_it_quietly(cli: Cli, workdir: Path, pacer: Path) -> None:
    """`events | head -1`, with and without --follow: exit 0, nothing on stderr."""
    db = workdir / "control.db"
    _submit(cli, db, pacer, "pacer", "1")
    # The final answer's events are bigger than a pipe's buffer: writing them fails.
    cli.env["PACE_PAD"] = str(300_000)
    assert cli("run", "--db", db, "--agents", pacer, "--exit-when-idle").returncode == 0
    last = _journal_ids(db)[-1]

    def events(*args: str) -> subprocess.Popen[bytes]:
        argv = [PYTHON, "-m", "controlroom", "events", "--db", str(db), "--json", *args]
        return subprocess.Popen(
            argv, cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    # Mid-write (the export), and while waiting for events that may never come (the
    # follower, which has printed the last event and has nothing more to write).
    export = events()
    follower = events("--follow", "--after", str(last - 1))
    for proc in (export, follower):
        assert proc.stdout is not None and proc.stderr is not None
        json.loads(proc.stdout.readline())
        proc.stdout.close()  # the reader goes away
    for proc in (export, follower):
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None and proc.stderr.read() == b""


def test_a_missing_database_is_one_error_line(cli: Cli, workdir: Path) -> None:
    missing = workdir / "missing.db"
    for result in cli.many(
        [["events", "--db", missing], ["events", "--db", missing, "--follow", "--json"]]
    ):
        assert result.stdout == ""
        assert_clean_error(result, "missing.db", "no such database")
    assert not missing.exists()
