"""`service-orders export`: one CSV row per order, for the provider's spreadsheets.

The header and the states are words, in the provider's language; every other value stays machine-readable
whatever the language (ISO dates and times, plain decimals with a point, codes), so the file imports the same
anywhere. Orders are read in batches (each batch: its orders, their current versions' lines, their field workers and
people's names in a handful of queries), so an export of any size runs in bounded memory."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, true
from sqlmodel import Session, select

from i18n import Language, english
from i18n.domain import state as state_word
from storage.models import Assignment, CatalogEntry, LineItem, OrderVersion, Person, ServiceOrder
from workflow.clock import aware
from workflow.document import ItemLine, money, subtotal
from workflow.vocabulary import State, order_number

BATCH = 500
# the columns, by their English names (what `header` says in English)
COLUMNS = (
    "order", "state", "client_code", "client", "site_code", "site", "priority", "requested_date",
    "scheduled_date", "submitted_at", "approved_at", "closed_at", "requester", "approved_by", "closed_by",
    "field_workers", "versions", "items", "subtotal", "tax", "total", "currency", "close_reason", "description",
)


def header(lang: Language) -> list[str]:
    """The column names in the reader's language: one token each, as spreadsheets and scripts key on them."""
    return [
        lang.p_("CSV column", "order"), lang.p_("CSV column", "state"), lang.p_("CSV column", "client_code"),
        lang.p_("CSV column", "client"), lang.p_("CSV column", "site_code"), lang.p_("CSV column", "site"),
        lang.p_("CSV column", "priority"), lang.p_("CSV column", "requested_date"),
        lang.p_("CSV column", "scheduled_date"), lang.p_("CSV column", "submitted_at"),
        lang.p_("CSV column", "approved_at"), lang.p_("CSV column", "closed_at"),
        lang.p_("CSV column", "requester"), lang.p_("CSV column", "approved_by"),
        lang.p_("CSV column", "closed_by"), lang.p_("CSV column", "field_workers"),
        lang.p_("CSV column", "versions"), lang.p_("CSV column", "items"), lang.p_("CSV column", "subtotal"),
        lang.p_("CSV column", "tax"), lang.p_("CSV column", "total"), lang.p_("CSV column", "currency"),
        lang.p_("CSV column", "close_reason"), lang.p_("CSV column", "description"),
    ]


@dataclass(frozen=True)
class Period:
    """Orders submitted from `start` to `end`, both days included, by the provider's calendar."""

    start: date | None = None
    end: date | None = None

    def bounds(self, timezone: str) -> tuple[datetime | None, datetime | None]:
        zone = ZoneInfo(timezone)
        lower = datetime.combine(self.start, time(), zone) if self.start else None
        upper = datetime.combine(self.end + timedelta(days=1), time(), zone) if self.end else None
        return lower, upper


def export_orders(engine: Engine, out: TextIO, *, period: Period = Period(), currency: str = "USD",
                  tax_rate: Decimal = Decimal(0), timezone: str = "UTC", lang: Language | None = None,
                  progress: Callable[[int, int], None] | None = None) -> int:
    """Write the CSV (header first, in `lang`, English by default) and return how many orders it holds. Each
    order's money is in its current version's recorded currency and tax rate; `currency` and `tax_rate` (the
    settings now) only for a version made before they were recorded."""
    lang = lang or english()
    writer = csv.writer(out)
    writer.writerow(header(lang))
    lower, upper = period.bounds(timezone)
    where = and_(true(), *(c for c in (ServiceOrder.created_at >= lower if lower else None,
                                        ServiceOrder.created_at < upper if upper else None) if c is not None))
    written = 0
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(ServiceOrder).where(where)).one()
        for batch in _batches(session, where):
            for row in _rows(session, batch, currency, tax_rate, timezone, lang):
                writer.writerow([_cell(value) for value in row])
            written += len(batch)
            if progress:
                progress(written, total)
    return written


def _batches(session: Session, where: object) -> Iterator[list[ServiceOrder]]:
    last = 0
    while True:
        batch = list(session.exec(select(ServiceOrder).where(where, ServiceOrder.id > last)  # type: ignore[arg-type]
                                  .order_by(ServiceOrder.id).limit(BATCH)))
        if not batch:
            return
        yield batch
        last = batch[-1].id
        session.expunge_all()  # keep memory flat however many orders there are


