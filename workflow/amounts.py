"""An order's money as every surface shows it: subtotal, tax and total in one currency, computed as the PDF
computes them (workflow/document.py): each line rounded to the currency, the tax half-up on the subtotal.

A version carries the currency and tax rate it was made with (order_version.currency, .tax_rate); the
settings' are used only for a version made before those were recorded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_
from sqlmodel import Session, select

from storage.models import LineItem, OrderVersion, ServiceOrder
from workflow.document import ItemLine, money, subtotal


@dataclass(frozen=True)
class Amounts:
    currency: str
    tax_rate: Decimal  # 0.19 for 19 %
    subtotal: Decimal
    tax: Decimal
    unpriced: int = 0  # lines without a price yet (not in the figures)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


def amounts(lines: Iterable[ItemLine], currency: str, tax_rate: Decimal) -> Amounts:
    lines = list(lines)
    net = subtotal(lines, currency)
    return Amounts(currency, tax_rate, net, money(net * tax_rate, currency),
                   sum(1 for line in lines if line.unit_price is None))


def current_amounts(session: Session, order_ids: Iterable[int], currency: str,
                    tax_rate: Decimal) -> dict[int, Amounts]:
    """Each order's current version's figures, in two queries for any number of orders (a page of a list)."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    current = and_(ServiceOrder.id == OrderVersion.order_id, ServiceOrder.current_version == OrderVersion.number)
    issued = {order_id: (its_currency, rate) for order_id, its_currency, rate in session.exec(
        select(OrderVersion.order_id, OrderVersion.currency, OrderVersion.tax_rate).join(ServiceOrder, current)
        .where(OrderVersion.order_id.in_(ids)))}  # type: ignore[attr-defined]
    lines: dict[int, list[ItemLine]] = defaultdict(list)
    for order_id, row in session.exec(
            select(OrderVersion.order_id, LineItem).join(OrderVersion, LineItem.version_id == OrderVersion.id)
            .join(ServiceOrder, current).where(OrderVersion.order_id.in_(ids))  # type: ignore[attr-defined]
            .order_by(LineItem.position)):
        lines[order_id].append(ItemLine(row.kind, row.code, row.description, row.unit, row.unit_price, row.quantity))
    found: dict[int, Amounts] = {}
    for order_id in ids:
        its_currency, rate = issued.get(order_id, (None, None))
        found[order_id] = amounts(lines[order_id], its_currency or currency, rate if rate is not None else tax_rate)
    return found
