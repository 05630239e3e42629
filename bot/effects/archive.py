"""archive: a closed order's channel, ARCHIVE_AFTER_DAYS after it closed: a last message saying where the
documents are, then conversations.archive. Only for an order still closed at the revision it was queued with;
an order that changed since is left alone. Archived already (by a person, or an earlier try) counts as done."""

from __future__ import annotations

import logging

from bot.effects.base import Claim, Effects, Record, set_values
from bot.gateway import CHANNEL_GONE, ErrorCode, SlackError
from bot.render.notices import archiving
from i18n.domain import state
from storage.models import ServiceOrder
from workflow.effects import Archive
from workflow.vocabulary import State, order_number

log = logging.getLogger("bot.effects")

# conversations.archive's refusals that no retry changes: a workspace preference, a required channel
REFUSED = frozenset({"restricted_action", "cant_archive_required", "method_not_supported_for_channel_type"})


def run(fx: Effects, effect: Claim) -> Record | None:
    payload = effect.payload
    assert isinstance(payload, Archive) and effect.order_id is not None
    order = fx.order(effect.order_id)
    number = order_number(order.number)
    if not State(order.state).is_closed or order.revision != payload.revision:
        log.info("archive %s dropped: %s changed since (revision %s, %s)", effect.key, number, order.revision,
                 order.state)
        return None
    if order.channel_archived_at is not None:
        return None
    channel = fx.channel(order)
    try:
        fx.post(effect, channel, archiving(number, state(fx.provider_language, order.state), fx.provider_language))
        fx.gateway.archive(channel)
    except SlackError as error:
        if error.code in REFUSED:  # the workspace will not let the app archive it: retrying cannot help
            log.warning("%s: channel %s not archived: Slack says %s", number, channel, error.code)
            return None
        if error.code not in CHANNEL_GONE:
            raise
        if not _archived(fx, channel):  # the app was taken out of it, or it was deleted: nothing to archive
            log.warning("%s: channel %s not archived: Slack says %s", number, channel, error.code)
            return None
    archived_at = fx.clock()
    return lambda session: set_values(session.get(ServiceOrder, order.id), channel_archived_at=archived_at)


def _archived(fx: Effects, channel: str) -> bool:
    """Whether Slack says the channel is archived (someone archived it before us)."""
    try:
        return bool(fx.gateway.channel_info(channel).get("is_archived"))
    except SlackError as error:
        if error.code != ErrorCode.CHANNEL_NOT_FOUND:
            raise
        return False
