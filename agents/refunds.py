"""The refund desk: looks orders up and issues refunds by appending to a ledger file.

`issue_refund` is *unsafe*: the ledger is an append-only file with no deduplication, like
a payment API without idempotency keys. If the supervisor dies after a refund started and
before its result was recorded, the agent stops *in doubt* and an operator decides; it is
never retried automatically, so no refund is ever paid twice.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from controlroom import ScriptView, ToolContext, Turn, agent, tool

REQUEST = re.compile(
    r"refund\s+(?:order\s+)?([A-Za-z]+-\d+)\s+([0-9]+(?:\.[0-9]{1,2})?)", re.IGNORECASE
)


def ledger() -> Path:
    """The ledger file: $CONTROLROOM_LEDGER, else ./var/refunds.jsonl."""
    path = Path(os.environ.get("CONTROLROOM_LEDGER", "var/refunds.jsonl"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@tool
def lookup_order(order_id: str) -> dict[str, object]:
    """Read an order (read-only; safe to repeat)."""
    digits = int(re.sub(r"\D", "", order_id) or 0)
    return {
        "order_id": order_id,
        "customer": f"customer-{digits % 97}",
        "paid": round(20 + digits % 200 * 1.25, 2),
        "status": "delivered",
    }


@tool(effect="unsafe", timeout=5)
def issue_refund(ctx: ToolContext, order_id: str, amount: float, reason: str) -> dict[str, object]:
    """Pay a refund: appends to the ledger (no deduplication, so never repeated blindly)."""
    if amount <= 0:
        raise ValueError(f"refund amount must be positive, got {amount}")
    entry = {
        "key": ctx.key,
        "agent": ctx.agent_id,
        "order_id": order_id,
        "amount": amount,
        "reason": reason,
    }
    with ledger().open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return {"refunded": amount, "order_id": order_id}


def refund_script(view: ScriptView) -> Turn:
    """Look each order up, then refund it; finish with a summary."""
    requests = REQUEST.findall(view.task)
    if not requests:
        return Turn.final("No refund requests found in the task.")
    index, phase = divmod(view.step - 1, 2)
    if index < len(requests):
        order_id, amount = requests[index]
        if phase == 0:
            return Turn.call("lookup_order", order_id=order_id)
        return Turn.call(
            "issue_refund", order_id=order_id, amount=float(amount), reason="customer request"
        )
    return Turn.final(_report(requests, view.results_of("issue_refund")))


def _report(requests: list[tuple[str, str]], results: list[str]) -> str:
    """What was refunded and what was not (a refused call is not a refund)."""
    outcomes = list(zip(requests, results, strict=False))
    done = [float(amount) for (_, amount), result in outcomes if not _refused(result)]
    held = [order for (order, _), result in outcomes if _refused(result)]
    report = f"Refunded {len(done)} order(s), {sum(done):.2f} in total."
    return report + (f" Not refunded: {', '.join(held)}." if held else "")


def _refused(result: str) -> bool:
    return result.startswith(("denied:", "error:"))


refunds = agent(
    name="refunds",
    role="refund desk",
    instructions="Check each order before refunding it. Never refund an order twice.",
    tools=[lookup_order, issue_refund],
    script=refund_script,
)
