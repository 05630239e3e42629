"""slackfake behaves like Slack: driven through the real slack_sdk WebClient and a real Bolt app over HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from sandbox.slackfake import FakeSlack, SlackDriver, SlackRefused
from sandbox.slackfake import state_values as sv
from sandbox.slackfake.server import LOST
from tests.conftest import SLACK_REFERENCE

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN, team_id="T0001", bot_user_id="U0BOT") as f:
        f.add_user("U1", "sam", "Sam Supervisor", email="sam@example.com")
        f.add_user("U2", "alex", "Alex Fieldworker")
        f.add_user("U3", "gone", "Gone User", deleted=True)
        f.add_channel("general", members=["U1", "U2"])
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url)


def api_error(call: Any, *args: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    return api_error(call, *args, **kwargs).response["error"]


def raw_call(
    url: str, body: bytes | None, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict, Any]:
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers.items()), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), json.loads(e.read())


MODAL = {
    "type": "modal",
    "callback_id": "order_submit",
    "title": {"type": "plain_text", "text": "New order"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": "desc",
            "label": {"type": "plain_text", "text": "Description"},
            "element": {"type": "plain_text_input", "action_id": "desc"},
        },
        {
            "type": "input",
            "block_id": "qty",
            "label": {"type": "plain_text", "text": "Quantity"},
            "element": {"type": "number_input", "action_id": "qty", "is_decimal_allowed": False},
        },
        {
            "type": "input",
            "block_id": "prio",
            "label": {"type": "plain_text", "text": "Priority"},
            "element": {
                "type": "static_select",
                "action_id": "prio",
                "options": [
                    {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
                    {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "client",
            "label": {"type": "plain_text", "text": "Client"},
            "element": {"type": "external_select", "action_id": "client", "min_query_length": 2},
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due"},
            "element": {"type": "datepicker", "action_id": "due"},
        },
        {
            "type": "input",
            "block_id": "crew",
            "optional": True,
            "label": {"type": "plain_text", "text": "Crew"},
            "element": {"type": "multi_users_select", "action_id": "crew", "initial_users": ["U2"]},
        },
    ],
}


def small_modal(title: str = "Step") -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": title}}],
    }


# ----------------------------------------------------------------------------------------------------------
# transport and auth


def test_auth_errors_and_scopes_header(fake: FakeSlack, client: WebClient) -> None:
    ok = client.auth_test()
    assert ok["user_id"] == "U0BOT" and ok["bot_id"] == "B0BOT" and ok["team_id"] == "T0001"
    assert "chat:write" in ok.headers["x-oauth-scopes"].split(",")
    assert error_of(WebClient(base_url=fake.api_url).auth_test) == "not_authed"
    assert error_of(WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test) == "invalid_auth"
    # A form POST may carry the token as a parameter; a JSON body may not (header only).
    status, _, body = raw_call(
        fake.api_url + "auth.test",
        f"token={TOKEN}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and body["ok"] is True
    status, _, body = raw_call(
        fake.api_url + "auth.test",
        json.dumps({"token": TOKEN}).encode(),
        {"Content-Type": "application/json"},
    )
    assert body == {"ok": False, "error": "not_authed"}


def test_transport_encodings_and_unknown_method(fake: FakeSlack) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    general = fake.channel_by_name("general")
    assert general is not None
    status, headers, body = raw_call(
        f"{fake.api_url}conversations.info?channel={general.id}", None, auth, "GET"
    )
    assert status == 200 and body["channel"]["name"] == "general"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    status, _, body = raw_call(
        fake.api_url + "conversations.create",
        b"name=from-form",
        {**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert body["channel"]["name"] == "from-form"
    _, _, body = raw_call(
        fake.api_url + "chat.postMessage", b"{not json", {**auth, "Content-Type": "application/json"}
    )
    assert body["error"] == "invalid_json"
    _, _, body = raw_call(
        fake.api_url + "chat.postMessage", b"[1]", {**auth, "Content-Type": "application/json"}
    )
    assert body["error"] == "json_not_object"
    status, _, body = raw_call(fake.api_url + "no.such.method", b"", auth)
    assert status == 404 and body["error"] == "unknown_method"
    err = api_error(
        WebClient(token=TOKEN, base_url=fake.api_url).api_call, "files.upload", data={"channels": "C1"}
    )
    assert err.response["error"] == "method_deprecated"


def test_missing_scope(fake: FakeSlack) -> None:
    with FakeSlack(scopes=("chat:write",)) as narrow:
        c = WebClient(token="xoxb-test-token", base_url=narrow.api_url)
        resp = api_error(c.conversations_create, name="x").response
        assert resp["error"] == "missing_scope" and resp["needed"] == "channels:manage"


# ----------------------------------------------------------------------------------------------------------
# channels


@pytest.mark.parametrize(
    "name, error",
    [
        ("", "invalid_name_required"),
        ("Order-1", "invalid_name_specials"),
        ("order 1", "invalid_name_specials"),
        ("order.1", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("--", "invalid_name_punctuation"),
    ],
)
def test_channel_name_rules(client: WebClient, name: str, error: str) -> None:
    assert error_of(client.conversations_create, name=name) == error


def test_create_channel_and_name_taken_even_when_archived(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="order-" + "9" * 74, is_private=True)["channel"]  # 80 chars is fine
    assert ch["id"].startswith("C") and ch["is_private"] is True and ch["is_member"] is True
    assert ch["creator"] == "U0BOT" and fake.channels[ch["id"]].members == {"U0BOT"}
    pub = client.conversations_create(name="order-1")["channel"]
    client.conversations_archive(channel=pub["id"])
    assert error_of(client.conversations_archive, channel=pub["id"]) == "already_archived"
    assert error_of(client.conversations_create, name="order-1") == "name_taken"
    assert error_of(client.conversations_create, name="general") == "name_taken"
    general = fake.channel_by_name("general")
    assert general is not None
    assert error_of(client.conversations_archive, channel=general.id) == "cant_archive_general"
    assert error_of(client.conversations_info, channel="C999") == "channel_not_found"


def test_archive_as_slack_documents_it(fake: FakeSlack, client: WebClient) -> None:
    """conversations.archive: the channel keeps its members, messages and files and takes no more posts,
    invites or file shares; an outsider's channel, a DM and a missing scope are refused with Slack's codes."""
    ch = client.conversations_create(name="order-7", is_private=True)["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1")
    posted = client.chat_postMessage(channel=ch, text="last words")["ts"]
    fid = client.files_upload_v2(channel=ch, content="pdf", filename="SO-000007-v1.pdf")["file"]["id"]
    client.conversations_archive(channel=ch)
    info = client.conversations_info(channel=ch)["channel"]
    assert info["is_archived"] is True and fake.channels[ch].members == {"U0BOT", "U1"}
    assert fake.message(ch, posted) is not None and ch in fake.files[fid].channels
    assert error_of(client.conversations_archive, channel=ch) == "already_archived"
    assert error_of(client.chat_postMessage, channel=ch, text="later") == "is_archived"
    assert error_of(client.chat_update, channel=ch, ts=posted, text="edited") == "is_inactive"
    assert error_of(client.conversations_invite, channel=ch, users="U2") == "is_archived"
    ticket = client.files_getUploadURLExternal(filename="v2.pdf", length=3)
    urllib.request.urlopen(urllib.request.Request(ticket["upload_url"], data=b"pdf", method="POST")).read()
    assert error_of(client.files_completeUploadExternal, files=[{"id": ticket["file_id"]}],
                    channel_id=ch) == "invalid_channel"
    theirs = fake.add_channel("theirs", members=["U1"])
    assert error_of(client.conversations_archive, channel=theirs) == "not_in_channel"
    dm = client.conversations_open(users="U1")["channel"]["id"]
    assert error_of(client.conversations_archive, channel=dm) == "method_not_supported_for_channel_type"
    assert error_of(client.conversations_archive, channel="C404") == "channel_not_found"
    with FakeSlack(bot_token=TOKEN, scopes=("chat:write", "channels:manage")) as narrow:
        narrow_client = WebClient(token=TOKEN, base_url=narrow.api_url)
        public = narrow_client.conversations_create(name="order-8")["channel"]["id"]
        private = narrow.add_channel("order-9", is_private=True, members=["U0BOT"])
        refused = api_error(narrow_client.conversations_archive, channel=private).response
        assert (refused["error"], refused["needed"]) == ("missing_scope", "groups:write")
        narrow_client.conversations_archive(channel=public)  # channels:manage is enough for a public one


def test_join_public_only(fake: FakeSlack, client: WebClient) -> None:
    general = fake.channel_by_name("general")
    assert general is not None and "U0BOT" not in general.members
    assert client.conversations_join(channel=general.id)["channel"]["is_member"] is True
    again = client.conversations_join(channel=general.id)
    assert again["response_metadata"]["warnings"] == ["already_in_channel"]
    secret = fake.add_channel("secret", is_private=True, members=["U1"])
    assert error_of(client.conversations_join, channel=secret) == "channel_not_found"  # invisible to the bot
    members = client.conversations_members(channel=general.id, limit=2)
    assert len(members["members"]) == 2 and members["response_metadata"]["next_cursor"]
    rest = client.conversations_members(
        channel=general.id, cursor=members["response_metadata"]["next_cursor"]
    )
    assert set(members["members"] + rest["members"]) == {"U0BOT", "U1", "U2"}


def test_invite_semantics(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="order-2")["channel"]["id"]
    assert client.conversations_invite(channel=ch, users="U1")["channel"]["id"] == ch
    assert "U1" in fake.channels[ch].members
    assert error_of(client.conversations_invite, channel=ch, users="U1") == "already_in_channel"
    assert error_of(client.conversations_invite, channel=ch, users="U0BOT") == "cant_invite_self"
    assert error_of(client.conversations_invite, channel=ch, users="") == "no_user"
    # One bad id fails the whole call: nobody is invited, and each failure is itemised.
    err = api_error(client.conversations_invite, channel=ch, users="U2,U404").response
    assert err["error"] == "user_not_found"
    assert err["errors"] == [{"user": "U404", "ok": False, "error": "user_not_found"}]
    assert "U2" not in fake.channels[ch].members
    # force=true invites the valid ones and reports the rest.
    forced = client.conversations_invite(channel=ch, users="U2,U404", force=True)
    assert forced["errors"][0]["user"] == "U404" and "U2" in fake.channels[ch].members
    # A deactivated ("removed") user fails silently: error returned, the others are invited anyway.
    ch2 = client.conversations_create(name="order-3")["channel"]["id"]
    err = api_error(client.conversations_invite, channel=ch2, users="U3,U1").response
    assert err["error"] == "cant_invite" and "U1" in fake.channels[ch2].members
    # The inviter must be a member; archived channels take no invites.
    general = fake.channel_by_name("general")
    assert general is not None
    assert error_of(client.conversations_invite, channel=general.id, users="U1") == "not_in_channel"
    client.conversations_archive(channel=ch2)
    assert error_of(client.conversations_invite, channel=ch2, users="U2") == "is_archived"
    assert error_of(client.conversations_invite, channel="C404", users="U2") == "channel_not_found"


def test_kick_semantics(fake: FakeSlack, client: WebClient) -> None:
    """conversations.kick as the spec documents it: the user leaves; each refusal is its own error code."""
    ch = client.conversations_create(name="order-4", is_private=True)["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1,U2")
    assert client.conversations_kick(channel=ch, user="U1")["ok"] is True
    assert "U1" not in fake.channels[ch].members and "U2" in fake.channels[ch].members
    assert error_of(client.conversations_kick, channel=ch, user="U1") == "not_in_channel"  # already out
    assert error_of(client.conversations_kick, channel=ch, user="U0BOT") == "cant_kick_self"
    assert error_of(client.conversations_kick, channel=ch, user="U404") == "user_not_found"
    assert error_of(client.conversations_kick, channel="C404", user="U2") == "channel_not_found"
    general = fake.channel_by_name("general")
    assert general is not None
    assert error_of(client.conversations_kick, channel=general.id, user="U1") == "cant_kick_from_general"
    dm = client.conversations_open(users="U2")["channel"]["id"]
    assert error_of(client.conversations_kick, channel=dm, user="U2") == "method_not_supported_for_channel_type"
    # a private channel the bot was removed from does not exist for it
    fake.remove_member(ch, "U0BOT")
    assert error_of(client.conversations_kick, channel=ch, user="U2") == "channel_not_found"


# ----------------------------------------------------------------------------------------------------------
# messages


def test_posting_requires_membership(fake: FakeSlack, client: WebClient) -> None:
    general = fake.channel_by_name("general")
    secret = fake.add_channel("secret", is_private=True, members=["U1"])
    assert general is not None
    assert error_of(client.chat_postMessage, channel=general.id, text="hi") == "not_in_channel"
    assert error_of(client.chat_postMessage, channel=secret, text="hi") == "channel_not_found"
    client.conversations_join(channel=general.id)
    posted = client.chat_postMessage(channel="#general", text="hi")  # names work for chat.postMessage
    assert posted["channel"] == general.id and posted["message"]["user"] == "U0BOT"
    reply = client.chat_postMessage(channel=general.id, text="in thread", thread_ts=posted["ts"])
    assert reply["message"]["thread_ts"] == posted["ts"] and float(reply["ts"]) > float(posted["ts"])
    assert error_of(client.chat_postMessage, channel=general.id) == "no_text"
    assert error_of(client.chat_postMessage, channel=general.id, text="x" * 40_001) == "msg_too_long"
    dm = client.chat_postMessage(channel="U1", text="psst")
    assert dm["channel"].startswith("D")
    ch = client.conversations_create(name="order-4")["channel"]["id"]
    client.conversations_archive(channel=ch)
    assert error_of(client.chat_postMessage, channel=ch, text="late") == "is_archived"


@pytest.mark.parametrize(
    "blocks, fragment",
    [
        ([{"type": "section"}], "text or fields"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "more than 0 characters"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "Hi"}}], "plain_text"),
        ([{"type": "wobble"}], "unsupported type"),
        ([{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}], "duplicate block_id"),
        ([{"type": "divider"}] * 51, "no more than 50"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "3000"),
    ],
)
def test_invalid_blocks(fake: FakeSlack, client: WebClient, blocks: list, fragment: str) -> None:
    ch = client.conversations_create(name="blocks")["channel"]["id"]
    resp = api_error(client.chat_postMessage, channel=ch, text="t", blocks=blocks).response
    assert resp["error"] == "invalid_blocks"
    assert any(fragment in m for m in resp["response_metadata"]["messages"]), resp
    assert fake.channels[ch].messages == []


def test_blocks_format_and_ids(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="fmt")["channel"]["id"]
    assert (
        error_of(client.api_call, "chat.postMessage", data={"channel": ch, "blocks": "[{"})
        == "invalid_blocks_format"
    )
    posted = client.chat_postMessage(
        channel=ch,
        text="t",
        blocks=[
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}}],
            }
        ],
    )
    block = posted["message"]["blocks"][0]
    assert block["block_id"] and block["elements"][0]["action_id"]  # Slack fills missing ids


def test_chat_update_rules(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="upd")["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}}]
    ts = client.chat_postMessage(channel=ch, text="v1", blocks=blocks)["ts"]
    upd = client.chat_update(channel=ch, ts=ts, text="v2")
    assert upd["text"] == "v2" and upd["message"]["blocks"][0]["text"]["text"] == "v1"  # omitted blocks kept
    client.chat_update(channel=ch, ts=ts, text="v3", blocks=[])
    m = fake.message(ch, ts)
    assert m is not None and m.edited and m.blocks == [] and [v.text for v in m.history] == ["v1", "v2"]
    assert error_of(client.chat_update, channel=ch, ts="1.000001", text="x") == "message_not_found"
    theirs = fake.post_as("U1", ch, "mine")
    assert error_of(client.chat_update, channel=ch, ts=theirs, text="x") == "cant_update_message"
    bad = [{"type": "section"}]
    assert error_of(client.chat_update, channel=ch, ts=ts, text="x", blocks=bad) == "invalid_blocks"


def test_ephemeral_and_permalink(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="eph")["channel"]["id"]
    assert error_of(client.chat_postEphemeral, channel=ch, user="U1", text="x") == "user_not_in_channel"
    client.conversations_invite(channel=ch, users="U1")
    ts = client.chat_postEphemeral(channel=ch, user="U1", text="only you")["message_ts"]
    assert fake.ephemerals[-1] == {"channel": ch, "user": "U1", "text": "only you", "blocks": [], "ts": ts}
    assert fake.channels[ch].messages == []
    posted = client.chat_postMessage(channel=ch, text="x")["ts"]
    link = client.chat_getPermalink(channel=ch, message_ts=posted)["permalink"]
    assert link == f"https://fake.slack.com/archives/{ch}/p{posted.replace('.', '')}"
    assert error_of(client.chat_getPermalink, channel=ch, message_ts="1.000002") == "message_not_found"


def test_users(fake: FakeSlack, client: WebClient) -> None:
    u = client.users_info(user="U1")["user"]
    assert u["real_name"] == "Sam Supervisor" and u["tz"] == "America/Santiago" and u["is_bot"] is False
    assert client.users_info(user="U3")["user"]["deleted"] is True
    assert client.users_info(user="U0BOT")["user"]["is_bot"] is True
    assert error_of(client.users_info, user="U404") == "user_not_found"
    # the locale only when asked for, as Slack does (include_locale; slack_sdk sends it as "1")
    assert "locale" not in u and client.users_info(user="U1", include_locale=True)["user"]["locale"] == "en-US"
    fake.set_user("U1", locale="es-LA")
    assert client.users_info(user="U1", include_locale="true")["user"]["locale"] == "es-LA"
    assert "locale" not in client.users_info(user="U1", include_locale=False)["user"]
    assert client.users_lookupByEmail(email="sam@example.com")["user"]["id"] == "U1"
    assert error_of(client.users_lookupByEmail, email="nobody@example.com") == "users_not_found"


def test_users_lookup_by_email_as_slack_documents_it(fake: FakeSlack, client: WebClient) -> None:
    found = client.users_lookupByEmail(email="Sam@Example.com")  # Slack compares e-mails without case
    assert found["ok"] is True and found["user"]["id"] == "U1"
    assert found["user"]["profile"]["email"] == "sam@example.com" and found["user"]["name"] == "sam"
    assert error_of(client.users_lookupByEmail, email="nobody@example.com") == "users_not_found"
    assert error_of(client.users_lookupByEmail, email="gone@example.com") == "users_not_found"  # deactivated
    missing = api_error(client.users_lookupByEmail, email="")
    assert missing.response["error"] == "invalid_arguments"
    assert missing.response["response_metadata"]["messages"] == ["[ERROR] missing required field: email"]
    # the method needs users:read.email: users:read is not enough
    with FakeSlack(bot_token=TOKEN, scopes=("users:read", "chat:write")) as narrow:
        narrow.add_user("U1", "sam", email="sam@example.com")
        refused = api_error(WebClient(token=TOKEN, base_url=narrow.api_url).users_lookupByEmail,
                            email="sam@example.com")
        assert refused.response["error"] == "missing_scope" and refused.response["needed"] == "users:read.email"


# ----------------------------------------------------------------------------------------------------------
# views


def test_views_open_trigger_rules(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.new_trigger_id("U1")
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert (
        view["id"].startswith("V") and view["root_view_id"] == view["id"] and view["previous_view_id"] is None
    )
    assert view["state"] == {"values": {}} and view["hash"] and view["callback_id"] == "order_submit"
    assert view["team_id"] == "T0001" and view["app_id"] == "A0001" and view["bot_id"] == "B0BOT"
    assert fake.opened_views[-1][0] == "U1" and fake.open_view_ids("U1") == [view["id"]]
    assert error_of(client.views_open, trigger_id=trigger, view=MODAL) == "exchanged_trigger_id"
    stale = fake.new_trigger_id("U1", issued_at=time.time() - 3.5)
    assert error_of(client.views_open, trigger_id=stale, view=MODAL) == "expired_trigger_id"
    assert error_of(client.views_open, trigger_id="123.456.abc", view=MODAL) == "invalid_trigger_id"
    assert error_of(client.views_open, trigger_id="", view=MODAL) == "invalid_arguments"


def test_views_open_validates_view_without_spending_the_trigger(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.new_trigger_id("U1")
    no_submit = {**MODAL, "submit": None}
    del no_submit["submit"]
    cases = [
        (no_submit, "submit"),
        ({**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}, "title"),
        ({**small_modal(), "blocks": [{"type": "divider"}] * 101}, "no more than 100"),
        ({**small_modal(), "submit_disabled": True}, "invalid additional property"),
        ({"type": "home", "blocks": []}, "/view/type"),
    ]
    for view, fragment in cases:
        resp = api_error(client.views_open, trigger_id=trigger, view=view).response
        assert resp["error"] == "invalid_arguments"
        msgs = resp["response_metadata"]["messages"]
        assert all(m.startswith("[ERROR]") for m in msgs) and any(fragment in m for m in msgs), msgs
    assert client.views_open(trigger_id=trigger, view=small_modal())["ok"]


def test_views_push_limit_and_update_hash(fake: FakeSlack, client: WebClient) -> None:
    root = client.views_open(trigger_id=fake.new_trigger_id("U1"), view=small_modal("root"))["view"]
    second = client.views_push(
        trigger_id=fake.new_trigger_id("U1", view_id=root["id"]), view=small_modal("2")
    )
    assert second["view"]["root_view_id"] == root["id"] and second["view"]["previous_view_id"] == root["id"]
    client.views_push(trigger_id=fake.new_trigger_id("U1", view_id=root["id"]), view=small_modal("3"))
    trig = fake.new_trigger_id("U1", view_id=root["id"])
    assert error_of(client.views_push, trigger_id=trig, view=small_modal("4")) == "push_limit_reached"
    assert len(fake.open_view_ids("U1")) == 3
    assert (
        error_of(client.views_push, trigger_id=fake.new_trigger_id("U2"), view=small_modal()) == "not_found"
    )

    updated = client.views_update(view_id=root["id"], hash=root["hash"], view=small_modal("root v2"))["view"]
    assert updated["id"] == root["id"] and updated["hash"] != root["hash"]
    assert fake.views[root["id"]]["title"]["text"] == "root v2"
    stale = api_error(client.views_update, view_id=root["id"], hash=root["hash"], view=small_modal("v3"))
    assert stale.response["error"] == "hash_conflict"
    assert client.views_update(view_id=root["id"], view=small_modal("no hash: wins"))["ok"]
    assert error_of(client.views_update, view_id="V404", view=small_modal()) == "not_found"
    ext = client.views_open(
        trigger_id=fake.new_trigger_id("U2"), view={**small_modal(), "external_id": "ext-1"}
    )
    assert (
        client.views_update(external_id="ext-1", view=small_modal("by ext"))["view"]["id"]
        == ext["view"]["id"]
    )
    dup = {**small_modal(), "external_id": "ext-1"}
    assert (
        error_of(client.views_open, trigger_id=fake.new_trigger_id("U2"), view=dup) == "duplicate_external_id"
    )
    fake.close_view(root["id"])
    assert error_of(client.views_update, view_id=root["id"], view=small_modal()) == "not_found"


def test_views_publish(fake: FakeSlack, client: WebClient) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your orders"}}],
    }
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert again["id"] == first["id"] and fake.home_view("U1") is not None
    assert error_of(client.views_publish, user_id="U1", view=home, hash=first["hash"]) == "hash_conflict"
    assert error_of(client.views_publish, user_id="U404", view=home) == "invalid_arguments"
    assert error_of(client.views_publish, user_id="U1", view=small_modal()) == "invalid_arguments"


# ----------------------------------------------------------------------------------------------------------
# files


def test_files_upload_v2_end_to_end(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="order-5")["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1")
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    resp = client.files_upload_v2(
        channel=ch,
        file=pdf,
        filename="SO-000001-v1.pdf",
        title="SO-000001 v1",
        initial_comment="Order SO-000001, version 1",
    )
    fid = resp["file"]["id"]
    assert fid.startswith("F") and resp["file"]["title"] == "SO-000001 v1"
    stored = fake.files[fid]
    assert stored.content == pdf and stored.filename == "SO-000001-v1.pdf" and stored.channels == [ch]
    upload = fake.calls_to("upload")[0]
    assert upload.args["length"] == len(pdf)
    assert upload.args["content_type"] == "application/x-www-form-urlencoded"  # urllib default, not parsed
    msg = fake.channels[ch].messages[-1]
    assert msg.files == [fid] and msg.text == "Order SO-000001, version 1"
    assert "📎 SO-000001-v1.pdf" in fake.transcript(ch)
    info = client.files_info(file=fid)
    assert info["file"]["shares"]["public"][ch][0]["ts"] == msg.ts and info["file"]["size"] == len(pdf)


def test_a_share_can_reach_history_late_and_its_ticket_completes_once() -> None:
    now = [1_800_000_000.0]
    with FakeSlack(bot_token=TOKEN, clock=lambda: now[0]) as late:
        client = WebClient(token=TOKEN, base_url=late.api_url)
        ch = client.conversations_create(name="late")["channel"]["id"]
        late.delay_shares(30)
        ticket = client.files_getUploadURLExternal(filename="a.pdf", length=3)
        urllib.request.urlopen(urllib.request.Request(ticket["upload_url"], data=b"pdf", method="POST")).close()
        files = [{"id": ticket["file_id"]}]
        client.files_completeUploadExternal(files=files, channel_id=ch)
        assert client.conversations_history(channel=ch)["messages"] == []  # answered, not shared yet
        assert error_of(client.files_completeUploadExternal, files=files, channel_id=ch) == "file_not_found"
        now[0] += 30
        shown = client.conversations_history(channel=ch)["messages"]
        assert [f["id"] for m in shown for f in m["files"]] == [ticket["file_id"]]


def test_file_upload_errors(fake: FakeSlack, client: WebClient) -> None:
    assert error_of(client.files_getUploadURLExternal, filename="a.pdf", length=0) == "missing_argument"
    ticket = client.files_getUploadURLExternal(filename="a.pdf", length=10)
    assert ticket["upload_url"].startswith(fake.base_url + "/upload/")
    files = [{"id": ticket["file_id"], "title": "a"}]
    assert error_of(client.files_completeUploadExternal, files=files) == "file_not_found"  # no bytes yet
    urllib.request.urlopen(urllib.request.Request(ticket["upload_url"], data=b"short", method="POST")).read()
    assert error_of(client.files_completeUploadExternal, files=files) == "invalid_arguments"  # 5 != 10 bytes
    general = fake.channel_by_name("general")
    assert general is not None
    with pytest.raises(SlackApiError) as err:
        client.files_upload_v2(channel=general.id, content="x", filename="b.txt")
    assert err.value.response["error"] == "not_in_channel"
    assert error_of(client.files_info, file="F404") == "file_not_found"


# ----------------------------------------------------------------------------------------------------------
# faults and retries


def test_ratelimit_is_retried_only_with_the_handler(fake: FakeSlack) -> None:
    plain = WebClient(token=TOKEN, base_url=fake.api_url)
    fake.fail_next("auth.test", retry_after=7)
    err = api_error(plain.auth_test)
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "7"

    retrying = WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler()])
    fake.fail_next("auth.test", retry_after=1)
    start = time.monotonic()
    assert retrying.auth_test()["ok"] is True
    assert time.monotonic() - start >= 1.0  # honoured Retry-After
    assert [c.status for c in fake.calls_to("auth.test")] == [429, 429, 200]


def test_server_error_injection(fake: FakeSlack) -> None:
    fake.fail_next("users.info", status=500, times=1)
    err = api_error(WebClient(token=TOKEN, base_url=fake.api_url).users_info, user="U1")
    assert err.response.status_code == 500
    fake.fail_next("users.info", status=500)
    retrying = WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[ServerErrorRetryHandler()])
    assert retrying.users_info(user="U1")["user"]["id"] == "U1"
    fake.fail_next("chat.postMessage", error="internal_error", status=200)
    assert (
        error_of(WebClient(token=TOKEN, base_url=fake.api_url).chat_postMessage, channel="C1")
        == "internal_error"
    )


# ----------------------------------------------------------------------------------------------------------
# transcript


def test_transcript(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="order-6")["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1")
    ts = client.chat_postMessage(
        channel=ch,
        text="fallback",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "SO-000001"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "For <@U1>"},
                "fields": [{"type": "mrkdwn", "text": "*Qty:* 3"}],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "v1"}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "action_id": "approve",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "action_id": "reject",
                    },
                ],
            },
        ],
    )["ts"]
    client.chat_update(
        channel=ch,
        ts=ts,
        text="approved",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Approved by <@U1>"}}],
    )
    text = fake.transcript(ch)
    assert "→ Sam Supervisor joined (invited by service-orders)" in text
    assert "service-orders (updated " in text and "Approved by @Sam Supervisor" in text
    assert "[Approve]" not in text  # only the latest version shows
    fake.post_as("U1", ch, "thanks")
    assert "Sam Supervisor:\n    thanks" in fake.transcript(ch)
    assert "T" in text.splitlines()[1].split()[0] and text.splitlines()[1].split()[0].endswith("Z")


# ----------------------------------------------------------------------------------------------------------
# state.values helpers


def test_state_value_shapes() -> None:
    assert sv.plain_text("x") == {"type": "plain_text_input", "value": "x"}
    assert sv.plain_text("") == {"type": "plain_text_input", "value": None}
    assert sv.number(3) == {"type": "number_input", "value": "3"}
    assert sv.date("2025-01-31") == {"type": "datepicker", "selected_date": "2025-01-31"}
    assert sv.static(None) == {"type": "static_select", "selected_option": None}
    assert sv.external("acme", "ACME") == {
        "type": "external_select",
        "selected_option": {"text": {"type": "plain_text", "text": "ACME", "emoji": True}, "value": "acme"},
    }
    assert sv.users(["U1"]) == {"type": "multi_users_select", "selected_users": ["U1"]}
    assert sv.user("U1") == {"type": "users_select", "selected_user": "U1"}


def test_complete_values_like_slacks_client() -> None:
    from sandbox.slackfake.validation import fill_ids

    view = {**MODAL, "blocks": fill_ids(MODAL["blocks"], lambda: "gen")}
    values = {
        "desc": {"desc": sv.plain_text("Fix pump")},
        "qty": {"qty": sv.number(2)},
        "prio": {"prio": sv.static("high")},
        "client": {"client": sv.external("acme", "ACME")},
    }
    full = sv.complete_values(view, values)
    assert full["prio"]["prio"]["selected_option"]["text"]["text"] == "High"  # text taken from the options
    assert full["due"]["due"] == {"type": "datepicker", "selected_date": None}  # optional, empty
    assert full["crew"]["crew"] == {"type": "multi_users_select", "selected_users": ["U2"]}  # initial value
    with pytest.raises(ValueError, match="required"):
        sv.complete_values(view, {k: v for k, v in values.items() if k != "desc"})
    with pytest.raises(ValueError, match="not an option"):
        sv.complete_values(view, {**values, "prio": {"prio": sv.static("urgent")}})
    with pytest.raises(ValueError, match="not a"):
        sv.complete_values(view, {**values, "qty": {"qty": sv.plain_text("2")}})
    with pytest.raises(ValueError, match="not in the view"):
        sv.complete_values(view, {**values, "nope": {"nope": sv.plain_text("x")}})


# ----------------------------------------------------------------------------------------------------------
# inbound: a real Bolt app over HTTP


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bolt(fake: FakeSlack) -> Iterator[tuple[App, SlackDriver]]:
    app = App(
        process_before_response=True,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=fake.api_url),
    )
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    driver = SlackDriver(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, fake)
    try:
        yield app, driver
    finally:
        server.shutdown()
        server.server_close()


def test_signed_requests_reach_bolt_and_unsigned_ones_do_not(bolt: tuple[App, SlackDriver]) -> None:
    app, slack = bolt
    seen: list[dict] = []

    @app.command("/order")
    def order(ack: Any, command: dict) -> None:
        seen.append(command)
        ack()

    r = slack.command("U1", "/order", text="new")
    assert r.status == 200 and r.json() is None
    assert seen[0]["user_name"] == "sam" and seen[0]["trigger_id"].count(".") == 2
    assert seen[0]["response_url"].startswith(slack.fake.base_url)
    raw = b"command=%2Forder&user_id=U1"
    assert slack.post(raw, "application/x-www-form-urlencoded", signed=False).status == 401
    assert (
        slack.post(raw, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 600).status == 401
    )
    assert slack.url_verification("chal-123").json() == {"challenge": "chal-123"}


def test_modal_round_trip_through_bolt(fake: FakeSlack, bolt: tuple[App, SlackDriver]) -> None:
    app, slack = bolt

    @app.command("/order")
    def order(ack: Any, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.options("client")
    def clients(ack: Any, payload: dict) -> None:
        ack(options=[{"text": {"type": "plain_text", "text": "ACME"}, "value": "acme"}])

    submitted: list[dict] = []

    @app.view("order_submit")
    def submit(ack: Any, view: dict) -> None:
        values = view["state"]["values"]
        submitted.append(values)
        if values["qty"]["qty"]["value"] == "0":
            ack(response_action="errors", errors={"qty": "Must be at least 1"})
        else:
            ack()

    assert slack.command("U1", "/order").status == 200
    user, view = fake.opened_views[-1]
    assert user == "U1"
    options = slack.suggest("U1", view, "client", "client", "ac").json()
    assert options["options"][0]["value"] == "acme"
    values = {
        "desc": {"desc": sv.plain_text("Fix pump")},
        "qty": {"qty": sv.number(0)},
        "prio": {"prio": sv.static("low")},
        "client": {"client": sv.external("acme", "ACME")},
    }
    r = slack.submit("U1", view, values)
    assert r.json()["response_action"] == "errors" and fake.open_view_ids("U1") == [view["id"]]
    r = slack.submit("U1", view, {**values, "qty": {"qty": sv.number(3)}})
    assert r.status == 200 and fake.open_view_ids("U1") == []
    assert submitted[-1]["prio"]["prio"]["selected_option"]["value"] == "low"
    with pytest.raises(ValueError, match="not the top view"):
        slack.submit("U1", view, values)  # the modal is gone


def test_bad_submission_ack_is_refused(fake: FakeSlack, bolt: tuple[App, SlackDriver]) -> None:
    app, slack = bolt

    @app.view("order_submit")
    def submit(ack: Any) -> None:
        ack(response_action="errors", errors={"not-an-input": "boom"})

    view = WebClient(token=TOKEN, base_url=fake.api_url).views_open(
        trigger_id=fake.new_trigger_id("U1"), view=MODAL
    )["view"]
    values = {
        "desc": {"desc": sv.plain_text("x")},
        "qty": {"qty": sv.number(1)},
        "prio": {"prio": sv.static("low")},
        "client": {"client": sv.external("a", "A")},
    }
    with pytest.raises(SlackRefused, match="block_ids of input blocks"):
        slack.submit("U1", view, values)


def test_button_click_and_response_url(
    fake: FakeSlack, client: WebClient, bolt: tuple[App, SlackDriver]
) -> None:
    app, slack = bolt

    @app.action("approve")
    def approve(ack: Any, body: dict, respond: Any) -> None:
        ack()
        assert body["message"]["blocks"][0]["elements"][0]["action_id"] == "approve"
        respond(
            replace_original=True,
            text="Approved",
            blocks=[
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"Approved by <@{body['user']['id']}>"},
                }
            ],
        )

    ch = client.conversations_create(name="order-7")["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1")
    ts = client.chat_postMessage(
        channel=ch,
        text="Order",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "action_id": "approve",
                        "value": "SO-1",
                    }
                ],
            }
        ],
    )["ts"]
    r = slack.click("U1", ch, ts, "approve")
    assert r.status == 200 and r.sent is not None and r.sent["actions"][0]["value"] == "SO-1"
    m = fake.message(ch, ts)
    assert m is not None and m.edited and "Approved by @Sam Supervisor" in fake.transcript(ch)


def test_events_and_retries(fake: FakeSlack, bolt: tuple[App, SlackDriver]) -> None:
    app, slack = bolt
    retries: list[str | None] = []

    @app.event("app_home_opened")
    def home(event: dict, client: WebClient, request: Any) -> None:
        retries.append(request.headers.get("x-slack-retry-num", [None])[0])
        client.views_publish(
            user_id=event["user"],
            view={"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]},
        )

    first = slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert first.status == 200 and first.sent is not None
    slack.event(
        {"type": "app_home_opened", "user": "U1", "tab": "home"}, event_id=first.sent["event_id"], retry_num=1
    )
    assert retries == [None, "1"] and fake.home_view("U1") is not None


# ----------------------------------------------------------------------------------------------------------
# the fake against Slack's documentation


# Slack's "common errors", shared by every method page and not repeated in the per-method ref files
# (docs.slack.dev method pages; same list in slack_web_openapi_v2.json's per-method error enums).
COMMON_ERRORS = {
    "access_denied",
    "accesslimited",
    "account_inactive",
    "deprecated_endpoint",
    "ekm_access_denied",
    "enterprise_is_restricted",
    "fatal_error",
    "internal_error",
    "invalid_arg_name",
    "invalid_arguments",
    "invalid_array_arg",
    "invalid_auth",
    "invalid_charset",
    "invalid_form_data",
    "invalid_post_type",
    "invalid_json",
    "json_not_object",
    "is_bot",
    "method_deprecated",
    "missing_post_type",
    "missing_scope",
    "no_permission",
    "not_allowed_token_type",
    "not_authed",
    "org_login_required",
    "ratelimited",
    "request_timeout",
    "service_unavailable",
    "team_access_not_granted",
    "team_added_to_org",
    "token_expired",
    "token_revoked",
    "two_factor_setup_required",
    "upgrade_required",
}


def _docs() -> tuple[Path, dict[str, Any]]:
    spec = json.loads((SLACK_REFERENCE / "slack_web_openapi_v2.json").read_text())
    return SLACK_REFERENCE / "slack-api-ref-methods", spec


def _documented(method: str, ref_dir: Path, spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(documented error codes, required top-level success keys) from the ref file and the 2020 spec."""
    errors: set[str] = set()
    required: set[str] = set()
    ref_file = ref_dir / f"{method}.json"
    if ref_file.exists():
        ref = json.loads(ref_file.read_text())
        errors |= set(ref.get("errors") or {})
        required |= set((ref.get("output") or {}).get("required") or [])
    for op in (spec["paths"].get(f"/{method}") or {}).values():
        default = op["responses"].get("default", {}).get("schema", {})
        errors |= set(default.get("properties", {}).get("error", {}).get("enum") or [])
        required |= set(op["responses"].get("200", {}).get("schema", {}).get("required") or [])
    return errors, required - {"ok"}


