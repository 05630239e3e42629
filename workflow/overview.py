"""Read models for keeping track of many orders: the lists of App Home and `/order list`, counts by state,
and what makes an order overdue (and late: workflow/sla.py). A page is read state by state in an index's order and
stopped at the page (`_first`), or, of a listing of a few orders routed to its reader, through their parts and
sorted; a count is made part by part of what the reader sees, each part through its
index (workflow/routing.seen_parts). So a team with tens of thousands of open orders gets its page about as
fast as one with ten, and a coordinator of a few clients among thousands counts their clients' orders only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, true, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.models import Assignment, CatalogEntry, RoleGrant, ServiceOrder
from workflow.policy import APPROVING_ROLES, Level, may_approve
from workflow.routing import seen_parts
from workflow.sla import COMPLETION_DAYS, ByPriority, deadline, is_late
from workflow.vocabulary import WORK_IN_PROGRESS, Role, State, order_number

# sent back: still open; a change waiting for approval: still work in progress
OPEN_STATES = (State.PENDING_APPROVAL, *WORK_IN_PROGRESS, State.CHANGES_REQUESTED)
# what waits for an approver: a new order, or a change to an approved one that raised its total
WAITING_FOR_APPROVAL = (State.PENDING_APPROVAL, State.CHANGE_PENDING)


class Listing(StrEnum):
    """What `/order list` and App Home's sections show."""

    MINE = "mine"  # orders I requested or am assigned to, still open
    PENDING = "pending"  # waiting for approval (a new order, or a change to one)
    OVERDUE = "overdue"  # approved, past the scheduled date, not closed
    ALL = "all"  # every order, newest first
    REQUESTED = "requested"  # open orders I requested (App Home)
    ASSIGNED = "assigned"  # open orders I am assigned to (App Home)


# A listing of at most this many of the orders routed to its reader reads its page through their parts (their
# clients' and sites' indexes) and sorts them: walking every order in the listing's order, looking for theirs,
# would read thousands for the few (a coordinator of one small client: 20 ms a page at 100,000 orders)
FEW = 1000

LISTINGS_FOR_COMMAND = (Listing.MINE, Listing.PENDING, Listing.OVERDUE, Listing.ALL)
# the listings of everyone's orders: narrowed to the orders routed to the reader (workflow/routing.py)
ROUTED_LISTINGS = frozenset({Listing.PENDING, Listing.OVERDUE, Listing.ALL})


@dataclass(frozen=True)
class OrderLine:
    """One order in a list: enough to recognise it and go to its channel."""

    id: int
    number: str
    client: str
    site: str
    state: State
    version: int
    revision: int
    requester_id: str
    channel_id: str | None
    created_at: datetime
    scheduled_date: date | None
    overdue: bool
    due_by: date | None = None  # the completion deadline (scheduled date + the priority's days), once scheduled
    late: bool = False  # approved and past its completion deadline


@dataclass(frozen=True)
class Page:
    lines: list[OrderLine]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.lines) < self.total


def is_overdue(state: State, scheduled: date | None, today: date) -> bool:
    """Approved (work in progress, a change waiting or not) and its scheduled date has passed without the order
    being closed."""
    return state.in_progress and scheduled is not None and scheduled < today


def listing(session: Session, which: Listing, user_id: str, today: date, *, offset: int = 0,
            limit: int = 10, roles: set[Role] | None = None, days: ByPriority[int] = COMPLETION_DAYS,
            total: int | None = None) -> Page:
    """One page of a listing, in the order people work through it: oldest waiting first for approvals and
    overdue work, soonest scheduled first for assignments, newest first otherwise. Given the reader's `roles`
    (all they hold), everyone's orders narrow to those routed to them. Given its `total` (a `tally`'s), it is
    not counted again."""
    states, where = _where(which, user_id, today)
    if which == Listing.PENDING:  # those waiting for a level of approval this person may give
        approvable = _approvable(session, user_id) if roles is None else approvable_roles(roles)
        where = and_(where, ServiceOrder.approval_role.in_(approvable))  # type: ignore[attr-defined]
    parts, seen, routed = [true()], true(), roles is not None and which in ROUTED_LISTINGS
    if routed:
        parts = seen_parts(user_id, roles)
        seen = or_(*parts) if parts else false()  # seen_by, from the parts at hand
    order_by = {
        Listing.PENDING: (ServiceOrder.created_at, ServiceOrder.id),
        Listing.OVERDUE: (ServiceOrder.scheduled_date, ServiceOrder.id),
        Listing.ASSIGNED: (ServiceOrder.scheduled_date, ServiceOrder.id),
    }.get(which, (ServiceOrder.id.desc(),))  # type: ignore[union-attr]
    in_state = ServiceOrder.state.in_(states) if states else true()  # type: ignore[attr-defined]
    if total is None:
        total = session.exec(select(func.count()).select_from(_union(
            [select(ServiceOrder.id).where(in_state, where, part) for part in parts]))).one() if parts else 0
    if routed and total <= FEW:  # read through the reader's parts, then sorted
        page = ServiceOrder.id.in_(select(_union(  # type: ignore[union-attr]
            [select(ServiceOrder.id).where(in_state, where, part) for part in parts]).c.id))
    else:  # found soon enough walking every order in the listing's order
        page = _first(states, and_(where, seen), order_by, offset + limit)
    client = aliased(CatalogEntry)
    site = aliased(CatalogEntry)
    rows = session.exec(
        select(ServiceOrder, client.name, site.name)
        .outerjoin(client, and_(client.kind == "client", client.code == ServiceOrder.client_code))
        .outerjoin(site, and_(site.kind == "site", site.code == ServiceOrder.site_code))
        .where(page).order_by(*order_by).offset(offset).limit(limit)).all()
    lines = [_line(order, client_name, site_name, today, days) for order, client_name, site_name in rows]
    return Page(lines, total, offset, limit)


