"""private_metadata of our modals: a small typed value, parsed and checked when a view comes back."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from i18n import LocaleError, parse_locale
from workflow.numbers import MAX_ID, parse_id


class Unreadable(StrEnum):
    """What could not be read: bot/ words it for the reader."""

    FORM = "form"  # a view's private_metadata
    BUTTON = "button"  # a card button's value
    NO_ORDER = "no_order"  # a step's form that names no order


class BadMetadata(ValueError):
    def __init__(self, what: Unreadable) -> None:
        super().__init__(what.value)
        self.what = what


def _whole(value: object, *, least: int = 1, most: int = MAX_ID) -> bool:
    """An int (as we wrote it: not a string or a bool) that fits its column."""
    return type(value) is int and least <= value <= most


def _locale(name: str) -> bool:
    try:
        return str(parse_locale(name)) == name
    except LocaleError:
        return False


@dataclass(frozen=True)
class FormMeta:
    order_id: int | None = None  # None for a new order
    revision: int = 0  # the order revision the form was opened against
    rows: int = 3  # item rows shown
    locale: str = "en"  # the language the form was built in: its reader's, so numbers are read their way

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> FormMeta:
        try:
            data = json.loads(raw or "{}")
            meta = cls(**data)
        except (ValueError, TypeError) as error:
            raise BadMetadata(Unreadable.FORM) from error
        ok = (
            (meta.order_id is None or _whole(meta.order_id))
            and _whole(meta.revision, least=0)
            and _whole(meta.rows, most=30)
            and isinstance(meta.locale, str) and len(meta.locale) <= 16 and _locale(meta.locale)
        )
        if not ok:
            raise BadMetadata(Unreadable.FORM)
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
        order_id, at = parse_id(order), parse_id(revision, least=0)
        if order_id is None or at is None:
            raise BadMetadata(Unreadable.BUTTON)
        return cls(order_id, at)
