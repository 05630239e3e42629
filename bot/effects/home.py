"""home: App Home republished for those whose lists the step changed (and who have opened it)."""

from __future__ import annotations

from sqlmodel import Session

from bot.effects.base import Claim, Effects
from bot.home import render_home
from storage.models import ServiceOrder
from workflow.effects import Home
from workflow.people import whose_home_to_refresh
from workflow.queries import order_people


def run(fx: Effects, effect: Claim) -> None:
    with Session(fx.engine) as session:
        order = session.get(ServiceOrder, effect.order_id) if effect.order_id is not None else None
        also = list(effect.payload.also) if isinstance(effect.payload, Home) else []
        users = whose_home_to_refresh(session, (order_people(session, order) if order else []) + also)
    for user in users:
        fx.gateway.publish_home(user, render_home(fx.engine, user, fx.clock(), fx.letterhead.provider.timezone,
                                                      provider_locale=fx.letterhead.provider.locale,
                                                      currency=fx.letterhead.provider.currency,
                                                      tax_rate=fx.letterhead.provider.tax_rate, days=fx.completion))
    return None
