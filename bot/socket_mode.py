"""Bolt's Socket Mode handler, closed gracefully: a request's ack travels back over the link it came on, so on
shutdown the link stays open until the requests in hand have been answered (up to the deadline), and only then
closes. Requests that arrive meanwhile are answered too: refusing one would leave a person's form or command
without an answer (Slack sends it to another process's link once this one is closed)."""

from __future__ import annotations

import threading

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest


class GracefulSocketModeHandler(SocketModeHandler):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._in_hand = 0
        self._answered = threading.Condition()

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        with self._answered:
            self._in_hand += 1
        try:
            super().handle(client, req)  # the app's ack, then its sending over the link
        finally:
            with self._answered:
                self._in_hand -= 1
                self._answered.notify_all()

    def close_gracefully(self, deadline: float) -> bool:
        """Answer the requests in hand (up to `deadline` seconds), then close the link. False if some were
        still in hand at the deadline."""
        with self._answered:
            answered = self._answered.wait_for(lambda: self._in_hand == 0, timeout=max(deadline, 0))
        self.close()
        return answered
