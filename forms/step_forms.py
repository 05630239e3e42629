"""The forms of the steps on an existing order: approve, reject, confirmation, and the two closings.

Each form is registered under its transition's `form` name, so the bot opens and parses whatever form
the transition table names, without a branch per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.mrkdwn import esc
from forms.elements import (
    Collector,
    Values,
    View,
    actions_block,
    button,
    context,
    datepicker,
    input_block,
    modal,
    read_users,
    section,
    text_input,
    users_select,
)
from forms.fields import (
    NOTES_MAX,
    REASON_MAX,
    decimal_marks,
    optional_text,
    parse_free_items,
    required_date,
    required_text,
)
from forms.items import ADD_ROWS_ACTION, FREE_ITEMS, MAX_ROWS, ROW_STEP, free_items_block, item_rows, parse_rows
from forms.metadata import FormMeta
from workflow.document import ItemLine, quantity_text
from workflow.inputs import Approval, Closing, Confirmation, Rejection, StepInput
from workflow.queries import OrderCard

FIELD_WORKERS, SCHEDULED_DATE, NOTES, REASON, NOTE = "field_workers", "scheduled_date", "notes", "reason", "note"


def _summary(order: OrderCard) -> dict:
    return section(f"*{order.number}* · {esc(order.client)} · {esc(order.site)}\nRequested for "
                   f"{order.requested_date.isoformat()}, priority {order.priority}.")


def build_approve(meta: FormMeta, order: OrderCard, lines: list[tuple[int, ItemLine]]) -> View:
    blocks = [
        _summary(order),
        input_block(FIELD_WORKERS, "Field workers", users_select(FIELD_WORKERS, "Who does the job")),
        input_block(SCHEDULED_DATE, "Scheduled date", datepicker(SCHEDULED_DATE, order.requested_date.isoformat())),
        input_block(NOTES, "Notes for the field workers", text_input(NOTES, max_length=NOTES_MAX, multiline=True),
                    optional=True),
    ]
    return modal("approve", f"Approve {order.number}", "Approve", blocks, meta.dump())


def parse_approve(values: Values, meta: FormMeta) -> Approval:
    errors = Collector()
    workers = read_users(values, FIELD_WORKERS)
    if not workers:
        errors.add(FIELD_WORKERS, "Add at least one field worker.")
    scheduled = required_date(values, SCHEDULED_DATE, errors)
    notes = optional_text(values, NOTES, NOTES_MAX, errors)
    errors.raise_if_any()
    return Approval(tuple(dict.fromkeys(workers)), scheduled, notes)


def _reason_form(callback_id: str, title: str, submit: str, label: str):  # type: ignore[no-untyped-def]
    def build(meta: FormMeta, order: OrderCard, lines: list[tuple[int, ItemLine]]) -> View:
        blocks = [_summary(order), input_block(REASON, label, text_input(REASON, max_length=REASON_MAX,
                                                                          multiline=True))]
        return modal(callback_id, f"{title} {order.number}", submit, blocks, meta.dump())
    return build


def parse_reject(values: Values, meta: FormMeta) -> Rejection:
    errors = Collector()
    reason = required_text(values, REASON, REASON_MAX, errors, "the reason")
    errors.raise_if_any()
    return Rejection(reason)


def parse_not_performed(values: Values, meta: FormMeta) -> Closing:
    errors = Collector()
    reason = required_text(values, REASON, REASON_MAX, errors, "why it was not performed")
    errors.raise_if_any()
    return Closing(reason)


def build_complete(meta: FormMeta, order: OrderCard, lines: list[tuple[int, ItemLine]]) -> View:
    blocks = [_summary(order), context("Close the order as completed, as specified in its latest version "
                                       f"(v{order.version})."),
              input_block(NOTE, "Closing note", text_input(NOTE, max_length=NOTES_MAX, multiline=True),
                          optional=True)]
    return modal("complete", f"Complete {order.number}", "Close order", blocks, meta.dump())


def parse_complete(values: Values, meta: FormMeta) -> Closing:
    errors = Collector()
    note = optional_text(values, NOTE, NOTES_MAX, errors)
    errors.raise_if_any()
    return Closing(note)


def _current_items(lines: list[tuple[int, ItemLine]]) -> str:
    shown = [f"• {quantity_text(line.quantity)} {esc(line.unit or '')} {esc(line.description)}".replace("  ", " ")
             for _, line in lines]
    text = "\n".join(shown)
    return text if len(text) <= 2900 else text[:2900].rsplit("\n", 1)[0] + "\n…"


def build_confirm(meta: FormMeta, order: OrderCard, lines: list[tuple[int, ItemLine]]) -> View:
    blocks = [
        _summary(order),
        section(f"*Items now (v{order.version})*\n{_current_items(lines)}"),
        context("To change an item, pick it and enter its new quantity (0 removes it). "
                "To add one, pick it from the catalog."),
        *item_rows(meta.rows, "New quantity", "0 removes the item."),
    ]
    if meta.rows < MAX_ROWS:
        blocks.append(actions_block("item_rows", [button(ADD_ROWS_ACTION, f"Add {ROW_STEP} more rows")]))
    blocks += [
        free_items_block("New items not in the catalog"),
        input_block(FIELD_WORKERS, "Add field workers", users_select(FIELD_WORKERS, "More people on the job"),
                    optional=True),
        input_block(NOTE, "Why the change", text_input(NOTE, max_length=NOTES_MAX, multiline=True)),
    ]
    return modal("confirm", f"Confirmation {order.number}", "File it", blocks, meta.dump())


def parse_confirm(values: Values, meta: FormMeta) -> Confirmation:
    errors = Collector()
    marks = decimal_marks(meta.locale)
    changes = parse_rows(values, meta.rows, errors, allow_zero=True, marks=marks)
    free = parse_free_items(values, FREE_ITEMS, errors, marks)
    workers = read_users(values, FIELD_WORKERS)
    note = required_text(values, NOTE, NOTES_MAX, errors, "why the order changes")
    errors.raise_if_any()
    return Confirmation(changes, free, tuple(dict.fromkeys(workers)), note)


@dataclass(frozen=True)
class StepForm:
    build: Callable[[FormMeta, OrderCard, list[tuple[int, ItemLine]]], View]
    parse: Callable[[Values, FormMeta], StepInput]
    has_item_rows: bool = False


STEP_FORMS: dict[str, StepForm] = {
    "approve": StepForm(build_approve, parse_approve),
    "reject": StepForm(_reason_form("reject", "Reject", "Reject", "Reason for rejecting"), parse_reject),
    "confirm": StepForm(build_confirm, parse_confirm, has_item_rows=True),
    "complete": StepForm(build_complete, parse_complete),
    "not_perform": StepForm(_reason_form("not_perform", "Not performed", "Close order",
                                         "Why was it not performed?"), parse_not_performed),
}
