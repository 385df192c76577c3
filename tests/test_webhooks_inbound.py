"""Inbound decisions over HTTP: the signature scheme, the app's answers and what each one
leaves in the command inbox, and one real server on an ephemeral loopback port.

The app is driven through httpx's ASGI transport on a real database file; approvals are
written with the store's own statements through plain sqlite3, as the supervisor would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlroom.clock import FakeClock
from controlroom.domain.approvals import Approval, ApprovalKind, ApprovalStatus, Decision
from controlroom.errors import ControlRoomError
from controlroom.store import approvals as approval_rows
from controlroom.store.database import Database, open_database
from controlroom.webhooks.app import MAX_BODY_BYTES, make_app
from controlroom.webhooks.server import secret_from_env, serve
from controlroom.webhooks.signing import SignatureRefused, sign, verify

SECRET = b"a-shared-secret-of-32-bytes-long"
TOLERANCE_S = 300


# -- helpers ----------------------------------------------------------------------------------


def approval(approval_id: int = 7, **changes: Any) -> Approval:
    fields: dict[str, Any] = {
        "id": approval_id,
        "kind": ApprovalKind.CALL,
        "agent_id": "refunds-1",
        "agent": "refunds",
        "task": "refund order 42",
        "user": "bob",
        "step": 3,
        "call_id": "call-1",
        "tool": "issue_refund",
        "arguments": {"order": 42, "amount": 30},
        "digest": "d" * 64,
        "requested_ms": 1_767_225_000_000,
    }
    fields.update(changes)
    return Approval(**fields)


def store(path: Path, *records: Approval, update: bool = False) -> None:
    conn = sqlite3.connect(str(path), timeout=10)
    try:
        for record in records:
            statement = (approval_rows.update if update else approval_rows.insert)(record)
            conn.execute(statement.sql, statement.params)
        conn.commit()
    finally:
        conn.close()


def commands(path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(str(path), timeout=10)
    try:
        rows = conn.execute(
            "SELECT id, command, target, operator, status, payload FROM commands ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [
        {
            "id": row[0],
            "command": row[1],
            "target": row[2],
            "operator": row[3],
            "status": row[4],
            "payload": None if row[5] is None else json.loads(row[5]),
        }
        for row in rows
    ]


def remembered(path: Path) -> int:
    conn = sqlite3.connect(str(path), timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM webhook_requests").fetchone()[0])
    finally:
        conn.close()


def signed(
    body: bytes,
    timestamp: int,
    secret: bytes = SECRET,
    names: tuple[str, str] = ("X-Signature", "X-Request-Timestamp"),
) -> dict[str, str]:
    return {
        names[0]: sign(secret, timestamp, body),
        names[1]: str(timestamp),
        "Content-Type": "application/json",
    }


def decision(**fields: Any) -> bytes:
    data: dict[str, Any] = {"approval": 7, "verdict": "approve", "approver": "alice"}
    data.update(fields)
    return json.dumps(data).encode()


class Sender:
    """Posts to the app in-process and reads back what it queued."""

    def __init__(self, client: httpx.AsyncClient, clock: FakeClock, path: Path) -> None:
        self.client = client
        self.clock = clock
        self.path = path

    @property
    def now_s(self) -> int:
        return self.clock.now_ms() // 1000

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        if headers is None:
            headers = signed(body, self.now_s)
        return await self.client.post("/decisions", content=body, headers=headers)

    def commands(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [c for c in commands(self.path) if kind is None or c["command"] == kind]


@pytest.fixture
async def sender(db: Database, clock: FakeClock) -> AsyncIterator[Sender]:
    store(db.path, approval())
    app = make_app(db, SECRET, clock, tolerance_s=TOLERANCE_S)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Sender(client, clock, db.path)


def assert_refused(sender: Sender, response: httpx.Response, status: int, error: str) -> None:
    """Answered `status` with `error` in one line, journaled as refused, nothing decided."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["accepted"] is False
    assert error in body["error"]
    assert "\n" not in body["error"]
    refused = sender.commands("decision-refused")
    assert refused, "the refusal was not queued for the journal"
    assert refused[-1]["payload"] == {"via": "webhook", "reason": body["error"], "status": status}
    assert refused[-1]["status"] == "pending"
    assert sender.commands("decide") == []


