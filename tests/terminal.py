"""A real `controlroom` command run in a pseudo-terminal, as over SSH: a fixed size, keys
typed into it, its output drained by a thread so the app never blocks writing."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cr_support import PYTHON


class Terminal:
    """`python -m controlroom ARGS` on a pty of `size` (columns, rows)."""

    def __init__(
        self, args: Sequence[str | Path], cwd: Path, env: dict[str, str], size: tuple[int, int]
    ) -> None:
        controller, child = pty.openpty()
        columns, rows = size
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "controlroom", *map(str, args)],
            cwd=cwd,
            env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)},
            # All three on the terminal, as in a shell (Textual draws on stderr).
            stdin=child,
            stdout=child,
            stderr=child,
            start_new_session=True,
        )
        os.close(child)
        self._controller = controller
        self._output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._controller, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._output.extend(chunk)

    @property
    def output(self) -> bytes:
        return bytes(self._output)

    def type(self, text: str) -> None:
        os.write(self._controller, text.encode())

    def wait(self, timeout: float = 30.0) -> int:
        """The exit code, once the command has exited (raises on timeout)."""
        return self.proc.wait(timeout)

    def text(self) -> str:
        """What was written to the terminal, for a failure message."""
        return self.output.decode(errors="replace")[-3000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        deadline = time.monotonic() + 5
        while self._reader.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.close(self._controller)
