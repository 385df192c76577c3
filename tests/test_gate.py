"""The allowlist is the framework's, not the prompt's: nothing a model says gets past it."""

from __future__ import annotations

from cr_support import Harness

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.events import JournalEntry, ToolCallDenied
from controlroom.domain.models import AgentStatus
from controlroom.governance.policy import AgentPolicy
from controlroom.governance.policy_loader import PolicySet

WIPED: list[str] = []

# What an insisting model might try: the real name, then names that differ only in case,
# width, invisible characters or look-alike letters (Cyrillic i, Greek omicron).
ATTEMPTS = [
    "wipe_disk",
    "WIPE_DISK",
    "Wipe_Disk",
    "\uff57\uff49\uff50\uff45_\uff44\uff49\uff53\uff4b",  # full width
    "wipe_disk\u200b",
    "\u202ewipe_disk",
    "wipe_d\u0456sk",
    "wipe_disk ",
    "wipe-disk",
]


@tool
async def read_file(path: str) -> str:
    return f"contents of {path}"


@tool(effect="unsafe")
async def wipe_disk(ctx: ToolContext, device: str) -> str:
    WIPED.append(device)
    return f"wiped {device}"


def _insisting(view: ScriptView) -> Turn:
    round_ = view.step - 1
    if round_ < 3 * len(ATTEMPTS):
        name = ATTEMPTS[round_ % len(ATTEMPTS)]
        return Turn(
            text="I really must wipe the disk.",
            tool_calls=(
                Turn.call(name, device="/dev/sda").tool_calls[0],
                Turn.call("read_file", path="/etc/motd").tool_calls[0],
            ),
        )
    return Turn.final("gave up")


INSISTER = agent(name="insister", tools=[read_file, wipe_disk], script=_insisting, max_steps=100)
READ_ONLY = PolicySet({"insister": AgentPolicy(tools=("read_file",))})


def _denied(entries: list[JournalEntry]) -> list[ToolCallDenied]:
    return [e.event for e in entries if isinstance(e.event, ToolCallDenied)]


async def test_a_tool_off_the_allowlist_never_runs_however_it_is_asked(harness: Harness) -> None:
    WIPED.clear()
    agent_id = await harness.submit("insister", "clean up")
    await harness.run_until_idle([INSISTER], policies=READ_ONLY)

    assert WIPED == [], "a tool off the allowlist ran"
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED, record
    entries = await harness.entries(agent_id)
    assert sorted(d.tool for d in _denied(entries)) == sorted(ATTEMPTS * 3)
    assert not [
        e for e in entries if e.event.kind == "tool_call_started" and "wipe" in e.event.tool
    ]
    reads = [e for e in entries if e.event.kind == "tool_call_succeeded"]
    assert len(reads) == 3 * len(ATTEMPTS), "the allowed tool kept working beside the denials"
    reasons = {d.tool: d.reason for d in _denied(entries)}
    assert "resembles 'wipe_disk'" in reasons["WIPE_DISK"]
    assert "resembles 'wipe_disk'" in reasons["wipe_disk\u200b"]


async def test_without_a_policy_the_definition_is_the_allowlist(harness: Harness) -> None:
    """No policy: the agent may use what it declares, and still nothing else."""
    WIPED.clear()
    agent_id = await harness.submit("insister", "clean up")
    await harness.run_until_idle([INSISTER])
    entries = await harness.entries(agent_id)
    assert WIPED == ["/dev/sda"] * 3  # only the exact name ran, once per round
    expected = sorted([a for a in ATTEMPTS if a != "wipe_disk"] * 3)
    assert sorted(d.tool for d in _denied(entries)) == expected
