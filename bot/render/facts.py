"""A step's facts (workflow/facts.py) in words: the message a step posts in the order's channel, and one line
per audit row, in a given language. Step words come from i18n/domain.py; Slack markup from `Marks`."""

from __future__ import annotations

from datetime import date, time

from bot.mrkdwn import SLACK, Marks
from i18n import Language
from i18n.domain import DONE, who_may
from i18n.schedule import scheduled
from storage.models import AuditEvent
from workflow.facts import ItemFact, StepFacts
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action


def describe(event: AuditEvent, lang: Language, marks: Marks = SLACK) -> str:
    """One audit row as a line: who did what, then what it changed ("Ana approved the order. Version 1. …")."""
    return sentence(StepFacts.loads(event.detail), lang, marks)


def sentence(facts: StepFacts, lang: Language, marks: Marks = SLACK) -> str:
    done = lang._("{person} {did}.").format(person=marks.person(facts.actor), did=lang._(DONE[facts.action]))
    return f"{done} {summary(facts, lang, marks)}".strip()


def step_message(facts: StepFacts, number: str, lang: Language, marks: Marks = SLACK) -> str:
    """The message a step posts in the order's channel. A new order's asks the reviewers to look at it."""
    if facts.action is Action.SUBMIT and facts.legacy is None:
        said = lang._("{person} submitted {number} for {client} ({site}).").format(
            person=marks.person(facts.actor), number=number, client=marks.text(facts.client or ""),
            site=marks.text(facts.site or ""))
        if facts.reviewers:
            ask = lang._("{people}, please review it.").format(
                people=" ".join(marks.person(u) for u in facts.reviewers))
        else:
            approve = BY_ACTION[Action.APPROVE]
            ask = lang._("Nobody can approve it yet: an admin must make someone {who} "
                         "(service-orders roles grant USER ROLE).").format(
                who=who_may(lang, approve.roles, False))
        return f"{said} {ask}"
    return sentence(facts, lang, marks)


def summary(facts: StepFacts, lang: Language, marks: Marks = SLACK) -> str:
    """What the step changed, after who did it."""
    if facts.legacy is not None:
        return marks.text(facts.legacy)
    note = marks.text(facts.note) if facts.note else None
    match facts.action:
        case Action.SUBMIT:
            parts = [lang._("{client}, {site}.").format(client=marks.text(facts.client or ""),
                                                         site=marks.text(facts.site or ""))]
            if facts.item_count is not None:
                parts.append(lang.n_("{count} item", "{count} items", facts.item_count)
                             .format(count=lang.number(facts.item_count)) + ".")
            if facts.total is not None and facts.currency:
                parts.append(lang._("Total {amount}.").format(amount=lang.amount(facts.total, facts.currency)))
            if facts.requested_date:
                parts.append(lang._("Requested for {date}.").format(date=lang.date(facts.requested_date)))
            return " ".join(parts)
        case Action.APPROVE:
            parts = [_version(facts, lang)]
            if facts.people_added:
                parts.append(lang._("Field workers: {people}.").format(people=_people(facts.people_added, marks)))
            if facts.scheduled_date:
                parts.append(lang._("Scheduled for {date}.").format(date=lang.date(facts.scheduled_date)))
            if note:
                parts.append(lang._("Notes: {note}").format(note=note))
            return " ".join(parts)
        case Action.REJECT:
            return lang._("Reason: {reason}").format(reason=note) if note else ""
        case Action.CONFIRM:
            said = [_item(item, lang, marks) for item in facts.items]
            said += [lang._("added field worker {person}").format(person=marks.person(u))
                     for u in facts.people_added]
            text = lang._("Version {number}: {changes}.").format(number=facts.version, changes="; ".join(said))
            if facts.delta is not None and facts.currency:
                text += " " + lang._("Total {delta}.").format(delta=lang.signed_amount(facts.delta, facts.currency))
            if note:
                text += " " + lang._("Why: {note}").format(note=note)
            return text
        case Action.COMPLETE | Action.NOT_PERFORM:
            text = lang._("Version {number}, the closing record.").format(number=facts.version)
            if note:
                label = lang._("Reason: {reason}") if facts.action is Action.NOT_PERFORM else lang._("Note: {note}")
                text += " " + label.format(reason=note, note=note)
            return text
        case Action.RESCHEDULE:
            return _rescheduled(facts, lang, note)
        case Action.CHANGE_CREW:
            said = [lang._("added field worker {person}").format(person=marks.person(u)) for u in facts.people_added]
            said += [lang._("removed field worker {person}").format(person=marks.person(u))
                     for u in facts.people_removed]
            text = lang._("Version {number}: {changes}.").format(number=facts.version, changes="; ".join(said))
            if note:
                text += " " + lang._("Why: {note}").format(note=note)
            return text
    return ""  # pragma: no cover (every action is above)


def _rescheduled(facts: StepFacts, lang: Language, note: str | None) -> str:
    """'Version 2: scheduled for Dec 9, 2026, 8:00 AM – 12:00 PM (was Dec 4, 2026). Reason: …'"""
    values = {f.name: (f.before, f.after) for f in facts.fields}

    def at(index: int) -> str:
        day, start, end = (values.get(name, (None, None))[index]
                           for name in ("scheduled_date", "scheduled_start", "scheduled_end"))
        return scheduled(lang, date.fromisoformat(day), _hhmm(start), _hhmm(end)) if day else "—"

    text = lang._("Version {number}: scheduled for {after} (was {before}).").format(
        number=facts.version, after=at(1), before=at(0))
    if note:
        text += " " + lang._("Reason: {reason}").format(reason=note)
    return text


def _hhmm(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _version(facts: StepFacts, lang: Language) -> str:
    return lang._("Version {number}.").format(number=facts.version)


def _people(users: tuple[str, ...], marks: Marks) -> str:
    return ", ".join(marks.person(u) for u in users)


def _item(item: ItemFact, lang: Language, marks: Marks) -> str:
    name = marks.text(item.description)
    if item.quantity_after is None:
        return f"− {name}"
    if item.quantity_before is None:
        return f"+ {lang.number(item.quantity_after)} × {name}"
    return f"{name} {lang.number(item.quantity_before)} → {lang.number(item.quantity_after)}"
