"""Buttons: the order card's step buttons open the step's form; "add rows" grows a form's item rows."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App
from sqlmodel import Session

from bot.cards import STEP_ACTION_IDS, step_action_id
from bot.context import BotContext, reader_after_ack
from bot.gateway import SlackError
from bot.listeners import telling
from bot.mrkdwn import mention
from bot.profiles import learn
from bot.refusals import refusal_text
from forms import order_form
from forms.items import ADD_ROWS_ACTION, MAX_ROWS, ROW_STEP
from forms.metadata import BadMetadata, ButtonValue, FormMeta
from forms.step_forms import STEP_FORMS
from i18n import Language, language
from workflow.errors import WorkflowError
from workflow.queries import order_card, version_lines
from workflow.transitions import BY_FORM, TRANSITIONS, Transition

log = logging.getLogger(__name__)

_STEP_BY_ACTION_ID = {step_action_id(t.action): t for t in TRANSITIONS if t.source is not None}


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, ctx: BotContext) -> None:
    def tell(body: dict[str, Any], text: str, lang: Language) -> None:
        telling.tell(ctx, body, text, lang)

    def step_view(transition: Transition, meta: FormMeta) -> dict[str, Any]:
        """A step's form for the order in `meta`, built from the order as it is now."""
        assert meta.order_id is not None
        with Session(ctx.engine) as session:
            card = order_card(session, meta.order_id)
            lines = version_lines(session, meta.order_id, card.version)
        if card.proposal is not None and card.proposal.field_workers:
            # a later level's approval form names the crew level 1 chose: a form shows names, not mentions
            learn(ctx.engine, ctx.gateway, list(card.proposal.field_workers), ctx.clock())
            with Session(ctx.engine) as session:
                card = order_card(session, meta.order_id)
        return STEP_FORMS[transition.action].build(meta, card, lines)

    def open_step_form(body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        transition = _STEP_BY_ACTION_ID[action["action_id"]]
        # the clicking person's language (asked of Slack if new or a day old: we are after the ack): the form
        # is built, read and its errors worded in it
        locale = reader_after_ack(ctx, user).locale
        lang = language(locale)
        try:
            clicked = ButtonValue.load(action.get("value"))
            order = ctx.service.authorize(user, clicked.order_id, transition.action, clicked.revision)
        except (WorkflowError, BadMetadata) as refusal:
            # an ephemeral message (or the click's response) is mrkdwn: who may act instead is mentioned
            tell(body, refusal_text(lang, refusal, mention), lang)
            return
        # the form carries the revision the user is looking at now: a step taken meanwhile makes it stale
        meta = FormMeta(order_id=order.id, revision=order.revision, locale=locale)
        try:
            ctx.gateway.open_view(body["trigger_id"], step_view(transition, meta))
        except SlackError as error:
            tell(body, lang._("The form could not open ({code}); please click again.").format(code=error.code), lang)

    def add_item_rows(body: dict[str, Any]) -> None:
        view = body["view"]
        try:
            meta = FormMeta.load(view.get("private_metadata"))
        except BadMetadata:
            return
        meta = replace(meta, rows=min(meta.rows + ROW_STEP, MAX_ROWS))
        if view.get("callback_id") == order_form.CALLBACK_ID:
            new_view = order_form.build(meta, reader_after_ack(ctx, body["user"]["id"]).today.isoformat())
        else:
            transition = BY_FORM.get(view.get("callback_id", ""))
            if transition is None or meta.order_id is None:
                return
            new_view = step_view(transition, meta)
        # same block ids, so Slack keeps what the user already typed; the hash refuses a stale update
        ctx.gateway.update_view(view["id"], new_view, view.get("hash"))

    for action_id in STEP_ACTION_IDS:
        app.action(action_id)(ack=_ack, lazy=[open_step_form])
    app.action(ADD_ROWS_ACTION)(ack=_ack, lazy=[add_item_rows])
