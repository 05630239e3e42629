"""message: a step's message in the order's channel, rendered from its facts in the provider's language."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.effects.base import MAX_TEXT, Claim, Effects
from bot.gateway import CHANNEL_GONE, ErrorCode, SlackError
from bot.render.facts import decision_message, step_message, to_requester
from workflow.decisions import TELL_REQUESTER
from workflow.effects import Message
from workflow.vocabulary import order_number

log = logging.getLogger("bot.effects")


@dataclass(frozen=True)
class MessageView:
    channel: str
    text: str
    requester: str | None = None  # a decision: the requester hears of it (mentioned, or by direct message)


def view(fx: Effects, effect: Claim) -> MessageView:
    payload = effect.payload
    assert isinstance(payload, Message)
    order = fx.order(effect.order_id)
    channel = fx.channel(order)
    if payload.facts is None:  # queued by the release before facts: its text as it was
        return MessageView(channel, payload.legacy or "")
    text = step_message(payload.facts, order_number(effect.order_id), fx.provider_language)
    if payload.facts.action in TELL_REQUESTER:
        return MessageView(channel, to_requester(text, order.requester_id, fx.provider_language), order.requester_id)
    return MessageView(channel, text)


def run(fx: Effects, effect: Claim) -> None:
    seen = view(fx, effect)
    fx.post(effect, seen.channel, seen.text[:MAX_TEXT])
    if seen.requester and not fx.gateway.is_member(seen.channel, seen.requester):
        _tell_requester(fx, effect, seen.channel, seen.requester)
    return None


def _tell_requester(fx: Effects, effect: Claim, channel: str, requester: str) -> None:
    """The decision by direct message, in the requester's language, to someone who left the order's channel
    (or was never let in); at most once, like every keyed post."""
    payload = effect.payload
    assert isinstance(payload, Message) and payload.facts is not None
    key = f"{effect.key}:requester"
    try:
        dm = fx.gateway.open_dm(requester)
        if effect.again and fx.gateway.find_post(dm, key) is not None:
            return
        number = order_number(effect.order_id)
        fx.gateway.post(dm, decision_message(payload.facts, number, channel, fx.reader_language(requester))[:MAX_TEXT],
                        key=key)
    except SlackError as error:  # the requester was deactivated: nobody to tell
        if error.code not in (ErrorCode.USER_DISABLED, ErrorCode.USER_NOT_FOUND, *CHANNEL_GONE):
            raise
        log.warning("decision on %s not sent to %s: Slack says %s", effect.order_id, requester, error.code)