def _rows(session: Session, orders: list[ServiceOrder], currency: str, tax_rate: Decimal,
          timezone: str, lang: Language) -> Iterator[list[str]]:
    ids = [order.id for order in orders]
    lines: dict[int, list[ItemLine]] = defaultdict(list)
    for order_id, line in session.exec(
            select(OrderVersion.order_id, LineItem)
            .join(OrderVersion, LineItem.version_id == OrderVersion.id)
            .join(ServiceOrder, and_(ServiceOrder.id == OrderVersion.order_id,
                                     ServiceOrder.current_version == OrderVersion.number))
            .where(OrderVersion.order_id.in_(ids)).order_by(LineItem.position)):  # type: ignore[attr-defined]
        lines[order_id].append(ItemLine(line.kind, line.code, line.description, line.unit, line.unit_price,
                                        line.quantity))
    # each order's figures in its current version's own currency and tax rate, as issued; the settings' only
    # for versions made before those were recorded
    issued = {order_id: (currency, rate) for order_id, currency, rate in session.exec(
        select(OrderVersion.order_id, OrderVersion.currency, OrderVersion.tax_rate)
        .join(ServiceOrder, and_(ServiceOrder.id == OrderVersion.order_id,
                                 ServiceOrder.current_version == OrderVersion.number))
        .where(OrderVersion.order_id.in_(ids), OrderVersion.currency.is_not(None)))}  # type: ignore[attr-defined,union-attr]
    versions = dict(session.exec(select(OrderVersion.order_id, func.count()).where(
        OrderVersion.order_id.in_(ids), OrderVersion.number > 0).group_by(OrderVersion.order_id)).all())  # type: ignore[attr-defined]
    workers: dict[int, list[str]] = defaultdict(list)
    for assignment in session.exec(select(Assignment).where(Assignment.order_id.in_(ids),  # type: ignore[attr-defined]
                                                            Assignment.removed_in_version.is_(None))  # type: ignore[union-attr]
                                   .order_by(Assignment.added_in_version, Assignment.user_id)):
        workers[assignment.order_id].append(assignment.user_id)
    people = {o.requester_id for o in orders} | {o.approved_by for o in orders} | {o.closed_by for o in orders}
    people |= {u for us in workers.values() for u in us}
    names = dict(session.exec(select(Person.user_id, Person.name).where(Person.user_id.in_(people))).all())  # type: ignore[attr-defined]
    codes = {("client", o.client_code) for o in orders} | {("site", o.site_code) for o in orders}
    catalog = {(e.kind, e.code): e.name for e in session.exec(select(CatalogEntry).where(
        CatalogEntry.code.in_({code for _, code in codes})))}  # type: ignore[attr-defined]
    zone = ZoneInfo(timezone)

    def person(user_id: str | None) -> str:
        return f"{names.get(user_id, user_id)} ({user_id})" if user_id else ""

    def moment(value: datetime | None) -> str:
        return aware(value).astimezone(zone).isoformat(timespec="minutes") if value else ""

    for order in orders:
        items = lines[order.id]
        its_currency, its_rate = issued.get(order.id, (currency, tax_rate))
        its_rate = its_rate if its_rate is not None else tax_rate
        net = subtotal(items, its_currency)
        tax = money(net * its_rate, its_currency) if its_rate else Decimal(0)
        yield [
            order_number(order.number), state_word(lang, State(order.state)), order.client_code,
            catalog.get(("client", order.client_code), ""), order.site_code,
            catalog.get(("site", order.site_code), ""), order.priority, order.requested_date.isoformat(),
            order.scheduled_date.isoformat() if order.scheduled_date else "", moment(order.created_at),
            moment(order.approved_at), moment(order.closed_at), person(order.requester_id),
            person(order.approved_by), person(order.closed_by), "; ".join(person(u) for u in workers[order.id]),
            str(versions.get(order.id, 0)), str(len(items)), f"{net}", f"{tax}", f"{net + tax}", its_currency,
            order.close_reason or "", order.description,
        ]


def _cell(text: str) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula: typed text (a description, a client's
    name) must not. No column of ours starts so otherwise (amounts are never negative)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
