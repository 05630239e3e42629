"""The slash command: `/order` opens the submit form, `/order help` says what the app does."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.context import BotContext, today_for
from forms import order_form
from forms.metadata import FormMeta
from workflow.errors import WorkflowError

HELP = """*Service orders* — run your service orders in Slack.
• `{cmd}` opens the form to submit a new order (you need the requester role).
• Each order gets its own channel with a card showing its state, version and the steps you can take.
• Supervisors and coordinators approve or reject it; field workers file confirmations (changes to the \
order) and close it. Every approved or changed version is a PDF in the order's channel.
• `{cmd} help` shows this message.
Roles are granted by an admin: `service-orders roles grant USER_ID requester`."""


def register(app: App, ctx: BotContext) -> None:
    def ack_command(ack: Ack, command: dict[str, Any]) -> None:
        name = command.get("command", "/order")
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else ""
        if sub in ("help", "?"):
            ack(text=HELP.format(cmd=name))
        elif sub in ("", "new"):
            try:
                ctx.service.authorize_submit(command["user_id"])
            except WorkflowError as refusal:
                ack(text=f"{refusal.message} Ask an admin for the requester role.")
                return
            ack()
        else:
            ack(text=f"I don't know `{name} {words[0]}`.\n\n" + HELP.format(cmd=name))

    def open_submit_form(command: dict[str, Any]) -> None:
        words = (command.get("text") or "").split()
        if words and words[0].lower() not in ("new",):
            return
        try:
            ctx.service.authorize_submit(command["user_id"])
        except WorkflowError:
            return  # already answered in the ack
        ctx.gateway.open_view(command["trigger_id"], order_form.build(FormMeta(), today_for(ctx, command["user_id"])))

    # A Slack app receives only its own commands, so whatever name manifest.yml gives it is ours.
    app.command(re.compile(r"^/.+"))(ack=ack_command, lazy=[open_submit_form])
