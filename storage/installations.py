"""The tables of slack-sdk's SQLAlchemy installation and OAuth state stores (what an install from a link keeps:
each workspace's bot token, and the state that ties Slack's redirect to the browser that started it), made by
our migrations, not by the stores' create_tables(). Declared here as plain SQLAlchemy tables, as the stores read
them (storage/ imports no Slack library: only bot/ does); tests/test_oauth.py checks they are still exactly the
stores' own. Registered on SQLModel.metadata with the models, so migrations are compared against them and the
tests' drop_all empties them too."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, func
from sqlmodel import SQLModel

BOTS = "slack_bots"
INSTALLATIONS = "slack_installations"
OAUTH_STATES = "slack_oauth_states"


def _owner(*, url: bool) -> list[Column]:  # type: ignore[type-arg]
    """The app and the workspace an installation or a bot is for (an installation keeps its org's URL too)."""
    return [Column("id", Integer, primary_key=True, autoincrement=True),
            Column("client_id", String(32), nullable=False), Column("app_id", String(32), nullable=False),
            Column("enterprise_id", String(32)), Column("enterprise_name", String(200)),
            *([Column("enterprise_url", String(200))] if url else []),
            Column("team_id", String(32)), Column("team_name", String(200))]


def _bot() -> list[Column]:  # type: ignore[type-arg]
    return [Column("bot_token", String(200)), Column("bot_id", String(32)), Column("bot_user_id", String(32)),
            Column("bot_scopes", String(1000)), Column("bot_refresh_token", String(200)),
            Column("bot_token_expires_at", DateTime)]


slack_installations = Table(
    INSTALLATIONS, SQLModel.metadata, *_owner(url=True), *_bot(),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(f"{INSTALLATIONS}_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    BOTS, SQLModel.metadata, *_owner(url=False), *_bot(),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(f"{BOTS}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    OAUTH_STATES, SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
