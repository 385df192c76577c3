"""SIGKILL inside a team, then relaunch on the same database: every subtask completes once.

A `crew` (agents/crash_agents.py) plans 4 subtasks of 3 idem_put steps, each reviewed by a
critic. The supervisor is killed at a chosen point of the tree: the planner mid-turn, a
worker between a call's intent and its effect or between its effect and its result, the
critic mid-turn, the coordinator right after a decision became durable (members queued, not
yet started), the synthesis mid-turn, and the gap between a member's end and its team's
waking. After relaunching until idle, the crash suite's database checks hold, the team
completed, and each subtask had exactly one worker run with one effect per step, one
review, one plan and one synthesis (`check_teams`).
"""

from __future__ import annotations

import json

import pytest
from crashkit import CrashLab

TEAM_POINTS = {
    "planner mid-turn": "before-model-turn@crew_planner:1",
    "worker after its call's intent": "after-intent-commit@crew_worker:5",
    "worker after its call's effect": "after-tool-effect@crew_worker:7",
    "critic mid-turn": "after-model-turn@crew_critic:2",
    "coordinator after a decision": "after-team-commit@crew:2",
    "synthesis mid-turn": "before-model-turn@crew_planner:2",
    # The last review has ended and nothing else runs: only recovery wakes the team.
    "the last review ended, the team not yet woken": "member-ended@crew_critic:4",
}


@pytest.mark.parametrize("where", sorted(TEAM_POINTS))
def test_a_team_killed_anywhere_completes_every_subtask_once(
    crashlab: CrashLab, where: str
) -> None:
    lab = crashlab
    [team_id] = lab.submit([("crew", json.dumps({"subtasks": 4, "steps": 3}))])
    killed = lab.expect_killed(lab.run_fork(TEAM_POINTS[where]))
    lab.verify("after the kill")
    assert killed.statuses[team_id] != "completed"

    lab.relaunch_until_idle(killed)
    facts = lab.verify("after relaunch", final=True)
    assert facts.statuses[team_id] == "completed"
    lab.raise_problems()
