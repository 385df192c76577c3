"""Where things live by default. Every path can be overridden on the command line or by
environment, so the same code runs from a checkout, a pip install or a service unit.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """$CONTROLROOM_HOME, else $XDG_DATA_HOME/controlroom, else ~/.local/share/controlroom."""
    explicit = os.environ.get("CONTROLROOM_HOME")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "controlroom"


def bundled_agents_dir() -> Path | None:
    """The example agents shipped beside the package in a checkout, if present."""
    candidate = Path(__file__).resolve().parent.parent / "agents"
    return candidate if candidate.is_dir() else None


def bundled_policies_dir() -> Path | None:
    """The example agents' policies shipped beside the package in a checkout, if present."""
    candidate = Path(__file__).resolve().parent.parent / "policies"
    return candidate if candidate.is_dir() else None
