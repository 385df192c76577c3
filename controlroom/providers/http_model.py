"""`HttpModel`: the `Model` that speaks a dialect (OpenAI or Anthropic) to an endpoint.

The API key is read from the environment at every call, under the name the settings give,
so a rotated key is picked up without a restart and no object ever holds it: it is passed
to the request's headers and to the error-message redaction, nothing else. Cost is left
unknown (`cost_usd=None`): neither API reports one, and prices belong to the runtime's
price table (runtime/costs.py), which prices the tokens reported here.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlroom.domain.models import Turn, Usage
from controlroom.providers.base import TurnRequest
from controlroom.providers.endpoint import Endpoint
from controlroom.providers.failures import Failure, ProviderError
from controlroom.providers.wire import Dialect


class HttpModel:
    """One model name at one endpoint; at most `attempts` requests per turn."""

    def __init__(
        self,
        endpoint: Endpoint,
        dialect: Dialect,
        model: str,
        *,
        key_env: str | None,
        attempts: int,
        max_tokens: int | None,
        environ: Mapping[str, str],
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.endpoint = endpoint
        self.dialect = dialect
        self.model = model
        self.attempts = attempts
        self._key_env = key_env
        self._max_tokens = max_tokens
        self._environ = environ

    async def turn(self, request: TurnRequest) -> Turn:
        key = self._key()
        reply = await self.endpoint.post(
            self.dialect.path,
            self.dialect.body(self.model, request, self._max_tokens),
            headers=self.dialect.headers(key),
            attempts=self.attempts,
            secret=key,
            parse=self.dialect.parse,
        )
        usage = Usage(
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cached_input_tokens=reply.cached_input_tokens,
            cost_usd=None,
        )
        return Turn(text=reply.text, tool_calls=reply.tool_calls, usage=usage)

    def _key(self) -> str:
        """The key, "" when the endpoint needs none; never put in a message."""
        if self._key_env is None:
            return ""
        # A trailing newline is a common accident of `export KEY=$(cat file)`.
        key = self._environ.get(self._key_env, "").strip()
        if not key:
            raise self._config(f"the environment variable {self._key_env} is not set or empty")
        if not key.isascii() or not key.isprintable():
            raise self._config(
                f"the environment variable {self._key_env} holds characters an HTTP header"
                " cannot carry"
            )
        return key

    def _config(self, why: str) -> ProviderError:
        return ProviderError(
            Failure.CONFIG, f"{self.endpoint.label}: {why}; no request sent", attempts=0
        )
