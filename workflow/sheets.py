"""What the catalog import (workflow/catalog.py) and the orders import (workflow/order_import.py) share: a
file's CSV lines read one at a time and checked as they come, and what is wrong with a file said as typed
problems by line (a code and its values), which the command line words in the operator's language
(bot/cli_words.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

MAX_PROBLEMS = 20  # problems listed; the rest are counted ("and 1234 more")
MAX_LINE = 1 << 20  # characters: a real row is under 2 KB; this stops a file with no line breaks early


class Trouble(StrEnum):
    """What can be wrong with a file or one of its rows (the catalog's, then the orders'); each has its values
    (see the call sites)."""

    CANNOT_READ = "cannot_read"  # reason
    EMPTY = "empty"  # header
    NO_ROWS = "no_rows"
    HEADER = "header"  # header, optional, found
    NUL_BYTE = "nul_byte"
    NOT_UTF8 = "not_utf8"  # reason
    LINE_TOO_LONG = "line_too_long"  # limit
    FIELD_TOO_LONG = "field_too_long"  # limit
    MALFORMED = "malformed"  # detail: the csv module's own words
    FIELD_COUNT = "field_count"  # count, expected
    KIND = "kind"  # kind, kinds
    CODE = "code"  # code
    NAME = "name"
    NEEDS_UNIT = "needs_unit"  # kind
    NO_UNIT = "no_unit"  # kind
    SITE_NEEDS_PARENT = "site_needs_parent"
    ONLY_SITE_PARENT = "only_site_parent"
    ONLY_SITE_ADDRESS = "only_site_address"
    ONLY_CLIENT_CONTACT = "only_client_contact"
    PRICE_NEGATIVE = "price_negative"  # price
    PRICE_NOT_NUMBER = "price_not_number"  # price
    PRICE_DECIMALS = "price_decimals"  # price
    PRICE_TOO_HIGH = "price_too_high"  # price, most
    ORPHAN = "orphan"  # parent
    REPEATED = "repeated"  # kind, code, first
    PRICE_NEEDS_CLIENT = "price_needs_client"
    UNKNOWN_ITEM = "unknown_item"  # code
    ONLY_CLIENT_SITE_PEOPLE = "only_client_site_people"  # column
    PERSON = "person"  # column, value: neither a member id nor an e-mail
    UNKNOWN_EMAIL = "unknown_email"  # column, email: no one in the workspace has it
    TOO_MANY_PEOPLE = "too_many_people"  # column, most
    EMAILS_NEED_SLACK = "emails_need_slack"  # email: the file names people by e-mail and nothing can look them up
    # the orders import's (workflow/order_import.py)
    ORDER_HEADER = "order_header"  # header, found
    ORDER_NOT_XLSX = "order_not_xlsx"
    ORDER_REFERENCE = "order_reference"  # most
    ORDER_REFERENCE_TWICE = "order_reference_twice"  # reference, first
    ORDER_DATE = "order_date"  # value
    ORDER_PRIORITY = "order_priority"  # value, priorities
    ORDER_DESCRIPTION = "order_description"  # most
    ORDER_NO_ITEMS = "order_no_items"
    ORDER_TOO_MANY_ITEMS = "order_too_many_items"  # most
    ORDER_ITEM = "order_item"  # item, most
    ORDER_NOT_REQUESTER = "order_not_requester"  # user
    ORDER_CLIENT = "order_client"  # code
    ORDER_SITE = "order_site"  # code
    ORDER_SITE_CLIENT = "order_site_client"  # site, client
    ORDER_DATE_PAST = "order_date_past"  # date
    ORDER_DATE_FAR = "order_date_far"  # date, latest
    ORDER_ITEM_UNKNOWN = "order_item_unknown"  # code
    ORDER_ITEM_TWICE = "order_item_twice"  # code
    ORDER_OVER_CEILING = "order_over_ceiling"  # amount, ceiling
    ORDER_FIELD = "order_field"  # field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: on `line` (None: the file as a whole), with its values."""

    trouble: Trouble
    line: int | None = None
    values: dict[str, Any] = field(default_factory=dict)


class SheetError(Exception):
    """The file at `path` cannot be imported; `problems` lists the first ones by line, `more` counts the others.
    Nothing was written."""

    def __init__(self, path: Path, problems: list[Problem], more: int = 0) -> None:
        super().__init__(f"{path}: " + "; ".join(f"line {p.line}: {p.trouble} {p.values}" if p.line else
                                                 f"{p.trouble} {p.values}" for p in problems))
        self.path = path
        self.problems = problems
        self.more = more


class Problems:
    """The first MAX_PROBLEMS problems by line, and how many there are in all."""

    def __init__(self) -> None:
        self.first: list[Problem] = []
        self.count = 0

    def add(self, problem: Problem) -> None:
        self.count += 1
        self.first.append(problem)
        if len(self.first) > 2 * MAX_PROBLEMS:  # they come in two runs (the rows, then SQL): keep the least
            self.first = by_line(self.first)[:MAX_PROBLEMS]

    def error(self, path: Path) -> SheetError:
        listed = by_line(self.first)[:MAX_PROBLEMS]
        return SheetError(path, listed, self.count - len(listed))


def by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)


def shown(value: str, limit: int = 60) -> str:
    """A value from the file as a message quotes it: on one line, printable, and short."""
    value = "".join(c if c.isprintable() else "?" for c in value[:limit + 1])
    return value if len(value) <= limit else value[:limit] + "…"


class Lines:
    """The file's lines for csv.reader, read as bytes one at a time: counted (for line numbers and progress),
    each decoded alone (so a bad byte is named by its line) and refused when it holds a NUL byte or runs past
    MAX_LINE characters (so one huge line never lands in memory whole)."""

    def __init__(self, handle: IO[bytes], path: Path) -> None:
        self.handle, self.path = handle, path
        self.number = 0  # the last line read

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline(4 * MAX_LINE)  # UTF-8: at most 4 bytes a character
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a BOM from spreadsheet exports is fine
            raw = raw[3:]
        if b"\0" in raw:
            raise self._bad(Trouble.NUL_BYTE)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._bad(Trouble.NOT_UTF8, reason=error.reason) from error
        if len(line) > MAX_LINE:
            raise self._bad(Trouble.LINE_TOO_LONG, limit=MAX_LINE)
        return line

    def _bad(self, trouble: Trouble, **values: Any) -> SheetError:
        return SheetError(self.path, [Problem(trouble, self.number, values)])
