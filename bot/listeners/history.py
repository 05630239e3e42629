"""An order's history: `/order history SO-000042 [page]` and the History button on the card open a modal with
the whole trail, a page at a time; Previous/Next update it in place. Anyone who may see the order may read it
(workflow/visibility.py); anyone else, or an order that does not exist, gets one line saying so.

The slash command checks in its ack (database reads only) and answers a problem there; the modal opens after
the ack, once the reader's language and time zone are known (asked of Slack if new or a day old)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App
from sqlmodel import Session

from bot.context import BotContext
from bot.gateway import SlackError
from bot.history import BUTTON, PAGE_ACTIONS, Trail, history_view, page_count
from bot.home import code
from bot.listeners import telling
from bot.mrkdwn import esc
from bot.profiles import refresh
from bot.readers import locale_for, reader_language
from bot.refusals import order_to_read, refusal_text
from forms.elements import notice
from forms.metadata import BadMetadata, ButtonValue
from i18n import Language, language
from workflow.numbers import parse_id
from workflow.people import known
from workflow.queries import audit_trail, catalog_name
from workflow.vocabulary import State, order_number, parse_order_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reader:
    """Who reads the history: their words, and the time zone its times are shown in (and its name)."""

    lang: Language
    zone: ZoneInfo
    zone_name: str


def trail_of(ctx: BotContext, user: str, lang: Language, command: str = "/order", *, number: int | None = None,
             order_id: int | None = None) -> Trail | str:
    """The trail of the order numbered `number` (typed) or with id `order_id` (a button's), or the one line that
    says why `user` cannot read it."""
    with Session(ctx.engine) as session:
        order = order_to_read(session, user, lang, command, number=number, order_id=order_id)
        if isinstance(order, str):
            return order
        return Trail(order.id, order_number(order.number), catalog_name(session, "client", order.client_code),
                     State(order.state), tuple(audit_trail(session, order.id)))


def no_page(lang: Language, trail: Trail, page: str, pages: int) -> str:
    return lang.n_("{number}'s history has {count} page; there is no page {page}.",
                   "{number}'s history has {count} pages; there is no page {page}.", pages).format(
        number=trail.number, count=lang.number(pages), page=code(esc(page[:20].replace("`", "'"))))


def history_answer(ctx: BotContext, user: str, args: list[str], command: str) -> str | None:
    """In the ack of `/order history NUMBER [PAGE]`: the one line a bad request gets, or None (the modal opens
    after the ack)."""
    lang = reader_language(ctx.engine, user, ctx.locale)
    number = parse_order_number(args[0]) if args else None
    if number is None or len(args) > 2:
        return lang._("Which order? {example} (the number is on its card and its channel's name).").format(
            example=code(f"{command} history SO-000042"))
    trail = trail_of(ctx, user, lang, command, number=number)
    if isinstance(trail, str):
        return trail
    reader = _reader(ctx, user, lang)
    pages = page_count(trail, reader.lang, reader.zone)
    page = parse_id(args[1]) if len(args) > 1 else 1
    if page is None or page > pages:
        return no_page(lang, trail, args[1], pages)
    return None


def _reader(ctx: BotContext, user: str, lang: Language | None = None, refreshed: bool = False) -> Reader:
    """The reader's language and time zone: after an ack, learnt from Slack if new or a day old; in an ack,
    as last learnt. Someone Slack never told us of reads the provider's."""
    now = ctx.clock()
    person = refresh(ctx.engine, ctx.gateway, user, now) if refreshed else known(ctx.engine, user)
    lang = lang or language(locale_for(person.locale if person else None, ctx.locale))
    name = (person.tz if person else None) or ctx.timezone
    return Reader(lang, ZoneInfo(name), name)


def show(ctx: BotContext, user: str, page: int, open_with: str | None = None,
         update: tuple[str, str | None] | None = None, *, number: int | None = None,
         order_id: int | None = None) -> str | None:
    """After an ack: open (a trigger id) or update (a view id and its hash) the history modal at `page`; or the
    line to tell `user` instead, if they may not read it or there is no such page."""
    reader = _reader(ctx, user, refreshed=True)
    trail = trail_of(ctx, user, reader.lang, number=number, order_id=order_id)
    if isinstance(trail, str):
        return trail
    view = history_view(trail, page, reader.lang, reader.zone, reader.zone_name)
    if view is None:
        return no_page(reader.lang, trail, str(page), page_count(trail, reader.lang, reader.zone))
    if open_with is not None:
        ctx.gateway.open_view(open_with, view)
    elif update is not None:
        ctx.gateway.update_view(update[0], view, update[1])
    return None


def could_not_open(ctx: BotContext, user: str, error: SlackError) -> str:
    lang = reader_language(ctx.engine, user, ctx.locale)
    return lang._("The history could not open ({code}); please try again.").format(code=error.code)


def open_from_command(ctx: BotContext, command: dict[str, Any]) -> None:
    """After the ack of `/order history NUMBER [PAGE]`: open the modal. A bad request was answered in the ack
    and gets nothing more here (no second line); only a modal Slack would not open is told."""
    user, args = command["user_id"], (command.get("text") or "").split()[1:]
    number = parse_order_number(args[0]) if args else None
    page = parse_id(args[1]) if len(args) > 1 else 1
    if number is None or page is None or len(args) > 2:
        return
    try:
        show(ctx, user, page, open_with=command["trigger_id"], number=number)
    except SlackError as error:
        if command.get("response_url"):
            ctx.gateway.respond(command["response_url"], could_not_open(ctx, user, error))


def register(app: App, ctx: BotContext) -> None:
    def tell(body: dict[str, Any], text: str) -> None:
        telling.tell(ctx, body, text, reader_language(ctx.engine, body["user"]["id"], ctx.locale))

    def clicked_history(body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        try:
            order_id = ButtonValue.load(action.get("value")).order_id  # any revision: the trail is read now
        except BadMetadata as unreadable:
            tell(body, refusal_text(reader_language(ctx.engine, user, ctx.locale), unreadable))
            return
        try:
            problem = show(ctx, user, 1, open_with=body["trigger_id"], order_id=order_id)
        except SlackError as error:
            problem = could_not_open(ctx, user, error)
        if problem:
            tell(body, problem)

    def turned_page(body: dict[str, Any], action: dict[str, Any]) -> None:
        user, view = body["user"]["id"], body.get("view") or {}
        order, _, page = (action.get("value") or "").partition(":")
        order_id, shown = parse_id(order), parse_id(page)
        if not view.get("id"):  # not clicked in a modal (a forged payload): there is no view to update
            return
        lang = reader_language(ctx.engine, user, ctx.locale)
        try:
            if order_id is None or shown is None:
                problem: str | None = lang._("This button could not be read; please open the history again.")
            else:
                problem = show(ctx, user, shown, update=(view["id"], view.get("hash")), order_id=order_id)
            if problem:
                ctx.gateway.update_view(view["id"], notice(lang.p_("modal title", "History"), problem, lang),
                                        view.get("hash"))
        except SlackError as error:  # hash_conflict: another click turned it first, and its page stays
            log.info("history page for %s not shown (%s)", user, error.code)

    def ack_only(ack: Ack) -> None:
        ack()

    app.action(BUTTON)(ack=ack_only, lazy=[clicked_history])
    for action_id in PAGE_ACTIONS:
        app.action(action_id)(ack=ack_only, lazy=[turned_page])
