"""Form submissions: parse, validate and commit the step inside the ack, so the user sees field errors
or a refusal in the modal itself, and a closed modal means the step is stored. Slack work follows.

Errors are worded in the form's language (its reader's, recorded in its metadata when it was opened)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext
from bot.metrics import STEPS
from bot.refusals import SORRY, names, reader_of, refusal_text
from forms import order_form
from forms.elements import NOTICE, FormErrors, notice
from forms.metadata import BadMetadata, FormMeta, Unreadable
from forms.problems import field_errors
from forms.step_forms import STEP_FORMS
from i18n import Language, language
from workflow.errors import FieldErrors, WorkflowError
from workflow.transitions import BY_FORM, TRANSITIONS

log = logging.getLogger(__name__)

__all__ = ["SORRY", "register"]


def not_saved(lang: Language, text: str) -> dict[str, Any]:
    """The modal, replaced by why it was not saved."""
    return notice(lang.p_("modal title", "Not saved"), f":warning: {text}", lang)


def register(app: App, ctx: BotContext) -> None:
    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        values = (view.get("state") or {}).get("values") or {}
        callback_id = view.get("callback_id", "")
        lang: Language | None = None
        step = ("submit" if callback_id == order_form.CALLBACK_ID  # the step's name, for the metrics
                else str(BY_FORM[callback_id].action) if callback_id in BY_FORM else "unknown")
        try:
            meta = FormMeta.load(view.get("private_metadata"))
            lang = language(meta.locale)
            if callback_id == order_form.CALLBACK_ID:
                order = ctx.service.submit(user, order_form.parse(values, meta), view.get("id"))
                log.info("%s submitted order %s", user, order.id)
            else:
                transition = BY_FORM[callback_id]
                data = STEP_FORMS[transition.action].parse(values, meta)
                if meta.order_id is None:
                    raise BadMetadata(Unreadable.NO_ORDER)
                ctx.service.apply(user, meta.order_id, transition.action, meta.revision, data)
        except (FormErrors, FieldErrors) as invalid:
            STEPS.labels(step, "invalid").inc()
            lang = lang or reader_of(ctx.engine, ctx.locale, user)
            worded = (invalid.errors if isinstance(invalid, FormErrors)
                      else field_errors(lang, invalid, names(ctx.engine)))
            inputs = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input" and "block_id" in b]
            # Slack only accepts errors on the view's input blocks; anything else goes on the first one
            errors = {k: v for k, v in worded.items() if k in inputs}
            if not errors and inputs:
                errors = {inputs[0]: " ".join(worded.values())}
            if errors:
                ack(response_action="errors", errors=errors)
            else:  # not one of our views (a forged or outdated payload): nowhere to show field errors
                ack(response_action="update", view=not_saved(lang, " ".join(worded.values())))
            return
        except (WorkflowError, BadMetadata) as refusal:
            STEPS.labels(step, "refused").inc()
            lang = lang or reader_of(ctx.engine, ctx.locale, user)
            # a notice modal is plain text: people by name, not as mentions it would show raw
            ack(response_action="update", view=not_saved(lang, refusal_text(lang, refusal, names(ctx.engine))))
            return
        except Exception:  # the user must learn the step was not stored, not see Slack's generic error
            log.exception("submission of %s by %s failed", callback_id, user)
            STEPS.labels(step, "failed").inc()
            lang = lang or reader_of(ctx.engine, ctx.locale, user)
            ack(response_action="update", view=not_saved(lang, lang._(SORRY)))
            return
        STEPS.labels(step, "stored").inc()
        ack()
        ctx.effects.kick()

    def closed(ack: Ack) -> None:
        ack()

    for callback_id in (t.form for t in TRANSITIONS):
        app.view(callback_id)(submitted)
        app.view_closed(callback_id)(closed)
    app.view(NOTICE)(closed)
    app.view_closed(NOTICE)(closed)
