"""Running the webhook app: uvicorn on a socket we bind, over a database we open and close.

It listens on loopback unless told `allow_remote` (a decision endpoint on a public
interface should sit behind a TLS proxy someone chose to put there), and refuses a short
secret, since the signature is the only thing standing between the network and approvals.
The socket is bound here rather than by uvicorn so that a port in use is a one-line
`ControlRoomError` (uvicorn would log and `sys.exit`), and so port 0 can be reported.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import uvicorn

from controlroom.clock import SystemClock
from controlroom.errors import ControlRoomError
from controlroom.store.database import open_database
from controlroom.webhooks.app import make_app

MIN_SECRET_BYTES = 16
# How long open connections get to finish when the server stops.
_GRACEFUL_SHUTDOWN_S = 5


async def serve(
    db_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    secret: bytes,
    allow_remote: bool = False,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve decisions on `host:port` until `stop` is set, a signal arrives (SIGINT or
    SIGTERM, when run on the main thread) or the task is cancelled; shuts down cleanly in
    every case.

    `ready(port)` is called once the server accepts connections, with the bound port
    (the real one when `port` is 0). Raises `ControlRoomError` for a remote host without
    `allow_remote`, a short secret, a database that cannot be opened or a port that cannot
    be bound.
    """
    if not allow_remote and not _is_loopback(host):
        raise ControlRoomError(
            f"refusing to listen on {host!r}: not a loopback address"
            " (pass allow_remote to expose decisions to the network)"
        )
    _check_secret(secret, "the webhook secret")
    db = await open_database(db_path, create=False)
    try:
        sock = await _bind(host, port)
        bound = int(sock.getsockname()[1])
        config = uvicorn.Config(
            make_app(db, secret, SystemClock()),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            if ready is not None:
                await _until(serving, server.listening.wait())
                if server.started:
                    ready(bound)
            if stop is not None:
                await _until(serving, stop.wait())
            else:
                await asyncio.wait({serving})
        finally:
            # Reached on stop, on cancellation, on a failed server or a failing `ready`
            # alike: uvicorn closes its sockets and connections before the database goes.
            server.should_exit = True
            await asyncio.wait({serving})
            sock.close()
        serving.result()
    finally:
        await db.close()


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The shared secret from environment variable `name` (its UTF-8 bytes, unstripped:
    the sender signs with it exactly as given)."""
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise ControlRoomError(f"environment variable {name} is not set (the webhook secret)")
    secret = value.encode()
    _check_secret(secret, f"environment variable {name}")
    return secret


class _Server(uvicorn.Server):
    """uvicorn's server, with an event set once it accepts connections (it has no hook)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


async def _until(serving: asyncio.Task[None], event: Coroutine[Any, Any, Any]) -> None:
    """Wait for `event`, or for the server to end first (failed or signalled)."""
    waiting = asyncio.create_task(event)
    try:
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()


def _check_secret(secret: bytes, what: str) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ControlRoomError(
            f"{what} is {len(secret)} bytes; at least {MIN_SECRET_BYTES} are required"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost could resolve anywhere


async def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _type, _proto, _name, address = infos[0]
        return socket.create_server(address, family=family)
    except OSError as exc:
        raise ControlRoomError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
