"""Routing (issue 16): a client, or one of its sites, may name its supervisors and coordinators in the catalog.

Its orders then go to those people only: they are invited to the order's channel, asked to review, reminded,
escalated to, and shown the order in App Home and lists. Per role, a site's names stand before its client's;
with none on either, everyone with the role is routed, as before routing existed. A named person still needs
the role: routing narrows who among the role's holders is involved, it grants nothing. Admins are never
narrowed: they see every order.

`Router` answers for one order or many (a reminder sweep reads each client and site once); `seen_by` is the
same rule in SQL, for the listings.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, false, or_, true
from sqlmodel import Session, select

from storage.models import RoleGrant, Routing, ServiceOrder
from workflow.vocabulary import CatalogKind, Role

ROUTED_ROLES = (Role.SUPERVISOR, Role.COORDINATOR)  # the roles a catalog row may name people for
_CLIENT, _SITE = CatalogKind.CLIENT.value, CatalogKind.SITE.value

Routes = dict[Role, frozenset[str]]  # the roles an order names people for, and whom; a role absent: everyone


class Router:
    """The routing of orders, read once per client and site and once per person's roles."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._named: dict[tuple[str, str], dict[Role, frozenset[str]]] = {}  # (kind, code): role: people
        self._roles: dict[str, frozenset[Role]] = {}

    def load(self, places: Iterable[tuple[str, str]]) -> None:
        """Read the routing of these (client, site) pairs in one query (those not read yet)."""
        wanted = {(kind, code) for client, site in places for kind, code in ((_CLIENT, client), (_SITE, site))}
        wanted -= set(self._named)
        if not wanted:
            return
        for key in wanted:
            self._named[key] = {}
        codes = sorted({code for _, code in wanted})
        rows = self.session.exec(select(Routing.kind, Routing.code, Routing.role, Routing.user_id)
                                 .where(Routing.code.in_(codes)))  # type: ignore[attr-defined]
        found: dict[tuple[str, str], dict[Role, set[str]]] = {}
        for kind, code, role, user in rows:
            if (kind, code) in wanted:
                found.setdefault((kind, code), {}).setdefault(Role(role), set()).add(user)
        for key, by_role in found.items():
            self._named[key] = {role: frozenset(people) for role, people in by_role.items()}

    def routes(self, client: str, site: str) -> Routes:
        """Whom an order for this client and site names, per role: the site's names, else the client's."""
        self.load([(client, site)])
        at_site, of_client = self._named[(_SITE, site)], self._named[(_CLIENT, client)]
        routes: Routes = {}
        for role in ROUTED_ROLES:
            people = at_site.get(role) or of_client.get(role)
            if people:
                routes[role] = people
        return routes

    def narrow(self, client: str, site: str, people: Iterable[str], roles: Iterable[Role]) -> list[str]:
        """Of `people`, asked for holding one of `roles`, those an order for this client and site goes to: for
        at least one of those roles they hold, the order names nobody, or names them. Order kept."""
        people = list(people)
        routes = self.routes(client, site)
        if not routes:
            return people
        asked = frozenset(roles)
        held = self._held(people)
        return [person for person in people
                if any(role not in routes or person in routes[role] for role in held.get(person, frozenset()) & asked)]

    def sees(self, client: str, site: str, user: str, roles: Iterable[Role]) -> bool:
        """Whether staff with `roles` see an order for this client and site (App Home, lists, status)."""
        roles = frozenset(roles)
        if Role.ADMIN in roles:
            return True
        routes = self.routes(client, site)
        return any(role not in routes or user in routes[role] for role in roles & frozenset(ROUTED_ROLES))

    def roles_of(self, person: str) -> frozenset[Role]:
        return self._held([person])[person]

    def _held(self, people: list[str]) -> dict[str, frozenset[Role]]:
        unknown = [person for person in people if person not in self._roles]
        if unknown:
            found: dict[str, set[Role]] = {person: set() for person in unknown}
            for user, role in self.session.exec(select(RoleGrant.user_id, RoleGrant.role)
                                                .where(RoleGrant.user_id.in_(unknown))):  # type: ignore[attr-defined]
                found[user].add(Role(role))
            self._roles.update({person: frozenset(roles) for person, roles in found.items()})
        return {person: self._roles[person] for person in people}


def seen_by(user: str, roles: Iterable[Role]) -> ColumnElement[bool]:
    """The orders staff with `roles` see, in SQL (the listings): every one for an admin; else, for a role
    they hold, those whose site names them, or names nobody and whose client names them or nobody; and the
    ones they requested."""
    roles = frozenset(roles)
    if Role.ADMIN in roles:
        return true()
    routed = [role for role in ROUTED_ROLES if role in roles]
    if not routed:
        return false()
    return or_(ServiceOrder.requester_id == user, *(_open_to(user, role) for role in routed))


def _open_to(user: str, role: Role) -> ColumnElement[bool]:
    def named(kind: str, code: ColumnElement[str], *who: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(Routing.kind == kind, Routing.code == code, Routing.role == role.value, *who)

    site, client = ServiceOrder.site_code, ServiceOrder.client_code
    me = Routing.user_id == user
    return or_(named(_SITE, site, me),  # type: ignore[arg-type]
               and_(~named(_SITE, site), or_(named(_CLIENT, client, me), ~named(_CLIENT, client))))  # type: ignore[arg-type]
