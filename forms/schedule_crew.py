"""The forms of the two steps that change an approved order's plan: reschedule (a new date, an optional time
window, and why) and change crew (the whole crew, as it should be from now on)."""

from __future__ import annotations

from datetime import time
from typing import Any

from forms.elements import (
    Collector,
    Values,
    View,
    datepicker,
    element_state,
    input_block,
    modal,
    read_users,
    text_input,
    text_section,
    users_select,
)
from forms.fields import NOTES_MAX, REASON_MAX, optional_text, required_date, required_text
from forms.metadata import FormMeta
from forms.problems import BLOCKS
from i18n import Language, language
from workflow.document import ItemLine
from workflow.errors import Field
from workflow.inputs import CrewChange, Reschedule
from workflow.queries import OrderCard
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action

SCHEDULED_DATE, START_TIME, END_TIME, REASON, FIELD_WORKERS, NOTE = (
    BLOCKS[f] for f in (Field.SCHEDULED_DATE, Field.START_TIME, Field.END_TIME, Field.REASON, Field.FIELD_WORKERS,
                        Field.NOTE))

Lines = list[tuple[int, ItemLine]]


def _modal(lang: Language, action: Action, title: str, submit: str, blocks: list, meta: FormMeta) -> View:
    return modal(lang, BY_ACTION[action].form, title, submit, blocks, meta.dump())


def _timepicker(action_id: str, initial: time | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "timepicker", "action_id": action_id}
    if initial is not None:
        element["initial_time"] = initial.strftime("%H:%M")
    return element


def _read_time(values: Values, block_id: str, errors: Collector) -> time | None:
    """Slack's timepicker gives HH:mm; anything else (a forged payload) is refused on its field."""
    raw = element_state(values, block_id).get("selected_time")
    if not raw:
        return None
    try:
        if not isinstance(raw, str) or len(raw) != 5:
            raise ValueError(raw)
        return time.fromisoformat(raw)
    except ValueError:
        errors.add(block_id, errors.lang._("“{typed}” is not a time.").format(typed=str(raw)[:20]))
        return None


def build_reschedule(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    now = (_("Scheduled for {date}.").format(date=lang.date(order.scheduled_date)) if order.scheduled_date
           else _("Not scheduled yet."))
    blocks = [
        text_section(f"{order.number} · {order.client} · {order.site}\n{now}"),
        input_block(SCHEDULED_DATE, _("New scheduled date"),
                    datepicker(SCHEDULED_DATE, order.scheduled_date.isoformat() if order.scheduled_date else None)),
        input_block(START_TIME, _("From (optional)"), _timepicker(START_TIME, order.scheduled_start), optional=True),
        input_block(END_TIME, _("Until (optional)"), _timepicker(END_TIME, order.scheduled_end), optional=True),
        input_block(REASON, _("Why the new date"), text_input(REASON, max_length=REASON_MAX, multiline=True)),
    ]
    return _modal(lang, Action.RESCHEDULE, lang.p_("modal title", "Reschedule {number}").format(number=order.number),
                  lang.p_("modal button", "Reschedule"), blocks, meta)


def parse_reschedule(values: Values, meta: FormMeta) -> Reschedule:
    errors = Collector(language(meta.locale))
    scheduled = required_date(values, SCHEDULED_DATE, errors)
    start = _read_time(values, START_TIME, errors)
    end = _read_time(values, END_TIME, errors)
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter why the date changes."))
    errors.raise_if_any()
    return Reschedule(scheduled, start, end, reason)


def build_change_crew(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    crew = users_select(FIELD_WORKERS, _("Who does the job"))
    if order.field_workers:
        crew["initial_users"] = list(order.field_workers)
    blocks = [
        text_section(f"{order.number} · {order.client} · {order.site}"),
        input_block(FIELD_WORKERS, _("Field workers from now on"), crew,
                    hint=_("Add, remove or replace people: the order's crew becomes who is picked here."),
                    optional=True),  # left empty, the service says on this field that one must stay
        input_block(NOTE, _("Why the change"), text_input(NOTE, max_length=NOTES_MAX, multiline=True),
                    optional=True),
    ]
    return _modal(lang, Action.CHANGE_CREW, lang.p_("modal title", "Crew of {number}").format(number=order.number),
                  lang.p_("modal button", "Change crew"), blocks, meta)


def parse_change_crew(values: Values, meta: FormMeta) -> CrewChange:
    """No crew at all is the service's to refuse (it knows the order is approved): one line on the field."""
    errors = Collector(language(meta.locale))
    workers = read_users(values, FIELD_WORKERS)
    note = optional_text(values, NOTE, NOTES_MAX, errors)
    errors.raise_if_any()
    return CrewChange(tuple(dict.fromkeys(workers)), note)
