"""Opening a database: migrate what is ours, refuse everything else and leave it untouched.

DESIGN.md: "A corrupt or foreign file is refused, never overwritten." Each refusal must be
one line naming the path, and the file must be exactly as it was: same bytes, same inode
(not recreated), and no `-wal`/`-shm`/`-journal` file left beside it.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cr_support import (
    EXAMPLE_AGENTS,
    Cli,
    assert_clean_error,
    chain_break,
    query,
    sha256,
    sidecars,
)

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.clock import FakeClock
from controlroom.errors import DatabaseRefused
from controlroom.runtime.supervisor import Supervisor, SupervisorOptions
from controlroom.store import queries
from controlroom.store.database import open_database, schema_version
from controlroom.store.inbox import submit_agent
from controlroom.store.migrations import APPLICATION, CURRENT_VERSION


@tool(effect="idempotent_by_key")
async def note(ctx: ToolContext, text: str) -> str:
    return text * 4


def _filler_script(view: ScriptView) -> Turn:
    if view.step <= 12:
        return Turn.call("note", text=f"{view.task} line {view.step} " * 8)
    return Turn.final("filled")


FILLER = agent(name="filler", tools=[note], script=_filler_script)


async def _build_real_database(path: Path) -> None:
    """A Control Room database with a few agents' journals and checkpoints in it."""
    db = await open_database(path)
    try:
        clock = FakeClock()
        for i in range(6):
            await submit_agent(db, "filler", f"task {i}", "tester", None, clock.now_ms())
        supervisor = Supervisor(
            db,
            {"filler": FILLER},
            clock=clock,
            options=SupervisorOptions(poll_interval_s=0.01, exit_when_idle=True),
        )
        await supervisor.start()
        async with asyncio.timeout(30):
            await supervisor.wait()
        await supervisor.stop()
    finally:
        await db.close()


@pytest.fixture(scope="module")
def real_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, closed Control Room database (WAL folded back in: no side files)."""
    path = tmp_path_factory.mktemp("real") / "real.db"
    asyncio.run(_build_real_database(path))
    assert sidecars(path) == []
    assert path.stat().st_size > 16 * 4096
    return path


# -- the refused files ----------------------------------------------------------------------


def _text(path: Path, _real: Path) -> None:
    path.write_text("agents:\n  - mailer\n  - refunds\nthis is a notes file, not a database\n")


def _foreign(path: Path, _real: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL);"
        "INSERT INTO users (name) VALUES ('ada'), ('grace');"
    )
    conn.commit()
    conn.close()


def _foreign_with_meta(path: Path, _real: Path) -> None:
    """Another application that also has a key/value `meta` table."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO meta VALUES ('application', 'someone-else'), ('schema_version', '1');"
    )
    conn.commit()
    conn.close()


def _empty(path: Path, _real: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path, real: Path) -> None:
    data = real.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_header(path: Path, _real: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(8192))


def _newer_version(path: Path, real: Path) -> None:
    shutil.copyfile(real, path)
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(CURRENT_VERSION + 1),)
    )
    conn.commit()
    conn.close()
    assert sidecars(path) == []


def _directory(path: Path, _real: Path) -> None:
    path.mkdir()


def _corrupt_page(path: Path, real: Path) -> None:
    """A real database whose `agents` table page was overwritten (a bad sector, a bad copy)."""
    shutil.copyfile(real, path)
    [(root,)] = query(path, "SELECT rootpage FROM sqlite_master WHERE name = 'agents'")
    [(page_size,)] = query(path, "PRAGMA page_size")
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    data[start : start + page_size] = random.Random(3).randbytes(page_size)
    path.write_bytes(bytes(data))


BAD_FILES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "text": (_text, "not an SQLite database"),
    "foreign": (_foreign, "another application"),
    "foreign-meta": (_foreign_with_meta, "another application"),
    "zero-length": (_empty, "empty"),
    "truncated": (_truncated, ""),
    "random-header": (_random_header, "not an SQLite database"),
    "newer-version": (_newer_version, "newer than this Control Room supports"),
    "directory": (_directory, "directory"),
    "corrupt-page": (_corrupt_page, "damaged"),
}


def _state(path: Path) -> tuple[object, ...]:
    if path.is_dir():
        return ("dir", path.stat().st_ino, sorted(p.name for p in path.iterdir()))
    return ("file", path.stat().st_ino, sha256(path))


def _make(kind: str, directory: Path, real: Path) -> Path:
    build, _ = BAD_FILES[kind]
    path = directory / f"{kind}.db"
    build(path, real)
    return path


@pytest.mark.parametrize("kind", list(BAD_FILES))
async def test_open_database_refuses_and_leaves_file_untouched(
    kind: str, tmp_path: Path, real_database: Path
) -> None:
    path = _make(kind, tmp_path, real_database)
    before = _state(path)
    with pytest.raises(DatabaseRefused) as caught:
        db = await open_database(path)
        await db.close()
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    assert BAD_FILES[kind][1] in message
    assert _state(path) == before, "the refused file was changed or recreated"
    assert sidecars(path) == [], f"side files left beside the refused file: {sidecars(path)}"


