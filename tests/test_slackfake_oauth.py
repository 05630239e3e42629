"""The fake Slack as several workspaces, and installing the app into one from a link: the authorize page a person
allows or cancels, oauth.v2.access as Slack documents it (tests/reference/slack), an uninstall revoking the
workspace's token."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slackfake import FakeSlack, NotSubscribed, SlackDriver

CLIENT_ID, CLIENT_SECRET = "1111.2222", "the-client-secret"
REDIRECT = "https://orders.example.com/slack/oauth_redirect"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token="xoxb-first", team_id="T0001", team_name="First") as f:
        f.add_user("U1", "sam")
        f.set_oauth_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
        yield f


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def browse(url: str) -> tuple[int, str | None, str]:
    """A browser's GET that does not follow redirects: status, Location, body."""
    try:
        with urllib.request.build_opener(_NoRedirects).open(url) as r:
            return r.status, r.headers.get("Location"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location"), e.read().decode()


def visit(fake: FakeSlack, **query: str) -> tuple[int, str | None, str]:
    query = {"client_id": CLIENT_ID, "scope": "commands,chat:write", "redirect_uri": REDIRECT, "state": "s1"} | query
    return browse(f"{fake.authorize_url}?{urlencode(query)}")


def code_from(location: str | None) -> str:
    assert location and location.startswith(REDIRECT + "?")
    answer = parse_qs(urlsplit(location).query)
    assert answer["state"] == ["s1"]
    return answer["code"][0]


def access(fake: FakeSlack, **args: str) -> dict[str, Any]:
    try:
        return WebClient(base_url=fake.api_url).oauth_v2_access(**args).data  # type: ignore[return-value]
    except SlackApiError as error:
        return error.response.data  # type: ignore[return-value]


def test_each_call_is_served_in_the_workspace_its_token_belongs_to(fake: FakeSlack) -> None:
    second = fake.add_workspace("T0002", "Second", installed=True)
    second.add_user("U2", "alex")
    first_client, second_client = (WebClient(token=f.bot_token, base_url=f.api_url) for f in (fake, second))
    assert (first_client.auth_test()["team_id"], second_client.auth_test()["team_id"]) == ("T0001", "T0002")
    assert second_client.auth_test()["user_id"] == second.bot_user_id != fake.bot_user_id
    channel = second_client.conversations_create(name="orders")["channel"]["id"]
    assert channel in second.channels and channel not in fake.channels
    assert first_client.conversations_create(name="orders")["ok"]  # names are per workspace
    assert second_client.users_info(user="U2")["user"]["name"] == "alex"
    with pytest.raises(SlackApiError) as refused:
        first_client.users_info(user="U2")
    assert refused.value.response["error"] == "user_not_found"
    assert [c.method for c in second.calls].count("auth.test") == 2 and len(fake.calls_to("auth.test")) == 1


def test_an_install_from_the_authorize_page_gives_the_workspace_its_bot_token(fake: FakeSlack) -> None:
    second = fake.add_workspace("T0002", "Second")
    second.add_user("U2", "alex")
    assert not second.installed and visit(fake)[0] == 200  # nobody is signed in: Slack's own page
    second.consent("U2")
    status, location, _ = visit(fake)
    assert status == 302
    code = code_from(location)
    # the credentials as form fields (slack_sdk's oauth_v2_access sends them by HTTP Basic, as `access` does)
    answer = WebClient(base_url=fake.api_url).api_call("oauth.v2.access", data={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": REDIRECT}).data
    assert answer == {"ok": True, "access_token": second.bot_token, "token_type": "bot",
                      "scope": "commands,chat:write", "bot_user_id": second.bot_user_id, "app_id": fake.app_id,
                      "team": {"id": "T0002", "name": "Second"}, "enterprise": None,
                      "authed_user": {"id": "U2"}, "is_enterprise_install": False}
    assert second.installed and answer["access_token"].startswith("xoxb-")
    assert WebClient(token=answer["access_token"], base_url=fake.api_url).auth_test()["team_id"] == "T0002"
    assert access(fake, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                  redirect_uri=REDIRECT)["error"] == "invalid_code"  # a code works once


def test_oauth_access_refuses_as_slack_documents(fake: FakeSlack) -> None:
    fake.consent("U1")
    code = code_from(visit(fake)[1])
    good = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": REDIRECT}
    assert access(fake, **(good | {"client_id": "9.9"}))["error"] == "invalid_client_id"
    assert access(fake, **(good | {"client_secret": "wrong"}))["error"] == "bad_client_secret"
    assert access(fake, **(good | {"code": "1.2.3"}))["error"] == "invalid_code"
    assert access(fake, **(good | {"redirect_uri": REDIRECT + "/else"}))["error"] == "bad_redirect_uri"
    assert access(fake, **good)["ok"]  # none of those used the code up


def test_the_authorize_page_refuses_an_unknown_app_or_redirect_and_reports_a_cancel(fake: FakeSlack) -> None:
    fake.consent("U1")
    for query in ({"client_id": "9.9"}, {"redirect_uri": "https://elsewhere.example.com/cb"}):
        status, location, page = visit(fake, **query)
        assert status == 400 and location is None and "<h1>" in page
    status, location = visit(fake)[:2]  # the consent was still waiting
    assert status == 302 and "code=" in (location or "")
    fake.consent("U1", allow=False)
    location = visit(fake)[1]
    assert parse_qs(urlsplit(location or "").query) == {"error": ["access_denied"], "state": ["s1"]}


def test_an_uninstall_revokes_that_workspaces_token_only(fake: FakeSlack) -> None:
    second = fake.add_workspace("T0002", "Second", installed=True)
    token = second.bot_token
    second.uninstall()
    with pytest.raises(SlackApiError) as refused:
        WebClient(token=token, base_url=fake.api_url).auth_test()
    assert refused.value.response["error"] == "token_revoked"
    assert WebClient(token=fake.bot_token, base_url=fake.api_url).auth_test()["team_id"] == "T0001"
    second.add_user("U2", "alex")
    second.consent("U2")  # installed again: a new token
    answer = access(fake, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code_from(visit(fake)[1]),
                    redirect_uri=REDIRECT)
    assert answer["access_token"] != token and second.installed


def test_a_call_with_a_revoked_or_unknown_token_is_no_workspaces(fake: FakeSlack) -> None:
    """So `workspace(X).calls_to(...) == []` can fail: the call is kept apart, in `unknown_token_calls`."""
    second = fake.add_workspace("T0002", "Second", installed=True)
    token = second.bot_token
    second.uninstall()
    for dead in (token, "xoxb-never-issued"):
        with pytest.raises(SlackApiError):
            WebClient(token=dead, base_url=fake.api_url).auth_test()
    assert fake.calls_to("auth.test") == [] and second.calls_to("auth.test") == []
    assert [(c.method, c.response["error"]) for c in second.unknown_token_calls] == [
        ("auth.test", "token_revoked"), ("auth.test", "invalid_auth")]


def test_an_org_wide_install_is_offered_only_to_an_app_that_enables_it(fake: FakeSlack) -> None:
    """As the manifest's settings.org_deploy_enabled decides (ours is false)."""
    org = fake.add_workspace("T0003", "Initech", enterprise_id="E0003")
    org.add_user("U3", "ida")
    with pytest.raises(ValueError, match="org_deploy_enabled"):
        org.consent("U3", org_wide=True)
    fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT], org_deploy_enabled=True)
    org.consent("U3", org_wide=True)
    answer = access(fake, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code_from(visit(fake)[1]),
                    redirect_uri=REDIRECT)
    assert answer["is_enterprise_install"] is True and answer["enterprise"]["id"] == "E0003"


def test_an_event_the_app_does_not_subscribe_to_is_never_sent(fake: FakeSlack) -> None:
    """Slack sends an app only the bot events its manifest subscribes to (the driver refuses before sending)."""
    driver = SlackDriver("http://127.0.0.1:9/slack/events", "secret", fake)
    fake.subscribe(["app_home_opened", "message.groups"])
    token = fake.bot_token
    with pytest.raises(NotSubscribed, match="app_uninstalled|tokens_revoked"):
        driver.uninstalled()
    assert not fake.installed and token not in (fake.bot_token,)  # Slack revoked the token all the same
    for event in ({"type": "message", "channel_type": "channel", "channel": "C1", "text": "hi"},
                  {"type": "reaction_added"}):
        with pytest.raises(NotSubscribed):
            driver.event(event)
    assert fake.subscribed_to({"type": "message", "channel_type": "group"})
    assert fake.subscribed_to({"type": "app_home_opened"})
