"""slackfake's Socket Mode: apps.connections.open, an RFC 6455 link, envelopes and acks. Driven by the real
slack_sdk client under Bolt's SocketModeHandler, and by a raw socket for the wire rules. The same driver
scenario runs over HTTP and over Socket Mode and must come out the same."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slackfake import FakeSlack, SlackDriver
from sandbox.slackfake import state_values as sv
from sandbox.slackfake.socket_mode import APP_LEVEL_METHODS
from tests.conftest import SLACK_REFERENCE
from tests.test_slackfake import COMMON_ERRORS

SECRET = "test-signing-secret"
MODAL = {
    "type": "modal",
    "callback_id": "order_submit",
    "title": {"type": "plain_text", "text": "New order"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "blocks": [
        {
            "type": "input",
            "block_id": "qty",
            "label": {"type": "plain_text", "text": "Quantity"},
            "element": {"type": "plain_text_input", "action_id": "qty"},
        },
        {
            "type": "input",
            "block_id": "client",
            "label": {"type": "plain_text", "text": "Client"},
            "element": {"type": "external_select", "action_id": "client", "min_query_length": 2},
        },
    ],
}
BUTTON = [
    {
        "type": "actions",
        "block_id": "b",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "action_id": "approve", "value": "7"}
        ],
    }
]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk's Socket Mode client tunnels through HTTP(S)_PROXY even to 127.0.0.1 (it ignores NO_PROXY).
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        f.add_user("U1", "sam", "Sam Supervisor")
        f.add_channel("general", members=["U1", f.bot_user_id])
        yield f


def _app(fake: FakeSlack) -> App:
    # the bot's own settings: ack after the listener returns, no auth.test at start
    client = WebClient(token=fake.bot_token, base_url=fake.api_url)
    return App(client=client, signing_secret=SECRET, process_before_response=True, token_verification_enabled=False)


@pytest.fixture
def socket_mode_app(fake: FakeSlack) -> Iterator[tuple[App, SlackDriver, SocketModeHandler]]:
    app = _app(fake)
    handler = SocketModeHandler(app, fake.app_token, web_client=app.client)
    handler.connect()  # returns once the link is up; the client reads and acks on its own threads
    try:
        yield app, SlackDriver(None, None, fake, transport="socket_mode"), handler
    finally:
        # Slack hangs up first: left to itself, slack_sdk's close() waits out its 3 s socket read timeout
        fake.socket_mode.close_links()
        handler.close()
        assert fake.wait_for(lambda: fake.socket_mode.open_links == 0)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_app(fake: FakeSlack) -> Iterator[tuple[App, SlackDriver]]:
    app = _app(fake)
    server = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield app, SlackDriver(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, fake)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["http", "socket_mode"])
def served(request: pytest.FixtureRequest) -> tuple[App, SlackDriver]:
    if request.param == "http":
        return request.getfixturevalue("http_app")
    app, driver, _ = request.getfixturevalue("socket_mode_app")
    return app, driver


# ----------------------------------------------------------------------------------------------------------
# apps.connections.open


def test_connections_open_takes_only_the_app_level_token(fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.api_url)
    url = urlsplit(client.apps_connections_open(app_token=fake.app_token)["url"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("ws", "127.0.0.1", urlsplit(fake.base_url).port, "/link/")
    assert "ticket=" in url.query and f"app_id={fake.app_id}" in url.query

    def error(token: str | None, method: str = "apps.connections.open") -> str:
        with pytest.raises(SlackApiError) as info:
            WebClient(token=token, base_url=fake.api_url).api_call(method)
        return str(info.value.response["error"])

    assert error(fake.bot_token) == "not_allowed_token_type"  # a bot token is the wrong kind
    assert error("xapp-1-A0001-unknown") == "invalid_auth"
    assert error(None) == "missing_args"
    assert error(fake.app_token, "chat.postMessage") == "not_allowed_token_type"  # and the app token is no bot's
    ref = json.loads((SLACK_REFERENCE / "slack-api-ref-methods" / "apps.connections.open.json").read_text())
    for method, errors in APP_LEVEL_METHODS.items():
        assert errors <= set(ref["errors"]) | COMMON_ERRORS, method


def test_handler_with_a_bot_token_cannot_connect(fake: FakeSlack) -> None:
    app = _app(fake)
    handler = SocketModeHandler(app, fake.bot_token, web_client=app.client)
    try:
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):
            handler.connect()
    finally:
        handler.close()
    assert fake.socket_mode.links_opened == 0


# ----------------------------------------------------------------------------------------------------------
# the same inbound requests, over HTTP and over Socket Mode


def test_every_kind_of_request_round_trips(fake: FakeSlack, served: tuple[App, SlackDriver]) -> None:
    app, slack = served
    seen: list[str] = []

    @app.command("/order")
    def order(ack: Any, body: dict, client: WebClient) -> None:
        ack(text="Opening the form…", response_type="ephemeral")
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.options("client")
    def clients(ack: Any) -> None:
        ack(options=[{"text": {"type": "plain_text", "text": "ACME"}, "value": "acme"}])

    @app.view("order_submit")
    def submit(ack: Any, view: dict) -> None:
        if view["state"]["values"]["qty"]["qty"]["value"] == "0":
            ack(response_action="errors", errors={"qty": "Must be at least 1"})
        else:
            ack()

    @app.action("approve")
    def approve(ack: Any, action: dict) -> None:
        seen.append(f"click {action['value']}")
        ack()

    @app.event("app_home_opened")
    def home(request: Any) -> None:
        seen.append(f"event retry={request.headers.get('x-slack-retry-num', [None])[0]}")

    r = slack.command("U1", "/order")
    assert (r.status, r.timed_out, r.json()) == (
        200,
        False,
        {"text": "Opening the form…", "response_type": "ephemeral"},
    )
    assert [e["text"] for e in fake.ephemerals] == ["Opening the form…"]  # the ack, shown to the user
    (view_id,) = fake.open_view_ids("U1")
    assert slack.suggest("U1", view_id, "client", "client", "ac").json()["options"][0]["value"] == "acme"
    values = {"qty": {"qty": sv.plain_text("0")}, "client": {"client": sv.external("acme", "ACME")}}
    r = slack.submit("U1", view_id, values)
    assert r.json() == {"response_action": "errors", "errors": {"qty": "Must be at least 1"}}
    assert fake.open_view_ids("U1") == [view_id]  # errors keep the modal open
    r = slack.submit("U1", view_id, {**values, "qty": {"qty": sv.plain_text("2")}})
    assert (r.status, r.json(), fake.open_view_ids("U1")) == (200, None, [])  # a bare ack closes it

    general = fake.channel_by_name("general")
    assert general is not None
    ts = app.client.chat_postMessage(channel=general.id, text="Order 7", blocks=BUTTON)["ts"]
    r = slack.click("U1", general.id, ts, "approve")
    assert (r.status, r.json()) == (200, None)
    first = slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert first.status == 200 and first.sent is not None
    assert slack.event(first.sent["event"], event_id=first.sent["event_id"], retry_num=1).status == 200
    # Socket Mode marks a first delivery retry_attempt 0, which Bolt mirrors as x-slack-retry-num "0"
    first_retry = "None" if slack.transport == "http" else "0"
    assert seen == ["click 7", f"event retry={first_retry}", "event retry=1"]


# ----------------------------------------------------------------------------------------------------------
# Socket Mode specifics


def test_envelopes_as_slack_sends_them(
    fake: FakeSlack, socket_mode_app: tuple[App, SlackDriver, SocketModeHandler]
) -> None:
    app, slack, _ = socket_mode_app
    app.command("/hi")(lambda ack: ack("hello"))
    app.event("app_mention")(lambda: None)

    r = slack.command("U1", "/hi", "there")
    # Bolt's plain-text ack travels as {"text": …} (over HTTP it is a text/plain body)
    assert r.json() == {"text": "hello"} and fake.ephemerals[-1]["text"] == "hello"
    slack.event({"type": "app_mention", "user": "U1", "text": "<@U0BOT>"}, retry_num=2, retry_reason="timeout")
    command, event = fake.socket_mode.envelopes
    assert (command.type, command.accepts_response_payload, command.retry_attempt) == ("slash_commands", True, None)
    assert command.payload["text"] == "there" and command.payload["trigger_id"]  # the form fields, as JSON
    assert command.ack == {"envelope_id": command.envelope_id, "payload": {"text": "hello"}}
    assert (event.type, event.accepts_response_payload) == ("events_api", False)
    assert (event.retry_attempt, event.retry_reason, event.payload["type"]) == (2, "timeout", "event_callback")
    assert event.ack == {"envelope_id": event.envelope_id}  # a bare ack
    assert fake.socket_mode.stray_messages == []
    with pytest.raises(ValueError, match="HTTP-only"):
        slack.url_verification("challenge")


def test_an_envelope_nobody_acks_times_out(
    fake: FakeSlack, socket_mode_app: tuple[App, SlackDriver, SocketModeHandler]
) -> None:
    _, slack, _ = socket_mode_app
    r = slack.command("U1", "/nobody-listens")  # Bolt answers 404 to itself and sends no ack
    assert (r.status, r.timed_out, r.text) == (0, True, "")
    assert fake.socket_mode.envelopes[-1].ack is None and fake.ephemerals == []


def test_refresh_requested_makes_the_client_reconnect(
    fake: FakeSlack, socket_mode_app: tuple[App, SlackDriver, SocketModeHandler]
) -> None:
    app, slack, _ = socket_mode_app
    app.command("/hi")(lambda ack: ack())
    assert fake.socket_mode.request_disconnect("refresh_requested") == 1
    # slack_sdk asks apps.connections.open for a new URL, connects, then drops the old link
    assert fake.wait_for(lambda: fake.socket_mode.links_opened == 2 and fake.socket_mode.open_links == 1, 10)
    assert len(fake.calls_to("apps.connections.open")) == 2
    r = slack.command("U1", "/hi")
    assert r.status == 200 and not r.timed_out and fake.socket_mode.envelopes[-1].link == 2


def test_slack_pings_and_the_client_pongs(
    fake: FakeSlack, socket_mode_app: tuple[App, SlackDriver, SocketModeHandler]
) -> None:
    fake.socket_mode.ping()
    assert fake.wait_for(lambda: fake.socket_mode.pongs == 1)


# ----------------------------------------------------------------------------------------------------------
# the wire, per RFC 6455, with a raw socket

RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3's example


def _upgrade(fake: FakeSlack, target: str | None = None, version: str = "13") -> tuple[socket.socket, str]:
    if target is None:
        url = urlsplit(WebClient(base_url=fake.api_url).apps_connections_open(app_token=fake.app_token)["url"])
        target = f"{url.path}?{url.query}"
    sock = socket.create_connection(("127.0.0.1", urlsplit(fake.base_url).port or 80), timeout=5)
    sock.sendall(
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
        f"Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: {version}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return sock, head.decode()


def _client_frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    mask = b"\x11\x22\x33\x44"
    head = bytes([(0x80 if fin else 0) | opcode, (0x80 if masked else 0) | len(payload)])  # payloads < 126
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body if masked else head + payload


def _server_frame(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    b1, b2 = exactly(2)
    assert b1 & 0x80 and not b2 & 0x80, "server frames are final and unmasked"
    length = b2 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", exactly(8))
    return b1 & 0x0F, exactly(length)


def test_the_link_speaks_rfc_6455(fake: FakeSlack) -> None:
    sock, head = _upgrade(fake)
    with sock:
        assert head.startswith("HTTP/1.1 101 ") and f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n" in head
        opcode, data = _server_frame(sock)
        hello = json.loads(data)
        assert opcode == 0x1 and hello["type"] == "hello" and hello["num_connections"] == 1
        assert (
            hello["connection_info"] == {"app_id": fake.app_id} and "approximate_connection_time" in hello["debug_info"]
        )
        sock.sendall(_client_frame(0x9, b"are you there"))  # ping -> pong with the same data
        assert _server_frame(sock) == (0xA, b"are you there")
        fake.socket_mode.ping()
        assert _server_frame(sock)[0] == 0x9

        env = fake.socket_mode.send("interactive", {"type": "block_suggestion", "value": "ac"})
        opcode, data = _server_frame(sock)
        sent = json.loads(data)
        assert sent == {
            "envelope_id": env.envelope_id,
            "payload": {"type": "block_suggestion", "value": "ac"},
            "type": "interactive",
            "accepts_response_payload": True,
        }
        ack = json.dumps({"envelope_id": env.envelope_id, "payload": {"options": []}}).encode()
        sock.sendall(_client_frame(0x1, ack[:20], fin=False) + _client_frame(0x0, ack[20:]))  # fragmented
        assert env.wait(1.0) and env.ack == {"envelope_id": env.envelope_id, "payload": {"options": []}}

        sock.sendall(_client_frame(0x1, b"{}", masked=False))  # clients must mask: protocol error
        opcode, data = _server_frame(sock)
        assert opcode == 0x8 and struct.unpack("!H", data[:2])[0] == 1002
        assert sock.recv(1) == b""  # and the server hangs up
    assert fake.wait_for(lambda: fake.socket_mode.open_links == 0)


def test_the_link_refuses_bad_handshakes(fake: FakeSlack) -> None:
    sock, head = _upgrade(fake, "/link/?ticket=forged&app_id=A0001")
    sock.close()
    assert head.startswith("HTTP/1.1 401 ")
    ticket = urlsplit(WebClient(base_url=fake.api_url).apps_connections_open(app_token=fake.app_token)["url"]).query
    sock, head = _upgrade(fake, f"/link/?{ticket}", version="8")
    sock.close()
    assert head.startswith("HTTP/1.1 426 ") and "Sec-WebSocket-Version: 13\r\n" in head
    assert fake.socket_mode.links_opened == 0
