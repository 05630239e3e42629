"""Waking the effect runner of another process. A process that serves Slack's requests only (EFFECT_WORKERS=0)
queues its steps' effects and leaves them to `service-orders effects work`, so that the effects' CPU, garbage
and database writes never share a process with the acks Slack waits for. On PostgreSQL the serving process
NOTIFYs after each step and the worker LISTENs; SQLite has no such channel between processes, so there the
worker looks for due effects every EFFECT_POLL_SECONDS (a read: WAL readers never wait for the writer)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType

from sqlalchemy import Engine, text

log = logging.getLogger("bot.effects")

CHANNEL = "service_orders_effects"
RECONNECT_SECONDS = 5.0  # after the LISTEN connection is lost; the retry pass covers what comes meanwhile


def notify(engine: Engine) -> None:
    """Tell the worker that effects are due (PostgreSQL; on SQLite it finds them by looking). A lost notice
    delays an effect to the worker's next retry pass (EFFECT_RETRY_SECONDS), never loses it."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect() as connection:
            connection.execute(text(f"NOTIFY {CHANNEL}"))
            connection.commit()
    except Exception:  # the step is stored: its effects wait for the retry pass
        log.warning("could not notify the effects worker; it finds this step's effects at its next retry pass",
                    exc_info=True)


class Listener:
    """The worker's wake-up: calls `wake` when a serving process notifies (PostgreSQL), or when a look finds a
    due effect (SQLite, every `poll_seconds`), in a thread of its own until `stop()`."""

    def __init__(self, engine: Engine, wake: Callable[[], None], due: Callable[[], bool],
                 poll_seconds: float) -> None:
        self.engine = engine
        self.wake = wake
        self.due = due
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="effects-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=self.poll_seconds + 2)

    def _run(self) -> None:
        if self.engine.dialect.name == "postgresql":
            import psycopg  # installed with PostgreSQL's extra only

            while not self._stopping.is_set():
                try:
                    self._listen(psycopg)
                except (psycopg.Error, OSError) as error:
                    log.warning("the effects listener lost PostgreSQL (%s); listening again in %g s", error,
                                RECONNECT_SECONDS)
                    self._stopping.wait(RECONNECT_SECONDS)
            return
        while not self._stopping.wait(self.poll_seconds):
            try:
                if self.due():
                    self.wake()
            except Exception:  # the database is away for a moment: look again at the next poll
                log.warning("could not look for due effects", exc_info=True)

    def _listen(self, psycopg: ModuleType) -> None:
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        with psycopg.connect(*args, **kwargs, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.wake()  # what was notified while nobody listened
            while not self._stopping.is_set():
                # the timeout only lets stop() be seen; a notice wakes at once
                if any(True for _ in connection.notifies(timeout=self.poll_seconds, stop_after=1)):
                    self.wake()