# -- signing ----------------------------------------------------------------------------------


def test_sign_matches_an_independent_hmac() -> None:
    """The header is `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    body = b'{"approval": 7}'
    digest = hmac.new(SECRET, b"v0:1767225600:" + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1767225600, body) == f"v0={digest}"


def test_sign_matches_slacks_published_example() -> None:
    """The worked example from Slack's "Verifying requests from Slack" page."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    secret = b"8f742231b10e8888abcd99yyyzzz85a5"
    assert sign(secret, 1531420618, body) == expected
    assert verify(secret, "1531420618", expected, body, now_s=1531420618) == expected


def test_verify_returns_the_signature_within_tolerance() -> None:
    body = b"{}"
    signature = sign(SECRET, 1000, body)
    assert verify(SECRET, "1000", signature, body, now_s=1000 + 300) == signature
    assert verify(SECRET, "1000", signature, body, now_s=1000 - 300) == signature


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "reason"),
    [
        ("1000", "TAMPERED", b'{"verdict": "approve"}', "bad signature"),
        ("1001", "GOOD", b'{"verdict": "deny"}', "bad signature"),
        ("1000", "GOOD", b'{"verdict": "deny"}', None),
        (None, "GOOD", b'{"verdict": "deny"}', "timestamp"),
        ("", "GOOD", b'{"verdict": "deny"}', "timestamp"),
        ("10e2", "GOOD", b'{"verdict": "deny"}', "not a number"),
        ("-1000", "GOOD", b'{"verdict": "deny"}', "not a number"),
        ("1_000", "GOOD", b'{"verdict": "deny"}', "not a number"),
        ("1000", None, b'{"verdict": "deny"}', "missing signature"),
        ("1000", "v1=GOOD", b'{"verdict": "deny"}', "version"),
        ("1000", "GOODHEX", b'{"verdict": "deny"}', "version"),
        ("1000", "UPPER", b'{"verdict": "deny"}', "bad signature"),
        ("1000", "v0=é", b'{"verdict": "deny"}', "bad signature"),
    ],
)
def test_verify_refuses_what_was_not_signed(
    timestamp: str | None, signature: str | None, body: bytes, reason: str | None
) -> None:
    """Signed: timestamp 1000, body `{"verdict": "deny"}`; anything else is refused."""
    good = sign(SECRET, 1000, b'{"verdict": "deny"}')
    header = {
        None: None,
        "GOOD": good,
        "TAMPERED": good,
        "v1=GOOD": "v1=" + good.removeprefix("v0="),
        "GOODHEX": good.removeprefix("v0="),
        "UPPER": "v0=" + good.removeprefix("v0=").upper(),
    }.get(signature, signature)
    if reason is None:
        assert verify(SECRET, timestamp, header, body, now_s=1000) == good
        return
    with pytest.raises(SignatureRefused, match=reason) as refused:
        verify(SECRET, timestamp, header, body, now_s=1000)
    assert refused.value.stale is False
    with pytest.raises(SignatureRefused):
        verify(b"another-secret-entirely", "1000", good, b'{"verdict": "deny"}', now_s=1000)


@pytest.mark.parametrize("skew_s", [301, -301, 86_400])
def test_verify_calls_a_timestamp_outside_tolerance_stale(skew_s: int) -> None:
    signature = sign(SECRET, 1000, b"{}")
    with pytest.raises(SignatureRefused, match="stale") as refused:
        verify(SECRET, "1000", signature, b"{}", now_s=1000 + skew_s)
    assert refused.value.stale is True


# -- the app: accepted ------------------------------------------------------------------------


