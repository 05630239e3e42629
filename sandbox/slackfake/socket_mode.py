"""Slack's side of Socket Mode: tickets from apps.connections.open, the WebSocket link, envelopes and acks.

Protocol (docs: https://docs.slack.dev/apis/events-api/using-socket-mode/ ; platform-notes §9.3):
- `apps.connections.open` with the app-level token (xapp-…) answers a fresh `wss://…/link/?ticket=…&app_id=…`
  URL; here `ws://127.0.0.1:PORT/link/…` on the fake's own port.
- On connect Slack sends `{"type": "hello", "num_connections", "debug_info", "connection_info": {"app_id"}}`.
- Each request is an envelope `{"envelope_id", "type": "slash_commands"|"interactive"|"events_api", "payload",
  "accepts_response_payload"}` (+ `retry_attempt`, `retry_reason` for events); the app acks it with
  `{"envelope_id", "payload"?}` within 3 s. The payload is what the HTTP request body would carry, as JSON.
- Slack pings the link, and refreshes it: `{"type": "disconnect", "reason": "refresh_requested"|"warning"|…}`
  asks the app to open a new link (apps.connections.open again) before the old one goes away.
With several links open an envelope goes to one of them; here the newest, the one a reconnecting client uses.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from .websocket import GOING_AWAY, WebSocket, handshake_problem, refusal_response

EnvelopeType = Literal["slash_commands", "interactive", "events_api"]

# Methods that take the app-level token, with the errors the fake can answer for them: the method's own
# (apps.connections.open.json: missing_args, invalid_auth) plus the common not_allowed_token_type for a bot token.
APP_LEVEL_METHODS: dict[str, frozenset[str]] = {
    "apps.connections.open": frozenset({"missing_args", "invalid_auth", "not_allowed_token_type"}),
}
APP_TOKEN_SCOPES = ("connections:write",)


def accepts_response_payload(type: EnvelopeType, payload: dict[str, Any]) -> bool:
    """Whether Slack reads the ack's payload: the command's reply, a view_submission's response_action,
    a block_suggestion's options. Button clicks, shortcuts, view_closed and events take a bare ack."""
    if type == "slash_commands":
        return True
    return type == "interactive" and payload.get("type") in ("view_submission", "block_suggestion")


class NotConnected(RuntimeError):
    """No app holds a Socket Mode link, so Slack has nowhere to send the request."""


