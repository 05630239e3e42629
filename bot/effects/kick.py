"""kick: field workers a crew change removed, out of the order's private channel; those who still hold a part
in the order (requester, approver, reviewer, back on the crew since) stay. A public channel is anyone's to read:
nobody is kicked from it."""

from __future__ import annotations

from sqlmodel import Session

from bot.effects.base import Claim, Effects
from storage.models import ServiceOrder
from workflow.crew import parts_kept
from workflow.effects import Kick


def run(fx: Effects, effect: Claim) -> None:
    payload = effect.payload
    assert isinstance(payload, Kick) and effect.order_id is not None
    order = fx.order(effect.order_id)
    channel = fx.channel(order)
    if not fx.private_channels:
        return None
    with Session(fx.engine) as session:  # read when it runs: someone added back meanwhile stays
        kept = parts_kept(session, session.get(ServiceOrder, order.id))  # type: ignore[arg-type]
    for user in payload.users:
        if user not in kept:
            fx.gateway.kick(channel, user)
    return None
