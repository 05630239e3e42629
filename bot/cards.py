"""The order card: a projection of the database, rebuilt whole at every step and posted or updated."""

from __future__ import annotations

from datetime import UTC, date

from forms.elements import actions_block, button, context, header, mrkdwn, section
from forms.metadata import ButtonValue
from workflow.overview import is_overdue
from workflow.queries import OrderCard
from workflow.text import esc
from workflow.transitions import TRANSITIONS
from workflow.vocabulary import State

STATE_EMOJI = {
    State.PENDING_APPROVAL: ":hourglass_flowing_sand:",
    State.APPROVED: ":hammer_and_wrench:",
    State.REJECTED: ":no_entry:",
    State.COMPLETED: ":white_check_mark:",
    State.NOT_PERFORMED: ":x:",
}


def step_action_id(action: str) -> str:
    return f"order_{action}"


# every button the card can show; the bot registers a listener for each (a test checks it)
STEP_ACTION_IDS = tuple(step_action_id(t.action) for t in TRANSITIONS if t.source is not None)


def _slack_date(when, fallback: str) -> str:  # type: ignore[no-untyped-def]
    """A time Slack renders in each reader's own time zone."""
    stamp = int(when.replace(tzinfo=UTC).timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


def card_text(card: OrderCard) -> str:
    return f"{card.number} · {card.client} · {card.state.label}"


def card_blocks(card: OrderCard, today: date | None = None) -> list[dict]:
    """The card; with the provider's `today`, an approved order past its scheduled date says it is overdue."""
    version = f"v{card.version}" if card.version else "not approved yet"
    fields = [
        f"*State*\n{STATE_EMOJI[card.state]} {card.state.label}",
        f"*Version*\n{version}",
        f"*Client*\n{esc(card.client)}",
        f"*Site*\n{esc(card.site)}",
        f"*Requested for*\n{card.requested_date.isoformat()} · {card.priority}",
        f"*Scheduled for*\n{card.scheduled_date.isoformat() if card.scheduled_date else '—'}",
        f"*Requester*\n<@{card.requester_id}>",
        f"*Approved by*\n{f'<@{card.approved_by}>' if card.approved_by else '—'}",
        f"*Field workers*\n{' '.join(f'<@{u}>' for u in card.field_workers) or '—'}",
        f"*Items*\n{card.item_count} · total {card.total:,.2f}",
    ]
    blocks: list[dict] = [
        header(f"{card.number} · {card.client}"),
        {"type": "section", "fields": [mrkdwn(f, 2000) for f in fields]},
        section(f"*Job*\n{esc(card.description[:1500])}"),
    ]
    if today is not None and is_overdue(card.state, card.scheduled_date, today):
        blocks.append(section(f":warning: *Overdue*: scheduled for {card.scheduled_date}, and not closed yet."))
    if card.state.is_closed and card.closed_at:
        reason = f": {esc(card.close_reason[:1000])}" if card.close_reason else ""
        blocks.append(section(f"*{card.state.label}* by <@{card.closed_by}> "
                              f"{_slack_date(card.closed_at, f'{card.closed_at:%Y-%m-%d %H:%M} UTC')}"
                              f"{reason}"))
    if card.steps:
        value = ButtonValue(card.id, card.revision).dump()
        blocks.append(actions_block("order_steps", [
            button(step_action_id(step.action), step.button, value, step.style) for step in card.steps
        ]))
    blocks.append(context(f"Revision {card.revision} · only the people the workflow allows can use these buttons"))
    return blocks