def _tour(fake: FakeSlack, client: WebClient) -> None:
    """One successful call of every implemented method (files.upload only ever answers method_deprecated)."""
    client.auth_test()
    ch = client.conversations_create(name="tour")["channel"]["id"]
    client.conversations_invite(channel=ch, users="U1")
    client.conversations_kick(channel=ch, user="U1")
    client.conversations_invite(channel=ch, users="U1")
    client.conversations_info(channel=ch)
    client.conversations_members(channel=ch)
    general = fake.channel_by_name("general")
    assert general is not None
    client.conversations_join(channel=general.id)
    ts = client.chat_postMessage(channel=ch, text="x")["ts"]
    client.chat_update(channel=ch, ts=ts, text="y")
    client.conversations_history(channel=ch, include_all_metadata=True)
    client.users_conversations(types="public_channel,private_channel")
    client.conversations_open(users="U2")
    client.chat_postEphemeral(channel=ch, user="U1", text="z")
    client.chat_getPermalink(channel=ch, message_ts=ts)
    view = client.views_open(trigger_id=fake.new_trigger_id("U1"), view=small_modal())["view"]
    client.views_push(trigger_id=fake.new_trigger_id("U1", view_id=view["id"]), view=small_modal())
    client.views_update(view_id=view["id"], view=small_modal())
    client.views_publish(user_id="U1", view={"type": "home", "blocks": small_modal()["blocks"]})
    client.users_info(user="U1")
    client.users_lookupByEmail(email="sam@example.com")
    fid = client.files_upload_v2(channel=ch, content="hello", filename="a.txt")["file"]["id"]
    client.files_info(file=fid)
    client.conversations_archive(channel=ch)
    other = fake.add_workspace("T0TOUR", "Tour")
    other.add_user("U0T1", "tess")
    fake.set_oauth_app("1.2", "shh", ["http://127.0.0.1:1/slack/oauth_redirect"])
    other.consent("U0T1")
    code = parse_qs(urlsplit(authorize(fake, {"client_id": "1.2", "scope": "commands"})).query)["code"][0]
    WebClient(base_url=fake.api_url).oauth_v2_access(client_id="1.2", client_secret="shh", code=code)


