"""App Home and the lines of `/order list`: what a person should look at, by role, built from the read models
and said in the reader's own language (bot/readers.py).

App Home is one `views.publish` per person (at most 100 blocks), so each section shows its first few orders
and says how many more there are; `/order list` pages through any of them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from sqlalchemy import Engine
from sqlmodel import Session

from bot.cards import STATE_EMOJI, step_action_id
from bot.mrkdwn import esc
from bot.readers import reader_language
from bot.render.money import amounts_text
from forms.elements import actions_block, button, context, header, section
from forms.metadata import ButtonValue
from i18n import N_, Language
from i18n.domain import BUTTONS, ROLES, state
from workflow.amounts import Amounts, current_amounts
from workflow.clock import aware
from workflow.overview import Listing, OrderLine, Page, listing, tally
from workflow.service import roles_of
from workflow.sla import COMPLETION_DAYS, ByPriority
from workflow.transitions import available, may
from workflow.visibility import home_sections, sees_counts
from workflow.vocabulary import Role, State

PER_SECTION = 8  # 4 sections of 8 orders (2 blocks each) stay well under Slack's 100 blocks
COMMAND = "/order"  # App Home names the command as the manifest does

TITLES = {
    Listing.PENDING: N_("Waiting for approval"),
    Listing.ASSIGNED: N_("Assigned to you"),
    Listing.OVERDUE: N_("Overdue"),
    Listing.REQUESTED: N_("You requested"),
    Listing.MINE: N_("Your open orders"),
    Listing.ALL: N_("All orders"),
}
EMPTY = {
    Listing.PENDING: N_("Nothing waits for approval."),
    Listing.ASSIGNED: N_("No open order is assigned to you."),
    Listing.OVERDUE: N_("Nothing is overdue."),
    Listing.REQUESTED: N_("You have no open orders."),
    Listing.MINE: N_("You have no open orders."),
    Listing.ALL: N_("There are no orders yet."),
}


def code(text: str) -> str:
    """A command as the reader types it, in mrkdwn code."""
    return f"`{text}`"


def age(lang: Language, since: datetime, now: datetime) -> str:
    """'5 min', '3 hr', '2 days' ('2 días'): how long ago, rounded as CLDR says a person would."""
    return format_timedelta(max(now - aware(since), timedelta(0)), format="short", locale=lang.locale)


def line_text(lang: Language, line: OrderLine, now: datetime, figures: Amounts | None = None) -> str:
    """'*SO-000042* · Acme · HQ' and 'Pending approval · v0 · 3 days old', linked to the order's channel; then
    its money (`figures`), as on its PDF."""
    number = f"<#{line.channel_id}|{line.number}>" if line.channel_id else line.number
    facts = [state(lang, line.state), lang._("v{number}").format(number=line.version)]
    if line.scheduled_date:
        facts.append(lang._("scheduled {date}").format(date=lang.date(line.scheduled_date)))
    facts.append(lang._("{age} old").format(age=age(lang, line.created_at, now)))
    if line.late and line.due_by:  # late says more than overdue: one or the other
        late = lang._("late")
        facts.append(f":rotating_light: *{late}*: " + lang._("due by {date}").format(date=lang.date(line.due_by)))
    elif line.overdue:
        overdue = lang._("overdue")
        facts.append(f":warning: *{overdue}*")
    text = f"{STATE_EMOJI[line.state]} *{number}* · {esc(line.client)} · {esc(line.site)}\n" + " · ".join(facts)
    return text + f"\n{amounts_text(lang, figures)}" if figures else text


def title(lang: Language, which: Listing, total: int) -> str:
    """'*Waiting for approval* (12)'"""
    return f"*{lang._(TITLES[which])}* ({lang.number(total)})"


def step_buttons(lang: Language, line: OrderLine, roles: set[Role], assigned: bool,
                 requester: bool = False) -> list[dict]:
    """The same buttons as the order card, for the steps this person may take: the same listeners and
    checks answer them."""
    value = ButtonValue(line.id, line.revision).dump()
    return [button(step_action_id(t.action), lang._(BUTTONS[t.action]), value, t.style)
            for t in available(line.state) if may(t, roles, assigned, requester)]


def home_view(lang: Language, roles: set[Role], sections: list[tuple[Listing, Page]],
              counts: dict[State, int] | None, now: datetime, today: date,
              figures: dict[int, Amounts] | None = None) -> dict:
    role_names = lang.list([lang._(ROLES[role]) for role in Role if role in roles]) or lang._("none yet")
    blocks: list[dict] = [header(lang._("Service orders")),
                          context(lang._("Your roles: {roles} · updated {date}").format(
                              roles=f"*{role_names}*", date=lang.date(today)))]
    if not roles:
        blocks.append(section(lang._("You have no role in the service orders yet. An admin grants one with "
                                     "{command}.").format(command=code("service-orders roles grant USER_ID ROLE"))))
    if counts is not None:
        blocks.append(section("*" + lang._("By state") + "* · " + " · ".join(
            f"{STATE_EMOJI[s]} {state(lang, s)}: *{lang.number(count)}*" for s, count in counts.items())))
    for which, page in sections:
        blocks.append(section(title(lang, which, page.total)))
        if not page.lines:
            blocks.append(context(lang._(EMPTY[which])))
        for line in page.lines:
            blocks.append(section(line_text(lang, line, now, (figures or {}).get(line.id))))
            buttons = step_buttons(lang, line, roles, assigned=which == Listing.ASSIGNED,
                                   requester=which == Listing.REQUESTED)  # their own requests
            if buttons:
                blocks.append(actions_block(f"home_{which.value}_{line.id}", buttons))
        if page.has_more:
            more = page.total - len(page.lines)
            blocks.append(context(lang.n_("and {count} more: {command}", "and {count} more: {command}", more).format(
                count=lang.number(more), command=code(f"{COMMAND} list {_command(which)}"))))
    blocks.append(context(lang._("{submit} submits a new order · {list} and {status} find one · {help} says more")
                          .format(submit=code(COMMAND), list=code(f"{COMMAND} list"),
                                  status=code(f"{COMMAND} status SO-000042"), help=code(f"{COMMAND} help"))))
    return {"type": "home", "blocks": blocks}


def render_home(engine: Engine, user_id: str, now: datetime, timezone: str, *, provider_locale: str = "en",
                currency: str = "USD", tax_rate: Decimal = Decimal(0), days: ByPriority[int] = COMPLETION_DAYS) -> dict:
    """The App Home view of one person, as the database says now (overdue and late by the provider's calendar,
    late `days` after the scheduled date by priority), in the language they read Slack in (the provider's when
    Slack never said)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    with Session(engine) as session:
        roles = roles_of(session, user_id)
        # who keeps the whole workload in view gets its counts in one pass, their sections' totals with them
        counted = tally(session, user_id, roles, today) if sees_counts(roles) else None
        totals = counted.totals if counted else {}
        sections = [(which, listing(session, which, user_id, today, limit=PER_SECTION, roles=roles, days=days,
                                    total=totals.get(which))) for which in home_sections(roles)]
        counts = counted.by_state if counted else None
        figures = current_amounts(session, [line.id for _, page in sections for line in page.lines], currency,
                                  tax_rate)
    return home_view(reader_language(engine, user_id, provider_locale), roles, sections, counts, now, today,
                     figures)


def _command(which: Listing) -> str:
    return {Listing.REQUESTED: "mine", Listing.ASSIGNED: "mine"}.get(which, which.value)
