"""The id of the Slack request being handled, if any: set by bot/observed.py, named by every log line
(bot/logs.py) and kept on the effects the request queues (storage/db.py `queue_effects`), so an effect's
Slack calls can be traced back to the click that owed them."""

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
