"""Approval notifications end to end: the real supervisor's outbox delivering to real HTTP
servers on 127.0.0.1, and decisions coming back through the signed webhook app.

The `payer` agent pays what its task lists in one model turn, then reports what each call
gave it. Its policy: payments up to 100 are `notify` (they run at once and someone is
told), up to 1000 need an approval. Clerks (ann, bob) may approve them.

Every test asserts on what a server really received and on what the journal and the
`notifications` table say; backoff is zero and timeouts are tenths of a second, so the
file runs in a few seconds and leaves no server, task or thread behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from cr_support import Harness, query
from http_support import HANG, HttpServer, Reply, drop_proxies, serving_http
from payer import PAID, PAYER

from controlroom.domain.approvals import Approval, ApprovalStatus
from controlroom.domain.events import (
    ApprovalDecided,
    DecisionRefused,
    NotificationFailed,
    NotificationSent,
)
from controlroom.domain.models import AgentStatus
from controlroom.governance.policy import (
    AgentPolicy,
    ApprovalSettings,
    ApproverRule,
    NotificationRoute,
    TierRule,
)
from controlroom.governance.policy_loader import PolicySet
from controlroom.notify.deliver import Notifier
from controlroom.webhooks.app import make_app
from controlroom.webhooks.signing import sign

SECRET = b"a-shared-secret-of-32-bytes-long"
SLACK_TOKEN = "XyZ0123456789abcdefGHIJK"  # the secret part of a Slack webhook URL

PAYER_POLICY = AgentPolicy(
    tiers=(
        TierRule(tool="pay", argument="amount", at_most=100, tier="notify"),
        TierRule(tool="pay", argument="amount", above=100, at_most=1000, tier="approve"),
    ),
    approval=ApprovalSettings(expires_after_s=600, on_expiry="deny"),
)


def _policies(*routes: NotificationRoute) -> PolicySet:
    return PolicySet(
        agents={"payer": PAYER_POLICY},
        approvers=(ApproverRule(who=("clerks",), tiers=("approve",)),),
        notify=routes,
        roles={"clerks": ("ann", "bob")},
    )


def _route(channel: str, target: str, **kw: Any) -> NotificationRoute:
    return NotificationRoute.model_validate({"channel": channel, "target": target, **kw})


def _notifier() -> Notifier:
    """A fresh Notifier for each supervisor (a supervisor closes its own on stopping)."""
    return Notifier(backoff=lambda _attempt: 0.0)


@pytest.fixture(autouse=True)
def _no_payments() -> None:
    PAID.clear()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


@pytest.fixture
async def http() -> AsyncIterator[HttpServer]:
    async with serving_http() as server:
        yield server


# -- helpers ------------------------------------------------------------------------------------


async def _run(harness: Harness, policies: PolicySet) -> None:
    await harness.run_until_idle([PAYER], policies=policies, notifier=_notifier())


def _outbox(harness: Harness) -> list[dict[str, Any]]:
    rows = query(
        harness.db.path,
        "SELECT id, status, attempts, detail, route, notification FROM notifications ORDER BY id",
    )
    return [
        {
            "id": row[0],
            "status": row[1],
            "attempts": row[2],
            "detail": row[3],
            "route": json.loads(row[4]),
            "notification": json.loads(row[5]),
        }
        for row in rows
    ]


async def _sent(harness: Harness) -> list[NotificationSent]:
    events = [e.event for e in await harness.entries(kind="notification_sent")]
    assert all(isinstance(e, NotificationSent) for e in events)
    return events  # type: ignore[return-value]


async def _failed(harness: Harness) -> list[NotificationFailed]:
    events = [e.event for e in await harness.entries(kind="notification_failed")]
    assert all(isinstance(e, NotificationFailed) for e in events)
    return events  # type: ignore[return-value]


async def _eventually(check: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# -- 1. delivery to a generic webhook and a Slack webhook ---------------------------------------


async def test_an_approval_request_reaches_a_generic_and_a_slack_webhook(
    harness: Harness, http: HttpServer
) -> None:
    slack_path = f"/services/T0001/B0002/{SLACK_TOKEN}"
    policies = _policies(
        _route("webhook", http.url("/generic"), kinds=("approval_requested",)),
        _route("slack", http.url(slack_path)),
        _route("webhook", http.url("/breakers"), kinds=("breaker",)),  # not this kind
        NotificationRoute(channel="log"),  # journaled only: nothing leaves the machine
    )
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))
    await _run(harness, policies)

    assert PAID == []
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    [approval] = await harness.waiting(agent_id)
    subject = f"Approval #{approval.id}: {agent_id} wants pay ($500.00)"

    assert sorted(r.path for r in http.received) == sorted(["/generic", slack_path])
    [generic] = http.at("/generic")
    assert generic.method == "POST"
    assert generic.headers["content-type"] == "application/json"
    body = generic.json()
    assert body["source"] == "controlroom"
    assert (body["kind"], body["subject"]) == ("approval_requested", subject)
    assert body["approval_id"] == approval.id
    assert body["agent_id"] == agent_id
    assert body["tool"] == "pay"
    assert body["arguments"] == {"to": "carol", "amount": 500}
    assert body["amount"] == 500.0
    assert any(c.startswith(f"controlroom approve {approval.id} ") for c in body["commands"])
    assert any(c.startswith(f"controlroom deny {approval.id} ") for c in body["commands"])
    assert "call: pay(to='carol', amount=500)" in body["lines"]

    [slack] = http.at(slack_path)
    message = slack.json()
    assert message["text"] == subject
    assert message["blocks"][0]["text"]["text"] == f"*{subject}*"
    code = next(
        b["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "section" and b["text"]["text"].startswith("```")
    )
    assert f"controlroom approve {approval.id} " in code

    rows = _outbox(harness)
    assert [(r["route"]["channel"], r["status"], r["attempts"]) for r in rows] == [
        ("webhook", "sent", 1),
        ("slack", "sent", 1),
        ("log", "sent", 1),
    ]
    assert [r["detail"] for r in rows] == ["HTTP 200", "HTTP 200", "logged"]
    sent = await _sent(harness)
    assert sorted((e.notification_id, e.channel, e.attempts) for e in sent) == [
        (rows[0]["id"], "webhook", 1),
        (rows[1]["id"], "slack", 1),
        (rows[2]["id"], "log", 1),
    ]
    assert all(e.subject == subject for e in sent)
    shown = {e.channel: e.target for e in sent}
    assert shown["webhook"] == http.url("/generic")
    assert shown["slack"] == http.url("/services/T0001/B0002/…")
    journal = json.dumps([e.event.model_dump(mode="json") for e in await harness.entries()])
    assert SLACK_TOKEN not in journal, "the Slack webhook's secret path reached the journal"
    assert await _failed(harness) == []
    # Delivery changed nothing about the agent or its approval.
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    assert [a.id for a in await harness.waiting(agent_id)] == [approval.id]


# -- 2. a server that always fails ---------------------------------------------------------------


async def test_a_failing_webhook_is_journaled_and_the_approval_still_works(
    harness: Harness, http: HttpServer
) -> None:
    http.default = Reply(500, b"internal trouble")
    policies = _policies(_route("webhook", http.url("/hook"), attempts=3, timeout_s=2))
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))
    await _run(harness, policies)

    assert len(http.received) == 3, "one request per attempt"
    assert len({r.body for r in http.received}) == 1, "every attempt sends the same body"
    [failed] = await _failed(harness)
    assert failed.attempts == 3
    assert "HTTP 500" in failed.reason and "gave up after 3 attempts" in failed.reason
    assert failed.channel == "webhook" and failed.target == http.url("/hook")
    assert await _sent(harness) == []
    [row] = _outbox(harness)
    assert (row["id"], row["status"], row["attempts"]) == (failed.notification_id, "failed", 3)
    assert row["detail"] == failed.reason

    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    [approval] = await harness.waiting(agent_id)
    assert approval.status is ApprovalStatus.PENDING
    await harness.decide(approval.id, "approve", operator="ann")
    await _run(harness, policies)
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)]
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, "paid carol 500")
    assert len(http.received) == 3, "a failed notification is not sent again"
    assert [r["status"] for r in _outbox(harness)] == ["failed"]


# -- 3. a server that hangs once, then recovers --------------------------------------------------


async def test_a_hanging_webhook_is_retried_after_the_timeout_and_delivered(
    harness: Harness, http: HttpServer
) -> None:
    http.script = [HANG]
    policies = _policies(_route("webhook", http.url("/hook"), attempts=3, timeout_s=0.3))
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))
    await _run(harness, policies)

    assert len(http.received) == 2
    assert http.received[0].body == http.received[1].body
    [sent] = await _sent(harness)
    assert sent.attempts == 2
    assert await _failed(harness) == []
    [row] = _outbox(harness)
    assert (row["id"], row["status"], row["attempts"]) == (sent.notification_id, "sent", 2)
    [approval] = await harness.waiting(agent_id)
    assert http.received[1].json()["approval_id"] == approval.id
    assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL


# -- 4. a notify-tier call -----------------------------------------------------------------------


async def test_a_notify_tier_call_runs_at_once_and_is_announced(
    harness: Harness, http: HttpServer
) -> None:
    policies = _policies(_route("webhook", http.url("/hook")))
    agent_id = await harness.submit("payer", json.dumps([("dan", 60)]))
    await _run(harness, policies)

    assert [(to, amount) for to, amount, _ in PAID] == [("dan", 60)]
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, "paid dan 60")
    assert await harness.approvals(agent_id) == []
    kinds = [e.event.kind for e in await harness.entries(agent_id)]
    assert "approval_requested" not in kinds and "agent_suspended" not in kinds

    [received] = http.received
    body = received.json()
    assert body["kind"] == "notified"
    assert body["subject"] == f"Notice: {agent_id} ran pay ($60.00)"
    assert body["tier"] == "notify" and body["approval_id"] is None
    assert body["arguments"] == {"to": "dan", "amount": 60}
    assert "result: paid dan 60" in body["lines"]
    assert any(c.startswith(f"controlroom pause {agent_id} ") for c in body["commands"])
    [sent] = await _sent(harness)
    assert (sent.subject, sent.attempts) == (body["subject"], 1)


# -- 5. a delivery interrupted by a stop is sent by the next supervisor --------------------------


async def test_a_notification_left_pending_by_a_stop_is_sent_by_the_next_supervisor(
    harness: Harness, http: HttpServer
) -> None:
    http.script = [HANG]
    policies = _policies(_route("webhook", http.url("/hook"), attempts=2, timeout_s=30))
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))

    first = harness.supervisor([PAYER], policies, notifier=_notifier())
    await first.start()
    try:
        await _eventually(lambda: len(http.received) == 1)
        # The delivery hangs; the agent is already waiting for its decision regardless.
        assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
    finally:
        await first.stop()
    assert first.fatal_error is None, first.fatal_error

    [row] = _outbox(harness)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert await _sent(harness) == [] and await _failed(harness) == []

    await _run(harness, policies)
    assert len(http.received) == 2
    assert http.received[0].body == http.received[1].body
    [sent] = await _sent(harness)
    assert (sent.notification_id, sent.attempts) == (row["id"], 1)
    assert await _failed(harness) == []
    [row] = _outbox(harness)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    [approval] = await harness.waiting(agent_id)
    assert http.received[1].json()["approval_id"] == approval.id
    assert PAID == []


# -- 6. decisions through the signed webhook -----------------------------------------------------


async def test_a_signed_webhook_decision_resumes_the_agent_and_bad_ones_are_refused(
    harness: Harness,
) -> None:
    policies = _policies()
    agent_id, approval = await _one_waiting(harness, policies)

    body = json.dumps(
        {"approval": approval.id, "verdict": "approve", "approver": "ann", "note": "ok"}
    ).encode()
    stamp = harness.clock.now_ms() // 1000
    good = {
        "X-Signature": sign(SECRET, stamp, body),
        "X-Request-Timestamp": str(stamp),
        "Content-Type": "application/json",
    }
    forged = {**good, "X-Signature": sign(b"not-the-secret", stamp, body)}
    app = make_app(harness.db, SECRET, harness.clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://controlroom.test"
    ) as client:
        refused = await client.post("/decisions", content=body, headers=forged)
        assert refused.status_code == 401, refused.text
        assert refused.json() == {"accepted": False, "error": "bad signature"}

        await _run(harness, policies)
        [rejected] = [
            e.event
            for e in await harness.entries(kind="decision_refused")
            if isinstance(e.event, DecisionRefused)
        ]
        assert (rejected.via, rejected.reason) == ("webhook", "bad signature")
        # An unsigned body names nobody: the refusal is not pinned on its approval or ann.
        assert (rejected.approval_id, rejected.operator) == (None, "webhook")
        assert PAID == []
        assert (await harness.record(agent_id)).status is AgentStatus.AWAITING_APPROVAL
        assert await harness.entries(agent_id, kind="approval_decided") == []

        accepted = await client.post("/decisions", content=body, headers=good)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["accepted"] is True
        assert accepted.json()["approval"] == approval.id
        replayed = await client.post("/decisions", content=body, headers=good)
        assert replayed.status_code == 409, replayed.text
        assert replayed.json()["error"] == "replayed"

        await _run(harness, policies)

    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)]
    record = await harness.record(agent_id)
    assert (record.status, record.result) == (AgentStatus.COMPLETED, "paid carol 500")
    [decided] = await harness.entries(agent_id, kind="approval_decided")
    assert isinstance(decided.event, ApprovalDecided)
    assert decided.event.approvers == ("ann",)
    assert decided.event.verdict == "approve" and decided.event.note == "ok"
    assert decided.identity == "operator:ann"
    [closed] = await harness.approvals(agent_id)
    assert closed.status is ApprovalStatus.DECIDED
    refusals = [e.event for e in await harness.entries() if isinstance(e.event, DecisionRefused)]
    assert [(r.via, r.reason) for r in refusals] == [
        ("webhook", "bad signature"),
        ("webhook", "replayed"),
    ]


async def test_stale_unknown_and_decided_webhook_decisions_are_refused_and_journaled(
    harness: Harness,
) -> None:
    policies = _policies()
    _agent_id, approval = await _one_waiting(harness, policies)
    now_s = harness.clock.now_ms() // 1000

    def signed(fields: dict[str, Any], stamp: int = now_s) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"verdict": "deny", "approver": "bob", **fields}).encode()
        headers = {"X-Signature": sign(SECRET, stamp, body), "X-Request-Timestamp": str(stamp)}
        return body, headers

    app = make_app(harness.db, SECRET, harness.clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://controlroom.test"
    ) as client:
        stale = await _post(client, signed({"approval": approval.id}, now_s - 301))
        unknown = await _post(client, signed({"approval": 999}))
        assert (stale.status_code, unknown.status_code) == (401, 404)
        assert "stale timestamp" in stale.json()["error"]
        await harness.decide(approval.id, "approve", operator="ann")
        await _run(harness, policies)
        decided = await _post(client, signed({"approval": approval.id, "note": "late"}))
        assert decided.status_code == 409, decided.text
        await _run(harness, policies)

    refusals = [e.event for e in await harness.entries() if isinstance(e.event, DecisionRefused)]
    assert [(r.via, r.approval_id) for r in refusals] == [
        ("webhook", None),  # unsigned as far as we know: it names nobody
        ("webhook", 999),
        ("webhook", approval.id),
    ]
    assert "stale timestamp" in refusals[0].reason
    assert refusals[1].reason == "no approval 999"
    assert refusals[2].reason == f"approval {approval.id} is decided"
    assert [(to, amount) for to, amount, _ in PAID] == [("carol", 500)], "ann's approval ran"


async def _one_waiting(harness: Harness, policies: PolicySet) -> tuple[str, Approval]:
    """A payer whose 500 to carol waits for approval, and that approval."""
    agent_id = await harness.submit("payer", json.dumps([("carol", 500)]))
    await _run(harness, policies)
    [approval] = await harness.waiting(agent_id)
    return agent_id, approval


async def _post(client: httpx.AsyncClient, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = signed
    return await client.post("/decisions", content=body, headers=headers)
