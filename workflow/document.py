"""One order version as a document: everything its PDF shows, read from the database, nothing else.

The PDF is a pure function of this value, so the same version always renders the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quantity_text(value: Decimal) -> str:
    """4.000 -> '4', 2.500 -> '2.5' (the database pads quantities to their scale)."""
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class ItemLine:
    kind: str  # service, material or free
    code: str | None
    description: str
    unit: str | None
    unit_price: Decimal | None  # None for a free-text item priced later
    quantity: Decimal

    @property
    def key(self) -> str:
        """What identifies 'the same item' across versions."""
        return f"{self.kind}:{self.code}" if self.code else f"free:{self.description.casefold()}"

    @property
    def total(self) -> Decimal | None:
        return None if self.unit_price is None else money(self.unit_price * self.quantity)


@dataclass(frozen=True)
class ItemChange:
    before: ItemLine | None  # None: added
    after: ItemLine | None  # None: removed

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


@dataclass(frozen=True)
class VersionDocument:
    order_number: str  # SO-000001
    version: int  # 1 is the approved original
    version_count: int
    state_label: str
    issued_at: datetime  # UTC: when this version was made
    client: str  # "Name (CODE)"
    site: str
    requester: str
    approved_by: str | None
    approved_at: datetime | None
    field_workers: tuple[str, ...]
    requested_date: date
    scheduled_date: date | None
    priority: str
    description: str
    approval_notes: str | None
    items: tuple[ItemLine, ...]
    # what changed from the previous version (empty for version 1)
    changes: tuple[ItemChange, ...] = ()
    added_people: tuple[str, ...] = ()
    change_note: str | None = None
    change_author: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.total or Decimal(0) for line in self.items), Decimal(0))

    @property
    def filename(self) -> str:
        return f"{self.order_number}-v{self.version}.pdf"


def diff_items(before: tuple[ItemLine, ...], after: tuple[ItemLine, ...]) -> tuple[ItemChange, ...]:
    """Added, removed and changed lines, in the order they appear (removed ones last)."""
    old = {line.key: line for line in before}
    new_keys = {line.key for line in after}
    changes = [
        ItemChange(old.get(line.key), line)
        for line in after
        if line.key not in old or old[line.key] != line
    ]
    changes += [ItemChange(line, None) for line in before if line.key not in new_keys]
    return tuple(changes)
