"""App Home and `/order list|status`: what a person should look at, by role, built from the read models.

App Home is one `views.publish` per person (at most 100 blocks), so each section shows its first few orders
and says how many more there are; `/order list` pages through any of them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from bot.cards import STATE_EMOJI, step_action_id
from bot.mrkdwn import esc
from forms.elements import actions_block, button, context, header, section
from forms.metadata import ButtonValue
from workflow.overview import Listing, OrderLine, Page, counts_by_state, listing, listings_for
from workflow.service import roles_of
from workflow.transitions import available, may
from workflow.vocabulary import Role, State

STAFF_WITH_COUNTS = frozenset({Role.COORDINATOR, Role.ADMIN})
PER_SECTION = 8  # 4 sections of 8 orders (2 blocks each) stay well under Slack's 100 blocks

TITLES = {
    Listing.PENDING: "Waiting for approval",
    Listing.ASSIGNED: "Assigned to you",
    Listing.OVERDUE: "Overdue",
    Listing.REQUESTED: "You requested",
    Listing.MINE: "Your open orders",
    Listing.ALL: "All orders",
}
EMPTY = {
    Listing.PENDING: "Nothing waits for approval.",
    Listing.ASSIGNED: "No open order is assigned to you.",
    Listing.OVERDUE: "Nothing is overdue.",
    Listing.REQUESTED: "You have no open orders.",
    Listing.MINE: "You have no open orders.",
    Listing.ALL: "There are no orders yet.",
}


def line_text(line: OrderLine, now: datetime) -> str:
    """'*SO-000042* · Acme · HQ — Pending approval · v0 · 3 d old', linked to the order's channel."""
    number = f"<#{line.channel_id}|{line.number}>" if line.channel_id else line.number
    scheduled = f" · scheduled {line.scheduled_date.isoformat()}" if line.scheduled_date else ""
    overdue = " · :warning: *overdue*" if line.overdue else ""
    version = f"v{line.version}" if line.version else "v0"
    return (f"{STATE_EMOJI[line.state]} *{number}* · {esc(line.client)} · {esc(line.site)}\n"
            f"{line.state.label} · {version}{scheduled} · {line.age(now)} old{overdue}")


def step_buttons(line: OrderLine, roles: set[Role], assigned: bool) -> list[dict]:
    """The same buttons as the order card, for the steps this person may take: the same listeners and
    checks answer them."""
    value = ButtonValue(line.id, line.revision).dump()
    return [button(step_action_id(t.action), t.button, value, t.style)
            for t in available(line.state) if may(t, roles, assigned)]


def home_view(user_id: str, roles: set[Role], sections: list[tuple[Listing, Page]],
              counts: dict[State, int] | None, now: datetime, today: date) -> dict:
    role_names = ", ".join(sorted(role.value.replace("_", " ") for role in roles)) or "none yet"
    blocks: list[dict] = [header("Service orders"),
                          context(f"Your roles: *{role_names}* · updated {today.isoformat()}")]
    if not roles:
        blocks.append(section("You have no role in the service orders yet. An admin grants one with "
                              "`service-orders roles grant USER_ID ROLE`."))
    if counts is not None:
        blocks.append(section("*By state* · " + " · ".join(
            f"{STATE_EMOJI[state]} {state.label}: *{count:,}*" for state, count in counts.items())))
    for which, page in sections:
        blocks.append(section(f"*{TITLES[which]}* ({page.total:,})"))
        if not page.lines:
            blocks.append(context(EMPTY[which]))
        for line in page.lines:
            blocks.append(section(line_text(line, now)))
            buttons = step_buttons(line, roles, assigned=which == Listing.ASSIGNED)
            if buttons:
                blocks.append(actions_block(f"home_{which.value}_{line.id}", buttons))
        if page.has_more:
            blocks.append(context(f"and {page.total - len(page.lines):,} more: `/order list {_command(which)}`"))
    blocks.append(context("`/order` submits a new order · `/order list` and `/order status SO-000042` find one · "
                          "`/order help` says more"))
    return {"type": "home", "blocks": blocks}


def render_home(engine: Engine, user_id: str, now: datetime, timezone: str) -> dict:
    """The App Home view of one person, as the database says now (overdue by the provider's calendar)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    with Session(engine) as session:
        roles = roles_of(session, user_id)
        sections = [(which, listing(session, which, user_id, today, limit=PER_SECTION))
                    for which in listings_for(roles)]
        counts = counts_by_state(session) if roles & STAFF_WITH_COUNTS else None
    return home_view(user_id, roles, sections, counts, now, today)


def _command(which: Listing) -> str:
    return {Listing.REQUESTED: "mine", Listing.ASSIGNED: "mine"}.get(which, which.value)
