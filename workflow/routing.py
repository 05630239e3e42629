"""Routing (issue 16): a client, or one of its sites, may name its supervisors and coordinators in the catalog.

Its orders then go to those people only: they are invited to the order's channel, asked to review, reminded,
escalated to, and shown the order in App Home and lists. Per role, a site's names stand before its client's;
with none on either, everyone with the role is routed, as before routing existed. A named person still needs
the role: routing narrows who among the role's holders is involved, it grants nothing. Admins are never
narrowed: they see every order.

`Router` answers for one order or many (a reminder sweep reads each client and site once); `seen_by` is the
same rule in SQL, for the listings (and `seen_parts`, for counting them).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, false, or_, true
from sqlmodel import Session, select
from sqlmodel.sql.expression import Select

from storage.models import CatalogEntry, RoleGrant, Routing, ServiceOrder
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
    ways = seen_parts(user, roles)
    return or_(*ways) if ways else false()


def seen_parts(user: str, roles: Iterable[Role]) -> list[ColumnElement[bool]]:
    """`seen_by` as parts no order is in twice (none: no order), each led by a condition one index serves
    (the site, the client naming them, a client naming nobody, the requester): a count made part by part reads
    only the orders routed to the reader, where the whole condition, an OR, leaves the database to read every
    order in the states counted."""
    roles = frozenset(roles)
    if Role.ADMIN in roles:
        return [true()]
    routed = [role for role in ROUTED_ROLES if role in roles]
    if not routed:
        return []
    # one role's ways hold no order twice (by site, by client at a site naming nobody, by a client naming
    # nobody); each leaves out the earlier roles' only, and the orders they requested come last, leaving out
    # all: the many orders of the first ways are read with no other condition than their own, in their index
    parts: list[ColumnElement[bool]] = []
    earlier: list[ColumnElement[bool]] = []
    for ways in [*(_open_to(user, role) for role in routed), [ServiceOrder.requester_id == user]]:
        parts += [and_(way, *(~before for before in earlier)) for way in ways]
        earlier += ways
    return parts


def _open_to(user: str, role: Role) -> list[ColumnElement[bool]]:
    """Orders at a site naming `user`; orders of a client naming them, or of a client naming nobody, at a site
    naming nobody. As uncorrelated subqueries (each read once per statement, not once per order), so the
    indexes on the orders' site and client serve them; the clients naming nobody as an anti-join, whose size
    PostgreSQL estimates (a NOT IN it guesses at half the catalog, and reads every order). Every order's client
    is a catalog client (a submission and an edit check it, and the catalog never loses one), so the clients
    naming nobody are the catalog's."""
    def named(kind: str, *who: ColumnElement[bool]) -> Select:
        return select(Routing.code).where(Routing.kind == kind, Routing.role == role.value, *who)

    me = Routing.user_id == user
    unnamed = select(CatalogEntry.code).where(CatalogEntry.kind == _CLIENT, ~exists().where(
        Routing.kind == _CLIENT, Routing.code == CatalogEntry.code, Routing.role == role.value))
    at_unnamed_site = ServiceOrder.site_code.not_in(named(_SITE))  # type: ignore[attr-defined]
    return [ServiceOrder.site_code.in_(named(_SITE, me)),  # type: ignore[attr-defined]
            and_(ServiceOrder.client_code.in_(named(_CLIENT, me)), at_unnamed_site),  # type: ignore[attr-defined]
            and_(ServiceOrder.client_code.in_(unnamed), at_unnamed_site)]  # type: ignore[attr-defined]
