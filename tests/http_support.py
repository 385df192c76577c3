"""A scriptable HTTP server on 127.0.0.1 for tests that deliver to real webhooks.

`HttpServer` answers each request with the next step of its `script` (then its
`default`): a `Reply`, `HANG` (read the request, never answer) or `TRICKLE` (answer one
byte at a time, forever), and records every request in `received`. `serving_http()` runs
one for the length of a test; `drop_proxies()` keeps httpx from sending loopback requests
through a proxy. Plain helpers, no fixtures: each test module wraps them in its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


HANG = "hang"  # read the request, never answer (until the server closes)
TRICKLE = "trickle"  # answer one byte at a time, forever (until the server closes)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request had fully arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpServer:
    """Minimal HTTP/1.1 on 127.0.0.1: each request takes the next step of `script`
    (then `default`) and is recorded in `received`."""

    script: list[Reply | str] = field(default_factory=list)
    default: Reply | str = field(default_factory=lambda: Reply(200, b"ok"))
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        """The requests received for `path`, in order."""
        return [r for r in self.received if r.path == path]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            method, path, headers, body = await read_request(reader)
            self.received.append(Received(method, path, headers, body, time.monotonic()))
            step = self.script.pop(0) if self.script else self.default
            if step == HANG:
                await self._stop.wait()
            elif step == TRICKLE:
                writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self._stop.is_set():
                    writer.write(b"a")
                    await writer.drain()
                    await asyncio.sleep(0.05)
            else:
                assert isinstance(step, Reply)
                lines = [f"HTTP/1.1 {step.status} Whatever"]
                lines += [f"{name}: {value}" for name, value in step.headers]
                lines += [f"Content-Length: {len(step.body)}", "Connection: close", "", ""]
                writer.write("\r\n".join(lines).encode() + step.body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client gave up on us: that is what some tests want
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._tasks.discard(task)


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes]:
    """One HTTP/1.1 request off the wire: method, path, headers (lower-case names), body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *header_lines = head.strip().split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, path, headers, body


@contextlib.asynccontextmanager
async def serving_http() -> AsyncIterator[HttpServer]:
    """A started `HttpServer`, closed (with every connection it holds) on leaving."""
    server = HttpServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def drop_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; requests to 127.0.0.1 must not leave the machine."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
