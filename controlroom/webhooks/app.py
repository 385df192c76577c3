"""The HTTP face of inbound decisions: `POST /decisions` and `GET /healthz`.

A decision goes through, in order: a bounded body, its signature and freshness, the
replay check, its shape, and the approval (known, still open, accepting the verdict).
What passes becomes a `decide` command in the inbox (202: accepted for the supervisor,
which applies it with the authority rules it enforces); what fails is answered with one
line and also queued as a `decision-refused` command, so the supervisor journals every
refusal. A refused request names its approval and approver in that record only once its
signature holds: until then the body is anyone's words.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controlroom.clock import Clock
from controlroom.store import approvals, inbox
from controlroom.store.database import Database, schema_version
from controlroom.store.lease import wake_owner
from controlroom.webhooks.decision import BadDecision, parse_decision
from controlroom.webhooks.signing import (
    DEFAULT_TOLERANCE_S,
    SIGNATURE_HEADERS,
    TIMESTAMP_HEADERS,
    SignatureRefused,
    verify,
)

MAX_BODY_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """A request answered with `status` and a one-line `reason`, and journaled."""

    def __init__(
        self, status: int, reason: str, approval: int | None = None, approver: str | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.approval = approval
        self.approver = approver


class _Decisions:
    """The `POST /decisions` endpoint and the little state it keeps (when it last purged
    remembered signatures)."""

    def __init__(self, db: Database, secret: bytes, clock: Clock, tolerance_s: int) -> None:
        self._db = db
        self._secret = secret
        self._clock = clock
        self._tolerance_ms = tolerance_s * 1000
        self._tolerance_s = tolerance_s
        self._last_purge_ms: int | None = None

    async def handle(self, request: Request) -> Response:
        try:
            try:
                return await self._decide(request)
            except _Refused as refused:
                return await self._refuse(refused)
        except ClientDisconnect:
            # The sender hung up mid-body: nothing was decided and nobody is listening.
            return Response(status_code=400)
        except Exception:
            # Logged for the operator, never sent to the client.
            logger.exception("webhook decision failed")
            return _answer(500, {"accepted": False, "error": "internal error"})

    async def _decide(self, request: Request) -> Response:
        now_ms = self._clock.now_ms()
        await self._purge(now_ms)
        body = await _read_bounded(request, MAX_BODY_BYTES)
        try:
            signature = verify(
                self._secret,
                _first_header(request.headers, TIMESTAMP_HEADERS),
                _first_header(request.headers, SIGNATURE_HEADERS),
                body,
                now_s=now_ms / 1000,
                tolerance_s=self._tolerance_s,
            )
        except SignatureRefused as exc:
            raise _Refused(401, exc.reason) from exc
        if not await inbox.remember_signed_request(self._db, signature, now_ms):
            raise _Refused(409, "replayed")
        try:
            decision = parse_decision(body)
        except BadDecision as exc:
            raise _Refused(400, exc.reason, exc.approval, exc.approver) from exc
        who = (decision.approval, decision.approver)
        approval = await approvals.get(self._db, decision.approval)
        if approval is None:
            raise _Refused(404, f"no approval {decision.approval}", *who)
        if not approval.status.is_open:
            raise _Refused(409, f"approval {approval.id} is {approval.status.value}", *who)
        if decision.verdict not in approval.verdicts:
            accepts = ", ".join(approval.verdicts)
            raise _Refused(
                400, f"approval {approval.id} does not take {decision.verdict} ({accepts})", *who
            )
        command = await inbox.enqueue_decision(
            self._db,
            approval.id,
            decision.approver,
            now_ms,
            decision.verdict,
            via="webhook",
            note=decision.note,
            arguments=decision.arguments,
            message=decision.message,
            result=decision.result,
        )
        await wake_owner(self._db, socket.gethostname(), now_ms)
        return _answer(202, {"accepted": True, "command": command, "approval": approval.id})

    async def _refuse(self, refused: _Refused) -> Response:
        await inbox.enqueue_command(
            self._db,
            "decision-refused",
            "" if refused.approval is None else str(refused.approval),
            refused.approver or "webhook",
            self._clock.now_ms(),
            payload={"via": "webhook", "reason": refused.reason, "status": refused.status},
        )
        return _answer(refused.status, {"accepted": False, "error": refused.reason})

    async def _purge(self, now_ms: int) -> None:
        # A signature received at r carries a timestamp >= r - tolerance, so it is stale
        # (refused before the replay check) once now > r + 2 * tolerance: safe to forget.
        # Done at most once per tolerance window, to keep it off most requests' path.
        if self._last_purge_ms is not None and now_ms - self._last_purge_ms < self._tolerance_ms:
            return
        await inbox.forget_signed_requests(self._db, now_ms - 2 * self._tolerance_ms)
        self._last_purge_ms = now_ms


def make_app(
    db: Database, secret: bytes, clock: Clock, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> Starlette:
    """The webhook app over an open database; the caller owns (and closes) `db`."""

    async def healthz(_request: Request) -> Response:
        try:
            version = await schema_version(db)
        except Exception:
            logger.exception("webhook health check failed")
            return _answer(503, {"ok": False, "error": "database unavailable"})
        return _answer(200, {"ok": True, "schema": version})

    async def http_error(_request: Request, exc: Exception) -> Response:
        # Unknown paths and wrong methods answer in the same JSON shape as refusals.
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return _answer(status, {"accepted": False, "error": str(detail)})

    return Starlette(
        routes=[
            Route(
                "/decisions", _Decisions(db, secret, clock, tolerance_s).handle, methods=["POST"]
            ),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )


async def _read_bounded(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` bytes (declared or actually sent)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((headers[name] for name in names if name in headers), None)


def _answer(status: int, content: dict[str, object]) -> JSONResponse:
    return JSONResponse(content, status_code=status)
