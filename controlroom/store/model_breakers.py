"""Where each model endpoint's circuit breaker stands, read from the journal.

Breakers live in the supervisor's memory and start closed with it, so what stands is the
latest `model_breaker_changed` of each endpoint since the latest `supervisor_started`.
Both are supervisor events (agent '' at step 0): the index on (agent_id, step) holds them
in id order, so neither read scans the agents' journal.
"""

from __future__ import annotations

from sqlalchemy import text

from controlroom.domain.events import ModelBreakerChanged
from controlroom.store.database import Database

_LATEST_START = (
    "SELECT id FROM events WHERE agent_id = '' AND step = 0 AND kind = 'supervisor_started'"
    " ORDER BY id DESC LIMIT 1"
)
_CHANGES = (
    "SELECT data FROM events WHERE agent_id = '' AND step = 0 AND id > :since"
    " AND kind = 'model_breaker_changed' ORDER BY id"
)


async def model_breakers(db: Database) -> dict[str, ModelBreakerChanged]:
    """Each endpoint whose breaker moved under the current (or last) supervisor, and its
    latest move; an endpoint not listed is closed."""
    async with db.read_engine.connect() as conn:
        since = await conn.scalar(text(_LATEST_START))
        rows = (await conn.execute(text(_CHANGES), {"since": since or 0})).all()
    latest: dict[str, ModelBreakerChanged] = {}
    for (data,) in rows:
        change = ModelBreakerChanged.model_validate_json(data)
        latest[change.endpoint] = change
    return latest
