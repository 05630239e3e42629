"""manifest.yml: valid for Slack, names the command the bot serves, and asks for exactly the scopes the
bot's Web API calls need (the end-to-end tests run against a fake that grants only these)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from bot.local import MANIFEST, LocalWorkspace
from tests.conftest import REQUESTER, SHARED, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE

SCHEMAS = SHARED / "slack" / "manifest-schema"
REFS = SHARED / "slack" / "slack-api-ref-methods"
pytestmark = pytest.mark.skipif(not SCHEMAS.exists(), reason=f"Slack's reference files are not at {SHARED}")


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
    soon = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    with LocalWorkspace(seeded, PEOPLE, scopes=scopes) as ws:
        ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=soon,
                        description="Scopes")
        ws.settle()
        order_id = ws.latest_order_id()
        ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=soon)
        ws.settle()
        ws.slack.event({"type": "app_home_opened", "user": REQUESTER, "tab": "home"})
        ws.wait(lambda: ws.fake.home_view(REQUESTER), "home tab")
        methods = {call.method for call in ws.fake.calls if call.method not in ("upload", "response_url")}
        assert all(call.response.get("error") != "missing_scope" for call in ws.fake.calls)
    needed: set[str] = {"commands"}
    for method in methods:
        ref = json.loads((REFS / f"{method}.json").read_text())
        options = set(ref.get("scope", {}).get("bot", []))
        if options:
            assert options & scopes, f"{method} needs one of {options}"
            needed |= options & scopes
    # channels:manage is for public order channels (ORDER_CHANNELS_PRIVATE=false)
    assert scopes - needed <= {"channels:manage"}


def test_manifest_path_is_the_repositorys() -> None:
    assert Path(__file__).resolve().parents[1] / "manifest.yml" == MANIFEST
