"""Reminders and SLAs: what is due at a given moment, worked out from the database alone.

Every bot process runs `sweep(now)` on a timer. A reminder is due at a moment computed from the order (when
it last entered pending approval, on submission or on resubmission after a send-back, or when a change that
raised its total was proposed, plus the approval SLA; the morning of its scheduled date where the field worker
lives; the day after its scheduled date), so a restart loses nothing: the next sweep finds what is due. Each
reminder has a key naming its due moment (an approval reminder's names the order's round of approval, or the
revision a waiting change was proposed at), inserted once (a unique key, ON CONFLICT DO
NOTHING) together with the pending effect that sends it: several processes sweeping at once send it once,
and a later sweep never sends it again. The effect checks the order again when it runs, so a reminder never
goes to an order that moved on in between. The same sweep queues the archiving of a closed order's channel,
ARCHIVE_AFTER_DAYS after it closed, keyed by the order and the revision it closed at (`_archives`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Row, String, and_, case, cast, exists, func, literal, select, union_all
from sqlmodel import Session

from storage.db import dialect_insert, queue_effects, session_scope
from storage.models import Assignment, Person, ProposedChange, Reminder, ServiceOrder
from storage.scope import current
from workflow.clock import aware
from workflow.effects import (
    Archive,
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
from workflow.queries import holders
from workflow.routing import Router, seen_by
from workflow.sla import (
    COMPLETION_DAYS,
    ESCALATE_AFTER,
    REMIND_AFTER,
    URGENT,
    ByPriority,
    QuietOverride,
    deadline,
    late_where,
    span_label,
)
from workflow.visibility import DIGEST_FOR, ESCALATED_TO, REMINDED_TO_APPROVE
from workflow.vocabulary import WORK_IN_PROGRESS, Role, State

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
    """When who is pinged. The approval SLAs are per priority (workflow/sla.py); a single timedelta given for
    one is taken for every priority, as before SLAs had priorities."""

    remind_after: ByPriority[timedelta] = REMIND_AFTER  # pending approval this long: remind the supervisors
    escalate_after: ByPriority[timedelta] = ESCALATE_AFTER  # this long: tell the coordinators
    morning: time = time(7, 30)  # field workers hear of the day's orders then, in their own time zone
    digest: time = time(8, 0)  # coordinators get the overdue digest then, in their own time zone
    quiet: QuietHours | None = QuietHours(time(20, 0), time(7, 0))
    timezone: str = "UTC"  # the provider's: channel reminders' quiet hours and the overdue calendar
    # a closed order's channel is archived this long after it closed (ARCHIVE_AFTER_DAYS); None: never
    archive_after: timedelta | None = timedelta(days=7)
    urgent_overrides_quiet: QuietOverride = QuietOverride.OFF
    completion: ByPriority[int] = COMPLETION_DAYS  # days after the scheduled date an order should be completed

    def __post_init__(self) -> None:
        for name in ("remind_after", "escalate_after"):
            if isinstance(span := getattr(self, name), timedelta):
                object.__setattr__(self, name, ByPriority.same(span))

    def overrides_quiet(self, priority: str, audience: frozenset[Role]) -> bool:
        """Whether a ping about an order of this priority to `audience` goes out during quiet hours."""
        return (self.urgent_overrides_quiet is QuietOverride.COORDINATORS and priority == URGENT
                and Role.COORDINATOR in audience)


@dataclass
class Sweep:
    """What one sweep found due and queued (already-sent ones are not counted)."""

    approval: int = 0
    escalation: int = 0
    morning: int = 0
    overdue: int = 0
    late: int = 0  # approved orders past their completion deadline, flagged on their card
    digest: int = 0
    archive: int = 0  # closed orders' channels to archive
    deferred: int = 0  # due, but in quiet hours: a later sweep sends them
    backlog: int = 0  # due beyond this sweep's limit (at least this many): the next sweep queues them

    @property
    def total(self) -> int:
        return (self.approval + self.escalation + self.morning + self.overdue + self.late + self.digest
                + self.archive)

    def plus(self, later: Sweep) -> Sweep:
        """This sweep and the one after it, as one (the later one's deferred and backlog stand)."""
        return Sweep(self.approval + later.approval, self.escalation + later.escalation,
                     self.morning + later.morning, self.overdue + later.overdue, self.late + later.late,
                     self.digest + later.digest, self.archive + later.archive, later.deferred, later.backlog)

    def beside(self, other: Sweep) -> Sweep:
        """This sweep and another workspace's, as one: every count added."""
        return Sweep(*(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__))


@dataclass(frozen=True)
class _Due:
    key: str
    kind: str  # the Sweep counter it adds to
    order_id: int | None
    recipient: str | None
    due_at: datetime
    effect: EffectKind  # reminder (in the order's channel), notify (a direct message), card (overdue), archive
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
        router = Router(session)
        staff = _by_level(session, REMINDED_TO_APPROVE), _by_level(session, ESCALATED_TO)
        zones = {p.user_id: p.tz for p in session.exec(select(Person).where(Person.tz.is_not(None))).scalars()}
        due: list[_Due] = []
        for kind, spans, people, told in (("approval", policy.remind_after, staff[0], REMINDED_TO_APPROVE),
                                          ("escalation", policy.escalate_after, staff[1], ESCALATED_TO)):
            waiting = _pending_since(session, kind, spans, now, limit + 1)
            held = {o.id for o in waiting
                    if quiet_here and not policy.overrides_quiet(o.priority, told[Role(o.approval_role)])}
            pinged = _not_authors(session, waiting, _routed(router, waiting, people, told))
            due += _approvals(kind, waiting, spans, pinged, held)
        due += list(_mornings(session, now, policy, zones))  # bounded by its three-day window, not by `limit`:
        # those held by a worker's quiet hours would otherwise fill it and starve the rest
        today = provider_now.date()
        due += [_Due(f"overdue:{o.id}:{o.scheduled_date}", "overdue", o.id, None, now, EffectKind.CARD,
                     Card(overdue=True)) for o in _newly_overdue(session, today, limit + 1)]
        due += [_Due(f"late:{o.id}:{o.scheduled_date}", "late", o.id, None, now, EffectKind.CARD, Card(late=True))
                for o in _newly_late(session, today, policy.completion, limit + 1)]
        due += _digests(session, holders(session, DIGEST_FOR), now, today, policy, zones, router)
        due += _archives(session, now, policy.archive_after, limit + 1)
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
# and of an order waiting for approval: when this round of approval (or the change waiting) began, and which
# round it is (or the revision the change was proposed at)
_WAITING = (*_ORDER, ServiceOrder.state, ServiceOrder.revision, ServiceOrder.pending_since, ServiceOrder.pending_round,
            ServiceOrder.priority, ServiceOrder.approval_level, ServiceOrder.approval_role, ServiceOrder.client_code,
            ServiceOrder.site_code)


def _not_queued(key: ColumnElement[str]) -> ColumnElement[bool]:
    """No reminder with this key yet: the database skips what earlier sweeps queued, so a sweep with nothing
    new to do reads next to nothing, however many orders wait."""
    return ~exists().where(Reminder.workspace == current(), Reminder.key == key)


def _key(*parts: Any) -> ColumnElement[str]:
    """A reminder key built in SQL from literals and columns ('approval:' || id || ':24h')."""
    out: ColumnElement[str] = literal("")
    for part in parts:
        out = out + (literal(part) if isinstance(part, str) else cast(part, String))
    return out


def _pending_since(session: Session, kind: str, spans: ByPriority[timedelta], now: datetime, limit: int) -> list[Row]:
    """Orders waiting for approval whose current round began at least their priority's span before `now` (and
    not CATCH_UP more), not reminded of in this round: pending approval, or approved with a change waiting for
    approval (its round began when it was proposed). An order sent back is not pending (nothing is due while
    changes are requested); resubmitted, it starts a new round, timed from then and keyed apart from the last
    one's reminders. One statement: for each state and each span the priorities share, its own read of at most
    `limit`, oldest first, that the (state, priority, pending_since) index serves exactly (UNION ALL)."""
    reads = [select(*_WAITING).where(
        ServiceOrder.workspace == current(), ServiceOrder.state == state, ServiceOrder.priority.in_(priorities),  # type: ignore[attr-defined]
        ServiceOrder.pending_since > now - after - CATCH_UP, ServiceOrder.pending_since <= now - after,
        _not_queued(_key(f"{kind}:", ServiceOrder.id, *round_key, f":{span_label(after)}")))
        .order_by(ServiceOrder.pending_since).limit(limit)
        for state, round_key in _ROUND_KEY.items() for priorities, after in spans.groups()]
    parts = [read.subquery() for read in reads]  # a LIMIT inside UNION ALL needs its own subquery (SQLite)
    rows = session.connection().execute(union_all(*(select(*part.c) for part in parts))).all()
    # the `limit` due longest, whatever their priority: the rest wait for the next round, as in every kind
    return sorted(rows, key=lambda row: aware(row.pending_since) + spans.of(row.priority))[:limit]


def _hours(span: timedelta) -> int:
    return int(span.total_seconds() // 3600)


# a level of approval after the first is keyed apart (':l2'), its wait timed from the approval before it; level
# 1 keeps the key it had before levels, so reminders queued then are not sent again
_LEVEL = case((ServiceOrder.approval_level > 1, literal(":l") + cast(ServiceOrder.approval_level, String)),
              else_=literal(""))
# what names the wait in a reminder's key, in SQL, by the state the order waits in; `_round` builds the same in
# Python. A change waiting is named by the revision it was proposed at (':c7'): no other step is taken while it
# waits, so the revision stays, and each change proposed later is keyed apart from it and from the order's round
_ROUND_KEY: dict[State, tuple[Any, ...]] = {
    State.PENDING_APPROVAL: (":r", ServiceOrder.pending_round, _LEVEL),
    State.CHANGE_PENDING: (":c", ServiceOrder.revision),
}


def _round(order: Row) -> str:
    """The key's name of the wait `order` is reminded of (as `_ROUND_KEY` builds it in SQL)."""
    if order.state == State.CHANGE_PENDING:
        return f":c{order.revision}"
    return f":r{order.pending_round}" + (f":l{order.approval_level}" if order.approval_level > 1 else "")


def _by_level(session: Session, roles: dict[Role, frozenset[Role]]) -> dict[str, list[str]]:
    """Who is told of an order waiting for a level that needs each role (workflow/visibility.py)."""
    return {role.value: holders(session, told) for role, told in roles.items()}


def _routed(router: Router, orders: list[Row], people: dict[str, list[str]],
            told: dict[Role, frozenset[Role]]) -> dict[int, tuple[str, ...]]:
    """Whom each order's reminder pings: those told of the level it waits for (`people`, by the level's role),
    among the holders of those roles its client or site routes it to."""
    router.load((order.client_code, order.site_code) for order in orders)
    return {order.id: tuple(router.narrow(order.client_code, order.site_code, people.get(order.approval_role, []),
                                          told[Role(order.approval_role)])) for order in orders}


def _not_authors(session: Session, orders: list[Row], people: dict[int, tuple[str, ...]]) -> dict[int, tuple[str, ...]]:
    """`people` without the author of each waiting change: they may not approve their own (workflow/service.py),
    so a reminder does not ask them to. One read, of the changes waiting on these orders."""
    changing = [order.id for order in orders if order.state == State.CHANGE_PENDING]
    if not changing:
        return people
    authors = dict(session.exec(select(ProposedChange.order_id, ProposedChange.author_id).where(
        ProposedChange.order_id.in_(changing), ProposedChange.outcome.is_(None))).all())  # type: ignore[attr-defined,union-attr]
    return {order_id: tuple(u for u in pinged if u != authors.get(order_id)) for order_id, pinged in people.items()}


def _approvals(kind: str, orders: list[Row], spans: ByPriority[timedelta], people: dict[int, tuple[str, ...]],
               held: set[int]) -> list[_Due]:
    """`people`: whom each order's reminder pings; `held`: the orders whose reminder quiet hours hold back."""
    return [_approval(kind, order, spans.of(order.priority), people[order.id], order.id in held) for order in orders]


def _approval(kind: str, order: Row, after: timedelta, people: tuple[str, ...], held: bool) -> _Due:
    hours = _hours(after)  # how long this round has waited when the reminder is due: its message's figure
    if order.state == State.CHANGE_PENDING:  # dropped if this change is decided before it goes (reminder.py)
        payload = ChannelReminder(ReminderAbout(kind), hours, people, State.CHANGE_PENDING.value,
                                  priority=order.priority, change=order.revision)
    else:
        payload = ChannelReminder(ReminderAbout(kind), hours, people, State.PENDING_APPROVAL.value,
                                  level=order.approval_level, priority=order.priority)
    return _Due(f"{kind}:{order.id}{_round(order)}:{span_label(after)}", kind, order.id, None,
                aware(order.pending_since) + after, EffectKind.REMINDER, payload, held)


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


def _newly_late(session: Session, today: date, days: ByPriority[int], limit: int) -> list[Row]:
    """Approved orders past their completion deadline (within CATCH_UP of it), not flagged yet for that date."""
    return list(session.exec(select(*_ORDER).where(
        late_where(today, days, CATCH_UP),
        _not_queued(_key("late:", ServiceOrder.id, ":", ServiceOrder.scheduled_date)))
        .order_by(ServiceOrder.scheduled_date).limit(limit)).all())


def _digests(session: Session, coordinators: list[str], now: datetime, today: date, policy: ReminderPolicy,
             zones: dict[str, str], router: Router) -> list[_Due]:
    """Each coordinator, once a day at digest time where they are: the overdue orders they see (routing:
    their clients' and those of clients that name no coordinator; the first DIGEST_SIZE named, all counted).
    Reads the orders only when some coordinator's digest is due."""
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
    digests = []
    for coordinator, key, due_at, held in wanted:
        theirs = and_(overdue, seen_by(coordinator, router.roles_of(coordinator)))
        count = session.exec(select(func.count()).select_from(ServiceOrder).where(theirs)).scalar_one()
        if not count:
            continue
        late, lines = _digest_lines(session, theirs, today, policy.completion)
        digests.append(_Due(key, "digest", None, coordinator, due_at, EffectKind.NOTIFY,
                            Notify(coordinator, NotifyAbout.DIGEST, count=count, late=late, orders=lines), held))
    return digests


def _archives(session: Session, now: datetime, after: timedelta | None, limit: int) -> list[_Due]:
    """Closed orders whose channel is due for archiving (`after` since they closed) and not archived yet,
    keyed by the revision they closed at: queued once. No catch-up window: a channel closed long ago (before
    this release, or while archiving was off) is tidied too. Not held by quiet hours: it pings nobody."""
    if after is None:
        return []
    rows = session.exec(select(ServiceOrder.id, ServiceOrder.revision, ServiceOrder.closed_at).where(
        ServiceOrder.closed_at.is_not(None), ServiceOrder.channel_archived_at.is_(None),  # the partial index's
        ServiceOrder.closed_at <= now - after, ServiceOrder.channel_id.is_not(None),  # type: ignore[union-attr]
        ServiceOrder.state.in_([state.value for state in State if state.is_closed]),
        _not_queued(_key("archive:", ServiceOrder.id, ":", ServiceOrder.revision)))
        .order_by(ServiceOrder.closed_at).limit(limit)).all()
    return [_Due(f"archive:{order.id}:{order.revision}", "archive", order.id, None, aware(order.closed_at) + after,
                 EffectKind.ARCHIVE, Archive(order.revision)) for order in rows]


def _digest_lines(session: Session, overdue: ColumnElement[bool], today: date,
                  days: ByPriority[int]) -> tuple[int, tuple[OverdueLine, ...]]:
    """How many overdue orders are late, and the DIGEST_SIZE a digest names: the late ones first (past their
    completion deadline, the most pressing), then the others, each oldest scheduled first."""
    late = and_(overdue, late_where(today, days))  # among the orders this digest is about (routing)
    count = session.exec(select(func.count()).select_from(ServiceOrder).where(late)).scalar_one()
    columns = (*_ORDER, ServiceOrder.priority)
    order_by = (ServiceOrder.scheduled_date, ServiceOrder.id)
    first = list(session.exec(select(*columns).where(late).order_by(*order_by).limit(DIGEST_SIZE)).all())
    if len(first) < DIGEST_SIZE:
        first += session.exec(select(*columns).where(overdue, ~late).order_by(*order_by)
                              .limit(DIGEST_SIZE - len(first))).all()
    return count, tuple(OverdueLine(o.id, o.channel_id, o.scheduled_date,
                                    deadline(o.scheduled_date, o.priority, days) if n < count else None)
                        for n, o in enumerate(first))


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
            statement = insert.on_conflict_do_nothing(index_elements=["workspace", "key"]).returning(insert.table.c.key)
            inserted = set(session.connection().execute(statement, [
                {"key": item.key, "kind": item.kind, "order_id": item.order_id, "recipient_id": item.recipient,
                 "due_at": item.due_at, "created_at": now} for item in fresh]).scalars())
        queue_effects(session, [(item.order_id, item.effect.value, f"reminder:{item.key}", item.payload.to_json())
                                for item in fresh if item.key in inserted], now)
    return inserted, held
