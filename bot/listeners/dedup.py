"""Events API retries change nothing: the first delivery of an event_id is taken, any repeat is acked
and dropped (Slack resends when it did not see a 200 in 3 s; Bolt passes every copy through)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import App, BoltResponse
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.context import BotContext
from storage.db import session_scope
from storage.models import SlackEvent

KEEP = timedelta(days=1)  # Slack retries within minutes; a day is plenty


def register(app: App, ctx: BotContext) -> None:
    @app.middleware
    def once_per_event(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not isinstance(event_id, str) or not event_id or _ignored(body.get("event")):
            return next()
        now = ctx.clock()
        try:
            with session_scope(ctx.engine) as session:
                session.add(SlackEvent(event_id=event_id[:64], received_at=now))
        except IntegrityError:
            return BoltResponse(status=200, body="")  # seen before: a retry
        with session_scope(ctx.engine) as session:
            session.exec(delete(SlackEvent).where(SlackEvent.received_at < now - KEEP))
        return next()


def _ignored(event: object) -> bool:
    """A channel message without files: the listener drops it (bot/listeners/events.py), so a retry of it does
    no harm, and every chat message in an order's channel costs no write in the ack."""
    return isinstance(event, dict) and event.get("type") == "message" and event.get("subtype") != "file_share"
