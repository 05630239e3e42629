"""An order's whole trail in words: each audit row as who, when, from which state to which, and everything its
facts say changed (every FieldChange before → after, people added or removed, items added, removed or changed).

Generic on purpose: a step added later with new StepFacts fields shows up here without a change, its fields
named by their label below when it has one, else by the field's own name."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from bot.mrkdwn import SLACK, Marks
from i18n import N_, Language
from i18n.domain import DONE, PRIORITIES, PROPOSED, ROLES, state
from storage.models import AuditEvent
from workflow.clock import aware
from workflow.facts import FieldChange, ItemFact, StepFacts
from workflow.numbers import parse_decimal
from workflow.vocabulary import Role

NONE = "—"  # an empty value, before or after

# the order's fields as a change names them (FieldChange.name); one not here is shown by its own name
FIELD_LABELS = {
    "scheduled_date": N_("Scheduled for"),
    "requested_date": N_("Requested for"),
    "approval_notes": N_("Approval notes"),
    "priority": N_("Priority"),
    "description": N_("Job"),
    "client": N_("Client"),
    "site": N_("Site"),
    "field_workers": N_("Field workers"),
    "time_window": N_("Time window"),
    "scheduled_start": N_("Starts at"),
    "scheduled_end": N_("Ends at"),
    "unit_price": N_("Unit price"),
    "note": N_("Note"),
}

# StepFacts' own values, shown when a step set them (people and changes are listed apart)
FACT_LABELS = {
    "client": N_("Client"),
    "site": N_("Site"),
    "item_count": N_("Items"),
    "requested_date": N_("Requested for"),
    "priority": N_("Priority"),
    "scheduled_date": N_("Scheduled for"),
    "note": N_("Note"),
    "total": N_("Subtotal"),  # before tax, as the step recorded it
    "delta": N_("Change before tax"),
    "people_added": N_("People added"),
    "people_removed": N_("People removed"),
    "reviewers": N_("Asked to review"),
    # approval by amount
    "level": N_("Level of approval given"),
    "levels": N_("Levels the order needs"),
    "next_role": N_("Next level's role"),
    "next_people": N_("Asked next"),
    "cleared": N_("Approvals cleared"),
    "author": N_("Proposed by"),  # a change approved or rejected
}
_PEOPLE = ("reviewers", "field_workers", "next_people", "cleared")

# an item's before/after pairs (ItemFact's `<name>_before`, `<name>_after`)
ITEM_LABELS = {"quantity": N_("quantity"), "amount": N_("amount"), "unit_price": N_("unit price")}

# shown elsewhere (the headline) or not a change of the order
# (a change held for approval says so in its headline; the step it was is the change's, not the decision's)
_NOT_LISTED = frozenset({"action", "actor", "version", "currency", "tax_rate", "legacy", "fields", "items",
                         "proposed", "step"})
_MONEY = re.compile(r"total|delta|amount|price")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?")  # a time window's end, as a reschedule records it


def step_lines(event: AuditEvent, lang: Language, zone: tzinfo, marks: Marks = SLACK) -> list[str]:
    """One audit row: its headline (when, who did what), its states and version, then what it changed."""
    when = marks.bold(lang.datetime(aware(event.at), zone))
    try:
        facts = StepFacts.loads(event.detail)
    except (ValueError, KeyError, TypeError):  # a row written by a newer release: who, and its action's code
        return [f"{when} · {marks.person(event.actor_id)} {marks.text(event.action)}"]
    words = PROPOSED.get(facts.action) if facts.proposed else DONE.get(facts.action)
    did = lang._(words) if words else marks.text(facts.action.value)
    done = lang._("{person} {did}.").format(person=marks.person(facts.actor), did=did)
    if facts.partial:  # one level of several: as its channel message says it
        done = lang._("{person} gave the approval of level {level} of {levels}.").format(
            person=marks.person(facts.actor), level=facts.level, levels=facts.levels)
    lines = [f"{when} · {done}"]
    moved = [f"{_state(lang, event.from_state)} → {_state(lang, event.to_state)}"
             if event.from_state and event.from_state != event.to_state else _state(lang, event.to_state)]
    if facts.version:
        moved.append(lang._("version {number}").format(number=facts.version))
    lines.append(" · ".join(moved))
    lines += ["• " + line for line in describe_changes(facts, lang, marks)]
    return lines


def describe_changes(facts: StepFacts, lang: Language, marks: Marks = SLACK) -> list[str]:
    """Everything a step's facts record, one line each: every field's before → after, its values and the
    people it added or removed, then its items."""
    if facts.legacy is not None:
        return [marks.text(facts.legacy)]
    changed = {change.name for change in facts.fields}
    # a reschedule records its whole schedule: the parts it left as they were are no change
    lines = [field_change(change, lang, marks, facts.currency) for change in facts.fields
             if change.before != change.after]
    for spec in dataclasses.fields(facts):
        name, value = spec.name, getattr(facts, spec.name)
        if name in _NOT_LISTED or name in changed or value is None or value == ():
            continue
        label = _label(lang, FACT_LABELS, name)
        if isinstance(value, tuple):
            lines.append(f"{label}: " + ", ".join(_value(lang, marks, name, v, facts.currency) for v in value))
        else:
            lines.append(f"{label}: {_value(lang, marks, name, value, facts.currency)}")
    lines += [item_change(item, lang, marks, facts.currency) for item in facts.items]
    return lines


def field_change(change: FieldChange, lang: Language, marks: Marks = SLACK, currency: str | None = None) -> str:
    before = _value(lang, marks, change.name, change.before, currency)
    after = _value(lang, marks, change.name, change.after, currency)
    return f"{_label(lang, FIELD_LABELS, change.name)}: {before} → {after}"


def item_change(item: ItemFact, lang: Language, marks: Marks = SLACK, currency: str | None = None) -> str:
    """'+ HVAC preventive maintenance (h): quantity — → 2; amount — → $90.00', '− …', or what changed."""
    sign = {"added": "+", "removed": "−", "changed": "~"}[item.change]
    name = marks.text(item.description) + (f" ({marks.text(item.unit)})" if item.unit else "")
    pairs = []
    for attr in vars(item):
        if not attr.endswith("_before") or not hasattr(item, (what := attr.removesuffix("_before")) + "_after"):
            continue
        before, after = getattr(item, attr), getattr(item, what + "_after")
        if before == after or (before is None and after is None):
            continue
        pairs.append(f"{_label(lang, ITEM_LABELS, what)} {_value(lang, marks, what, before, currency)} → "
                     f"{_value(lang, marks, what, after, currency)}")
    return f"{sign} {name}: " + "; ".join(pairs) if pairs else f"{sign} {name}"


def _label(lang: Language, labels: dict[str, str], name: str) -> str:
    return lang._(labels[name]) if name in labels else name.replace("_", " ").capitalize()


def _state(lang: Language, value: str) -> str:
    try:
        return state(lang, value)
    except ValueError:  # a state a newer release added
        return value


def _value(lang: Language, marks: Marks, name: str, value: object, currency: str | None) -> str:
    """A value as this reader reads it: dates and amounts by Babel, people as people, typed text escaped."""
    if value is None or value == "":
        return NONE
    if isinstance(value, str) and (name.startswith("people") or name in _PEOPLE):
        return " ".join(marks.person(u) for u in str(value).replace(",", " ").split())
    if isinstance(value, datetime):
        return lang.datetime(aware(value))
    if isinstance(value, date):
        return lang.date(value)
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return lang.date(date.fromisoformat(value))
        except ValueError:
            return marks.text(value)
    if isinstance(value, str) and _ISO_TIME.fullmatch(value):
        try:
            return lang.time(time.fromisoformat(value))
        except ValueError:
            return marks.text(value)
    if isinstance(value, str) and currency and _MONEY.search(name) and parse_decimal(value) is not None:
        value = parse_decimal(value)  # a price a FieldChange holds as plain text
    if name == "priority" and isinstance(value, str) and value in PRIORITIES:
        return lang._(PRIORITIES[value])
    if name == "next_role" and isinstance(value, str) and value in set(ROLES):
        return lang._(ROLES[Role(value)])
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        if currency and _MONEY.search(name):
            amount = Decimal(value)
            return lang.signed_amount(amount, currency) if name == "delta" else lang.amount(amount, currency)
        return lang.number(value)
    return marks.text(str(value))

