"""Waking the effect runner of another process. A process that serves Slack's requests only (EFFECT_WORKERS=0)
queues its steps' effects and leaves them to `service-orders effects work`, so that the effects' Python work
and garbage collections run in another interpreter than the acks Slack waits for. On PostgreSQL the serving
process NOTIFYs after each step and the worker LISTENs; SQLite has no such channel between processes, so there
the worker looks for a due effect every EFFECT_POLL_SECONDS (a read: WAL readers never wait for the writer)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType

from sqlalchemy import Engine, text

log = logging.getLogger("bot.effects")

CHANNEL = "service_orders_effects"
LISTEN_SECONDS = 1.0  # the longest the listener waits for a notice before it looks whether it must stop
RECONNECT_SECONDS = 5.0  # after the LISTEN connection is lost; the retry pass covers what comes meanwhile
RECONNECT_MAX_SECONDS = 60.0  # the wait doubles from RECONNECT_SECONDS up to this while PostgreSQL stays away
WARN_EVERY = 10  # tries: a long outage is said now and then, not every try


def notify(engine: Engine) -> None:
    """Tell the worker that effects are due (PostgreSQL; on SQLite it finds them by looking). A lost notice
    delays an effect to the worker's next retry pass (EFFECT_RETRY_SECONDS), never loses it."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"NOTIFY {CHANNEL}"))
    except Exception:  # the step is stored: its effects wait for the retry pass
        log.warning("could not notify the effects worker; it finds the effects at its next retry pass",
                    exc_info=True)


class Notifier:
    """A serving process's wake-ups for the worker, sent by a thread of its own: a step's kick comes inside its
    ack (Bolt answers Slack when the listener returns), where it now costs setting an event rather than a round
    trip to PostgreSQL; the kicks of a burst of steps make one NOTIFY or a few."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._due = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def kick(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return  # the worker looks by itself
        self._due.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="effects-notifier", daemon=True)
                    self._thread.start()

    def flush(self) -> None:
        """Send a wake-up still owed, now (the process is stopping: its thread is a daemon and may not get to it)."""
        if self._due.is_set():
            self._due.clear()
            notify(self.engine)

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            notify(self.engine)


class Listener:
    """The worker's wake-up: calls `wake` when a serving process notifies (PostgreSQL), or when `due` finds an
    effect the runner could claim (SQLite, every `poll_seconds`), in a thread of its own until `stop()`."""

    def __init__(self, engine: Engine, wake: Callable[[], None], due: Callable[[], bool],
                 poll_seconds: float) -> None:
        self.engine = engine
        self.wake = wake
        self.due = due
        self.poll_seconds = poll_seconds
        self.lost = 0  # PostgreSQL: tries to listen since the connection was lost
        self.backend_pid: int | None = None  # PostgreSQL: the server process of the LISTEN connection
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="effects-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: at once on SQLite, within LISTEN_SECONDS on PostgreSQL (not waited for longer: the
        thread is a daemon, and a wake-up after the runner stopped claims nothing)."""
        self._stopping.set()
        self._thread.join(timeout=LISTEN_SECONDS + 0.5)

    def _run(self) -> None:
        if self.engine.dialect.name == "postgresql":
            import psycopg  # installed with PostgreSQL's extra only

            while not self._stopping.is_set():
                try:
                    self._listen(psycopg)
                except Exception as error:  # the server went away, or restarted: listen again soon
                    self.lost += 1
                    wait = min(RECONNECT_SECONDS * 2 ** min(self.lost - 1, 8), RECONNECT_MAX_SECONDS)
                    (log.warning if self.lost % WARN_EVERY == 1 else log.debug)(
                        "the effects listener lost PostgreSQL (%s); listening again in %g s (try %d)",
                        str(error).strip(), wait, self.lost)
                    self._stopping.wait(wait)
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
            self.backend_pid = connection.info.backend_pid  # its server process (a test ends it)
            if self.lost:
                log.info("the effects listener is listening again (try %d)", self.lost + 1)
                self.lost = 0
            self.wake()  # what was notified while nobody listened
            while not self._stopping.is_set():
                if any(True for _ in connection.notifies(timeout=LISTEN_SECONDS, stop_after=1)):
                    self.wake()
