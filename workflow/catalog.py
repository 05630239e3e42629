"""Master data import: clients, sites, services and materials from one CSV file, all or nothing.

The file is streamed: each row is read, checked and staged in a TEMPORARY table, in batches, so memory stays
flat whatever the file's size. What a row alone cannot say (a code repeated in the file, a site's parent that
is a client later in the file or already imported) is checked in SQL once every row is staged, inside the one
write transaction that then upserts the staged rows into the catalog. A bad row anywhere leaves the catalog
as it was."""

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
    cast,
    exists,
    func,
    or_,
    select,
    text,
)

from storage.db import WRITE_OPTION, bulk_insert, scratch_table, upsert_from_select, without_jit
from storage.models import MONEY, CatalogEntry
from workflow.limits import MAX_PRICE
from workflow.numbers import parse_decimal
from workflow.vocabulary import CatalogKind

HEADER = ["kind", "code", "name", "unit", "unit_price", "parent"]
OPTIONAL = ["address", "contact"]  # may follow: a site's address, a client's contact (shown on the PDFs)
MAX_PROBLEMS = 20  # problems listed; the rest are counted ("and 1234 more")
MAX_LINE = 1 << 20  # characters: a real row is under 2 KB; this stops a file with no line breaks early
BATCH = 5000  # rows staged per INSERT
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_KINDS = frozenset(k.value for k in CatalogKind)
# plain strings: a StrEnum member in a comparison costs more than the rest of the row's check
_PRICED = frozenset({CatalogKind.SERVICE.value, CatalogKind.MATERIAL.value})
_CLIENT, _SITE = CatalogKind.CLIENT.value, CatalogKind.SITE.value
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


class CatalogError(Exception):
    """The file cannot be imported; `problems` lists the first bad lines, `more` counts the others. Nothing was
    written."""

    def __init__(self, problems: list[str], more: int = 0) -> None:
        lines = problems + ([f"and {more} more problem{'s' if more > 1 else ''}"] if more else [])
        super().__init__("\n".join(lines))
        self.problems = problems
        self.more = more


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)  # by kind
    existing: dict[str, int] = field(default_factory=dict)  # rows of the file already in the catalog, by kind
    changed: int = 0  # of those, how many the file changed

    def summary(self) -> str:
        new = [f"{self.created[k]:,} new {k}s" for k in (k.value for k in CatalogKind) if self.created.get(k)]
        said = "Imported " + (", ".join(new) if new else "nothing new")
        if existing := sum(self.existing.values()):
            said += (f"; of {existing:,} already in the catalog, {self.changed:,} updated and "
                     f"{existing - self.changed:,} unchanged")
        return said + "."


@dataclass(frozen=True)
class Progress:
    """How far the reading is: rows read, bytes read of the file's size. `reading_done` is the last call
    before the checks and the write, which take a moment more."""

    rows: int
    read: int
    size: int
    reading_done: bool = False


def search_text(code: str, name: str) -> str:
    return f"{code} {name}".casefold()[:300]


class _Problems:
    """The first MAX_PROBLEMS problems by line, and how many there are in all."""

    def __init__(self) -> None:
        self.first: list[tuple[int, str]] = []
        self.count = 0

    def add(self, line: int, problem: str) -> None:
        self.count += 1
        self.first.append((line, problem))
        if len(self.first) > 2 * MAX_PROBLEMS:  # they come in two runs (the rows, then SQL): keep the least
            self.first = sorted(self.first)[:MAX_PROBLEMS]

    def error(self, path: Path) -> CatalogError:
        listed = sorted(self.first)[:MAX_PROBLEMS]
        return CatalogError([f"{path}: line {line}: {problem}" for line, problem in listed], self.count - len(listed))


def _shown(value: str, limit: int = 60) -> str:
    """A value from the file as a message quotes it: on one line, printable, and short."""
    value = "".join(c if c.isprintable() else "?" for c in value[:limit + 1])
    return value if len(value) <= limit else value[:limit] + "…"


class _Lines:
    """The file's lines for csv.reader, read as bytes one at a time: counted (for line numbers and progress),
    each decoded alone (so a bad byte is named by its line) and refused when it holds a NUL byte or runs past
    MAX_LINE characters (so one huge line never lands in memory whole)."""

    def __init__(self, handle: IO[bytes], path: Path) -> None:
        self.handle, self.path = handle, path
        self.number = 0  # the last line read

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline(4 * MAX_LINE)  # UTF-8: at most 4 bytes a character
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a BOM from spreadsheet exports is fine
            raw = raw[3:]
        if b"\0" in raw:
            raise self._bad("holds a NUL byte: a catalog is text (is this a binary file?)")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._bad(f"not UTF-8 text ({error.reason}); save the file as CSV UTF-8") from error
        if len(line) > MAX_LINE:
            raise self._bad(f"longer than {MAX_LINE} characters; a catalog row is a few hundred")
        return line

    def _bad(self, problem: str) -> CatalogError:
        return CatalogError([f"{self.path}: line {self.number}: {problem}"])


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


