"""The card's "Ask the client to sign": a signature request for the order's latest issued version, whose link
the bot posts in the channel (bot/effects/signing.py). Not a step of the transition table (workflow/signing.py
says why); who may ask is checked here, after the ack, and again in the request's transaction."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext, reader_after_ack
from bot.gateway import SlackError
from bot.render.signing import ASK_SIGNATURE, asking_refused, not_set_up
from forms.metadata import BadMetadata, ButtonValue
from i18n import language
from workflow.errors import FilesBeingRead, NotFound
from workflow.signing import MayNotAsk, NotSignable, ask

log = logging.getLogger(__name__)


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, ctx: BotContext) -> None:
    def tell(body: dict[str, Any], text: str) -> None:
        """Only the clicking person reads it: ephemeral in the channel, else through the click's response_url."""
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        try:
            if channel:
                ctx.gateway.ephemeral(channel, user, text)
                return
        except SlackError as error:
            log.info("could not tell %s by an ephemeral message (%s)", user, error.code)
        if body.get("response_url"):
            ctx.gateway.respond(body["response_url"], text)

    def ask_signature(body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        lang = language(reader_after_ack(ctx, user).locale)
        if ctx.signing.missing:  # a link nobody can open is worse than none: say what to set instead
            tell(body, not_set_up(ctx.signing.missing, lang))
            return
        try:
            clicked = ButtonValue.load(action.get("value"))
            ask(ctx.engine, clicked.order_id, user, ctx.clock(), timedelta(hours=ctx.signing.link_hours))
        except (MayNotAsk, NotSignable, FilesBeingRead) as refusal:
            tell(body, asking_refused(refusal, lang))
            return
        except (BadMetadata, NotFound):
            tell(body, lang._("This button could not be read; the card may be out of date."))
            return
        ctx.effects.kick()

    app.action(ASK_SIGNATURE)(ack=_ack, lazy=[ask_signature])
