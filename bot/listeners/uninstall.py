"""The app leaves a workspace: Slack sends `tokens_revoked` (the bot's token, when it is revoked) and
`app_uninstalled`. Either stops the workspace at once: its installation deleted (Bolt's own revocation
listeners' work), its registry row marked, its pending effects cancelled. Installed from a link only: with
SLACK_BOT_TOKEN the one workspace is the bot's whole job."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.context import BotContext
from bot.installs import Installations


def register(app: App, ctx: BotContext, installations: Installations) -> None:
    def left(why: str, context: BoltContext) -> None:
        if context.team_id:  # an org-wide install is never stored (bot/install_flow.py): nothing to stop
            installations.uninstalled(context.team_id, context.enterprise_id, why, ctx.clock())

    @app.event("app_uninstalled")
    def app_uninstalled(context: BoltContext) -> None:
        left("app_uninstalled", context)

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        if (event.get("tokens") or {}).get("bot"):  # user tokens alone: we hold none, the bot goes on
            left("tokens_revoked", context)