@pytest.mark.parametrize("kind", ["truncated", "newer-version", "foreign"])
async def test_refusal_is_stable(kind: str, tmp_path: Path, real_database: Path) -> None:
    """Refusing twice gives the same answer (the first attempt did not 'repair' anything)."""
    path = _make(kind, tmp_path, real_database)
    messages = []
    for _ in range(2):
        with pytest.raises(DatabaseRefused) as caught:
            await open_database(path)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_cli_status_and_run_refuse_bad_files(cli: Cli, tmp_path: Path, real_database: Path) -> None:
    """`status` and `run` print one `error:` line naming the path and change nothing."""
    kinds = [kind for kind in BAD_FILES if kind != "corrupt-page"]  # see the next test
    files = {kind: _make(kind, tmp_path, real_database) for kind in kinds}
    before = {kind: _state(path) for kind, path in files.items()}
    # `status` on every kind; `run` (which also checks integrity) on a representative few,
    # since every subprocess costs about half a second.
    commands: list[list[str | Path]] = [["status", "--db", path] for path in files.values()]
    (tmp_path / "none").mkdir()  # `run` needs an agents directory; an empty one will do
    for kind in ("text", "truncated", "newer-version", "directory"):
        commands.append(
            ["run", "--db", files[kind], "--exit-when-idle", "--agents", tmp_path / "none"]
        )
    results = cli.many(commands)
    failures = []
    for result in results:
        path = Path(result.args[2])
        kind = path.stem
        try:
            assert_clean_error(result, str(path))
            assert _state(path) == before[kind], "the refused file was changed or recreated"
            assert sidecars(path) == [], f"side files left: {sidecars(path)}"
        except AssertionError as exc:
            failures.append(f"{result.args[0]} {kind}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_cli_commands_refuse_a_database_with_a_corrupt_page(
    cli: Cli, tmp_path: Path, real_database: Path
) -> None:
    """`status`, `submit` and operator commands open without the (slow) integrity check;
    a damaged page they then read must still be one `error:` line, not a traceback."""
    path = _make("corrupt-page", tmp_path, real_database)
    before = _state(path)
    results = cli.many(
        [
            ["status", "--db", path],
            ["submit", "--db", path, "--agents", EXAMPLE_AGENTS, "mailer", "mail a@example.com"],
            ["pause", "--db", path, "filler-1"],
        ]
    )
    failures = []
    for result in results:
        try:
            assert_clean_error(result, str(path))
        except AssertionError as exc:
            failures.append(f"{result.args[0]}: {exc}")
        assert _state(path) == before, "the damaged file was changed"
    assert sidecars(path) == []
    assert not failures, "\n\n".join(failures)


