"""Plain helpers for the tests in this directory; the fixtures that use them are in conftest.py.

They live in a module of their own because tests/crash/ has a conftest.py too, so
`from conftest import ...` would depend on which of the two was imported last.

Everything here works on real things: SQLite files read with the standard `sqlite3` module
(always closed again), the real `controlroom` command in subprocesses, and the real
Supervisor and JournalWriter on a database in the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlroom.clock import FakeClock
from controlroom.domain.approvals import Approval, ApprovalStatus
from controlroom.domain.events import JournalEntry
from controlroom.domain.models import AgentRecord, AgentStatus
from controlroom.domain.specs import AgentSpec
from controlroom.governance.policy_loader import PolicySet
from controlroom.ids import CountingTokens
from controlroom.notify.deliver import Notifier
from controlroom.orchestration.team_runner import TeamRunner
from controlroom.providers.base import Model
from controlroom.providers.registry import EndpointSettings
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions, default_model_for
from controlroom.store import approvals as approval_rows
from controlroom.store import queries
from controlroom.store.chain import GENESIS, row_hash
from controlroom.store.database import Database
from controlroom.store.inbox import enqueue_command, submit_agent

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_AGENTS = REPO / "agents"
PYTHON = sys.executable
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


# -- files ------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    """The digest of a file's bytes (what "left byte-for-byte unchanged" compares)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecars(path: Path) -> list[str]:
    """The SQLite side files (-wal, -shm, -journal) that exist beside `path`."""
    return [path.name + s for s in SIDECAR_SUFFIXES if Path(f"{path}{s}").exists()]


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file under `directory` (relative name -> sha256): detects any change at all."""
    return {
        str(p.relative_to(directory)): sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def connect(path: Path) -> sqlite3.Connection:
    """A plain read/write connection for inspecting or tampering with a database."""
    return sqlite3.connect(str(path), timeout=10, isolation_level=None)


def query(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    conn = connect(path)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def chain_break(path: Path) -> str | None:
    """Verify the journal's hash chain from GENESIS; None if it holds, else what broke."""
    rows = query(
        path, "SELECT id, ts_ms, agent_id, identity, kind, step, data, hash FROM events ORDER BY id"
    )
    prev = GENESIS
    expected_id = 1
    for event_id, ts_ms, agent_id, identity, kind, step, data, stored in rows:
        if event_id != expected_id:
            return f"event ids jump from {expected_id - 1} to {event_id}"
        digest = row_hash(prev, event_id, ts_ms, agent_id, identity, kind, step, data)
        if digest != bytes(stored):
            return f"event {event_id}: hash does not match its contents"
        prev = digest
        expected_id += 1
    return None


