"""Loading agent definitions from a directory of Python modules.

A broken file must name itself: a syntax error, an import error or an exception at import
time is reported as `path:line: what`, on one line, and nothing else loads half-way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path

from controlroom.domain.specs import AgentSpec, DefinitionError
from controlroom.domain.teams import check_members
from controlroom.errors import AgentLoadError


def load_agents(directory: Path | str) -> dict[str, AgentSpec]:
    """Every `AgentSpec` defined at module level in `directory/*.py`, by name."""
    root = Path(directory)
    if not root.exists():
        raise AgentLoadError(f"{root}: agents directory does not exist")
    if not root.is_dir():
        raise AgentLoadError(f"{root}: is not a directory")
    specs: dict[str, AgentSpec] = {}
    origin: dict[str, Path] = {}
    for path in sorted(root.glob("*.py")):
        if path.name.startswith("_"):
            continue
        for spec in _load_module(path):
            if spec.name in specs and specs[spec.name] is not spec:
                raise AgentLoadError(
                    f"{path}: agent {spec.name!r} is already defined in {origin[spec.name]}"
                )
            specs[spec.name] = spec
            origin[spec.name] = path
    problem = check_members(specs)
    if problem is not None:
        raise AgentLoadError(f"{root}: {problem}")
    return specs


def _load_module(path: Path) -> list[AgentSpec]:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"controlroom_agents_{path.stem}_{digest}"
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        import_spec = importlib.util.spec_from_file_location(module_name, path)
        if import_spec is None or import_spec.loader is None:
            raise AgentLoadError(f"{path}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(import_spec)
        # Registered before executing so dataclasses/pydantic can resolve the module's names.
        sys.modules[module_name] = module
        try:
            import_spec.loader.exec_module(module)
        except SyntaxError as exc:
            del sys.modules[module_name]
            raise AgentLoadError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
        except DefinitionError as exc:
            del sys.modules[module_name]
            raise AgentLoadError(f"{path}:{_line_in(path, exc)}: {exc}") from None
        except Exception as exc:
            del sys.modules[module_name]
            raise AgentLoadError(
                f"{path}:{_line_in(path, exc)}: {type(exc).__name__}: {exc}"
            ) from None
    return [value for value in vars(module).values() if isinstance(value, AgentSpec)]


def _line_in(path: Path, exc: BaseException) -> int:
    """The line of `path` where the exception passed through (the last such frame)."""
    line = 0
    resolved = str(path.resolve())
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and str(Path(frame.filename).resolve()) == resolved:
            line = frame.lineno or 0
    return line
