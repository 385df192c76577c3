"""The crash suite's toolkit: processes to kill, and the checks run after every kill.

A `CrashLab` owns one scratch directory: a database, the external ledger the test agents
write to (see agents/crash_agents.py), and the stdout/stderr of every supervisor process it
started. Supervisors run either as real subprocesses (`python -m controlroom run`) or as
children forked from this already-initialised interpreter (no 0.3 s import per start); both
die by SIGKILL, sent by a crash point (`CONTROLROOM_CRASH_AT`) or by the test.

Everything the checks read comes from plain `sqlite3` connections that are closed before
the next child starts: the parent never holds a database connection, a thread or an event
loop across a fork (`_assert_fork_safe` refuses to fork otherwise).

The checks encode DESIGN.md's "The journal is the truth":
- after every kill: `PRAGMA integrity_check`, every event the dead process printed is in the
  database as printed (it was committed), checkpoint steps never go down, the journal as it
  was is a prefix of the journal now;
- `check_database` (after any run): the hash chain verifies from GENESIS, checkpoints of each
  agent are steps 0..k without gaps, each holding its own step, one model turn / start /
  outcome per call, every effect in the ledger was announced (`tool_call_started`) first,
  no effect happened twice (same key, or same (agent, step) under another key), resources
  are registered once;
- `check_final` (after the last relaunch): idem/recon/maker agents completed with exactly one
  effect per step, unsafe agents completed or `in_doubt`, and an unsafe call started without
  an outcome is always the in-doubt call of an `in_doubt` agent (100% surfaced).

Every violation is collected, so one failing run reports all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401  (imported once, before any fork)

from controlroom import cli, crashpoints
from controlroom.domain.models import AgentState
from controlroom.runtime.loader import load_agents
from controlroom.store.chain import GENESIS, row_hash

AGENTS_DIR = Path(__file__).parent / "agents"
# The ledger's record tag of each side-effecting test tool.
LEDGER_TAG = {
    "idem_put": "idem",
    "recon_put": "recon",
    "unsafe_put": "unsafe",
    "make_widget": "make",
}
SIGKILLED = -signal.SIGKILL

# Import the test agents once in this process: forked children inherit the loaded module
# (it holds no open file, thread or connection) instead of each importing it again.
load_agents(AGENTS_DIR)


class CrashCheckFailed(AssertionError):
    """A durability invariant does not hold."""


def _fail(message: str) -> None:
    raise CrashCheckFailed(message)


class Violations:
    """Collects every broken invariant, so one failing run shows all of them at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self, where: str) -> None:
        if not self.messages:
            return
        shown = self.messages[:25]
        more = len(self.messages) - len(shown)
        text = "\n  - ".join(shown) + (f"\n  ... and {more} more" if more else "")
        raise CrashCheckFailed(f"{len(self.messages)} violation(s) in {where}:\n  - {text}")


def violation_kind(message: str) -> str:
    """A message with its ids and numbers blanked, to count violations by kind."""
    text = re.sub(r"\{.*\}", "{...}", message)
    text = re.sub(r"\[.*\]", "[...]", text)
    text = re.sub(r"[0-9a-f]{32}", "KEY", text)
    text = re.sub(r"\b[a-z]+-\d+\b", "AGENT", text)
    return re.sub(r"\d+", "N", text)[:200]


# -- reading the database (plain sqlite3, always closed) -------------------------------------


