"""notify: a direct message from the app (its Messages tab), in the recipient's language: a field worker's
morning, a coordinator's digest. Posted into the DM by its id, so that after a lost answer the DM's history
says whether it went."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.effects.base import MAX_TEXT, Claim, Effects
from bot.effects.reminder import still
from bot.gateway import CHANNEL_GONE, ErrorCode, SlackError
from bot.render.reminders import direct_message
from workflow.effects import Notify
from workflow.vocabulary import order_number

log = logging.getLogger("bot.effects")


@dataclass(frozen=True)
class NotifyView:
    user: str
    text: str


def view(fx: Effects, effect: Claim) -> NotifyView | None:
    """Whom to tell what; None when the order moved on since it was due."""
    payload = effect.payload
    assert isinstance(payload, Notify)
    order = still(fx, effect, payload.state) if effect.order_id is not None else None
    if effect.order_id is not None and order is None:
        return None
    # a morning's order is loaded already; a digest's lines name theirs by id
    numbers = {order.id: order_number(order.number)} if order is not None else \
        fx.numbers(line.order_id for line in payload.orders)
    return NotifyView(payload.user, direct_message(payload, fx.reader_language(payload.user), numbers,
                                                   effect.order_id))


def run(fx: Effects, effect: Claim) -> None:
    seen = view(fx, effect)
    if seen is None:
        return None
    try:
        fx.post(effect, fx.gateway.open_dm(seen.user), seen.text[:MAX_TEXT])
    except SlackError as error:  # the person was deactivated: nobody to tell
        if error.code not in (ErrorCode.USER_DISABLED, ErrorCode.USER_NOT_FOUND, *CHANNEL_GONE):
            raise
        log.warning("direct message %s dropped: Slack says %s for %s", effect.key, error.code, seen.user)
    return None
