"""message: a step's message in the order's channel, rendered from its facts in the provider's language."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.effects.base import MAX_TEXT, Claim, Effects
from bot.render.facts import decision_message, step_message, to_requester
from bot.render.notices import evidence_taken
from storage.models import ServiceOrder
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
    text = step_message(payload.facts, order_number(order.number), fx.provider_language)
    if payload.facts.action in TELL_REQUESTER:
        return MessageView(channel, to_requester(text, order.requester_id, fx.provider_language), order.requester_id)
    return MessageView(channel, text)


def run(fx: Effects, effect: Claim) -> None:
    order = fx.order(effect.order_id)
    payload = effect.payload
    assert isinstance(payload, Message)
    if payload.evidence is not None:  # photos shared in the channel: the reply in their thread
        if fx.by_dm(order, effect):  # closed and archived since: there is no thread to answer in
            return None
        text = evidence_taken(order_number(order.number), payload.evidence.names, fx.provider_language)
        fx.post(effect, fx.channel(order), text[:MAX_TEXT], thread_ts=payload.evidence.thread_ts)
        return None
    if fx.by_dm(order, effect):
        return _after_archiving(fx, effect, order)
    seen = view(fx, effect)
    fx.post(effect, seen.channel, seen.text[:MAX_TEXT])
    if seen.requester and not fx.gateway.is_member(seen.channel, seen.requester):
        _tell_requester(fx, effect, order_number(order.number), seen.channel, seen.requester)
    return None


def _tell_requester(fx: Effects, effect: Claim, number: str, channel: str, requester: str) -> None:
    """The decision by direct message, in the requester's language, to someone who left the order's channel
    (or was never let in); at most once, like every keyed post."""
    payload = effect.payload
    assert isinstance(payload, Message) and payload.facts is not None
    fx.direct_message(effect, requester, decision_message(payload.facts, number, channel,
                                                          fx.reader_language(requester)), f"{effect.key}:requester")


def _after_archiving(fx: Effects, effect: Claim, order: ServiceOrder) -> None:
    """The message of a closed order whose channel is archived: to each of its people (a channel that is
    archived is never replaced)."""
    payload = effect.payload
    assert isinstance(payload, Message)
    number = order_number(order.number)
    fx.tell_people(effect, order, lambda lang: step_message(payload.facts, number, lang) if payload.facts
                   else payload.legacy or "")
    return None
