"""Events API: App Home shows each person the orders they should look at (bot/home.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext
from bot.home import render_home
from workflow.people import saw_home


def register(app: App, ctx: BotContext) -> None:
    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        saw_home(ctx.engine, user, ctx.clock())  # from now on, steps that change their lists refresh it
        ctx.gateway.publish_home(user, render_home(ctx.engine, user, ctx.clock(), ctx.timezone))

    def ack_event(ack: Ack) -> None:
        ack()

    app.event("app_home_opened")(ack=ack_event, lazy=[publish_home])
