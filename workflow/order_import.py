"""Bulk import of orders from a CSV or .xlsx file: every row checked first, then each order created pending
approval on behalf of its requester, as a submit from Slack creates it (OrderService.submit: the policy, the
routing and the effects are the same).

One row per order; its items in one cell, `CODE xQUANTITY` separated by ';' (`HVAC-MNT x2; CEM-25 x10`), as a
spreadsheet user writes a short list. The `reference` column is the idempotency key
(service_order.external_ref, unique per workspace): a row whose reference is already an order is skipped and
counted as existing, so a re-run after a crash creates only what is missing. Each order is its own
transaction: a crash midway leaves whole orders behind, never half of one.

Nothing is created unless every new row passes, as with the catalog (workflow/catalog.py, whose file and
problem types this module shares). The checks are the workflow's own (OrderService.check_submit)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import CatalogEntry, ServiceOrder
from workflow.catalog import EmailResolver
from workflow.errors import (
    DateInPast,
    DateTooFar,
    Field,
    FieldErrors,
    ItemRow,
    LineOverCeiling,
    NotAllowed,
    NotInCatalog,
    OnAnotherRow,
    SiteOfAnotherClient,
    TotalOverCeiling,
)
from workflow.inputs import ItemQuantity, OrderDraft
from workflow.limits import DESCRIPTION_MAX, MAX_QUANTITY
from workflow.numbers import parse_decimal
from workflow.people import is_user_id
from workflow.service import OrderService
from workflow.sheets import Lines, Problem, Problems, SheetError, Trouble, shown
from workflow.vocabulary import PRIORITIES, CatalogKind

HEADER = ["reference", "requester", "client", "site", "requested_date", "priority", "description", "items"]
MAX_REF = 64
MAX_ITEMS = 50  # items on one row: an order, not a catalog
_ITEM = re.compile(r"^(?P<code>\S+)\s*[x×*]\s*(?P<quantity>\S+)$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ITEM_KINDS = (CatalogKind.SERVICE.value, CatalogKind.MATERIAL.value)


@dataclass(frozen=True)
class OrderRow:
    """A row that passed its own checks: its line, reference, requester (member id) and draft."""

    line: int
    reference: str
    requester: str
    draft: OrderDraft


@dataclass
class OrdersReport:
    created: int = 0
    existing: int = 0  # rows whose reference was already an order (an earlier run's)


@dataclass(frozen=True)
class OrdersProgress:
    """How far the import is: rows checked (`total` once known), then orders created of those to create."""

    checked: int
    created: int = 0
    to_create: int | None = None  # None: still checking


# --- reading ---------------------------------------------------------------------------------------


def _cells(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """The file's rows with their line (for .xlsx, the sheet's row number), header first."""
    if path.suffix.lower() == ".xlsx":
        yield from _xlsx_cells(path)
        return
    try:
        handle = path.open("rb")
    except OSError as error:
        raise SheetError(path, [Problem(Trouble.CANNOT_READ, values={"reason": error.strerror})]) from error
    with handle:
        lines = Lines(handle, path)
        reader = csv.reader(lines)
        start = 1
        try:
            while True:
                start = lines.number + 1
                values = next(reader, None)
                if values is None:
                    return
                yield start, values
        except csv.Error as error:
            raise SheetError(path, [Problem(Trouble.MALFORMED, start, {"detail": str(error)})]) from error


def _xlsx_cells(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # only for spreadsheets
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)  # row by row: flat memory at any size
    except OSError as error:
        raise SheetError(path, [Problem(Trouble.CANNOT_READ, values={"reason": error.strerror})]) from error
    except (BadZipFile, InvalidFileException, KeyError, ValueError) as error:  # not a workbook openpyxl reads
        raise SheetError(path, [Problem(Trouble.ORDER_NOT_XLSX)]) from error
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        book.close()


def _text(value: Any) -> str:
    """A cell as text: a whole number typed in a spreadsheet (1001.0) as its digits."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


# --- checking a row alone ----------------------------------------------------------------------------