async def test_status_of_a_missing_database_does_not_create_it(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(DatabaseRefused, match="no such database"):
        await open_database(path, create=False)
    result = cli("status", "--db", path)
    assert_clean_error(result, str(path), "no such database")
    assert not path.exists()
    assert sidecars(path) == []


async def test_missing_parent_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "x.db"
    with pytest.raises(DatabaseRefused, match="does not exist"):
        await open_database(path)
    assert not (tmp_path / "no").exists()


# -- creating a database ---------------------------------------------------------------------


async def test_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    """Several openers of a path that does not exist yet (a supervisor and a `submit`
    started together) all get the one database; none is refused half-way.

    Between processes the same race shows as "an empty SQLite database" refusals
    (`for i in 1 2 3; do controlroom submit --db new.db mailer x & done`); that variant
    depends on process start-up timing, so it is reproduced here in one process, where
    every opener checks for the file before any has created it."""
    path = tmp_path / "shared.db"
    results = await asyncio.gather(*(open_database(path) for _ in range(3)), return_exceptions=True)
    opened = [r for r in results if not isinstance(r, BaseException)]
    for database in opened:
        await database.close()
    refused = [str(r) for r in results if isinstance(r, BaseException)]
    assert not refused, f"concurrent first opens were refused: {refused}"
    assert dict(query(path, "SELECT key, value FROM meta")) == {
        "application": APPLICATION,
        "schema_version": str(CURRENT_VERSION),
    }


# -- migration --------------------------------------------------------------------------------


async def test_new_file_is_migrated_to_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    assert not path.exists()
    db = await open_database(path)
    try:
        assert CURRENT_VERSION == 5
        assert await schema_version(db) == 5
    finally:
        await db.close()
    meta = dict(query(path, "SELECT key, value FROM meta"))
    assert meta == {"application": APPLICATION, "schema_version": "5"}
    tables = {row[0] for row in query(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    expected = {"meta", "events", "checkpoints", "agents", "resources", "commands", "lease"}
    assert expected | {"novelty", "approvals", "notifications", "webhook_requests"} <= tables
    assert "resource_leases" in tables
    assert query(path, "PRAGMA journal_mode") == [("wal",)]


async def test_reopening_keeps_the_database(tmp_path: Path, real_database: Path) -> None:
    """A valid database opens without migration and keeps its contents."""
    path = tmp_path / "copy.db"
    shutil.copyfile(real_database, path)
    events_before = query(path, "SELECT COUNT(*), MAX(id) FROM events")
    db = await open_database(path)
    try:
        assert await schema_version(db) == CURRENT_VERSION
    finally:
        await db.close()
    assert query(path, "SELECT COUNT(*), MAX(id) FROM events") == events_before
    assert query(path, "SELECT value FROM meta WHERE key='schema_version'") == [
        (str(CURRENT_VERSION),)
    ]


def _as_version_4_left_it(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE agents DROP COLUMN tainted_by")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")


def _as_version_3_left_it(path: Path) -> None:
    _as_version_4_left_it(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE resource_leases")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def _as_version_2_left_it(path: Path) -> None:
    _as_version_3_left_it(path)
    with sqlite3.connect(path) as conn:
        for table in ("approvals", "notifications", "webhook_requests"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("ALTER TABLE commands DROP COLUMN payload")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


async def test_a_version_1_database_is_migrated_to_the_current_version_keeping_its_journal(
    tmp_path: Path, real_database: Path
) -> None:
    path = tmp_path / "v1.db"
    shutil.copyfile(real_database, path)
    _as_version_2_left_it(path)
    with sqlite3.connect(path) as conn:  # as the first release left it
        conn.execute("DROP TABLE novelty")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    events_before = query(path, "SELECT COUNT(*), MAX(id) FROM events")
    db = await open_database(path)
    try:
        assert await schema_version(db) == CURRENT_VERSION
    finally:
        await db.close()
    assert query(path, "SELECT COUNT(*), MAX(id) FROM events") == events_before
    assert query(path, "SELECT COUNT(*) FROM novelty") == [(0,)]
    assert chain_break(path) is None


async def test_a_version_2_database_gains_approvals_and_command_payloads(
    tmp_path: Path, real_database: Path
) -> None:
    path = tmp_path / "v2.db"
    shutil.copyfile(real_database, path)
    _as_version_2_left_it(path)
    with sqlite3.connect(path) as conn:  # a command queued before the upgrade
        conn.execute(
            "INSERT INTO commands (ts_ms, command, target, operator, status)"
            " VALUES (1, 'pause', 'x-1', 'ann', 'pending')"
        )
    db = await open_database(path)
    try:
        assert await schema_version(db) == CURRENT_VERSION
    finally:
        await db.close()
    assert query(path, "SELECT command, payload FROM commands WHERE target = 'x-1'") == [
        ("pause", None)
    ]
    assert query(path, "SELECT COUNT(*) FROM approvals") == [(0,)]
    assert query(path, "SELECT COUNT(*) FROM notifications") == [(0,)]


async def test_a_version_3_database_gains_resource_leases_all_free(
    tmp_path: Path, real_database: Path
) -> None:
    path = tmp_path / "v3.db"
    shutil.copyfile(real_database, path)
    _as_version_3_left_it(path)
    events_before = query(path, "SELECT COUNT(*), MAX(id) FROM events")
    db = await open_database(path)
    try:
        assert await schema_version(db) == CURRENT_VERSION
    finally:
        await db.close()
    assert query(path, "SELECT COUNT(*), MAX(id) FROM events") == events_before
    assert query(path, "SELECT COUNT(*) FROM resource_leases") == [(0,)]
    indexes = query(path, "SELECT name FROM sqlite_master WHERE tbl_name = 'resource_leases'")
    assert ("ix_resource_leases_agent",) in indexes
    assert chain_break(path) is None


async def test_a_version_4_database_gains_member_taint_keeping_its_agents(
    tmp_path: Path, real_database: Path
) -> None:
    path = tmp_path / "v4.db"
    shutil.copyfile(real_database, path)
    _as_version_4_left_it(path)
    agents_before = query(path, "SELECT id, status FROM agents ORDER BY seq")
    db = await open_database(path)
    try:
        assert await schema_version(db) == CURRENT_VERSION
        records = await queries.list_agents(db)
    finally:
        await db.close()
    assert [(r.id, r.status.value) for r in records] == agents_before
    assert all(r.tainted_by is None for r in records)
    assert chain_break(path) is None


async def test_open_configures_durability(tmp_path: Path) -> None:
    """WAL, synchronous=FULL by default and a busy timeout on every connection."""
    from sqlalchemy import text

    db = await open_database(tmp_path / "p.db")
    try:
        async with db.read_engine.connect() as conn:
            assert (await conn.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await conn.scalar(text("PRAGMA synchronous"))) == 2  # FULL
            assert (await conn.scalar(text("PRAGMA busy_timeout"))) > 0
    finally:
        await db.close()
