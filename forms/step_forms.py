"""The forms of the steps on an existing order: approve, reject, confirmation, and the two closings.

Each form is registered under its transition's action, and its callback id is the transition's `form`: the
bot opens and parses whatever form the transition table names, without a branch per step. Every word is in the
form's reader's language (meta.locale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forms.elements import (
    Collector,
    Values,
    View,
    datepicker,
    header,
    input_block,
    modal,
    read_users,
    text_context,
    text_input,
    text_section,
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
from forms.items import FREE_ITEMS, MAX_ROWS, add_rows_button, free_items_block, item_rows, parse_rows
from forms.metadata import FormMeta
from forms.problems import BLOCKS
from forms.schedule_crew import build_change_crew, build_reschedule, parse_change_crew, parse_reschedule
from i18n import Language, language
from i18n.domain import priority
from workflow.document import ItemLine
from workflow.errors import Field
from workflow.inputs import Approval, Closing, Confirmation, Rejection, StepInput
from workflow.queries import OrderCard
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action

FIELD_WORKERS, SCHEDULED_DATE, NOTES, REASON, NOTE = (
    BLOCKS[f] for f in (Field.FIELD_WORKERS, Field.SCHEDULED_DATE, Field.NOTES, Field.REASON, Field.NOTE))

Lines = list[tuple[int, ItemLine]]


def _modal(lang: Language, action: Action, title: str, submit: str, blocks: list, meta: FormMeta) -> View:
    """The step's modal: its callback id is the table row's form."""
    return modal(lang, BY_ACTION[action].form, title, submit, blocks, meta.dump())


def _summary(lang: Language, order: OrderCard) -> dict:
    asked = lang._("Requested for {date}, priority {priority}.").format(
        date=lang.date(order.requested_date), priority=priority(lang, order.priority))
    return text_section(f"{order.number} · {order.client} · {order.site}\n{asked}")


def build_approve(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    blocks = [
        _summary(lang, order),
        input_block(FIELD_WORKERS, _("Field workers"), users_select(FIELD_WORKERS, _("Who does the job"))),
        input_block(SCHEDULED_DATE, _("Scheduled date"),
                    datepicker(SCHEDULED_DATE, order.requested_date.isoformat())),
        input_block(NOTES, _("Notes for the field workers"),
                    text_input(NOTES, max_length=NOTES_MAX, multiline=True), optional=True),
    ]
    return _modal(lang, Action.APPROVE, lang.p_("modal title", "Approve {number}").format(number=order.number),
                  lang.p_("modal button", "Approve"), blocks, meta)


def parse_approve(values: Values, meta: FormMeta) -> Approval:
    errors = Collector(language(meta.locale))
    workers = read_users(values, FIELD_WORKERS)
    if not workers:
        errors.add(FIELD_WORKERS, errors.lang._("Add at least one field worker."))
    scheduled = required_date(values, SCHEDULED_DATE, errors)
    notes = optional_text(values, NOTES, NOTES_MAX, errors)
    errors.raise_if_any()
    return Approval(tuple(dict.fromkeys(workers)), scheduled, notes)


def _reason_blocks(lang: Language, order: OrderCard, label: str) -> list:
    return [_summary(lang, order),
            input_block(REASON, label, text_input(REASON, max_length=REASON_MAX, multiline=True))]


def build_reject(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    return _modal(lang, Action.REJECT, lang.p_("modal title", "Reject {number}").format(number=order.number),
                  lang.p_("modal button", "Reject"), _reason_blocks(lang, order, lang._("Reason for rejecting")),
                  meta)


def parse_reject(values: Values, meta: FormMeta) -> Rejection:
    errors = Collector(language(meta.locale))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter the reason."))
    errors.raise_if_any()
    return Rejection(reason)


def build_not_performed(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    return _modal(lang, Action.NOT_PERFORM,
                  lang.p_("modal title", "Not performed {number}").format(number=order.number),
                  lang.p_("modal button", "Close order"),
                  _reason_blocks(lang, order, lang._("Why was it not performed?")), meta)


def parse_not_performed(values: Values, meta: FormMeta) -> Closing:
    errors = Collector(language(meta.locale))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter why it was not performed."))
    errors.raise_if_any()
    return Closing(reason)


def build_complete(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    blocks = [_summary(lang, order),
              text_context(_("Close the order as completed, as specified in its latest version (v{version}).")
                           .format(version=order.version)),
              input_block(NOTE, _("Closing note"), text_input(NOTE, max_length=NOTES_MAX, multiline=True),
                          optional=True)]
    return _modal(lang, Action.COMPLETE, lang.p_("modal title", "Complete {number}").format(number=order.number),
                  lang.p_("modal button", "Close order"), blocks, meta)


def parse_complete(values: Values, meta: FormMeta) -> Closing:
    errors = Collector(language(meta.locale))
    note = optional_text(values, NOTE, NOTES_MAX, errors)
    errors.raise_if_any()
    return Closing(note)


def _current_items(lang: Language, lines: Lines) -> str:
    shown = [" ".join(part for part in ("•", lang.number(line.quantity), line.unit or "", line.description) if part)
             for _, line in lines]
    text = "\n".join(shown)
    return text if len(text) <= 2900 else text[:2900].rsplit("\n", 1)[0] + "\n…"


def build_confirm(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    blocks = [
        _summary(lang, order),
        header(_("Items now (v{version})").format(version=order.version)),
        text_section(_current_items(lang, lines)),
        text_context(_("To change an item, pick it and enter its new quantity (0 removes it). "
                       "To add one, pick it from the catalog.")),
        *item_rows(lang, meta.rows, _("New quantity"), _("0 removes the item.")),
    ]
    if meta.rows < MAX_ROWS:
        blocks.append(add_rows_button(lang))
    blocks += [
        free_items_block(lang, _("New items not in the catalog")),
        input_block(FIELD_WORKERS, _("Add field workers"), users_select(FIELD_WORKERS, _("More people on the job")),
                    optional=True),
        input_block(NOTE, _("Why the change"), text_input(NOTE, max_length=NOTES_MAX, multiline=True)),
    ]
    return _modal(lang, Action.CONFIRM, lang.p_("modal title", "Confirmation {number}").format(number=order.number),
                  lang.p_("modal button", "File it"), blocks, meta)


def parse_confirm(values: Values, meta: FormMeta) -> Confirmation:
    errors = Collector(language(meta.locale))
    marks = decimal_marks(meta.locale)
    changes = parse_rows(values, meta.rows, errors, allow_zero=True, marks=marks)
    free = parse_free_items(values, FREE_ITEMS, errors, marks)
    workers = read_users(values, FIELD_WORKERS)
    note = required_text(values, NOTE, NOTES_MAX, errors, errors.lang._("Enter why the order changes."))
    errors.raise_if_any()
    return Confirmation(changes, free, tuple(dict.fromkeys(workers)), note)


@dataclass(frozen=True)
class StepForm:
    build: Callable[[FormMeta, OrderCard, Lines], View]
    parse: Callable[[Values, FormMeta], StepInput]
    has_item_rows: bool = False


# keyed by the transition's action; the callback id each form's modal carries is that row's `form`
STEP_FORMS: dict[Action, StepForm] = {
    Action.APPROVE: StepForm(build_approve, parse_approve),
    Action.REJECT: StepForm(build_reject, parse_reject),
    Action.CONFIRM: StepForm(build_confirm, parse_confirm, has_item_rows=True),
    Action.COMPLETE: StepForm(build_complete, parse_complete),
    Action.NOT_PERFORM: StepForm(build_not_performed, parse_not_performed),
    Action.RESCHEDULE: StepForm(build_reschedule, parse_reschedule),
    Action.CHANGE_CREW: StepForm(build_change_crew, parse_change_crew),
}
