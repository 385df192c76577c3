"""The mailer: sends the mails a task asks for, by writing them to an outbox folder.

`send_mail` is idempotent by key: the outbox is the "mail server", and it dedupes on the key
(the file is named after it and created exclusively), so a mail re-sent after a crash with
the same key is delivered once. A mail not yet picked up can be recalled (compensation).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from controlroom import ScriptView, ToolContext, Turn, agent, tool

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def outbox() -> Path:
    """Where mail goes: $CONTROLROOM_OUTBOX, else ./var/outbox."""
    path = Path(os.environ.get("CONTROLROOM_OUTBOX", "var/outbox"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def recall_mail(resource, ctx: ToolContext) -> None:  # type: ignore[no-untyped-def]
    """Compensation: take a mail back out of the outbox (idempotent: gone is gone)."""
    (outbox() / f"{resource.resource_id}.eml").unlink(missing_ok=True)


@tool(effect="idempotent_by_key", compensate=recall_mail, timeout=5, attempts=3)
async def send_mail(ctx: ToolContext, to: str, subject: str, body: str) -> dict[str, str]:
    """Send one e-mail. The outbox dedupes on the idempotency key."""
    message = f"To: {to}\nSubject: {subject}\nX-Idempotency-Key: {ctx.key}\n\n{body}\n"
    path = outbox() / f"{ctx.key}.eml"
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(message)
        status = "sent"
    except FileExistsError:
        status = "already sent"
    await ctx.created("mail", ctx.key, {"to": to})
    return {"status": status, "to": to, "message_id": ctx.key}


def mail_script(view: ScriptView) -> Turn:
    """Send one mail per address in the task, then report."""
    addresses = ADDRESS.findall(view.task)
    if not addresses:
        return Turn.final("No recipients in the task; nothing sent.")
    if view.step <= len(addresses):
        to = addresses[view.step - 1]
        return Turn.call(
            "send_mail",
            to=to,
            subject="Update from Control Room",
            body=f"Hello {to.split('@')[0]},\n\n{view.task}\n",
        )
    return Turn.final(_report(addresses, view.results_of("send_mail")))


def _report(addresses: list[str], results: list[str]) -> str:
    """What was sent and what was not (a refused call is not a sent mail)."""
    outcomes = list(zip(addresses, results, strict=False))
    sent = [to for to, result in outcomes if not _refused(result)]
    held = [to for to, result in outcomes if _refused(result)]
    report = f"Sent {len(sent)} mail(s): {', '.join(sent) or 'none'}."
    return report + (f" Not sent: {', '.join(held)}." if held else "")


def _refused(result: str) -> bool:
    return result.startswith(("denied:", "error:"))


mailer = agent(
    name="mailer",
    role="sends e-mail on behalf of the team",
    instructions="Send exactly the mails the task asks for, one per recipient.",
    tools=[send_mail],
    script=mail_script,
)