async def test_a_signed_decision_is_queued_for_the_supervisor(sender: Sender) -> None:
    """202, and exactly one pending `decide` command carrying the decision."""
    response = await sender.post(decision(note="looks right"))
    assert response.status_code == 202, response.text
    queued = sender.commands()
    assert len(queued) == 1
    [command] = queued
    assert response.json() == {"accepted": True, "command": command["id"], "approval": 7}
    assert command == {
        "id": command["id"],
        "command": "decide",
        "target": "7",
        "operator": "alice",
        "status": "pending",
        "payload": {
            "verdict": "approve",
            "note": "looks right",
            "arguments": None,
            "message": "",
            "result": "",
            "via": "webhook",
        },
    }


async def test_slack_header_names_and_edited_arguments(sender: Sender) -> None:
    body = decision(arguments={"order": 42, "amount": 25})
    headers = signed(body, sender.now_s, names=("X-Slack-Signature", "X-Slack-Request-Timestamp"))
    response = await sender.post(body, headers)
    assert response.status_code == 202, response.text
    [command] = sender.commands("decide")
    assert command["payload"]["arguments"] == {"order": 42, "amount": 25}


async def test_respond_and_in_doubt_verdicts_carry_their_text(sender: Sender) -> None:
    store(sender.path, approval(8, kind=ApprovalKind.IN_DOUBT))
    first = await sender.post(decision(verdict="respond", message="use the ledger instead"))
    second = await sender.post(decision(approval=8, verdict="happened", result='{"ok": true}'))
    assert (first.status_code, second.status_code) == (202, 202)
    decided = sender.commands("decide")
    assert [(c["target"], c["payload"]["verdict"]) for c in decided] == [
        ("7", "respond"),
        ("8", "happened"),
    ]
    assert decided[0]["payload"]["message"] == "use the ledger instead"
    assert decided[1]["payload"]["result"] == '{"ok": true}'


async def test_healthz(sender: Sender) -> None:
    response = await sender.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True


# -- the app: refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Signature": "v0=" + "0" * 64, "X-Request-Timestamp": "NOW"},
        {"X-Signature": "SIGNED-BY-ANOTHER", "X-Request-Timestamp": "NOW"},
        {"X-Request-Timestamp": "NOW"},
        {"X-Signature": "SIGNED"},
        {},
    ],
    ids=["wrong-digest", "wrong-secret", "no-signature", "no-timestamp", "no-headers"],
)
async def test_a_bad_signature_is_refused(sender: Sender, headers: dict[str, str]) -> None:
    """401, journaled without trusting the body's approval or approver, nothing decided."""
    body = decision(approver="mallory")
    filled = {
        name: {
            "NOW": str(sender.now_s),
            "SIGNED": sign(SECRET, sender.now_s, body),
            "SIGNED-BY-ANOTHER": sign(b"not-the-shared-secret!", sender.now_s, body),
        }.get(value, value)
        for name, value in headers.items()
    }
    response = await sender.post(body, filled)
    assert_refused(sender, response, 401, "")
    [refused] = sender.commands("decision-refused")
    assert (refused["target"], refused["operator"]) == ("", "webhook")


@pytest.mark.parametrize("skew_s", [TOLERANCE_S + 1, -(TOLERANCE_S + 1)], ids=["old", "future"])
async def test_a_stale_timestamp_is_refused(sender: Sender, skew_s: int) -> None:
    body = decision()
    response = await sender.post(body, signed(body, sender.now_s - skew_s))
    assert_refused(sender, response, 401, "stale")


async def test_the_same_signed_request_twice_is_a_replay(sender: Sender) -> None:
    body = decision()
    headers = signed(body, sender.now_s)
    first = await sender.post(body, headers)
    sender.clock.advance(5)
    second = await sender.post(body, headers)
    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json() == {"accepted": False, "error": "replayed"}
    assert len(sender.commands("decide")) == 1
    [refused] = sender.commands("decision-refused")
    assert refused["payload"]["status"] == 409


