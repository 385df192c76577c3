"""`controlroom webhooks serve`: decisions from chat tools and other systems over signed
HTTP. The web server is imported inside the command: no other command pays for it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from controlroom.cli import base


@base.main.group(cls=click.Group)
def webhooks() -> None:
    """Accept decisions from chat tools and other systems over signed HTTP requests."""


@webhooks.command(name="serve")
@base.common
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8787, show_default=True, help="Port (0: any free).")
@click.option(
    "--secret-env",
    default="CONTROLROOM_WEBHOOK_SECRET",
    show_default=True,
    help="Environment variable holding the shared signing secret (16+ bytes).",
)
@click.option(
    "--allow-remote", is_flag=True, help="Listen on a non-loopback address (put TLS in front)."
)
@base.fails_cleanly
def webhooks_serve(
    db: Path,
    agents_dir: Path,
    policies: Path | None,
    host: str,
    port: int,
    secret_env: str,
    allow_remote: bool,
) -> None:
    """Serve POST /decisions: HMAC-signed decisions (Slack's signing scheme), applied
    exactly like `controlroom approve` and friends; refusals are journaled."""
    # Imported here: the web server's packages cost every other command their start-up.
    from controlroom.webhooks.server import secret_from_env
    from controlroom.webhooks.server import serve as serve_webhooks

    paths = base.checked_paths(db, agents_dir, policies)
    secret = secret_from_env(secret_env)

    def ready(bound: int) -> None:
        click.echo(f"listening on http://{host}:{bound}/decisions", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # ctrl-c: uvicorn already shut down cleanly
        base.run_coroutine(
            serve_webhooks(
                paths.db,
                host=host,
                port=port,
                secret=secret,
                allow_remote=allow_remote,
                ready=ready,
            )
        )
