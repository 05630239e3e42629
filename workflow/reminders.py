"""Reminders and SLAs: what is due at a given moment, worked out from the database alone.

Every bot process runs `sweep(now)` on a timer. A reminder is due at a moment computed from the order (its
submission time plus the approval SLA; the morning of its scheduled date where the field worker lives; the
day after its scheduled date), so a restart loses nothing: the next sweep finds what is due. Each reminder
has a key naming its due moment, inserted once (a unique key, ON CONFLICT DO NOTHING) together with the
pending effect that sends it: several processes sweeping at once send it once, and a later sweep never sends
it again. The effect checks the order again when it runs, so a reminder never goes to an order that moved
on in between.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from storage.db import session_scope
from storage.models import Assignment, PendingEffect, Person, Reminder, RoleGrant, ServiceOrder
from workflow.clock import aware
from workflow.vocabulary import Role, State, order_number

CATCH_UP = timedelta(days=7)  # due moments further back than this are history, not reminders
DIGEST_SIZE = 15  # overdue orders named in a digest; the rest are counted


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
        """'20:00-07:00'; '' or 'off' for none. Raises ValueError with the expected shape."""
        text = text.strip().lower()
        if text in ("", "off", "none"):
            return None
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise ValueError(f"'{text}' is not a span of hours like 20:00-07:00") from None
        if start == end:
            raise ValueError(f"'{text}' starts and ends at the same time")
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
    keys: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.approval + self.escalation + self.morning + self.overdue + self.digest


@dataclass(frozen=True)
class _Due:
    key: str
    kind: str  # the Sweep counter it adds to
    order_id: int | None
    recipient: str | None
    due_at: datetime
    effect: str  # pending effect kind: reminder (in the order's channel), notify (a direct message), card
    payload: dict
    held: bool = False  # due, but in its recipient's quiet hours: a later sweep sends it


def sweep(engine: Engine, now: datetime, policy: ReminderPolicy) -> Sweep:
    """Queue every reminder due at `now` that has not been queued before."""
    result = Sweep()
    provider_now = now.astimezone(ZoneInfo(policy.timezone))
    quiet_here = policy.quiet is not None and policy.quiet.covers(provider_now.time())
    with Session(engine) as session:
        staff = _people_with(session, (Role.SUPERVISOR,)), _people_with(session, (Role.COORDINATOR,))
        zones = {p.user_id: p.tz for p in session.exec(select(Person).where(Person.tz.is_not(None))).scalars()}
        due: list[_Due] = []
        for kind, after, people in (("approval", policy.remind_after, staff[0]),
                                    ("escalation", policy.escalate_after, staff[1])):
            due += [_approval(kind, order, after, people, quiet_here)
                    for order in _pending_since(session, now - after - CATCH_UP, now - after)]
        due += list(_mornings(session, now, policy, zones))
        today = provider_now.date()
        overdue = _overdue(session, today)
        due += [_Due(f"overdue:{o.id}:{o.scheduled_date}", "overdue", o.id, None, now, "card",
                     {"reason": "overdue"}) for o in overdue if o.scheduled_date >= today - CATCH_UP]
        if overdue:
            due += list(_digests(staff[1], overdue, now, policy, zones))
    queued, held = _queue(engine, due, now)
    result.deferred = held
    for item in due:
        if item.key in queued:
            setattr(result, item.kind, getattr(result, item.kind) + 1)
            result.keys.append(item.key)
    return result


def _people_with(session: Session, roles: tuple[Role, ...]) -> list[str]:
    rows = session.exec(select(RoleGrant.user_id).where(RoleGrant.role.in_(roles)).distinct()).scalars()
    return sorted(rows)


def _pending_since(session: Session, start: datetime, end: datetime) -> list[ServiceOrder]:
    return list(session.exec(select(ServiceOrder).where(
        ServiceOrder.state == State.PENDING_APPROVAL, ServiceOrder.created_at > start,
        ServiceOrder.created_at <= end)).scalars())


def _approval(kind: str, order: ServiceOrder, after: timedelta, people: list[str], held: bool) -> _Due:
    due_at = aware(order.created_at) + after
    hours = int(after.total_seconds() // 3600)
    who = " ".join(f"<@{u}>" for u in people) or "Supervisors"
    if kind == "approval":
        text = f"{who}: {order_number(order.id)} has waited over {hours} h for approval."
    else:
        text = (f"{who}: {order_number(order.id)} has waited over {hours} h for approval; nobody has approved "
                "or rejected it yet.")
    return _Due(f"{kind}:{order.id}:{due_at:%Y%m%dT%H%M}", kind, order.id, None, due_at, "reminder",
                {"text": text, "state": State.PENDING_APPROVAL.value}, held)


def _mornings(session: Session, now: datetime, policy: ReminderPolicy, zones: dict[str, str]) -> Iterable[_Due]:
    """Each assigned field worker, on the morning of the scheduled date where they are."""
    utc_today = now.date()
    rows = session.exec(select(ServiceOrder, Assignment.user_id).join(
        Assignment, Assignment.order_id == ServiceOrder.id).where(
        ServiceOrder.state == State.APPROVED,
        ServiceOrder.scheduled_date.between(utc_today - timedelta(days=1), utc_today + timedelta(days=1)))).all()
    for order, worker in rows:
        local = now.astimezone(ZoneInfo(zones.get(worker) or policy.timezone))
        if local.date() != order.scheduled_date or local.time() < policy.morning:
            continue
        due_at = datetime.combine(order.scheduled_date, policy.morning, local.tzinfo)
        text = (f"Good morning: {order_number(order.id)} is scheduled for today, {order.scheduled_date:%A %d %B}. "
                f"Its channel: <#{order.channel_id}>." if order.channel_id else
                f"Good morning: {order_number(order.id)} is scheduled for today.")
        yield _Due(f"morning:{order.id}:{worker}:{order.scheduled_date}", "morning", order.id, worker, due_at,
                   "notify", {"user": worker, "text": text, "state": State.APPROVED.value}, _quiet(policy, local))


def _overdue(session: Session, today: date) -> list[ServiceOrder]:
    return list(session.exec(select(ServiceOrder).where(and_(
        ServiceOrder.state == State.APPROVED, ServiceOrder.scheduled_date < today))
        .order_by(ServiceOrder.scheduled_date, ServiceOrder.id)).scalars())


def _digests(coordinators: list[str], overdue: list[ServiceOrder], now: datetime, policy: ReminderPolicy,
             zones: dict[str, str]) -> Iterable[_Due]:
    """Each coordinator, once a day at digest time where they are: the overdue orders."""
    lines = [f"• {order_number(o.id)}" + (f" <#{o.channel_id}>" if o.channel_id else "")
             + f" · scheduled {o.scheduled_date.isoformat()}" for o in overdue[:DIGEST_SIZE]]
    more = f"\n…and {len(overdue) - DIGEST_SIZE} more: `/order list overdue`." if len(overdue) > DIGEST_SIZE else ""
    text = f"*{len(overdue)} overdue order{'s' if len(overdue) != 1 else ''}* (approved, past the scheduled " \
           f"date, not closed):\n" + "\n".join(lines) + more
    for coordinator in coordinators:
        local = now.astimezone(ZoneInfo(zones.get(coordinator) or policy.timezone))
        if local.time() < policy.digest:
            continue
        due_at = datetime.combine(local.date(), policy.digest, local.tzinfo)
        yield _Due(f"digest:{coordinator}:{local.date()}", "digest", None, coordinator, due_at, "notify",
                   {"user": coordinator, "text": text}, _quiet(policy, local))


def _quiet(policy: ReminderPolicy, local: datetime) -> bool:
    return policy.quiet is not None and policy.quiet.covers(local.time())


def _queue(engine: Engine, due: list[_Due], now: datetime) -> tuple[set[str], int]:
    """Insert the reminders not inserted before (and not held by quiet hours), with their effects, in one
    transaction: returns the keys this call inserted (another process, or an earlier sweep, may have
    inserted the rest) and how many new ones quiet hours hold back."""
    if not due:
        return set(), 0
    inserted: set[str] = set()
    with session_scope(engine) as session:
        existing = set()
        keys = [item.key for item in due]
        for start in range(0, len(keys), 1000):
            existing |= set(session.exec(select(Reminder.key).where(Reminder.key.in_(keys[start:start + 1000])))
                            .scalars())
        fresh = [item for item in due if item.key not in existing and not item.held]
        held = sum(1 for item in due if item.key not in existing and item.held)
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        for item in fresh:
            statement = insert(Reminder).values(
                key=item.key, kind=item.kind, order_id=item.order_id, recipient_id=item.recipient,
                due_at=item.due_at, created_at=now).on_conflict_do_nothing(index_elements=["key"])
            if session.execute(statement).rowcount:
                inserted.add(item.key)
        effects = [{"order_id": item.order_id, "kind": item.effect, "key": f"reminder:{item.key}",
                    "payload": json.dumps(item.payload), "status": "pending", "attempts": 0, "not_before": now,
                    "created_at": now} for item in fresh if item.key in inserted]
        if effects:
            session.execute(PendingEffect.__table__.insert(), effects)  # type: ignore[attr-defined]
    return inserted, held
