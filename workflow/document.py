"""One order version as a document: everything its PDF shows, frozen when the version is first issued.

The document is stored with its version as canonical JSON; its SHA-256 is the version's fingerprint. A PDF
is a pure function of the document (and the logo it names by hash), so a version renders the same bytes
for ever, whatever changes later (people's names, the provider's settings, the order's state).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

# ISO 4217 minor units that are not 2 (the rest have cents)
_MINOR_UNITS = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
                "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
                "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3, "CLF": 4, "UYW": 4}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def money(value: Decimal, currency: str = "USD") -> Decimal:
    """Half-up to the currency's minor unit (Python's own Decimal rounding is half-even)."""
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


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
        """What identifies 'the same item' across versions (a free-text item: its description)."""
        return f"{self.kind}:{self.code}" if self.code else f"free:{self.description.casefold()}"

    def total(self, currency: str = "USD") -> Decimal | None:
        return None if self.unit_price is None else money(self.unit_price * self.quantity, currency)


@dataclass(frozen=True)
class ItemChange:
    before: ItemLine | None  # None: added
    after: ItemLine | None  # None: removed

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


@dataclass(frozen=True)
class Provider:
    """Who issues the document, from settings at the time of issue."""

    name: str
    address: str = ""
    tax_id: str = ""
    logo_sha256: str | None = None  # the logo's bytes are stored once, by hash (storage: asset)
    timezone: str = "UTC"  # issue dates are shown here
    currency: str = "USD"
    tax_rate: Decimal = Decimal(0)  # 0.19 for 19 %
    locale: str = "en"  # en or es


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    issued_at: datetime
    author: str
    step: str  # approve, confirm, complete, not_perform
    fingerprint: str  # hex SHA-256 of that version's document


@dataclass(frozen=True)
class ApprovalEntry:
    """One level's approval of the approved round (approval by amount): who gave it, when, in which role."""

    level: int
    role: str  # the role the level needed (workflow.vocabulary.Role value)
    name: str
    at: datetime  # UTC


@dataclass(frozen=True)
class Attachment:
    """A photo or file on this version (from a form or the order's channel): what Slack said it is, who shared
    it and when, and the SHA-256 of the bytes read. An image has a thumbnail (asset, by hash) that the PDF
    shows; another file is listed by name and short hash."""

    name: str
    mimetype: str
    size: int  # bytes
    sha256: str
    shared_by: str  # a name, as of the issue
    shared_at: datetime  # UTC
    thumbnail_sha256: str | None = None


@dataclass(frozen=True)
class VersionDocument:
    provider: Provider
    order_number: str  # SO-000001
    version: int  # 1 is the approved original
    step: str  # the step that made this version: approve, confirm, complete, not_perform
    state: str  # the order's state as of this version (workflow.vocabulary.State value)
    issued_at: datetime  # UTC
    client: str
    client_code: str
    client_contact: str | None
    site: str
    site_code: str
    site_address: str | None
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
    change_note: str | None = None  # the confirmation's note, or the closing note
    change_author: str | None = None
    previous_subtotal: Decimal | None = None
    closed_by: str | None = None  # set on the version that closes the order
    closed_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = field(default=())  # the versions before this one
    # set by a reschedule ("HH:MM", the provider's time) and a crew change; left out of the stored form when
    # empty, so documents issued before them keep their fingerprints
    scheduled_start: str | None = None
    scheduled_end: str | None = None
    removed_people: tuple[str, ...] = ()
    # the schedule of the version before, when this one changed it (a reschedule)
    previous_scheduled_date: date | None = None
    previous_scheduled_start: str | None = None
    previous_scheduled_end: str | None = None
    # every level's approval, when the order needed more than one (left out otherwise: "Approved by" says it)
    approvals: tuple[ApprovalEntry, ...] = ()
    # photos and files that are evidence of this version (left out of the stored form when there are none)
    attachments: tuple[Attachment, ...] = ()

    @property
    def currency(self) -> str:
        return self.provider.currency

    @property
    def subtotal(self) -> Decimal:
        return subtotal(self.items, self.currency)

    @property
    def tax(self) -> Decimal:
        return money(self.subtotal * self.provider.tax_rate, self.currency)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def unpriced(self) -> int:
        return sum(1 for line in self.items if line.unit_price is None)

    @property
    def filename(self) -> str:
        return f"{self.order_number}-v{self.version}.pdf"

    # --- the frozen form --------------------------------------------------------------------------------

    def canonical_json(self) -> str:
        """The stored form: sorted keys, Decimals and dates as strings. Its SHA-256 is the fingerprint."""
        data = {k: v for k, v in asdict(self).items() if k not in _OPTIONAL or v}
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> VersionDocument:
        return _build(cls, json.loads(text))