def authorize(fake: FakeSlack, query: dict[str, str]) -> str:
    """A person's browser at Slack's authorize page: where it is sent (the page itself, for an error)."""
    req = urllib.request.Request(f"{fake.authorize_url}?{urlencode(query)}")
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(req) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        return e.headers.get("Location") or e.read().decode()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_methods_match_slack_documentation(fake: FakeSlack, client: WebClient) -> None:
    ref_dir, spec = _docs()
    _tour(fake, client)
    calls = [call for team in fake.team_ids for call in fake.workspace(team).calls]  # each workspace keeps its own
    successes = {c.method: c.response for c in calls if c.status == 200 and c.response.get("ok")}
    defs = spec["definitions"]
    for method, errors in fake.method_errors().items():
        in_ref = (ref_dir / f"{method}.json").exists()
        assert in_ref or f"/{method}" in spec["paths"], f"{method}: not a documented Slack method"
        documented, required = _documented(method, ref_dir, spec)
        undocumented = errors - documented - COMMON_ERRORS
        assert not undocumented, f"{method} can answer undocumented errors {sorted(undocumented)}"
        if method == "files.upload":
            continue
        assert method in successes, f"the tour made no successful {method} call"
        missing = required - set(successes[method])
        assert not missing, f"{method} success lacks documented keys {sorted(missing)}"
    # Embedded objects carry the spec's required keys too.
    conv_required = set(defs["objs_conversation"]["items"][0]["required"])
    assert conv_required <= set(successes["conversations.create"]["channel"])
    assert set(defs["objs_user"]["items"][0]["required"]) <= set(successes["users.info"]["user"])
    assert set(defs["objs_message"]["required"]) <= set(successes["chat.postMessage"]["message"])


