"""`/order status`'s answer, in the reader's language: an order's state, version, people, latest PDF and last
steps. Rendered from the read models; each step from its recorded facts (`bot/render/facts.describe`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.mrkdwn import esc, slack_date
from bot.render.facts import describe
from bot.render.money import amounts_text
from i18n import Language
from i18n.domain import state
from storage.models import AuditEvent
from workflow.amounts import Amounts
from workflow.clock import aware
from workflow.queries import OrderCard

LAST_STEPS = 5


@dataclass(frozen=True)
class Archived:
    """A closed order's channel, archived: when, and the documents that stay in it."""

    at: datetime
    documents: list[str]


def step_line(lang: Language, step: AuditEvent) -> str:
    """'• <date> <@U…> approved the order': Slack shows the date in the reader's zone and format; the fallback
    (for clients that cannot) is Babel's, in UTC."""
    at = aware(step.at)
    when = f"<!date^{int(at.timestamp())}^{{date_short}} {{time}}|{lang.datetime(at, UTC)} UTC>"
    try:
        return f"• {when} {describe(step, lang)}"
    except (ValueError, KeyError, TypeError):  # a row written by a newer release: who, and its action's code
        return f"• {when} <@{step.actor_id}> {step.action}"


def status_text(lang: Language, card: OrderCard, steps: list[AuditEvent], pdf: str | None,
                figures: Amounts | None = None, archived: Archived | None = None) -> str:
    channel = f"<#{card.channel_id}>" if card.channel_id else lang._("(its channel is being made)")
    people = [lang._("requested by {person}").format(person=f"<@{card.requester_id}>")]
    if card.approved_by:
        people.append(lang._("approved by {person}").format(person=f"<@{card.approved_by}>"))
    if card.field_workers:
        people.append(lang.n_("field worker {people}", "field workers {people}", len(card.field_workers))
                      .format(people=" ".join(f"<@{u}>" for u in card.field_workers)))
    lines = [f"*{card.number}* · {esc(card.client)} · {esc(card.site)} · {channel}",
             " · ".join([state(lang, card.state), lang._("version {number}").format(number=card.version),
                         ", ".join(people)]),
             *([amounts_text(lang, figures)] if figures else []),
             _documents(lang, channel, pdf, archived),
             "*" + lang._("Last steps") + "*"]
    lines += [step_line(lang, step) for step in steps[-LAST_STEPS:]]
    return "\n".join(lines)


def _documents(lang: Language, channel: str, pdf: str | None, archived: Archived | None) -> str:
    """Where the order's PDFs are: the latest in its channel; once the channel is archived, every one of them,
    which stay in it (an archived channel is read, not posted in)."""
    if archived is not None:
        at = aware(archived.at)
        return lang._("Its channel {channel} was archived ({when}); its documents stay there, under Files: "
                      "{files}.").format(channel=channel, when=slack_date(at, lang.datetime(at, UTC) + " UTC"),
                                         files=lang.list(archived.documents) if archived.documents else "—")
    if pdf:
        return lang._("Latest PDF: {file} in {channel}").format(file=pdf, channel=channel)
    return lang._("No PDF yet: the first comes with the approval.")
