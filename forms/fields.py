"""Parsing the values people type: quantities, money, dates, texts and free-text item lines."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from babel.numbers import get_decimal_symbol

from forms.elements import Collector, Values, read_date, read_text
from i18n import Language
from workflow.inputs import FreeItem
from workflow.limits import DESCRIPTION_MAX, MAX_PRICE, MAX_QUANTITY  # noqa: F401  (the forms' and the import's)
from workflow.numbers import parse_decimal

REASON_MAX = 2000
NOTES_MAX = 2000
ITEM_TEXT_MAX = 200
UNIT_MAX = 32


def decimal_marks(locale: str) -> str:
    """The marks a reader may put before decimals: "." always, and their locale's own (a comma in es)."""
    own = get_decimal_symbol(locale)
    return "." if own == "." else "." + own


def _example(lang: Language, marks: str) -> str:
    return lang._("like {whole} or {decimal}").format(whole="2", decimal=f"2{marks[-1]}5")


def _ambiguous(raw: str, marks: str, lang: Language) -> str | None:
    """Where the reader's own decimal mark is a comma, a point groups thousands: "1.234" could be either."""
    text = raw.strip()
    if "," not in marks or not re.fullmatch(r"[0-9]{1,3}\.[0-9]{3}", text):
        return None
    whole, _, part = text.partition(".")
    return lang._("“{typed}” can be read two ways: write {number} or {decimal}.").format(
        typed=text, number=whole + part, decimal=f"{whole},{part}")


def _negative(raw: str, marks: str) -> bool:
    """A minus sign before an otherwise good number: worth its own message."""
    text = raw.strip()
    return text.startswith("-") and parse_decimal(text[1:], marks) is not None


def parse_quantity(raw: str, lang: Language, *, allow_zero: bool = False, marks: str = ".") -> Decimal | str:
    """A Decimal, or the message to show. Digits with at most one decimal mark (`marks`), nothing else."""
    if ambiguous := _ambiguous(raw, marks, lang):
        return ambiguous
    value = parse_decimal(raw, marks)
    if _negative(raw, marks) or (value == 0 and not allow_zero):
        return (lang._("Enter a quantity of 0 or more (0 removes the item).") if allow_zero
                else lang._("Enter a quantity above 0."))
    if value is None:
        return lang._("Enter the quantity in digits, {example} (no other signs or spaces).").format(
            example=_example(lang, marks))
    if value.as_tuple().exponent < -3:  # type: ignore[operator]
        return lang._("Use at most {places} decimals.").format(places=3)
    if value > MAX_QUANTITY:
        return lang._("Enter at most {limit}.").format(limit=lang.number(MAX_QUANTITY))
    return value


def parse_price(raw: str, lang: Language, marks: str = ".") -> Decimal | str:
    """A unit price (0 or more), or the message to show."""
    if ambiguous := _ambiguous(raw, marks, lang):
        return ambiguous
    value = parse_decimal(raw, marks)
    if _negative(raw, marks):
        return lang._("a price is 0 or more")
    if value is None:
        return lang._("write the price in digits, {example}").format(example=_example(lang, marks))
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        return lang._("use at most {places} decimals in a price").format(places=4)
    if value > MAX_PRICE:
        return lang._("a price may be at most {limit}").format(limit=lang.number(MAX_PRICE))
    return value


def _too_long(lang: Language, limit: int, length: int) -> str:
    return lang._("Keep it under {limit} characters (this is {length}).").format(
        limit=lang.number(limit), length=lang.number(length))


def required_text(values: Values, block_id: str, limit: int, errors: Collector, missing: str) -> str:
    """The typed text, or `missing` (what to enter, worded) on the block when there is none."""
    text = read_text(values, block_id)
    if not text:
        errors.add(block_id, missing)
    elif len(text) > limit:
        errors.add(block_id, _too_long(errors.lang, limit, len(text)))
    return text


def optional_text(values: Values, block_id: str, limit: int, errors: Collector) -> str | None:
    text = read_text(values, block_id)
    if len(text) > limit:
        errors.add(block_id, _too_long(errors.lang, limit, len(text)))
    return text or None


def required_date(values: Values, block_id: str, errors: Collector) -> date:
    raw = read_date(values, block_id)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.add(block_id, errors.lang._("Pick a date.") if not raw
                   else errors.lang._("“{typed}” is not a date.").format(typed=raw))
        return date.min


def parse_free_items(values: Values, block_id: str, errors: Collector, marks: str = ".") -> tuple[FreeItem, ...]:
    """One item per line: `quantity | description | unit | unit price`; unit and price may be left out."""
    lang = errors.lang
    text = read_text(values, block_id)
    if len(text) > DESCRIPTION_MAX:
        errors.add(block_id, lang._("Keep it under {limit} characters.").format(limit=lang.number(DESCRIPTION_MAX)))
        return ()
    items: list[FreeItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or len(parts) > 4:
            errors.add(block_id, lang._("Line {number}: write “quantity | description | unit | unit price”, "
                                        "e.g. “2 | Crane rental | h | 150”.").format(number=number))
            break
        quantity = parse_quantity(parts[0], lang, marks=marks)
        unit = parts[2] if len(parts) > 2 and parts[2] else None
        price = parse_price(parts[3], lang, marks) if len(parts) > 3 and parts[3] else None
        problem = (quantity if isinstance(quantity, str) else
                   price if isinstance(price, str) else
                   lang._("describe the item") if not parts[1] else
                   lang._("keep the description under {limit} characters").format(limit=ITEM_TEXT_MAX)
                   if len(parts[1]) > ITEM_TEXT_MAX else
                   lang._("keep the unit under {limit} characters").format(limit=UNIT_MAX)
                   if unit and len(unit) > UNIT_MAX else None)
        if problem:
            errors.add(block_id, lang._("Line {number}: {problem}").format(number=number, problem=problem))
            break
        items.append(FreeItem(parts[1], quantity, unit, price))  # type: ignore[arg-type]
    return tuple(items)
