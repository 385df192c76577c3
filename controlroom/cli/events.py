"""`controlroom events`: the journal's events in order, and with --follow as they are
committed (for log shippers), ending cleanly on a signal or when its reader goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from controlroom import demo as demo_mod
from controlroom.cli import base
from controlroom.cli.run import print_json_line
from controlroom.domain.events import JournalEntry
from controlroom.store.database import open_database
from controlroom.store.follow import POLL_S, journal_tail


@base.main.command()
@base.common
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing events as they are committed, until SIGINT or SIGTERM.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line, as `run` prints them."
)
@click.option(
    "--after",
    "after_id",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="ID",
    help="Only events after event ID (resume from the last id a stream printed).",
)
@base.fails_cleanly
def events(
    db: Path, agents_dir: Path, policies: Path | None, follow: bool, as_json: bool, after_id: int
) -> None:
    """Print the journal's events in order; with --follow, keep printing them as they are
    committed (for log shippers, which resume with --after <last id>).

    A reader only: it works while a supervisor owns the database. It exits 0 on SIGINT or
    SIGTERM, and quietly when the reader of its output goes away.
    """
    paths = base.checked_paths(db, agents_dir, policies)
    show = print_json_line if as_json else _print_event_line
    sys.exit(base.run_coroutine(_stream_events(paths.db, after_id, follow, show)))


def _print_event_line(entry: JournalEntry) -> None:
    sys.stdout.write(f"{entry.id:>6}  {demo_mod.summary_line(entry)}\n")
    sys.stdout.flush()


async def _stream_events(
    db_path: Path, after_id: int, follow: bool, show: Callable[[JournalEntry], None]
) -> int:
    # A signal ends the stream between two events, so the last line printed is whole and
    # `--after <its id>` resumes exactly after it.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    database = await open_database(db_path, create=False, integrity_check=False)
    watching = asyncio.create_task(_until_reader_gone(stop)) if follow else None
    try:
        tail = journal_tail(database, after_id, follow=follow, stop=stop)
        async with contextlib.aclosing(tail) as entries:
            async for entry in entries:
                try:
                    show(entry)
                except BrokenPipeError:  # the reader went away: nobody to tell
                    _stdout_to_devnull()
                    return 0
        return 0
    finally:
        if watching is not None:
            watching.cancel()
        await database.close()


async def _until_reader_gone(stop: asyncio.Event) -> None:
    """Set `stop` once stdout is a pipe nobody reads any more. A follower waiting for the
    next event would otherwise only find out when it writes, which may be never."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if not hasattr(select, "poll"):
        return
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: only POLLERR, POLLHUP and POLLNVAL come
    while not stop.is_set():
        if poller.poll(0):
            _stdout_to_devnull()
            stop.set()
            return
        await asyncio.sleep(POLL_S)


def _stdout_to_devnull() -> None:
    # So that the interpreter's last flush of stdout at exit does not fail again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
