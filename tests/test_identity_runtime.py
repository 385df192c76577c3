"""Identity in the runtime: every agent acts under its own short-lived credential, every call
is proved with it at the gate, and every journaled event names the credential it was made
under. (The token attacks themselves are in test_identity.py.)"""

from __future__ import annotations

from cr_support import Harness

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.clock import FakeClock
from controlroom.domain.models import AgentStatus, ToolCall
from controlroom.governance.gate import CallProof, Gate
from controlroom.governance.identity import CredentialAuthority, bind

DONE: list[int] = []


@tool(effect="idempotent_by_key")
async def work(ctx: ToolContext, n: int) -> str:
    DONE.append(n)
    return f"did {n}"


def _worker(steps: int, clock: FakeClock | None = None, tick_s: float = 0.0):  # type: ignore[no-untyped-def]
    def script(view: ScriptView) -> Turn:
        if clock is not None:
            clock.advance(tick_s)  # a slow model: time passes between calls
        return Turn.call("work", n=view.step) if view.step <= steps else Turn.final("done")

    return agent(name="worker", tools=[work], script=script)


async def test_every_event_of_an_agent_is_attributed_to_its_current_credential(
    harness: Harness,
) -> None:
    DONE.clear()
    agent_id = await harness.submit("worker", "work")
    await harness.run_until_idle([_worker(3)])
    assert (await harness.record(agent_id)).status is AgentStatus.COMPLETED
    assert DONE == [1, 2, 3]

    entries = await harness.entries(agent_id)
    issued = [e for e in entries if e.event.kind == "credential_issued"]
    assert len(issued) == 1 and entries[0] is issued[0]
    credential = issued[0].event.model_dump()["credential"]
    mine = f"agent:{agent_id}/{credential}"
    agent_events = [e for e in entries if not e.identity.startswith(("operator:", "supervisor:"))]
    assert {e.identity for e in agent_events} == {mine}
    assert {e.event.kind for e in agent_events} >= {"tool_call_started", "tool_call_succeeded"}


async def test_a_credential_is_renewed_before_it_expires_and_calls_go_on(harness: Harness) -> None:
    DONE.clear()
    agent_id = await harness.submit("worker", "work")
    # Credentials live 100 s (renewed in their last 20 s); each turn takes 30 s.
    await harness.run_until_idle([_worker(8, harness.clock, tick_s=30)], credential_lifetime_s=100)
    record = await harness.record(agent_id)
    assert record.status is AgentStatus.COMPLETED, record.error
    assert list(range(1, 9)) == DONE
    assert not await harness.entries(agent_id, "tool_call_denied")

    entries = await harness.entries(agent_id)
    issued = [e for e in entries if e.event.kind == "credential_issued"]
    assert len(issued) >= 3  # 8 turns of 30 s under 100 s credentials
    # Each credential expires after the calls made under it.
    current = None
    for entry in entries:
        if entry.event.kind == "credential_issued":
            current = entry.event.model_dump()
            assert entry.identity == f"agent:{agent_id}/{current['credential']}"
        elif entry.event.kind == "tool_call_started":
            assert current is not None and entry.ts_ms < current["expires_ms"]
            assert entry.identity == f"agent:{agent_id}/{current['credential']}"


def _proof(signer: CredentialAuthority, call: ToolCall) -> CallProof:
    credential = signer.issue("worker-1", "run-1")
    proof = bind(credential, call_id=call.id, tool=call.name, args_hash="h")
    return CallProof("worker-1", "run-1", credential.token, proof, "h")


def test_the_gate_refuses_a_call_without_a_credential_or_with_a_forged_one() -> None:
    clock = FakeClock()
    authority = CredentialAuthority(clock)
    gate = Gate(authority=authority)
    spec = _worker(1)
    call = ToolCall(id="s1c0", name="work", arguments={"n": 1})

    missing = gate.check(spec, call)
    assert not missing.allowed
    assert missing.reason == "no credential: every call must carry its agent's credential"

    forged = gate.check(spec, call, proof=_proof(CredentialAuthority(clock), call))
    assert not forged.allowed and forged.reason.startswith("credential refused (bad-signature)")

    genuine = _proof(authority, call)
    assert gate.check(spec, call, proof=genuine).allowed
    replayed = gate.check(spec, call, proof=genuine)
    assert not replayed.allowed and replayed.reason.startswith("credential refused (replayed)")

    later = ToolCall(id="s2c0", name="work", arguments={"n": 2})
    unused = _proof(authority, later)
    clock.advance(15 * 60)  # the default lifetime
    expired = gate.check(spec, later, proof=unused)
    assert not expired.allowed and expired.reason.startswith("credential refused (expired)")
