"""Master data import: clients, sites, services, materials and clients' own prices from one CSV file, all or
nothing.

The file is streamed: each row is read, checked and staged in a TEMPORARY table, in batches, so memory stays
flat whatever the file's size. What a row alone cannot say (a code repeated in the file, a site's parent that
is a client later in the file or already imported) is checked in SQL once every row is staged, inside the one
write transaction that then upserts the staged rows into the catalog. A bad row anywhere leaves the catalog
as it was.

What is wrong is said as typed problems (a code and its values, on a line of the file); the command line
words them in the operator's language (bot/cli_words.py).

Clients and sites may name their supervisors and coordinators (columns `supervisors`, `coordinators`): Slack
member ids, or e-mails that a resolver the caller gives (bot/ asks Slack's users.lookupByEmail; this module
never talks to Slack) turns into member ids, each distinct e-mail asked once. Those names are the order's
routing (workflow/routing.py): when the file has the column, each client or site row's names replace the ones
stored for it, and an empty cell clears them (its orders go to everyone with the role again)."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)

from storage.db import WRITE_OPTION, bulk_insert, scratch_table, upsert_from_select, without_jit
from storage.models import MONEY, CatalogEntry, ClientPrice, RoleGrant, Routing
from storage.scope import current, mine
from workflow.folding import fold
from workflow.limits import MAX_PRICE
from workflow.numbers import parse_decimal
from workflow.people import is_user_id
from workflow.sheets import MAX_PROBLEMS, Lines, Problem, Problems, SheetError, Trouble, shown
from workflow.vocabulary import CatalogKind, Role

HEADER = ["kind", "code", "name", "unit", "unit_price", "parent"]
# may follow, in this order: a site's address, a client's contact (shown on the PDFs); a client's or site's
# supervisors and coordinators (its routing)
OPTIONAL = ["address", "contact", "supervisors", "coordinators"]
ROUTED_ROLES = {"supervisors": Role.SUPERVISOR, "coordinators": Role.COORDINATOR}  # column: the role it names
MAX_PEOPLE = 50  # people named in one cell: a client's team, not the company's directory
_PEOPLE_SEPARATOR = re.compile(r"[\s;]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BATCH = 5000  # rows staged per INSERT
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_KINDS = frozenset(k.value for k in CatalogKind)
# plain strings: a StrEnum member in a comparison costs more than the rest of the row's check
_PRICED = frozenset({CatalogKind.SERVICE.value, CatalogKind.MATERIAL.value})
_CLIENT, _SITE = CatalogKind.CLIENT.value, CatalogKind.SITE.value
_PRICE = CatalogKind.PRICE.value  # a client's price for an item: code the item's, parent the client's
_ENTRY_COLUMNS = ["kind", "code", "name", "unit", "unit_price", "parent_code", "address", "contact", "search_text"]

# The rows of the file being imported, on the importing connection only. Text without lengths: a bad row is
# staged too (kind and code cut short) so that a later row repeating its code is still reported.
_STAGED = Table(
    "catalog_import", MetaData(),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("ok", Boolean, nullable=False),  # the row passed every check a row can have alone
    Column("kind", Text, nullable=False), Column("code", Text, nullable=False),
    Column("name", Text), Column("unit", Text), Column("unit_price", Text), Column("parent_code", Text),
    Column("address", Text), Column("contact", Text), Column("search_text", Text),
    prefixes=["TEMPORARY"])

# The people the file's client and site rows name, one row per (row, role, person), as member ids.
_STAGED_ROUTING = Table(
    "routing_import", MetaData(),
    Column("line", Integer, nullable=False), Column("kind", Text, nullable=False),
    Column("code", Text, nullable=False), Column("role", Text, nullable=False), Column("user_id", Text, nullable=False),
    prefixes=["TEMPORARY"])

# Looks an e-mail up: the member id of the person it belongs to, None when no one has it. Anything else that
# goes wrong (Slack out of reach, a scope missing) it raises, and the import stops with nothing written.
EmailResolver = Callable[[str], str | None]


def _problem(trouble: Trouble, line: int | None = None, **values: Any) -> Problem:
    return Problem(trouble, line, values)


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)  # by kind
    existing: dict[str, int] = field(default_factory=dict)  # rows of the file already in the catalog, by kind
    changed: int = 0  # of those, how many the file changed
    routed: int = 0  # client and site rows that name their people (routing)
    # people the file names for a role they do not hold (yet): stored all the same, routed to once granted
    without_role: list[tuple[Role, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    """How far the reading is: rows read, bytes read of the file's size. `reading_done` is the last call
    before the checks and the write, which take a moment more."""

    rows: int
    read: int
    size: int
    reading_done: bool = False


def search_text(code: str, name: str) -> str:
    """What the typeahead matches: code and name, folded (workflow/folding.py)."""
    return fold(f"{code} {name}")[:300]


class _Row(NamedTuple):
    """A row of the file, its values stripped; address and contact are optional columns."""

    kind: str
    code: str
    name: str
    unit: str
    unit_price: str
    parent: str
    address: str = ""
    contact: str = ""
    supervisors: str | None = None  # None: the file has no such column (the stored names stay)
    coordinators: str | None = None


def _rows(handle: IO[bytes], path: Path) -> Iterator[tuple[int, _Row | Problem]]:
    """Each row after the header, with its first line: its values, or what is wrong with its shape."""
    lines = Lines(handle, path)
    reader = csv.reader(lines)
    start = 1  # the first line of the row being read
    try:
        first = next(reader, None)
        if first is None:
            raise SheetError(path, [_problem(Trouble.EMPTY, header=",".join(HEADER + OPTIONAL))])
        header = [h.strip().lower() for h in first]
        if header[:len(HEADER)] != HEADER or header[len(HEADER):] != OPTIONAL[:len(header) - len(HEADER)]:
            raise SheetError(path, [_problem(Trouble.HEADER, 1, header=",".join(HEADER),
                                               optional=",".join(OPTIONAL), found=shown(",".join(header)))])
        while True:
            start = lines.number + 1
            values = next(reader, None)
            if values is None:
                return
            values = [v.strip() for v in values]
            if not any(values):
                continue
            yield start, (_Row(*values) if len(values) == len(header)
                          else _problem(Trouble.FIELD_COUNT, start, count=len(values), expected=len(header)))
    except csv.Error as error:
        problem = (_problem(Trouble.FIELD_TOO_LONG, start, limit=csv.field_size_limit())
                   if "field limit" in str(error) else _problem(Trouble.MALFORMED, start, detail=str(error)))
        raise SheetError(path, [problem]) from error


def _entry(row: _Row, line: int) -> tuple[Any, ...] | Problem:
    """The staged catalog entry a row makes (ok, then _ENTRY_COLUMNS), or what is wrong with it (all but what
    needs the other rows)."""
    kind, code, name = row.kind.lower(), row.code, row.name
    if kind not in _KINDS:
        return _problem(Trouble.KIND, line, kind=shown(row.kind), kinds=", ".join(k.value for k in CatalogKind))
    if not _CODE.match(code):
        return _problem(Trouble.CODE, line, code=shown(code))
    if kind == _PRICE:
        return _client_price(row, line)
    if not name or len(name) > 200:
        return _problem(Trouble.NAME, line)
    price = None
    if kind in _PRICED:
        if not row.unit or len(row.unit) > 32:
            return _problem(Trouble.NEEDS_UNIT, line, kind=kind)
        price = _price(row.unit_price, line)
        if isinstance(price, Problem):
            return price
    elif row.unit or row.unit_price:
        return _problem(Trouble.NO_UNIT, line, kind=kind)
    if kind == _SITE:
        if not row.parent:
            return _problem(Trouble.SITE_NEEDS_PARENT, line)
    elif row.parent:
        return _problem(Trouble.ONLY_SITE_PARENT, line)
    if row.address and (kind != _SITE or len(row.address) > 300):
        return _problem(Trouble.ONLY_SITE_ADDRESS, line)
    if row.contact and (kind != _CLIENT or len(row.contact) > 200):
        return _problem(Trouble.ONLY_CLIENT_CONTACT, line)
    staged_price = None if price is None else f"{price:.4f}"
    return (True, kind, code, name, row.unit or None, staged_price, row.parent or None, row.address or None,
            row.contact or None, search_text(code, name))


def _client_price(row: _Row, line: int) -> tuple[Any, ...] | Problem:
    """A client's price for an item: the item's code, the client's in `parent`, the price (its name and unit
    are the item's, so the row's own are not read). Whether item and client exist needs every row."""
    if not row.parent:
        return _problem(Trouble.PRICE_NEEDS_CLIENT, line)
    price = _price(row.unit_price, line)
    if isinstance(price, Problem):
        return price
    return (True, _PRICE, row.code, "", None, f"{price:.4f}", row.parent, None, None, "")


def _price(written: str, line: int) -> Decimal | Problem:
    """A unit price as the README has it (digits, a dot for decimals), or what is wrong with it."""
    price = parse_decimal(written)
    if price is None:
        if written.startswith("-") and parse_decimal(written[1:]) is not None:
            return _problem(Trouble.PRICE_NEGATIVE, line, price=shown(written))
        return _problem(Trouble.PRICE_NOT_NUMBER, line, price=shown(written))
    if len(written.partition(".")[2]) > 4:  # parse_decimal took it: digits, then at most one dot and digits
        return _problem(Trouble.PRICE_DECIMALS, line, price=shown(written))
    if price > MAX_PRICE:
        return _problem(Trouble.PRICE_TOO_HIGH, line, price=shown(written), most=str(MAX_PRICE))
    return price


class _People:
    """The people a client or site row names, as member ids: ids taken as written (their shape checked),
    e-mails looked up through the resolver, each distinct one once (a catalog may name one person on 10,000
    rows)."""

    def __init__(self, resolve: EmailResolver | None, path: Path) -> None:
        self.resolve, self.path = resolve, path
        self.found: dict[str, str | None] = {}  # e-mail, lower case: member id, or None for no one
        self.batch: list[tuple[Any, ...]] = []  # rows for _STAGED_ROUTING
        self.named = 0  # rows that name someone
        self.roles: set[Role] = set()  # the roles the file has a column for: its client and site rows set them

    def stage(self, row: _Row, kind: str, line: int) -> Problem | None:
        """Stage the people `row` names (a row that passed its own checks), or say what is wrong with them."""
        if row.supervisors is None:  # the file has neither column (coordinators may only follow supervisors)
            return None
        if len(self.roles) < len(ROUTED_ROLES):  # every row has the same columns: the first one says which
            self.roles.update(role for column, role in ROUTED_ROLES.items() if getattr(row, column) is not None)
        if not row.supervisors and not row.coordinators:
            return None
        cells = [(column, getattr(row, column)) for column in ROUTED_ROLES if getattr(row, column)]
        if cells and kind not in (_CLIENT, _SITE):
            return _problem(Trouble.ONLY_CLIENT_SITE_PEOPLE, line, column=cells[0][0])
        staged: list[tuple[Any, ...]] = []
        for column, cell in cells:
            people = self._people(column, cell, line)
            if isinstance(people, Problem):
                return people
            staged += [(line, kind, row.code, ROUTED_ROLES[column].value, user) for user in people]
        self.batch += staged
        self.named += bool(staged)
        return None

    def _people(self, column: str, cell: str, line: int) -> list[str] | Problem:
        named = [token for token in _PEOPLE_SEPARATOR.split(cell) if token]
        if len(named) > MAX_PEOPLE:
            return _problem(Trouble.TOO_MANY_PEOPLE, line, column=column, most=MAX_PEOPLE)
        people: list[str] = []
        for token in named:
            user = token if is_user_id(token) else self._looked_up(column, token, line)
            if isinstance(user, Problem):
                return user
            people.append(user)
        return list(dict.fromkeys(people))

    def _looked_up(self, column: str, token: str, line: int) -> str | Problem:
        if not _EMAIL.match(token) or len(token) > 254:
            return _problem(Trouble.PERSON, line, column=column, value=shown(token))
        email = token.lower()
        if email not in self.found:
            if self.resolve is None:  # said at once: every later e-mail would fail the same way
                raise SheetError(self.path, [_problem(Trouble.EMAILS_NEED_SLACK, line, email=shown(token))])
            self.found[email] = self.resolve(email)
        user = self.found[email]
        return _problem(Trouble.UNKNOWN_EMAIL, line, column=column, email=shown(token)) if user is None else user


def _stage(connection: Connection, path: Path, problems: Problems,
           on_progress: Callable[[Progress], None] | None, people: _People) -> dict[str, int]:
    """Read, check and stage every row (and the people client and site rows name); return how many rows of
    each kind the file has."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise SheetError(path, [_problem(Trouble.CANNOT_READ, reason=error.strerror)]) from error
    with handle:
        size = os.fstat(handle.fileno()).st_size
        kinds: dict[str, int] = {}
        batch: list[tuple[Any, ...]] = []
        for line, row in _rows(handle, path):
            entry = row if isinstance(row, Problem) else _entry(row, line)
            if not isinstance(row, Problem) and not isinstance(entry, Problem):
                entry = people.stage(row, entry[1], line) or entry  # the people it names, if any
            if isinstance(entry, Problem):
                problems.add(entry)
                if isinstance(row, Problem):
                    continue
                # staged all the same (kind and code cut short), so that a later row repeating it is reported
                entry = (False, row.kind.lower()[:17], row.code[:65], *_NOTHING)
            kinds[entry[1]] = kinds.get(entry[1], 0) + 1
            batch.append((line, *entry))
            if len(batch) == BATCH:
                bulk_insert(connection, _STAGED, batch)
                batch.clear()
                bulk_insert(connection, _STAGED_ROUTING, people.batch)
                people.batch.clear()
                if on_progress:
                    on_progress(Progress(sum(kinds.values()), handle.tell(), size))
        bulk_insert(connection, _STAGED, batch)
        bulk_insert(connection, _STAGED_ROUTING, people.batch)
        if not kinds and not problems.count:
            raise SheetError(path, [_problem(Trouble.NO_ROWS)])
        if on_progress:
            on_progress(Progress(sum(kinds.values()), handle.tell(), size, reading_done=True))
    return kinds


