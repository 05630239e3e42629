"""Reminders in words: the one in an order's channel (the provider's language) and the direct messages, a
field worker's morning and a coordinator's digest (each in the recipient's language)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.mrkdwn import SLACK, Marks
from i18n import Language
from i18n.domain import priority
from workflow.effects import Notify, NotifyAbout, Reminder, ReminderAbout


def channel_reminder(reminder: Reminder, number: str, lang: Language, marks: Marks = SLACK) -> str:
    if reminder.about is None:
        return reminder.legacy or ""
    waits = _change_waits if reminder.change is not None else _order_waits
    text = waits(reminder, lang).format(number=number, hours=lang.number(reminder.hours),
                                        priority=priority(lang, reminder.priority) if reminder.priority else "")
    who = " ".join(marks.person(u) for u in reminder.people)
    return f"{who}: {text}" if who else text


def _order_waits(reminder: Reminder, lang: Language) -> str:
    if reminder.hours == 0 and reminder.priority:  # due at once (an urgent order, by default): no "0 h"
        return lang._("{number} waits for approval, with priority {priority}.")
    if reminder.about is ReminderAbout.APPROVAL:
        return lang._("{number} has waited over {hours} h for approval.")
    return lang._("{number} has waited over {hours} h for approval; nobody has approved or rejected it yet.")


def _change_waits(reminder: Reminder, lang: Language) -> str:
    """An approved order's change that raised its total: the crew waits for the decision, not the order's start."""
    if reminder.hours == 0 and reminder.priority:
        return lang._("A change to {number} waits for approval, with priority {priority}.")
    if reminder.about is ReminderAbout.APPROVAL:
        return lang._("A change to {number} has waited over {hours} h for approval.")
    return lang._("A change to {number} has waited over {hours} h for approval; nobody has approved or rejected "
                  "it yet.")


def direct_message(notify: Notify, lang: Language, numbers: Mapping[int, str], order_id: int | None,
                   marks: Marks = SLACK) -> str:
    """`numbers`: the number people read (SO-000042) of each order it names, by id (a payload holds ids)."""
    if notify.about is None:
        return notify.legacy or ""
    if notify.about is NotifyAbout.MORNING:
        return morning(notify, numbers.get(order_id or 0, ""), lang, marks)
    return digest(notify, lang, numbers, marks)


def morning(notify: Notify, number: str, lang: Language, marks: Marks = SLACK) -> str:
    if notify.scheduled_date is None:
        return lang._("Good morning: {number} is scheduled for today.").format(number=number)
    text = lang._("Good morning: {number} is scheduled for today, {date}.").format(
        number=number, date=lang.date(notify.scheduled_date, "full"))
    if notify.channel_id:
        text += " " + lang._("Its channel: {channel}.").format(channel=marks.channel(notify.channel_id))
    return text


def digest(notify: Notify, lang: Language, numbers: Mapping[int, str], marks: Marks = SLACK) -> str:
    count = notify.count
    title = lang.n_("{count} overdue order", "{count} overdue orders", count).format(count=lang.number(count))
    lines = [marks.bold(title) + " " + lang._("(approved, past the scheduled date, not closed):")]
    if notify.late:
        lines.append(lang.n_("{count} of them is late: past its completion deadline.",
                             "{count} of them are late: past their completion deadline.", notify.late).format(
            count=lang.number(notify.late)))
    for line in notify.orders:
        where = f" {marks.channel(line.channel_id)}" if line.channel_id else ""
        late = (" · " + lang._("late: due by {date}").format(date=lang.date(line.due_by))) if line.due_by else ""
        lines.append(f"• {numbers.get(line.order_id, '')}{where} · "
                     + lang._("scheduled {date}").format(date=lang.date(line.scheduled_date)) + late)
    if count > len(notify.orders):
        lines.append(lang._("…and {count} more: {command}.").format(
            count=lang.number(count - len(notify.orders)), command="`/order list overdue`"))
    return "\n".join(lines)