class _Checker:
    def __init__(self, service: OrderService, resolve: EmailResolver | None, path: Path) -> None:
        self.service, self.resolve, self.path = service, resolve, path
        self.found: dict[str, str | None] = {}  # e-mail: member id (None: no one), each asked once
        self.item_kinds: dict[str, str] = {}  # item code: service or material, read from the catalog

    def row(self, line: int, values: list[Any]) -> OrderRow | Problem:
        if len(values) != len(HEADER):
            return Problem(Trouble.FIELD_COUNT, line, {"count": len(values), "expected": len(HEADER)})
        cells = dict(zip(HEADER, values, strict=True))
        reference = _text(cells["reference"])
        if not reference or len(reference) > MAX_REF or not reference.isprintable():
            return Problem(Trouble.ORDER_REFERENCE, line, {"most": MAX_REF})
        requester = self._requester(_text(cells["requester"]), line)
        if isinstance(requester, Problem):
            return requester
        requested = _date(cells["requested_date"])
        if requested is None:
            return Problem(Trouble.ORDER_DATE, line, {"value": shown(_text(cells["requested_date"]))})
        priority = _text(cells["priority"]).lower() or "normal"
        if priority not in PRIORITIES:
            return Problem(Trouble.ORDER_PRIORITY, line,
                           {"value": shown(priority), "priorities": ", ".join(PRIORITIES)})
        description = _text(cells["description"])
        if not description or len(description) > DESCRIPTION_MAX:
            return Problem(Trouble.ORDER_DESCRIPTION, line, {"most": DESCRIPTION_MAX})
        items = self._items(_text(cells["items"]), line)
        if isinstance(items, Problem):
            return items
        draft = OrderDraft(_text(cells["client"]), _text(cells["site"]), requested, priority, description,
                           tuple(ItemQuantity(f"{self._kind(code)}:{code}", quantity, n)
                                 for n, (code, quantity) in enumerate(items)))
        return OrderRow(line, reference, requester, draft)

    def _requester(self, cell: str, line: int) -> str | Problem:
        if is_user_id(cell):
            return cell
        if not _EMAIL.match(cell) or len(cell) > 254:
            return Problem(Trouble.PERSON, line, {"column": "requester", "value": shown(cell)})
        email = cell.lower()
        if email not in self.found:
            if self.resolve is None:  # said at once: every later e-mail would fail the same way
                raise SheetError(self.path, [Problem(Trouble.EMAILS_NEED_SLACK, line, {"email": shown(cell)})])
            self.found[email] = self.resolve(email)
        user = self.found[email]
        if user is None:
            return Problem(Trouble.UNKNOWN_EMAIL, line, {"column": "requester", "email": shown(cell)})
        return user

    def _items(self, cell: str, line: int) -> list[tuple[str, Decimal]] | Problem:
        parts = [part.strip() for part in cell.split(";") if part.strip()]
        if not parts:
            return Problem(Trouble.ORDER_NO_ITEMS, line)
        if len(parts) > MAX_ITEMS:
            return Problem(Trouble.ORDER_TOO_MANY_ITEMS, line, {"most": MAX_ITEMS})
        items: list[tuple[str, Decimal]] = []
        for part in parts:
            match = _ITEM.match(part)
            quantity = parse_decimal(match["quantity"]) if match else None
            if (match is None or quantity is None or quantity <= 0 or quantity > MAX_QUANTITY
                    or quantity.as_tuple().exponent < -3):  # type: ignore[operator]
                return Problem(Trouble.ORDER_ITEM, line, {"item": shown(part), "most": str(MAX_QUANTITY)})
            items.append((match["code"], quantity))
        return items

    def _kind(self, code: str) -> str:
        """Whether `code` is a service or a material (an unknown code is left to the workflow's check)."""
        if code not in self.item_kinds:
            with Session(self.service.engine) as session:
                kinds = session.exec(select(CatalogEntry.kind).where(
                    CatalogEntry.code == code, col(CatalogEntry.kind).in_(_ITEM_KINDS))).all()
            self.item_kinds[code] = kinds[0] if kinds else CatalogKind.SERVICE.value
        return self.item_kinds[code]

    def workflow_problem(self, row: OrderRow) -> Problem | None:
        """What the workflow's own checks of a submit say about the row (the first problem), or None."""
        try:
            self.service.check_submit(row.requester, row.draft)
        except NotAllowed:
            return Problem(Trouble.ORDER_NOT_REQUESTER, row.line, {"user": row.requester})
        except FieldErrors as error:
            return _field_problem(row, error)
        return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):  # an .xlsx date cell
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(_text(value)) if len(_text(value)) == 10 else None
    except ValueError:
        return None


