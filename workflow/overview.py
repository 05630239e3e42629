"""Read models for keeping track of many orders: the lists of App Home and `/order list`, counts by state,
and what makes an order overdue (and late: workflow/sla.py). Each list is one indexed, limited query (with its
count), so a team with tens of thousands of open orders gets its page as fast as one with ten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.models import Assignment, CatalogEntry, RoleGrant, ServiceOrder
from workflow.policy import APPROVING_ROLES, Level, may_approve
from workflow.routing import seen_by
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
            limit: int = 10, roles: set[Role] | None = None, days: ByPriority[int] = COMPLETION_DAYS) -> Page:
    """One page of a listing, in the order people work through it: oldest waiting first for approvals and
    overdue work, soonest scheduled first for assignments, newest first otherwise. Given the reader's `roles`,
    everyone's orders narrow to those routed to them."""
    where = _where(which, user_id, today)
    if roles is not None and which in ROUTED_LISTINGS:
        where = and_(where, seen_by(user_id, roles))
    if which == Listing.PENDING:  # those waiting for a level of approval this person may give
        where = and_(where, ServiceOrder.approval_role.in_(_approvable(session, user_id)))  # type: ignore[attr-defined]
    order_by = {
        Listing.PENDING: (ServiceOrder.created_at, ServiceOrder.id),
        Listing.OVERDUE: (ServiceOrder.scheduled_date, ServiceOrder.id),
        Listing.ASSIGNED: (ServiceOrder.scheduled_date, ServiceOrder.id),
    }.get(which, (ServiceOrder.id.desc(),))  # type: ignore[union-attr]
    total = session.exec(select(func.count()).select_from(ServiceOrder).where(where)).one()
    client = aliased(CatalogEntry)
    site = aliased(CatalogEntry)
    rows = session.exec(
        select(ServiceOrder, client.name, site.name)
        .outerjoin(client, and_(client.kind == "client", client.code == ServiceOrder.client_code))
        .outerjoin(site, and_(site.kind == "site", site.code == ServiceOrder.site_code))
        .where(where).order_by(*order_by).offset(offset).limit(limit)).all()
    lines = [_line(order, client_name, site_name, today, days) for order, client_name, site_name in rows]
    return Page(lines, total, offset, limit)


def _approvable(session: Session, user_id: str) -> list[str]:
    """The roles whose levels of approval `user_id` may give (their own and those ranked below)."""
    roles = {Role(r) for r in session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user_id))}
    return sorted(role.value for role in APPROVING_ROLES if may_approve(Level(role), roles))


def counts_by_state(session: Session, user_id: str | None = None, roles: set[Role] | None = None) -> dict[State, int]:
    """How many orders are in each state: of those routed to the reader, given their id and `roles`."""
    query = select(ServiceOrder.state, func.count())
    if user_id is not None and roles is not None:
        query = query.where(seen_by(user_id, roles))
    rows = session.exec(query.group_by(ServiceOrder.state)).all()
    counts = {state: 0 for state in State}
    counts.update({State(state): count for state, count in rows})
    return counts


def _where(which: Listing, user_id: str, today: date) -> ColumnElement[bool]:
    open_ = ServiceOrder.state.in_(OPEN_STATES)  # type: ignore[attr-defined]
    assigned = ServiceOrder.id.in_(  # type: ignore[union-attr]
        select(Assignment.order_id).where(Assignment.user_id == user_id,
                                          Assignment.removed_in_version.is_(None)))  # type: ignore[union-attr]
    in_progress = ServiceOrder.state.in_(WORK_IN_PROGRESS)  # type: ignore[attr-defined]
    if which == Listing.PENDING:
        return ServiceOrder.state.in_(WAITING_FOR_APPROVAL)  # type: ignore[attr-defined]
    if which == Listing.OVERDUE:
        return and_(in_progress, ServiceOrder.scheduled_date < today)
    if which == Listing.REQUESTED:
        return and_(open_, ServiceOrder.requester_id == user_id)
    if which == Listing.ASSIGNED:
        return and_(in_progress, assigned)
    if which == Listing.MINE:
        return and_(open_, (ServiceOrder.requester_id == user_id) | assigned)
    return ServiceOrder.id.is_not(None)  # type: ignore[union-attr]


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
