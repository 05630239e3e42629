"""Bolt's App, each Slack request timed to its ack, given an id for the lines logged handling it, and served
in its workspace's scope (storage/scope.py) — its lazy listeners too, which run on other threads.

Not a middleware: Bolt's `next()` only marks the chain as continued and returns, the listeners run after
the whole chain; `dispatch` is what both fronts (HTTP and Socket Mode) call, and with
process_before_response its return is the ack."""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from slack_bolt import App, BoltRequest, BoltResponse

from bot.metrics import ACK_SECONDS, request_kind
from bot.workspace import installation_of
from storage.request_context import REQUEST_ID
from storage.scope import WORKSPACE

T = TypeVar("T")


class _InRequestContext(ThreadPoolExecutor):
    """Bolt's executor for lazy listeners, each run in a copy of the context of the request that queued it:
    its request id and its workspace."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


class ObservedApp(App):
    def __init__(self, **kwargs: Any) -> None:
        # Bolt's own default: five threads
        super().__init__(listener_executor=_InRequestContext(max_workers=5), **kwargs)

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        token = REQUEST_ID.set(uuid.uuid4().hex[:16])
        # the request's installation, as Bolt reads it; a request for one we do not serve is refused by the
        # middleware before any listener reads a row
        team, org = installation_of(body)
        scope = WORKSPACE.set(team or org)
        started = time.perf_counter()
        try:
            return super().dispatch(req)
        finally:
            ACK_SECONDS.labels(request_kind(body)).observe(time.perf_counter() - started)
            WORKSPACE.reset(scope)
            REQUEST_ID.reset(token)