_NOTHING = (None,) * (len(_ENTRY_COLUMNS) - 2)


def _check_staged(connection: Connection, problems: Problems) -> None:
    """What needs every row: a (kind, code) seen on an earlier line, a site whose parent is no client in the
    file or the catalog. A row with a problem of its own is not checked again: each line gets its first one."""
    staged, clients, items = _STAGED, _STAGED.alias("client"), _STAGED.alias("item")
    # a client's price repeats per (item, client); every other row per (kind, code)
    client_of = case((staged.c.kind == _PRICE, staged.c.parent_code), else_="").label("client_of")
    repeated = (select(staged.c.kind, staged.c.code, client_of, func.min(staged.c.line).label("first"))
                .group_by(staged.c.kind, staged.c.code, client_of).having(func.count() > 1).subquery("repeated"))
    orphan = and_(staged.c.kind.in_([_SITE, _PRICE]),
                  ~exists().where(clients.c.kind == _CLIENT, clients.c.code == staged.c.parent_code),
                  ~exists().where(CatalogEntry.workspace == current(), CatalogEntry.kind == _CLIENT,
                                  CatalogEntry.code == staged.c.parent_code))
    unknown = and_(staged.c.kind == _PRICE,
                   ~exists().where(items.c.kind.in_(_PRICED), items.c.code == staged.c.code),
                   ~exists().where(CatalogEntry.workspace == current(), CatalogEntry.kind.in_(_PRICED),
                                   CatalogEntry.code == staged.c.code))
    found = (select(staged.c.line, staged.c.kind, staged.c.code, staged.c.parent_code, repeated.c.first,
                    orphan.label("orphan"), unknown.label("unknown"))
             .outerjoin(repeated, and_(repeated.c.kind == staged.c.kind, repeated.c.code == staged.c.code,
                                       repeated.c.client_of == client_of, repeated.c.first < staged.c.line))
             .where(staged.c.ok, or_(repeated.c.first.is_not(None), orphan, unknown))
             .order_by(staged.c.line))
    for line, kind, code, parent, first, is_orphan, is_unknown in connection.execute(found):
        problems.add(_problem(Trouble.UNKNOWN_ITEM, line, code=shown(code)) if is_unknown
                     else _problem(Trouble.ORPHAN, line, parent=shown(parent)) if is_orphan
                     else _problem(Trouble.REPEATED, line, kind=kind, code=code, first=first))