def test_modal_stack_from_the_users_side(fake: FakeSlack, bolt: tuple[App, SlackDriver]) -> None:
    app, slack = bolt
    step = {
        "type": "modal",
        "notify_on_close": True,
        "submit": {"type": "plain_text", "text": "Next"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "note"},
            }
        ],
    }
    closed: list[bool] = []

    @app.command("/order")
    def order(ack: Any, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view={**step, "callback_id": "one", "title": "One"})

    @app.view("one")
    def one(ack: Any) -> None:
        ack(response_action="push", view={**step, "callback_id": "two", "title": "Two"})

    @app.view("two")
    def two(ack: Any) -> None:
        ack(response_action="update", view={**step, "callback_id": "two", "title": "Two, again"})

    @app.view_closed("two")
    @app.view_closed("one")
    def on_close(ack: Any, body: dict) -> None:
        closed.append(body["is_cleared"])
        ack()

    slack.command("U1", "/order")
    root = fake.opened_views[-1][1]
    note = {"note": {"note": sv.plain_text("hi")}}
    slack.submit("U1", root, note)
    pushed = fake.opened_views[-1][1]
    assert fake.open_view_ids("U1") == [root["id"], pushed["id"]] and pushed["previous_view_id"] == root["id"]
    slack.submit("U1", pushed, note)
    assert fake.views[pushed["id"]]["title"]["text"] == "Two, again"
    assert fake.views[pushed["id"]]["hash"] != pushed["hash"]
    r = slack.close("U1", pushed)  # back to the first view
    assert r is not None and r.status == 200 and fake.open_view_ids("U1") == [root["id"]]
    slack.close("U1", root)
    assert fake.open_view_ids("U1") == [] and closed == [False, False]
    quiet = WebClient(token=TOKEN, base_url=fake.api_url).views_open(
        trigger_id=fake.new_trigger_id("U2"), view=small_modal()
    )["view"]
    assert slack.close("U2", quiet) is None  # no notify_on_close: Slack sends nothing


