"""Costs: turns priced from the policy's price table (or left unknown, and counted as such),
roll-ups by task (with sub-agents), agent and user exact to the cent, and the budget
breaker: a task over its budget is paused with its state kept and goes on when an operator
raises the budget."""

from __future__ import annotations

import json
from pathlib import Path

from cr_support import EXAMPLE_AGENTS, Cli, Harness, query

from controlroom import ScriptView, Turn, Usage, agent, tool
from controlroom.domain.costs import roll_up
from controlroom.domain.models import AgentStatus
from controlroom.governance.policy import AgentPolicy, Price, UserBudget
from controlroom.governance.policy_loader import PolicySet
from controlroom.store import queries
from controlroom.store.costs import agent_spend
from controlroom.store.inbox import enqueue_command, submit_agent


@tool
def note(line: str) -> str:
    """Write something down (read-only here)."""
    return f"noted {line}"


def _spender(view: ScriptView) -> Turn:
    """One turn per cost listed in the task (JSON: a list of USD amounts or nulls), each
    writing a note, then a final turn that costs nothing."""
    costs = json.loads(view.task)
    if view.step > len(costs):
        return Turn.final("done")
    turn = Turn.call("note", line=f"step {view.step}")
    usage = Usage(input_tokens=1_000, output_tokens=100, cost_usd=costs[view.step - 1])
    return turn.model_copy(update={"usage": usage})


SPENDER = agent(name="spender", tools=[note], script=_spender, max_steps=50)
HELPER = agent(name="helper", tools=[note], script=_spender, max_steps=50)


def _tokens(view: ScriptView) -> Turn:
    """Two turns whose cost the provider does not know, only their tokens."""
    if view.step > 2:
        return Turn.final("done")
    turn = Turn.call("note", line="x")
    usage = Usage(
        input_tokens=10_000, output_tokens=2_000, cached_input_tokens=4_000, cost_usd=None
    )
    return turn.model_copy(update={"usage": usage})


PRICED = agent(name="priced", tools=[note], script=_tokens)
UNPRICED = agent(name="unpriced", tools=[note], script=_tokens, model="scripted")


async def test_turns_without_a_cost_are_priced_from_the_table_or_counted_unknown(
    harness: Harness,
) -> None:
    """A turn the provider did not price is priced from `[prices."MODEL"]` (cached input at
    its own rate); with no price for the model its cost stays unknown and is counted."""
    table = {
        "scripted": Price(
            input_per_million=2.0, output_per_million=8.0, cached_input_per_million=0.5
        )
    }
    priced = await harness.submit("priced", "[]")
    await harness.run_until_idle([PRICED], policies=PolicySet(prices=table))
    unpriced = await harness.submit("unpriced", "[]")
    await harness.run_until_idle([UNPRICED], policies=PolicySet())
    turns = [e.event for e in await harness.entries(priced, "model_turn")]
    # (6,000 x 2 + 4,000 x 0.5 + 2,000 x 8) / 1e6 = 0.03 a turn
    assert [t.usage.cost_usd for t in turns[:2]] == [0.03, 0.03]  # type: ignore[attr-defined]
    spends = {s.agent_id: s for s in await agent_spend(harness.db)}
    assert spends[priced].cost_micro_usd == 60_000 and spends[priced].unknown_cost_turns == 0
    assert spends[unpriced].cost_micro_usd == 0 and spends[unpriced].unknown_cost_turns == 2


async def test_costs_roll_up_by_task_agent_and_user_to_the_cent(
    harness: Harness, cli: Cli, workdir: Path
) -> None:
    """Known usage: ann's task (0.10 + 0.20 + 0.30) with a sub-agent (0.05 + 0.05, one
    turn unknown), bob's task (1.23). By task the sub-agent's spend is in ann's task; by
    agent and by user the totals match to the cent; the unknown turn is reported, not
    guessed."""
    now = harness.clock.now_ms()
    ann = await submit_agent(harness.db, "spender", "[0.1, 0.2, 0.3]", "ann", None, now)
    child = await submit_agent(
        harness.db, "helper", "[0.05, null, 0.05]", "ann", None, now, parent_id=ann.id
    )
    bob = await submit_agent(harness.db, "spender", "[1.23]", "bob", None, now)
    await harness.run_until_idle([SPENDER, HELPER])

    spends = await agent_spend(harness.db)
    by_task = {line.key: line for line in roll_up(spends, "task")}
    assert set(by_task) == {ann.id, bob.id}
    assert by_task[ann.id].cost_micro_usd == 700_000 and by_task[ann.id].agents == 2
    assert by_task[ann.id].unknown_cost_turns == 1
    assert by_task[bob.id].cost_micro_usd == 1_230_000
    by_agent = {line.key: line.cost_micro_usd for line in roll_up(spends, "agent")}
    assert by_agent == {"spender": 1_830_000, "helper": 100_000}
    by_user = {line.key: line.cost_micro_usd for line in roll_up(spends, "user")}
    assert by_user == {"ann": 700_000, "bob": 1_230_000}
    assert child.id in {s.agent_id for s in spends}

    for by, expected in (
        ("task", {ann.id: 0.70, bob.id: 1.23}),
        ("user", {"ann": 0.70, "bob": 1.23}),
    ):
        result = cli("costs", "--db", harness.db.path, "--by", by, "--json")
        assert result.returncode == 0, result.describe()
        report = json.loads(result.stdout)
        assert {line[by]: line["cost_usd"] for line in report["lines"]} == expected
        assert report["total_usd"] == 1.93
        assert report["unknown_cost_turns"] == 1
        assert report["excludes"] == "1 model turn(s) of unknown cost"
    text = cli("costs", "--db", harness.db.path, "--by", "user")
    assert "$0.70" in text.stdout and "$1.23" in text.stdout
    assert "excludes 1 model turn(s) of unknown cost" in text.stdout


