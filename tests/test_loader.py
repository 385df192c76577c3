"""Loading agent definitions from a directory: a broken file names itself, as `path:line: what`.

Each test writes its own agent files into `tmp_path`, so module caching between tests is not
an issue (the loader keys modules by resolved path).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from cr_support import EXAMPLE_AGENTS

from controlroom.errors import AgentLoadError
from controlroom.runtime.loader import load_agents

GOOD = """\
from controlroom import ScriptView, Turn, agent, tool


@tool
def echo(text: str) -> str:
    return text


def script(view: ScriptView) -> Turn:
    return Turn.final(view.task)


{name} = agent(name="{name}", tools=[echo], script=script)
"""


def write(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


def one_line(exc: pytest.ExceptionInfo[AgentLoadError]) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    return message


def test_loads_the_example_agents() -> None:
    agents = load_agents(EXAMPLE_AGENTS)
    assert set(agents) == {
        "mailer",
        "refunds",
        "research",
        "ops",
        "runaway",
        "watcher",
        "research_team",
        "brief_planner",
        "page_reader",
        "fact_checker",
    }
    team = agents["research_team"].team
    assert team is not None and team.members == ("brief_planner", "page_reader", "fact_checker")
    assert {t.name for t in agents["refunds"].tools} == {"lookup_order", "issue_refund"}
    fetch = agents["research"].tool("fetch_page")
    assert fetch is not None and fetch.untrusted, "a web page is untrusted input"


def test_loads_every_agent_of_a_directory_and_skips_private_files(tmp_path: Path) -> None:
    write(tmp_path, "alpha.py", GOOD.format(name="alpha"))
    write(tmp_path, "beta.py", GOOD.format(name="beta"))
    write(tmp_path, "_private.py", "raise RuntimeError('never imported')\n")
    write(tmp_path, "notes.txt", "not python")
    assert sorted(load_agents(tmp_path)) == ["alpha", "beta"]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "broken.py",
        """\
        from controlroom import agent

        def script(view)
            return None
        """,
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agents(tmp_path)
    message = one_line(caught)
    assert message.startswith(f"{path}:3: syntax error")


def test_import_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "needs.py",
        """\
        from controlroom import agent
        import os

        import no_such_module_for_controlroom_tests
        """,
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agents(tmp_path)
    message = one_line(caught)
    assert message.startswith(f"{path}:4: ModuleNotFoundError")
    assert "no_such_module_for_controlroom_tests" in message


def test_exception_at_import_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "boom.py",
        """\
        LIMITS = {"a": 1}


        def limit(name):
            return LIMITS[name]


        DEFAULT = limit("b")
        """,
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agents(tmp_path)
    # The innermost line of the file the exception passed through: where it was raised.
    assert one_line(caught) == f"{path}:5: KeyError: 'b'"


def test_definition_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "badtool.py",
        """\
        from controlroom import ToolContext, tool


        @tool(effect="reconcilable")
        def create(ctx: ToolContext, name: str) -> str:
            return name
        """,
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agents(tmp_path)
    message = one_line(caught)
    assert message.startswith(f"{path}:")
    assert "a reconcilable tool needs lookup=" in message
    line = int(message[len(str(path)) + 1 :].split(":", 1)[0])
    assert line in (4, 5), message


def test_failed_module_is_not_left_half_loaded(tmp_path: Path) -> None:
    path = write(tmp_path, "flaky.py", GOOD.format(name="flaky") + "\nraise RuntimeError('no')\n")
    before = set(sys.modules)
    with pytest.raises(AgentLoadError, match="RuntimeError: no"):
        load_agents(tmp_path)
    assert set(sys.modules) - before == set(), "a failed agent module stayed in sys.modules"
    path.write_text(GOOD.format(name="flaky"))
    assert list(load_agents(tmp_path)) == ["flaky"]


def test_same_agent_name_in_two_files_is_refused(tmp_path: Path) -> None:
    first = write(tmp_path, "a_first.py", GOOD.format(name="twin"))
    second = write(tmp_path, "b_second.py", GOOD.format(name="twin"))
    with pytest.raises(AgentLoadError) as caught:
        load_agents(tmp_path)
    message = one_line(caught)
    assert str(first) in message and str(second) in message and "'twin'" in message


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(AgentLoadError, match=r"agents directory does not exist"):
        load_agents(tmp_path / "nowhere")


def test_file_instead_of_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "single.py", GOOD.format(name="single"))
    with pytest.raises(AgentLoadError, match=r"is not a directory"):
        load_agents(path)


def test_a_team_naming_an_agent_that_is_not_defined_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "alpha.py", GOOD.format(name="alpha"))
    write(
        tmp_path,
        "crew.py",
        "from controlroom import team\n"
        "crew = team(name='crew', planner='alpha', specialists={'work': 'ghost'})\n",
    )
    with pytest.raises(AgentLoadError) as refused:
        load_agents(tmp_path)
    assert str(refused.value) == f"{tmp_path}: team crew: member 'ghost' is not a defined agent"
