"""The HTTP surface: what Slack and the load balancer see, and what bad requests get."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from bot.cards import STEP_ACTION_IDS
from bot.server import HttpServer
from forms import order_form
from forms.items import ADD_ROWS_ACTION, ITEM_ACTION
from sandbox.local import SIGNING_SECRET, LocalWorkspace
from storage.db import make_engine
from tests.conftest import OUTSIDER, REQUESTER
from tests.test_end_to_end import PEOPLE
from workflow.transitions import TRANSITIONS


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_healthz(ws: LocalWorkspace) -> None:
    assert get(f"{ws.url}/healthz") == (200, {"ok": True, "database": "reachable"})
    assert get(f"{ws.url}/nope")[0] == 404
    assert get(f"{ws.url}/slack/events")[0] == 405


def test_healthz_reports_an_unreachable_database(ws: LocalWorkspace) -> None:
    """The bot reaches its database to start (it records its workspace there); the health check asks the
    database it is given, here one that is out of reach."""
    unreachable = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    assert ws.bot is not None
    server = HttpServer(ws.bot, unreachable, SIGNING_SECRET, host="127.0.0.1", port=0)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        assert get(f"http://127.0.0.1:{server.port}/healthz") == (503, {"ok": False, "database": "unreachable"})
    finally:
        server.stop()
        serving.join(timeout=10)


def test_unsigned_and_stale_requests_are_refused(ws: LocalWorkspace) -> None:
    body = b"command=%2Forder&user_id=U0REQ&text="
    form = "application/x-www-form-urlencoded"
    assert ws.slack.post(body, form, signed=False).status == 401
    assert ws.slack.post(body, form, timestamp=int(time.time()) - 6 * 60).status == 401
    forged = ws.slack.post(body, form, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    assert forged.status == 401
    assert ws.fake.calls_to("views.open") == []


@pytest.mark.parametrize("body, content_type", [
    ("\x00\ufffe garbage=&&=".encode(), "application/x-www-form-urlencoded"),
    (b"{not json", "application/json"),
    (b"payload=%7Bnot%20json", "application/x-www-form-urlencoded"),
    (b'payload={"type": "block_actions"}', "application/x-www-form-urlencoded"),
    (b'{"type": "event_callback", "event": "x"}', "application/json"),
    (b"", "application/json"),
])
def test_signed_garbage_gets_a_4xx_and_the_bot_stays_up(ws: LocalWorkspace, body: bytes, content_type: str) -> None:
    answer = ws.slack.post(body, content_type)
    assert 400 <= answer.status < 500, (answer.status, answer.text)
    assert ws.slack.command(REQUESTER, "/order").status == 200
    ws.wait_for_view(REQUESTER, "submit_order")


def test_a_slash_command_mentioning_payload_is_still_a_slash_command(ws: LocalWorkspace) -> None:
    # Bolt's own body parser takes any form body containing "payload" for an interaction and reads it as {};
    # the bot parses the body itself (once), so the command is answered
    answer = ws.slack.command(REQUESTER, "/order", "status payload")
    assert answer.status == 200 and "Which order?" in answer.text, answer.text


def test_bytes_that_are_not_utf8_are_refused(ws: LocalWorkspace) -> None:
    assert ws.slack.post(b"\x00\xff\xfe", "application/json", signed=False).status == 400


def test_a_body_too_large_is_refused_on_its_headers(ws: LocalWorkspace) -> None:
    # refused before the body is read, so nothing waits for a megabyte that is not coming
    connection = http.client.HTTPConnection("127.0.0.1", int(ws.url.rsplit(":", 1)[1]), timeout=5)
    connection.putrequest("POST", "/slack/events")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(1024 * 1024 + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def test_ssl_check(ws: LocalWorkspace) -> None:
    assert ws.slack.post(b"ssl_check=1&token=t", "application/x-www-form-urlencoded").status == 200


def test_url_verification(ws: LocalWorkspace) -> None:
    answer = ws.slack.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert answer.status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in answer.text


def test_every_action_and_callback_id_the_builders_emit_has_a_listener(ws: LocalWorkspace) -> None:
    """Bolt answers 404 to a request no listener takes: send each id the forms and cards emit."""
    user = {"id": OUTSIDER, "username": "otto", "name": "otto", "team_id": "T0001"}
    common = {"team": {"id": "T0001", "domain": "fake"}, "user": user, "api_app_id": "A0001", "token": "t"}

    def view(callback_id: str) -> dict:
        return {"id": "V0NONE", "type": "modal", "callback_id": callback_id, "private_metadata": "{}",
                "state": {"values": {}}, "hash": "1.a", "blocks": [], "team_id": "T0001", "app_id": "A0001"}

    def status(payload: dict) -> int:
        body = urlencode({"payload": json.dumps({**common, **payload})}).encode()
        return ws.slack.post(body, "application/x-www-form-urlencoded").status

    for action in (*STEP_ACTION_IDS, ADD_ROWS_ACTION):
        assert status({"type": "block_actions", "trigger_id": "1.2.x", "container": {"type": "view"},
                       "view": view(order_form.CALLBACK_ID),
                       "actions": [{"type": "button", "action_id": action, "block_id": "b", "value": "1:0",
                                    "action_ts": "1.2"}]}) == 200, action
    for action in (ITEM_ACTION, order_form.CLIENT, order_form.SITE):
        assert status({"type": "block_suggestion", "action_id": action, "block_id": action, "value": "",
                       "container": {"type": "view"}, "view": view(order_form.CALLBACK_ID)}) == 200, action
    for callback in (t.form for t in TRANSITIONS):  # the table names every form, the submit form too
        assert status({"type": "view_submission", "view": view(callback), "trigger_id": "1.2.x",
                       "response_urls": []}) == 200, callback
        assert status({"type": "view_closed", "view": view(callback), "is_cleared": False}) == 200, callback
    assert status({"type": "block_actions", "trigger_id": "1.2.x", "actions": [
        {"type": "button", "action_id": "nobody_emits_this", "block_id": "b", "action_ts": "1.2"}]}) == 404
