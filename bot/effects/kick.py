"""kick: field workers a crew change removed, out of the order's private channel; those who still hold a part
in the order (requester, approver, reviewer, back on the crew since) stay. A public channel is anyone's to read:
nobody is kicked from it."""

from __future__ import annotations

import logging

from sqlmodel import Session

from bot.effects.base import Claim, Effects
from bot.gateway import SlackError
from storage.models import ServiceOrder
from workflow.crew import parts_kept
from workflow.effects import Kick

log = logging.getLogger(__name__)


def run(fx: Effects, effect: Claim) -> None:
    payload = effect.payload
    assert isinstance(payload, Kick) and effect.order_id is not None
    order = fx.order(effect.order_id)
    if not fx.private_channels or fx.by_dm(order, effect):
        return None  # a public channel is anyone's to read; an archived one, nobody's to post in
    channel = fx.channel(order)
    with Session(fx.engine) as session:  # read when it runs: someone added back meanwhile stays
        kept = parts_kept(session, session.get(ServiceOrder, order.id))  # type: ignore[arg-type]
    for user in payload.users:
        if user in kept:
            continue
        try:
            fx.gateway.kick(channel, user)
        except SlackError as error:
            if error.not_answering or error.admin_action:
                raise  # Slack may answer later, or the app needs an admin: retried, as every effect is
            # Slack refuses it for this one person (only admins may remove people in this workspace; they left
            # Slack): they stay in the channel, and the order's later cards and PDFs do not wait on it
            log.warning("could not remove %s from %s (%s): they stay in the channel", user, channel, error.code)
    return None
