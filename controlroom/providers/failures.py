"""How a call to a real model endpoint failed: one `ProviderError` with a classified reason.

The runner only looks at `ModelError.retryable`. HTTP providers retry transient failures
themselves (see `endpoint.py`), so the error they finally raise is never retryable for the
runner: asking again would multiply the attempts the agent declared. `failure` keeps the
finer classification (was it the network, the key, the quota?) for the journal, the UI
and tests, and `transient` says whether the same request could succeed later, which a
runtime may use to pause an agent rather than fail it.
"""

from __future__ import annotations

from enum import StrEnum

from controlroom.providers.base import ModelError


class Failure(StrEnum):
    """Why a model call failed."""

    CONFIG = "config"  # no key in the environment, an unusable URL: nothing was sent
    CIRCUIT_OPEN = "circuit_open"  # the endpoint failed repeatedly; no request was sent
    TRANSPORT = "transport"  # refused, reset, or the answer was cut mid-way
    TIMEOUT = "timeout"  # connect, read or the whole-request deadline ran out
    RATE_LIMITED = "rate_limited"  # 429 that a later attempt could pass
    QUOTA = "quota"  # 429 because the account has no quota left: waiting will not help
    AUTH = "auth"  # 401/403
    REJECTED = "rejected"  # any other 4xx (or a redirect): the request itself is wrong
    SERVER = "server"  # 5xx, including 529 "overloaded"
    MALFORMED = "malformed"  # an answer that is not JSON, or not the published shape

    @property
    def transient(self) -> bool:
        """Whether the same request could succeed later."""
        return self in _TRANSIENT


_TRANSIENT = frozenset(
    {
        Failure.CIRCUIT_OPEN,
        Failure.TRANSPORT,
        Failure.TIMEOUT,
        Failure.RATE_LIMITED,
        Failure.SERVER,
    }
)


class ProviderError(ModelError):
    """A model call failed for good, after `attempts` HTTP requests (0: none was sent).

    The message is one line for an operator; it never contains the API key.
    """

    def __init__(
        self, failure: Failure, message: str, *, attempts: int, status: int | None = None
    ) -> None:
        super().__init__(message, retryable=False, attempts=attempts)
        self.failure = failure
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether the same request could succeed later (the runner does not retry it)."""
        return self.failure.transient
