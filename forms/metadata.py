"""private_metadata of our modals: a small typed value, parsed and checked when a view comes back."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


class BadMetadata(ValueError):
    pass


@dataclass(frozen=True)
class FormMeta:
    order_id: int | None = None  # None for a new order
    revision: int = 0  # the order revision the form was opened against
    rows: int = 3  # item rows shown

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> FormMeta:
        try:
            data = json.loads(raw or "{}")
            meta = cls(**data)
        except (ValueError, TypeError) as error:
            raise BadMetadata("This form could not be read; please open it again.") from error
        ok = (
            (meta.order_id is None or (isinstance(meta.order_id, int) and meta.order_id > 0))
            and isinstance(meta.revision, int) and meta.revision >= 0
            and isinstance(meta.rows, int) and 1 <= meta.rows <= 30
        )
        if not ok:
            raise BadMetadata("This form could not be read; please open it again.")
        return meta


@dataclass(frozen=True)
class ButtonValue:
    """What an order card's button carries: which order, at which revision."""

    order_id: int
    revision: int

    def dump(self) -> str:
        return f"{self.order_id}:{self.revision}"

    @classmethod
    def load(cls, raw: str | None) -> ButtonValue:
        order, _, revision = (raw or "").partition(":")
        if not (order.isdigit() and revision.isdigit() and int(order) > 0):
            raise BadMetadata("This button could not be read; the card may be out of date.")
        return cls(int(order), int(revision))