@contextlib.contextmanager
def connect(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(db), timeout=30, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


@dataclass
class Snapshot:
    """What is durable at one moment: per-agent checkpoint step and the journal head."""

    steps: dict[str, int]
    checkpoints: dict[str, int]
    last_event_id: int
    last_hash: bytes | None
    statuses: dict[str, str]

    @property
    def busy(self) -> bool:
        return any(s in ("queued", "running") for s in self.statuses.values())


@dataclass
class Facts:
    """What `check_database` read, for the final checks and the figures."""

    statuses: dict[str, str]
    kinds: dict[str, str]
    tasks: dict[str, str]
    steps: dict[str, int]
    events: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    dedup_hits: int
    parents: dict[str, str | None] = field(default_factory=dict)
    results: dict[str, str | None] = field(default_factory=dict)

    def of(self, agent_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["agent_id"] == agent_id and kind in (None, e["kind"])]

    def effects(self, agent_id: str, *, dedup: bool = False) -> list[dict[str, Any]]:
        return [
            r
            for r in self.ledger
            if r["agent"] == agent_id
            and r["tool"] != "compensate"
            and bool(r.get("dedup")) == dedup
        ]


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        _fail(f"{path}: the ledger ends with a partial record: {raw[-200:]!r}")
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def integrity_check(db: Path) -> None:
    with connect(db) as conn:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        _fail(f"{db}: PRAGMA integrity_check: {result[:5]}")


def snapshot(db: Path) -> Snapshot:
    with connect(db) as conn:
        steps: dict[str, int] = {}
        counts: dict[str, int] = {}
        for agent_id, step, count in conn.execute(
            "SELECT agent_id, MAX(step), COUNT(*) FROM checkpoints GROUP BY agent_id"
        ):
            steps[agent_id] = int(step)
            counts[agent_id] = int(count)
        row = conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        statuses = dict(conn.execute("SELECT id, status FROM agents").fetchall())
    return Snapshot(
        steps, counts, int(row[0]) if row else 0, bytes(row[1]) if row else None, statuses
    )


def assert_nothing_lost(db: Path, before: Snapshot, after: Snapshot, when: str) -> None:
    """Durable facts never go away: checkpoint steps never decrease, the journal only grows
    and what it held is still there, unchanged (same last row, same hash)."""
    for agent_id, step in before.steps.items():
        now = after.steps.get(agent_id)
        if now is None or now < step:
            _fail(f"{when}: {agent_id} had checkpoint step {step}, now {now}: a step was lost")
        if after.checkpoints.get(agent_id, 0) < before.checkpoints[agent_id]:
            _fail(f"{when}: {agent_id} lost checkpoint rows")
    if after.last_event_id < before.last_event_id:
        _fail(f"{when}: journal shrank from {before.last_event_id} to {after.last_event_id}")
    if before.last_event_id:
        with connect(db) as conn:
            row = conn.execute(
                "SELECT hash FROM events WHERE id = ?", (before.last_event_id,)
            ).fetchone()
        if row is None or bytes(row[0]) != before.last_hash:
            _fail(f"{when}: event {before.last_event_id} changed or vanished")


# -- processes -------------------------------------------------------------------------------


@dataclass
class RunResult:
    returncode: int
    stdout: Path
    stderr: Path
    seconds: float
    crash_at: str | None = None

    @property
    def killed(self) -> bool:
        return self.returncode == SIGKILLED

    def describe(self) -> str:
        err = self.stderr.read_text(errors="replace")[-3000:] if self.stderr.exists() else ""
        return f"rc={self.returncode} crash_at={self.crash_at} after {self.seconds:.2f}s\n{err}"

    def printed(self) -> list[dict[str, Any]]:
        """The JSON event lines the supervisor printed (whole lines only)."""
        raw = self.stdout.read_bytes() if self.stdout.exists() else b""
        cut = raw.rfind(b"\n") + 1
        return [json.loads(line) for line in raw[:cut].splitlines() if line.startswith(b"{")]


@dataclass
class Forked:
    """A forked child; reaped with os.waitpid."""

    pid: int
    stdout: Path
    stderr: Path
    started: float
    crash_at: str | None
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = _returncode(status)
        return self.returncode

    def kill(self) -> int:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            _pid, status = os.waitpid(self.pid, 0)
            self.returncode = _returncode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                _fail(f"forked child {self.pid} still running after {timeout}s; killed it")
            time.sleep(0.002)
        assert self.returncode is not None
        return self.returncode

    def result(self) -> RunResult:
        assert self.returncode is not None
        return RunResult(
            self.returncode,
            self.stdout,
            self.stderr,
            time.monotonic() - self.started,
            self.crash_at,
        )


def _returncode(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _assert_fork_safe() -> None:
    """Fork only a single-threaded process outside any event loop: a thread holding a lock
    (a logging handler, a sqlite connection, malloc) at fork time would deadlock the child.
    Threads other tests left finishing are given a moment to end."""
    deadline = time.monotonic() + 5.0
    while threading.active_count() > 1 and time.monotonic() < deadline:
        for thread in threading.enumerate():
            if thread is not threading.current_thread():
                thread.join(timeout=0.05)
    if threading.active_count() != 1:
        _fail(f"refusing to fork: the test process has threads {threading.enumerate()}")
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        open_files = []
        for fd in os.listdir(fds):
            with contextlib.suppress(OSError):
                open_files.append(os.readlink(fds / fd))
        databases = [f for f in open_files if f.endswith((".db", ".db-wal", ".db-shm"))]
        if databases:
            _fail(f"refusing to fork: the test process holds database files open: {databases}")
    with contextlib.suppress(RuntimeError):
        asyncio.get_running_loop()
        _fail("refusing to fork inside a running event loop")


def fork_call(
    fn: Callable[[], int],
    *,
    env: dict[str, str],
    stdout: Path,
    stderr: Path,
    crash_at: str | None = None,
) -> Forked:
    """Fork a child that runs `fn()` with `env` (and the crash point, if any), its stdout and
    stderr sent to files, then `os._exit`s with fn's result. Returns at once in the parent."""
    _assert_fork_safe()
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid:
        return Forked(pid, stdout, stderr, started, crash_at)
    code = 70
    try:
        out = os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.environ.pop("CONTROLROOM_CRASH_AT", None)
        os.environ.update(env)
        if crash_at:
            os.environ["CONTROLROOM_CRASH_AT"] = crash_at
        crashpoints.reload()
        code = fn()
    except BaseException:
        traceback.print_exc()
        code = 70
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def cli_commands(commands: Sequence[Sequence[str]]) -> Callable[[], int]:
    """Run `controlroom ARGS` for each of `commands` in-process, stopping at a failure."""

    def run() -> int:
        code = 0
        for args in commands:
            try:
                cli.main(list(args), standalone_mode=False)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if code != 0:
                break
        return code

    return run


# -- the lab ---------------------------------------------------------------------------------


@dataclass
class CrashLab:
    root: Path
    db: Path = field(init=False)
    ledger: Path = field(init=False)
    runs: list[RunResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reported: bool = False
    _counter: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = self.root / "crash.db"
        self.ledger = self.root / "ledger.jsonl"

    @property
    def env(self) -> dict[str, str]:
        return {"CRASH_LEDGER": str(self.ledger)}

    def _paths(self, label: str) -> tuple[Path, Path]:
        self._counter += 1
        base = self.root / f"{self._counter:04d}-{label.replace(':', '_')}"
        return base.with_suffix(".out"), base.with_suffix(".err")

    def _common(self) -> list[str]:
        # No policies: the crash agents may use every tool they declare (and the repository's
        # ./policies, written for the example agents, must not be picked up from the cwd).
        policies = self.root / "policies"
        policies.mkdir(exist_ok=True)
        return ["--db", str(self.db), "--agents", str(AGENTS_DIR), "--policies", str(policies)]

    # -- commands --------------------------------------------------------------------------

    def cli_fork(self, commands: Sequence[Sequence[str]], timeout: float = 60) -> RunResult:
        """Run `controlroom` commands (with this lab's --db/--agents) in one forked child."""
        out, err = self._paths(commands[0][0])
        child = fork_call(
            cli_commands([[*args, *self._common()] for args in commands]),
            env=self.env,
            stdout=out,
            stderr=err,
        )
        child.wait(timeout)
        return child.result()

    def submit(self, plan: Sequence[tuple[str, str]]) -> list[str]:
        """Queue each (agent, task) through `controlroom submit`; returns the agent ids."""
        result = self.cli_fork([["submit", agent, task] for agent, task in plan])
        if result.returncode != 0:
            _fail(f"submit failed: {result.describe()}")
        ids = result.stdout.read_text().split()
        if len(ids) != len(plan):
            _fail(f"submitted {len(plan)} agents, got ids {ids}")
        return ids

    def command(self, name: str, target: str) -> str:
        """An operator command (pause, terminate, ...) through the CLI; returns its output."""
        result = self.cli_fork([[name, target, "--wait", "0"]])
        if result.returncode != 0:
            _fail(f"{name} {target} failed: {result.describe()}")
        return result.stdout.read_text().strip()

    def status_json(self) -> dict[str, Any]:
        """`controlroom status --json`."""
        result = self.cli_fork([["status", "--json"]])
        if result.returncode != 0:
            _fail(f"status --json failed: {result.describe()}")
        return json.loads(result.stdout.read_text())

    def start_run(self, crash_at: str | None = None) -> Forked:
        """Fork a supervisor (`controlroom run --exit-when-idle`) and return at once."""
        out, err = self._paths(f"run-{crash_at or 'clean'}")
        return fork_call(
            cli_commands([["run", *self._common(), "--exit-when-idle"]]),
            env=self.env,
            stdout=out,
            stderr=err,
            crash_at=crash_at,
        )

    def run_fork(self, crash_at: str | None = None, timeout: float = 60) -> RunResult:
        child = self.start_run(crash_at)
        child.wait(timeout)
        result = child.result()
        self.runs.append(result)
        return result

    def run_subprocess(self, crash_at: str | None = None, timeout: float = 90) -> RunResult:
        """`python -m controlroom run --exit-when-idle` in a real subprocess."""
        out, err = self._paths(f"proc-{crash_at or 'clean'}")
        env = {k: v for k, v in os.environ.items() if k != "CONTROLROOM_CRASH_AT"}
        env.update(self.env)
        if crash_at:
            env["CONTROLROOM_CRASH_AT"] = crash_at
        started = time.monotonic()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.run(
                [sys.executable, "-m", "controlroom", "run", *self._common(), "--exit-when-idle"],
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=self.root,
                timeout=timeout,
                check=False,
            )
        result = RunResult(proc.returncode, out, err, time.monotonic() - started, crash_at)
        self.runs.append(result)
        return result

    def run(self, crash_at: str | None = None, *, subprocess_mode: bool = False) -> RunResult:
        if subprocess_mode:
            return self.run_subprocess(crash_at)
        return self.run_fork(crash_at)

    # -- crash and relaunch ----------------------------------------------------------------

    def expect_killed(self, result: RunResult, previous: Snapshot | None = None) -> Snapshot:
        """The run died by SIGKILL at its crash point; check what it left behind."""
        if not result.killed:
            _fail(
                f"the supervisor was expected to die by SIGKILL at {result.crash_at!r} but "
                f"exited with {result.describe()}: the crash point was not reached"
            )
        return self.after_kill(result, previous)

    def after_kill(self, result: RunResult, previous: Snapshot | None = None) -> Snapshot:
        """Integrity right after a kill, every printed event durable, nothing lost."""
        integrity_check(self.db)
        self.assert_printed_durable(result)
        now = snapshot(self.db)
        if previous is not None:
            assert_nothing_lost(self.db, previous, now, f"after the kill at {result.crash_at}")
        return now

    def assert_printed_durable(self, result: RunResult) -> None:
        """Every event the supervisor printed was committed: it is in the database as printed."""
        printed = result.printed()
        if not printed:
            return
        with connect(self.db) as conn:
            rows = {
                int(r[0]): (r[1], r[2], int(r[3]))
                for r in conn.execute(
                    "SELECT id, kind, agent_id, step FROM events WHERE id >= ?",
                    (min(p["id"] for p in printed),),
                )
            }
        for record in printed:
            stored = rows.get(record["id"])
            if stored != (record["kind"], record["agent_id"], record["step"]):
                _fail(f"printed event {record} is not in the database as printed ({stored})")

    def relaunch_until_idle(
        self, before: Snapshot | None = None, *, subprocess_mode: bool = False, max_runs: int = 3
    ) -> Snapshot:
        """Relaunch without a crash point until no agent is queued or running."""
        for _ in range(max_runs):
            result = self.run(subprocess_mode=subprocess_mode)
            if result.returncode != 0:
                _fail(f"relaunch failed: {result.describe()}")
            integrity_check(self.db)
            self.assert_printed_durable(result)
            now = snapshot(self.db)
            if before is not None:
                assert_nothing_lost(self.db, before, now, "after relaunch")
            before = now
            if not now.busy:
                return now
        _fail(f"agents still running after {max_runs} clean relaunches: {before}")
        raise AssertionError  # unreachable

    # -- the checks ------------------------------------------------------------------------

    def collect(
        self, expected: dict[str, set[str]] | None = None, *, final: bool = True
    ) -> tuple[Facts, list[str]]:
        """Run the checks and return what was read and every violation found."""
        v = Violations()
        facts = check_database(self.db, self.ledger, v)
        if final:
            check_final(facts, expected or {}, v)
        return facts, v.messages

    def verify(
        self, stage: str, expected: dict[str, set[str]] | None = None, *, final: bool = False
    ) -> Facts:
        """Run the checks now and keep any violation for `raise_problems` (so a test goes on
        to its later stages and reports everything it found)."""
        facts, messages = self.collect(expected, final=final)
        self.problems.extend(f"[{stage}] {message}" for message in messages)
        return facts

    def raise_problems(self) -> None:
        """Fail with every violation `verify` kept (the fixture does it too, at teardown,
        for a test that failed before getting here)."""
        self.reported = True
        v = Violations()
        v.messages = self.problems
        v.raise_if_any(f"{self.db} after {len(self.runs)} run(s)")

    def check_database(self) -> Facts:
        """Invariants that hold after ANY run, killed or not."""
        v = Violations()
        facts = check_database(self.db, self.ledger, v)
        v.raise_if_any(f"{self.db} after {len(self.runs)} run(s)")
        return facts

    def check_final(self, expected: dict[str, set[str]] | None = None) -> Facts:
        """After the last relaunch: the database checks, and every agent ended as its kind
        allows with exactly the effects its steps imply."""
        v = Violations()
        facts = check_database(self.db, self.ledger, v)
        check_final(facts, expected or {}, v)
        v.raise_if_any(f"{self.db} after {len(self.runs)} run(s)")
        return facts


def check_database(db: Path, ledger_path: Path, v: Violations) -> Facts:
    """Invariants that hold after any run; every problem is added to `v`."""
    try:
        integrity_check(db)
    except CrashCheckFailed as exc:
        v.add(str(exc))
    with connect(db) as conn:
        events = [
            {
                "id": int(r[0]),
                "ts_ms": int(r[1]),
                "agent_id": r[2],
                "identity": r[3],
                "kind": r[4],
                "step": int(r[5]),
                "data": r[6],
                "hash": bytes(r[7]),
            }
            for r in conn.execute(
                "SELECT id, ts_ms, agent_id, identity, kind, step, data, hash FROM events"
                " ORDER BY id"
            )
        ]
        checkpoints = conn.execute(
            "SELECT event_id, agent_id, step, messages, state FROM checkpoints ORDER BY event_id"
        ).fetchall()
        agents = conn.execute(
            "SELECT id, agent, task, status, parent_id, result FROM agents ORDER BY seq"
        ).fetchall()
        resources = [
            {
                "id": r[0],
                "agent_id": r[1],
                "tool": r[2],
                "resource_id": r[3],
                "key": r[4],
                "status": r[5],
            }
            for r in conn.execute(
                "SELECT id, agent_id, tool, resource_id, key, status FROM resources ORDER BY id"
            )
        ]

    # 1. The hash chain, recomputed from GENESIS over contiguous ids.
    prev = GENESIS
    for index, e in enumerate(events, start=1):
        if e["id"] != index:
            v.add(f"journal ids are not contiguous: expected {index}, found {e['id']}")
        digest = row_hash(
            prev, e["id"], e["ts_ms"], e["agent_id"], e["identity"], e["kind"], e["step"], e["data"]
        )
        if digest != e["hash"]:
            v.add(f"hash chain broken at event {e['id']} ({e['kind']})")
        prev = digest
        e["payload"] = json.loads(e["data"])
    by_id = {e["id"]: e for e in events}

    statuses = {r[0]: r[3] for r in agents}
    kinds = {r[0]: r[1] for r in agents}
    tasks = {r[0]: r[2] for r in agents}
    parents = {r[0]: r[4] for r in agents}
    results = {r[0]: r[5] for r in agents}

    # 2. Checkpoints: steps 0..k in journal order without gaps; a repeated step (a status
    # change: paused, in doubt, completed) adds no messages.
    per_agent: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for event_id, agent_id, step, messages, _state in checkpoints:
        per_agent[agent_id].append((int(event_id), int(step), messages))
        owner = by_id.get(int(event_id))
        if owner is None or owner["agent_id"] != agent_id:
            v.add(f"checkpoint of {agent_id} at step {step} points at event {event_id} of {owner}")
    steps: dict[str, int] = {}
    for agent_id, rows in per_agent.items():
        if rows[0][1] != 0:
            v.add(f"{agent_id}: first checkpoint is step {rows[0][1]}, not 0")
        for (_, previous, _), (event_id, step, messages) in itertools.pairwise(rows):
            if step == previous and messages != "[]":
                v.add(f"{agent_id}: step {step} checkpointed twice, with messages (#{event_id})")
            elif step not in (previous, previous + 1):
                v.add(f"{agent_id}: checkpoint steps jump from {previous} to {step} (#{event_id})")
        steps[agent_id] = rows[-1][1]
    # Each checkpoint holds the state after its own step: the calls it records (scripted call
    # ids are "s<step>c<i>") are of that step, and only the completing commit says completed.
    completed_at = {e["agent_id"]: e["id"] for e in events if e["kind"] == "agent_completed"}
    for event_id, agent_id, step, messages, state_json in checkpoints:
        state = AgentState.from_json(state_json)  # fields at their default are not stored
        ids = {m.get("tool_call_id") for m in json.loads(messages) if m.get("role") == "tool"}
        wrong = sorted(i for i in ids if i and not i.startswith(f"s{step}c"))
        if wrong:
            v.add(
                f"{agent_id}: checkpoint labelled step {step} (event {event_id}) holds the "
                f"messages of call(s) {wrong}: its state (status {state.status}, step "
                f"{state.step}) is of a later step"
            )
        if state.status == "completed" and completed_at.get(agent_id) != event_id:
            v.add(
                f"{agent_id}: checkpoint at event {event_id} (step {step}) says completed "
                f"but is not the agent_completed commit (event {completed_at.get(agent_id)})"
            )

    # 3. Journal per call: one turn per step, one start, one outcome after the start.
    turns: Counter[tuple[str, int]] = Counter()
    started: dict[tuple[str, int, str], dict[str, Any]] = {}
    outcomes: dict[tuple[str, int, str], dict[str, Any]] = {}
    for e in events:
        p, agent_id, step = e["payload"], e["agent_id"], e["step"]
        if e["kind"] == "model_turn":
            turns[(agent_id, step)] += 1
            if turns[(agent_id, step)] == 2:
                v.add(f"{agent_id}: step {step} has two journaled model turns")
        elif e["kind"] == "tool_call_started":
            call = (agent_id, step, p["call_id"])
            if call in started:
                v.add(f"{agent_id}: call {call} journaled as started twice")
            started[call] = e
        elif e["kind"] in ("tool_call_succeeded", "tool_call_in_doubt"):
            call = (agent_id, step, p["call_id"])
            if call in outcomes:
                first = outcomes[call]["kind"]
                v.add(f"{agent_id}: call {call} has two outcomes ({first}, {e['kind']})")
            if call not in started:
                v.add(f"{agent_id}: outcome {e['kind']} of {call} without a started intent")
            elif started[call]["payload"]["key"] != p["key"]:
                v.add(f"{agent_id}: {call} started with one key and finished with another")
            outcomes[call] = e

    # 4. Agent status agrees with the journal.
    for agent_id, status in statuses.items():
        completed = [
            e for e in events if e["agent_id"] == agent_id and e["kind"] == "agent_completed"
        ]
        if status == "completed" and len(completed) != 1:
            v.add(f"{agent_id}: status completed with {len(completed)} agent_completed events")
        if status != "completed" and completed:
            v.add(f"{agent_id}: journaled completed but status is {status}")
        if status == "in_doubt":
            doubts = [
                e for e in events if e["agent_id"] == agent_id and e["kind"] == "tool_call_in_doubt"
            ]
            if len(doubts) != 1:
                v.add(f"{agent_id}: in_doubt with {len(doubts)} tool_call_in_doubt events")
            elif doubts[0]["step"] != steps.get(agent_id, 0) + 1:
                v.add(
                    f"{agent_id}: in doubt about step {doubts[0]['step']} but its checkpoint "
                    f"is step {steps.get(agent_id)}"
                )

    # 5. The ledger: every effect was announced first (Invariant 2); none happened twice.
    try:
        ledger = read_ledger(ledger_path)
    except CrashCheckFailed as exc:
        v.add(str(exc))
        ledger = []
    started_by_key = {e["payload"]["key"]: e for e in started.values()}
    accepted_keys: Counter[tuple[str, str]] = Counter()
    accepted_steps: Counter[tuple[str, str, int]] = Counter()
    dedup_hits = 0
    for record in ledger:
        tag = record["tool"]
        if record.get("dedup"):
            dedup_hits += 1
            continue
        accepted_keys[(tag, record["key"])] += 1
        if tag == "compensate":
            continue
        accepted_steps[(tag, record["agent"], record["step"])] += 1
        announced = started_by_key.get(record["key"])
        if announced is None:
            v.add(
                f"ledger effect {record} has no tool_call_started in the journal "
                "(Invariant 2: a side effect is announced before it happens)"
            )
        elif (announced["agent_id"], announced["step"]) != (record["agent"], record["step"]):
            v.add(f"ledger effect {record} was announced for another agent or step")
    for (tag, key), count in accepted_keys.items():
        if count > 1:
            v.add(f"DUPLICATE EFFECT: {tag} key {key} took effect {count} times")
    for (tag, agent_id, step), count in accepted_steps.items():
        if count > 1:
            v.add(
                f"DUPLICATE EFFECT: {agent_id} step {step} ({tag}) took effect {count} times "
                "under different keys"
            )
    for call, outcome in outcomes.items():
        tag = LEDGER_TAG.get(outcome["payload"]["tool"])
        succeeded = outcome["kind"] == "tool_call_succeeded"
        if succeeded and tag and (tag, outcome["payload"]["key"]) not in accepted_keys:
            v.add(f"{call} journaled as succeeded but its effect is not in the ledger")

    # 6. Resources: registered once each, matching the journal; compensations journaled.
    created = Counter(
        (e["agent_id"], e["payload"]["resource_id"])
        for e in events
        if e["kind"] == "resource_created"
    )
    rows_count = Counter((r["agent_id"], r["resource_id"]) for r in resources)
    if rows_count != created:
        v.add(f"resources table {dict(rows_count)} disagrees with resource_created events")
    for (agent_id, resource_id), count in rows_count.items():
        if count > 1:
            v.add(
                f"{agent_id}: resource {resource_id} registered {count} times (a re-sent call "
                f"registered it again; a rollback compensates it {count} times)"
            )
    compensated = {
        (e["agent_id"], e["payload"]["resource_id"])
        for e in events
        if e["kind"] == "resource_compensated" and e["payload"]["ok"]
    }
    for r in resources:
        if r["status"] == "compensated" and (r["agent_id"], r["resource_id"]) not in compensated:
            v.add(f"resource {r} marked compensated without a resource_compensated event")

    return Facts(
        statuses, kinds, tasks, steps, events, ledger, resources, dedup_hits, parents, results
    )


# The crash team (agents/crash_agents.py): a `crew` runs a plan of subtasks, each done by
# a `crew_worker` (idem_put calls) and reviewed by a `crew_critic`.
TEAM_KINDS = frozenset({"crew", "crew_planner", "crew_worker", "crew_critic"})


def check_teams(facts: Facts, v: Violations) -> None:
    """Every crew completed, and every subtask was done once: one worker run, completed,
    with one effect per step; one review; one plan and one synthesis."""
    for team_id, kind in facts.kinds.items():
        if kind != "crew":
            continue
        if facts.statuses[team_id] != "completed":
            v.add(f"{team_id}: the team ended {facts.statuses[team_id]}, expected completed")
            continue
        spec = json.loads(facts.tasks[team_id])
        count, steps = int(spec["subtasks"]), int(spec["steps"])
        members = [a for a, parent in facts.parents.items() if parent == team_id]
        by_kind: dict[str, list[str]] = defaultdict(list)
        for member in members:
            by_kind[facts.kinds[member]].append(member)
            if facts.statuses[member] != "completed":
                v.add(f"{member}: a member of {team_id} ended {facts.statuses[member]}")
        expected_workers = sorted(f"{team_id}.t{n}-1" for n in range(1, count + 1))
        if sorted(by_kind["crew_worker"]) != expected_workers:
            v.add(f"{team_id}: workers {sorted(by_kind['crew_worker'])}, expected one per subtask")
        if len(by_kind["crew_critic"]) != count or len(by_kind["crew_planner"]) != 2:
            v.add(f"{team_id}: members {dict(by_kind)}: a review per subtask, a plan, a synthesis")
        for worker in by_kind["crew_worker"]:
            effect_steps = sorted(r["step"] for r in facts.effects(worker))
            if effect_steps != list(range(1, steps + 1)):
                v.add(f"{worker}: effects at steps {effect_steps}, expected 1..{steps}")
        result = facts.results.get(team_id) or ""
        missing = [n for n in range(1, count + 1) if f"t{n}=" not in result]
        if missing:
            v.add(f"{team_id}: the result lacks subtasks {missing}: {result!r}")


def check_final(facts: Facts, expected: dict[str, set[str]], v: Violations) -> None:
    """Every agent ended as its kind allows, with exactly the effects its steps imply."""
    check_teams(facts, v)
    for agent_id, status in facts.statuses.items():
        kind = facts.kinds[agent_id]
        if kind in TEAM_KINDS:
            continue
        allowed = expected.get(agent_id) or (
            {"completed", "in_doubt"} if kind == "unsafe" else {"completed"}
        )
        if status not in allowed:
            v.add(f"{agent_id} ({kind}) ended {status}, expected one of {sorted(allowed)}")
        total = int(facts.tasks[agent_id].split()[0])
        mine = facts.of(agent_id)
        accepted = facts.effects(agent_id)
        effect_steps = sorted(r["step"] for r in accepted)
        succeeded = {e["payload"]["key"] for e in mine if e["kind"] == "tool_call_succeeded"}
        if status == "completed":
            if facts.steps[agent_id] != total + 1:
                v.add(
                    f"{agent_id}: completed at checkpoint step {facts.steps[agent_id]}, "
                    f"expected {total + 1} ({total} tool steps and the answer)"
                )
            if effect_steps != list(range(1, total + 1)):
                v.add(
                    f"{agent_id}: completed with effects at steps {effect_steps}, "
                    f"expected 1..{total}"
                )
            if {r["key"] for r in accepted} != succeeded:
                v.add(f"{agent_id}: ledger keys differ from the journal's succeeded keys")
        elif status == "in_doubt":
            doubt = next(e for e in mine if e["kind"] == "tool_call_in_doubt")
            step, key = doubt["step"], doubt["payload"]["key"]
            intents = [
                e for e in mine if e["kind"] == "tool_call_started" and e["payload"]["key"] == key
            ]
            if not intents or intents[0]["id"] > doubt["id"] or key in succeeded:
                v.add(f"{agent_id}: in doubt about {key} without a started call lacking an outcome")
            if effect_steps not in (list(range(1, step)), list(range(1, step + 1))):
                v.add(f"{agent_id}: in doubt at step {step} with effects at steps {effect_steps}")
        elif status == "terminated":
            mine_resources = [r for r in facts.resources if r["agent_id"] == agent_id]
            live = [r for r in mine_resources if r["status"] != "compensated"]
            if live:
                v.add(f"{agent_id}: terminated with resources not compensated: {live}")
            undone = {
                r["key"] for r in facts.ledger if r["tool"] == "compensate" and not r.get("dedup")
            }
            missing = [r["resource_id"] for r in mine_resources if r["resource_id"] not in undone]
            if missing:
                v.add(f"{agent_id}: terminated but compensation never took effect for {missing}")
        # Surfaced: an unsafe call started without an outcome is the agent's in-doubt call.
        doubted = {e["payload"]["key"] for e in mine if e["kind"] == "tool_call_in_doubt"}
        for e in mine:
            if e["kind"] != "tool_call_started" or e["payload"]["tool"] != "unsafe_put":
                continue
            key = e["payload"]["key"]
            if key not in succeeded and (status != "in_doubt" or key not in doubted):
                v.add(
                    f"{agent_id}: unsafe call {key} started without an outcome and the agent "
                    f"is {status}: the doubt was not surfaced"
                )
        if kind == "unsafe":
            for record in accepted:
                if record["key"] not in succeeded | doubted:
                    v.add(f"unsafe effect {record} is neither succeeded nor in doubt")


def agent_mix(
    idem: int, recon: int, unsafe: int, steps: int, maker: int = 0
) -> list[tuple[str, str]]:
    """(agent, task) pairs, kinds interleaved; each task is the number of tool steps."""
    plan: list[tuple[str, str]] = []
    for i in range(max(idem, recon, unsafe, maker)):
        for name, count in (("idem", idem), ("recon", recon), ("unsafe", unsafe), ("maker", maker)):
            if i < count:
                plan.append((name, str(steps)))
    return plan
