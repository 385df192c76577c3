"""`controlroom screen`: screen texts (files or JSON lines on stdin) for prompt injection,
or measure the screen on a labelled corpus. The rules are compiled only when it runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from controlroom.cli import base
from controlroom.errors import ControlRoomError


class _ScreenInputError(ControlRoomError):
    """A text to screen could not be read: a missing file, a stdin line not a JSON string."""

    exit_code = 2


@base.main.command(name="screen")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--level",
    type=click.Choice(["standard", "strict"]),
    default="standard",
    show_default=True,
    help="strict flags on weaker evidence.",
)
@click.option(
    "--corpus",
    type=click.Choice(["bastioncorpus"]),
    default=None,
    help="Measure detection and false positives on a labelled corpus instead.",
)
@click.option("--json", "as_json", is_flag=True, help="With --corpus: print one JSON object.")
@base.fails_cleanly
def screen_command(files: tuple[Path, ...], level: str, corpus: str | None, as_json: bool) -> None:
    """Screen texts for prompt injection, one JSON line per text (exit 2 on unreadable input).

    Each FILE is one text; without files, each stdin line is one JSON string (blank lines are
    skipped). A flagged text is a finding, not an error: the exit status stays 0.
    """
    # Imported here: compiling the rules takes a while, and other commands never need them.
    from controlroom.governance.screening import Level
    from controlroom.governance.screening import screen as screen_text
    from controlroom.governance.screening_bench import corpus_report, report_table

    chosen: Level = "strict" if level == "strict" else "standard"
    if corpus is not None:
        if files:
            raise click.UsageError("--corpus measures a corpus and takes no files")
        report = corpus_report(corpus, chosen)
        click.echo(json.dumps(report) if as_json else report_table(report))
        return
    if as_json:
        raise click.UsageError("--json applies to --corpus; results are JSON lines already")
    texts = _file_texts(files) if files else _stdin_texts(sys.stdin)
    for source, text in texts:
        found = screen_text(text, chosen)
        line = {"source": source, "flagged": found.flagged, "score": found.score}
        click.echo(json.dumps({**line, "reasons": list(found.reasons)}))


def _file_texts(files: tuple[Path, ...]) -> list[tuple[str, str]]:
    """Every file read before any is screened, so a bad path fails the command up front."""
    texts = []
    for path in files:
        try:
            texts.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        except FileNotFoundError:
            raise _ScreenInputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise _ScreenInputError(f"{path}: is a directory, not a file") from None
        except OSError as exc:
            raise _ScreenInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return texts


def _stdin_texts(stream: TextIO) -> Iterator[tuple[str, str]]:
    """Texts from stdin as they arrive, one JSON string per line."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            text = json.loads(line)
        except json.JSONDecodeError:
            text = None
        if not isinstance(text, str):
            shown = base.one_line(line.strip(), 60)
            raise _ScreenInputError(f"stdin:{number}: not a JSON string: {shown!r}")
        yield f"stdin:{number}", text
