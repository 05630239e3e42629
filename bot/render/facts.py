"""A step's facts (workflow/facts.py) in words: the message a step posts in the order's channel, and one line
per audit row, in a given language. Step words come from i18n/domain.py; Slack markup from `Marks`."""

from __future__ import annotations

from datetime import date, time

from bot.mrkdwn import SLACK, Marks, channel_link
from bot.render.money import amounts_text
from i18n import N_, Language
from i18n.domain import APPROVAL_OF, DONE, PROPOSED, priority, who_may
from i18n.schedule import scheduled
from storage.models import AuditEvent
from workflow.amounts import Amounts
from workflow.document import money
from workflow.facts import ItemFact, StepFacts
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action, Role


def describe(event: AuditEvent, lang: Language, marks: Marks = SLACK) -> str:
    """One audit row as a line: who did what, then what it changed ("Ana approved the order. Version 1. …")."""
    return sentence(StepFacts.loads(event.detail), lang, marks)


def sentence(facts: StepFacts, lang: Language, marks: Marks = SLACK) -> str:
    if facts.partial:  # one level of several: the order is not approved yet
        done = lang._("{person} gave the approval of level {level} of {levels}.").format(
            person=marks.person(facts.actor), level=facts.level, levels=facts.levels)
    else:
        did = PROPOSED.get(facts.action, DONE[facts.action]) if facts.proposed else DONE[facts.action]
        done = lang._("{person} {did}.").format(person=marks.person(facts.actor), did=lang._(did))
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
    if facts.proposed:  # held for approval: those who may approve it are asked, by name
        return f"{sentence(facts, lang, marks)} {waiting_for(facts, lang, marks)}"
    if facts.action is Action.RESUBMIT and facts.reviewers:
        ask = lang._("{people}, please review it.").format(people=" ".join(marks.person(u) for u in facts.reviewers))
        return f"{sentence(facts, lang, marks)} {ask}"
    return sentence(facts, lang, marks)


def waiting_for(facts: StepFacts, lang: Language, marks: Marks = SLACK) -> str:
    """Who a change waiting for approval waits for: they are asked to approve or reject it."""
    if not facts.reviewers:
        return lang._("Waiting for approval of the change, and nobody else can approve it yet: an admin must "
                      "grant someone the role its total needs (service-orders roles grant USER ROLE).")
    return lang._("Waiting for approval of the change: {people}, please approve or reject it.").format(
        people=" ".join(marks.person(u) for u in facts.reviewers))


def approvers_line(facts: StepFacts, lang: Language, marks: Marks = SLACK) -> str:
    """On the card of a change waiting for approval: who may decide it."""
    if not facts.reviewers:
        return lang._("Nobody else can approve it yet: an admin must grant someone the role its total needs.")
    return lang._("{people} may approve or reject it.").format(
        people=" ".join(marks.person(u) for u in facts.reviewers))


def to_requester(message: str, requester: str, lang: Language, marks: Marks = SLACK) -> str:
    """A decision's channel message, addressed to the order's requester (an @mention: Slack notifies them)."""
    return lang._("{requester}: {message}").format(requester=marks.person(requester), message=message)


