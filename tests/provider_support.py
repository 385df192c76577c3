"""A fault-injecting model server on 127.0.0.1 and canned provider answers, for the
tests of the HTTP providers (tests/test_provider_*.py).

`FaultServer` answers each request with the next step of its `script` (then `default`):
a `Reply`, or one of the faults below, and records every request. The faults are real
socket behaviour, not mocks: a connection that is refused, one that never answers, one
reset (RST) or closed half-way through the body, one that trickles bytes forever.
`REFUSED` needs `RefusingTransport`, which sends that request to a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from http_support import read_request

from controlroom.clock import FakeClock
from controlroom.domain.models import Message, ToolCall
from controlroom.domain.specs import ToolSpec, tool
from controlroom.providers.base import TurnRequest
from controlroom.providers.breaker import BreakerPolicy
from controlroom.providers.endpoint import RetryPolicy, Timeouts
from controlroom.providers.registry import EndpointSettings, Providers

KEY = "sk-test-5ecr3t-VALUE-0123456789"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


REFUSED = "refused"  # nothing listens (see RefusingTransport)
HANG = "hang"  # read the request, never answer
RESET = "reset"  # send the head and part of the body, then reset the connection
CUT = "cut"  # send the head and part of the body, then close the connection
TRICKLE = "trickle"  # send the head one byte at a time, forever

Step = Reply | str


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FaultServer:
    script: list[Step] = field(default_factory=list)
    default: Step = field(default_factory=lambda: Reply(500, b"{}"))
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_for(self, count: int) -> None:
        """Until `count` requests have arrived."""
        while len(self.received) < count:
            self._arrived.clear()
            await self._arrived.wait()

    def next_step(self) -> Step:
        return self.script.pop(0) if self.script else self.default

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            _method, path, headers, body = await read_request(reader)
            self.received.append(Received(path, headers, body))
            self._arrived.set()
            await self._answer(self.next_step(), reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client gave up: some tests want exactly that
        finally:
            writer.transport.abort()
            self._tasks.discard(task)

    async def _answer(
        self, step: Step, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if step == HANG:
            await reader.read()  # until the client closes
        elif step == TRICKLE:
            writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while True:
                writer.write(b"a")
                await writer.drain()
                await asyncio.sleep(0.02)
        elif step in (RESET, CUT):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 4000\r\n\r\n{"choices": [{"message": {"content": "hal'
            )
            await writer.drain()
            await asyncio.sleep(0.01)  # let the partial body reach the client first
            if step == RESET:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                writer.close()
        else:
            assert isinstance(step, Reply), step
            lines = [f"HTTP/1.1 {step.status} Whatever"]
            lines += [f"{name}: {value}" for name, value in step.headers]
            lines += [
                "Content-Type: application/json",
                f"Content-Length: {len(step.body)}",
                "Connection: close",
                "",
                "",
            ]
            writer.write("\r\n".join(lines).encode() + step.body)
            await writer.drain()


@contextlib.asynccontextmanager
async def fault_server(*script: Step, default: Step | None = None) -> AsyncIterator[FaultServer]:
    server = FaultServer(list(script))
    if default is not None:
        server.default = default
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def dead_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class RefusingTransport(httpx.AsyncBaseTransport):
    """The real network transport, except that a request meeting `REFUSED` at the head of
    the server's script goes to a dead port: a genuinely refused connection."""

    def __init__(self, server: FaultServer) -> None:
        self._server = server
        self._inner = httpx.AsyncHTTPTransport(verify=False)  # plain HTTP; skips loading CAs
        self._dead = dead_port()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._server.script and self._server.script[0] == REFUSED:
            self._server.script.pop(0)
            request.url = request.url.copy_with(port=self._dead)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class RecordingClock(FakeClock):
    """A fake clock that remembers every sleep (the backoff and Retry-After waits)."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


# -- requests and canned answers ----------------------------------------------------------


@tool
def lookup(city: str, days: int = 1) -> str:
    """Look up the weather of a city."""
    return f"sunny in {city}"


TOOLS: tuple[ToolSpec, ...] = (lookup,)

CONVERSATION: tuple[Message, ...] = (
    Message(role="system", content="You are weather. Be brief."),
    Message(role="user", content="Weather in Paris and Rome?"),
    Message(
        role="assistant",
        content="Checking both.",
        tool_calls=(
            ToolCall(id="call_1", name="lookup", arguments={"city": "Paris"}),
            ToolCall(id="call_2", name="lookup", arguments={"city": "Rome", "days": 2}),
        ),
    ),
    Message(role="tool", content="sunny in Paris", tool_call_id="call_1", name="lookup"),
    Message(role="tool", content="rain in Rome", tool_call_id="call_2", name="lookup"),
)


def turn_request(messages: tuple[Message, ...] = CONVERSATION) -> TurnRequest:
    return TurnRequest("a1", "weather", 2, messages, TOOLS, sum(len(m.content) for m in messages))


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


def openai_answer(
    text: str | None = "It is sunny.",
    calls: tuple[tuple[str, str, str], ...] = (),
    *,
    finish: str = "stop",
    cached: int | None = None,
) -> dict[str, Any]:
    """A chat completion; `calls` are (id, name, arguments as a JSON string)."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in calls
        ]
    usage: dict[str, Any] = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def anthropic_answer(
    text: str = "It is sunny.",
    calls: tuple[tuple[str, str, dict[str, Any]], ...] = (),
    *,
    stop: str = "end_turn",
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> dict[str, Any]:
    """A Messages answer; `calls` are (id, name, input)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    usage: dict[str, Any] = {"input_tokens": 100, "output_tokens": 25}
    if cache_read is not None:
        usage["cache_read_input_tokens"] = cache_read
    if cache_write is not None:
        usage["cache_creation_input_tokens"] = cache_write
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": "tool_use" if calls else stop,
        "stop_sequence": None,
        "usage": usage,
    }


def error_body(kind: str, message: str, code: str | None = None) -> bytes:
    """An error in the shape both APIs share (`{"error": {"type", "message"}}`)."""
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    return encode({"error": error})


QUOTA_429 = Reply(
    429,
    error_body(
        "insufficient_quota",
        "You exceeded your current quota, please check your plan.",
        "insufficient_quota",
    ),
)


def endpoints(
    base_url: str,
    api: Literal["openai", "anthropic"] = "openai",
    *,
    read_s: float = 5.0,
    total_s: float = 10.0,
    threshold: int = 1000,
    cooldown_s: float = 30.0,
    max_retry_after_s: float = 60.0,
    key_env: str | None = "TEST_MODEL_KEY",
) -> dict[str, EndpointSettings]:
    """One endpoint named "local" (models "local:NAME") with test-sized timeouts."""
    return {
        "local": EndpointSettings(
            api,
            base_url,
            key_env,
            timeouts=Timeouts(
                connect_s=2.0, read_s=read_s, write_s=2.0, pool_s=2.0, total_s=total_s
            ),
            retry=RetryPolicy(
                backoff_base_s=0.5, backoff_cap_s=8.0, max_retry_after_s=max_retry_after_s
            ),
            breaker=BreakerPolicy(threshold=threshold, cooldown_s=cooldown_s),
        )
    }


def providers(
    settings: dict[str, EndpointSettings],
    clock: FakeClock,
    *,
    seed: int = 0,
    **options: Any,
) -> Providers:
    """`Providers` over `settings` with the key in a private environment and a seeded rng."""
    options.setdefault("environ", {"TEST_MODEL_KEY": KEY})
    return Providers(settings, clock=clock, rng=random.Random(seed), **options)
