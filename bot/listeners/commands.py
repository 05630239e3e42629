"""The slash command: `/order` opens the submit form; `/order list`, `/order status` and `/order help` answer
in the ack, shown to the user alone (all database reads, well inside Slack's 3 seconds)."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, Respond
from sqlmodel import Session

from bot.context import BotContext, today_for
from bot.home import TITLES, line_text
from bot.mrkdwn import esc
from forms import order_form
from forms.elements import actions_block, button, context, section
from forms.metadata import FormMeta
from workflow.clock import aware
from workflow.errors import WorkflowError
from workflow.numbers import parse_id
from workflow.overview import LISTINGS_FOR_COMMAND, Listing, listing
from workflow.queries import audit_trail, get_order, latest_pdf, order_card
from workflow.service import is_assigned, roles_of
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action, Role, order_number, parse_order_number

PAGE_SIZE = 10
LIST_PAGE_ACTIONS = ("order_list_previous", "order_list_next")  # action ids are unique within a block
SEES_EVERY_ORDER = frozenset({Role.SUPERVISOR, Role.COORDINATOR, Role.ADMIN})

HELP = """*Service orders* — run your service orders in Slack.
• `{cmd}` opens the form to submit a new order (you need the requester role).
• `{cmd} list [mine|pending|overdue|all]` lists orders, {page} at a time: yours (the default), those \
waiting for approval, the overdue ones, or all of them (the last three for supervisors, coordinators and admins).
• `{cmd} status SO-000042` shows an order's state, version, people, last steps and latest PDF.
• Each order gets its own channel with a card showing its state, version and the steps you can take. Your \
App Home lists what waits for you.
• Supervisors and coordinators approve or reject an order; field workers file confirmations (changes to the \
order) and close it. Every approved or changed version is a PDF in the order's channel.
Roles are granted by an admin: `service-orders roles grant USER_ID requester`."""


def _did(action: str) -> str:
    """'approve' -> 'approved the order', from the transition table."""
    try:
        return BY_ACTION[Action(action)].past_tense
    except ValueError:
        return action


def register(app: App, ctx: BotContext) -> None:
    def ack_command(ack: Ack, command: dict[str, Any]) -> None:
        name = command.get("command", "/order")
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else ""
        user = command["user_id"]
        if sub in ("help", "?"):
            ack(text=HELP.format(cmd=name, page=PAGE_SIZE))
        elif sub in ("", "new"):
            try:
                ctx.service.authorize_submit(user)
            except WorkflowError as refusal:
                ack(text=f"{refusal.message} Ask an admin for the requester role.")
                return
            ack()
        elif sub == "list":
            ack(**list_message(user, words[1] if len(words) > 1 else "mine", 0, name))
        elif sub == "status":
            ack(text=status_text(user, words[1] if len(words) > 1 else "", name))
        else:
            ack(text=f"I don't know `{name} {esc(words[0][:40])}`. Try `{name} list`, `{name} status SO-000042` "
                     f"or `{name} help`.")

    def open_submit_form(command: dict[str, Any]) -> None:
        words = (command.get("text") or "").split()
        if words and words[0].lower() not in ("new",):
            return
        try:
            ctx.service.authorize_submit(command["user_id"])
        except WorkflowError:
            return  # already answered in the ack
        form = order_form.build(FormMeta(locale=ctx.locale), today_for(ctx, command["user_id"]))
        ctx.gateway.open_view(command["trigger_id"], form)

    def list_message(user: str, which_word: str, offset: int, name: str) -> dict[str, Any]:
        try:
            which = Listing(which_word.lower())
            if which not in LISTINGS_FOR_COMMAND:
                raise ValueError(which)
        except ValueError:
            choices = "|".join(w.value for w in LISTINGS_FOR_COMMAND)
            return {"text": f"`{name} list` takes one of {choices}, not `{esc(which_word[:40])}`."}
        now = ctx.clock()
        today = now.astimezone(ZoneInfo(ctx.timezone)).date()
        with Session(ctx.engine) as session:
            roles = roles_of(session, user)
            if which != Listing.MINE and not roles & SEES_EVERY_ORDER:
                return {"text": f"Only supervisors, coordinators and admins can list {which.value} orders; "
                                f"`{name} list mine` lists yours."}
            page = listing(session, which, user, today, offset=max(0, offset), limit=PAGE_SIZE)
        title = f"*{TITLES[which]}* ({page.total:,})"
        if not page.lines:
            return {"text": f"{title}: none." if page.offset == 0 else f"{title}: no more."}
        shown = f"{page.offset + 1}–{page.offset + len(page.lines)} of {page.total:,}"
        blocks = [section(f"{title} · {shown}"), *(section(line_text(line, now)) for line in page.lines)]
        pager = []
        if page.offset > 0:
            pager.append(button(LIST_PAGE_ACTIONS[0], "Previous", f"{which.value}:{max(0, page.offset - PAGE_SIZE)}"))
        if page.has_more:
            pager.append(button(LIST_PAGE_ACTIONS[1], "Next", f"{which.value}:{page.offset + PAGE_SIZE}", "primary"))
        blocks.append(actions_block("order_list_pager", pager) if pager else context("That is all."))
        return {"text": f"{TITLES[which]}: {shown}", "blocks": blocks}

    def status_text(user: str, number: str, name: str) -> str:
        order_id = parse_order_number(number)
        if order_id is None:
            return f"Which order? `{name} status SO-000042` (the number is on its card and its channel's name)."
        with Session(ctx.engine) as session:
            try:
                order = get_order(session, order_id)
            except WorkflowError as missing:
                return f"{missing.message} `{name} list` shows the ones you have."
            roles = roles_of(session, user)
            if not (roles & SEES_EVERY_ORDER or order.requester_id == user or is_assigned(session, order_id, user)):
                return f"{order_number(order_id)} is not one of yours: ask its requester or a coordinator."
            card = order_card(session, order_id, ctx.currency)
            steps = audit_trail(session, order_id)[-5:]
            pdf = latest_pdf(session, order_id)
        channel = f"<#{card.channel_id}>" if card.channel_id else "(its channel is being made)"
        people = [f"requested by <@{card.requester_id}>"]
        if card.approved_by:
            people.append(f"approved by <@{card.approved_by}>")
        if card.field_workers:
            people.append("field workers " + " ".join(f"<@{u}>" for u in card.field_workers))
        lines = [f"*{card.number}* · {esc(card.client)} · {esc(card.site)} · {channel}",
                 f"{card.state.label} · version {card.version} · " + ", ".join(people),
                 f"Latest PDF: {pdf} in {channel}" if pdf else "No PDF yet: the first comes with the approval.",
                 "*Last steps*"]
        lines += [f"• <!date^{int(aware(step.at).timestamp())}^{{date_short}} {{time}}|{step.at:%Y-%m-%d %H:%M} UTC> "
                  f"<@{step.actor_id}> {_did(step.action)}" for step in steps]
        return "\n".join(lines)

    def turn_page(action: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        which, _, offset = (action.get("value") or "").partition(":")
        message = list_message(body["user"]["id"], which, parse_id(offset, least=0) or 0, "/order")
        respond(replace_original=True, response_type="ephemeral", **message)

    def ack_button(ack: Ack) -> None:
        ack()

    # A Slack app receives only its own commands, so whatever name manifest.yml gives it is ours.
    app.command(re.compile(r"^/.+"))(ack=ack_command, lazy=[open_submit_form])
    for action_id in LIST_PAGE_ACTIONS:
        app.action(action_id)(ack=ack_button, lazy=[turn_page])
