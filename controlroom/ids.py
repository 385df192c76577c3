"""Injected id factories, so journals written in tests are deterministic.

Agent ids are human-typable (`refunds-3`) because operators type them at 3 a.m.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Protocol


class TokenFactory(Protocol):
    """Makes opaque unique tokens (lease owners, command ids)."""

    def __call__(self) -> str: ...


def random_token() -> str:
    """A 128-bit random hex token."""
    return secrets.token_hex(16)


class CountingTokens:
    """Deterministic tokens for tests: tok-1, tok-2, ..."""

    def __init__(self, prefix: str = "tok") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"
