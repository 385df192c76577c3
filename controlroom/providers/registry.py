"""From an agent's `model` string to a `Model`: "scripted", or "ENDPOINT:MODEL" such as
"openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5" or, with an endpoint added to the
settings, "ollama:llama3.1:8b" (the model name is everything after the first colon).

Endpoints are named in settings, each with its dialect, base URL, and the NAME of the
environment variable holding its key (never the key). `Providers` owns one `Endpoint`
per name, created on first use, so every agent calling the same base URL shares one
connection pool and one circuit breaker; the runtime creates one `Providers`, asks it
for each agent's model, and closes it when it stops.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Literal, NamedTuple

import httpx

from controlroom.clock import Clock, SystemClock
from controlroom.domain.specs import Script
from controlroom.errors import ControlRoomError
from controlroom.providers import anthropic, openai
from controlroom.providers.base import Model
from controlroom.providers.breaker import (
    BreakerListener,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
)
from controlroom.providers.endpoint import Endpoint, RetryPolicy, Timeouts
from controlroom.providers.http_model import HttpModel
from controlroom.providers.scripted import ScriptedModel
from controlroom.providers.wire import Dialect

SCRIPTED = "scripted"
_DIALECTS: Mapping[str, Dialect] = {"openai": openai.DIALECT, "anthropic": anthropic.DIALECT}


class UnknownModel(ControlRoomError):
    """An agent's `model` names no model we can build."""


@dataclass(frozen=True)
class EndpointSettings:
    """One named endpoint. `key_env` None: the endpoint takes no key (a local server)."""

    api: Literal["openai", "anthropic"]
    base_url: str
    key_env: str | None
    # Per turn; None: the server's default (OpenAI) or anthropic.DEFAULT_MAX_TOKENS.
    max_tokens: int | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    max_connections: int = 20


DEFAULT_ENDPOINTS: Mapping[str, EndpointSettings] = MappingProxyType(
    {
        "openai": EndpointSettings("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
        "anthropic": EndpointSettings(
            "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"
        ),
    }
)


class ModelRef(NamedTuple):
    """A parsed `model` string: the endpoint's name ("scripted" alone has no model)."""

    endpoint: str
    model: str


def parse_model(
    text: str, endpoints: Mapping[str, EndpointSettings] = DEFAULT_ENDPOINTS
) -> ModelRef:
    """Parse "scripted" or "ENDPOINT:MODEL"; raises `UnknownModel` saying what is valid."""
    if text == SCRIPTED:
        return ModelRef(SCRIPTED, "")
    name, colon, model = text.partition(":")
    known = ", ".join(sorted(endpoints))
    if not colon or not model.strip():
        raise UnknownModel(
            f"model {text!r}: expected 'scripted' or 'ENDPOINT:MODEL' (endpoints: {known})"
        )
    if name not in endpoints:
        raise UnknownModel(f"model {text!r}: no endpoint named {name!r} (endpoints: {known})")
    return ModelRef(name, model.strip())


class Providers:
    """Builds models and owns their endpoints. Use as `async with Providers(...)`, or call
    `aclose()` when done.

    `clock` paces retries and breaker cool-downs, `rng` jitters the backoff, `environ` is
    where keys are read at each call, `on_breaker` hears every breaker transition,
    `transport` replaces httpx's network (tests).
    """

    def __init__(
        self,
        endpoints: Mapping[str, EndpointSettings] = DEFAULT_ENDPOINTS,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
        on_breaker: BreakerListener | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        for name in endpoints:
            if name == SCRIPTED or ":" in name or not name:
                raise ValueError(f"endpoint name {name!r} cannot be told from a model string")
        self.settings = dict(endpoints)
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._environ = os.environ if environ is None else environ
        self._on_breaker = on_breaker
        self._transport = transport
        self._endpoints: dict[str, Endpoint] = {}

    async def __aenter__(self) -> Providers:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def model_for(self, model: str, *, script: Script | None = None, attempts: int = 3) -> Model:
        """The model an agent's `model` string names, making at most `attempts` requests
        per turn (pass the agent's `model_attempts`). Raises `UnknownModel`."""
        ref = parse_model(model, self.settings)
        if ref.endpoint == SCRIPTED:
            if script is None:
                raise UnknownModel("model 'scripted' needs a script")
            return ScriptedModel(script)
        settings = self.settings[ref.endpoint]
        return HttpModel(
            self.endpoint(ref.endpoint),
            _DIALECTS[settings.api],
            ref.model,
            key_env=settings.key_env,
            attempts=attempts,
            max_tokens=settings.max_tokens,
            environ=self._environ,
        )

    def endpoint(self, name: str) -> Endpoint:
        """The shared endpoint of that name (KeyError if it is not configured)."""
        if name not in self._endpoints:
            settings = self.settings[name]
            self._endpoints[name] = Endpoint(
                name,
                settings.base_url,
                breaker=CircuitBreaker(name, settings.breaker, self._clock, self._on_breaker),
                clock=self._clock,
                rng=self._rng,
                timeouts=settings.timeouts,
                retry=settings.retry,
                limits=httpx.Limits(
                    max_connections=settings.max_connections,
                    max_keepalive_connections=settings.max_connections,
                    keepalive_expiry=30.0,
                ),
                transport=self._transport,
            )
        return self._endpoints[name]

    def breaker_states(self) -> dict[str, BreakerState]:
        """Each endpoint used so far and its breaker's state (for a status view)."""
        return {name: endpoint.breaker.state for name, endpoint in self._endpoints.items()}

    async def aclose(self) -> None:
        """Close every endpoint's connection pool."""
        for endpoint in self._endpoints.values():
            await endpoint.aclose()
