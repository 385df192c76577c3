"""The allowlist is the framework's, not the prompt's: nothing a model says gets past it."""

from __future__ import annotations

from cr_support import Harness

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.events import JournalEntry, ToolCallDenied, ToolCallSucceeded
from controlroom.domain.models import AgentStatus
from controlroom.governance.outbound import destinations
from controlroom.governance.policy import AgentPolicy, OutboundRule
from controlroom.governance.policy_loader import PolicySet
from controlroom.runtime.invoke import MAX_RESULT_CHARS

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


# -- outbound rules -----------------------------------------------------------------------------

SENT: list[tuple[str, str]] = []


@tool(effect="idempotent_by_key")
async def send(ctx: ToolContext, to: str, body: str) -> str:
    SENT.append((to, body))
    return "sent"


MAILS = [
    ("alice@example.com", "lunch at noon"),  # allowed
    ("eve@evil.test", "lunch at noon"),  # domain not allowed
    ("bob@mail.example.com", "see https://example.com/menu"),  # subdomain: allowed
    ("carol@example.com", "the api_key = 12345"),  # a secret in the body
    ("dave@example.com", "details at https://evil.test/x"),  # a link elsewhere
    ("Eve@EXAMPLE.COM.evil.test", "hi"),  # looks like ours, is not
]


def _mailing(view: ScriptView) -> Turn:
    if view.step <= len(MAILS):
        to, body = MAILS[view.step - 1]
        return Turn.call("send", to=to, body=body)
    return Turn.final("done")


MAILER = agent(name="outbound-mailer", tools=[send], script=_mailing, max_steps=20)
OUTBOUND = PolicySet(
    {
        "outbound-mailer": AgentPolicy(
            outbound=(
                OutboundRule(argument="to", allow_domains=("example.com",)),
                OutboundRule(
                    tool="send",
                    argument="body",
                    deny_patterns=(r"(?i)api[_-]?key\s*[:=]",),
                    allow_domains=("example.com",),
                ),
            )
        )
    }
)


async def test_outbound_rules_stop_what_must_not_leave(harness: Harness) -> None:
    SENT.clear()
    agent_id = await harness.submit("outbound-mailer", "send the mails")
    await harness.run_until_idle([MAILER], policies=OUTBOUND)
    assert [MAILS[0], MAILS[2]] == SENT
    denied = _denied(await harness.entries(agent_id))
    assert len(denied) == 4
    assert "goes to evil.test" in denied[0].reason
    assert "must not leave" in denied[1].reason and "12345" not in denied[1].reason
    assert "goes to evil.test" in denied[2].reason
    assert "goes to example.com.evil.test" in denied[3].reason
    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED


def test_destinations_are_found_in_addresses_and_urls() -> None:
    text = 'mail A@Example.COM, "b@x.org"; get ftp://user@files.example.net/a and http://h.io.'
    assert destinations(text) == ["example.com", "x.org", "files.example.net", "h.io"]


# -- results ------------------------------------------------------------------------------------


@tool
async def dump() -> str:
    return "x" * 2_000_000


def _dumping(view: ScriptView) -> Turn:
    return Turn.call("dump") if view.step == 1 else Turn.final("read it")


DUMPER = agent(name="dumper", tools=[dump], script=_dumping)


async def test_a_huge_result_is_truncated_with_a_marker_and_the_agent_goes_on(
    harness: Harness,
) -> None:
    agent_id = await harness.submit("dumper", "read the dump")
    await harness.run_until_idle([DUMPER])
    [result] = [
        e.event for e in await harness.entries(agent_id) if isinstance(e.event, ToolCallSucceeded)
    ]
    assert len(result.result) < MAX_RESULT_CHARS + 100
    assert result.result.endswith(
        f"[truncated by Control Room: {2_000_000 - MAX_RESULT_CHARS} more characters]"
    )
    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
