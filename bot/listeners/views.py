"""Form submissions: parse, validate and commit the step inside the ack, so the user sees field errors
or a refusal in the modal itself, and a closed modal means the step is stored. Slack work follows."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext
from forms import order_form
from forms.elements import modal, section
from forms.metadata import BadMetadata, FormMeta
from forms.step_forms import STEP_FORMS
from workflow.errors import FieldErrors, WorkflowError
from workflow.transitions import BY_FORM

log = logging.getLogger(__name__)


# what a person reads when a step failed on our side (here, and for any listener: bot/app.py)
SORRY = "Something went wrong on our side and nothing was saved. Please try again in a moment."


def _notice(title: str, text: str) -> dict[str, Any]:
    view = modal("notice", title, "OK", [section(text)], "{}")
    view.pop("submit")
    view["close"] = {"type": "plain_text", "text": "Close"}
    return view


def register(app: App, ctx: BotContext) -> None:
    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        values = (view.get("state") or {}).get("values") or {}
        callback_id = view.get("callback_id", "")
        try:
            meta = FormMeta.load(view.get("private_metadata"))
            if callback_id == order_form.CALLBACK_ID:
                order = ctx.service.submit(user, order_form.parse(values, meta), view.get("id"))
                log.info("%s submitted order %s", user, order.id)
            else:
                transition = BY_FORM[callback_id]
                data = STEP_FORMS[transition.form].parse(values, meta)
                if meta.order_id is None:
                    raise BadMetadata("This form is not tied to an order; please open it again.")
                ctx.service.apply(user, meta.order_id, transition.action, meta.revision, data)
        except FieldErrors as invalid:
            inputs = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input" and "block_id" in b]
            # Slack only accepts errors on the view's input blocks; anything else goes on the first one
            errors = {k: v for k, v in invalid.errors.items() if k in inputs}
            if not errors and inputs:
                errors = {inputs[0]: invalid.message}
            if errors:
                ack(response_action="errors", errors=errors)
            else:  # not one of our views (a forged or outdated payload): nowhere to show field errors
                ack(response_action="update", view=_notice("Not saved", f":warning: {invalid.message}"))
            return
        except (WorkflowError, BadMetadata) as refusal:
            ack(response_action="update", view=_notice("Not saved", f":warning: {refusal}"))
            return
        except Exception:  # the user must learn the step was not stored, not see Slack's generic error
            log.exception("submission of %s by %s failed", callback_id, user)
            ack(response_action="update", view=_notice("Not saved", f":warning: {SORRY}"))
            return
        ack()
        ctx.effects.kick()

    def closed(ack: Ack) -> None:
        ack()

    forms = [order_form.CALLBACK_ID, *STEP_FORMS]
    for callback_id in forms:
        app.view(callback_id)(submitted)
        app.view_closed(callback_id)(closed)
    app.view("notice")(closed)
    app.view_closed("notice")(closed)
