"""What a notification looks like on each channel: Slack JSON, generic JSON, and e-mail.

Pure functions of a `Notification`, so every channel shows the same facts and the tests
can check a rendering without a network. Much of a notification's text comes from agents
(arguments, reasons, task descriptions) and is untrusted: here it is made unable to ping
a Slack channel, disguise a link, inject a mail header or forge lines of its own (a
"reason" that breaks onto a new line reading `To decide: curl ... | sh`), and it is kept
bounded in length.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from typing import Any

from controlroom.domain.approvals import Notification

SCHEMA_VERSION = 1
"""The version of `generic_payload`'s shape; bumped when a field changes meaning."""

LINE_LIMIT = 500
"""At most this many characters of any one line, subject or command (then `…`)."""

MAX_LINES = 30
"""At most this many detail lines (then a line saying how many were left out)."""

_SLACK_TEXT_LIMIT = 3000  # Slack rejects a text object longer than this
_NO_SUBJECT = "(no subject)"
# Line breaks (everything str.splitlines() splits on) and the other C0/C1 controls; a
# line break inside one line of untrusted text would let it forge the lines after it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """`text` on one line (control characters and line breaks become a space), cut to
    `limit` characters with an ellipsis."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _detail_lines(n: Notification) -> list[str]:
    lines = [one_line(line) for line in n.lines[:MAX_LINES]]
    if len(n.lines) > MAX_LINES:
        lines.append(f"… {len(n.lines) - MAX_LINES} more lines not shown")
    return lines


# --- Slack --------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """`text` with Slack's three control characters escaped as Slack documents, so
    `<!channel>` or `<http://evil|click here>` shows as typed instead of pinging or
    disguising a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_untrusted(text: str) -> str:
    # Backticks would let untrusted text open a code block that looks like our decide
    # commands; the modifier grave accent reads the same and formats nothing.
    return slack_escape(one_line(text).replace("`", "\u02cb"))


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not auto-link URLs or auto-parse mentions in agent text.
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _packed(lines: Iterable[str], limit: int) -> list[str]:
    """`lines` joined by newlines into as few chunks of at most `limit` characters as
    fit (each line is shorter than `limit`)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def slack_payload(n: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain `text` fallback (what a phone shows)
    and `blocks` with the subject, the details and the decide commands in a code block.

    Every line is cut to `LINE_LIMIT` characters before escaping, so an escaped line
    (at most five times longer) always fits a section; details are packed into as few
    sections as fit Slack's 3,000-character limit, well under its 50 blocks.
    """
    subject = _slack_untrusted(n.subject) or _NO_SUBJECT
    details = [_slack_untrusted(line) for line in _detail_lines(n)]
    blocks: list[dict[str, Any]] = [_mrkdwn(f"*{subject}*")]
    blocks.extend(_mrkdwn(chunk) for chunk in _packed(details, _SLACK_TEXT_LIMIT))
    if n.commands:
        # Commands are ours, but may quote an operator-chosen path; a stray ``` in one
        # would end the block early.
        commands = [slack_escape(one_line(c).replace("```", "'''")) for c in n.commands]
        for chunk in _packed(commands, _SLACK_TEXT_LIMIT - 6):
            blocks.append(_mrkdwn(f"```{chunk}```"))
    context = [
        f"approval #{n.approval_id}" if n.approval_id is not None else "",
        f"agent {n.agent_id}" if n.agent_id else "",
        f"tier {n.tier}" if n.tier else "",
        n.kind,
    ]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _slack_untrusted(" · ".join(c for c in context if c))}
            ],
        }
    )
    return {
        "text": subject,
        "blocks": blocks,
        # Slack would otherwise fetch (and preview) any URL an agent put in its text.
        "unfurl_links": False,
        "unfurl_media": False,
    }


# --- generic JSON -------------------------------------------------------------------


def generic_payload(n: Notification) -> dict[str, Any]:
    """The notification as stable JSON for any webhook receiver: its fields as the
    domain model names them, plus `source` and `schema` so a receiver can tell what
    it got and which shape."""
    return {"source": "controlroom", "schema": SCHEMA_VERSION, **n.model_dump(mode="json")}


# --- e-mail -------------------------------------------------------------------------


def _message_id(n: Notification, sender: str) -> str:
    # Derived from the content so a retried send carries the same Message-ID (receivers
    # may then drop the duplicate), and distinct notifications get distinct ones.
    digest = hashlib.sha256(n.model_dump_json().encode()).hexdigest()[:32]
    _, address = email.utils.parseaddr(sender)
    domain = address.rpartition("@")[2] or "controlroom.invalid"
    return f"<{digest}@{one_line(domain, 200).replace(' ', '')}>"


def email_message(n: Notification, sender: str, to: Sequence[str]) -> EmailMessage:
    """A plain-text mail of `n` from `sender` to `to`.

    The subject is one line (a CR/LF in it would start a header of the attacker's
    choosing); the body is the detail lines, then the decide commands, each on its own
    line. `Auto-Submitted` keeps vacation responders from answering it.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = one_line(n.subject, 200) or _NO_SUBJECT
    message["Message-ID"] = _message_id(n, sender)
    message["Auto-Submitted"] = "auto-generated"
    if n.created_ms:
        message["Date"] = email.utils.formatdate(n.created_ms / 1000, usegmt=True)
    body = _detail_lines(n)
    if n.commands:
        body += ["", "To decide, run one of:", ""]
        body += [f"  {one_line(command)}" for command in n.commands]
    message.set_content("\n".join(body) + "\n")
    return message
