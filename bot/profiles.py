"""What the bot learns of people from Slack (users.info): names for PDFs, time zones for dates."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.gateway import Gateway
from workflow.people import known_names, remember


def learn(engine: Engine, gateway: Gateway, users: list[str]) -> None:
    """Ask Slack once per person we do not know yet."""
    for user in sorted(set(users) - known_names(engine, users)):
        profile = gateway.profile(user)
        if profile:
            remember(engine, user, *profile)