def _counts(connection: Connection, prices: bool) -> dict[str, int]:
    by_kind = (select(CatalogEntry.kind, func.count()).where(CatalogEntry.workspace == current())  # type: ignore[arg-type]
               .group_by(CatalogEntry.kind))
    counts = {kind: count for kind, count in connection.execute(by_kind)}
    if prices:  # client prices are counted only when the file has some
        counts[_PRICE] = connection.scalar(select(func.count()).select_from(ClientPrice)
                                           .where(ClientPrice.workspace == current())) or 0
    return counts


def _write_routing(connection: Connection, roles: set[Role]) -> list[tuple[Role, str]]:
    """The file's client and site rows replace their people for each role the file has a column for: the
    people staged, or none (an empty cell: everyone with the role again). Returns the first people named for
    a role they do not hold."""
    if not roles:
        return []
    routing = Routing.__table__  # type: ignore[attr-defined]
    in_file = exists().where(_STAGED.c.kind.in_([_CLIENT, _SITE]), _STAGED.c.kind == routing.c.kind,
                             _STAGED.c.code == routing.c.code)
    connection.execute(routing.delete().where(mine(routing), routing.c.role.in_(sorted(roles)), in_file))
    staged = _STAGED_ROUTING.c
    connection.execute(routing.insert().from_select(
        ["workspace", "kind", "code", "role", "user_id"],
        select(literal(current()), staged.kind, staged.code, staged.role, staged.user_id)))
    lacking = (select(staged.role, staged.user_id).distinct()
               .where(~exists().where(RoleGrant.workspace == current(), RoleGrant.user_id == staged.user_id,
                                      RoleGrant.role == staged.role))
               .order_by(staged.role, staged.user_id).limit(MAX_PROBLEMS))
    return [(Role(role), user) for role, user in connection.execute(lacking)]


