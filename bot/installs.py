"""Installed from a link: each workspace's bot as slack-sdk's SQLAlchemy installation store keeps it (its tables
are migration 0019's), cached in the process; Bolt's authorize from it, with no Slack call (Bolt's own
InstallationStoreAuthorize asks auth.test for every new token, inside that request's ack); and the registry of
served workspaces (slack_workspace) kept in step with installs and uninstalls."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, update
from sqlmodel import Session

from bot.gateway import InstalledBot
from storage.db import session_scope
from storage.models import PendingEffect, SlackWorkspace
from storage.scope import serving

log = logging.getLogger(__name__)

CANCELLED = "cancelled"  # a pending effect of a workspace that uninstalled the app: never run


class Installations:
    """Each workspace's bot token, from the installation store; cached until Slack refuses it or the workspace
    uninstalls (another process that still holds a dead token drops it at its first refusal, see Gateway)."""

    def __init__(self, engine: Engine, client_id: str) -> None:
        self.engine = engine
        self.store = SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        self._bots: dict[str, InstalledBot] = {}
        self._orgs: dict[str, str | None] = {}  # team: its Enterprise Grid org, as its installation says
        self._lock = threading.Lock()

    def bot(self, team_id: str, enterprise_id: str | None = None) -> InstalledBot | None:
        with self._lock:
            cached = self._bots.get(team_id)
        if cached is not None:
            return cached
        org = enterprise_id if enterprise_id is not None else self._org_of(team_id)
        found = self.store.find_bot(enterprise_id=org, team_id=team_id)
        if found is None or not found.bot_token or not found.bot_user_id:
            return None
        bot = InstalledBot(team_id, found.bot_token, found.bot_user_id, found.bot_id, org,
                           tuple(found.bot_scopes or ()))
        with self._lock:
            self._bots[team_id] = bot
        return bot

    def _org_of(self, team_id: str) -> str | None:
        """The org the workspace belongs to, from the registry (the store looks installations up by both)."""
        with Session(self.engine) as session:
            row = session.get(SlackWorkspace, team_id)
        return row.enterprise_id if row else None

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._bots.pop(team_id, None)

    def installed(self, installation: Installation, when: datetime) -> None:
        """An install (or reinstall) was stored: the workspace is served, from now on, again if it had left."""
        team = str(installation.team_id)
        self.forget(team)
        # no adoption of the rows no workspace holds (the CLI's, written before any install): /slack/install is
        # public, so whoever installed first would take them. The operator installs, then writes with --team
        with session_scope(self.engine) as session:
            row = session.get(SlackWorkspace, team) or SlackWorkspace(
                team_id=team, team_name="", bot_user_id="", connected_at=when)
            row.team_name, row.enterprise_id = installation.team_name or "", installation.enterprise_id
            row.bot_user_id, row.uninstalled_at = str(installation.bot_user_id or ""), None
            session.add(row)
        log.info("installed in workspace %s (%s)", team, installation.team_name)

    def uninstalled(self, team_id: str, enterprise_id: str | None, why: str, when: datetime) -> int:
        """The app left a workspace (`why`: the event that said so): its installation is deleted, its row marked,
        its pending and failed effects cancelled (the other workspaces' go on). Returns how many were cancelled."""
        # Slack's uninstall events name the team alone: a Grid workspace's org is the registry's
        org = enterprise_id if enterprise_id is not None else self._org_of(team_id)
        self.store.delete_all(enterprise_id=org, team_id=team_id)
        self.forget(team_id)
        with serving(team_id), session_scope(self.engine) as session:
            row = session.get(SlackWorkspace, team_id)
            if row is not None and row.uninstalled_at is None:
                row.uninstalled_at = when
                session.add(row)
            stopped = session.execute(
                # failed ones too: Slack revokes the token before it says so, and an effect run in between
                # failed with token_revoked; none can ever run, so `effects retry` must not bring them back
                update(PendingEffect).where(PendingEffect.workspace == team_id,
                                            PendingEffect.status.in_(("pending", "failed")))
                .values(status=CANCELLED, claimed_until=None, claimed_by=None,
                        last_error=f"the app was uninstalled from workspace {team_id} ({why})")).rowcount
        log.warning("workspace %s uninstalled the app (%s): its installation is deleted and %d effects "
                    "it owed (pending or failed) are cancelled", team_id, why, stopped)
        return stopped


class InstalledAuthorize(Authorize):
    """Bolt's authorize from the stored installation: what Bolt's InstallationStoreAuthorize answers, without
    its auth.test (the installation recorded the bot's ids when it was made). An org-wide install, which we do
    not take (bot/install_flow.py), has no workspace's bot: refused like an unknown one."""

    def __init__(self, installations: Installations) -> None:
        self.installations = installations

    def __call__(self, *, context: Any, enterprise_id: str | None, team_id: str | None, user_id: str | None,
                 **_actor: Any) -> AuthorizeResult | None:
        bot = self.installations.bot(team_id, enterprise_id) if team_id else None
        if bot is None:
            return None
        return AuthorizeResult(enterprise_id=bot.enterprise_id, team_id=bot.team_id, bot_user_id=bot.bot_user_id,
                               bot_id=bot.bot_id, bot_token=bot.bot_token, bot_scopes=list(bot.scopes),
                               user_id=user_id)
