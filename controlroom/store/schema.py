"""The tables. Every fact is an append-only row in `events`; the rest are projections the
runtime keeps in the same transactions (checkpoints, resources) or inboxes other processes
write (agents queued by `submit`, operator `commands`).
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("agent", Text, nullable=False),
    Column("task", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("budget_usd", Float, nullable=True),
    Column("status", Text, nullable=False),
    Column("parent_id", Text, nullable=True),
    Column("submitted_ms", Integer, nullable=False),
    Column("updated_ms", Integer, nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    # Where untrusted content reached a team member before it started (in its brief).
    Column("tainted_by", Text, nullable=True),
)
Index("ix_agents_status", agents.c.status)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("ts_ms", Integer, nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("identity", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)
# Recovery reads the events of an agent's unfinished step: (agent_id, step) finds them.
Index("ix_events_agent_step", events.c.agent_id, events.c.step)

# One row per durable step: the messages that step added and the small agent state after it.
# Keyed by the id of the last event committed with it (unique across the journal), so rows
# sort in journal order. A rowid table: rows of a kilobyte or more would overflow a
# WITHOUT ROWID b-tree and waste most of each page.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("messages", Text, nullable=False),
    Column("state", Text, nullable=False),
)
Index("ix_checkpoints_agent", checkpoints.c.agent_id, checkpoints.c.event_id)

resources = Table(
    "resources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", Text, nullable=False),
    Column("tool", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_ms", Integer, nullable=False),
    Column("updated_ms", Integer, nullable=False),
)
# A resource is identified by the call that created it (its key): one row however often
# that call is resent, so a rollback compensates it once.
Index(
    "ux_resources_origin",
    resources.c.agent_id,
    resources.c.key,
    resources.c.kind,
    resources.c.resource_id,
    unique=True,
)

commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_ms", Integer, nullable=False),
    Column("command", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("operator", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("applied_ms", Integer, nullable=True),
    Column("outcome", Text, nullable=True),
    # What the command carries beyond its target (a decision's verdict, note, edits), JSON.
    Column("payload", Text, nullable=True),
)
Index("ix_commands_status", commands.c.status)

# Requests for a human decision. The record is the truth (notifications are views of it);
# `data` holds the whole `Approval` as JSON, the other columns are what is searched on.
approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("expires_ms", Integer, nullable=True),
    Column("data", Text, nullable=False),
)
Index("ix_approvals_status_expiry", approvals.c.status, approvals.c.expires_ms)
Index("ix_approvals_agent", approvals.c.agent_id, approvals.c.status)

# The notification outbox: written in the transaction that creates what it tells of, then
# delivered (with retries) by the supervisor; a row left pending by a crash is sent at the
# next start. `route` and `notification` are JSON, fixed when the row was written.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_ms", Integer, nullable=False),
    Column("route", Text, nullable=False),
    Column("notification", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated_ms", Integer, nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
Index("ix_notifications_status", notifications.c.status)

# Signed webhook requests already accepted or refused, so a replay is refused even by a
# restarted server (rows older than the signature window can be dropped).
webhook_requests = Table(
    "webhook_requests",
    metadata,
    Column("signature", Text, primary_key=True),
    Column("ts_ms", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# What each agent definition has used (tools, destination domains), so a first use can be
# told apart from routine: one row per agent name and thing, kept for the database's life.
novelty = Table(
    "novelty",
    metadata,
    Column("agent", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    Column("first_agent_id", Text, nullable=False),
    Column("first_seen_ms", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Which agent holds the lease on each resource a tool names (`resource=`), so two agents
# never interleave on it: taken in the commit of a call's intent, deleted in the commit that
# ends the holder. A row whose holder has ended is free (see runtime/leases.py).
resource_leases = Table(
    "resource_leases",
    metadata,
    Column("resource", Text, primary_key=True),
    Column("agent_id", Text, nullable=False),
    Column("since_ms", Integer, nullable=False),
)
Index("ix_resource_leases_agent", resource_leases.c.agent_id)

lease = Table(
    "lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("started_ms", Integer, nullable=False),
    Column("heartbeat_ms", Integer, nullable=False),
    # The signal that wakes the owner to read its inbox at once (0: it only polls).
    Column("wake_signal", Integer, nullable=False, server_default="0"),
    CheckConstraint("id = 1", name="single_lease"),
)
