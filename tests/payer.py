"""The `payer` test agent, shared by the approval tests.

It pays what its task (a JSON list of `[to, amount]` pairs) lists, all in one model turn
(one `pay` call per pair), then reports what each call gave it, joined with " | ".
`pay` is an unsafe tool that records each payment in `PAID` as (to, amount, call key);
each test module clears `PAID` before every test and sets its own policies.
"""

from __future__ import annotations

import json

from controlroom import ScriptView, ToolContext, Turn, agent, tool
from controlroom.domain.models import ToolCall

PAID: list[tuple[str, float, str]] = []


@tool(effect="unsafe")
async def pay(ctx: ToolContext, to: str, amount: float) -> str:
    PAID.append((to, amount, ctx.key))
    return f"paid {to} {amount:g}"


def _payments(view: ScriptView) -> Turn:
    if view.step == 1:
        calls = tuple(
            ToolCall(id="", name="pay", arguments={"to": to, "amount": amount})
            for to, amount in json.loads(view.task)
        )
        return Turn(text="paying as asked", tool_calls=calls)
    return Turn.final(" | ".join(view.results_of("pay")))


PAYER = agent(name="payer", tools=[pay], script=_payments, max_steps=5)
