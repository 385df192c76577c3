"""The body of an inbound decision request, and its parsing into a typed request.

Parsing is strict because the body is signed: what the sender meant must be exactly what
the supervisor receives. So unknown fields are refused (a misspelt `arguemnts` would
otherwise approve the original call instead of the edited one), duplicate keys are
refused (two parsers could pick different ones), and so are NaN and Infinity (not JSON,
and they would not survive the round trip into the command's payload unchanged).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controlroom.domain.approvals import Verdict

# Which verdicts the optional texts belong to; sent with any other verdict they would be
# silently dropped by the supervisor, so they are refused here instead.
_ARGUMENTS_VERDICTS: frozenset[str] = frozenset({"approve"})
_MESSAGE_VERDICTS: frozenset[str] = frozenset({"respond"})
_RESULT_VERDICTS: frozenset[str] = frozenset({"happened", "complete"})
_MAX_SQLITE_INTEGER = 2**63 - 1


class BadDecision(Exception):
    """A body that is not a well-formed decision; the message is one line.

    `approval` and `approver` are whatever could be read of those fields, for the record
    of the refusal.
    """

    def __init__(self, reason: str, approval: int | None = None, approver: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.approval = approval
        self.approver = approver


class DecisionRequest(BaseModel):
    """A decision as a webhook sends it."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    approval: int = Field(ge=1, le=_MAX_SQLITE_INTEGER)
    verdict: Verdict
    # A name as the journal and the screens show it: printable, one line (checked below).
    approver: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=4000)
    arguments: dict[str, Any] | None = None
    message: str = Field(default="", max_length=16000)
    result: str = Field(default="", max_length=16000)


def parse_decision(body: bytes) -> DecisionRequest:
    """Parse a request body; raises `BadDecision` with a one-line reason."""
    try:
        data = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadDecision(f"body is not JSON: {_first_line(exc)}") from exc
    if not isinstance(data, dict):
        raise BadDecision("body is not a JSON object")
    approval = data.get("approval")
    approver = data.get("approver")
    is_id = isinstance(approval, int) and not isinstance(approval, bool)
    known_approval = approval if is_id else None
    known_approver = approver if isinstance(approver, str) and _printable(approver) else None
    try:
        request = DecisionRequest.model_validate(data)
    except ValidationError as exc:
        raise BadDecision(_describe(exc), known_approval, known_approver) from exc
    if not _printable(request.approver):
        raise BadDecision(
            "approver must be one line of printable text, without surrounding spaces",
            request.approval,
        )
    for field, allowed in (
        ("arguments", _ARGUMENTS_VERDICTS),
        ("message", _MESSAGE_VERDICTS),
        ("result", _RESULT_VERDICTS),
    ):
        if getattr(request, field) and request.verdict not in allowed:
            raise BadDecision(
                f"{field} is only taken with {' or '.join(sorted(allowed))}, not {request.verdict}",
                request.approval,
                request.approver,
            )
    return request


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _printable(text: str) -> bool:
    # Control characters in a name could rewrite a terminal line when it is shown.
    return text.isprintable() and text.strip() == text


def _describe(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    more = exc.error_count() - 1
    suffix = f" (and {more} more)" if more else ""
    return _first_line(f"{where}: {error['msg']}{suffix}")


def _first_line(value: object) -> str:
    text = str(value).splitlines()
    return text[0][:300] if text else ""