def _rows(handle: IO[bytes], path: Path) -> Iterator[tuple[int, _Row | str]]:
    """Each row after the header, with its first line: its values, or what is wrong with its shape."""
    lines = _Lines(handle, path)
    reader = csv.reader(lines)
    start = 1  # the first line of the row being read
    try:
        first = next(reader, None)
        if first is None:
            raise CatalogError([f"{path}: the file is empty; its first line must be the header "
                                f"{','.join(HEADER + OPTIONAL)}"])
        header = [h.strip().lower() for h in first]
        if header[:len(HEADER)] != HEADER or header[len(HEADER):] != OPTIONAL[:len(header) - len(HEADER)]:
            raise CatalogError([f"{path}: line 1: the header must be {','.join(HEADER)} (then optionally "
                                f"{','.join(OPTIONAL)}), not {_shown(','.join(header))}"])
        while True:
            start = lines.number + 1
            values = next(reader, None)
            if values is None:
                return
            values = [v.strip() for v in values]
            if not any(values):
                continue
            yield start, (_Row(*values) if len(values) == len(header)
                          else f"{len(values)} fields, expected {len(header)}")
    except csv.Error as error:
        limit = csv.field_size_limit()
        problem = (f"a field is longer than {limit} characters (a quote left open?)" if "field limit" in str(error)
                   else str(error))
        raise CatalogError([f"{path}: line {start}: {problem}"]) from error


def _entry(row: _Row) -> tuple[Any, ...] | str:
    """The staged catalog entry a row makes (ok, then _ENTRY_COLUMNS), or what is wrong with it (all but what
    needs the other rows)."""
    kind, code, name = row.kind.lower(), row.code, row.name
    if kind not in _KINDS:
        return f"kind '{_shown(row.kind)}' is not one of client, site, service, material"
    if not _CODE.match(code):
        return f"code '{_shown(code)}' must be 1-64 letters, digits, '.', '_', '/' or '-'"
    if not name or len(name) > 200:
        return "name must be 1-200 characters"
    price = None
    if kind in _PRICED:
        if not row.unit or len(row.unit) > 32:
            return f"a {kind} needs a unit (1-32 characters), e.g. h, m, bag"
        price = _price(row.unit_price)
        if isinstance(price, str):
            return price
    elif row.unit or row.unit_price:
        return f"a {kind} has no unit or unit_price; leave them empty"
    if kind == _SITE:
        if not row.parent:
            return "a site needs its client's code in 'parent'"
    elif row.parent:
        return "only a site has a parent"
    if row.address and (kind != _SITE or len(row.address) > 300):
        return "only a site has an address (at most 300 characters)"
    if row.contact and (kind != _CLIENT or len(row.contact) > 200):
        return "only a client has a contact (at most 200 characters)"
    staged_price = None if price is None else f"{price:.4f}"
    return (True, kind, code, name, row.unit or None, staged_price, row.parent or None, row.address or None,
            row.contact or None, search_text(code, name))


def _price(written: str) -> Decimal | str:
    """A unit price as the README has it (digits, a dot for decimals), or what is wrong with it."""
    price = parse_decimal(written)
    if price is None:
        if written.startswith("-") and parse_decimal(written[1:]) is not None:
            return f"unit_price '{_shown(written)}' must be 0 or more"
        return f"unit_price '{_shown(written)}' is not a number (use digits and a dot: 1000 or 12.50)"
    if len(written.partition(".")[2]) > 4:  # parse_decimal took it: digits, then at most one dot and digits
        return f"unit_price '{_shown(written)}' must be 0 or more, with at most 4 decimals"
    if price > MAX_PRICE:
        return f"unit_price '{_shown(written)}' must be at most {MAX_PRICE}"
    return price