class Outcome(StrEnum):
    """What the client did with a version on the signing page."""

    ACCEPTED = "accepted"
    DISPUTED = "disputed"


@dataclass(frozen=True)
class ClientSignature:
    """What the client did on the signing page, as the signed copy shows it (the IP address and browser are
    kept with the request, not printed)."""

    outcome: str  # an Outcome's value
    name: str  # as the client typed it
    signed_at: datetime  # UTC
    signature_sha256: str  # the drawn signature, a PNG kept as an asset
    comment: str | None = None  # a dispute's


@dataclass(frozen=True)
class SignedCopy:
    """A version's document signed by the client: a document of its own, not a version of the order. Its
    fingerprint covers the version's document (and so its fingerprint) and the signature."""

    document: VersionDocument
    signature: ClientSignature

    @property
    def filename(self) -> str:
        answered = "signed" if self.signature.outcome == Outcome.ACCEPTED else "disputed"
        return f"{self.document.order_number}-v{self.document.version}-{answered}.pdf"

    def canonical_json(self) -> str:
        data = {"document": json.loads(self.document.canonical_json()),
                "signature": {k: v for k, v in asdict(self.signature).items() if v is not None}}
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> SignedCopy:
        data = json.loads(text)
        return cls(_build(VersionDocument, data["document"]), _build(ClientSignature, data["signature"]))


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a document")


_OPTIONAL = {"scheduled_start", "scheduled_end", "removed_people", "previous_scheduled_date",
             "previous_scheduled_start", "previous_scheduled_end", "approvals", "attachments"}
_DECIMALS = {"unit_price", "quantity", "tax_rate", "previous_subtotal"}
_DATETIMES = {"issued_at", "approved_at", "closed_at", "at", "shared_at", "signed_at"}
_DATES = {"requested_date", "scheduled_date", "previous_scheduled_date"}
_NESTED: dict[str, Any] = {"provider": Provider, "items": ItemLine, "history": HistoryEntry,
                           "approvals": ApprovalEntry, "attachments": Attachment}


def _build(cls: Any, data: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        raw = data[f.name]
        if raw is None:
            values[f.name] = None
        elif f.name in _NESTED:
            kind = _NESTED[f.name]
            values[f.name] = tuple(_build(kind, x) for x in raw) if isinstance(raw, list) else _build(kind, raw)
        elif f.name == "changes":
            values[f.name] = tuple(ItemChange(*(None if s is None else _build(ItemLine, s)
                                                for s in (c["before"], c["after"]))) for c in raw)
        elif f.name in _DECIMALS:
            values[f.name] = Decimal(raw)
        elif f.name in _DATETIMES:
            values[f.name] = datetime.fromisoformat(raw)
        elif f.name in _DATES:
            values[f.name] = date.fromisoformat(raw)
        elif isinstance(raw, list):
            values[f.name] = tuple(raw)
        else:
            values[f.name] = raw
    return cls(**values)


def subtotal(lines: tuple[ItemLine, ...] | list[ItemLine], currency: str) -> Decimal:
    """The sum of the priced lines, each rounded to the currency first (as the document shows them)."""
    return sum((line.total(currency) or Decimal(0) for line in lines), Decimal(money(Decimal(0), currency)))


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
