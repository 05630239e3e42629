"""message: a step's message in the order's channel, rendered from its facts in the provider's language."""

from __future__ import annotations

from dataclasses import dataclass

from bot.effects.base import MAX_TEXT, Claim, Effects
from bot.render.facts import step_message
from workflow.effects import Message
from workflow.vocabulary import order_number


@dataclass(frozen=True)
class MessageView:
    channel: str
    text: str


def view(fx: Effects, effect: Claim) -> MessageView:
    payload = effect.payload
    assert isinstance(payload, Message)
    channel = fx.channel(fx.order(effect.order_id))
    if payload.facts is None:  # queued by the release before facts: its text as it was
        return MessageView(channel, payload.legacy or "")
    return MessageView(channel, step_message(payload.facts, order_number(effect.order_id), fx.provider_language))


def run(fx: Effects, effect: Claim) -> None:
    seen = view(fx, effect)
    fx.post(effect, seen.channel, seen.text[:MAX_TEXT])
    return None
