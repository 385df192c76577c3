"""`controlroom bench`: one JSON object with the documented keys, figures that hold together,
and a refusal to reuse an existing file. Timing is reported, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KEYS = {
    "agents",
    "steps",
    "steps_per_s",
    "p50_ms",
    "p99_ms",
    "resume_ms",
    "bytes_per_step",
    "peak_rss_mb",
}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlroom", "bench", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bench_reports_the_canonical_workload(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    done = _bench("--agents", "4", "--steps", "6", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert set(figures) >= KEYS
    assert (figures["agents"], figures["steps"]) == (4, 6)
    assert figures["durable_steps"] == 24
    assert figures["effects"] == 24, "every step makes exactly one side effect"
    assert 0 < figures["commits"] < 2 * 24, "steps of different agents share commits"
    assert figures["p50_ms"] <= figures["p99_ms"]
    assert 0 < figures["bytes_per_step"] < 4096
    assert figures["steps_per_s"] > 0 and figures["resume_ms"] > 0 and figures["peak_rss_mb"] > 0
    assert db.stat().st_size > 0, "--db keeps the database for inspection"


def test_bench_refuses_an_existing_file(tmp_path: Path) -> None:
    db = tmp_path / "precious.db"
    db.write_text("keep me")
    done = _bench("--agents", "1", "--steps", "1", "--db", str(db))
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert db.read_text() == "keep me"


def test_bench_table_without_json() -> None:
    done = _bench("--agents", "2", "--steps", "2")
    assert done.returncode == 0, done.stderr
    assert "steps_per_s" in done.stdout and not done.stdout.lstrip().startswith("{")


def test_gate_overhead_runs_the_workload_with_and_without_the_gate() -> None:
    done = _bench("--scenario", "gate-overhead", "--agents", "3", "--steps", "4", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert len(figures["governed_runs"]) == len(figures["ungoverned_runs"]) == figures["rounds"]
    assert figures["governed_steps_per_s"] in figures["governed_runs"]
    assert figures["ungoverned_steps_per_s"] in figures["ungoverned_runs"]
    expected = (figures["ungoverned_steps_per_s"] / figures["governed_steps_per_s"] - 1) * 100
    assert abs(figures["overhead_pct"] - expected) < 0.1


def test_tree_compares_a_team_with_as_many_independent_agents() -> None:
    """A run fails unless every member completed with one effect per step, so a zero exit
    means the team really did the work it is timed on."""
    done = _bench("--scenario", "tree", "--agents", "4", "--steps", "3", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert (figures["members"], figures["steps"]) == (4, 3)
    assert len(figures["tree_runs"]) == len(figures["independent_runs"]) == figures["rounds"]
    assert figures["tree_steps_per_s"] in figures["tree_runs"]
    expected = figures["tree_steps_per_s"] / figures["independent_steps_per_s"] * 100
    assert abs(figures["tree_pct_of_independent"] - expected) < 0.1


def test_kill_switch_pauses_every_busy_agent() -> None:
    done = _bench("--scenario", "kill-switch", "--agents", "12", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["agents"] == 12
    assert figures["statuses"] == {"paused": 12}, "every agent paused, none lost or in doubt"
    assert figures["kill_switch_ms"] >= figures["queue_ms"] > 0


def test_approvals_at_rest_measures_waiting_agents_and_their_resumption() -> None:
    done = _bench("--scenario", "approvals", "--agents", "30", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert (figures["agents"], figures["waiting"], figures["resumes"]) == (30, 30, 30)
    # Waiting agents have no asyncio task: the same tasks as a supervisor with none.
    assert figures["tasks_waiting"] == figures["tasks_empty"]
    assert figures["rss_mb_waiting"] > 0 and figures["rss_mb_empty"] > 0
    assert 0 < figures["resume_p50_ms"] <= figures["resume_p99_ms"] <= figures["resume_max_ms"]
    assert figures["resume_p50_ms"] <= figures["result_p50_ms"]
