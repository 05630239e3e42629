"""invite: people into the order's channel; those Slack refuses are named there, for someone to replace."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.effects.base import Claim, Effects
from bot.gateway import SlackError
from bot.pacing import Deferred
from bot.profiles import learn
from bot.render.notices import could_not_add
from workflow.effects import Invite

log = logging.getLogger("bot.effects")


@dataclass(frozen=True)
class InviteView:
    channel: str
    users: list[str]


def view(fx: Effects, effect: Claim) -> InviteView:
    payload = effect.payload
    assert isinstance(payload, Invite)
    return InviteView(fx.channel(fx.order(effect.order_id)), list(payload.users))


def run(fx: Effects, effect: Claim) -> None:
    if fx.by_dm(fx.order(effect.order_id), effect):
        return None  # nobody is brought into a closed order's archived channel
    seen = view(fx, effect)
    refused = fx.gateway.invite(seen.channel, seen.users)
    try:  # a head start on who they are: the card waits for this effect, and needs none of it
        with fx.gateway.optional():
            learn(fx.engine, fx.gateway, seen.users, fx.clock())
    except (Deferred, SlackError) as skipped:  # refused, paced or failed: not worth holding up the order's card
        # those not learnt are when a document names them (pdf, fetch), when they act, or at their next invite
        log.info("invite %s: people not looked up now (%s)", effect.key, skipped)
    if refused:  # say it where people look: a deactivated field worker must be replaced by hand
        fx.gateway.post(seen.channel, could_not_add(refused, fx.provider_language), key=f"{effect.key}:refused")
    return None