def test_command_ack_bodies_and_response_url_limits(
    fake: FakeSlack, client: WebClient, bolt: tuple[App, SlackDriver]
) -> None:
    app, slack = bolt

    @app.command("/help")
    def help_(ack: Any) -> None:
        ack("Usage: /order")

    @app.command("/shout")
    def shout(ack: Any) -> None:
        ack(response_type="in_channel", text="Everyone: hi")

    slack.command("U1", "/help")
    assert fake.ephemerals[-1]["user"] == "U1" and fake.ephemerals[-1]["text"] == "Usage: /order"
    slack.command("U1", "/shout")
    general = fake.channel_by_name("general")
    assert general is not None and general.messages[-1].text == "Everyone: hi"  # no membership needed

    url = fake.new_response_url(general.id, "U1")
    codes = []
    for _ in range(6):
        req = urllib.request.Request(url, data=json.dumps({"text": "x"}).encode(), method="POST")
        try:
            with urllib.request.urlopen(req) as r:
                codes.append(r.status)
        except urllib.error.HTTPError as e:
            codes.append(e.code)
    assert codes == [200] * 5 + [404]


def test_query_string_token_is_not_accepted(fake: FakeSlack) -> None:
    status, _, body = raw_call(f"{fake.api_url}auth.test?token={TOKEN}", None, {}, "GET")
    assert body == {"ok": False, "error": "not_authed"}


