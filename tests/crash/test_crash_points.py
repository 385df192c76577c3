"""Every named crash point, walked with a real `controlroom run` subprocess.

For each name in `controlroom.crashpoints.POINTS`: a fresh database, a mix of agents
(idempotent, reconcilable, unsafe, and one that creates resources), a supervisor started
with `CONTROLROOM_CRASH_AT` that must die by SIGKILL there, then relaunches without it
until idle. Afterwards every idem/recon/maker agent completed, every unsafe agent completed
or is `in_doubt` only where a started call lacks an outcome, no committed step was lost, and
the database checks of crashkit.py hold.

A point that a scenario does not reach fails loudly: the process then exits normally and
`expect_killed` reports that the crash point was not reached. A point added to POINTS
without a scenario here fails `test_every_point_has_a_scenario`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from crashkit import CrashLab

from controlroom.crashpoints import POINTS

STEPS = 5
# idem x2, recon x2, unsafe x2, maker x1, interleaved: 7 agents of 5 tool steps each.
PLAN = [
    ("idem", str(STEPS)),
    ("recon", str(STEPS)),
    ("unsafe", str(STEPS)),
    ("maker", str(STEPS)),
    ("idem", str(STEPS)),
    ("recon", str(STEPS)),
    ("unsafe", str(STEPS)),
]


@dataclass(frozen=True)
class Scenario:
    """How to reach one crash point.

    `plan`: the agents submitted; `prepare`: a first crash (to leave agents running, for a
    point only a restart reaches); `commands`: operator commands queued after it;
    `crash_at`: the point (`name:N`).
    """

    crash_at: str
    plan: tuple[tuple[str, str], ...] = tuple(PLAN)
    prepare: str | None = None
    commands: tuple[tuple[str, str], ...] = ()
    expected: dict[str, set[str]] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    # The first start reaches it.
    "after-open": Scenario("after-open"),
    # Needs two agents left running by an earlier crash.
    "mid-recovery": Scenario("mid-recovery", prepare="after-step-commit:10"),
    # Mid-run: the N-th occurrence across all agents.
    "before-model-turn": Scenario("before-model-turn:12"),
    "after-model-turn": Scenario("after-model-turn:12"),
    "in-transaction": Scenario("in-transaction:8"),
    "after-commit": Scenario("after-commit:8"),
    "after-intent-commit": Scenario("after-intent-commit:9"),
    "after-tool-effect": Scenario("after-tool-effect:9"),
    "after-step-commit": Scenario("after-step-commit:9"),
    # The maker registers one resource per step.
    "after-resource-created": Scenario("after-resource-created:2"),
    # Leave the maker running with resources, then pause and terminate it while no
    # supervisor runs: the next supervisor pauses it, then rolls it back and dies after the
    # first compensation; the relaunch applies the still-pending terminate again.
    # The maker gets a long task so that it is still running when the commands apply (they
    # are applied only after recovery has restarted it: see test_pause_queued_after_...).
    "mid-compensation": Scenario(
        "mid-compensation",
        plan=tuple((a, "150" if a == "maker" else t) for a, t in PLAN),
        prepare="after-step-commit:15",
        commands=(("pause", "maker-1"), ("terminate", "maker-1")),
        expected={"maker-1": {"terminated"}},
    ),
    # The third queued agent picked up.
    "after-submit-pickup": Scenario("after-submit-pickup:3"),
}


# Points only a team reaches: test_crash_teams.py kills there.
TEAM_ONLY = {"after-team-commit", "member-ended"}


def test_every_point_has_a_scenario() -> None:
    assert set(SCENARIOS) | TEAM_ONLY == set(POINTS), (
        f"crash points without a scenario: {sorted(set(POINTS) - set(SCENARIOS))}; "
        f"scenarios for unknown points: {sorted(set(SCENARIOS) - set(POINTS))}"
    )


@pytest.mark.parametrize("point", sorted(set(POINTS) - TEAM_ONLY))
def test_crash_point(point: str, crashlab: CrashLab) -> None:
    scenario = SCENARIOS.get(point)
    assert scenario is not None, f"no scenario reaches crash point {point!r}"
    lab = crashlab
    ids = lab.submit(scenario.plan)
    assert ids == ["idem-1", "recon-1", "unsafe-1", "maker-1", "idem-2", "recon-2", "unsafe-2"]

    before = None
    if scenario.prepare:
        before = lab.expect_killed(lab.run_subprocess(scenario.prepare))
        running = [a for a, s in before.statuses.items() if s == "running"]
        assert len(running) >= 2, f"preparation left only {running} running"
        if point == "mid-compensation":
            facts = lab.verify("after the preparation kill")
            widgets = [r for r in facts.resources if r["agent_id"] == "maker-1"]
            assert widgets, "preparation left maker-1 without a resource to compensate"
            assert before.statuses["maker-1"] == "running"
    for name, target in scenario.commands:
        outcome = lab.command(name, target)
        assert outcome.startswith(f"queued {name} {target}"), outcome

    killed = lab.run_subprocess(scenario.crash_at)
    after_kill = lab.expect_killed(killed, before)
    lab.verify(f"after the kill at {scenario.crash_at}")

    lab.relaunch_until_idle(after_kill, subprocess_mode=True)
    facts = lab.verify("after relaunch", scenario.expected, final=True)

    # `controlroom status --json` agrees.
    status = lab.status_json()
    by_id = {a["id"]: a for a in status["agents"]}
    assert set(by_id) == set(ids)
    for agent_id in ids:
        assert by_id[agent_id]["status"] == facts.statuses[agent_id]
        assert by_id[agent_id]["step"] == facts.steps[agent_id]
    assert status["supervisor"].startswith("none running") or status["supervisor"].startswith(
        "not running"
    ), status["supervisor"]

    if point == "mid-compensation":
        # The compensation that ran before the kill ran again after it (it was not
        # journaled); the receiver's deduplication absorbed it.
        compensations = [r for r in facts.ledger if r["tool"] == "compensate"]
        assert any(r.get("dedup") for r in compensations), compensations
        assert facts.statuses["maker-1"] == "terminated"

    lab.raise_problems()
