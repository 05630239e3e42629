"""home: App Home republished for those whose lists a step changed (and who have opened it). The runner hands
over every refresh due in a workspace at once (bot/effects/runner.py): each viewer's Home is published once for
them all, with what the database holds now, the latest state of every order they name. Viewers this process
published longest ago go first, so a batch put back midway by Slack's pace reaches the others when it comes
back rather than the same first few again."""

from __future__ import annotations

import time

from sqlmodel import Session

from bot.effects.base import Claim, Effects
from bot.home import render_home
from storage.scope import current
from workflow.effects import Home
from workflow.people import whose_home_to_refresh
from workflow.queries import orders_people


def refresh(fx: Effects, effects: list[Claim]) -> None:
    with Session(fx.engine) as session:
        involved = orders_people(session, {e.order_id for e in effects if e.order_id is not None})
        for effect in effects:
            involved += list(effect.payload.also) if isinstance(effect.payload, Home) else []
        users = whose_home_to_refresh(session, involved)
    provider = fx.letterhead.provider
    workspace = current()
    for user in sorted(users, key=lambda user: fx.home_published.get((workspace, user), 0.0)):
        fx.gateway.publish_home(user, render_home(fx.engine, user, fx.clock(), provider.timezone,
                                                      provider_locale=provider.locale, currency=provider.currency,
                                                      tax_rate=provider.tax_rate, days=fx.completion))
        fx.home_published[(workspace, user)] = time.monotonic()
