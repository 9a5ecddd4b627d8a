"""A progress bar for long imports, on stderr: redrawn in place on a terminal, a line per
tenth otherwise (a log file or CI)."""

from __future__ import annotations

import time
from typing import Any

PHASES = {"validate": "validating rows", "write": "writing agencies"}
WIDTH = 30


class ProgressBar:
    """Called as progress(phase, done, total) by agencies.importing.import_file."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_tenth: dict[str, int] = {}
        self.drawn = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        total = max(total, done, 1)
        share = done / total
        elapsed = time.monotonic() - self.started
        filled = int(WIDTH * share)
        text = (
            f"{PHASES.get(phase, phase):<17} [{'#' * filled}{'.' * (WIDTH - filled)}] "
            f"{done:>7,}/{total:,} {share:4.0%} {elapsed:5.1f}s"
        )
        if self.tty:
            self.stream.write(f"\r{text}", ending="")
            self.stream.flush()
            self.drawn = True
            return
        tenth = int(share * 10)
        if tenth > self.last_tenth.get(phase, -1):
            self.last_tenth[phase] = tenth
            self.stream.write(text)

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("")
