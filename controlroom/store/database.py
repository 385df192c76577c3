"""Opening a database: refuse what is not ours, migrate what is, configure SQLite for
durability.

A file that is not a Control Room database (text, random bytes, another application's
SQLite, empty, truncated, corrupt) is refused and left byte-for-byte as it was: validation
happens on a read-only connection before anything may write. Two engines are kept: a write
engine whose transactions start with `BEGIN IMMEDIATE` (so a writer takes the lock up front
instead of failing half-way on a busy database) and a read engine with deferred transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from controlroom.errors import DatabaseRefused
from controlroom.store.loop_reads import LoopReads, Params, Read, T
from controlroom.store.migrations import APPLICATION, CURRENT_VERSION, migrate

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000
Synchronous = Literal["FULL", "NORMAL"]


@dataclass
class Database:
    """An open, validated Control Room database."""

    path: Path
    write_engine: AsyncEngine
    read_engine: AsyncEngine
    synchronous: Synchronous
    # Small reads on the loop's thread (store/loop_reads.py); the read engine is for large ones.
    quick: LoopReads

    async def read(self, read: Read[T]) -> T:
        """`read(connection)` as one read transaction, on the loop's thread if it can be."""
        return await self.quick.run(read)

    async def rows(self, sql: str, params: Params = ()) -> list[Any]:
        """Every row of a small read (`:name` or `?` parameters, as sqlite3 takes them)."""
        return await self.quick.run(lambda conn: conn.execute(sql, params).fetchall())

    async def first(self, sql: str, params: Params = ()) -> Any:
        """The first row of a small read, or None."""
        return await self.quick.run(lambda conn: conn.execute(sql, params).fetchone())

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row of a small read, or None."""
        row = await self.first(sql, params)
        return None if row is None else row[0]

    async def close(self) -> None:
        """Close the loop's reads and dispose both engines (closing their connections)."""
        self.quick.close()
        await self.write_engine.dispose()
        await self.read_engine.dispose()


async def open_database(
    path: Path | str,
    *,
    create: bool = True,
    synchronous: Synchronous = "FULL",
    integrity_check: bool = True,
) -> Database:
    """Open `path`, creating it if absent (and `create`), refusing anything not ours.

    Raises `DatabaseRefused` with a one-line reason naming the file.
    """
    db_path = Path(path)
    if not await asyncio.to_thread(db_path.exists):
        if not create:
            raise DatabaseRefused(f"{db_path}: no such database")
        if not await asyncio.to_thread(db_path.parent.is_dir):
            raise DatabaseRefused(f"{db_path}: directory {db_path.parent} does not exist")
        await _create(db_path, synchronous)
    version = await asyncio.to_thread(_inspect_existing, db_path, integrity_check)
    write_engine = _engine(db_path, synchronous, immediate=True)
    read_engine = _engine(db_path, synchronous, immediate=False)
    try:
        if version < CURRENT_VERSION:
            async with write_engine.begin() as conn:
                await conn.run_sync(migrate, version)
    except DBAPIError as exc:
        await write_engine.dispose()
        await read_engine.dispose()
        raise DatabaseRefused(f"{db_path}: cannot migrate: {exc.orig}") from exc
    return Database(
        db_path, write_engine, read_engine, synchronous, LoopReads(db_path, BUSY_TIMEOUT_MS)
    )


async def _create(path: Path, synchronous: Synchronous) -> None:
    """Create a new database atomically: build it under a temporary name, then link it in.

    Two processes creating the same path at once must not see each other's half-made file:
    the loser of the link finds the winner's complete database and opens that instead.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.creating")
    engine = _engine(temporary, synchronous, immediate=True)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate, 0)
        await engine.dispose()  # the last connection checkpoints the WAL into the file
        # If another opener linked first, its database is the one to use.
        with contextlib.suppress(FileExistsError):
            await asyncio.to_thread(os.link, temporary, path)
    except DBAPIError as exc:
        raise DatabaseRefused(f"{path}: cannot create: {exc.orig}") from exc
    finally:
        await engine.dispose()
        await asyncio.to_thread(_remove_with_sidecars, temporary)


def _remove_with_sidecars(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _inspect_existing(path: Path, integrity_check: bool) -> int:
    """Validate an existing file without writing to it; return its schema version."""
    if path.is_dir():
        raise DatabaseRefused(f"{path}: is a directory, not a database file")
    with path.open("rb") as handle:
        header = handle.read(100)
    if not header:
        raise DatabaseRefused(f"{path}: file is empty (0 bytes), not a Control Room database")
    if not header.startswith(SQLITE_MAGIC):
        raise DatabaseRefused(f"{path}: not an SQLite database (unrecognised file header)")
    # Without a WAL beside it, open the file as immutable: SQLite then takes no locks and
    # creates no -wal/-shm side files, so a file we refuse is left exactly as it was. With
    # one (a Control Room database after a crash), its frames must be read too.
    has_wal = Path(f"{path}-wal").exists()
    options = "mode=ro" if has_wal else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseRefused(f"{path}: cannot open read-only: {exc}") from exc
    try:
        return _check_contents(conn, path, integrity_check)
    except sqlite3.DatabaseError as exc:
        raise DatabaseRefused(f"{path}: damaged or not a database: {exc}") from exc
    finally:
        conn.close()


def _check_contents(conn: sqlite3.Connection, path: Path, integrity_check: bool) -> int:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        what = (
            "an empty SQLite database"
            if not tables
            else "an SQLite database of another application"
        )
        raise DatabaseRefused(f"{path}: {what}, not a Control Room database")
    values = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if values.get("application") != APPLICATION:
        raise DatabaseRefused(
            f"{path}: an SQLite database of another application (meta.application)"
        )
    try:
        version = int(values.get("schema_version", ""))
    except ValueError:
        raise DatabaseRefused(f"{path}: meta.schema_version is missing or not a number") from None
    if version > CURRENT_VERSION:
        raise DatabaseRefused(
            f"{path}: schema version {version} is newer than this Control Room supports "
            f"({CURRENT_VERSION}); upgrade controlroom"
        )
    if integrity_check:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise DatabaseRefused(f"{path}: integrity check failed: {problems[0]}")
    return version


def _engine(path: Path, synchronous: Synchronous, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")

    @event.listens_for(engine.sync_engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so the driver must not open transactions implicitly.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer and a commit is one sequential append + fsync.
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, not only a process crash (durability first).
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # Another process (a CLI command, a second UI) may hold the write lock briefly.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN, so a busy database waits (busy_timeout)
        # instead of failing with SQLITE_BUSY in the middle of a transaction.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


async def schema_version(db: Database) -> int:
    """The schema version recorded in the database."""
    async with db.read_engine.connect() as conn:
        value = await conn.scalar(text("SELECT value FROM meta WHERE key='schema_version'"))
    return int(value or 0)
