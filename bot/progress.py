"""A progress line for long commands on a terminal: rewritten in place, at most a few times a second."""

from __future__ import annotations

import time
from typing import TextIO

from workflow.catalog import Progress

INTERVAL = 0.25  # seconds between rewrites: readable, and no cost to the import


class ImportProgress:
    """Rows read, rows per second and the time left (from the bytes read of the file's size), on one line of
    `stream` rewritten with \\r. The first and the last report always show; the others at most every INTERVAL."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown_at: float | None = None
        self.width = 0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.shown_at is not None and now - self.shown_at < INTERVAL and not progress.reading_done:
            return
        self.shown_at = now
        elapsed = max(now - self.started, 1e-6)
        line = f"{progress.rows:,} rows, {progress.rows / elapsed:,.0f} rows/s"
        if progress.reading_done:
            line += ", all read; checking and writing"
        elif 0 < progress.read < progress.size:  # a pipe or a growing file has no size to go by
            left = elapsed * (progress.size - progress.read) / progress.read
            line += f", {_duration(left)} left"
        self._show(line)

    def close(self) -> None:
        """Clear the line, so that what follows starts on a clean one."""
        if self.width:
            self._show("")

    def _show(self, line: str) -> None:
        self.stream.write("\r" + line.ljust(self.width) + ("\r" if not line else ""))
        self.stream.flush()
        self.width = len(line)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"
