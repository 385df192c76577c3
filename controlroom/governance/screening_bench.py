"""Measuring injection screening on a labelled corpus: detection and false-positive rates.

The rules are written and tuned on our own development set (tests/data/injection_dev.jsonl);
a public corpus is only ever measured, never read to write rules, so its figures say how the
screening does on attacks and traps nobody tuned it for. Like the durability benchmark, the
measurement is one command with JSON out (`controlroom screen --corpus bastioncorpus --json`).

A corpus package is an optional (dev) dependency: it is imported when asked for, and its
absence is an operator-facing error naming the package to install, not a traceback.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from controlroom.errors import ControlRoomError
from controlroom.governance.screening import Level, screen

CORPORA = ("bastioncorpus",)


class CorpusUnavailable(ControlRoomError):
    """The corpus package is not installed."""

    exit_code = 2


class LabelledText(NamedTuple):
    """One measured text: `label` is "malicious" or "benign"; `category` its family."""

    text: str
    label: str
    category: str
    lang: str = ""


def bastion_rows() -> tuple[str, list[LabelledText]]:
    """The version and rows of the public bastioncorpus (canary slots stripped), for
    measuring only."""
    try:
        corpus = importlib.import_module("bastioncorpus")
    except ImportError as exc:
        raise CorpusUnavailable(
            "the bastioncorpus package is not installed: pip install bastioncorpus"
        ) from exc
    rows = [
        LabelledText(row.stripped(), row.label, row.category, getattr(row, "lang", ""))
        for row in corpus.load_corpus()
    ]
    return str(getattr(corpus, "__version__", "unknown")), rows


def corpus_report(name: str, level: Level = "standard") -> dict[str, Any]:
    """Screen every row of the named corpus and report the rates (see `measure`)."""
    if name not in CORPORA:
        raise CorpusUnavailable(f"unknown corpus {name!r}: known corpora are {', '.join(CORPORA)}")
    version, rows = bastion_rows()
    return {"corpus": f"{name} {version}", **measure(rows, level)}


def measure(rows: Iterable[LabelledText], level: Level = "standard") -> dict[str, Any]:
    """Detection rate (malicious flagged / malicious) and false-positive rate (benign flagged
    / benign), overall, per category and per language, with the mean screening time."""
    tally: dict[tuple[str, str], list[int]] = {}  # (kind, key) -> [texts, flagged]
    started = time.perf_counter()
    count = 0
    for row in rows:
        flagged = int(screen(row.text, level).flagged)
        count += 1
        language = f"{row.lang or '?'}/{row.label}"
        for key in (("all", row.label), ("category", row.category), ("lang", language)):
            seen = tally.setdefault(key, [0, 0])
            seen[0] += 1
            seen[1] += flagged
    elapsed = time.perf_counter() - started
    malicious = tally.get(("all", "malicious"), [0, 0])
    benign = tally.get(("all", "benign"), [0, 0])
    return {
        "level": level,
        "texts": count,
        "malicious": malicious[0],
        "benign": benign[0],
        "detected": malicious[1],
        "false_positives": benign[1],
        "detection_rate": _rate(malicious),
        "false_positive_rate": _rate(benign),
        "categories": _breakdown(tally, "category"),
        "languages": _breakdown(tally, "lang"),
        "us_per_text": round(elapsed / count * 1e6, 1) if count else 0.0,
    }


def _rate(seen: list[int]) -> float:
    return round(seen[1] / seen[0], 4) if seen[0] else 0.0


def _breakdown(tally: dict[tuple[str, str], list[int]], kind: str) -> dict[str, dict[str, Any]]:
    """Per key: texts, flagged and the rate (detection for malicious rows, false positives
    for benign ones; categories say which by their name, benign ones start with benign_)."""
    return {
        key: {"texts": seen[0], "flagged": seen[1], "rate": _rate(seen)}
        for (found_kind, key), seen in sorted(tally.items())
        if found_kind == kind
    }


def report_table(report: dict[str, Any]) -> str:
    """The report as a table an operator reads in a terminal."""
    lines = [
        f"corpus {report.get('corpus', '?')}, level {report['level']}: {report['texts']} texts, "
        f"{report['us_per_text']} us per text",
        f"detection       {report['detection_rate']:7.1%}  "
        f"({report['detected']} of {report['malicious']} malicious flagged)",
        f"false positives {report['false_positive_rate']:7.1%}  "
        f"({report['false_positives']} of {report['benign']} benign flagged)",
        "",
        f"{'category':32} {'texts':>6} {'flagged':>8} {'rate':>7}  measures",
    ]
    for name, seen in report["categories"].items():
        measures = "false positives" if name.startswith("benign") else "detection"
        lines.append(
            f"{name:32} {seen['texts']:6} {seen['flagged']:8} {seen['rate']:7.1%}  {measures}"
        )
    lines += ["", f"{'language/label':32} {'texts':>6} {'flagged':>8} {'rate':>7}"]
    for name, seen in report["languages"].items():
        lines.append(f"{name:32} {seen['texts']:6} {seen['flagged']:8} {seen['rate']:7.1%}")
    return "\n".join(lines)