async def test_a_budget_crossing_pauses_with_state_kept_and_raising_it_resumes(
    harness: Harness,
) -> None:
    """Four turns of 0.10 under a 0.25 task budget: the breaker refuses the third turn's
    call and pauses the agent, its checkpoint kept. Raising the budget to 0.28 (under what
    it spent) leaves it paused; raising it to 1.00 resumes it from where it stopped, no
    turn asked for twice, and it completes."""
    record = await submit_agent(
        harness.db, "spender", "[0.1, 0.1, 0.1, 0.1]", "ann", 0.25, harness.clock.now_ms()
    )
    await harness.run_until_idle([SPENDER])
    paused = await harness.record(record.id)
    assert paused.status is AgentStatus.PAUSED
    assert paused.error is not None and paused.error.startswith("breaker tripped on budget")
    steps_before = paused.step
    turns_before = len(await harness.entries(record.id, "model_turn"))

    await enqueue_command(
        harness.db, "budget", record.id, "ann", harness.clock.now_ms(), {"usd": 0.28}
    )
    await harness.run_until_idle([SPENDER])
    assert (await harness.record(record.id)).status is AgentStatus.PAUSED
    await enqueue_command(
        harness.db, "budget", record.id, "ann", harness.clock.now_ms(), {"usd": 1.0}
    )
    await harness.run_until_idle([SPENDER])

    done = await harness.record(record.id)
    assert (done.status, done.result, done.budget_usd) == (AgentStatus.COMPLETED, "done", 1.0)
    assert done.step > steps_before
    # Every turn was asked for once: none again after the pause (three before it).
    assert turns_before == 3
    assert len(await harness.entries(record.id, "model_turn")) == 5
    stored = await queries.load_agent(harness.db, record.id)
    assert stored is not None and stored.state is not None
    # The third turn's call was refused by the breaker (the model is told so), and the
    # agent went on from its checkpoint with the fourth.
    notes = [m.content for m in stored.messages if m.role == "tool"]
    assert notes[:2] == ["noted step 1", "noted step 2"] and notes[3] == "noted step 4"
    assert notes[2].startswith("denied: breaker tripped on budget")
    assert round(stored.state.cost_usd, 6) == 0.4
    changed = [e.event for e in await harness.entries(record.id, "budget_changed")]
    assert [(c.budget_usd, c.operator) for c in changed] == [(0.28, "ann"), (1.0, "ann")]  # type: ignore[attr-defined]


async def test_a_policy_budget_below_the_new_task_budget_keeps_it_paused(harness: Harness) -> None:
    """The breaker holds the agent to the smallest budget in force: raising the task's does
    not resume an agent its policy's budget still stops."""
    policies = PolicySet({"spender": AgentPolicy(budget_usd=0.15)})
    record = await submit_agent(
        harness.db, "spender", "[0.1, 0.1, 0.1]", "ann", None, harness.clock.now_ms()
    )
    await harness.run_until_idle([SPENDER], policies=policies)
    assert (await harness.record(record.id)).status is AgentStatus.PAUSED
    await enqueue_command(
        harness.db, "budget", record.id, "ann", harness.clock.now_ms(), {"usd": 5}
    )
    await harness.run_until_idle([SPENDER], policies=policies)
    assert (await harness.record(record.id)).status is AgentStatus.PAUSED
    [acted] = [e.event for e in await harness.entries(record.id, "operator_action")]
    assert "still paused" in acted.outcome  # type: ignore[attr-defined]


def _hundred_tokens(view: ScriptView) -> Turn:
    """Three turns of 100 input tokens each (priced by the table), then a final one."""
    if view.step > 3:
        return Turn.final("done")
    turn = Turn.call("note", line=f"step {view.step}")
    usage = Usage(input_tokens=100, output_tokens=0, cost_usd=None)
    return turn.model_copy(update={"usage": usage})


