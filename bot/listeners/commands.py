"""The slash command: `/order` opens the submit form; `/order list`, `/order status` and `/order help` answer
in the ack, shown to the user alone (all database reads, well inside Slack's 3 seconds), in the language they
read Slack in (bot/readers.py; learnt from Slack after the ack). `/order history` answers a bad request in the
ack and opens its modal after it (bot/listeners/history.py)."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, Respond
from sqlmodel import Session

from bot.context import BotContext, reader_after_ack
from bot.home import TITLES, code, line_text, title
from bot.listeners.history import history_answer, open_from_command
from bot.mrkdwn import esc
from bot.profiles import refresh
from bot.readers import reader_language
from bot.refusals import order_to_read
from bot.status import Archived, status_text
from forms import order_form
from forms.elements import actions_block, button, context, section
from forms.metadata import FormMeta
from i18n import Language
from i18n.domain import DOING, who_may
from workflow.amounts import current_amounts
from workflow.errors import WorkflowError
from workflow.numbers import parse_id
from workflow.overview import LISTINGS_FOR_COMMAND, Listing, listing
from workflow.queries import audit_trail, latest_pdf, order_card, shared_pdfs
from workflow.service import roles_of
from workflow.transitions import BY_ACTION
from workflow.visibility import SEES_EVERY_ORDER, may_list
from workflow.vocabulary import Action, parse_order_number

PAGE_SIZE = 10
LIST_PAGE_ACTIONS = ("order_list_previous", "order_list_next")  # action ids are unique within a block


def help_text(lang: Language, cmd: str) -> str:
    return "\n".join([
        "*" + lang._("Service orders") + "* — " + lang._("run your service orders in Slack."),
        "• " + lang._("{command} opens the form to submit a new order (you need the requester role).").format(
            command=code(cmd)),
        "• " + lang._("{command} lists orders, {count} at a time: yours (the default), those waiting for approval, "
                      "the overdue ones, or all of them (the last three for supervisors, coordinators and "
                      "admins).").format(command=code(f"{cmd} list [mine|pending|overdue|all]"),
                                         count=lang.number(PAGE_SIZE)),
        "• " + lang._("{command} shows an order's state, version, people, last steps and latest PDF.").format(
            command=code(f"{cmd} status SO-000042")),
        "• " + lang._("{command} shows an order's whole history: every step, who took it and when, and what it "
                      "changed, before and after.").format(command=code(f"{cmd} history SO-000042")),
        "• " + lang._("Each order gets its own channel with a card showing its state, version and the steps you "
                      "can take. Your App Home lists what waits for you."),
        "• " + lang._("Supervisors and coordinators approve or reject an order; field workers file confirmations "
                      "(changes to the order) and close it. Every approved or changed version is a PDF in the "
                      "order's channel."),
        lang._("Roles are granted by an admin: {command}").format(
            command=code("service-orders roles grant USER_ID requester")),
    ])


def register(app: App, ctx: BotContext) -> None:
    def reader(user: str) -> Language:
        return reader_language(ctx.engine, user, ctx.locale)

    def ack_command(ack: Ack, command: dict[str, Any]) -> None:
        name = command.get("command", "/order")
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else ""
        user = command["user_id"]
        if sub in ("help", "?"):
            ack(text=help_text(reader(user), name))
        elif sub in ("", "new"):  # the hot path: the reader's language is read only for a refusal
            try:
                ctx.service.authorize_submit(user)
            except WorkflowError:
                lang, submit = reader(user), BY_ACTION[Action.SUBMIT]
                ack(text=lang._("Only {who} can {doing}. Ask an admin for the requester role.").format(
                    who=who_may(lang, submit.roles, submit.assigned_field_worker), doing=lang._(DOING[Action.SUBMIT])))
                return
            ack()
        elif sub == "list":
            ack(**list_message(user, words[1] if len(words) > 1 else "mine", 0, name))
        elif sub == "status":
            ack(text=status_answer(user, words[1] if len(words) > 1 else "", name))
        elif sub == "history":  # a problem is answered here; the modal opens after the ack
            problem = history_answer(ctx, user, words[1:], name)
            if problem:
                ack(text=problem)
            else:
                ack()
        else:
            lang = reader(user)
            ack(text=lang._("I don't know {command}. Try {list}, {status} or {help}.").format(
                command=code(f"{name} {esc(words[0][:40])}"), list=code(f"{name} list"),
                status=code(f"{name} status SO-000042"), help=code(f"{name} help")))

    def after_command(command: dict[str, Any]) -> None:
        """After the ack, in one lazy listener (one thread a command, not one per job): `/order` opens the form;
        any other subcommand learns the person's language (and name and zone) from Slack, if new or a day old,
        for what they read next."""
        words = (command.get("text") or "").split()
        if words and words[0].lower() == "history":
            open_from_command(ctx, command)  # learns the person's language and zone first, as below
            return
        if words and words[0].lower() != "new":
            refresh(ctx.engine, ctx.gateway, command["user_id"], ctx.clock())
            return
        try:
            ctx.service.authorize_submit(command["user_id"])
        except WorkflowError:
            return  # already answered in the ack
        # the form in its reader's language (built, read and its errors worded in it), dated by their today
        reader = reader_after_ack(ctx, command["user_id"])
        form = order_form.build(FormMeta(locale=reader.locale), reader.today.isoformat())
        ctx.gateway.open_view(command["trigger_id"], form)

    def list_message(user: str, which_word: str, offset: int, name: str) -> dict[str, Any]:
        lang = reader(user)
        try:
            which = Listing(which_word.lower())
            if which not in LISTINGS_FOR_COMMAND:
                raise ValueError(which)
        except ValueError:
            return {"text": lang._("{command} takes one of {choices}, not {word}.").format(
                command=code(f"{name} list"), choices="|".join(w.value for w in LISTINGS_FOR_COMMAND),
                word=code(esc(which_word[:40])))}
        now = ctx.clock()
        today = now.astimezone(ZoneInfo(ctx.timezone)).date()
        with Session(ctx.engine) as session:
            roles = roles_of(session, user)
            if not may_list(roles, which):
                return {"text": lang._("Only {who} can use {command}; {mine} lists yours.").format(
                    who=who_may(lang, SEES_EVERY_ORDER, False), command=code(f"{name} list {which.value}"),
                    mine=code(f"{name} list mine"))}
            page = listing(session, which, user, today, offset=max(0, offset), limit=PAGE_SIZE, roles=roles,
                           days=ctx.completion)
            figures = current_amounts(session, [line.id for line in page.lines], ctx.service.currency,
                                      ctx.service.limits.tax_rate)
        heading = title(lang, which, page.total)
        if not page.lines:
            return {"text": (lang._("{title}: none.") if page.offset == 0 else lang._("{title}: no more.")).format(
                title=heading)}
        shown = lang._("{first}–{last} of {total}").format(
            first=lang.number(page.offset + 1), last=lang.number(page.offset + len(page.lines)),
            total=lang.number(page.total))
        blocks = [section(f"{heading} · {shown}"), *(section(line_text(lang, line, now, figures.get(line.id)))
                                                        for line in page.lines)]
        pager = []
        if page.offset > 0:
            pager.append(button(LIST_PAGE_ACTIONS[0], lang._("Previous"),
                                f"{which.value}:{max(0, page.offset - PAGE_SIZE)}"))
        if page.has_more:
            pager.append(button(LIST_PAGE_ACTIONS[1], lang._("Next"), f"{which.value}:{page.offset + PAGE_SIZE}",
                                "primary"))
        blocks.append(actions_block("order_list_pager", pager) if pager else context(lang._("That is all.")))
        return {"text": f"{lang._(TITLES[which])}: {shown}", "blocks": blocks}

    def status_answer(user: str, number: str, name: str) -> str:
        lang = reader(user)
        typed = parse_order_number(number)
        if typed is None:
            return lang._("Which order? {example} (the number is on its card and its channel's name).").format(
                example=code(f"{name} status SO-000042"))
        with Session(ctx.engine) as session:
            order = order_to_read(session, user, lang, name, number=typed)
            if isinstance(order, str):
                return order
            order_id = order.id
            card = order_card(session, order_id, ctx.currency)
            steps = audit_trail(session, order_id)
            pdf = latest_pdf(session, order_id)
            figures = current_amounts(session, [order_id], ctx.service.currency, ctx.service.limits.tax_rate)
            archived = Archived(order.channel_archived_at, shared_pdfs(session, order_id)) \
                if order.channel_archived_at else None
        return status_text(lang, card, steps, pdf, figures[order_id], archived)

    def turn_page(action: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        which, _, offset = (action.get("value") or "").partition(":")
        message = list_message(body["user"]["id"], which, parse_id(offset, least=0) or 0, "/order")
        respond(replace_original=True, response_type="ephemeral", **message)

    def ack_button(ack: Ack) -> None:
        ack()

    # A Slack app receives only its own commands, so whatever name manifest.yml gives it is ours.
    app.command(re.compile(r"^/.+"))(ack=ack_command, lazy=[after_command])
    for action_id in LIST_PAGE_ACTIONS:
        app.action(action_id)(ack=ack_button, lazy=[turn_page])
