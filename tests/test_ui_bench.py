"""`controlroom bench --scenario ui` on a small load: the figures are all there, every key
press was seen on the screen, and the app kept up with the feed. Timing is reported by the
benchmark, never asserted here."""

from __future__ import annotations

from controlroom.ui.bench import ui_benchmark

KEYS = {
    "agents",
    "events_per_s",
    "window_s",
    "key_p50_ms",
    "key_p99_ms",
    "key_max_ms",
    "cpu_percent",
    "batches",
    "kept_up",
}


def test_ui_benchmark_measures_keys_cpu_and_keeping_up() -> None:
    figures = ui_benchmark(50, events_per_s=100, window_s=2.5)
    assert set(figures) >= KEYS
    assert figures["agents"] == 50
    assert figures["kept_up"] is True, figures
    assert figures["keys"] >= 5 and figures["keys_missed"] == 0, figures
    assert 0 < figures["key_p50_ms"] <= figures["key_p99_ms"] <= figures["key_max_ms"]
    assert figures["events_per_s"] > 50, "the feed wrote in a separate process, near its rate"
    assert figures["batches"] >= 2 and figures["frames"] > 0
    assert figures["cpu_percent"] > 0
    assert figures["color_system"] == "truecolor", "frames rendered as for a real terminal"


def test_ui_benchmark_with_tasks_as_trees_and_sub_agents_arriving() -> None:
    """The same with the agents in trees (`team_size`) and sub-agents submitted during the
    window: the app keeps up with them, and no key press is lost to rows moving."""
    figures = ui_benchmark(50, events_per_s=100, window_s=2.5, team_size=10, spawn_per_s=2)
    assert figures["team_size"] == 10 and figures["spawned"] >= 3, figures
    assert figures["kept_up"] is True, figures
    assert figures["keys"] >= 5 and figures["keys_missed"] == 0, figures
