"""Bad input to the `controlroom` command: one clear line, a non-zero exit, nothing changed.

Each case runs the real command in a subprocess against a directory holding a real database
(with one queued agent) and checks that every file in that directory is byte-for-byte what it
was before (no database created, migrated, or journaled to; no side files left).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cr_support import EXAMPLE_AGENTS, Cli, assert_clean_error, fingerprint

from controlroom.store.database import open_database
from controlroom.store.inbox import submit_agent

SYNTAX_ERROR = """\
from controlroom import ScriptView, Turn, agent

def script(view: ScriptView) -> Turn
    return Turn.final("never")
"""

IMPORT_ERROR = """\
\"\"\"An agent that needs a package that is not installed.\"\"\"
from controlroom import agent

import controlroom_no_such_dependency
"""


@pytest.fixture
async def store(workdir: Path) -> Path:
    """A real database with one queued mailer task, closed (no side files)."""
    path = workdir / "control.db"
    db = await open_database(path)
    try:
        await submit_agent(db, "mailer", "mail ops@example.com", "tester", None, 0)
    finally:
        await db.close()
    return path


@pytest.fixture
def broken_agents(workdir: Path) -> dict[str, Path]:
    directories = {}
    for name, source in (("syntax", SYNTAX_ERROR), ("import", IMPORT_ERROR)):
        directory = workdir / f"agents-{name}"
        directory.mkdir()
        (directory / "ok.py").write_text((EXAMPLE_AGENTS / "mailer.py").read_text())
        (directory / f"{name}_agent.py").write_text(textwrap.dedent(source))
        directories[name] = directory
    return directories


def _check_unchanged(workdir: Path, before: dict[str, str]) -> None:
    assert fingerprint(workdir) == before, "a refused command changed files"


def test_syntax_error_in_agent_file_names_file_and_line(
    cli: Cli, workdir: Path, store: Path, broken_agents: dict[str, Path]
) -> None:
    before = fingerprint(workdir)
    bad = broken_agents["syntax"] / "syntax_agent.py"
    for result in cli.many(
        [
            ["submit", "--db", store, "--agents", broken_agents["syntax"], "mailer", "hi"],
            ["run", "--db", store, "--agents", broken_agents["syntax"], "--exit-when-idle"],
        ]
    ):
        line = assert_clean_error(result, f"{bad}:3:", "syntax error")
        assert result.returncode == 1, line
    _check_unchanged(workdir, before)


def test_import_error_in_agent_file_names_file_and_line(
    cli: Cli, workdir: Path, store: Path, broken_agents: dict[str, Path]
) -> None:
    before = fingerprint(workdir)
    bad = broken_agents["import"] / "import_agent.py"
    result = cli("run", "--db", store, "--agents", broken_agents["import"], "--exit-when-idle")
    assert_clean_error(result, f"{bad}:4:", "ModuleNotFoundError", "controlroom_no_such_dependency")
    _check_unchanged(workdir, before)


def test_submit_unknown_agent(cli: Cli, workdir: Path, store: Path) -> None:
    before = fingerprint(workdir)
    result = cli("submit", "--db", store, "--agents", EXAMPLE_AGENTS, "nobody", "do things")
    assert_clean_error(result, "unknown agent 'nobody'", "mailer", "refunds")
    _check_unchanged(workdir, before)


def test_submit_unknown_agent_creates_no_database(cli: Cli, workdir: Path) -> None:
    result = cli("submit", "--db", workdir / "new.db", "--agents", EXAMPLE_AGENTS, "nobody", "x")
    assert_clean_error(result, "unknown agent 'nobody'")
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["frobnicate"], "frobnicate"),  # an unknown command
        (["status", "--frobnicate"], "--frobnicate"),  # an unknown option
    ],
    ids=["unknown-command", "unknown-option"],
)
def test_usage_errors(cli: Cli, workdir: Path, store: Path, args: list[str], named: str) -> None:
    """A mistyped command line gets the same one-line `error:` as every other mistake."""
    before = fingerprint(workdir)
    result = cli(*args, "--db", store)
    assert result.returncode != 0
    assert_clean_error(result, named)
    _check_unchanged(workdir, before)


@pytest.mark.parametrize("command", ["run", "submit"])
def test_missing_agents_directory(cli: Cli, workdir: Path, store: Path, command: str) -> None:
    before = fingerprint(workdir)
    missing = workdir / "no-agents-here"
    args: list[str | Path] = [command, "--db", store, "--agents", missing]
    args += ["--exit-when-idle"] if command == "run" else ["mailer", "hello"]
    result = cli(*args)
    assert_clean_error(result, str(missing), "agents directory does not exist")
    _check_unchanged(workdir, before)


@pytest.mark.parametrize("command", ["status", "run", "submit"])
def test_missing_policies_directory(cli: Cli, workdir: Path, store: Path, command: str) -> None:
    before = fingerprint(workdir)
    missing = workdir / "no-policies-here"
    args: list[str | Path] = [command, "--db", store, "--agents", EXAMPLE_AGENTS]
    args += ["--policies", missing]
    if command == "run":
        args.append("--exit-when-idle")
    if command == "submit":
        args += ["mailer", "hello"]
    result = cli(*args)
    assert_clean_error(result, str(missing), "policies directory does not exist")
    _check_unchanged(workdir, before)


def test_operator_command_for_unknown_agent(cli: Cli, workdir: Path, store: Path) -> None:
    before = fingerprint(workdir)
    result = cli("pause", "--db", store, "nobody")
    assert_clean_error(result, "no agent 'nobody'", str(store))
    _check_unchanged(workdir, before)


def test_submit_empty_task(cli: Cli, workdir: Path, store: Path) -> None:
    before = fingerprint(workdir)
    result = cli("submit", "--db", store, "--agents", EXAMPLE_AGENTS, "mailer", "   ")
    assert_clean_error(result, "task text is empty")
    _check_unchanged(workdir, before)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["approve", "999"], "no approval #999"),
        (["deny", "seven"], "'seven' is not a valid integer"),
        (["approve", "1", "--args", "{not json"], "--args: not JSON"),
        (["approve", "1", "--args", "[1, 2]"], "--args: must be a JSON object"),
        (["resolve", "1", "maybe"], "'maybe' is not one of"),
        (["webhooks", "serve"], "CONTROLROOM_WEBHOOK_SECRET"),
    ],
    ids=["unknown-id", "not-an-id", "args-not-json", "args-not-object", "bad-verdict", "no-secret"],
)
def test_bad_decisions(cli: Cli, workdir: Path, store: Path, args: list[str], named: str) -> None:
    """A decision that cannot be one is refused before anything is queued."""
    before = fingerprint(workdir)
    result = cli(*args, "--db", store)
    assert result.returncode != 0
    assert_clean_error(result, named)
    _check_unchanged(workdir, before)
