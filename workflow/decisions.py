"""Which steps are decisions the order's requester must hear of (issue 15, item 5): bot/ @mentions the requester
in the channel's message for these, and sends a direct message when the requester is not in the channel.
Withdrawing is the requester's own step, so it is not here."""

from __future__ import annotations

from workflow.vocabulary import Action

TELL_REQUESTER: frozenset[Action] = frozenset({Action.APPROVE, Action.REJECT, Action.SEND_BACK, Action.COMPLETE,
                                               Action.NOT_PERFORM})
