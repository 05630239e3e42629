"""The request's form again, filled in with the order as it is: Edit (pending approval) and Edit and resubmit
(sent back for changes). Same blocks as the submit form, so `order_form.parse` reads it and the pickers'
typeahead answers it; only its callback id (the table row's form), title and button differ."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from forms import order_form
from forms.elements import Values, View, option, plain
from forms.fields import decimal_marks
from forms.items import FREE_ITEMS, MAX_ROWS, item_block, quantity_block
from forms.metadata import FormMeta
from i18n import language
from workflow.document import ItemLine, quantity_text
from workflow.inputs import OrderDraft
from workflow.queries import OrderCard
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action, ItemKind

Lines = list[tuple[int, ItemLine]]


def _free_text(line: ItemLine, mark: str) -> str:
    """A free-text item as the form's free-items box reads it: quantity | description | unit | unit price, with
    the reader's decimal mark (a Spanish reader's "1.125" would be a thousand, or refused as ambiguous)."""
    parts = [quantity_text(line.quantity).replace(".", mark), line.description, line.unit or ""]
    if line.unit_price is not None:
        parts.append(quantity_text(line.unit_price).replace(".", mark))
    return " | ".join(parts).rstrip(" |")


def _set(blocks: list[dict[str, Any]], block_id: str, key: str, value: object) -> None:
    for block in blocks:
        if block.get("block_id") == block_id:
            block["element"][key] = value


def _build(action: Action, title: str, submit: str, meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    catalog = [line for _, line in lines if line.kind != ItemKind.FREE and line.code]
    free = [line for _, line in lines if line.kind == ItemKind.FREE or not line.code]
    # enough rows for every catalog item on the order (the metadata carries it, so the answer is read whole)
    meta = replace(meta, rows=min(max(meta.rows, len(catalog)), MAX_ROWS))
    view = order_form.build(meta, order.requested_date.isoformat())
    blocks = view["blocks"]
    _set(blocks, order_form.CLIENT, "initial_option", option(order.client_code, order.client))
    _set(blocks, order_form.SITE, "initial_option", option(order.site_code, order.site))
    _set(blocks, order_form.PRIORITY, "initial_option",
         next(o for o in _element(blocks, order_form.PRIORITY)["options"] if o["value"] == order.priority))
    _set(blocks, order_form.DESCRIPTION, "initial_value", order.description)
    for row, line in enumerate(catalog[:MAX_ROWS]):
        _set(blocks, item_block(row), "initial_option", option(f"{line.kind}:{line.code}",
                                                               f"{line.code} · {line.description}"))
        _set(blocks, quantity_block(row), "initial_value", quantity_text(line.quantity))
    if free:
        mark = decimal_marks(meta.locale)[-1]
        _set(blocks, FREE_ITEMS, "initial_value", "\n".join(_free_text(line, mark) for line in free))
    view["callback_id"] = BY_ACTION[action].form
    view["title"] = plain(title.format(number=order.number), 24)
    view["submit"] = plain(submit, 24)
    return view


def _element(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b["element"] for b in blocks if b.get("block_id") == block_id)


def build_edit(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    return _build(Action.EDIT, lang.p_("modal title", "Edit {number}"), lang.p_("modal button", "Save"),
                  meta, order, lines)


def build_resubmit(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    return _build(Action.RESUBMIT, lang.p_("modal title", "Resubmit {number}"),
                  lang.p_("modal button", "Resubmit"), meta, order, lines)


def parse(values: Values, meta: FormMeta) -> OrderDraft:
    return order_form.parse(values, meta)