def _field_problem(row: OrderRow, error: FieldErrors) -> Problem:
    key, problem = next(iter(error.problems.items()))
    draft, line = row.draft, row.line
    match problem:
        case NotInCatalog(kind=CatalogKind.CLIENT):
            return Problem(Trouble.ORDER_CLIENT, line, {"code": shown(draft.client_code)})
        case NotInCatalog(kind=CatalogKind.SITE):
            return Problem(Trouble.ORDER_SITE, line, {"code": shown(draft.site_code)})
        case SiteOfAnotherClient():
            return Problem(Trouble.ORDER_SITE_CLIENT, line, {"site": shown(draft.site_code),
                                                              "client": shown(draft.client_code)})
        case DateInPast():
            return Problem(Trouble.ORDER_DATE_PAST, line, {"date": draft.requested_date.isoformat()})
        case DateTooFar(latest=latest):
            return Problem(Trouble.ORDER_DATE_FAR, line, {"date": draft.requested_date.isoformat(),
                                                           "latest": latest.isoformat()})
        case NotInCatalog() | OnAnotherRow() if isinstance(key, ItemRow):
            code = draft.items[key.row].ref.partition(":")[2]
            trouble = Trouble.ORDER_ITEM_UNKNOWN if isinstance(problem, NotInCatalog) else Trouble.ORDER_ITEM_TWICE
            return Problem(trouble, line, {"code": shown(code)})
        case LineOverCeiling(amount=amount, ceiling=ceiling, currency=currency) | TotalOverCeiling(
                total=amount, ceiling=ceiling, currency=currency):
            return Problem(Trouble.ORDER_OVER_CEILING, line, {"amount": f"{amount} {currency}",
                                                               "ceiling": f"{ceiling} {currency}"})
    field = key.value if isinstance(key, Field) else "items"
    return Problem(Trouble.ORDER_FIELD, line, {"field": field})


# --- the import ---------------------------------------------------------------------------------------


def _existing(service: OrderService, references: list[str]) -> set[str]:
    """Those of `references` that are already orders of the workspace (an earlier run's)."""
    found: set[str] = set()
    with Session(service.engine) as session:
        for start in range(0, len(references), 500):
            chunk = references[start:start + 500]
            found.update(r for r in session.exec(select(ServiceOrder.external_ref).where(
                col(ServiceOrder.external_ref).in_(chunk))) if r)
    return found


def import_orders(service: OrderService, path: Path, on_progress: Callable[[OrdersProgress], None] | None = None,
                  resolve_email: EmailResolver | None = None) -> OrdersReport:
    """Check every row of the file at `path`, then create its new orders (SheetError, with every bad row by
    line, and nothing created when one is bad)."""
    checker = _Checker(service, resolve_email, path)
    cells = _cells(path)
    header = next(cells, None)
    if header is None:
        raise SheetError(path, [Problem(Trouble.EMPTY, values={"header": ",".join(HEADER)})])
    found = [_text(h).lower() for h in header[1]]
    while found and not found[-1]:  # a spreadsheet's empty trailing columns
        found.pop()
    if found != HEADER:
        raise SheetError(path, [Problem(Trouble.ORDER_HEADER, header[0], {"header": ",".join(HEADER),
                                                                             "found": shown(",".join(found))})])
    problems = Problems()  # the first MAX_PROBLEMS by line, however the two passes below find them
    rows: list[OrderRow] = []
    first_line: dict[str, int] = {}
    for line, values in cells:
        values = values[:len(HEADER)] + [v for v in values[len(HEADER):] if _text(v)]
        if not any(_text(v) for v in values):
            continue
        row = checker.row(line, values)
        if isinstance(row, OrderRow):
            if row.reference in first_line:
                row = Problem(Trouble.ORDER_REFERENCE_TWICE, line, {"reference": shown(row.reference),
                                                                   "first": first_line[row.reference]})
            else:
                first_line[row.reference] = line
                rows.append(row)
        if isinstance(row, Problem):
            problems.add(row)
    existing = _existing(service, [row.reference for row in rows])
    new = [row for row in rows if row.reference not in existing]
    for checked, row in enumerate(new, start=1):
        problem = checker.workflow_problem(row)
        if problem is not None:
            problems.add(problem)
        if on_progress and (checked % 50 == 0 or checked == len(new)):
            on_progress(OrdersProgress(checked))
    if problems.count:
        raise problems.error(path)
    if not rows:
        raise SheetError(path, [Problem(Trouble.NO_ROWS)])
    report = OrdersReport(existing=len(existing))
    for created, row in enumerate(new, start=1):
        try:
            service.submit(row.requester, row.draft, external_ref=row.reference)
            report.created += 1
        except IntegrityError:  # another run of the same file created it meanwhile
            report.existing += 1
        if on_progress:
            on_progress(OrdersProgress(len(new), created, len(new)))
    return report

