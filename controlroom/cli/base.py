"""What every `controlroom` command shares: the `main` group, the common options and the
error handling that turns operator-facing mistakes into one `error:` line.

Also the small helpers more than one command module uses: the clock, the OS user, the
policies to load, and one-line and local-time text for tables.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from controlroom.clock import SystemClock
from controlroom.domain.specs import AgentSpec
from controlroom.errors import ControlRoomError
from controlroom.governance.policy_loader import PolicyError, PolicySet, load_policies

T = TypeVar("T")
CLOCK = SystemClock()


@dataclass(frozen=True)
class Paths:
    db: Path
    agents: Path
    policies: Path | None


def common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every subcommand shares."""
    fn = click.option(
        "--policies",
        "policies",
        type=click.Path(path_type=Path),
        default=None,
        help="Policy directory (default ./policies).",
    )(fn)
    fn = click.option(
        "--agents",
        "agents_dir",
        type=click.Path(path_type=Path),
        default=Path("agents"),
        show_default=True,
        help="Directory of agent definition modules.",
    )(fn)
    fn = click.option(
        "--db",
        "db",
        type=click.Path(path_type=Path),
        envvar="CONTROLROOM_DB",
        default=Path("controlroom.db"),
        show_default=True,
        help="Database file (env CONTROLROOM_DB).",
    )(fn)
    return fn


def checked_paths(db: Path, agents_dir: Path, policies: Path | None) -> Paths:
    if policies is not None and not policies.is_dir():
        raise ControlRoomError(f"{policies}: policies directory does not exist")
    return Paths(db, agents_dir, policies)


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn operator-facing errors into one line and an exit code."""
    try:
        return asyncio.run(coro)
    except ControlRoomError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def fails_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Report operator-facing errors, and database errors met after opening, as one line."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ControlRoomError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (DBAPIError, sqlite3.Error) as exc:
            where = kwargs.get("db") or "database"
            click.echo(f"error: {where}: {_database_problem(exc)}", err=True)
            sys.exit(1)

    return wrapper


def _database_problem(exc: DBAPIError | sqlite3.Error) -> str:
    """What went wrong, from the driver's error (reads on the loop's thread raise it bare)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(cause, sqlite3.OperationalError):
        return f"database unavailable: {cause}"
    return f"damaged or unreadable: {cause}"


_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Commands(click.Group):
    """A group that reports usage mistakes as one `error:` line, like every other mistake."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except _NO_ARGS as exc:  # bare `controlroom`: the help is the answer, not an error
            click.echo(exc.ctx.get_help() if exc.ctx else "")
            sys.exit(0)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()} (see controlroom --help)", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="controlroom")
def main() -> None:
    """Control Room: run LLM agents durably and watch them from a terminal."""
    # Diagnostics go to stderr; stdout carries data (JSON lines, tables, ids).
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def local_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def checked_policies(directory: Path, agents: dict[str, AgentSpec]) -> PolicySet:
    """The policies in `directory`, or every problem printed (one line each) and exit 2."""
    try:
        return load_policies(directory, agents)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem(s) in {directory}", err=True)
        sys.exit(exc.exit_code)


def policies_for(
    directory: Path | None, agents: dict[str, AgentSpec]
) -> tuple[PolicySet, Path | None]:
    """`--policies DIR`, else ./policies if there is one, else no policies (every agent may
    use the tools its definition declares); and the directory to watch for edits."""
    if directory is None:
        default = Path("policies")
        if not default.is_dir():
            return PolicySet(), None
        directory = default
    return checked_policies(directory, agents), directory
