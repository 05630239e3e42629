"""The order card: a projection of the database, rebuilt whole at every step and posted or updated. A channel
shares it, so it speaks the provider's language (the caller passes that Language)."""

from __future__ import annotations

from datetime import UTC, date

from bot.history import BUTTON as HISTORY_BUTTON
from bot.mrkdwn import bold, esc, mention, slack_date
from bot.render.facts import approvers_line, sentence
from bot.render.money import amounts_text
from bot.render.signing import ASK_SIGNATURE
from forms.elements import actions_block, button, context, header, mrkdwn, section
from forms.metadata import ButtonValue
from i18n import Language, english
from i18n.domain import APPROVAL_OF, BUTTONS, ROLES, priority, state
from i18n.schedule import scheduled
from workflow.amounts import Amounts
from workflow.clock import aware
from workflow.overview import is_overdue
from workflow.queries import OrderCard
from workflow.signing import SIGNABLE
from workflow.sla import COMPLETION_DAYS, ByPriority, deadline, is_late
from workflow.transitions import TRANSITIONS
from workflow.vocabulary import Role, State

STATE_EMOJI = {
    State.PENDING_APPROVAL: ":hourglass_flowing_sand:",
    State.APPROVED: ":hammer_and_wrench:",
    State.REJECTED: ":no_entry:",
    State.COMPLETED: ":white_check_mark:",
    State.NOT_PERFORMED: ":x:",
    State.CHANGES_REQUESTED: ":leftwards_arrow_with_hook:",
    State.WITHDRAWN: ":wastebasket:",
    State.CHANGE_PENDING: ":hourglass_flowing_sand:",
}


def step_action_id(action: str) -> str:
    return f"order_{action}"


# every button the card can show; the bot registers a listener for each (a test checks it)
STEP_ACTION_IDS = tuple(step_action_id(t.action) for t in TRANSITIONS if t.source is not None)


def card_text(card: OrderCard, lang: Language | None = None) -> str:
    lang = lang or english()
    return f"{card.number} · {card.client} · {state(lang, card.state)}"


def _lateness(card: OrderCard, scheduled: date, today: date, lang: Language, days: ByPriority[int]) -> list[dict]:
    """Late (past the completion deadline) says more than overdue (past the scheduled date): one or the other."""
    if is_late(card.state, scheduled, card.priority, today, days):
        return [section(":rotating_light: " + lang._(
            "{late}: to be completed by {deadline} (scheduled for {date}), and not closed yet.").format(
            late=bold(lang.p_("card", "Late")), deadline=lang.date(deadline(scheduled, card.priority, days)),
            date=lang.date(scheduled)))]
    if is_overdue(card.state, scheduled, today):
        return [section(":warning: " + lang._("{overdue}: scheduled for {date}, and not closed yet.").format(
            overdue=bold(lang.p_("card", "Overdue")), date=lang.date(scheduled)))]
    return []


