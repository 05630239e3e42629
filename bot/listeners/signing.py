"""The card's "Ask the client to sign": a signature request for the order's latest issued version, whose link
the bot posts in the channel (bot/effects/signing.py). Not a step of the transition table (workflow/signing.py
says why); who may ask is checked here, after the ack, and again in the request's transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext, reader_after_ack
from bot.listeners.telling import tell
from bot.render.signing import ASK_SIGNATURE, asking_refused, not_set_up
from forms.metadata import BadMetadata, ButtonValue
from i18n import language
from workflow.errors import FilesBeingRead, NotFound
from workflow.signing import MayNotAsk, NotSignable, ask


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, ctx: BotContext) -> None:
    def ask_signature(body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        lang = language(reader_after_ack(ctx, user).locale)
        if ctx.signing.missing:  # a link nobody can open is worse than none: say what to set instead
            tell(ctx, body, not_set_up(ctx.signing.missing, lang), lang)
            return
        try:
            clicked = ButtonValue.load(action.get("value"))
            ask(ctx.engine, clicked.order_id, user, ctx.clock(), timedelta(hours=ctx.signing.link_hours))
        except (MayNotAsk, NotSignable, FilesBeingRead) as refusal:
            tell(ctx, body, asking_refused(refusal, lang), lang)
            return
        except (BadMetadata, NotFound):
            tell(ctx, body, lang._("This button could not be read; the card may be out of date."), lang)
            return
        ctx.effects.kick()

    app.action(ASK_SIGNATURE)(ack=_ack, lazy=[ask_signature])