def _write(connection: Connection, kinds: dict[str, int]) -> ImportReport:
    """Upsert every staged row into the catalog in one statement, in the file's order."""
    prices = _PRICE in kinds
    before = _counts(connection, prices)
    # the price is staged as the exact text with 4 decimals (what SQLite stores): PostgreSQL casts it to NUMERIC
    staged = {c: cast(_STAGED.c[c], MONEY) if c == "unit_price" else _STAGED.c[c] for c in _ENTRY_COLUMNS}
    entry = CatalogEntry.__table__.c  # type: ignore[attr-defined]
    changing = (select(func.count()).select_from(_STAGED)
                .join(CatalogEntry, and_(entry.workspace == current(), entry.kind == _STAGED.c.kind,
                                         entry.code == _STAGED.c.code))
                .where(or_(*(entry[c].is_distinct_from(staged[c]) for c in _ENTRY_COLUMNS))))
    changed = connection.scalar(changing) or 0
    rows = (select(literal(current()), *staged.values()).where(_STAGED.c.kind != _PRICE)
            .order_by(_STAGED.c.line))
    upsert_from_select(connection, CatalogEntry, ["workspace", *_ENTRY_COLUMNS], rows,
                       key=["workspace", "kind", "code"])
    if prices:
        changed += _write_prices(connection, staged["unit_price"])
    after = _counts(connection, prices)
    report = ImportReport()
    for kind, count in kinds.items():
        created = after.get(kind, 0) - before.get(kind, 0)
        if created:
            report.created[kind] = created
        if count - created:
            report.existing[kind] = count - created
    report.changed = changed
    return report


