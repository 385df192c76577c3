"""Policy files: the shipped ones validate; each kind of mistake is one line naming where."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cr_support import Cli, Harness

from controlroom.config import bundled_agents_dir
from controlroom.governance.policy import AgentPolicy, TierRule
from controlroom.governance.policy_loader import PolicyError, load_policies
from controlroom.runtime.loader import load_agents

ROOT = Path(__file__).resolve().parent.parent
AGENTS = load_agents(ROOT / "agents")


def _problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_policies(tmp_path, AGENTS)
    return raised.value.problems


def test_the_shipped_policies_validate_and_decide_tiers_by_amount() -> None:
    policies = load_policies(ROOT / "policies", AGENTS)
    assert set(policies.agents) == set(AGENTS), "every shipped agent has a policy"
    refunds = policies.for_agent("refunds")
    tiers = [refunds.tier_for("issue_refund", {"amount": a}) for a in (10, 50, 50.01, 5000, 9e3)]
    assert tiers == ["autonomous", "autonomous", "approve", "approve", "escalate"]
    assert refunds.tier_for("lookup_order", {"order_id": "A1"}) == "autonomous"
    assert refunds.allows("issue_refund") and not refunds.allows("send_mail")
    assert policies.for_agent("no-policy").allows("anything")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = '[agent.refunds]\nbudget_usd = 5\ntools = ["lookup_order" "issue_refund"]\n'
    [problem] = _problems(tmp_path, bad=text)
    assert problem.startswith(f"{tmp_path / 'bad.toml'}:3: TOML syntax:"), problem


def test_wrong_type_names_file_line_field_and_value(tmp_path: Path) -> None:
    text = (
        "[agent.refunds]\n"
        'tools = ["lookup_order"]\n\n'
        "[[agent.refunds.tiers]]\n"
        'tool = "issue_refund"\n'
        'tier = "approve"\n'
        'argument = "amount"\n'
        'above = "fifty"\n'
    )
    [problem] = _problems(tmp_path, typed=text)
    assert problem.startswith(f"{tmp_path / 'typed.toml'}:8: agent.refunds.tiers[0].above:")
    assert "'fifty'" in problem


def test_unknown_field_is_an_error_not_ignored(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, extra="[agent.mailer]\nrate_limit = 5\n")
    assert ":2: agent.mailer.rate_limit: Extra inputs are not permitted" in problem


def test_unknown_agent_tool_and_argument_are_errors(tmp_path: Path) -> None:
    text = (
        "[agent.refunds]\n"
        'tools = ["lookup_order", "issue_refunds"]\n\n'
        "[[agent.refunds.tiers]]\n"
        'tool = "issue_refund"\n'
        'tier = "approve"\n'
        'argument = "amount_usd"\n'
        "above = 50\n\n"
        "[agent.payroll]\n"
        'tools = ["pay"]\n'
    )
    problems = _problems(tmp_path, names=text)
    assert len(problems) == 3, problems
    assert any(
        ":2: agent.refunds.tools[1]: 'issue_refunds' is not a tool of agent refunds" in p
        for p in problems
    )
    assert any(":7: agent.refunds.tiers[0].argument:" in p and "amount_usd" in p for p in problems)
    assert any(":10: agent.payroll: no agent named 'payroll'" in p for p in problems)


def test_contradicting_tier_rules_are_refused(tmp_path: Path) -> None:
    text = "[agent.refunds]\n"
    for tier, above, at_most in (("autonomous", None, 100), ("approve", 50, None)):
        text += '\n[[agent.refunds.tiers]]\ntool = "issue_refund"\nargument = "amount"\n'
        text += f'tier = "{tier}"\n'
        text += f"above = {above}\n" if above is not None else ""
        text += f"at_most = {at_most}\n" if at_most is not None else ""
    [problem] = _problems(tmp_path, overlap=text)
    assert "agent.refunds.tiers[1]: contradicts tiers[0]" in problem
    assert ":9:" in problem, problem  # the second rule's [[agent.refunds.tiers]] line


def test_adjacent_ranges_do_not_contradict() -> None:
    low = TierRule(tool="t", tier="autonomous", argument="x", at_most=50)
    high = TierRule(tool="t", tier="approve", argument="x", above=50)
    assert not low.overlaps(high)
    policy = AgentPolicy(tiers=(low, high))
    assert [policy.tier_for("t", {"x": x}) for x in (50, 50.5)] == ["autonomous", "approve"]


def test_a_bool_or_text_argument_never_matches_a_numeric_range() -> None:
    """True is not 1 and "60" is not 60: a range rule only reads numbers."""
    rule = TierRule(tool="t", tier="escalate", argument="x", above=0, at_most=100)
    policy = AgentPolicy(tiers=(rule,))
    assert policy.tier_for("t", {"x": 1}) == "escalate"
    assert [policy.tier_for("t", {"x": v}) for v in (True, "60", None)] == ["autonomous"] * 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[agent.refunds.tiers]]\ntool = "issue_refund"\ntier = "approve"\nabove = 5\n',
            "need the",
        ),
        ("[agent.refunds.loops]\nwarn_after = 5\nstop_after = 2\n", "warn_after <= approve_after"),
        ('[[agent.mailer.outbound]]\nargument = "body"\ndeny_patterns = ["(oops"]\n', "regex"),
        ('[agent.mailer]\nscreening = "paranoid"\n', "'paranoid'"),
        ("[agent.mailer.rate]\ncalls_per_minute = 0\n", "greater than 0"),
    ],
)
def test_invalid_values_are_explained(tmp_path: Path, text: str, expected: str) -> None:
    [problem] = _problems(tmp_path, case=text)
    assert expected in problem, problem


def test_an_agent_defined_in_two_files_is_an_error(tmp_path: Path) -> None:
    problems = _problems(tmp_path, a="[agent.mailer]\n", b="[agent.mailer]\n")
    assert problems == [
        f"{tmp_path / 'b.toml'}:1: agent.mailer: already defined in {tmp_path / 'a.toml'}"
    ]


def test_policy_check_command(cli: Cli, tmp_path: Path) -> None:
    agents = bundled_agents_dir()
    assert agents is not None
    good = cli("policy", "check", "--policies", str(ROOT / "policies"), "--agents", str(agents))
    shipped = len(list((ROOT / "policies").glob("*.toml")))
    assert good.returncode == 0 and f"ok: {shipped} file(s)" in good.stdout, good.describe()

    (tmp_path / "bad.toml").write_text(
        '[agent.mailer]\ntools = ["send_mail", "rm_rf"]\n[agent.x]\n'
    )
    bad = cli("policy", "check", "--policies", str(tmp_path), "--agents", str(agents))
    assert bad.returncode == 2, bad.describe()
    lines = bad.stderr.strip().splitlines()
    assert lines[-1] == f"2 problem(s) in {tmp_path}"
    assert all(line.startswith("error: ") for line in lines[:-1]) and "Traceback" not in bad.stderr

    missing = cli("policy", "check", "--policies", str(tmp_path / "nope"), "--agents", str(agents))
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.describe()


def test_run_refuses_to_start_with_a_broken_policy(cli: Cli, tmp_path: Path) -> None:
    """Governance must not silently disappear: a broken policy stops `run` before it opens
    the database, with every problem listed."""
    agents = bundled_agents_dir()
    assert agents is not None
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "mailer.toml").write_text('[agent.mailer]\ntools = ["send_email"]\n')
    db = tmp_path / "fresh.db"
    result = cli("run", "--db", db, "--agents", agents, "--policies", policies, "--exit-when-idle")
    assert result.returncode == 2, result.describe()
    assert "agent.mailer.tools[0]: 'send_email' is not a tool of agent mailer" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()


# -- reloading while running ---------------------------------------------------------------------


async def test_an_edited_policy_is_enforced_and_a_broken_one_rejected_keeping_the_last_good(
    harness: Harness, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "refunds.toml").write_text('[agent.refunds]\ntools = ["lookup_order"]\n')
    supervisor = harness.supervisor(
        list(AGENTS.values()),
        policies=load_policies(policies, AGENTS),
        policies_dir=policies,
        policy_check_interval_s=0.01,
    )
    await supervisor.start()
    try:
        refunds = AGENTS["refunds"]
        assert not supervisor.gate.policy(refunds).allows("issue_refund")

        (policies / "refunds.toml").write_text('[agent.refunds]\ntools = ["issue_refunds"]\n')
        [rejected] = await _journaled(harness, "policy_rejected")
        assert "'issue_refunds' is not a tool of agent refunds" in rejected.problems[0]
        assert not supervisor.gate.policy(refunds).allows("issue_refund"), "half applied"
        assert supervisor.gate.policy(refunds).allows("lookup_order"), "last good policy lost"

        (policies / "refunds.toml").write_text(
            '[agent.refunds]\ntools = ["lookup_order", "issue_refund"]\n'
        )
        [loaded] = await _journaled(harness, "policy_loaded")
        assert loaded.files == ["refunds.toml"]
        assert supervisor.gate.policy(refunds).allows("issue_refund")
    finally:
        await supervisor.stop()


async def _journaled(harness: Harness, kind: str) -> list[Any]:
    async with asyncio.timeout(10):
        while True:
            found = [e.event for e in await harness.entries(kind=kind)]
            if found:
                return found
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "text",
    [
        '[roles]\noncall = ["ann"]\n',
        '[prices."openai:m"]\ninput_per_million = 1\noutput_per_million = 2\n',
        '[endpoints.local]\napi = "openai"\nbase_url = "http://127.0.0.1:1"\n',
        "[users.ann]\ndaily_budget_usd = 5\n",
    ],
)
def test_a_role_price_endpoint_or_user_defined_in_two_files_is_an_error(
    tmp_path: Path, text: str
) -> None:
    [problem] = _problems(tmp_path, a=text, b=text)
    assert problem.startswith(str(tmp_path / "b.toml"))
    assert problem.endswith(f"already defined in {tmp_path / 'a.toml'}")