def _stage(connection: Connection, path: Path, problems: _Problems,
           on_progress: Callable[[Progress], None] | None) -> dict[str, int]:
    """Read, check and stage every row; return how many rows of each kind the file has."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise CatalogError([f"{path}: cannot read it ({error.strerror})."]) from error
    with handle:
        size = os.fstat(handle.fileno()).st_size
        kinds: dict[str, int] = {}
        batch: list[tuple[Any, ...]] = []
        for line, row in _rows(handle, path):
            entry = row if isinstance(row, str) else _entry(row)
            if isinstance(entry, str):
                problems.add(line, entry)
                if isinstance(row, str):
                    continue
                # staged all the same (kind and code cut short), so that a later row repeating it is reported
                entry = (False, row.kind.lower()[:17], row.code[:65], *_NOTHING)
            kinds[entry[1]] = kinds.get(entry[1], 0) + 1
            batch.append((line, *entry))
            if len(batch) == BATCH:
                bulk_insert(connection, _STAGED, batch)
                batch.clear()
                if on_progress:
                    on_progress(Progress(sum(kinds.values()), handle.tell(), size))
        bulk_insert(connection, _STAGED, batch)
        if not kinds and not problems.count:
            raise CatalogError([f"{path}: no rows after the header; nothing to import"])
        if on_progress:
            on_progress(Progress(sum(kinds.values()), handle.tell(), size, reading_done=True))
    return kinds


_NOTHING = (None,) * (len(_ENTRY_COLUMNS) - 2)


def _check_staged(connection: Connection, problems: _Problems) -> None:
    """What needs every row: a (kind, code) seen on an earlier line, a site whose parent is no client in the
    file or the catalog. A row with a problem of its own is not checked again: each line gets its first one."""
    staged, clients = _STAGED, _STAGED.alias("client")
    repeated = (select(staged.c.kind, staged.c.code, func.min(staged.c.line).label("first"))
                .group_by(staged.c.kind, staged.c.code).having(func.count() > 1).subquery("repeated"))
    orphan = and_(staged.c.kind == _SITE,
                  ~exists().where(clients.c.kind == _CLIENT, clients.c.code == staged.c.parent_code),
                  ~exists().where(CatalogEntry.kind == _CLIENT,
                                  CatalogEntry.code == staged.c.parent_code))
    found = (select(staged.c.line, staged.c.kind, staged.c.code, staged.c.parent_code, repeated.c.first,
                    orphan.label("orphan"))
             .outerjoin(repeated, and_(repeated.c.kind == staged.c.kind, repeated.c.code == staged.c.code,
                                       repeated.c.first < staged.c.line))
             .where(staged.c.ok, or_(repeated.c.first.is_not(None), orphan))
             .order_by(staged.c.line))
    for line, kind, code, parent, first, is_orphan in connection.execute(found):
        problems.add(line, f"parent '{_shown(parent)}' is not a client code (in this file or already imported)"
                     if is_orphan else f"{kind} '{code}' already appears on line {first}")


def _counts(connection: Connection) -> dict[str, int]:
    by_kind = select(CatalogEntry.kind, func.count()).group_by(CatalogEntry.kind)  # type: ignore[arg-type]
    return {kind: count for kind, count in connection.execute(by_kind)}


def _write(connection: Connection, kinds: dict[str, int]) -> ImportReport:
    """Upsert every staged row into the catalog in one statement, in the file's order."""
    before = _counts(connection)
    # the price is staged as the exact text with 4 decimals (what SQLite stores): PostgreSQL casts it to NUMERIC
    staged = {c: cast(_STAGED.c[c], MONEY) if c == "unit_price" else _STAGED.c[c] for c in _ENTRY_COLUMNS}
    entry = CatalogEntry.__table__.c  # type: ignore[attr-defined]
    changing = (select(func.count()).select_from(_STAGED)
                .join(CatalogEntry, and_(entry.kind == _STAGED.c.kind, entry.code == _STAGED.c.code))
                .where(or_(*(entry[c].is_distinct_from(staged[c]) for c in _ENTRY_COLUMNS))))
    changed = connection.scalar(changing) or 0
    rows = select(*staged.values()).order_by(_STAGED.c.line)
    upsert_from_select(connection, CatalogEntry, _ENTRY_COLUMNS, rows, key=["kind", "code"])
    after = _counts(connection)
    report = ImportReport()
    for kind, count in kinds.items():
        created = after.get(kind, 0) - before.get(kind, 0)
        if created:
            report.created[kind] = created
        if count - created:
            report.existing[kind] = count - created
    report.changed = changed
    return report


def import_csv(engine: Engine, path: Path, on_progress: Callable[[Progress], None] | None = None) -> ImportReport:
    """Import the catalog file at `path`, all or nothing; `on_progress` hears how far the reading is."""
    problems = _Problems()
    with engine.connect() as connection, scratch_table(connection, _STAGED):
        # staging writes only the temporary table: the catalog (and on SQLite the write lock) is not touched yet
        with connection.begin():
            kinds = _stage(connection, path, problems, on_progress)
            connection.execute(text(f"CREATE INDEX {_STAGED.name}_key ON {_STAGED.name} (kind, code, line)"))
            # no autovacuum analyzes a temporary table: without statistics PostgreSQL plans the checks blind
            connection.execute(text(f"ANALYZE {_STAGED.name}"))
        with connection.execution_options(**{WRITE_OPTION: True}).begin():
            without_jit(connection)
            _check_staged(connection, problems)
            if problems.count:
                raise problems.error(path)
            return _write(connection, kinds)
