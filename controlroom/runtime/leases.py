"""The lease book: which agent holds which resource, and which agents wait for one.

Two agents that would modify the same resource (an order, named by the argument a tool
declares with `resource=`) must not interleave. The first agent whose call names a resource
takes its lease and keeps it until it ends for good (completed, failed, terminated), so a
read-modify-write spread over several steps is never cut into; another agent's call on it
waits for that end, at most its tool's `resource_timeout` (or the supervisor's default),
and then fails with a conflict its model is told of. The bound also breaks a deadlock (A
holds X and waits for Y while B holds Y and waits for X): one of the calls gives up.

Deciding and waiting happen here, in memory: one supervisor owns a database, so the book in
its process is the only one that decides. A waiter is a future in a first-come queue per
resource, and a release hands the resource to the first live waiter: nothing polls, and no
crowd wakes up to find it taken again. The table `resource_leases` is the durable record
(store/resource_leases.py), written by the runner in the commit of the call's intent and
the commit that ends the holder; a supervisor loads it at start, so an agent recovered
after a crash keeps what it held.

A holder can end without the book being told (an operator completes an escalated task,
another process marks it): a lease whose holder has ended is free, so a contended call asks
the database about the holder, and a waiter asks again every `recheck_s` (one indexed read)
rather than wait for a release that may never be announced.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import NamedTuple

from controlroom.store import resource_leases
from controlroom.store.database import Database

DEFAULT_WAIT_S = 60.0
DEFAULT_RECHECK_S = 1.0

_Waiter = tuple[str, "asyncio.Future[None]"]


class Take(NamedTuple):
    """What `LeaseBook.take` found: `taken` if the caller took the lease just now (its row
    must be written); otherwise `holder` is the other agent it must wait for, or None if the
    caller already held it."""

    taken: bool
    holder: str | None


class LeaseBook:
    """See the module docstring. `db` None: in memory only (no holder is ever found ended
    unless it is released here)."""

    def __init__(
        self,
        db: Database | None = None,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        recheck_s: float = DEFAULT_RECHECK_S,
    ) -> None:
        if wait_s <= 0 or recheck_s <= 0:
            raise ValueError("a lease's wait and recheck intervals must be positive")
        self._db = db
        self.wait_s = wait_s
        self._recheck_s = recheck_s
        self._holders: dict[str, str] = {}  # resource -> agent
        self._held: dict[str, set[str]] = {}  # agent -> resources
        self._waiters: dict[str, deque[_Waiter]] = {}  # resource -> agents waiting, in order

    async def load(self) -> None:
        """Take back the leases the database records for live agents (at start)."""
        if self._db is None:
            return
        for resource, agent_id in (await resource_leases.held(self._db)).items():
            self._grant(resource, agent_id)

    def holder(self, resource: str) -> str | None:
        """The agent holding `resource`, if any."""
        return self._holders.get(resource)

    def held_by(self, agent_id: str) -> frozenset[str]:
        """The resources `agent_id` holds."""
        return frozenset(self._held.get(agent_id, ()))

    async def take(self, resource: str, agent_id: str) -> Take:
        """Take `resource` for `agent_id` if it is free, or held by an agent that has ended."""
        while True:
            holder = self._holders.get(resource)
            if holder is None:
                self._grant(resource, agent_id)
                return Take(True, None)
            if holder == agent_id:
                return Take(False, None)
            ended = await self._ended(holder)
            if self._holders.get(resource) != holder:
                continue  # it changed hands while the database was asked
            if not ended:
                return Take(False, holder)
            self.release(holder)

    async def wait(self, resource: str, agent_id: str, timeout_s: float) -> str | None:
        """Wait until `agent_id` holds `resource` (after `take` found another holder).

        Returns None once it does, or the agent still holding it when `timeout_s` passed.
        Cancelled (a pause, a stop), it leaves the queue, and hands the resource on if it had
        just been given it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        granted: asyncio.Future[None] = loop.create_future()
        waiter: _Waiter = (agent_id, granted)
        self._waiters.setdefault(resource, deque()).append(waiter)
        try:
            while not granted.done():
                holder = self._holders.get(resource)
                if holder is None:
                    # Released while nobody waited (between `take` and this call): the
                    # first in line, this caller if no one else, gets it now.
                    self._hand_on(resource)
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await asyncio.wait((granted,), timeout=min(remaining, self._recheck_s))
                if granted.done() or self._holders.get(resource) != holder:
                    continue
                if await self._ended(holder) and self._holders.get(resource) == holder:
                    self.release(holder)  # hands it on: to this waiter, if it is first
        except BaseException:
            self._leave(resource, waiter)
            raise
        if granted.done():
            return None
        self._leave(resource, waiter)
        return self._holders.get(resource, "")

    def release(self, agent_id: str) -> None:
        """`agent_id` has ended for good: hand each resource it held to its first waiter."""
        for resource in self._held.pop(agent_id, set()):
            del self._holders[resource]
            self._hand_on(resource)

    def _grant(self, resource: str, agent_id: str) -> None:
        self._holders[resource] = agent_id
        self._held.setdefault(agent_id, set()).add(resource)

    def _hand_on(self, resource: str) -> None:
        queue = self._waiters.get(resource)
        while queue:
            agent_id, granted = queue.popleft()
            if not granted.done():
                self._grant(resource, agent_id)
                granted.set_result(None)
                break
        if not queue:
            self._waiters.pop(resource, None)

    def _leave(self, resource: str, waiter: _Waiter) -> None:
        """Withdraw a waiter that stops waiting; a resource it was given meanwhile (in the
        moment between the hand-over and its wake-up) goes to the next in line."""
        queue = self._waiters.get(resource)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._waiters[resource]
        agent_id, granted = waiter
        if granted.done() and self._holders.get(resource) == agent_id:
            del self._holders[resource]
            mine = self._held.get(agent_id)
            if mine is not None:
                mine.discard(resource)
                if not mine:
                    del self._held[agent_id]
            self._hand_on(resource)
        granted.cancel()

    async def _ended(self, agent_id: str) -> bool:
        """Whether a holder has ended for good (or is unknown), by the database."""
        if self._db is None:
            return False
        status = await resource_leases.holder_status(self._db, agent_id)
        return status is None or status.is_terminal