@dataclass
class Envelope:
    """One request sent over a link, and the app's ack if one came."""

    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int | None
    retry_reason: str | None
    link: int  # serial of the link it went out on
    sent_at: float  # time.monotonic()
    ack: dict[str, Any] | None = None  # the app's whole ack message
    acked_at: float | None = None
    _acked: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def message(self) -> dict[str, Any]:
        """The envelope as it goes over the wire."""
        out: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.retry_attempt is not None:
            out["retry_attempt"] = self.retry_attempt
            out["retry_reason"] = self.retry_reason or ""
        return out

    def wait(self, timeout: float) -> bool:
        """Block until acked or `timeout` seconds after it was sent; True if acked."""
        remaining = self.sent_at + timeout - time.monotonic()
        return self._acked.is_set() or (remaining > 0 and self._acked.wait(remaining))

    @property
    def elapsed(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at


@dataclass
class _Link:
    serial: int
    ws: WebSocket
    opened_at: float
    closed: threading.Event = field(default_factory=threading.Event)
    retiring: bool = False  # sent a disconnect message: closed once the app has opened a replacement


class SocketModeServer:
    """The Socket Mode endpoint of one app. Thread-safe; links are served on FakeSlack's HTTP threads."""

    def __init__(self, app_id: str, *, ping_interval: float = 10.0) -> None:
        self.app_id = app_id
        # Slack pings every open link (its interval is undocumented; slack_sdk only needs pongs to its own pings)
        self.ping_interval = ping_interval
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._links: list[_Link] = []  # open ones, oldest first
        self._serial = 0
        self._envelopes: dict[str, Envelope] = {}
        self._stray: list[str] = []
        self._pongs = 0
        self._changed = threading.Condition(self._lock)

    # ------------------------------------------------------------------------------------------------------
    # apps.connections.open

    def issue_url(self, base_url: str) -> str:
        """A fresh link URL. Tickets stay valid, so a client may reconnect to the URL it already has."""
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        host = base_url.split("://", 1)[-1]
        return f"ws://{host}/link/?{urlencode({'ticket': ticket, 'app_id': self.app_id})}"

    # ------------------------------------------------------------------------------------------------------
    # the link (called on the HTTP handler's thread, which it keeps until the link closes)

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # after the link ends the TCP connection is done, not kept alive
        headers = {k.lower(): v for k, v in handler.headers.items()}
        problem = handshake_problem(handler.command, handler.request_version, headers)
        ticket = parse_qs(urlsplit(handler.path).query).get("ticket", [""])[-1]
        with self._lock:
            known = ticket in self._tickets
        if problem is None and not known:
            problem = (401, "invalid_ticket")  # Slack's exact answer is undocumented; any refusal will do
        if problem is not None:
            handler.wfile.write(refusal_response(*problem))
            return
        ws = WebSocket(handler.connection, handler.rfile, on_pong=self._count_pong)
        with self._lock:
            # Registered and greeted under the lock: no envelope can overtake the 101 and the hello.
            link = _Link(self._serial + 1, ws, time.monotonic())
            try:
                ws.accept(headers["sec-websocket-key"], json.dumps(self._hello(len(self._links) + 1)))
            except OSError:
                return
            self._serial = link.serial
            retired = [old for old in self._links if old.retiring]
            self._links.append(link)
            self._changed.notify_all()
        for old in retired:  # the app has reconnected, so Slack drops the link it asked it to leave
            old.ws.close(GOING_AWAY, "refreshed")
        pinger = threading.Thread(
            target=self._keep_pinging, args=(link,), name=f"socket-mode-ping-{link.serial}", daemon=True
        )
        pinger.start()
        try:
            while (text := ws.receive()) is not None:
                self._on_message(text)
        finally:
            with self._lock:
                if link in self._links:
                    self._links.remove(link)
                self._changed.notify_all()
            link.closed.set()
            ws.abort()

    def _hello(self, num_connections: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": num_connections,
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def _keep_pinging(self, link: _Link) -> None:
        while not link.closed.wait(self.ping_interval):
            try:
                link.ws.ping(f"{time.time():.6f}".encode())
            except OSError:
                return

    def _count_pong(self, _payload: bytes) -> None:
        with self._lock:
            self._pongs += 1
            self._changed.notify_all()

    def _on_message(self, text: str) -> None:
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            message = None
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._lock:
            env = self._envelopes.get(envelope_id) if isinstance(envelope_id, str) else None
            if env is None or env.ack is not None:
                self._stray.append(text)  # not an ack of ours (or a second one): Slack ignores it
                return
            env.ack, env.acked_at = message, time.monotonic()
            env._acked.set()

    # ------------------------------------------------------------------------------------------------------
    # what Slack sends

    def send(
        self,
        type: EnvelopeType,
        payload: dict[str, Any],
        *,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        connect_timeout: float = 5.0,
    ) -> Envelope:
        """Push one envelope down the newest link (waiting up to `connect_timeout` for an app to connect).
        Returns at once; `Envelope.wait` for the ack. Events carry `retry_attempt` (0 on first delivery)."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._links), connect_timeout):
                raise NotConnected("no app is connected over Socket Mode (start its SocketModeHandler first)")
            link = self._links[-1]
            env = Envelope(
                envelope_id=str(uuid.uuid4()),
                type=type,
                payload=copy.deepcopy(payload),
                accepts_response_payload=accepts_response_payload(type, payload),
                retry_attempt=retry_attempt,
                retry_reason=retry_reason,
                link=link.serial,
                sent_at=time.monotonic(),
            )
            self._envelopes[env.envelope_id] = env
        try:
            link.ws.send_text(json.dumps(env.message()))
        except OSError as e:
            raise NotConnected(f"the Socket Mode link closed while sending: {e}") from e
        return env

    def ping(self) -> None:
        """Ping every open link now (besides the periodic pings)."""
        for link in self._open_links():
            with contextlib.suppress(OSError):  # a link closing right now
                link.ws.ping(f"{time.time():.6f}".encode())

    def request_disconnect(self, reason: str = "refresh_requested") -> int:
        """Ask every open link's app to reconnect, as Slack does before recycling a link; each such link is
        closed as soon as the app has opened a new one. Returns how many links were asked."""
        links = self._open_links()
        for link in links:
            link.retiring = True
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}})
        for link in links:
            with contextlib.suppress(OSError):
                link.ws.send_text(message)
        return len(links)

    def close_links(self, code: int = GOING_AWAY, reason: str = "", grace: float = 1.0) -> None:
        """Close every link from Slack's side; links whose client does not hang up within `grace` are cut."""
        links = self._open_links()
        for link in links:
            link.ws.close(code, reason)
        deadline = time.monotonic() + grace
        for link in links:
            if not link.closed.wait(max(0.0, deadline - time.monotonic())):
                link.ws.abort()

    # ------------------------------------------------------------------------------------------------------
    # inspection

    def wait_connected(self, timeout: float = 5.0) -> bool:
        """Wait until an app holds at least one open link."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._links), timeout)

    @property
    def open_links(self) -> int:
        with self._lock:
            return len(self._links)

    @property
    def links_opened(self) -> int:
        """Links ever established (a reconnect makes it grow)."""
        with self._lock:
            return self._serial

    @property
    def pongs(self) -> int:
        with self._lock:
            return self._pongs

    @property
    def envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self._envelopes.values())

    @property
    def stray_messages(self) -> list[str]:
        """Text the app sent that acked nothing: unknown or repeated envelope ids, non-JSON."""
        with self._lock:
            return list(self._stray)

    def _open_links(self) -> list[_Link]:
        with self._lock:
            return list(self._links)
