"""reminder: a reminder in the order's channel, in the provider's language; never into an archived channel,
never a new channel for it, and dropped if the order moved on since it was due."""

from __future__ import annotations

import logging

from bot.effects.base import MAX_TEXT, Claim, Effects
from bot.gateway import CHANNEL_GONE, SlackError
from bot.render.reminders import channel_reminder
from storage.models import ServiceOrder
from workflow.effects import Reminder
from workflow.vocabulary import order_number

log = logging.getLogger("bot.effects")


def still(fx: Effects, effect: Claim, state: str | None) -> ServiceOrder | None:
    """The order, if it is still in the state the reminder was about (it never goes to one that moved on)."""
    order = fx.order(effect.order_id) if effect.order_id is not None else None
    if order is not None and state not in (None, order.state):
        log.info("reminder %s dropped: %s is %s now", effect.key, order_number(order.id), order.state)
        return None
    return order


def run(fx: Effects, effect: Claim) -> None:
    payload = effect.payload
    assert isinstance(payload, Reminder)
    order = still(fx, effect, payload.state)
    if order is None:
        return None
    text = channel_reminder(payload, order_number(order.id), fx.provider_language)
    try:
        fx.post(effect, fx.channel(order), text[:MAX_TEXT])
    except SlackError as error:
        if error.code not in CHANNEL_GONE:
            raise
        log.info("reminder %s dropped: the channel of %s is gone (%s)", effect.key, order_number(order.id),
                 error.code)
    return None