def decision_message(facts: StepFacts, number: str, channel: str, lang: Language, marks: Marks = SLACK) -> str:
    """A decision on their order, told to a requester who is not in its channel."""
    return lang._("Your order {number} ({channel}): {message}").format(
        number=number, channel=channel_link(channel), message=sentence(facts, lang, marks))


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
            if figures := _figures(facts):
                parts.append(amounts_text(lang, figures) + ".")
            elif facts.total is not None and facts.currency:
                parts.append(lang._("Total {amount}.").format(amount=lang.amount(facts.total, facts.currency)))
            if facts.requested_date:
                parts.append(lang._("Requested for {date}.").format(date=lang.date(facts.requested_date)))
            return " ".join(parts)
        case Action.APPROVE if facts.partial:
            return _partial(facts, lang, marks, note)
        case Action.APPROVE:
            parts = [_version(facts, lang)]
            if facts.level is not None:
                parts.insert(0, lang._("Last level of approval ({level} of {levels}).").format(
                    level=facts.level, levels=facts.levels))
            if facts.people_added:
                parts.append(lang._("Field workers: {people}.").format(people=_people(facts.people_added, marks)))
            if facts.scheduled_date:
                parts.append(lang._("Scheduled for {date}.").format(date=lang.date(facts.scheduled_date)))
            if figures := _figures(facts):
                parts.append(amounts_text(lang, figures) + ".")
            if note:
                parts.append(lang._("Notes: {note}").format(note=note))
            return " ".join(parts)
        case Action.REJECT:
            return lang._("Reason: {reason}").format(reason=note) if note else ""
        case Action.CONFIRM:
            said = [_item(item, lang, marks) for item in facts.items]
            said += [lang._("added field worker {person}").format(person=marks.person(u))
                     for u in facts.people_added]
            return _new_version(facts, said, note, lang)
        case Action.SET_PRICES:
            return _new_version(facts, [_price(item, facts.currency or "USD", lang, marks) for item in facts.items],
                                note, lang)
        case Action.APPROVE_CHANGE | Action.REJECT_CHANGE:
            return _decided(facts, note, lang, marks)
        case Action.EDIT | Action.RESUBMIT:
            return f"{_revision(facts, lang, marks)} {_cleared(facts, lang, marks)}".strip()
        case Action.WITHDRAW | Action.WITHDRAW_SENT_BACK:
            return lang._("Reason: {reason}").format(reason=note) if note else ""
        case Action.SEND_BACK:
            asked = lang._("What to change: {note}").format(note=note) if note else ""
            return f"{asked} {_cleared(facts, lang, marks)}".strip()
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


def _partial(facts: StepFacts, lang: Language, marks: Marks, note: str | None) -> str:
    """An approval that leaves a further level to give: level 1's choices, and whose approval comes next."""
    parts = []
    if facts.scheduled_date:
        parts.append(lang._("Proposed for {date}.").format(date=lang.date(facts.scheduled_date)))
    next_level = (facts.level or 0) + 1
    role = Role(facts.next_role) if facts.next_role else Role.SUPERVISOR
    parts.append(lang._("Next: {approval} (level {level} of {levels}).").format(
        approval=lang._(APPROVAL_OF[role]), level=next_level, levels=facts.levels))
    if facts.next_people:
        parts.append(lang._("{people}, please review it.").format(people=" ".join(marks.person(u)
                                                                                  for u in facts.next_people)))
    else:
        parts.append(lang._("Nobody else can yet: an admin must grant the role (service-orders roles grant USER "
                            "ROLE)."))
    if note:  # last: what a person typed, with no period of ours after it
        parts.append(lang._("Notes: {note}").format(note=note))
    return " ".join(parts)


def _cleared(facts: StepFacts, lang: Language, marks: Marks) -> str:
    """An edit or send-back after some levels approved: those approvals no longer stand."""
    if not facts.cleared:
        return ""
    return lang._("The approvals given so far ({people}) no longer stand: the order needs them again.").format(
        people=_people(facts.cleared, marks))


def _figures(facts: StepFacts) -> Amounts | None:
    """The order's money after the step, as its PDF shows it (facts recorded before the tax rate was: None)."""
    if facts.total is None or facts.currency is None or facts.tax_rate is None:
        return None
    return Amounts(facts.currency, facts.tax_rate, facts.total, money(facts.total * facts.tax_rate, facts.currency))


# the request's fields an edit may change, as a reader names them
_FIELD_LABELS = {"client": N_("Client"), "site": N_("Site"), "requested_date": N_("Requested date"),
                 "priority": N_("Priority"), "description": N_("Description")}


