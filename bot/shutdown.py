"""Graceful shutdown: on SIGTERM (a process manager, `docker stop`) or SIGINT (Ctrl-C) the process stops taking
requests, lets those in hand and the effects being run finish, and releases the effects it claimed but did not
start, all within SHUTDOWN_SECONDS of the signal (bot/cli.py `run`)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

log = logging.getLogger("bot.shutdown")


class Shutdown:
    """The deadline, counted from the first signal; a second signal changes nothing (the deadline holds)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end: float | None = None
        self._lock = threading.Lock()

    def install(self, begin: Callable[[], None]) -> None:
        """On SIGTERM or SIGINT, call `begin` (in the main thread, as signal handlers run) once."""

        def handle(signum: int, _frame: object) -> None:
            with self._lock:
                if self._end is not None:
                    return
                self._end = time.monotonic() + self.seconds
            log.info("stopping (%s): no new requests; finishing those in hand and the effects being run, "
                     "up to %g s", signal.Signals(signum).name, self.seconds)
            begin()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def left(self) -> float:
        """Seconds left before the deadline (all of them when no signal came: the process ends for another
        reason)."""
        return self.seconds if self._end is None else max(0.0, self._end - time.monotonic())