async def test_an_unknown_approval_is_refused(sender: Sender) -> None:
    response = await sender.post(decision(approval=99))
    assert_refused(sender, response, 404, "no approval 99")
    [refused] = sender.commands("decision-refused")
    assert (refused["target"], refused["operator"]) == ("99", "alice")


@pytest.mark.parametrize(
    "status", [ApprovalStatus.DECIDED, ApprovalStatus.EXPIRED, ApprovalStatus.CANCELLED]
)
async def test_an_approval_no_longer_open_is_refused(
    sender: Sender, status: ApprovalStatus
) -> None:
    settled = approval(
        status=status,
        decision=Decision(verdict="deny", approvers=("carol",), decided_ms=1_767_225_100_000)
        if status is ApprovalStatus.DECIDED
        else None,
    )
    store(sender.path, settled, update=True)
    response = await sender.post(decision())
    assert_refused(sender, response, 409, f"approval 7 is {status.value}")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"approval": 7, "approval": 8, "verdict": "approve", "approver": "a"}', "duplicate"),
        (b'{"approval": 7, "verdict": "approve", "approver": "a", "arguments": {"x": NaN}}', "NaN"),
        (decision(approval="7"), "approval"),
        (decision(approval=True), "approval"),
        (decision(approval=0), "approval"),
        (decision(approval=2**70), "approval"),
        (decision(verdict="yes"), "verdict"),
        (decision(verdict=None), "verdict"),
        (decision(approver=""), "approver"),
        (decision(approver=["alice"]), "approver"),
        (decision(approver="alice\nbob"), "approver"),
        (decision(approver="\x1b[2Jalice"), "approver"),
        (decision(note=5), "note"),
        (decision(arguments=[1]), "arguments"),
        (decision(arguemnts={"amount": 1}), "arguemnts"),
        (decision(verdict="deny", arguments={"amount": 1}), "arguments is only taken"),
        (decision(verdict="deny", message="no"), "message is only taken"),
        (b'{"verdict": "approve", "approver": "alice"}', "approval"),
        (b'{"approval": 7, "approver": "alice"}', "verdict"),
        (b'{"approval": 7, "verdict": "approve"}', "approver"),
    ],
)
async def test_a_malformed_decision_is_refused(sender: Sender, body: bytes, error: str) -> None:
    response = await sender.post(body)
    assert_refused(sender, response, 400, error)


async def test_a_deep_but_small_body_is_refused_not_crashed(sender: Sender) -> None:
    body = b"[" * 60_000 + b"]" * 4_000
    response = await sender.post(body)
    assert_refused(sender, response, 400, "not JSON")


@pytest.mark.parametrize(
    ("kind", "tier", "verdict"),
    [
        (ApprovalKind.CALL, "approve", "happened"),
        (ApprovalKind.CALL, "approve", "complete"),
        (ApprovalKind.IN_DOUBT, "approve", "approve"),
    ],
)
async def test_a_verdict_the_approval_does_not_take_is_refused(
    sender: Sender, kind: ApprovalKind, tier: str, verdict: str
) -> None:
    store(sender.path, approval(8, kind=kind, tier=tier))
    response = await sender.post(decision(approval=8, verdict=verdict))
    assert_refused(sender, response, 400, f"does not take {verdict}")


async def test_an_escalated_call_takes_complete(sender: Sender) -> None:
    store(sender.path, approval(8, tier="escalate"))
    response = await sender.post(decision(approval=8, verdict="complete", result="done by hand"))
    assert response.status_code == 202, response.text


async def test_an_oversized_body_is_refused(sender: Sender) -> None:
    body = decision(note="x" * MAX_BODY_BYTES)
    response = await sender.post(body)
    assert_refused(sender, response, 413, "larger than")


async def test_an_oversized_body_without_a_length_is_refused(sender: Sender) -> None:
    """Streamed (chunked) bodies carry no Content-Length: the bound is on what arrives."""
    body = decision(note="x" * MAX_BODY_BYTES)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await sender.client.post(
        "/decisions", content=chunks(), headers=signed(body, sender.now_s)
    )
    assert "content-length" not in response.request.headers
    assert_refused(sender, response, 413, "larger than")


