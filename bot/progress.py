"""A progress line for long commands on a terminal: rewritten in place, at most a few times a second, in the
operator's language."""

from __future__ import annotations

import time
from typing import TextIO

from i18n import Language, english
from workflow.catalog import Progress
from workflow.order_import import OrdersProgress

INTERVAL = 0.25  # seconds between rewrites: readable, and no cost to the import


class ImportProgress:
    """Rows read, rows per second and the time left (from the bytes read of the file's size), on one line of
    `stream` rewritten with \\r. The first and the last report always show; the others at most every INTERVAL."""

    def __init__(self, stream: TextIO, lang: Language | None = None) -> None:
        self.stream = stream
        self.lang = lang or english()
        self.started = time.monotonic()
        self.shown_at: float | None = None
        self.width = 0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.shown_at is not None and now - self.shown_at < INTERVAL and not progress.reading_done:
            return
        self.shown_at = now
        elapsed = max(now - self.started, 1e-6)
        lang = self.lang
        values = {"rows": lang.number(progress.rows), "rate": lang.number(round(progress.rows / elapsed))}
        if progress.reading_done:
            line = lang._("{rows} rows, {rate} rows/s, all read; checking and writing").format(**values)
        elif 0 < progress.read < progress.size:  # a pipe or a growing file has no size to go by
            left = elapsed * (progress.size - progress.read) / progress.read
            line = lang._("{rows} rows, {rate} rows/s, {left} left").format(left=_duration(lang, left), **values)
        else:
            line = lang._("{rows} rows, {rate} rows/s").format(**values)
        self._show(line)

    def close(self) -> None:
        """Clear the line, so that what follows starts on a clean one."""
        if self.width:
            self._show("")

    def _show(self, line: str) -> None:
        self.stream.write("\r" + line.ljust(self.width) + ("\r" if not line else ""))
        self.stream.flush()
        self.width = len(line)


class OrdersImportProgress(ImportProgress):
    """The orders import's line: rows checked, then orders created, their rate and the time left."""

    def __call__(self, progress: OrdersProgress) -> None:  # type: ignore[override]
        now = time.monotonic()
        last = progress.to_create is not None and progress.created == progress.to_create
        if self.shown_at is not None and now - self.shown_at < INTERVAL and not last:
            return
        if progress.to_create is not None and progress.created <= 1:
            self.started = now  # the rate and the time left are the creating's, not the checking's
        self.shown_at = now
        elapsed = max(now - self.started, 1e-6)
        lang = self.lang
        if progress.to_create is None:
            line = lang._("{rows} rows checked").format(rows=lang.number(progress.checked))
        else:
            rate = progress.created / elapsed
            left = (progress.to_create - progress.created) / rate if rate else 0
            line = lang._("{created} of {total} orders created, {rate} orders/s, {left} left").format(
                created=lang.number(progress.created), total=lang.number(progress.to_create),
                rate=lang.number(round(rate)), left=_duration(lang, left))
        self._show(line)


def _duration(lang: Language, seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return lang._("{seconds} s").format(seconds=seconds)
    return lang._("{minutes} min {seconds} s").format(minutes=seconds // 60, seconds=f"{seconds % 60:02d}")
