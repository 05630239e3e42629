"""Who sees what: which orders a person may list or open, what their App Home shows, and who is reminded.

The transition table says who may *act* on an order; this policy, beside it, says who may *look* and who is
told. `/order list`, `/order status`, App Home and its refreshes, and the reminders ask it, so a new role or
listing changes here only.
"""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import RoleGrant, ServiceOrder
from workflow.overview import Listing
from workflow.policy import APPROVING_ROLES, Level, escalated_for
from workflow.queries import open_stint
from workflow.routing import Router
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action, Role

# Staff see every order: they list any listing, open any order, and their App Home changes with any step;
# a client or site that names its supervisors and coordinators narrows theirs to those (workflow/routing.py).
SEES_EVERY_ORDER = frozenset({Role.SUPERVISOR, Role.COORDINATOR, Role.ADMIN})

# App Home's sections, most pressing first, and the roles that get each. Those who may approve an order see
# what waits for approval; those who may submit see what they requested.
HOME_SECTIONS: tuple[tuple[Listing, frozenset[Role]], ...] = (
    (Listing.PENDING, BY_ACTION[Action.APPROVE].roles),
    (Listing.ASSIGNED, frozenset({Role.FIELD_WORKER, Role.COORDINATOR})),
    (Listing.OVERDUE, frozenset({Role.COORDINATOR, Role.ADMIN})),
    (Listing.REQUESTED, BY_ACTION[Action.SUBMIT].roles),
)

# App Home's counts by state: for those who keep the whole workload in view
SEES_COUNTS = frozenset({Role.COORDINATOR, Role.ADMIN})

# Who is reminded (workflow/reminders.py): an order waiting for a level of approval pings the holders of the
# role that level needs, then, later, those of the role ranked above it (a supervisor's level: the supervisors,
# then the coordinators); the coordinators get the morning digest of overdue orders. Field workers hear of the
# orders assigned to them.
REMINDED_TO_APPROVE = {role: frozenset({role}) for role in APPROVING_ROLES}
ESCALATED_TO = {role: escalated_for(Level(role)) for role in APPROVING_ROLES}
DIGEST_FOR = frozenset({Role.COORDINATOR})

# Listings of one's own orders: anyone may ask for them
OWN_LISTINGS = frozenset({Listing.MINE, Listing.REQUESTED, Listing.ASSIGNED})


def may_list(roles: set[Role], which: Listing) -> bool:
    """Whether someone with `roles` may page through `which` (`/order list`)."""
    return which in OWN_LISTINGS or bool(roles & SEES_EVERY_ORDER)


def home_sections(roles: set[Role]) -> list[Listing]:
    return [which for which, who in HOME_SECTIONS if roles & who]


def sees_counts(roles: set[Role]) -> bool:
    return bool(roles & SEES_COUNTS)


def may_open(roles: set[Role], user: str, requester_id: str, assigned: bool) -> bool:
    """Whether `user` may see an order's status: staff, its requester, or a field worker assigned to it."""
    return bool(roles & SEES_EVERY_ORDER) or user == requester_id or assigned


def may_open_order(session: Session, user: str, order: ServiceOrder) -> bool:
    """`may_open`, with staff narrowed to the orders routed to them (workflow/routing.py)."""
    roles = {Role(r) for r in session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user))}
    if roles & SEES_EVERY_ORDER and not Router(session).sees(order.client_code, order.site_code, user, roles):
        roles -= SEES_EVERY_ORDER  # routed elsewhere: they see it as anyone else would
    return may_open(roles, user, order.requester_id, open_stint(session, order.id, user) is not None)


def staff(session: Session) -> list[str]:
    """Everyone who sees every order: their App Home changes with any step."""
    rows = session.exec(select(RoleGrant.user_id).where(
        RoleGrant.role.in_(sorted(SEES_EVERY_ORDER))).distinct())  # type: ignore[attr-defined]
    return sorted(rows)
