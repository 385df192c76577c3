"""The headless layers never import Textual (DESIGN.md: only controlroom.ui does).

Proved twice, as harlequin does: each headless package, with every module inside it, is
imported in a fresh interpreter that then reports whether `textual` got loaded; and the
import-linter contracts in pyproject.toml are checked with `lint-imports`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cr_support import PYTHON, REPO

HEADLESS = (
    "controlroom.domain",
    "controlroom.store",
    "controlroom.governance",
    "controlroom.providers",
    "controlroom.runtime",
    "controlroom.notify",
    "controlroom.webhooks",
    "controlroom.orchestration",
    "controlroom.cli",
)

# Imports the package and every module below it, then prints what it imported.
_PROBE = """
import importlib, pkgutil, sys
root = importlib.import_module(sys.argv[1])
names = [root.__name__]
for info in pkgutil.walk_packages(getattr(root, "__path__", []), root.__name__ + "."):
    importlib.import_module(info.name)
    names.append(info.name)
print(len(names))
print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
"""


def _probe(package: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-c", _PROBE, package],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_headless_packages_do_not_import_textual() -> None:
    """Every headless package (all its modules) loads without Textual being imported."""
    probes = {package: _probe(package) for package in HEADLESS}
    for package, proc in probes.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"importing {package} failed:\n{err}"
        count, textual = out.strip().splitlines()
        assert int(count) >= 1
        assert textual == "[]", f"importing {package} imported Textual: {textual}"


def test_probe_detects_textual(tmp_path: Path) -> None:
    """The probe can fail: a package with one module importing Textual is reported."""
    package = tmp_path / "leaky"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "view.py").write_text("import textual.app\n")
    proc = subprocess.run(
        [PYTHON, "-c", _PROBE, "leaky"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "'textual'" in proc.stdout.splitlines()[1]


@pytest.mark.parametrize("package", ["controlroom.runtime", "controlroom.store"])
def test_headless_packages_have_modules(package: str) -> None:
    """The walk really imports the package's modules (not just an empty __init__)."""
    proc = _probe(package)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert int(out.splitlines()[0]) > 3


def test_import_linter_contracts_hold() -> None:
    """`lint-imports` (contracts in pyproject.toml) passes: no Textual below ui, layers hold."""
    lint_imports = Path(PYTHON).parent / "lint-imports"
    assert lint_imports.exists(), f"{lint_imports} is not installed (pip install -e '.[dev]')"
    proc = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Only controlroom.ui imports Textual KEPT" in output
    assert "Layers point one way KEPT" in output
    assert "0 broken" in output
