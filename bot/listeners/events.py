"""Events API: the App Home tab says who you are to the app and how to start."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext
from forms.elements import context, header, section


def register(app: App, ctx: BotContext) -> None:
    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        roles = sorted(role.value.replace("_", " ") for role in ctx.service.roles(user))
        blocks = [
            header("Service orders"),
            section(f"Your roles: *{', '.join(roles) if roles else 'none yet'}*."),
            section("Use `/order` to submit a new service order. Each order gets its own channel, where its "
                    "card shows the steps you can take, and every approved or changed version as a PDF."),
            context("An admin grants roles with `service-orders roles grant USER_ID ROLE`."),
        ]
        ctx.gateway.publish_home(user, {"type": "home", "blocks": blocks})

    def ack_event(ack: Ack) -> None:
        ack()

    app.event("app_home_opened")(ack=ack_event, lazy=[publish_home])