def _field_value(name: str, value: str | None, lang: Language, marks: Marks) -> str:
    if value is None:
        return "—"
    if name == "requested_date":
        return lang.date(date.fromisoformat(value))
    if name == "priority":
        return priority(lang, value)
    return marks.text(value if len(value) <= 200 else value[:200] + "…")


def _revision(facts: StepFacts, lang: Language, marks: Marks) -> str:
    """An edit or resubmission of the request: each changed field before → after, then the items."""
    said = [f"{lang._(_FIELD_LABELS.get(f.name, f.name))}: {_field_value(f.name, f.before, lang, marks)} → "
            f"{_field_value(f.name, f.after, lang, marks)}" for f in facts.fields]
    said += [_item(item, lang, marks) for item in facts.items]
    if not said:
        return lang._("No changes to the request.")
    text = lang._("Changes: {changes}.").format(changes="; ".join(said).rstrip("."))  # one period, not two
    if facts.items and facts.delta is not None and facts.currency:
        text += " " + _change_before_tax(facts, lang)
    return text


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


def _price(item: ItemFact, currency: str, lang: Language, marks: Marks) -> str:
    """One line's unit price, before and after: "Filter: no price → $12.50 each"."""
    def shown(value: object) -> str:
        return lang.amount(value, currency) if value is not None else lang._("no price")  # type: ignore[arg-type]

    return lang._("{item}: unit price {before} → {after}").format(
        item=marks.text(item.description), before=shown(item.unit_price_before), after=shown(item.unit_price_after))


def _change_before_tax(facts: StepFacts, lang: Language) -> str:
    """What a step did to the subtotal (before tax: the figures after it say the tax and the total)."""
    assert facts.delta is not None and facts.currency is not None
    return lang._("Change before tax: {delta}.").format(delta=lang.signed_amount(facts.delta, facts.currency))


def _changes(facts: StepFacts, lang: Language, marks: Marks) -> list[str]:
    """A change's items (and added people), as a confirmation or a pricing says them."""
    if facts.step == Action.SET_PRICES:
        return [_price(item, facts.currency or "USD", lang, marks) for item in facts.items]
    return [*(_item(item, lang, marks) for item in facts.items),
            *(lang._("added field worker {person}").format(person=marks.person(u)) for u in facts.people_added)]


def _decided(facts: StepFacts, note: str | None, lang: Language, marks: Marks) -> str:
    """A change waiting for approval, approved (its version, what it changed, its author's why) or rejected (why,
    told to its author)."""
    author = marks.person(facts.author or "")
    changes = "; ".join(_changes(facts, lang, marks))
    if facts.action is Action.REJECT_CHANGE:
        text = lang._("{author}, your change ({changes}) was not made; the current version stays.").format(
            author=author, changes=changes)
        return text + (" " + lang._("Reason: {reason}").format(reason=note) if note else "")
    text = lang._("Version {number}, proposed by {author}: {changes}.").format(
        number=facts.version, author=author, changes=changes)
    return _money_and_why(facts, text, note, lang)


def _new_version(facts: StepFacts, said: list[str], note: str | None, lang: Language) -> str:
    """A step that changed the items or their prices: what changed, what it did to the money, and why (held for
    approval: what it would change)."""
    if facts.proposed:
        text = lang._("Proposed: {changes}.").format(changes="; ".join(said))
    else:
        text = lang._("Version {number}: {changes}.").format(number=facts.version, changes="; ".join(said))
    return _money_and_why(facts, text, note, lang)


def _money_and_why(facts: StepFacts, text: str, note: str | None, lang: Language) -> str:
    if facts.delta is not None and facts.currency:
        text += " " + _change_before_tax(facts, lang)
    if figures := _figures(facts):
        text += " " + amounts_text(lang, figures) + "."
    if note:
        text += " " + lang._("Why: {note}").format(note=note)
    return text
