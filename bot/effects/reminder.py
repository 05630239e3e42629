"""reminder: a reminder in the order's channel, in the provider's language; never into an archived channel,
never a new channel for it, and dropped if the order moved on since it was due."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.effects.base import MAX_TEXT, Claim, Effects
from bot.gateway import CHANNEL_GONE, SlackError
from bot.render.reminders import channel_reminder
from storage.models import ServiceOrder
from workflow.effects import Reminder
from workflow.vocabulary import WORK_IN_PROGRESS, State, order_number

log = logging.getLogger("bot.effects")


@dataclass(frozen=True)
class ReminderView:
    number: str
    channel: str
    text: str


def still(fx: Effects, effect: Claim, state: str | None) -> ServiceOrder | None:
    """The order, if it is still in the state the reminder was about (it never goes to one that moved on). Approved
    work with a change waiting for approval is still that work: a field worker's morning goes on."""
    order = fx.order(effect.order_id) if effect.order_id is not None else None
    same_work = state in WORK_IN_PROGRESS and order is not None and order.state in WORK_IN_PROGRESS
    if order is not None and state not in (None, order.state) and not same_work:
        log.info("reminder %s dropped: %s is %s now", effect.key, order_number(order.number), order.state)
        return None
    return order


def view(fx: Effects, effect: Claim) -> ReminderView | None:
    """What to post where; None when the reminder is to be dropped."""
    payload = effect.payload
    assert isinstance(payload, Reminder)
    order = still(fx, effect, payload.state)
    if order is None:
        return None
    if payload.level is not None and payload.level != order.approval_level:
        log.info("reminder %s dropped: %s waits for another level of approval now", effect.key,
                 order_number(order.number))
        return None
    # about a change: `still` lets approved work through (a morning goes on), but this reminder asks for a decision
    # that was taken if the change no longer waits, and another change waiting has its own reminders
    if payload.change is not None and (order.state != State.CHANGE_PENDING or order.revision != payload.change):
        log.info("reminder %s dropped: the change it was about no longer waits on %s", effect.key,
                 order_number(order.number))
        return None
    number = order_number(order.number)
    return ReminderView(number, fx.channel(order), channel_reminder(payload, number, fx.provider_language))


def run(fx: Effects, effect: Claim) -> None:
    seen = view(fx, effect)
    if seen is None:
        return None
    try:
        fx.post(effect, seen.channel, seen.text[:MAX_TEXT])
    except SlackError as error:
        if error.code not in CHANNEL_GONE:
            raise
        log.info("reminder %s dropped: the channel of %s is gone (%s)", effect.key, seen.number, error.code)
    return None
