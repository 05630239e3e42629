"""The effect queue's mechanics: claim (oldest first, an order's effects in order, with a lease), run one
handler per kind (the modules beside this one), record Slack's answer with the effect's being done, back off
and retry, fail an order's later effects with one that fails for good; and the worker threads that drain it.

A few worker threads per process drain it, each order's in the order they were written; an order whose
effect fails waits (its later effects depend on it) while other orders go on. An effect put back for later (a
failure's back-off, a call deferred by the pacing of Slack's tiers or by a 429: bot/pacing.py) is drained again
when it is due (`_Alarm`); apscheduler's retry pass catches what another process put back.

Chain effects come first: App Home refreshes are claimed only when no other effect is due, and then all that are
due in a workspace at once, each viewer's Home published once for them all (`_HOMES`), at most once a
`home_window` (HOME_REFRESH_SECONDS) per process: a burst of steps costs each viewer a publish or two.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine, and_, bindparam, exists, literal_column, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from bot.effects import archive, card, channel, fetch, home, invite, kick, message, notify, pdf, reminder, signing
from bot.effects.base import MAX_ATTEMPTS, Claim, Effects, NotReady, Record
from bot.effects.wake import Notifier
from bot.gateway import CHANNEL_GONE, Gateway, SlackError
from bot.pacing import Deferred
from bot.signing_links import Links
from storage.db import session_scope
from storage.models import PendingEffect
from storage.request_context import REQUEST_ID
from storage.scope import everywhere, serving
from workflow.clock import Clock, utcnow
from workflow.effects import ASIDE as ASIDE_KINDS
from workflow.effects import EffectKind
from workflow.letterhead import Letterhead
from workflow.sla import COMPLETION_DAYS, ByPriority

log = logging.getLogger("bot.effects")

LEASE = timedelta(minutes=2)  # longer than any one effect's Slack calls, retries included (EFFECT_LEASE_SECONDS)
ASIDE = tuple(sorted(kind.value for kind in ASIDE_KINDS))  # as SQL literals: beside an order's chain
WORKERS = 2  # effect threads per process (EFFECT_WORKERS in bot/settings.py)
CLAIM_BATCH = 20  # effects of one order claimed at once (a step writes at most a handful)
HOME_BATCH = 200  # App Home refreshes claimed at once in a workspace, each viewer published once for them all
# 'pending' written into the SQL, not sent as a parameter: PostgreSQL's plan for a prepared statement (psycopg
# prepares one after 5 runs) can then use the partial indexes on pending effects (storage/models.py); with a
# parameter it cannot, and a claim scanned the whole backlog for each pending row (210 ms with 2,000 pending)
PENDING = literal_column("'pending'")

# one handler per kind: each reads what it needs, calls Slack, and returns how to record Slack's answer (App Home
# refreshes, run together, by home.refresh)
HANDLERS: dict[EffectKind, Callable[[Effects, Claim], Record | None]] = {
    EffectKind.OPEN_CHANNEL: channel.open_channel,
    EffectKind.INVITE: invite.run,
    EffectKind.CARD: card.run,
    EffectKind.MESSAGE: message.run,
    EffectKind.UPLOAD_PDF: pdf.run,
    EffectKind.REMINDER: reminder.run,
    EffectKind.NOTIFY: notify.run,
    EffectKind.KICK: kick.run,
    EffectKind.ARCHIVE: archive.run,
    EffectKind.FETCH_FILE: fetch.run,
    EffectKind.SIGNATURE_ASKED: signing.asked,
    EffectKind.SIGNATURE_GIVEN: signing.given,
    EffectKind.UPLOAD_SIGNED: signing.upload,
}


# The claim's statements, built once (it runs once per order, in every process, all day): plain rows, and one
# UPDATE for the whole batch. Row locks with SKIP LOCKED keep two processes from claiming the same effect.
_COLUMNS = (PendingEffect.id, PendingEffect.order_id, PendingEffect.kind, PendingEffect.key, PendingEffect.payload,
            PendingEffect.attempts, PendingEffect.claimed_by, PendingEffect.not_before, PendingEffect.request_id,
            PendingEffect.workspace)
_earlier = aliased(PendingEffect)
HOME = literal_column(f"'{EffectKind.HOME.value}'")  # refreshes wait for the chain (_HOME_HEAD), not in it
_DUE = and_(PendingEffect.status == PENDING, PendingEffect.not_before <= bindparam("now"),
            or_(PendingEffect.claimed_until.is_(None), PendingEffect.claimed_until < bindparam("now")))
_HEAD_ROWS = (select(*_COLUMNS).where(_DUE, PendingEffect.kind != HOME, or_(
    PendingEffect.kind.in_(ASIDE), ~exists().where(
        _earlier.order_id == PendingEffect.order_id, _earlier.status == PENDING, _earlier.id < PendingEffect.id,
        _earlier.kind.not_in(ASIDE)))).order_by(PendingEffect.id).limit(1))
_HEAD = _HEAD_ROWS.with_for_update(skip_locked=True)
# App Home refreshes, when nothing else is due: the oldest, then every due one of its workspace
_HOME_HEAD_ROWS = (select(*_COLUMNS).where(_DUE, PendingEffect.kind == HOME,
                                           PendingEffect.workspace.not_in(bindparam("closed", expanding=True)))
                   .order_by(PendingEffect.id).limit(1))
_HOME_HEAD = _HOME_HEAD_ROWS.with_for_update(skip_locked=True)
_HOMES = (select(*_COLUMNS).where(_DUE, PendingEffect.kind == HOME,
                                  PendingEffect.workspace == bindparam("workspace"),
                                  PendingEffect.id > bindparam("head"))
          .order_by(PendingEffect.id).limit(HOME_BATCH - 1).with_for_update(skip_locked=True))
_REST = (select(*_COLUMNS).where(_DUE, PendingEffect.order_id == bindparam("order_id"),
                                 PendingEffect.id > bindparam("head"), PendingEffect.kind != HOME)
         .order_by(PendingEffect.id).limit(CLAIM_BATCH - 1).with_for_update(skip_locked=True))
# only a pending effect becomes done: one an uninstall cancelled while it ran stays cancelled
_DONE = (update(PendingEffect).where(PendingEffect.id == bindparam("effect"), PendingEffect.status == PENDING)
         .values(status="done", done_at=bindparam("at"), attempts=PendingEffect.attempts + 1, claimed_until=None)
         .execution_options(synchronize_session=False))
_RELEASE = (update(PendingEffect).where(PendingEffect.id.in_(bindparam("ids", expanding=True)),
                                        PendingEffect.claimed_by == bindparam("by"))
            .values(claimed_until=None).execution_options(synchronize_session=False))
# claimed and let go unstarted, never tried before: Slack has seen nothing of it, so its next try is a first one
_RELEASE_UNTRIED = _RELEASE.values(claimed_by=None)
_CLAIM = (update(PendingEffect).where(PendingEffect.id.in_(bindparam("ids", expanding=True)))
          .values(claimed_until=bindparam("until"), claimed_by=bindparam("by"))
          .execution_options(synchronize_session=False))


class EffectRunner:
    def __init__(self, engine: Engine, gateway: Gateway, letterhead: Letterhead, *, private_channels: bool = True,
                 clock: Clock = utcnow, lease: timedelta = LEASE, workers: int = WORKERS,
                 completion: ByPriority[int] = COMPLETION_DAYS, links: Links | None = None,
                 home_window: float = 0.0) -> None:
        self.engine = engine
        self.gateway = gateway
        self.letterhead = letterhead
        self.clock = clock
        self.effects = Effects(engine, gateway, letterhead, private_channels, clock, completion,
                               links)  # what handlers use
        self.lease = lease  # how long a claim holds: a process that died lets go of its effects after it
        self.name = f"{socket.gethostname()}:{os.getpid()}"[:64]  # who holds a claim, for people reading the table
        # Several workers, each draining other orders: a call Slack is slow to answer, or that slack_sdk is
        # waiting to retry (Retry-After), holds up one order, not every order this process has. None: this
        # process runs no effects (EFFECT_WORKERS=0); a kick wakes `service-orders effects work` (bot/effects/wake.py)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="effects",
                                            initializer=lower_priority) if workers else None
        self._notifier = Notifier(engine) if not workers else None
        self._lock = threading.Lock()
        self._waiting = False  # a pass is submitted and has not started yet
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = threading.Event()  # set by stop(): run what is in hand, claim nothing more
        self._alarm = _Alarm(self.kick)  # drains again when an effect put back for later is due
        self.home_window = home_window  # seconds between two App Home batches of this process
        self._homes_after: dict[str, float] = {}  # workspace: no App Home batch of it claimed before then
        self.finished = 0  # effects run to the end after stop() was called
        self.released = 0  # effects claimed but let go unrun at stop(), for another process to take at once

    # --- scheduling --------------------------------------------------------------------------------

    def kick(self) -> None:
        """Ask for a drain pass soon; many kicks while one is waiting to start make one pass. Each pass that
        finds work kicks again, so passes spread over the idle workers while there is work for them."""
        if self._notifier is not None:
            self._notifier.kick()
            return
        with self._lock:  # submitted under the lock: stop() cannot shut the executor between the check and it
            if self._waiting or self._stopping.is_set():
                return
            self._waiting = True
            self._idle.clear()
            self._executor.submit(self._pass)

    def _pass(self) -> None:
        with self._lock:
            self._waiting = False
            self._running += 1
        try:
            self.drain()
        except Exception:
            log.exception("effect pass failed")
        finally:
            with self._lock:
                self._running -= 1
                if not self._running and not self._waiting:
                    self._idle.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self._idle.wait(timeout)

    @property
    def drains(self) -> bool:
        """Whether this process runs effects (EFFECT_WORKERS above 0)."""
        return self._executor is not None

    def due(self) -> bool:
        """Whether a drain would claim something now: the claim's own reads, without the claim (SQLite's worker
        looks with it every EFFECT_POLL_SECONDS, bot/effects/wake.py; a read never waits for SQLite's writer,
        and an effect held back by its order's chain or an App Home window does not make it take the lock)."""
        now = self.clock()
        with everywhere(), Session(self.engine) as session:
            return (session.execute(_HEAD_ROWS, {"now": now}).first() is not None
                    or session.execute(_HOME_HEAD_ROWS, {"now": now, "closed": self._homes_closed()}).first()
                    is not None)

    def shutdown(self) -> None:
        self._alarm.cancel()
        if self._notifier is not None:
            self._notifier.flush()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def stop(self, deadline: float) -> bool:
        """Stop draining: each worker finishes the effect it is running and releases the rest of its claim,
        no pass claims again. Waits up to `deadline` seconds; False if a worker was still inside a call then
        (its claim then holds until its lease ends)."""
        self._alarm.cancel()
        if self._notifier is not None:
            self._notifier.flush()
        with self._lock:
            self._stopping.set()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            if self._waiting:  # a pass cancelled before it started
                self._waiting = False
                if not self._running:
                    self._idle.set()
        return self._idle.wait(deadline)

    # --- draining ----------------------------------------------------------------------------------

    def drain(self) -> int:
        """Run every due effect once, oldest first, as long as there are some. Returns how many succeeded.
        Several processes may drain at once: each effect is claimed by one (below)."""
        done = 0
        while not self._stopping.is_set() and (batch := self._claim()):
            self.kick()  # there may be more: another worker, if one is free, claims the next order's
            if batch[0].kind == EffectKind.HOME:  # a workspace's App Home refreshes, run together
                if not self._let_go(batch):
                    done += len(batch) if self._run(batch) else 0
                continue
            for position, effect in enumerate(batch):
                if self._let_go(batch[position:]):
                    break
                ok = self._run([effect])
                if self._stopping.is_set():
                    with self._lock:
                        self.finished += 1
                if not ok:
                    if effect.kind in ASIDE:
                        continue  # nothing in the chain waits for it
                    self._release(batch[position + 1:])  # they wait for the failed one; let anyone retry them
                    break
                done += 1
        return done

    def _homes_closed(self) -> list[str]:
        """The workspaces whose App Home window is still running (the ones that ended are forgotten)."""
        now = time.monotonic()
        with self._lock:
            for workspace, after in list(self._homes_after.items()):
                if after <= now:
                    del self._homes_after[workspace]
            return list(self._homes_after)

    def _home_turn(self, workspace: str) -> bool:
        """Whether this worker may run the workspace's App Home batch now; if so, no other may for
        `home_window` (the alarm drains again then, for the refreshes that come meanwhile)."""
        if not self.home_window:
            return True
        with self._lock:
            now = time.monotonic()
            if self._homes_after.get(workspace, 0.0) > now:
                return False  # another worker took it since
            self._homes_after[workspace] = now + self.home_window
        self._alarm.at(self.home_window)
        return True

    def _let_go(self, effects: list[Claim]) -> bool:
        """Shutting down: claimed effects not started yet are let go, for another process to take now."""
        if not self._stopping.is_set():
            return False
        self._release(effects)
        with self._lock:
            self.released += len(effects)
        return True

    def _claim(self) -> list[Claim]:
        """Claim the due effects of one order: the oldest due effect whose order has nothing earlier still
        pending (an order's effects run in the order they were written, across processes), with the due
        effects after it. One claim per order, not per effect, keeps write transactions (SQLite's one writer
        lock, which acks need too) few. Row locks with SKIP LOCKED keep two processes from claiming the same
        one on PostgreSQL; SQLite's write lock serialises claims anyway. App Home refreshes only when no other
        effect is due: all those due in the oldest one's workspace, once a `home_window` per workspace."""
        now = self.clock()
        with everywhere(), session_scope(self.engine) as session:  # any workspace's: each runs in its own
            head = session.execute(_HEAD, {"now": now}).first()
            if head is None:
                head = session.execute(_HOME_HEAD, {"now": now, "closed": self._homes_closed()}).first()
                if head is None or not self._home_turn(head.workspace):
                    return []
                batch = [head, *session.execute(_HOMES, {"now": now, "workspace": head.workspace, "head": head.id})]
                lease = self.lease  # one run for them all
            else:
                batch = [head] if head.kind in ASIDE else [head, *session.execute(
                    _REST, {"now": now, "order_id": head.order_id, "head": head.id})]
                lease = self.lease * len(batch)  # each effect's lease covers the ones before it in the batch too
            session.execute(_CLAIM, {"ids": [e.id for e in batch], "until": now + lease, "by": self.name})
            return [Claim(e.id, e.order_id, e.kind, e.key, json.loads(e.payload),
                          again=e.attempts > 0 or e.claimed_by is not None, attempts=e.attempts,
                          due=e.not_before, request_id=e.request_id, workspace=e.workspace) for e in batch]

    def _release(self, effects: list[Claim]) -> None:
        """Let claimed effects go unstarted. One tried before (by a process that may have died in it) keeps its
        `claimed_by`, so whoever runs it next looks before it acts; an untried one goes back as new."""
        with everywhere(), session_scope(self.engine) as session:
            for statement, ids in ((_RELEASE, [e.id for e in effects if e.again]),
                                   (_RELEASE_UNTRIED, [e.id for e in effects if not e.again])):
                if ids:
                    session.execute(statement, {"ids": ids, "by": self.name})

    def _run(self, effects: list[Claim]) -> bool:
        """Run one effect, or a workspace's App Home refreshes together, and record how it went on each."""
        first = effects[0]
        request = REQUEST_ID.set(first.request_id)  # its log lines name the request that owed it
        try:
            # it reads and writes its workspace's rows, and calls Slack there, paced (bot/pacing.py)
            with serving(first.workspace), self.gateway.paced(first.id) as calls:
                try:
                    record = (home.refresh(self.effects, effects) if first.kind == EffectKind.HOME
                              else self._handle(first))
                    # what Slack answered and the effect's being done commit together: one short transaction
                    with session_scope(self.engine) as session:
                        if record is not None:
                            record(session)
                        for effect in effects:
                            session.execute(_DONE, {"effect": effect.id, "at": self.clock()})
                    return True
                except Deferred as deferral:  # no try: due again when its call may be made
                    for effect in effects:
                        self._defer(effect, deferral, slack_acted=calls.acted > 0)
                except Exception as error:  # recorded on the effect, retried later, never lost
                    for effect in effects:
                        self._record_failure(effect, error)
                return False
        finally:
            REQUEST_ID.reset(request)

    def _handle(self, effect: Claim) -> Record | None:
        handler = HANDLERS[EffectKind(effect.kind)]
        try:
            return handler(self.effects, effect)
        except SlackError as error:
            if effect.kind == EffectKind.OPEN_CHANNEL or error.code not in CHANNEL_GONE:
                raise
            again = channel.elsewhere(self.effects, effect, error)
            if again is None:
                raise
            return handler(self.effects, again)  # once more: in the order's new channel, or by DM

    def _defer(self, effect: Claim, deferral: Deferred, slack_acted: bool) -> None:
        """Put an effect back until its call may be made: not a failed try, and no worker waits for it."""
        with session_scope(self.engine) as session:
            row = session.get(PendingEffect, effect.id, with_for_update=True)
            if row.status != "pending" or row.claimed_by != self.name:  # done, or another process holds it now
                return
            row.claimed_until = None
            row.not_before = self.clock() + timedelta(seconds=deferral.wait)
            if not (effect.again or slack_acted):
                row.claimed_by = None  # Slack did nothing of it: its next try need not look before it acts
        log.debug("effect %s (%s) put back: %s", effect.key, effect.kind, deferral)
        self._alarm.at(deferral.wait)

    def _record_failure(self, effect: Claim, error: Exception) -> None:
        admin_action = error.admin_action if isinstance(error, SlackError) else None
        with session_scope(self.engine) as session:
            # locked: a nudge committed while it ran (below) is read, not overwritten
            row = session.get(PendingEffect, effect.id, with_for_update=True)
            if row.status != "pending":  # cancelled while it ran (the workspace uninstalled the app): it stays so
                return
            if row.claimed_by != self.name:  # it outlived its lease and another process runs it now: theirs to say
                return
            # made due again while it ran (what it waited for is done: bot/effects/fetch.py): at once, no back-off
            nudged = isinstance(error, NotReady) and effect.due is not None and row.not_before > effect.due
            row.attempts += 1
            row.claimed_until = None
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if admin_action is not None:  # retrying cannot help: fail now, saying what an admin must do
                row.last_error = f"{error}: {admin_action}"[:2000]
                self._fail(session, row)
            elif row.attempts >= MAX_ATTEMPTS and not isinstance(error, NotReady):
                self._fail(session, row)
            else:
                # the first retry soon (Slack's 500s pass in a moment; a card is late by this much), then longer
                backoff = 0 if nudged else min(2 ** (row.attempts - 1), 300)
                row.not_before = self.clock() + timedelta(seconds=backoff)
                log.warning("effect %s (%s) failed, retrying: %s", row.key, row.kind, row.last_error)
                self._alarm.at(backoff)

    def _fail(self, session: Session, row: PendingEffect) -> None:
        row.status = "failed"
        log.error("effect %s (%s) failed for good: %s", row.key, row.kind, row.last_error)
        if row.kind in ASIDE or row.order_id is None:
            return  # nothing depends on a Home refresh or a reminder
        # the order's later effects depend on this one (no channel, no card): they end with it, saying why,
        # instead of waiting for ever; `service-orders effects retry` brings them all back
        for later in session.exec(select(PendingEffect).where(
                PendingEffect.order_id == row.order_id, PendingEffect.status == "pending",
                PendingEffect.id > row.id, PendingEffect.kind.not_in(ASIDE))):
            later.status = "failed"
            later.last_error = f"not run: {row.kind} ({row.key}) failed before it: {row.last_error}"[:2000]


