"""Runs the pending effects a step recorded, after its commit: channel, invites, card, messages, PDFs.

A few worker threads per process drain them, each order's in the order they were written; an order whose
effect fails waits (its later effects depend on it) while other orders go on, and apscheduler kicks a retry
pass.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, bindparam, exists, literal_column, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from bot.cards import card_blocks, card_text
from bot.channels import channel_name
from bot.gateway import CHANNEL_GONE, ErrorCode, Gateway, SlackError
from bot.home import render_home
from bot.profiles import learn
from storage.db import session_scope
from storage.models import PendingEffect, ServiceOrder
from workflow.clock import Clock, aware, utcnow
from workflow.issuing import issue
from workflow.letterhead import Letterhead
from workflow.people import whose_home_to_refresh
from workflow.queries import catalog_name, field_workers, order_card, order_people, version_row
from workflow.vocabulary import order_number

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)  # longer than any one effect's Slack calls, retries included (EFFECT_LEASE_SECONDS)
_WHAT_VERSION = {"approve": "the approved original", "confirm": "a confirmation"}
MAX_NAME_SUFFIX = 50
# effects beside an order's chain: they neither wait for its earlier effects nor hold up its later ones, and
# their failing fails nothing else (App Home refreshes, reminders)
ASIDE = ("home", "reminder", "notify")
WORKERS = 2  # effect threads per process (EFFECT_WORKERS in bot/settings.py)
CLAIM_BATCH = 20  # effects of one order claimed at once (a step writes at most a handful)
# 'pending' written into the SQL, not sent as a parameter: PostgreSQL's plan for a prepared statement (psycopg
# prepares one after 5 runs) can then use the partial indexes on pending effects (storage/models.py); with a
# parameter it cannot, and a claim scanned the whole backlog for each pending row (210 ms with 2,000 pending)
PENDING = literal_column("'pending'")


Record = Callable[[Session], None]  # writes what Slack answered, in the transaction that marks the effect done


class NotReady(Exception):
    """An effect depends on one that has not run yet (e.g. no channel yet)."""


@dataclass(frozen=True)
class Claim:
    """An effect this process holds. `again`: it was tried before, by this process or one that died, so
    Slack may already have done it and the handler looks before it acts."""

    id: int
    order_id: int
    kind: str
    key: str
    payload: dict
    again: bool


# The claim's statements, built once (it runs once per order, in every process, all day): plain rows, and one
# UPDATE for the whole batch. Row locks with SKIP LOCKED keep two processes from claiming the same effect.
_COLUMNS = (PendingEffect.id, PendingEffect.order_id, PendingEffect.kind, PendingEffect.key, PendingEffect.payload,
            PendingEffect.attempts, PendingEffect.claimed_by)
_earlier = aliased(PendingEffect)
_DUE = and_(PendingEffect.status == PENDING, PendingEffect.not_before <= bindparam("now"),
            or_(PendingEffect.claimed_until.is_(None), PendingEffect.claimed_until < bindparam("now")))
_HEAD = (select(*_COLUMNS).where(_DUE, or_(PendingEffect.kind.in_(ASIDE), ~exists().where(
    _earlier.order_id == PendingEffect.order_id, _earlier.status == PENDING, _earlier.id < PendingEffect.id,
    _earlier.kind.not_in(ASIDE)))).order_by(PendingEffect.id).limit(1).with_for_update(skip_locked=True))
_REST = (select(*_COLUMNS).where(_DUE, PendingEffect.order_id == bindparam("order_id"),
                                 PendingEffect.id > bindparam("head"))
         .order_by(PendingEffect.id).limit(CLAIM_BATCH - 1).with_for_update(skip_locked=True))
_DONE = (update(PendingEffect).where(PendingEffect.id == bindparam("effect"))
         .values(status="done", done_at=bindparam("at"), attempts=PendingEffect.attempts + 1, claimed_until=None)
         .execution_options(synchronize_session=False))
_PAYLOAD = (update(PendingEffect).where(PendingEffect.id == bindparam("effect"))
            .values(payload=bindparam("payload")).execution_options(synchronize_session=False))
_RELEASE = (update(PendingEffect).where(PendingEffect.id.in_(bindparam("ids", expanding=True)),
                                        PendingEffect.claimed_by == bindparam("by"))
            .values(claimed_until=None).execution_options(synchronize_session=False))
_CLAIM = (update(PendingEffect).where(PendingEffect.id.in_(bindparam("ids", expanding=True)))
          .values(claimed_until=bindparam("until"), claimed_by=bindparam("by"))
          .execution_options(synchronize_session=False))


class EffectRunner:
    def __init__(self, engine: Engine, gateway: Gateway, letterhead: Letterhead, *, private_channels: bool = True,
                 clock: Clock = utcnow, lease: timedelta = LEASE, workers: int = WORKERS) -> None:
        self.engine = engine
        self.gateway = gateway
        self.letterhead = letterhead
        self.private_channels = private_channels
        self.clock = clock
        self.lease = lease  # how long a claim holds: a process that died lets go of its effects after it
        self.name = f"{socket.gethostname()}:{os.getpid()}"[:64]  # who holds a claim, for people reading the table
        # Several workers, each draining other orders: a call Slack is slow to answer, or that slack_sdk is
        # waiting to retry (Retry-After), holds up one order, not every order this process has.
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="effects",
                                            initializer=lower_priority)
        self._lock = threading.Lock()
        self._waiting = False  # a pass is submitted and has not started yet
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()
        self._handlers: dict[str, Callable[[Claim], Record | None]] = {
            "open_channel": self._open_channel,
            "invite": self._invite,
            "card": self._card,
            "message": self._message,
            "upload_pdf": self._upload_pdf,
            "home": self._home,
            "reminder": self._reminder,
            "notify": self._notify,
        }

    # --- scheduling --------------------------------------------------------------------------------

    def kick(self) -> None:
        """Ask for a drain pass soon; many kicks while one is waiting to start make one pass. Each pass that
        finds work kicks again, so passes spread over the idle workers while there is work for them."""
        with self._lock:
            if self._waiting:
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

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- draining ----------------------------------------------------------------------------------

    def drain(self) -> int:
        """Run every due effect once, oldest first, as long as there are some. Returns how many succeeded.
        Several processes may drain at once: each effect is claimed by one (below)."""
        done = 0
        while batch := self._claim():
            self.kick()  # there may be more: another worker, if one is free, claims the next order's
            for position, effect in enumerate(batch):
                if not self._run(effect):
                    self._release(batch[position + 1:])  # they wait for the failed one; let anyone retry them
                    break
                done += 1
        return done

    def _claim(self) -> list[Claim]:
        """Claim the due effects of one order: the oldest due effect whose order has nothing earlier still
        pending (an order's effects run in the order they were written, across processes), with the due
        effects after it. One claim per order, not per effect, keeps write transactions (SQLite's one writer
        lock, which acks need too) few. Row locks with SKIP LOCKED keep two processes from claiming the same
        one on PostgreSQL; SQLite's write lock serialises claims anyway."""
        now = self.clock()
        with session_scope(self.engine) as session:
            head = session.execute(_HEAD, {"now": now}).first()
            if head is None:
                return []
            batch = [head] if head.kind in ASIDE else [head, *session.execute(
                _REST, {"now": now, "order_id": head.order_id, "head": head.id})]
            # each effect's lease covers the ones before it in the batch too
            session.execute(_CLAIM, {"ids": [e.id for e in batch], "until": now + self.lease * len(batch),
                                     "by": self.name})
            return [Claim(e.id, e.order_id, e.kind, e.key, json.loads(e.payload),
                          again=e.attempts > 0 or e.claimed_by is not None) for e in batch]

    def _release(self, effects: list[Claim]) -> None:
        if not effects:
            return
        with session_scope(self.engine) as session:
            session.execute(_RELEASE, {"ids": [e.id for e in effects], "by": self.name})

    def _run(self, effect: Claim) -> bool:
        try:
            try:
                record = self._handlers[effect.kind](effect)
            except SlackError as error:
                if effect.kind == "open_channel" or error.code not in CHANNEL_GONE or not self._moved(effect, error):
                    raise
                record = self._handlers[effect.kind](effect)  # once more, in the order's new channel
            # what Slack answered and the effect's being done commit together: one short transaction
            with session_scope(self.engine) as session:
                if record is not None:
                    record(session)
                session.execute(_DONE, {"effect": effect.id, "at": self.clock()})
            return True
        except Exception as error:  # recorded on the effect, retried later, never lost
            self._record_failure(effect.id, error)
            return False

    def _record_failure(self, effect_id: int, error: Exception) -> None:
        admin_action = error.admin_action if isinstance(error, SlackError) else None
        with session_scope(self.engine) as session:
            row = session.get(PendingEffect, effect_id)
            row.attempts += 1
            row.claimed_until = None
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if admin_action is not None:  # retrying cannot help: fail now, saying what an admin must do
                row.last_error = f"{error}: {admin_action}"[:2000]
                self._fail(session, row)
            elif row.attempts >= MAX_ATTEMPTS and not isinstance(error, NotReady):
                self._fail(session, row)
            else:
                row.not_before = self.clock() + timedelta(seconds=min(2 ** row.attempts, 300))
                log.warning("effect %s (%s) failed, retrying: %s", row.key, row.kind, row.last_error)

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

    # --- the effects ------------------------------------------------------------------------------
    # Each reads in one short transaction and calls Slack with no transaction open (a slow Slack must not
    # hold the database); it returns how to record what Slack answered, which _run commits with "done".

    def _order(self, order_id: int) -> ServiceOrder:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(ServiceOrder, order_id)

    def _channel(self, order: ServiceOrder) -> str:
        if not order.channel_id:
            raise NotReady(f"{order_number(order.id)} has no channel yet")
        return order.channel_id

    def _open_channel(self, effect: Claim) -> Record | None:
        order = self._order(effect.order_id)
        if order.channel_id:
            return None
        name, channel_id = self._create_channel(order)
        return lambda session: _set(session.get(ServiceOrder, order.id), channel_id=channel_id, channel_name=name)

    def _create_channel(self, order: ServiceOrder) -> tuple[str, str]:
        """The order's channel under the first free name: SO-000001-client, then -2, -3 … A name that is
        taken by a channel this bot made for this order (its answer was lost, or the process died before
        recording it) is that channel, not a reason to make a second one."""
        with Session(self.engine) as session:
            client = catalog_name(session, "client", order.client_code).rsplit(" (", 1)[0]
        number = order_number(order.id)
        for suffix in range(1, MAX_NAME_SUFFIX + 1):
            name = channel_name(number, client, suffix)
            try:
                return name, self.gateway.create_channel(name, self.private_channels)
            except SlackError as error:
                if error.code != ErrorCode.NAME_TAKEN and not error.ambiguous:
                    raise
                if (mine := self._made_for(order, name)) is not None:
                    return name, mine
                if error.ambiguous:
                    raise  # not made: the retry creates it under the same name
        raise SlackError("conversations.create", ErrorCode.NAME_TAKEN, f"{MAX_NAME_SUFFIX} names tried")

    def _made_for(self, order: ServiceOrder, name: str) -> str | None:
        """The id of a usable channel called `name` that this bot made since the order was submitted."""
        channel = self.gateway.my_channel(name)
        if channel is None or channel.get("is_archived"):
            return None
        if int(channel.get("created") or 0) < int(aware(order.created_at).timestamp()) - 60:
            return None  # an older install's channel, or an older database's
        return str(channel["id"])

    def _moved(self, effect: Claim, error: SlackError) -> bool:
        """The order's channel is archived, or the bot was removed from it: the order goes on in a new
        channel, with its people and its card, and a word on why. False if the channel is fine after all."""
        order = self._order(effect.order_id)
        if not order.channel_id:
            return False
        try:
            info = self.gateway.channel_info(order.channel_id)
            if not info.get("is_archived") and info.get("is_member", True):
                return False
            why = "was archived" if info.get("is_archived") else "no longer has the app in it"
        except SlackError as lookup:
            if lookup.code != ErrorCode.CHANNEL_NOT_FOUND:
                raise error from lookup
            why = "no longer lets the app in (it was removed from the channel, or the channel was deleted)"
        old = order.channel_id
        name, channel_id = self._create_channel(order)
        with Session(self.engine) as session:
            people = order_people(session, order)
        self.gateway.invite(channel_id, people)
        number = order_number(order.id)
        self.gateway.post(channel_id, f"{number} continues here: its channel <#{old}> {why}. Earlier documents "
                          "stay in that channel; new versions and steps come here.", key=f"{effect.key}:moved")
        log.warning("%s: channel %s %s; moved to %s (%s)", number, old, why, channel_id, name)
        with session_scope(self.engine) as session:
            _set(session.get(ServiceOrder, order.id), channel_id=channel_id, channel_name=name, card_ts=None)
        card = self._card(Claim(effect.id, order.id, "card", f"{effect.key}:moved-card", {}, again=effect.again))
        if card is not None:
            with session_scope(self.engine) as session:
                card(session)
        return True

    def _invite(self, effect: Claim) -> None:
        users = effect.payload["users"]
        channel = self._channel(self._order(effect.order_id))
        refused = self.gateway.invite(channel, users)
        learn(self.engine, self.gateway, users)
        if refused:  # say it where people look: a deactivated field worker must be replaced by hand
            lines = [f"• <@{user}>: {_REFUSAL.get(code, f'Slack said {code}')}" for user, code in refused]
            self.gateway.post(channel, "Could not add to this channel:\n" + "\n".join(lines) + "\nA supervisor or "
                              "coordinator can assign someone else with a confirmation.", key=f"{effect.key}:refused")
        return None

    def _post(self, effect: Claim, channel: str, text: str, blocks: list[dict] | None = None) -> str:
        """Post at most once per effect: after a try whose answer never came, look for it first."""
        if effect.again and (ts := self.gateway.find_post(channel, effect.key)) is not None:
            return ts
        return self.gateway.post(channel, text, blocks, key=effect.key)

    def _card(self, effect: Claim) -> Record | None:
        order = self._order(effect.order_id)
        channel = self._channel(order)
        with Session(self.engine) as session:
            card = order_card(session, order.id, self.letterhead.provider.currency)
        blocks, text = card_blocks(card, self._provider_today()), card_text(card)
        if order.card_ts:
            try:
                self.gateway.update(channel, order.card_ts, text, blocks)
                return None
            except SlackError as error:
                if error.code not in (ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.CANT_UPDATE_MESSAGE):
                    raise
                log.warning("card of %s was deleted; posting it again", card.number)
        ts = self._post(effect, channel, text, blocks)
        return lambda session: _set(session.get(ServiceOrder, order.id), card_ts=ts)

    def _message(self, effect: Claim) -> None:
        self._post(effect, self._channel(self._order(effect.order_id)), effect.payload["text"][:3900])
        return None

    def _upload_pdf(self, effect: Claim) -> Record | None:
        order_id, number = effect.order_id, effect.payload["version"]
        order = self._order(order_id)
        with Session(self.engine) as session:
            version = version_row(session, order_id, number)
            people = [order.requester_id, *(u for u in [order.approved_by, version.author_id] if u),
                      *field_workers(session, order_id, number)]
        if version.pdf_file_id:
            return None  # uploaded before: never twice
        channel = self._channel(order)
        learn(self.engine, self.gateway, people)  # the names the document will carry
        issued = issue(self.engine, order_id, number, self.letterhead)  # frozen, and its hash recorded, the first time
        document, content = issued.document, issued.pdf
        file_id = self._shared_before(effect, channel, document.filename) if effect.again else None
        if file_id is None:
            what = _WHAT_VERSION.get(document.step, "the closing record")
            file_id = self.gateway.upload_pdf(
                channel, document.filename, content, f"{document.order_number} version {number}",
                f"{document.order_number} version {number} ({what}) · fingerprint {document.fingerprint[:12]}",
                ticketed=lambda ticket: self._remember_ticket(effect, ticket))
        return lambda session: _set(version_row(session, order_id, number), pdf_file_id=file_id)

    def _remember_ticket(self, effect: Claim, file_id: str) -> None:
        """The upload's file id, on the effect before the share is asked for: an earlier try's share is then
        asked about by id, not looked for in a channel that may not show it yet."""
        effect.payload["ticket"] = file_id
        with session_scope(self.engine) as session:
            session.execute(_PAYLOAD, {"effect": effect.id, "payload": json.dumps(effect.payload)})

    def _shared_before(self, effect: Claim, channel: str, filename: str) -> str | None:
        """The file an earlier try of this effect shared, if it did."""
        ticket = effect.payload.get("ticket")
        if ticket is not None:
            return str(ticket) if self.gateway.completed(ticket) else None
        # no upload got as far as its share (or the try predates tickets): look among the channel's files
        return self.gateway.find_file(channel, filename)


    def _provider_today(self) -> date:
        return self.clock().astimezone(ZoneInfo(self.letterhead.provider.timezone)).date()

    def _home(self, effect: Claim) -> None:
        """Refresh App Home for those whose lists the step changed (and who have opened it)."""
        with Session(self.engine) as session:
            order = session.get(ServiceOrder, effect.order_id) if effect.order_id is not None else None
            users = whose_home_to_refresh(session, order_people(session, order) if order else [])
        for user in users:
            self.gateway.publish_home(user, render_home(self.engine, user, self.clock(),
                                                        self.letterhead.provider.timezone))
        return None

    def _still(self, effect: Claim) -> ServiceOrder | None:
        """The order, if it is still in the state the reminder was about (it never goes to one that moved on)."""
        order = self._order(effect.order_id) if effect.order_id is not None else None
        if order is not None and effect.payload.get("state") not in (None, order.state):
            log.info("reminder %s dropped: %s is %s now", effect.key, order_number(order.id), order.state)
            return None
        return order

    def _reminder(self, effect: Claim) -> None:
        """A reminder in the order's channel; never into an archived channel, never a new channel for it."""
        order = self._still(effect)
        if order is None:
            return None
        try:
            self._post(effect, self._channel(order), effect.payload["text"][:3900])
        except SlackError as error:
            if error.code not in CHANNEL_GONE:
                raise
            log.info("reminder %s dropped: the channel of %s is gone (%s)", effect.key, order_number(order.id),
                     error.code)
        return None

    def _notify(self, effect: Claim) -> None:
        """A direct message from the app (its Messages tab): a field worker's morning, a coordinator's digest.
        Posted into the DM by its id, so that after a lost answer the DM's history says whether it went."""
        if effect.order_id is not None and self._still(effect) is None:
            return None
        user = effect.payload["user"]
        try:
            self._post(effect, self.gateway.open_dm(user), effect.payload["text"][:3900])
        except SlackError as error:  # the person was deactivated: nobody to tell
            if error.code not in (ErrorCode.USER_DISABLED, ErrorCode.USER_NOT_FOUND, *CHANNEL_GONE):
                raise
            log.warning("direct message %s dropped: Slack says %s for %s", effect.key, error.code, user)
        return None


_REFUSAL = {
    "cant_invite": "their Slack account is deactivated",
    "user_not_found": "Slack does not know this user",
    "user_is_restricted": "they are a guest who cannot join this channel",
}


def lower_priority() -> None:
    """Let the OS run the calling thread after the request threads, whose acks Slack waits for (Linux gives
    each thread its own nice value). For background threads: effects, the scheduler's jobs."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the OS shares time as it likes
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _set(row: object, **values: object) -> None:
    for name, value in values.items():
        setattr(row, name, value)
