"""Master data import: clients, sites, services and materials from one CSV file, all or nothing."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.db import session_scope
from storage.models import CatalogEntry
from workflow.vocabulary import CatalogKind

HEADER = ["kind", "code", "name", "unit", "unit_price", "parent"]
OPTIONAL = ["address", "contact"]  # may follow: a site's address, a client's contact (shown on the PDFs)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_PRICED = (CatalogKind.SERVICE, CatalogKind.MATERIAL)


class CatalogError(Exception):
    """The file cannot be imported; `problems` lists each bad line. Nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        kinds = [k.value for k in CatalogKind]
        parts = [f"{self.created.get(k, 0)} new and {self.updated.get(k, 0)} updated {k}s" for k in kinds
                 if self.created.get(k) or self.updated.get(k)]
        return "Imported " + (", ".join(parts) if parts else "nothing") + "."


def search_text(code: str, name: str) -> str:
    return f"{code} {name}".casefold()[:300]


def _parse_rows(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    problems: list[str] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # a BOM from spreadsheet exports is fine
    except OSError as error:
        raise CatalogError([f"{path}: cannot read it ({error.strerror})."]) from error
    with handle:
        try:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:len(HEADER)] != HEADER or header[len(HEADER):] != OPTIONAL[:len(header) - len(HEADER)]:
                raise CatalogError([f"{path}: line 1: the header must be {','.join(HEADER)} (then optionally "
                                    f"{','.join(OPTIONAL)}), not {','.join(header)}"])
            rows = []
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    problems.append(f"line {reader.line_num}: {len(values)} fields, expected {len(header)}")
                    continue
                row = dict.fromkeys(OPTIONAL, "") | dict(zip(header, (v.strip() for v in values), strict=True))
                rows.append((reader.line_num, row))
        except UnicodeDecodeError as error:
            raise CatalogError([f"{path}: not UTF-8 text ({error.reason})"]) from error
        except csv.Error as error:
            raise CatalogError([f"{path}: line {reader.line_num}: {error}"]) from error
    return rows, problems


def _check_row(line: int, row: dict[str, str], clients: set[str]) -> str | None:
    kind, code, name = row["kind"].lower(), row["code"], row["name"]
    if kind not in {k.value for k in CatalogKind}:
        return f"line {line}: kind '{row['kind']}' is not one of client, site, service, material"
    if not _CODE.match(code):
        return f"line {line}: code '{code}' must be 1-64 letters, digits, '.', '_', '/' or '-'"
    if not name or len(name) > 200:
        return f"line {line}: name must be 1-200 characters"
    if kind in _PRICED:
        if not row["unit"] or len(row["unit"]) > 32:
            return f"line {line}: a {kind} needs a unit (1-32 characters), e.g. h, m, bag"
        try:
            price = Decimal(row["unit_price"])
        except InvalidOperation:
            return f"line {line}: unit_price '{row['unit_price']}' is not a number (use a dot: 12.50)"
        if not price.is_finite() or price < 0 or price.as_tuple().exponent < -4 or price >= Decimal("1e10"):
            return f"line {line}: unit_price '{row['unit_price']}' must be 0 or more, with at most 4 decimals"
    elif row["unit"] or row["unit_price"]:
        return f"line {line}: a {kind} has no unit or unit_price; leave them empty"
    if kind == CatalogKind.SITE:
        if not row["parent"]:
            return f"line {line}: a site needs its client's code in 'parent'"
        if row["parent"] not in clients:
            return f"line {line}: parent '{row['parent']}' is not a client code (in this file or already imported)"
    elif row["parent"]:
        return f"line {line}: only a site has a parent"
    if row["address"] and (kind != CatalogKind.SITE or len(row["address"]) > 300):
        return f"line {line}: only a site has an address (at most 300 characters)"
    if row["contact"] and (kind != CatalogKind.CLIENT or len(row["contact"]) > 200):
        return f"line {line}: only a client has a contact (at most 200 characters)"
    return None


def import_csv(engine: Engine, path: Path) -> ImportReport:
    rows, problems = _parse_rows(path)
    with Session(engine) as session:
        clients = set(session.exec(select(CatalogEntry.code).where(CatalogEntry.kind == CatalogKind.CLIENT)))
    clients |= {row["code"] for _, row in rows if row["kind"].lower() == CatalogKind.CLIENT}
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        problem = _check_row(line, row, clients)
        key = (row["kind"].lower(), row["code"])
        if problem is None and key in seen:
            problem = f"line {line}: {key[0]} '{key[1]}' already appears on line {seen[key]}"
        seen.setdefault(key, line)
        if problem:
            problems.append(problem)
    if problems:
        raise CatalogError([f"{path}: {p}" for p in problems])

    report = ImportReport()
    with session_scope(engine) as session:
        # one query for what exists, not one per row: a large file holds the write lock briefly
        existing = {(e.kind, e.code): e for e in session.exec(select(CatalogEntry))}
        for _, row in rows:
            kind = row["kind"].lower()
            entry = existing.get((kind, row["code"]))
            counter = report.updated if entry else report.created
            counter[kind] = counter.get(kind, 0) + 1
            entry = entry or CatalogEntry(kind=kind, code=row["code"], name="", search_text="")
            entry.name = row["name"]
            entry.unit = row["unit"] or None
            entry.unit_price = Decimal(row["unit_price"]) if row["unit_price"] else None
            entry.parent_code = row["parent"] or None
            entry.address = row["address"] or None
            entry.contact = row["contact"] or None
            entry.search_text = search_text(row["code"], row["name"])
            session.add(entry)
    return report
