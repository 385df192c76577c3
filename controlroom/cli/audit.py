"""`controlroom audit verify` and `controlroom audit export`: check the tamper-evident
journal, or export its rows with their hashes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from controlroom.cli import base
from controlroom.errors import ControlRoomError
from controlroom.store.audit import AuditReport, export_rows, verify_journal
from controlroom.store.database import open_database


@base.main.group(cls=click.Group)
def audit() -> None:
    """Check or export the tamper-evident journal."""


@audit.command(name="verify")
@base.common
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@base.fails_cleanly
def audit_verify(db: Path, agents_dir: Path, policies: Path | None, as_json: bool) -> None:
    """Exit 0 if the journal is intact; 1, naming the first bad row, if it is not.

    Checks the hash chain of every row, the signed heads in the journal and the anchor file
    beside the database (`<db>.anchor`), which catches a truncated tail or an older copy.
    """
    report = base.run_coroutine(_verify(base.checked_paths(db, agents_dir, policies).db))
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2))
    else:
        click.echo(_report_text(db, report))
    sys.exit(0 if report.intact else 1)


async def _verify(db_path: Path) -> AuditReport:
    database = await open_database(db_path, create=False)
    try:
        return await verify_journal(database)
    finally:
        await database.close()


def _report_json(report: AuditReport) -> dict[str, Any]:
    return {
        "intact": report.intact,
        "rows": report.rows,
        "head": {"id": report.head_id, "hash": report.head_hash.hex()},
        "signed_heads": report.signed_heads,
        "last_signed": report.last_signed,
        "anchor": report.anchor.model_dump() if report.anchor else None,
        "problems": [{"row": p.row, "problem": p.what} for p in report.problems],
        "notes": report.notes,
    }


def _report_text(db: Path, report: AuditReport) -> str:
    if report.problems:
        first = report.problems[0]
        lines = [f"{db}: journal NOT intact: {first.what}"]
        lines += [f"also: {p.what}" for p in report.problems[1:]]
    else:
        lines = [
            f"{db}: journal intact: {report.rows} rows, head #{report.head_id} "
            f"{report.head_hash.hex()}",
            f"signed heads: {report.signed_heads} (newest covers row {report.last_signed})",
        ]
        if report.anchor is not None:
            lines.append(f"anchor: {report.anchor.model_dump_json()}")
    return "\n".join(lines + [f"note: {note}" for note in report.notes])


@audit.command(name="export")
@base.common
@click.option("--jsonl", "_jsonl", is_flag=True, help="One JSON object per row (the format).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file instead of stdout.",
)
@base.fails_cleanly
def audit_export(
    db: Path, agents_dir: Path, policies: Path | None, _jsonl: bool, out: Path | None
) -> None:
    """Export every journal row, in order, with its hash, as JSON lines."""
    db_path = base.checked_paths(db, agents_dir, policies).db
    if out is None:
        base.run_coroutine(_export(db_path, sys.stdout))
        return
    if out.exists():
        raise ControlRoomError(f"{out}: exists; choose a new file for the export")
    # Written under a temporary name and renamed when complete: no half export is left.
    partial = out.with_name(out.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as sink:
            base.run_coroutine(_export(db_path, sink))
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)


async def _export(db_path: Path, sink: TextIO) -> None:
    database = await open_database(db_path, create=False, integrity_check=False)
    try:
        async for row in export_rows(database):
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        await database.close()
