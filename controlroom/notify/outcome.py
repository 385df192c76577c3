"""How a delivery ends (`Delivered`, `DeliveryFailed`) and how one attempt fails.

Kept apart from the transports so each transport can say "this attempt failed, and may
(or may not) be worth retrying" without knowing about the retry loop, and the loop can
turn that into the one-line outcome the outbox journals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivered:
    """The notification reached its route: after `attempts` tries, with `detail` saying
    what the other end answered (`HTTP 200`, `SMTP accepted for 2 recipients`)."""

    attempts: int
    detail: str


class DeliveryFailed(Exception):
    """The notification did not reach its route.

    `reason` is one human-readable line naming the destination (secrets left out) and
    what went wrong; `attempts` is how many tries were made (0: none could be, such as
    a missing credential); `retryable` is False when the failure is permanent (a 4xx,
    an SMTP 5xx, a configuration error) and trying again later would fail the same way.
    """

    def __init__(self, reason: str, *, attempts: int, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.retryable = retryable


class AttemptFailed(Exception):
    """One attempt failed: `what` happened (one line, no destination, no secret).

    `retryable` says whether another attempt could succeed; `retry_after` is how long
    the server asked us to wait before it (seconds), when it said.
    """

    def __init__(self, what: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retryable = retryable
        self.retry_after = retry_after
