"""open_channel: the order's channel, made exactly once; and moving an open order whose channel was archived
or lost the app to a new one, with its people, its card and a word on why. A closed order's channel is never
replaced: what it still has to say goes to its people by direct message."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlmodel import Session

from bot.channels import channel_name
from bot.effects import card
from bot.effects.base import Claim, Effects, Record, set_values
from bot.gateway import ErrorCode, SlackError
from bot.render.notices import ChannelGone, continues_here
from storage.db import session_scope
from storage.models import ServiceOrder
from workflow.clock import aware
from workflow.queries import catalog_name, order_people
from workflow.vocabulary import State, order_number

log = logging.getLogger("bot.effects")

MAX_NAME_SUFFIX = 50


def open_channel(fx: Effects, effect: Claim) -> Record | None:
    order = fx.order(effect.order_id)
    if order.channel_id:
        return None
    name, channel_id = create(fx, order)
    return lambda session: set_values(session.get(ServiceOrder, order.id), channel_id=channel_id, channel_name=name)


def create(fx: Effects, order: ServiceOrder) -> tuple[str, str]:
    """The order's channel under the first free name: SO-000001-client, then -2, -3 … A name that is
    taken by a channel this bot made for this order (its answer was lost, or the process died before
    recording it) is that channel, not a reason to make a second one. After a 5xx or a lost answer the bot
    looks for the channel and, not finding it, asks again at once, once (then the effect's backoff): a first
    5xx used to cost the channel a backoff and a claim."""
    with Session(fx.engine) as session:
        client = catalog_name(session, "client", order.client_code).rsplit(" (", 1)[0]
    number = order_number(order.number)
    for suffix in range(1, MAX_NAME_SUFFIX + 1):
        name = channel_name(number, client, suffix)
        for again in (False, True):
            try:
                return name, fx.gateway.create_channel(name, fx.private_channels)
            except SlackError as error:
                if error.code != ErrorCode.NAME_TAKEN and not error.ambiguous:
                    raise
                if (mine := _made_for(fx, order, name)) is not None:
                    return name, mine
                if again:  # taken after an answer that never came: perhaps ours, not listed yet; look next try
                    raise
                if not error.ambiguous:
                    break  # another channel's name: the next one
    raise SlackError("conversations.create", ErrorCode.NAME_TAKEN, f"{MAX_NAME_SUFFIX} names tried")


def _made_for(fx: Effects, order: ServiceOrder, name: str) -> str | None:
    """The id of a usable channel called `name` that this bot made since the order was submitted."""
    channel = fx.gateway.my_channel(name)
    if channel is None or channel.get("is_archived"):
        return None
    if int(channel.get("created") or 0) < int(aware(order.created_at).timestamp()) - 60:
        return None  # an older install's channel, or an older database's
    return str(channel["id"])


def elsewhere(fx: Effects, effect: Claim, error: SlackError) -> Claim | None:
    """Where an effect runs again after Slack refused the order's channel (`error`): an open order's in a new
    channel (`moved`); a closed order's by direct message, its channel never replaced (tidy channels: a closed
    order's channel is archived on purpose). None if the channel is fine after all."""
    order = fx.order(effect.order_id)
    if not order.channel_id:
        return None
    if not State(order.state).is_closed:
        return effect if moved(fx, effect, error) else None
    if not _gone(fx, order, error):
        return None
    log.info("%s: channel %s refused (%s), the order is closed: %s goes by direct message",
             order_number(order.number), order.channel_id, error.code, effect.key)
    return replace(effect, by_dm=True)


def _gone(fx: Effects, order: ServiceOrder, error: SlackError) -> bool:
    """Whether a closed order's channel is archived (recorded, if nobody had: someone archived it by hand) or
    no longer lets the app in."""
    assert order.channel_id is not None
    try:
        info = fx.gateway.channel_info(order.channel_id)
    except SlackError as lookup:
        if lookup.code != ErrorCode.CHANNEL_NOT_FOUND:
            raise error from lookup
        return True
    if info.get("is_archived"):
        if order.channel_archived_at is None:
            found = fx.clock()
            with session_scope(fx.engine) as session:
                set_values(session.get(ServiceOrder, order.id), channel_archived_at=found)
        return True
    return not info.get("is_member", True)


def moved(fx: Effects, effect: Claim, error: SlackError) -> bool:
    """The order's channel is archived, or the bot was removed from it: the order goes on in a new
    channel, with its people and its card, and a word on why. False if the channel is fine after all."""
    order = fx.order(effect.order_id)
    if not order.channel_id:
        return False
    try:
        info = fx.gateway.channel_info(order.channel_id)
        if not info.get("is_archived") and info.get("is_member", True):
            return False
        why = ChannelGone.ARCHIVED if info.get("is_archived") else ChannelGone.APP_REMOVED
    except SlackError as lookup:
        if lookup.code != ErrorCode.CHANNEL_NOT_FOUND:
            raise error from lookup
        why = ChannelGone.NOT_FOUND
    old = order.channel_id
    name, channel_id = create(fx, order)
    with Session(fx.engine) as session:
        people = order_people(session, order)
    fx.gateway.invite(channel_id, people)
    number = order_number(order.number)
    fx.gateway.post(channel_id, continues_here(number, old, why, fx.provider_language), key=f"{effect.key}:moved")
    log.warning("%s: channel %s %s; moved to %s (%s)", number, old, why, channel_id, name)
    with session_scope(fx.engine) as session:
        set_values(session.get(ServiceOrder, order.id), channel_id=channel_id, channel_name=name, card_ts=None)
    record = card.run(fx, Claim(effect.id, order.id, "card", f"{effect.key}:moved-card", {}, again=effect.again))
    if record is not None:
        with session_scope(fx.engine) as session:
            record(session)
    return True