class _Alarm:
    """Drains again at each moment an effect this process put back is due, rather than at apscheduler's next
    retry pass (EFFECT_RETRY_SECONDS, for what other processes put back): one timer, for the earliest."""

    def __init__(self, ring: Callable[[], None]) -> None:
        self._ring = ring
        self._due: list[float] = []  # monotonic moments, a heap
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def at(self, seconds: float) -> None:
        when = time.monotonic() + seconds
        with self._lock:
            heapq.heappush(self._due, when)
            if self._timer is not None and self._due[0] < when:
                return  # an earlier ring is set; it sets the next
            self._set()

    def _set(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(max(0.0, self._due[0] - time.monotonic()), self._rang)
        self._timer.daemon = True
        self._timer.start()

    def _rang(self) -> None:
        with self._lock:
            self._timer = None
            now = time.monotonic()
            while self._due and self._due[0] <= now + 0.01:  # these are due: one drain for them all
                heapq.heappop(self._due)
            if self._due:
                self._set()
        self._ring()

    def cancel(self) -> None:
        with self._lock:
            self._due.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


def lower_priority() -> None:
    """Let the OS run the calling thread after the request threads, whose acks Slack waits for (Linux gives
    each thread its own nice value). For background threads: effects, the scheduler's jobs."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the OS shares time as it likes
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
