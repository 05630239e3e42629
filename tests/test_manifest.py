"""manifest.yml: valid for Slack, names the command the bot serves, and asks for exactly the scopes the
bot's Web API calls need (the end-to-end tests run against a fake that grants only these)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from bot.gateway import Gateway, make_client
from sandbox.local import MANIFEST, LocalWorkspace
from sandbox.slackfake.server import LOST
from sandbox.slackfake.state import Call
from tests.conftest import REQUESTER, SLACK_REFERENCE, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE
from tests.test_reminders import POLICY, START, Timed

SCHEMAS = SLACK_REFERENCE / "manifest-schema"
REFS = SLACK_REFERENCE / "slack-api-ref-methods"


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_validates_against_slacks_schema() -> None:
    root = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    # the root schema refers to the versioned ones by URL: serve those from the local copies
    registry = Registry().with_resources(
        (f"https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/{path.name}",
         Resource.from_contents(json.loads(path.read_text())))
        for path in SCHEMAS.glob("manifest.schema.*.*.*.json"))
    errors = [f"{list(e.path)}: {e.message}" for e in Draft7Validator(root, registry=registry).iter_errors(manifest())]
    assert errors == []


def test_the_first_slash_command_is_the_one_the_bot_serves(seeded) -> None:  # type: ignore[no-untyped-def]
    command = manifest()["features"]["slash_commands"][0]["command"]
    with LocalWorkspace(seeded, PEOPLE) as ws:
        assert ws.slack.command(REQUESTER, command).status == 200
        ws.wait_for_view(REQUESTER, "submit_order")


def test_scopes_are_exactly_what_the_web_api_calls_need(seeded) -> None:  # type: ignore[no-untyped-def]
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    soon = (START + timedelta(days=2)).date()
    with Timed(seeded, scopes=scopes) as ws:
        # answers lost on the way back make the bot look for what it did (the channel, the card)
        ws.fake.fail_next("conversations.create", "lost", status=LOST)
        ws.fake.fail_next("chat.postMessage", "lost", status=LOST)
        ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=soon.isoformat(),
                        description="Scopes")
        ws.settle()
        order_id = ws.latest_order_id()
        ws.fake.archive(ws.order(order_id).channel_id)  # and an archived channel makes it check and move
        ws.fake.fail_next("files.completeUploadExternal", "lost", status=LOST)  # was the PDF's upload completed?
        ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=soon.isoformat())
        ws.settle()
        ws.slack.event({"type": "app_home_opened", "user": REQUESTER, "tab": "home"})
        ws.wait(lambda: ws.fake.home_view(REQUESTER), "home tab")
        # the field worker's morning message, in the app's DM with them, its answer lost too
        ws.fake.fail_next("chat.postMessage", "lost", status=LOST)
        assert ws.at(datetime.combine(soon, POLICY.morning, ZoneInfo(ws.fake.users[WORKER].tz))).sweep()
        assert ws.dms(WORKER)
        # the catalog import looks up the people a client names by e-mail, with the bot's token
        gateway = Gateway(make_client(ws.fake.bot_token, ws.fake.api_url))
        assert gateway.user_by_email(ws.fake.users[SUPERVISOR].email or "") == SUPERVISOR
        calls = [(call.method, in_dm(call)) for call in ws.fake.calls if call.method not in ("upload", "response_url")]
        assert all(call.response.get("error") != "missing_scope" for call in ws.fake.calls)
    assert {("users.conversations", False), ("conversations.history", False), ("conversations.history", True),
            ("conversations.info", False), ("conversations.open", True), ("files.info", False)} <= set(calls)
    needed: set[str] = {"commands"}
    for method, dm in set(calls):
        options = bot_scopes(method, dm)
        if options:
            assert options & scopes, f"{method} needs one of {options}"
            needed |= options & scopes
    # channels:manage is for public order channels (ORDER_CHANNELS_PRIVATE=false)
    assert scopes - needed <= {"channels:manage"}


def in_dm(call: Call) -> bool:
    """Whether a call was about the app's direct message with someone (im: scopes) or about a channel."""
    return call.method == "conversations.open" or str(call.args.get("channel", "")).startswith("D")


def bot_scopes(method: str, dm: bool) -> set[str]:
    """The bot scopes any one of which lets a token call `method` on a channel (`dm`: on a direct message):
    from the current docs' scrape where we have it, else from the OpenAPI spec (whose names for these methods
    are today's)."""
    ref = REFS / f"{method}.json"
    if ref.exists():
        options = set(json.loads(ref.read_text()).get("scope", {}).get("bot", []))
    else:
        spec = json.loads((SLACK_REFERENCE / "slack_web_openapi_v2.json").read_text())
        operation = next(iter(spec["paths"][f"/{method}"].values()))
        options = {scope for entry in operation.get("security", []) for scope in entry.get("slackAuth", [])}
    by_kind = {s for s in options if s.startswith("im:") == dm and not s.startswith("mpim:")}
    return by_kind or options  # a method with one scope for every kind of conversation (chat:write)


def test_manifest_path_is_the_repositorys() -> None:
    assert Path(__file__).resolve().parents[1] / "manifest.yml" == MANIFEST


def test_the_app_hears_that_it_left_a_workspace() -> None:
    """Slack sends app_uninstalled and tokens_revoked only to an app subscribed to them (bot/listeners/uninstall.py)."""
    assert {"app_uninstalled", "tokens_revoked"} <= set(manifest()["settings"]["event_subscriptions"]["bot_events"])