def card_blocks(card: OrderCard, today: date | None = None, lang: Language | None = None,
                currency: str = "USD", figures: Amounts | None = None,
                days: ByPriority[int] = COMPLETION_DAYS) -> list[dict]:
    """The card; with the provider's `today`, an approved order past its scheduled date says it is overdue,
    and past its completion deadline (`days` after that date, by priority) that it is late.
    With `figures`, its money is subtotal, tax and total, as on the PDF."""
    lang = lang or english()
    _ = lang._
    none = "—"
    version = _("v{number}").format(number=card.version) if card.version else _("not approved yet")
    items = lang.n_("{count} item", "{count} items", card.item_count).format(count=lang.number(card.item_count))

    def field(label: str, value: str) -> str:
        return f"{bold(label)}\n{value}"

    fields = [
        field(_("State"), f"{STATE_EMOJI[card.state]} {state(lang, card.state)}"),
        field(_("Version"), version),
        field(_("Client"), esc(card.client)),
        field(_("Site"), esc(card.site)),
        field(_("Requested for"), f"{lang.date(card.requested_date)} · {priority(lang, card.priority)}"),
        field(_("Scheduled for"), scheduled(lang, card.scheduled_date, card.scheduled_start, card.scheduled_end)
              if card.scheduled_date else none),
        field(_("Requester"), mention(card.requester_id)),
        field(_("Approved by"), mention(card.approved_by) if card.approved_by else none),
        field(_("Field workers"), " ".join(mention(u) for u in card.field_workers) or none),
        field(_("Items"), f"{items}\n{amounts_text(lang, figures)}" if figures else
              _("{items} · total {amount}").format(items=items, amount=lang.amount(card.total, currency))),
    ]
    blocks: list[dict] = [
        header(f"{card.number} · {card.client}"),
        {"type": "section", "fields": [mrkdwn(f, 2000) for f in fields]},
        section(field(_("Job"), esc(card.description[:1500]))),
    ]
    if today is not None and card.scheduled_date:
        blocks += _lateness(card, card.scheduled_date, today, lang, days)
    if card.waiting is not None:  # what waits, and for whom: the crew reads why its buttons are gone
        blocks.append(section(f"{STATE_EMOJI[State.CHANGE_PENDING]} {bold(state(lang, State.CHANGE_PENDING))}\n"
                              f"{sentence(card.waiting, lang)} {approvers_line(card.waiting, lang)}"))
    if card.state.is_closed and card.closed_at:
        closed = _("{state} by {person} {when}").format(
            state=bold(state(lang, card.state)), person=mention(card.closed_by or ""),
            when=slack_date(card.closed_at, lang.datetime(aware(card.closed_at), UTC) + " UTC"))
        reason = f": {esc(card.close_reason[:1000])}" if card.close_reason else ""
        blocks.append(section(closed + reason))
    if approvals := _approvals(card, lang):
        blocks.append(section(approvals))
    if card.rounds:  # every round before approval: what was asked, what changed, when it came back
        title = bold(_("Rounds before approval"))
        said = "\n".join(f"• {sentence(facts, lang)}" for facts in card.rounds)
        blocks.append(section(f"{title}\n{said}"))
    if card.photos:
        blocks.append(context(":camera: " + _photos(card, lang)))
    if card.steps:
        value = ButtonValue(card.id, card.revision).dump()
        blocks.append(actions_block("order_steps", [
            button(step_action_id(step.action), _(BUTTONS[step.action]), value, step.style) for step in card.steps
        ]))
    if card.state in SIGNABLE:  # not a step either (workflow/signing.py): the client signs the latest version
        blocks.append({"type": "section", "text": mrkdwn(_("The client can sign this version on a phone, with no "
                                                           "Slack account.")),
                       "accessory": button(ASK_SIGNATURE, _("Ask the client to sign"),
                                           ButtonValue(card.id, card.revision).dump())})
    # not a step: whoever may see the order may read its history, so it stands apart from the step buttons
    blocks.append({"type": "section", "text": mrkdwn(_("Every step: who took it, when, and what it changed.")),
                   "accessory": button(HISTORY_BUTTON, lang.p_("button", "History"),
                                       ButtonValue(card.id, card.revision).dump())})
    blocks.append(context(_("Revision {revision} · only the people the workflow allows can use these buttons")
                          .format(revision=card.revision)))
    return blocks


def _photos(card: OrderCard, lang: Language) -> str:
    """Photos per version, "v1 · 2 photos, v3 · 1 photo", and those waiting for the next version."""
    said = [lang.n_("v{version} · {count} photo", "v{version} · {count} photos", count).format(
        version=version, count=lang.number(count)) for version, count in card.photos if version is not None]
    waiting = sum(count for version, count in card.photos if version is None)
    if waiting:
        said.append(lang.n_("{count} photo for the next version", "{count} photos for the next version",
                            waiting).format(count=lang.number(waiting)))
    return ", ".join(said)


def _approvals(card: OrderCard, lang: Language) -> str | None:
    """Approval by amount: who approved which level and when, level 1's proposal, and whose approval comes
    next. None for an order that needs one approval (its card says who approved it, as before levels)."""
    awaited = card.awaited
    if (awaited is None or awaited.levels < 2) and len(card.approvals) < 2:
        return None
    _ = lang._
    lines = [bold(_("Approvals"))]
    for given in card.approvals:
        when = slack_date(given.at, lang.datetime(aware(given.at), UTC) + " UTC")
        lines.append("• " + _("Level {level} ({role}): {person}, {when}").format(
            level=given.level, role=_(ROLES[Role(given.role)]), person=mention(given.approver_id), when=when))
    if awaited is not None and card.proposal is not None:
        proposal = card.proposal
        crew = " ".join(mention(u) for u in proposal.field_workers) or "—"
        planned = lang.date(proposal.scheduled_date) if proposal.scheduled_date else "—"
        lines.append(_("Proposed at level 1: field workers {crew}; scheduled for {date}.").format(
            crew=crew, date=planned))
    if awaited is not None:
        people = " ".join(mention(u) for u in awaited.people) or _("nobody yet: an admin must grant the role")
        lines.append(":hourglass_flowing_sand: " + _("Next: {approval} (level {level} of {levels}), from {people}.")
                     .format(approval=_(APPROVAL_OF[Role(awaited.role)]), level=awaited.level,
                             levels=awaited.levels, people=people))
    return "\n".join(lines)