ESTIMATED = agent(name="estimated", tools=[note], script=_hundred_tokens, max_steps=50)


async def test_a_turn_whose_estimate_would_cross_the_budget_is_not_requested(
    harness: Harness,
) -> None:
    """$0.001 an input token: each turn costs $0.10. Under a $0.21 budget, after two turns
    ($0.20) the third's estimate (its prompt's characters / 4, at the input price) would
    pass the budget, so the breaker pauses the agent before asking for it; raising the
    budget lets it ask and finish."""
    policies = PolicySet(prices={"scripted": Price(input_per_million=1_000, output_per_million=0)})
    record = await submit_agent(
        harness.db, "estimated", "three notes", "ann", 0.21, harness.clock.now_ms()
    )
    await harness.run_until_idle([ESTIMATED], policies=policies)
    paused = await harness.record(record.id)
    assert paused.status is AgentStatus.PAUSED
    assert len(await harness.entries(record.id, "model_turn")) == 2, "the third was not asked"
    stored = await queries.load_agent(harness.db, record.id)
    assert stored is not None and stored.state is not None
    assert round(stored.state.cost_usd, 6) == 0.2
    estimate = -(-stored.state.context_chars // 4) * 0.001
    assert paused.error == (
        "breaker tripped on budget: spent $0.2000; the next turn "
        f"(about ${estimate:.4f}) would pass a $0.2100 budget"
    )

    await enqueue_command(
        harness.db, "budget", record.id, "ann", harness.clock.now_ms(), {"usd": 1.0}
    )
    await harness.run_until_idle([ESTIMATED], policies=policies)
    done = await harness.record(record.id)
    assert (done.status, done.result) == (AgentStatus.COMPLETED, "done")
    assert len(await harness.entries(record.id, "model_turn")) == 4


def test_budget_and_parent_name_agents_that_exist(cli: Cli, workdir: Path) -> None:
    """`submit --parent` and `budget` name an agent of the database: one that is not there
    is refused in one line, with a non-zero exit and nothing queued."""
    db = workdir / "control.db"
    common = ["--db", db, "--agents", EXAMPLE_AGENTS]
    parent = cli("submit", *common, "mailer", "tell team@example.com hello")
    assert parent.returncode == 0, parent.describe()
    child = cli("submit", *common, "mailer", "and the others", "--parent", parent.stdout.strip())
    assert child.returncode == 0, child.describe()
    [(parent_id,)] = query(db, "SELECT parent_id FROM agents WHERE id = ?", (child.stdout.strip(),))
    assert parent_id == parent.stdout.strip()
    for args in (
        ["submit", *common, "mailer", "x", "--parent", "mailer-99"],
        ["budget", *common, "mailer-99", "5"],
    ):
        refused = cli(*args)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert "mailer-99" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert query(db, "SELECT COUNT(*) FROM agents") == [(2,)]
    assert query(db, "SELECT COUNT(*) FROM commands") == [(0,)]
    queued = cli("budget", *common, parent.stdout.strip(), "5", "--wait", "0")
    assert queued.returncode == 0 and "queued budget" in queued.stdout, queued.describe()


async def test_a_users_daily_budget_pauses_their_agents_and_not_the_others(
    harness: Harness,
) -> None:
    """ann may spend 0.25 a day across her agents: her first task spends 0.20, her second
    is paused by the breaker once the day's total crosses the line (its state kept); bob's
    task runs on. A supervisor started later the same day remembers what ann spent; the
    next day (UTC) she may spend again."""
    policies = PolicySet(users={"ann": UserBudget(daily_budget_usd=0.25)})
    now = harness.clock.now_ms()
    first = await submit_agent(harness.db, "spender", "[0.1, 0.1]", "ann", None, now)
    await harness.run_until_idle([SPENDER], policies=policies)
    assert (await harness.record(first.id)).status is AgentStatus.COMPLETED
    second = await submit_agent(harness.db, "spender", "[0.1, 0.1, 0.1]", "ann", None, now)
    bob = await submit_agent(harness.db, "spender", "[0.1, 0.1, 0.1]", "bob", None, now)
    await harness.run_until_idle([SPENDER], policies=policies)
    paused = await harness.record(second.id)
    assert paused.status is AgentStatus.PAUSED
    assert paused.error is not None and "ann's agents spent $0.3000 today" in paused.error
    assert (await harness.record(bob.id)).status is AgentStatus.COMPLETED

    await enqueue_command(harness.db, "resume", second.id, "ann", harness.clock.now_ms())
    await harness.run_until_idle([SPENDER], policies=policies)
    assert (await harness.record(second.id)).status is AgentStatus.PAUSED, "same day"
    harness.clock.advance(86_400)
    await enqueue_command(harness.db, "resume", second.id, "ann", harness.clock.now_ms())
    await harness.run_until_idle([SPENDER], policies=policies)
    assert (await harness.record(second.id)).status is AgentStatus.COMPLETED