# -- the command line in subprocesses ---------------------------------------------------------


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, Any]]:
        """stdout parsed as one JSON object per line (raises if any line is not one)."""
        records = []
        for line in self.stdout.splitlines():
            value = json.loads(line)
            assert isinstance(value, dict), f"not a JSON object: {line!r}"
            records.append(value)
        return records

    def describe(self) -> str:
        return (
            f"controlroom {' '.join(self.args)} -> rc={self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


class Background:
    """A `controlroom` process left running; its output goes to files read as it grows."""

    def __init__(self, proc: subprocess.Popen[bytes], out: Path, err: Path, args: list[str]):
        self.proc = proc
        self.out = out
        self.err = err
        self.args = args

    @property
    def pid(self) -> int:
        return self.proc.pid

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines printed so far (only complete lines)."""
        raw = self.out.read_bytes()
        raw = raw[: raw.rfind(b"\n") + 1]
        return [json.loads(line) for line in raw.splitlines() if line.strip()]

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        """The first printed line satisfying `predicate`, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines():
                if predicate(line):
                    return line
            if self.proc.poll() is not None:
                # One last read: the line may have been printed just before exiting.
                for line in self.lines():
                    if predicate(line):
                        return line
                raise AssertionError(
                    f"controlroom {' '.join(self.args)} exited ({self.proc.returncode}) "
                    f"before printing the expected line\n{self.stderr()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no expected line within {timeout}s from controlroom {' '.join(self.args)}"
                    f"\n{self.stderr()}"
                )
            time.sleep(0.02)

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Cli:
    """Runs the real `controlroom` command (`python -m controlroom`) in subprocesses."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self._background: list[Background] = []
        self._counter = 0

    def _command(self, args: Sequence[str]) -> list[str]:
        return [PYTHON, "-m", "controlroom", *map(str, args)]

    def __call__(self, *args: str | Path, timeout: float = 60.0) -> CliResult:
        argv = [str(a) for a in args]
        proc = subprocess.run(
            self._command(argv),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CliResult(argv, proc.returncode, proc.stdout, proc.stderr)

    def many(
        self, commands: Iterable[Sequence[str | Path]], timeout: float = 60.0
    ) -> list[CliResult]:
        """Run independent commands in parallel (each process takes ~0.5 s to start)."""
        started = []
        for args in commands:
            argv = [str(a) for a in args]
            proc = subprocess.Popen(
                self._command(argv),
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            started.append((argv, proc))
        results = []
        for argv, proc in started:
            out, err = proc.communicate(timeout=timeout)
            results.append(CliResult(argv, proc.returncode, out, err))
        return results

    def start(self, *args: str | Path) -> Background:
        """Start a command and return at once (e.g. `run` without --exit-when-idle)."""
        argv = [str(a) for a in args]
        self._counter += 1
        out = self.cwd / f"bg-{self._counter}.out"
        err = self.cwd / f"bg-{self._counter}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                self._command(argv), cwd=self.cwd, env=self.env, stdout=stdout, stderr=stderr
            )
        background = Background(proc, out, err, argv)
        self._background.append(background)
        return background

    def cleanup(self) -> None:
        for background in self._background:
            background.kill()


def assert_clean_error(result: CliResult, *needles: str) -> str:
    """A refusal as the CLI promises it: non-zero exit, exactly one line on stderr,
    `error: ...`, no traceback, naming every `needle`. Returns the line."""
    assert result.returncode != 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr\n{result.describe()}"
    line = lines[0]
    assert line.startswith("error: "), f"expected 'error: ...'\n{result.describe()}"
    for needle in needles:
        assert needle in line, f"{needle!r} not named in {line!r}"
    return line


# -- the runtime in this process --------------------------------------------------------------


def no_backoff(_attempt: int) -> float:
    return 0.0


class Harness:
    """The real Supervisor on a real database file, with a fake clock and counting tokens."""

    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db = db
        self.clock = clock
        self.tokens = CountingTokens("owner")

    async def submit(self, name: str, task: str, user: str = "tester") -> str:
        record = await submit_agent(self.db, name, task, user, None, self.clock.now_ms())
        return record.id

    def supervisor(
        self,
        agents: Iterable[AgentSpec],
        policies: PolicySet | None = None,
        policies_dir: Path | None = None,
        model_for: Callable[[AgentSpec], Model] | None = default_model_for,
        notifier: Notifier | None = None,
        endpoints: Mapping[str, EndpointSettings] | None = None,
        **options: Any,
    ) -> Supervisor:
        """The real supervisor on this database. Models are scripted only unless
        `model_for` is None (then its own providers, on `endpoints`, serve them)."""
        settings: dict[str, Any] = {"poll_interval_s": 0.01, "backoff": no_backoff}
        settings.update(options)
        return Supervisor(
            self.db,
            {spec.name: spec for spec in agents},
            clock=self.clock,
            tokens=self.tokens,
            options=SupervisorOptions(**settings),
            policies=policies,
            policies_dir=policies_dir,
            model_for=model_for,
            notifier=notifier,
            endpoints=endpoints,
            coordinate=TeamRunner,
        )

    async def run_until_idle(
        self,
        agents: Iterable[AgentSpec],
        within_s: float = 20.0,
        policies: PolicySet | None = None,
        **options: Any,
    ) -> None:
        """Start a supervisor, let it run every queued agent to rest, stop it cleanly."""
        supervisor = self.supervisor(agents, policies, exit_when_idle=True, **options)
        await supervisor.start()
        try:
            async with asyncio.timeout(within_s):
                await supervisor.wait()
        finally:
            await supervisor.stop()
        assert supervisor.fatal_error is None, supervisor.fatal_error

    async def entries(
        self, agent_id: str | None = None, kind: str | None = None
    ) -> list[JournalEntry]:
        everything = await queries.journal_entries(self.db, limit=1_000_000)
        return [
            e
            for e in everything
            if (agent_id is None or e.agent_id == agent_id)
            and (kind is None or e.event.kind == kind)
        ]

    async def decide(
        self, approval_id: int, verdict: str, operator: str = "tester", **fields: Any
    ) -> int:
        """Queue a decision as `controlroom approve/deny/...` does; returns the command id."""
        payload = {"verdict": verdict, **fields}
        return await enqueue_command(
            self.db, "decide", str(approval_id), operator, self.clock.now_ms(), payload
        )

    async def approvals(
        self, agent_id: str | None = None, statuses: Sequence[ApprovalStatus] = ()
    ) -> list[Approval]:
        return await approval_rows.listed(self.db, statuses, agent_id)

    async def waiting(self, agent_id: str | None = None) -> list[Approval]:
        """Approvals still open, in request order."""
        return await self.approvals(agent_id, [ApprovalStatus.PENDING])

    async def records(self) -> list[AgentRecord]:
        """Every agent, in submission order."""
        return await queries.list_agents(self.db)

    async def record(self, agent_id: str) -> AgentRecord:
        record = await queries.get_agent(self.db, agent_id)
        assert record is not None, f"no agent {agent_id}"
        return record

    async def wait_applied(self, command_id: int, within_s: float = 10.0) -> str | None:
        """Until the supervisor has applied (or refused) a queued command; its outcome."""
        async with asyncio.timeout(within_s):
            while True:
                state, outcome = await queries.command_outcome(self.db, command_id)
                if state in ("applied", "refused"):
                    return outcome
                await asyncio.sleep(0.01)

    async def wait_status(
        self, agent_id: str, statuses: Iterable[AgentStatus], within_s: float = 10.0
    ) -> AgentRecord:
        wanted = set(statuses)
        async with asyncio.timeout(within_s):
            while True:
                record = await self.record(agent_id)
                if record.status in wanted:
                    return record
                await asyncio.sleep(0.01)


def env_without_controlroom(extra: dict[str, str]) -> dict[str, str]:
    """The current environment minus settings that would point a subprocess elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CONTROLROOM_DB", "CONTROLROOM_CRASH_AT", "CONTROLROOM_HOME")
    }
    env.update(extra)
    return env
