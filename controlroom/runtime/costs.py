"""What a model turn cost: the provider's own figure when it gives one, else the price
table's (`[prices."MODEL"]` in the policy files) for the agent's model, else unknown.

An unknown cost stays None in the journal and is counted as such (`unknown_cost_turns`):
`controlroom costs` says how many turns its totals leave out rather than guessing them.

Budgets are checked before a turn too, against `estimated_turn_cost`: a turn is not
requested when its estimate would carry the spend past a budget.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlroom.domain.costs import CHARS_PER_TOKEN
from controlroom.domain.models import Usage
from controlroom.governance.policy import Price


def priced(usage: Usage, model: str, prices: Mapping[str, Price]) -> Usage:
    """`usage` with its cost filled in from `prices` if the provider left it unknown."""
    if usage.cost_usd is not None:
        return usage
    price = prices.get(model)
    if price is None:
        return usage
    cost = price.cost(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens)
    return usage.model_copy(update={"cost_usd": cost})


def estimated_turn_cost(request_chars: int, expected_output_tokens: int, price: Price) -> float:
    """What a turn should cost before it is requested: its prompt's characters as tokens at
    the input price, plus the output the agent's turns have averaged so far."""
    input_tokens = -(-request_chars // CHARS_PER_TOKEN)
    return price.cost(input_tokens, expected_output_tokens)