async def test_old_signatures_are_forgotten(sender: Sender) -> None:
    """A signature is kept while its request could still be replayed (2 x tolerance) and
    forgotten later (purges run at most once per tolerance window); once forgotten, a
    replay of it is refused as stale."""
    first = decision(verdict="deny")
    first_headers = signed(first, sender.now_s)
    assert (await sender.post(first, first_headers)).status_code == 202
    sender.clock.advance(2 * TOLERANCE_S - 1)
    await sender.post(decision(note="second"))
    assert remembered(sender.path) == 2
    sender.clock.advance(TOLERANCE_S + 2)
    await sender.post(decision(note="third"))
    assert remembered(sender.path) == 2  # the first is gone, the second still counts
    replay = await sender.post(first, first_headers)
    assert replay.status_code == 401
    assert "stale" in replay.json()["error"]


async def test_an_unexpected_error_is_a_one_line_500(
    sender: Sender, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> None:
        raise RuntimeError("disk on fire\nTraceback (most recent call last):")

    monkeypatch.setattr(approval_rows, "get", broken)
    response = await sender.post(decision())
    assert response.status_code == 500
    assert response.json() == {"accepted": False, "error": "internal error"}
    assert sender.commands("decide") == []


async def test_unknown_paths_and_methods_answer_json(sender: Sender) -> None:
    wrong_method = await sender.client.get("/decisions")
    wrong_path = await sender.client.post("/approve", content=b"{}")
    assert wrong_method.status_code == 405
    assert wrong_path.status_code == 404
    assert wrong_method.json()["accepted"] is False
    assert sender.commands() == []


# -- the server -------------------------------------------------------------------------------


async def test_serve_accepts_a_decision_over_a_real_socket(tmp_path: Path) -> None:
    """Port 0 is reported through `ready`; `stop` shuts it down and frees the port."""
    path = tmp_path / "cr.db"
    db = await open_database(path)
    await db.close()
    store(path, approval())
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(path, host="127.0.0.1", port=0, secret=SECRET, ready=port.set_result, stop=stop)
    )
    try:
        waiting: set[asyncio.Future[Any]] = {task, port}
        await asyncio.wait(waiting, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        assert port.done(), f"server did not start: {task}"
        body = decision(verdict="deny", note="not today")
        url = f"http://127.0.0.1:{port.result()}"
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=5) as client:
            headers = signed(body, int(time.time()))
            response = await client.post("/decisions", content=body, headers=headers)
        assert response.status_code == 202, response.text
        [command] = commands(path)
        assert (command["command"], command["target"], command["operator"]) == (
            "decide",
            "7",
            "alice",
        )
        assert command["payload"]["verdict"] == "deny"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    task.result()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
            await client.get(f"http://127.0.0.1:{port.result()}/healthz")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
async def test_serve_refuses_a_remote_host_unless_allowed(tmp_path: Path, host: str) -> None:
    with pytest.raises(ControlRoomError, match="loopback"):
        await serve(tmp_path / "absent.db", host=host, port=0, secret=SECRET)


async def test_serve_refuses_a_short_secret_and_a_missing_database(tmp_path: Path) -> None:
    with pytest.raises(ControlRoomError, match="at least 16"):
        await serve(tmp_path / "absent.db", port=0, secret=b"short")
    with pytest.raises(ControlRoomError, match="no such database"):
        await serve(tmp_path / "absent.db", port=0, secret=SECRET)


def test_secret_from_env() -> None:
    assert secret_from_env("CR_SECRET", {"CR_SECRET": SECRET.decode()}) == SECRET
    with pytest.raises(ControlRoomError, match="CR_SECRET is not set"):
        secret_from_env("CR_SECRET", {})
    with pytest.raises(ControlRoomError, match="CR_SECRET"):
        secret_from_env("CR_SECRET", {"CR_SECRET": "short"})
