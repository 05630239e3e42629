"""What the bot learns of people from Slack (users.info): names for PDFs, time zones for dates, the language
each reads Slack in. Asked after an ack, never in one: for someone new, or whose profile is a day old (people
change their name, zone or language in Slack, and Slack tells an app nothing of it)."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.gateway import Gateway, SlackError
from i18n import from_slack
from workflow.clock import utcnow
from workflow.people import Known, known, known_since, remember

STALE_AFTER = timedelta(days=1)


def learn(engine: Engine, gateway: Gateway, users: list[str], now: datetime | None = None) -> None:
    """Ask Slack about each of `users` not learnt in the day before `now` (the bot's clock; the machine's when
    not given)."""
    now = now or utcnow()
    for user in sorted(set(users) - known_since(engine, users, now - STALE_AFTER)):
        profile = gateway.profile(user)
        if profile:
            # Slack's 'es-LA' is CLDR's es_419; a language we do not ship is None: they read the provider's
            remember(engine, user, profile.name, profile.tz, from_slack(profile.locale), now=now)


def refresh(engine: Engine, gateway: Gateway, user: str, now: datetime) -> Known | None:
    """What we know of the person who just acted, after the ack: one read, and a users.info call first only if
    they are new or a day old. If Slack fails to answer, they read as before (None: never learnt)."""
    before = known(engine, user)
    if before is not None and before.learnt >= now - STALE_AFTER:
        return before
    with suppress(SlackError):
        if profile := gateway.profile(user):
            return remember(engine, user, profile.name, profile.tz, from_slack(profile.locale), now=now)
    return before
