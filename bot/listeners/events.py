"""Events API: App Home shows each person the orders they should look at (bot/home.py), in their language; photos
an order's people share in its channel become evidence of the order (workflow/attachments.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltResponse

from bot.context import BotContext
from bot.home import render_home
from bot.profiles import refresh
from workflow.attachments import share_in_channel
from workflow.people import saw_home
from workflow.shared_files import shared_file

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

    def shared(ack: Ack, event: dict[str, Any]) -> None:
        """A message in a channel the bot is in. Only a person's new message with files (`file_share`) in a
        channel (public or private: not a DM) is read; edits, deletions, bots' messages, the bot's own and
        every other message are acked and left alone. Recorded in the ack (one short transaction, no Slack
        call); reading the files and the thread reply are effects. Slack's retries are dropped before this
        (bot/listeners/dedup.py), and a file already on the order stays one row."""
        user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
        files = event.get("files")
        if (event.get("subtype") != "file_share" or event.get("bot_id") or event.get("channel_type") == "im"
                or not all(isinstance(v, str) and v for v in (user, channel, ts)) or not isinstance(files, list)
                or user == ctx.gateway.bot_user_id):
            ack()
            return
        taken = [f for f in map(shared_file, files) if f is not None]
        order_id = share_in_channel(ctx.engine, channel, user, taken, event.get("thread_ts") or ts, ctx.clock())
        ack()
        if order_id is not None:
            log.info("%s shared %d file(s) on order %s", user, len(taken), order_id)
            ctx.effects.kick()

    app.event("message")(shared)
