"""Reminders and SLAs: what is due at a given moment, worked out from the database alone.

Every bot process runs `sweep(now)` on a timer. A reminder is due at a moment computed from the order (when
it last entered pending approval, on submission or on resubmission after a send-back, plus the approval SLA;
the morning of its scheduled date where the field worker lives; the day after its scheduled date), so a
restart loses nothing: the next sweep finds what is due. Each reminder has a key naming its due moment (an
approval reminder's names the order's round of approval), inserted once (a unique key, ON CONFLICT DO
NOTHING) together with the pending effect that sends it: several processes sweeping at once send it once,
and a later sweep never sends it again. The effect checks the order again when it runs, so a reminder never
goes to an order that moved on in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Row, String, and_, cast, exists, func, literal, select
from sqlmodel import Session

from storage.db import dialect_insert, queue_effects, session_scope
from storage.models import Assignment, Person, Reminder, ServiceOrder
from workflow.clock import aware
from workflow.effects import (
    Card,
    EffectKind,
    Notify,
    NotifyAbout,
    OverdueLine,
    Payload,
    ReminderAbout,
)
from workflow.effects import (
    Reminder as ChannelReminder,
)
from workflow.visibility import DIGEST_FOR, ESCALATED_TO, REMINDED_TO_APPROVE, people_with
from workflow.vocabulary import WORK_IN_PROGRESS, State

CATCH_UP = timedelta(days=7)  # due moments further back than this are history, not reminders
DIGEST_SIZE = 15  # overdue orders named in a digest; the rest are counted
SWEEP_LIMIT = 2000  # reminders one sweep queues at most: about a second of work on PostgreSQL


class QuietTrouble(StrEnum):
    SHAPE = "shape"  # not HH:MM-HH:MM
    EMPTY = "empty"  # starts and ends at the same time


class QuietHoursError(ValueError):
    """QUIET_HOURS as set (stripped, lower case) and what is wrong with it; bot/settings.py words it."""

    def __init__(self, trouble: QuietTrouble, value: str) -> None:
        super().__init__(f"{trouble}: {value!r}")
        self.trouble, self.value = trouble, value


@dataclass(frozen=True)
class QuietHours:
    """A daily span (e.g. 20:00-07:00, across midnight) when people are not pinged."""

    start: time
    end: time

    def covers(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """'20:00-07:00'; '' or 'off' for none. QuietHoursError says what else it is."""
        text = text.strip().lower()
        if text in ("", "off", "none"):
            return None
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise QuietHoursError(QuietTrouble.SHAPE, text) from None
        if start == end:
            raise QuietHoursError(QuietTrouble.EMPTY, text)
        return cls(start, end)


@dataclass(frozen=True)
class ReminderPolicy:
    remind_after: timedelta = timedelta(hours=24)  # pending approval this long: remind the supervisors
    escalate_after: timedelta = timedelta(hours=48)  # this long: tell the coordinators
    morning: time = time(7, 30)  # field workers hear of the day's orders then, in their own time zone
    digest: time = time(8, 0)  # coordinators get the overdue digest then, in their own time zone
    quiet: QuietHours | None = QuietHours(time(20, 0), time(7, 0))
    timezone: str = "UTC"  # the provider's: channel reminders' quiet hours and the overdue calendar


@dataclass
class Sweep:
    """What one sweep found due and queued (already-sent ones are not counted)."""

    approval: int = 0
    escalation: int = 0
    morning: int = 0
    overdue: int = 0
    digest: int = 0
    deferred: int = 0  # due, but in quiet hours: a later sweep sends them
    backlog: int = 0  # due beyond this sweep's limit (at least this many): the next sweep queues them

    @property
    def total(self) -> int:
        return self.approval + self.escalation + self.morning + self.overdue + self.digest

    def plus(self, later: Sweep) -> Sweep:
        """This sweep and the one after it, as one (the later one's deferred and backlog stand)."""
        return Sweep(self.approval + later.approval, self.escalation + later.escalation,
                     self.morning + later.morning, self.overdue + later.overdue, self.digest + later.digest,
                     later.deferred, later.backlog)


@dataclass(frozen=True)
class _Due:
    key: str
    kind: str  # the Sweep counter it adds to
    order_id: int | None
    recipient: str | None
    due_at: datetime
    effect: EffectKind  # reminder (in the order's channel), notify (a direct message), card (overdue)
    payload: Payload
    held: bool = False  # due, but in its recipient's quiet hours: a later sweep sends it


def sweep(engine: Engine, now: datetime, policy: ReminderPolicy, limit: int = SWEEP_LIMIT) -> Sweep:
    """Queue the reminders due at `now` that have not been queued before, the `limit` longest due first; the
    rest are left for the next sweep, and `backlog` says that some wait. Each kind is read `limit` + 1 at a
    time, so a sweep's work, and its one transaction (on SQLite, the write lock acks need too), stay bounded
    however many are due."""
    result = Sweep()
    provider_now = now.astimezone(ZoneInfo(policy.timezone))
    quiet_here = policy.quiet is not None and policy.quiet.covers(provider_now.time())
    with Session(engine) as session:
        staff = people_with(session, REMINDED_TO_APPROVE), people_with(session, ESCALATED_TO)
        zones = {p.user_id: p.tz for p in session.exec(select(Person).where(Person.tz.is_not(None))).scalars()}
        due: list[_Due] = []
        for kind, after, people in (("approval", policy.remind_after, staff[0]),
                                    ("escalation", policy.escalate_after, staff[1])):
            waiting = _pending_since(session, kind, after, now - after - CATCH_UP, now - after, limit + 1)
            due += _approvals(kind, waiting, after, people, quiet_here)
        due += list(_mornings(session, now, policy, zones))  # bounded by its three-day window, not by `limit`:
        # those held by a worker's quiet hours would otherwise fill it and starve the rest
        today = provider_now.date()
        due += [_Due(f"overdue:{o.id}:{o.scheduled_date}", "overdue", o.id, None, now, EffectKind.CARD,
                     Card(overdue=True)) for o in _newly_overdue(session, today, limit + 1)]
        due += _digests(session, people_with(session, DIGEST_FOR), now, today, policy, zones)
    due.sort(key=lambda item: item.due_at)
    later = [item for item in due if not item.held][limit:]
    result.backlog = len(later)
    if later:
        skipped = {item.key for item in later}
        due = [item for item in due if item.key not in skipped]
    queued, held = _queue(engine, due, now)
    result.deferred = held
    for item in due:
        if item.key in queued:
            setattr(result, item.kind, getattr(result, item.kind) + 1)
    return result


# what a reminder needs of an order: plain rows, not ORM objects (a sweep may read tens of thousands)
_ORDER = (ServiceOrder.id, ServiceOrder.created_at, ServiceOrder.channel_id, ServiceOrder.scheduled_date)
# and of an order pending approval: when this round of approval began, and which round it is
_WAITING = (*_ORDER, ServiceOrder.pending_since, ServiceOrder.pending_round)


def _not_queued(key: ColumnElement[str]) -> ColumnElement[bool]:
    """No reminder with this key yet: the database skips what earlier sweeps queued, so a sweep with nothing
    new to do reads next to nothing, however many orders wait."""
    return ~exists().where(Reminder.key == key)


def _key(*parts: Any) -> ColumnElement[str]:
    """A reminder key built in SQL from literals and columns ('approval:' || id || ':24h')."""
    out: ColumnElement[str] = literal("")
    for part in parts:
        out = out + (literal(part) if isinstance(part, str) else cast(part, String))
    return out


def _pending_since(session: Session, kind: str, after: timedelta, start: datetime, end: datetime,
                   limit: int) -> list[Row]:
    """Orders pending approval whose current round began in (start, end], not reminded of in this round. An
    order sent back is not pending (nothing is due while changes are requested); resubmitted, it starts a new
    round, timed from then and keyed apart from the last one's reminders."""
    return list(session.exec(select(*_WAITING).where(
        ServiceOrder.state == State.PENDING_APPROVAL, ServiceOrder.pending_since > start,
        ServiceOrder.pending_since <= end,
        _not_queued(_key(f"{kind}:", ServiceOrder.id, ":r", ServiceOrder.pending_round, f":{_hours(after)}h")))
        .order_by(ServiceOrder.pending_since).limit(limit)).all())


def _hours(span: timedelta) -> int:
    return int(span.total_seconds() // 3600)


def _approvals(kind: str, orders: list[Row], after: timedelta, people: list[str], held: bool) -> list[_Due]:
    hours = _hours(after)  # how long this round has waited when the reminder is due: its message's figure
    payload = ChannelReminder(ReminderAbout(kind), hours, tuple(people), State.PENDING_APPROVAL.value)
    return [_Due(f"{kind}:{order.id}:r{order.pending_round}:{hours}h", kind, order.id, None,
                 aware(order.pending_since) + after, EffectKind.REMINDER, payload, held) for order in orders]


def _mornings(session: Session, now: datetime, policy: ReminderPolicy, zones: dict[str, str]) -> Iterable[_Due]:
    """Each assigned field worker, on the morning of the scheduled date where they are."""
    utc_today = now.date()
    rows = session.exec(select(*_ORDER, Assignment.user_id).join(
        Assignment, Assignment.order_id == ServiceOrder.id).where(
        ServiceOrder.state.in_(WORK_IN_PROGRESS),  # type: ignore[attr-defined]
        Assignment.removed_in_version.is_(None),  # type: ignore[union-attr]
        ServiceOrder.scheduled_date.between(utc_today - timedelta(days=1), utc_today + timedelta(days=1)),
        _not_queued(_key("morning:", ServiceOrder.id, ":", Assignment.user_id, ":", ServiceOrder.scheduled_date))
    ).order_by(ServiceOrder.scheduled_date, ServiceOrder.id)).all()
    for order in rows:
        worker = order.user_id
        local = now.astimezone(ZoneInfo(zones.get(worker) or policy.timezone))
        if local.date() != order.scheduled_date or local.time() < policy.morning:
            continue
        due_at = datetime.combine(order.scheduled_date, policy.morning, local.tzinfo)
        # dropped if the order leaves work in progress (a change waiting for approval is still work: reminder.py)
        payload = Notify(worker, NotifyAbout.MORNING, State.APPROVED.value, order.scheduled_date, order.channel_id)
        yield _Due(f"morning:{order.id}:{worker}:{order.scheduled_date}", "morning", order.id, worker, due_at,
                   EffectKind.NOTIFY, payload, _quiet(policy, local))


def _newly_overdue(session: Session, today: date, limit: int) -> list[Row]:
    """Approved orders past their date, not flagged yet for that date."""
    return list(session.exec(select(*_ORDER).where(
        ServiceOrder.state.in_(WORK_IN_PROGRESS), ServiceOrder.scheduled_date < today,  # type: ignore[attr-defined]
        ServiceOrder.scheduled_date >= today - CATCH_UP,
        _not_queued(_key("overdue:", ServiceOrder.id, ":", ServiceOrder.scheduled_date)))
        .order_by(ServiceOrder.scheduled_date).limit(limit)).all())


def _digests(session: Session, coordinators: list[str], now: datetime, today: date, policy: ReminderPolicy,
             zones: dict[str, str]) -> list[_Due]:
    """Each coordinator, once a day at digest time where they are: the overdue orders (the first
    DIGEST_SIZE named, all counted). Reads the orders only when some coordinator's digest is due."""
    wanted = []
    for coordinator in coordinators:
        local = now.astimezone(ZoneInfo(zones.get(coordinator) or policy.timezone))
        if local.time() >= policy.digest:
            wanted.append((coordinator, f"digest:{coordinator}:{local.date()}",
                           datetime.combine(local.date(), policy.digest, local.tzinfo), _quiet(policy, local)))
    queued = set(session.exec(select(Reminder.key).where(Reminder.key.in_([w[1] for w in wanted]))).scalars())
    wanted = [w for w in wanted if w[1] not in queued]
    if not wanted:
        return []
    overdue = and_(ServiceOrder.state.in_(WORK_IN_PROGRESS), ServiceOrder.scheduled_date < today)  # type: ignore[attr-defined]
    count = session.exec(select(func.count()).select_from(ServiceOrder).where(overdue)).scalar_one()
    if not count:
        return []
    first = session.exec(select(*_ORDER).where(overdue).order_by(ServiceOrder.scheduled_date, ServiceOrder.id)
                         .limit(DIGEST_SIZE)).all()
    lines = tuple(OverdueLine(o.id, o.channel_id, o.scheduled_date) for o in first)
    return [_Due(key, "digest", None, coordinator, due_at, EffectKind.NOTIFY,
                 Notify(coordinator, NotifyAbout.DIGEST, count=count, orders=lines), held)
            for coordinator, key, due_at, held in wanted]


def _quiet(policy: ReminderPolicy, local: datetime) -> bool:
    return policy.quiet is not None and policy.quiet.covers(local.time())


def _queue(engine: Engine, due: list[_Due], now: datetime) -> tuple[set[str], int]:
    """Insert the reminders not held by quiet hours, with their effects, in one transaction: returns the keys
    this call inserted and how many quiet hours hold back. `due` holds only keys not queued when the sweep
    read them (the reads skip queued keys in SQL); one another process inserted since is skipped by ON
    CONFLICT, and not sent by this one."""
    if not due:
        return set(), 0
    with session_scope(engine) as session:
        fresh = [item for item in due if not item.held]
        held = len(due) - len(fresh)
        inserted: set[str] = set()
        if fresh:
            # one executemany (SQLAlchemy batches it into multi-row INSERTs with RETURNING): a reminder another
            # process inserted meanwhile is skipped by ON CONFLICT, so only this call's come back, and are sent
            insert = dialect_insert(session, Reminder)
            statement = insert.on_conflict_do_nothing(index_elements=["key"]).returning(insert.table.c.key)
            inserted = set(session.connection().execute(statement, [
                {"key": item.key, "kind": item.kind, "order_id": item.order_id, "recipient_id": item.recipient,
                 "due_at": item.due_at, "created_at": now} for item in fresh]).scalars())
        queue_effects(session, [(item.order_id, item.effect.value, f"reminder:{item.key}", item.payload.to_json())
                                for item in fresh if item.key in inserted], now)
    return inserted, held
