"""Bolt's App, each Slack request timed to its ack and given an id for the lines logged handling it.

Not a middleware: Bolt's `next()` only marks the chain as continued and returns, the listeners run after
the whole chain; `dispatch` is what both fronts (HTTP and Socket Mode) call, and with
process_before_response its return is the ack."""

from __future__ import annotations

import time
import uuid

from slack_bolt import App, BoltRequest, BoltResponse

from bot.metrics import ACK_SECONDS, request_kind
from storage.request_context import REQUEST_ID


class ObservedApp(App):
    def dispatch(self, req: BoltRequest) -> BoltResponse:
        token = REQUEST_ID.set(uuid.uuid4().hex[:16])
        started = time.perf_counter()
        try:
            return super().dispatch(req)
        finally:
            body = req.body if isinstance(req.body, dict) else {}
            ACK_SECONDS.labels(request_kind(body)).observe(time.perf_counter() - started)
            REQUEST_ID.reset(token)
