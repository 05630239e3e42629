"""The numbers people and payloads give us, read one way everywhere: ASCII digits, at most one decimal mark,
nothing else. Python's own parsers take far more (`Decimal('1_000')`, `Decimal('1e6')`, `int('１２')`,
`int('+7')`), and each of those has ended somewhere it should not: a quantity of a million from "1e6", an id
too large for the database's INTEGER."""

from __future__ import annotations

import re
from decimal import Decimal

# the largest id or count a row holds: the INTEGER column of PostgreSQL (and SQLite's, within it)
MAX_ID = 2**31 - 1

_DIGITS = re.compile(r"[0-9]+")


def parse_decimal(text: str, marks: str = ".") -> Decimal | None:
    """`text` (spaces around it ignored) as a Decimal when it is ASCII digits with at most one decimal mark, one
    of `marks` ("." or, say, ".," for a reader whose locale writes a comma); otherwise None. No sign, no
    grouping, no exponent, no underscore, no other script's digits."""
    text = text.strip()
    whole, mark, fraction = text, "", ""
    for candidate in marks:
        if candidate in text:
            whole, mark, fraction = text.partition(candidate)
            break
    if mark and not fraction and not whole:
        return None
    if not all(part == "" or _DIGITS.fullmatch(part) for part in (whole, fraction)) or not (whole or fraction):
        return None
    return Decimal(f"{whole or '0'}.{fraction}" if fraction else whole)


def parse_id(text: str | int | None, *, least: int = 1, most: int = MAX_ID) -> int | None:
    """A whole number from `least` to `most` (an id, a revision, a count), written in ASCII digits, or
    None. Checks the length before converting, so no input is too long to read."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if least <= text <= most else None
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    text = text.lstrip("0") or "0"  # SO-0000000042 is 42
    if len(text) > len(str(most)):
        return None
    value = int(text)
    return value if least <= value <= most else None