def _write_prices(connection: Connection, staged_price: Any) -> int:
    """Upsert the staged client prices; return how many existing ones the file changes."""
    price = ClientPrice.__table__.c  # type: ignore[attr-defined]
    changed = connection.scalar(
        select(func.count()).select_from(_STAGED)
        .join(ClientPrice, and_(price.workspace == current(), price.client_code == _STAGED.c.parent_code,
                                price.item_code == _STAGED.c.code))
        .where(_STAGED.c.kind == _PRICE, price.unit_price.is_distinct_from(staged_price))) or 0
    rows = (select(literal(current()), _STAGED.c.parent_code, _STAGED.c.code, staged_price)
            .where(_STAGED.c.kind == _PRICE).order_by(_STAGED.c.line))
    upsert_from_select(connection, ClientPrice, ["workspace", "client_code", "item_code", "unit_price"], rows,
                       key=["workspace", "client_code", "item_code"])
    return changed


def import_csv(engine: Engine, path: Path, on_progress: Callable[[Progress], None] | None = None,
               resolve_email: EmailResolver | None = None) -> ImportReport:
    """Import the catalog file at `path`, all or nothing; `on_progress` hears how far the reading is;
    `resolve_email` looks up the people the file names by e-mail (without it, an e-mail stops the import)."""
    problems, people = Problems(), _People(resolve_email, path)
    with engine.connect() as connection, scratch_table(connection, _STAGED), \
            scratch_table(connection, _STAGED_ROUTING):
        # staging writes only the temporary tables: the catalog (and on SQLite the write lock) is not touched yet
        with connection.begin():
            kinds = _stage(connection, path, problems, on_progress, people)
            connection.execute(text(f"CREATE INDEX {_STAGED.name}_key ON {_STAGED.name} (kind, code, line)"))
            # no autovacuum analyzes a temporary table: without statistics PostgreSQL plans the checks blind
            connection.execute(text(f"ANALYZE {_STAGED.name}"))
        with connection.execution_options(**{WRITE_OPTION: True}).begin():
            without_jit(connection)
            _check_staged(connection, problems)
            if problems.count:
                raise problems.error(path)
            report = _write(connection, kinds)
            report.without_role = _write_routing(connection, people.roles)
            report.routed = people.named
            return report
