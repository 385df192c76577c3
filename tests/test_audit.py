"""`controlroom audit`: every kind of tampering with a real database file is found.

Each case builds a journal with a real supervisor (two runs, so there are several signed
heads and an anchor file beside the database), tampers with the file the way an attacker or
an accident would, and runs the real `controlroom audit verify` on it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cr_support import Cli, Harness, connect

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.store.anchor import anchor_path, key_path, load_or_create_key, read_anchor
from controlroom.store.chain import GENESIS, row_hash


@tool(effect="idempotent_by_key")
async def note(ctx: ToolContext, text: str) -> str:
    return f"noted {text}"


def _script(view: ScriptView) -> Turn:
    if view.step <= 4:
        return Turn.call("note", text=f"{view.task} #{view.step}")
    return Turn.final("done")


NOTER = agent(name="noter", tools=[note], script=_script)


async def _history(harness: Harness, runs: int = 2) -> None:
    for run in range(runs):
        for i in range(3):
            await harness.submit("noter", f"run{run}-task{i}")
        await harness.run_until_idle([NOTER])


def _verify(cli: Cli, db: Path) -> tuple[int, str]:
    result = cli("audit", "verify", "--db", str(db))
    assert "Traceback" not in result.stderr, result.describe()
    return result.returncode, result.stdout


def _max_id(db: Path) -> int:
    with connect(db) as conn:
        return int(conn.execute("SELECT MAX(id) FROM events").fetchone()[0])


async def test_an_intact_journal_verifies_and_is_anchored(harness: Harness, cli: Cli) -> None:
    await _history(harness)
    db = harness.db.path
    anchor = read_anchor(db)
    assert anchor is not None and anchor.head_id == _max_id(db)
    assert key_path(db).stat().st_mode & 0o777 == 0o600
    code, out = _verify(cli, db)
    assert code == 0, out
    assert f"journal intact: {anchor.head_id} rows" in out
    report = json.loads(cli("audit", "verify", "--db", str(db), "--json").stdout)
    assert report["intact"] and report["signed_heads"] == 2
    assert report["anchor"]["head_id"] == anchor.head_id


def _modify(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE events SET data = json_set(data, '$.tampered', 1) WHERE id = 20")
    return 20


def _delete(conn: sqlite3.Connection) -> int:
    conn.execute("DELETE FROM events WHERE id = 15")
    return 15


def _insert(conn: sqlite3.Connection) -> int:
    """A forged row slipped in at 12: every later row moves up one id."""
    rows = conn.execute("SELECT * FROM events WHERE id >= 12 ORDER BY id DESC").fetchall()
    for row in rows:
        conn.execute("UPDATE events SET id = ? WHERE id = ?", (row[0] + 1, row[0]))
    model = rows[-1]
    conn.execute(
        "INSERT INTO events (id, ts_ms, agent_id, identity, kind, step, data, hash)"
        " VALUES (12, ?, ?, ?, 'operator_action', ?, ?, ?)",
        (model[1], model[2], model[3], model[5], '{"command": "approve"}', model[7]),
    )
    return 12


def _reorder(conn: sqlite3.Connection) -> int:
    a = conn.execute("SELECT * FROM events WHERE id = 8").fetchone()
    b = conn.execute("SELECT * FROM events WHERE id = 9").fetchone()
    for target, source in ((8, b), (9, a)):
        conn.execute(
            "UPDATE events SET ts_ms=?, agent_id=?, identity=?, kind=?, step=?, data=?, hash=?"
            " WHERE id = ?",
            (*source[1:], target),
        )
    return 8


def _truncate(conn: sqlite3.Connection) -> int:
    last = int(conn.execute("SELECT MAX(id) FROM events").fetchone()[0])
    conn.execute("DELETE FROM events WHERE id > ?", (last - 3,))
    return last - 2


def _rechain(conn: sqlite3.Connection) -> int:
    """Modify a row, then recompute every hash after it: the chain holds, the signatures not."""
    conn.execute("UPDATE events SET data = json_set(data, '$.tampered', 1) WHERE id = 5")
    prev = GENESIS
    for row in conn.execute("SELECT * FROM events ORDER BY id").fetchall():
        digest = row_hash(prev, *row[:7])
        conn.execute("UPDATE events SET hash = ? WHERE id = ?", (digest, row[0]))
        prev = digest
    return -1  # found through a signed head, not at the modified row itself


TAMPERINGS: dict[str, Callable[[sqlite3.Connection], int]] = {
    "modified": _modify,
    "deleted": _delete,
    "inserted": _insert,
    "reordered": _reorder,
    "truncated": _truncate,
    "rechained": _rechain,
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
async def test_tampering_is_found_and_the_first_bad_row_named(
    harness: Harness, cli: Cli, how: str
) -> None:
    await _history(harness)
    db = harness.db.path
    assert _verify(cli, db)[0] == 0
    with connect(db) as conn:
        bad_row = TAMPERINGS[how](conn)
    code, out = _verify(cli, db)
    assert code == 1, out
    assert "journal NOT intact" in out
    first_line = out.splitlines()[0]
    if bad_row > 0:
        assert f"row {bad_row}" in first_line, out
    else:
        assert "rewritten after it was signed" in first_line, out


def _put_back(older: Path, db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(older, db)


async def test_an_older_copy_of_the_database_is_found(
    harness: Harness, cli: Cli, tmp_path: Path
) -> None:
    await _history(harness, runs=1)
    db = harness.db.path
    older = tmp_path / "older.db"
    with connect(db) as conn:  # a consistent copy, as a backup tool would take
        conn.execute("VACUUM INTO ?", (str(older),))
    await _history(harness, runs=1)
    assert _verify(cli, db)[0] == 0
    await harness.db.close()
    _put_back(older, db)  # the anchor beside it is the newer one
    code, out = _verify(cli, db)
    assert code == 1, out
    assert "truncated, or this is an older copy" in out


async def test_an_edited_anchor_file_is_refused(harness: Harness, cli: Cli) -> None:
    await _history(harness, runs=1)
    path = anchor_path(harness.db.path)
    anchor = json.loads(path.read_text())
    anchor["head_id"] -= 1
    path.write_text(json.dumps(anchor))
    code, out = _verify(cli, harness.db.path)
    assert code == 1 and "signature does not hold" in out, out


async def test_without_an_anchor_file_the_chain_is_still_checked(
    harness: Harness, cli: Cli
) -> None:
    await _history(harness, runs=1)
    anchor_path(harness.db.path).unlink()
    code, out = _verify(cli, harness.db.path)
    assert code == 0 and "no anchor file" in out, out


async def test_export_writes_every_row_in_order(harness: Harness, cli: Cli, tmp_path: Path) -> None:
    await _history(harness, runs=1)
    out = tmp_path / "journal.jsonl"
    result = cli("audit", "export", "--jsonl", "--db", str(harness.db.path), "--out", str(out))
    assert result.returncode == 0, result.describe()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(1, _max_id(harness.db.path) + 1))
    assert {"kind", "identity", "data", "hash"} <= rows[0].keys()
    again = cli("audit", "export", "--db", str(harness.db.path), "--out", str(out))
    assert again.returncode == 1 and "exists" in again.stderr, again.describe()


async def test_a_malformed_anchor_file_is_one_line_error(harness: Harness, cli: Cli) -> None:
    await _history(harness, runs=1)
    anchor_path(harness.db.path).write_text("{not json")
    result = cli("audit", "verify", "--db", str(harness.db.path))
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: ") and "not an anchor file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.describe()


def test_verify_refuses_a_file_that_is_not_a_database(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    result = cli("audit", "verify", "--db", str(text))
    assert result.returncode == 1 and "not an SQLite database" in result.stderr
    assert text.read_text() == "hello\n"


async def test_a_replaced_key_file_is_never_used_to_sign(harness: Harness, cli: Cli) -> None:
    """A key that is not the database's audit key (a copied or regenerated file) must not
    sign anything: the journal stays verifiable, just not signed past that point."""
    await _history(harness, runs=1)
    db = harness.db.path
    before = read_anchor(db)
    key_path(db).unlink()
    load_or_create_key(db)  # someone else's key now sits beside the database
    await _history(harness, runs=1)
    assert read_anchor(db) == before, "the anchor was signed with a foreign key"
    code, out = _verify(cli, db)
    assert code == 0, out
    assert "newer than the anchor" in out
