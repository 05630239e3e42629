"""Item rows (a picker and a quantity each) and free-text items, shared by the order and confirmation forms."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from forms.elements import (
    Block,
    Collector,
    Values,
    actions_block,
    button,
    external_select,
    input_block,
    number_input,
    option,
    plain,
    read_option,
    read_text,
    text_input,
)
from forms.fields import DESCRIPTION_MAX, parse_quantity
from i18n import Language
from workflow.document import ItemLine
from workflow.inputs import ItemQuantity

ITEM_ACTION = "line_item"  # every item picker shares it, so one block_suggestion listener answers them all
ADD_ROWS_ACTION = "add_item_rows"
FREE_ITEMS = "free_items"
ROW_STEP = 3
MAX_ROWS = 30  # each row is 2 blocks; a modal holds at most 100


class CatalogLike(Protocol):
    kind: str
    code: str
    name: str
    unit: str | None
    unit_price: object


def item_block(row: int) -> str:
    return f"item_{row}"


def quantity_block(row: int) -> str:
    return f"qty_{row}"


def item_rows(lang: Language, rows: int, quantity_label: str, quantity_hint: str | None = None) -> list[Block]:
    blocks: list[Block] = []
    for row in range(rows):
        blocks.append(input_block(item_block(row), lang._("Item {number}").format(number=row + 1),
                                  external_select(ITEM_ACTION, lang._("Type to search the catalog")), optional=True))
        blocks.append(input_block(quantity_block(row), quantity_label, number_input("quantity"), optional=True,
                                  hint=quantity_hint if row == 0 else None))
    return blocks


def add_rows_button(lang: Language) -> Block:
    return actions_block("item_rows", [button(ADD_ROWS_ACTION, lang._("Add {count} more rows").format(
        count=ROW_STEP))])


def free_items_block(lang: Language, label: str) -> Block:
    return input_block(
        FREE_ITEMS, label, text_input(FREE_ITEMS, max_length=DESCRIPTION_MAX, multiline=True,
                                      placeholder=lang._("2 | Crane rental | h | 150")),
        optional=True,
        hint=lang._("One per line: quantity | description | unit | unit price (unit and price optional)."),
    )


def parse_rows(values: Values, rows: int, errors: Collector, *, allow_zero: bool,
               marks: str = ".") -> tuple[ItemQuantity, ...]:
    lang = errors.lang
    picked: list[ItemQuantity] = []
    for row in range(rows):
        ref = read_option(values, item_block(row))
        raw = read_text(values, quantity_block(row))
        if not ref and not raw:
            continue
        if not ref:
            errors.add(item_block(row), lang._("Pick an item for this quantity."))
            continue
        if not raw:
            errors.add(quantity_block(row), lang._("Enter a quantity."))
            continue
        quantity = parse_quantity(raw, lang, allow_zero=allow_zero, marks=marks)
        if isinstance(quantity, str):
            errors.add(quantity_block(row), quantity)
            continue
        picked.append(ItemQuantity(ref, quantity, row))
    return tuple(picked)


def catalog_option(entry: CatalogLike, lang: Language, currency: str) -> dict:
    price = lang.money(Decimal(entry.unit_price), currency) if isinstance(entry.unit_price, Decimal | int) else "—"
    shown = f" · {price}/{entry.unit}" if entry.unit else ""
    return option(f"{entry.kind}:{entry.code}", f"{entry.code} · {entry.name}{shown}")


def line_option(line_id: int, line: ItemLine, lang: Language) -> dict:
    """An item already on the order: free-text lines are referred to by line id, catalog ones by code."""
    value = f"{line.kind}:{line.code}" if line.code else f"line:{line_id}"
    label = f"{line.code} · " if line.code else ""
    now = lang._("now {quantity} {unit}").format(quantity=lang.number(line.quantity), unit=line.unit or "").rstrip()
    return option(value, f"{label}{line.description} ({now})")


def item_options(entries: Iterable[CatalogLike], lang: Language, currency: str,
                 lines: list[tuple[int, ItemLine]] | None = None) -> dict:
    """The block_suggestion answer: the order's own items first (in a confirmation), then the catalog."""
    catalog = [catalog_option(e, lang, currency) for e in entries]
    if lines is None:
        return {"options": catalog[:100]}
    on_order = [line_option(i, line, lang) for i, line in lines][:100]
    taken = {o["value"] for o in on_order}
    catalog = [o for o in catalog if o["value"] not in taken][:100]
    groups = [{"label": plain(label, 75), "options": opts}
              for label, opts in ((lang._("On this order"), on_order), (lang._("Catalog"), catalog)) if opts]
    return {"option_groups": groups} if groups else {"options": []}