def _first(states: tuple[State, ...], where: ColumnElement[bool], order_by: tuple[Any, ...],
           count: int) -> ColumnElement[bool]:
    """The first `count` orders in `order_by` among those in `states` matching `where`: per state, read in
    order through the (state, created_at | scheduled_date) indexes and stopped at `count`, so a page costs the
    rows before it, not every order in those states (one ordered read cannot cover two states at once)."""
    if not states:
        return where
    firsts = [select(ServiceOrder.id).where(ServiceOrder.state == state, where).order_by(*order_by)
              .limit(count).subquery() for state in states]
    return ServiceOrder.id.in_(union_all(*(select(first.c.id) for first in firsts)))  # type: ignore[union-attr]


def _approvable(session: Session, user_id: str) -> list[str]:
    return approvable_roles({Role(r) for r in session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user_id))})


def approvable_roles(roles: set[Role]) -> list[str]:
    """The roles whose levels of approval someone holding `roles` may give (their own and those ranked below)."""
    return sorted(role.value for role in APPROVING_ROLES if may_approve(Level(role), roles))


@dataclass(frozen=True)
class Tally:
    """What App Home counts of the orders routed to a person: how many in each state, and the totals of its
    sections of everyone's orders (waiting for an approval they may give; overdue)."""

    by_state: dict[State, int]
    totals: dict[Listing, int]


def tally(session: Session, user_id: str, roles: set[Role], today: date) -> Tally:
    """`Tally` in one pass over the orders routed to the reader, part by part (workflow/routing.seen_parts),
    each through an index that holds what is counted (revision 0023): a coordinator with 12,000 orders of their
    clients is read once, not once per count."""
    by_state = {state: 0 for state in State}
    totals = {Listing.PENDING: 0, Listing.OVERDUE: 0}
    parts = seen_parts(user_id, roles)
    if parts:
        seen = _union([select(ServiceOrder.state, ServiceOrder.approval_role, ServiceOrder.scheduled_date)
                       .where(part) for part in parts])
        waiting = func.count(case((seen.c.approval_role.in_(approvable_roles(roles)), 1)))
        overdue = func.count(case((seen.c.scheduled_date < today, 1)))
        for name, count, waiting_count, overdue_count in session.exec(
                select(seen.c.state, func.count(), waiting, overdue).group_by(seen.c.state)):
            state = State(name)
            by_state[state] = count
            totals[Listing.PENDING] += waiting_count if state in WAITING_FOR_APPROVAL else 0
            totals[Listing.OVERDUE] += overdue_count if state in WORK_IN_PROGRESS else 0
    return Tally(by_state, totals)


def counts_by_state(session: Session, user_id: str | None = None, roles: set[Role] | None = None) -> dict[State, int]:
    """How many orders are in each state: of those routed to the reader, given their id and `roles`."""
    parts = seen_parts(user_id, roles) if user_id is not None and roles is not None else [true()]
    counts = {state: 0 for state in State}
    if parts:  # part by part, each through its index (workflow/routing.seen_parts)
        seen = _union([select(ServiceOrder.state).where(part) for part in parts])
        counts.update({State(state): count for state, count in session.exec(
            select(seen.c.state, func.count()).group_by(seen.c.state))})
    return counts


def _union(parts: list[Any]) -> Any:
    """Selects of orders no two of which hold the same order, as one subquery: the database reads each through
    its own index."""
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()


def _where(which: Listing, user_id: str, today: date) -> tuple[tuple[State, ...], ColumnElement[bool]]:
    """The states a listing reads (none: every state), and what else its orders meet."""
    assigned = ServiceOrder.id.in_(  # type: ignore[union-attr]
        select(Assignment.order_id).where(Assignment.user_id == user_id,
                                          Assignment.removed_in_version.is_(None)))  # type: ignore[union-attr]
    if which == Listing.PENDING:
        return WAITING_FOR_APPROVAL, true()
    if which == Listing.OVERDUE:
        return WORK_IN_PROGRESS, ServiceOrder.scheduled_date < today  # type: ignore[return-value]
    if which == Listing.REQUESTED:
        return OPEN_STATES, ServiceOrder.requester_id == user_id  # type: ignore[return-value]
    if which == Listing.ASSIGNED:
        return WORK_IN_PROGRESS, assigned
    if which == Listing.MINE:
        return OPEN_STATES, (ServiceOrder.requester_id == user_id) | assigned
    return (), true()


def _line(order: ServiceOrder, client: str | None, site: str | None, today: date,
          days: ByPriority[int]) -> OrderLine:
    state = State(order.state)
    scheduled = order.scheduled_date
    return OrderLine(
        id=order.id, number=order_number(order.number), client=client or order.client_code,
        site=site or order.site_code,
        state=state, version=order.current_version, revision=order.revision, requester_id=order.requester_id,
        channel_id=order.channel_id, created_at=order.created_at, scheduled_date=order.scheduled_date,
        overdue=is_overdue(state, scheduled, today),
        due_by=deadline(scheduled, order.priority, days) if scheduled else None,
        late=is_late(state, scheduled, order.priority, today, days))
