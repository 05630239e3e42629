"""card: the order card, rebuilt from the database in the provider's language, updated in place or posted
again if it was deleted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from bot.cards import card_blocks, card_text
from bot.effects.base import Claim, Effects, Record, set_values
from bot.gateway import ErrorCode, SlackError
from storage.models import ServiceOrder
from workflow.amounts import Amounts, current_amounts
from workflow.queries import OrderCard, order_card

log = logging.getLogger("bot.effects")


@dataclass(frozen=True)
class CardView:
    channel: str
    card: OrderCard
    figures: Amounts
    today: date  # the provider's: an approved order past its date shows as overdue (and late, past its deadline)


def view(fx: Effects, effect: Claim) -> CardView:
    order = fx.order(effect.order_id)
    channel = fx.channel(order)
    with Session(fx.engine) as session:
        provider = fx.letterhead.provider
        card = order_card(session, order.id, provider.currency)
        figures = current_amounts(session, [order.id], provider.currency, provider.tax_rate)[order.id]
    return CardView(channel, card, figures, fx.provider_today())


def run(fx: Effects, effect: Claim) -> Record | None:
    if fx.by_dm(fx.order(effect.order_id), effect):
        return None  # a closed order's archived channel keeps its last card; /order status tells the rest
    seen = view(fx, effect)
    card, lang = seen.card, fx.provider_language
    blocks = card_blocks(card, seen.today, lang, fx.letterhead.provider.currency, seen.figures, fx.completion)
    text = card_text(card, lang)
    if card.card_ts:
        try:
            fx.gateway.update(seen.channel, card.card_ts, text, blocks)
            return None
        except SlackError as error:
            if error.code not in (ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.CANT_UPDATE_MESSAGE):
                raise
            log.warning("card of %s was deleted; posting it again", card.number)
    ts = fx.post(effect, seen.channel, text, blocks)
    return lambda session: set_values(session.get(ServiceOrder, card.id), card_ts=ts)
