"""An order's history modal: every step, a page at a time, with Previous/Next updating the view in place.

A page holds at most STEPS_PER_PAGE steps and never more blocks than a modal takes (100); a step's text is
split over as many sections as Slack's 3000 characters a section need. Pages are cut from the whole trail
each time, so a page's number means the same steps for as long as the trail does not grow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from bot.mrkdwn import esc
from bot.render.history import step_lines
from forms.elements import actions_block, button, context, section
from i18n import Language
from i18n.domain import state
from storage.models import AuditEvent
from workflow.vocabulary import State

VIEW = "order_history"  # the modal's callback_id
BUTTON = "order_history"  # the card's History button (action ids and callback ids are apart in Slack)
PAGE_ACTIONS = ("order_history_previous", "order_history_next")
STEPS_PER_PAGE = 10
MAX_BLOCKS = 100  # Slack's limit for a modal
SECTION_CHARS = 3000  # Slack's limit for a section's text
_FRAME = 3  # the blocks around the steps: the heading, the pager and the closing context

Block = dict[str, Any]
DIVIDER: Block = {"type": "divider"}


@dataclass(frozen=True)
class Trail:
    """What the history shows: the order as it is now and all its audit rows, oldest first."""

    order_id: int
    number: str
    client: str
    state: State
    events: tuple[AuditEvent, ...]


def chunks(lines: list[str], limit: int = SECTION_CHARS) -> list[str]:
    """The lines joined into texts of at most `limit` characters, cut between lines where they can be."""
    out: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:  # a line longer than a section (a long note) is cut where it must be
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            out.append(current)
            current = line
        else:
            current = joined
    if current:
        out.append(current)
    return out


def step_blocks(event: AuditEvent, lang: Language, zone: tzinfo) -> list[Block]:
    return [section(text) for text in chunks(step_lines(event, lang, zone))]


def paginate(steps: list[list[Block]]) -> list[list[list[Block]]]:
    """Steps in pages: at most STEPS_PER_PAGE each, and no more blocks (a divider between steps) than fit."""
    budget = MAX_BLOCKS - _FRAME
    pages: list[list[list[Block]]] = []
    page: list[list[Block]] = []
    used = 0
    for blocks in steps:
        cost = len(blocks) + 1
        if page and (len(page) == STEPS_PER_PAGE or used + cost > budget):
            pages.append(page)
            page, used = [], 0
        page.append(blocks)
        used += cost
    if page or not pages:
        pages.append(page)
    return pages


def page_count(trail: Trail, lang: Language, zone: tzinfo) -> int:
    return len(paginate([step_blocks(e, lang, zone) for e in trail.events]))


def history_view(trail: Trail, page: int, lang: Language, zone: tzinfo, zone_name: str) -> dict[str, Any] | None:
    """The modal showing page `page` (from 1) of the trail; None when the trail has no such page."""
    pages = paginate([step_blocks(e, lang, zone) for e in trail.events])
    if not 1 <= page <= len(pages):
        return None
    steps = pages[page - 1]
    first = sum(len(p) for p in pages[: page - 1]) + 1
    heading = lang._("*{number}* · {client} · {state}\nSteps {first}–{last} of {total} · page {page} of {pages} · "
                     "times in {zone}").format(
        number=trail.number, client=esc(trail.client), state=state(lang, trail.state), first=lang.number(first),
        last=lang.number(first + len(steps) - 1), total=lang.number(len(trail.events)), page=lang.number(page),
        pages=lang.number(len(pages)), zone=zone_name)
    blocks: list[Block] = [section(heading)]
    for step in steps:
        blocks += [dict(DIVIDER), *step]
    pager = []
    if page > 1:
        pager.append(button(PAGE_ACTIONS[0], lang._("Previous"), f"{trail.order_id}:{page - 1}"))
    if page < len(pages):
        pager.append(button(PAGE_ACTIONS[1], lang._("Next"), f"{trail.order_id}:{page + 1}", "primary"))
    blocks.append(actions_block("order_history_pager", pager) if pager else context(lang._("That is all.")))
    return {"type": "modal", "callback_id": VIEW,
            "title": {"type": "plain_text", "text": (lang.p_("modal title", "History") + " " + trail.number)[:24]},
            "close": {"type": "plain_text", "text": lang.p_("modal button", "Close")[:24]},
            "blocks": blocks}
