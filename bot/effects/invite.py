"""invite: people into the order's channel; those Slack refuses are named there, for someone to replace."""

from __future__ import annotations

from bot.effects.base import Claim, Effects
from bot.profiles import learn
from bot.render.notices import could_not_add
from workflow.effects import Invite


def run(fx: Effects, effect: Claim) -> None:
    payload = effect.payload
    assert isinstance(payload, Invite)
    users = list(payload.users)
    channel = fx.channel(fx.order(effect.order_id))
    refused = fx.gateway.invite(channel, users)
    learn(fx.engine, fx.gateway, users)
    if refused:  # say it where people look: a deactivated field worker must be replaced by hand
        fx.gateway.post(channel, could_not_add(refused, fx.provider_language), key=f"{effect.key}:refused")
    return None