# --- message metadata, history, the bot's conversations, lost answers ---------------------------------------

def test_message_metadata_is_kept_and_shown_only_when_asked(fake: FakeSlack, client: WebClient) -> None:
    ch = client.conversations_create(name="meta")["channel"]["id"]
    metadata = {"event_type": "order_card", "event_payload": {"order": 7}}
    ts = client.chat_postMessage(channel=ch, text="card", metadata=metadata)["ts"]
    client.chat_postMessage(channel=ch, text="plain")
    plain = client.conversations_history(channel=ch)["messages"]
    assert [m["text"] for m in plain] == ["plain", "card"] and all("metadata" not in m for m in plain)
    full = client.conversations_history(channel=ch, include_all_metadata=True)["messages"]
    assert full[1]["ts"] == ts and full[1]["metadata"] == metadata
    assert error_of(client.chat_postMessage, channel=ch, text="x", metadata="{not json") == "invalid_metadata_format"
    assert error_of(client.chat_postMessage, channel=ch, text="x",
                    metadata={"event_type": "t"}) == "invalid_metadata_schema"
    assert error_of(client.chat_postMessage, channel=ch, text="x", metadata={
        "event_type": "t", "event_payload": {"x": "y" * 9000}}) == "metadata_too_large"


def test_history_pages_newest_first_and_hides_private_channels_the_bot_left(fake: FakeSlack,
                                                                            client: WebClient) -> None:
    ch = client.conversations_create(name="paged", is_private=True)["channel"]["id"]
    for n in range(5):
        client.chat_postMessage(channel=ch, text=f"m{n}")
    first = client.conversations_history(channel=ch, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    second = client.conversations_history(channel=ch, limit=2, cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    assert error_of(client.conversations_history, channel=ch, oldest="yesterday") == "invalid_ts_oldest"
    fake.remove_member(ch, fake.bot_user_id)
    assert error_of(client.conversations_history, channel=ch) == "channel_not_found"


def test_users_conversations_lists_the_bots_channels_archived_too(fake: FakeSlack, client: WebClient) -> None:
    public = client.conversations_create(name="pub")["channel"]["id"]
    private = client.conversations_create(name="priv", is_private=True)["channel"]["id"]
    fake.archive(private)
    names = lambda **kw: [c["name"] for c in client.users_conversations(**kw)["channels"]]  # noqa: E731
    assert names() == ["pub"]  # public channels by default, as Slack does
    assert names(types="public_channel,private_channel") == ["pub", "priv"]
    assert names(types="private_channel", exclude_archived=True) == []
    assert error_of(client.users_conversations, types="rooms") == "invalid_types"
    assert public


def test_a_lost_answer_is_acted_on_but_never_answered(fake: FakeSlack) -> None:
    once = WebClient(token=TOKEN, base_url=fake.api_url)  # no retry handlers: one call, one try
    once.retry_handlers = []
    fake.fail_next("conversations.create", "lost", status=LOST)
    with pytest.raises((SlackClientError, OSError)):
        once.conversations_create(name="made-anyway")
    assert fake.channel_by_name("made-anyway") is not None
    assert [c.status for c in fake.calls_to("conversations.create")] == [0]
    fake.chaos(1.0, kinds=("lost",))
    with pytest.raises((SlackClientError, OSError)):
        once.chat_postMessage(channel="made-anyway", text="posted anyway")
    fake.chaos(0)
    assert [m.text for m in fake.channels[fake.channel_by_name("made-anyway").id].messages] == ["posted anyway"]


def test_direct_messages_open_once_and_need_the_im_scopes(fake: FakeSlack, client: WebClient) -> None:
    opened = client.conversations_open(users="U2")
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and "already_open" not in opened.data
    again = client.conversations_open(users="U2", return_im=True)
    assert again["channel"]["id"] == dm and again["channel"]["is_im"] and again["already_open"]
    resumed = client.conversations_open(channel=dm, return_im=True)
    assert resumed["channel"]["id"] == dm and resumed["channel"]["is_im"] and resumed["already_open"]
    # posting to the user id lands in the same conversation, and its history shows it
    client.chat_postMessage(channel="U2", text="good morning", metadata={"event_type": "t", "event_payload": {}})
    assert [m["text"] for m in client.conversations_history(channel=dm)["messages"]] == ["good morning"]
    assert error_of(client.conversations_open, users="U3") == "user_disabled"
    assert error_of(client.conversations_open, users="U404") == "user_not_found"
    assert error_of(client.conversations_open, users="") == "users_list_not_supplied"
    assert error_of(client.conversations_open, channel="D404") == "channel_not_found"
    assert error_of(client.conversations_open, users="U1,U2") == "invalid_arguments"  # group DMs: not modelled
    fake.set_tabs(messages=False)  # the app's DMs live in its Messages tab
    assert error_of(client.chat_postMessage, channel="U2", text="hello") == "messages_tab_disabled"
    assert error_of(client.chat_postMessage, channel=dm, text="hello") == "messages_tab_disabled"
    channel = client.conversations_create(name="still-fine")["channel"]["id"]
    assert client.chat_postMessage(channel=channel, text="channels are fine")["ok"]
    with FakeSlack(bot_token=TOKEN, scopes=("chat:write", "groups:write", "groups:history")) as narrow:
        narrow.add_user("U2", "alex", "Alex Fieldworker")
        other = WebClient(token=TOKEN, base_url=narrow.api_url)
        assert api_error(other.conversations_open, users="U2").response["needed"] == "im:write"
        dm = other.chat_postMessage(channel="U2", text="hello")["channel"]
        assert api_error(other.conversations_history, channel=dm).response["needed"] == "im:history"
