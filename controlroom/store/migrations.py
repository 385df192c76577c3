"""Numbered, additive schema migrations.

`meta.application` marks a file as ours; `meta.schema_version` says which migrations have
run. A database from a newer version is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from controlroom.store import schema

APPLICATION = "controlroom"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_initial_schema(conn: Connection) -> None:
    schema.metadata.create_all(conn)
    conn.execute(
        text("INSERT INTO meta (key, value) VALUES ('application', :app)"), {"app": APPLICATION}
    )


def _add_novelty(conn: Connection) -> None:
    # A new file already has it (version 1 creates the current tables).
    schema.novelty.create(conn, checkfirst=True)


def _add_approvals(conn: Connection) -> None:
    # A new file already has all of it (version 1 creates the current tables).
    for table in (schema.approvals, schema.notifications, schema.webhook_requests):
        table.create(conn, checkfirst=True)
    columns = {row[1] for row in conn.execute(text("PRAGMA table_info(commands)"))}
    if "payload" not in columns:
        conn.execute(text("ALTER TABLE commands ADD COLUMN payload TEXT"))
    columns = {row[1] for row in conn.execute(text("PRAGMA table_info(lease)"))}
    if "wake_signal" not in columns:
        conn.execute(text("ALTER TABLE lease ADD COLUMN wake_signal INTEGER NOT NULL DEFAULT 0"))


def _add_resource_leases(conn: Connection) -> None:
    # A new file already has it (version 1 creates the current tables); an older one has
    # no leases to carry over: every resource starts free.
    schema.resource_leases.create(conn, checkfirst=True)  # with its index


def _add_member_taint(conn: Connection) -> None:
    # A new file already has it (version 1 creates the current tables).
    columns = {row[1] for row in conn.execute(text("PRAGMA table_info(agents)"))}
    if "tainted_by" not in columns:
        conn.execute(text("ALTER TABLE agents ADD COLUMN tainted_by TEXT"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema: journal, checkpoints, agents, resources, commands, lease",
        _create_initial_schema,
    ),
    Migration(2, "novelty: the tools and destinations each agent has used", _add_novelty),
    Migration(
        3,
        "approvals, the notification outbox, signed webhook requests; commands carry a"
        " payload; the lease names the owner's wake-up signal",
        _add_approvals,
    ),
    Migration(
        4,
        "resource leases: which agent holds each resource a tool names (resource=)",
        _add_resource_leases,
    ),
    Migration(
        5,
        "teams: a member started with another agent's untrusted output is tainted from the start",
        _add_member_taint,
    ),
)

CURRENT_VERSION = MIGRATIONS[-1].version


def migrate(conn: Connection, from_version: int) -> None:
    """Apply every migration newer than the database's version, recording each as it lands.

    The version is read again inside the (immediate) transaction: another process may have
    migrated the file since `from_version` was read.
    """
    if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'meta'")).first():
        recorded = conn.execute(
            text("SELECT value FROM meta WHERE key = 'schema_version'")
        ).scalar()
        from_version = max(from_version, int(recorded or 0))
    for migration in MIGRATIONS:
        if migration.version <= from_version:
            continue
        migration.apply(conn)
        conn.execute(
            text("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', :v)"),
            {"v": str(migration.version)},
        )
