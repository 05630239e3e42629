"""Parsing the values people type: quantities, money, dates, texts and free-text item lines."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from babel.numbers import get_decimal_symbol

from forms.elements import Collector, Values, read_date, read_text
from workflow.inputs import FreeItem
from workflow.limits import MAX_PRICE
from workflow.numbers import parse_decimal

MAX_QUANTITY = Decimal("1000000")
DESCRIPTION_MAX = 3000
REASON_MAX = 2000
NOTES_MAX = 2000
ITEM_TEXT_MAX = 200


def decimal_marks(locale: str) -> str:
    """The marks a reader may put before decimals: "." always, and their locale's own (a comma in es)."""
    own = get_decimal_symbol(locale)
    return "." if own == "." else "." + own


def _number_hint(marks: str) -> str:
    return f"like 2 or 2{marks[-1]}5"


def _ambiguous(raw: str, marks: str) -> str | None:
    """Where the reader's own decimal mark is a comma, a point groups thousands: "1.234" could be either."""
    text = raw.strip()
    if "," not in marks or not re.fullmatch(r"[0-9]{1,3}\.[0-9]{3}", text):
        return None
    whole, _, part = text.partition(".")
    return f"“{text}” can be read two ways: write {whole}{part} or {whole},{part}."


def _negative(raw: str, marks: str) -> bool:
    """A minus sign before an otherwise good number: worth its own message."""
    text = raw.strip()
    return text.startswith("-") and parse_decimal(text[1:], marks) is not None


def parse_quantity(raw: str, *, allow_zero: bool = False, marks: str = ".") -> Decimal | str:
    """A Decimal, or the message to show. Digits with at most one decimal mark (`marks`), nothing else."""
    if ambiguous := _ambiguous(raw, marks):
        return ambiguous
    value = parse_decimal(raw, marks)
    if _negative(raw, marks) or (value == 0 and not allow_zero):
        return "Enter a quantity of 0 or more (0 removes the item)." if allow_zero else "Enter a quantity above 0."
    if value is None:
        return f"Enter the quantity in digits, {_number_hint(marks)} (no other signs or spaces)."
    if value.as_tuple().exponent < -3:  # type: ignore[operator]
        return "Use at most 3 decimals."
    if value > MAX_QUANTITY:
        return f"Enter at most {MAX_QUANTITY:,}."
    return value


def parse_price(raw: str, marks: str = ".") -> Decimal | str:
    """A unit price (0 or more), or the message to show."""
    if ambiguous := _ambiguous(raw, marks):
        return ambiguous
    value = parse_decimal(raw, marks)
    if _negative(raw, marks):
        return "a price is 0 or more"
    if value is None:
        return f"write the price in digits, {_number_hint(marks)}"
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        return "use at most 4 decimals in a price"
    if value > MAX_PRICE:
        return f"a price may be at most {MAX_PRICE:,}"
    return value


def required_text(values: Values, field: str, limit: int, errors: Collector, what: str) -> str:
    text = read_text(values, field)
    if not text:
        errors.add(field, f"Enter {what}.")
    elif len(text) > limit:
        errors.add(field, f"Keep it under {limit:,} characters (this is {len(text):,}).")
    return text


def optional_text(values: Values, field: str, limit: int, errors: Collector) -> str | None:
    text = read_text(values, field)
    if len(text) > limit:
        errors.add(field, f"Keep it under {limit:,} characters (this is {len(text):,}).")
    return text or None


def required_date(values: Values, field: str, errors: Collector) -> date:
    raw = read_date(values, field)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.add(field, "Pick a date." if not raw else f"'{raw}' is not a date.")
        return date.min


def parse_free_items(values: Values, field: str, errors: Collector, marks: str = ".") -> tuple[FreeItem, ...]:
    """One item per line: `quantity | description | unit | unit price`; unit and price may be left out."""
    text = read_text(values, field)
    if len(text) > DESCRIPTION_MAX:
        errors.add(field, f"Keep it under {DESCRIPTION_MAX:,} characters.")
        return ()
    items: list[FreeItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or len(parts) > 4:
            errors.add(field, f"Line {number}: write `quantity | description | unit | unit price`, "
                              "e.g. `2 | Crane rental | h | 150`.")
            break
        quantity = parse_quantity(parts[0], marks=marks)
        unit = parts[2] if len(parts) > 2 and parts[2] else None
        price = parse_price(parts[3], marks) if len(parts) > 3 and parts[3] else None
        problem = (quantity if isinstance(quantity, str) else
                   price if isinstance(price, str) else
                   "describe the item" if not parts[1] else
                   f"keep the description under {ITEM_TEXT_MAX} characters" if len(parts[1]) > ITEM_TEXT_MAX else
                   "keep the unit under 32 characters" if unit and len(unit) > 32 else None)
        if problem:
            errors.add(field, f"Line {number}: {problem}")
            break
        items.append(FreeItem(parts[1], quantity, unit, price))  # type: ignore[arg-type]
    return tuple(items)
