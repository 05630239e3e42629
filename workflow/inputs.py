"""Typed input of each step, as the forms parse it and the service applies it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from workflow.shared_files import SharedFile


@dataclass(frozen=True)
class ItemQuantity:
    """A picked item and the quantity wanted. `ref` is 'service:CODE', 'material:CODE' or 'line:ID'
    (an existing line of the order, for free-text items); `row` is the item row it came from (from 0), where
    its problems are shown."""

    ref: str
    quantity: Decimal
    row: int


@dataclass(frozen=True)
class FreeItem:
    """An item the catalog lacks, typed by the user."""

    description: str
    quantity: Decimal
    unit: str | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class OrderDraft:
    client_code: str
    site_code: str
    requested_date: date
    priority: str
    description: str
    items: tuple[ItemQuantity, ...] = ()
    free_items: tuple[FreeItem, ...] = ()
    files: tuple[SharedFile, ...] = ()  # photos and files: on version 1 once approved


@dataclass(frozen=True)
class Approval:
    field_workers: tuple[str, ...]
    scheduled_date: date
    notes: str | None


@dataclass(frozen=True)
class LevelApproval:
    """A later level's approval (workflow/policy.py): level 1 chose the crew and the date; this one may add a
    note."""

    notes: str | None


@dataclass(frozen=True)
class Rejection:
    reason: str


@dataclass(frozen=True)
class Confirmation:
    """Set quantities (0 removes), add free-text items, add field workers; `note` says why."""

    changes: tuple[ItemQuantity, ...]
    free_items: tuple[FreeItem, ...]
    field_workers: tuple[str, ...]
    note: str
    files: tuple[SharedFile, ...] = ()  # photos and files: on the version it issues


@dataclass(frozen=True)
class Closing:
    note: str | None  # required (the reason) when closing as not performed
    files: tuple[SharedFile, ...] = ()  # photos and files: on the closing record


@dataclass(frozen=True)
class LinePrice:
    """A unit price set on a line of the order's current version (`line_id`: its line_item row)."""

    line_id: int
    unit_price: Decimal


@dataclass(frozen=True)
class Pricing:
    """New unit prices for lines of the current version; `reason` says why (required)."""

    prices: tuple[LinePrice, ...]
    reason: str


@dataclass(frozen=True)
class Reschedule:
    """A new scheduled date, with an optional time window (a start, an end, or both: "from 8:00"), and why."""

    scheduled_date: date
    start: time | None
    end: time | None
    reason: str


@dataclass(frozen=True)
class Withdrawal:
    reason: str  # required: why the requester takes the order back


@dataclass(frozen=True)
class SendBack:
    note: str  # required: what the requester should change


@dataclass(frozen=True)
class CrewChange:
    """The whole crew after the change (add, remove or replace in one go), and an optional note."""

    field_workers: tuple[str, ...]
    note: str | None


@dataclass(frozen=True)
class ChangeDecision:
    """Approving (no reason needed) or rejecting (a reason required) the change waiting on an order."""

    reason: str | None = None


StepInput = (Approval | LevelApproval | Rejection | Confirmation | Closing | OrderDraft | Withdrawal | SendBack
             | Pricing | Reschedule | CrewChange | ChangeDecision)
