"""Telling the person who clicked a button one line only they see, after the ack (a refusal, a problem)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.context import BotContext
from bot.gateway import SlackError
from forms.elements import notice
from i18n import Language

log = logging.getLogger(__name__)


def tell(ctx: BotContext, body: dict[str, Any], text: str, lang: Language) -> None:
    """By the first way that reaches them: an ephemeral message in the channel (Slack refuses it to someone who
    is not in the channel: a public order channel can be read by anyone), the click's response_url (ephemeral,
    it rides on their own click), a small modal (as over App Home or in a modal, where there is no channel)."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    ways: list[Callable[[], None]] = []
    if channel:
        ways.append(lambda: ctx.gateway.ephemeral(channel, user, text))
    if body.get("response_url"):
        ways.append(lambda: ctx.gateway.respond(body["response_url"], text))
    if body.get("trigger_id"):
        ways.append(lambda: ctx.gateway.open_view(body["trigger_id"], notice(
            lang.p_("modal title", "Service orders"), text, lang)))
    for way in ways:
        try:
            way()
            return
        except SlackError as error:
            if error.ambiguous:  # it may have reached them: another way could tell them twice
                log.warning("telling %s by %s got no clear answer (%s): %s", user, error.method, error.code, text)
                return
            log.info("could not tell %s by %s (%s)", user, error.method, error.code)
    log.warning("could not tell %s, by any way: %s", user, text)
