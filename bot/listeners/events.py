"""Events API: App Home shows each person the orders they should look at (bot/home.py), in their language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltResponse

from bot.context import BotContext
from bot.home import render_home
from bot.profiles import refresh
from workflow.people import saw_home

log = logging.getLogger(__name__)


def register(app: App, ctx: BotContext) -> None:
    def rate_limited(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        """Slack's notice that it holds back the app's events for a while: acknowledged (Bolt, having no
        listener for it, would answer 404, which Slack counts as a failed delivery) and logged."""
        if body.get("type") != "app_rate_limited":
            return next()
        log.warning("Slack is holding back this app's events (over 30,000 an hour) from minute %s",
                    body.get("minute_rate_limited"))
        return BoltResponse(status=200, body="")

    app.middleware(rate_limited)

    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        saw_home(ctx.engine, user, ctx.clock())  # from now on, steps that change their lists refresh it
        refresh(ctx.engine, ctx.gateway, user, ctx.clock())  # their language, if new or a day old
        ctx.gateway.publish_home(user, render_home(ctx.engine, user, ctx.clock(), ctx.timezone,
                                                   provider_locale=ctx.locale, currency=ctx.service.currency,
                                                   tax_rate=ctx.service.limits.tax_rate, days=ctx.completion))

    def ack_event(ack: Ack) -> None:
        ack()

    app.event("app_home_opened")(ack=ack_event, lazy=[publish_home])
