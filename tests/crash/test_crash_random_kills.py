"""Randomized kill loop: hundreds of SIGKILLs at moments the test does not choose.

Runs of 20 agents x 30 steps (idempotent, reconcilable and unsafe agents mixed) on a fresh
database each. The supervisor is forked from this process (already initialised, so a start
costs milliseconds, not an interpreter), and SIGKILLed after a delay drawn uniformly from
[0, CRASH_MAX_DELAY] seconds after the fork, independently of anything the child prints.
The range covers start-up (opening and checking the database, taking the lease, recovering
20 agents), group transactions and tool calls: a whole uninterrupted run takes about as
long as the range. The child is relaunched, and killed again, until one launch finishes by
itself with every agent done.

After every kill: `PRAGMA integrity_check`, every event the child printed is durable,
checkpoint steps never decrease and the journal only grows. After every run: the conftest
checks (hash chain, contiguous checkpoints, every effect announced first, no duplicated
effect) and the final ones (idem/recon completed with one effect per step, unsafe completed
or in_doubt, every unsafe call started without an outcome surfaced as in_doubt).

Environment: CRASH_SEED (default: random, printed), CRASH_KILLS (default 300),
CRASH_MAX_DELAY (default 0.5 s).
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections import Counter
from pathlib import Path

from crashkit import (
    SIGKILLED,
    CrashCheckFailed,
    CrashLab,
    agent_mix,
    assert_nothing_lost,
    snapshot,
    violation_kind,
)

AGENTS, STEPS = 20, 30
PLAN = agent_mix(7, 7, 6, STEPS)  # 7 idem, 7 recon, 6 unsafe
KILLS = int(os.environ.get("CRASH_KILLS", "300"))
MAX_DELAY = float(os.environ.get("CRASH_MAX_DELAY", "0.5"))
TIME_BUDGET_S = 180.0
MAX_LAUNCHES_PER_RUN = 200
NO_OUTCOME = "unsafe calls started without an outcome"


def test_random_sigkill_loop(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ncrash loop: CRASH_SEED={seed} kills>={KILLS} max_delay={MAX_DELAY}s")
    rng = random.Random(seed)

    # One database with the 20 agents queued (through `controlroom submit`), copied per run.
    template = CrashLab(tmp_path / "template")
    ids = template.submit(PLAN)
    assert len(ids) == AGENTS
    assert not Path(f"{template.db}-wal").exists() or Path(f"{template.db}-wal").stat().st_size == 0

    figures: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    examples: dict[str, str] = {}
    started = time.monotonic()
    run = 0
    while figures["kills"] < KILLS:
        assert time.monotonic() - started < 2 * TIME_BUDGET_S, f"giving up: {dict(figures)}"
        run += 1
        lab = CrashLab(tmp_path / f"run{run:03d}")
        shutil.copyfile(template.db, lab.db)
        before = snapshot(lab.db)
        found: list[str] = []  # every violation of this run
        launches = 0
        while True:
            launches += 1
            assert launches <= MAX_LAUNCHES_PER_RUN, f"run {run} makes no progress: {before}"
            delay = rng.uniform(0.0, MAX_DELAY)
            child = lab.start_run()
            deadline = child.started + delay
            while child.poll() is None and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.002))
            code = child.kill()  # SIGKILL unless it already exited; reaped either way
            result = child.result()
            figures["launches"] += 1
            try:
                if code == SIGKILLED:
                    figures["kills"] += 1
                    running = any(p["kind"] == "agent_started" for p in result.printed())
                    figures[f"kills during {'running' if running else 'start-up'}"] += 1
                    # integrity_check, printed events durable, nothing lost
                    before = lab.after_kill(result, before)
                    continue
                if code != 0:
                    raise CrashCheckFailed(f"supervisor failed: {result.describe()}")
                figures["clean exits"] += 1
                lab.assert_printed_durable(result)
                now = snapshot(lab.db)
                assert_nothing_lost(lab.db, before, now, "after a clean run")
                before = now
            except CrashCheckFailed as exc:
                found.append(str(exc))
                before = snapshot(lab.db)
            if not before.busy:
                break
        facts, messages = lab.collect()
        found.extend(messages)
        figures["runs"] += 1
        for status in facts.statuses.values():
            figures[f"agents {status}"] += 1
        figures["same-key re-sends absorbed by the receiver"] += facts.dedup_hits
        figures["reconciled by lookup"] += sum(
            1
            for e in facts.events
            if e["kind"] == "tool_call_succeeded" and e["payload"]["reconciled"]
        )
        for agent_id, status in facts.statuses.items():
            if facts.kinds[agent_id] != "unsafe":
                continue
            mine = facts.of(agent_id)
            done = {e["payload"]["key"] for e in mine if e["kind"] == "tool_call_succeeded"}
            doubted = {e["payload"]["key"] for e in mine if e["kind"] == "tool_call_in_doubt"}
            happened = {r["key"] for r in facts.effects(agent_id)}
            for e in mine:
                key = e["payload"].get("key")
                if e["kind"] != "tool_call_started" or key in done:
                    continue
                figures[f"{NO_OUTCOME}"] += 1
                if status == "in_doubt" and key in doubted:
                    figures[f"{NO_OUTCOME}: surfaced as in_doubt"] += 1
                    what = "had taken effect" if key in happened else "had not run"
                    figures[f"{NO_OUTCOME}: in doubt, {what}"] += 1
        figures["duplicate effects"] += sum("DUPLICATE EFFECT" in m for m in found)
        figures["lost steps"] += sum("was lost" in m for m in found)
        figures["unsurfaced doubts"] += sum("not surfaced" in m for m in found)
        for message in found:
            kind = violation_kind(message)
            problems[kind] += 1
            examples.setdefault(kind, f"run {run}: {message}")
        shutil.rmtree(lab.root, ignore_errors=True)
    elapsed = time.monotonic() - started

    print(f"crash loop: seed {seed}, {elapsed:.1f}s")
    for name, value in sorted(figures.items()):
        print(f"  {name:>45}: {value}")
    for kind, count in problems.most_common():
        print(f"  VIOLATION x{count}: {examples[kind][:400]}")

    assert figures["kills"] >= KILLS
    assert figures["kills during start-up"] > 0 and figures["kills during running"] > 0
    assert figures["agents completed"] + figures["agents in_doubt"] == AGENTS * figures["runs"]
    assert figures[NO_OUTCOME] == figures[f"{NO_OUTCOME}: surfaced as in_doubt"]
    assert not problems, (
        f"seed {seed}: {sum(problems.values())} violation(s) of {len(problems)} kind(s) in "
        f"{figures['runs']} runs / {figures['kills']} kills ({elapsed:.0f}s); first of each "
        "kind:\n" + "\n".join(f"- x{problems[k]}: {examples[k][:600]}" for k in problems)
    )
    assert elapsed < TIME_BUDGET_S, f"the kill loop took {elapsed:.0f}s (budget {TIME_BUDGET_S}s)"
