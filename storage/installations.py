"""The tables of slack-sdk's SQLAlchemy installation and OAuth state stores (what an install from a link keeps:
each workspace's bot token, and the state that ties Slack's redirect to the browser that started it), made by
our migrations, not by the stores' create_tables(). Registered on SQLModel.metadata with the models, as the
stores define them, so the migrations are compared against them and the tests' drop_all empties them too."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlmodel import SQLModel

BOTS = "slack_bots"
INSTALLATIONS = "slack_installations"
OAUTH_STATES = "slack_oauth_states"

# the stores' own definitions (one source): migration 0019 makes them, tests/test_migrations.py checks it does
slack_installations = SQLAlchemyInstallationStore.build_installations_table(SQLModel.metadata, INSTALLATIONS)
slack_bots = SQLAlchemyInstallationStore.build_bots_table(SQLModel.metadata, BOTS)
slack_oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(SQLModel.metadata, OAUTH_STATES)
