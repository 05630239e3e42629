"""Installed from a link into several workspaces: a browser's real GETs to /slack/install, Slack's authorize
page (the fake's, where the test plays the person) and /slack/oauth_redirect; what a bad state, a bad code or a
cancelled install store (nothing); an uninstall stopping one workspace and leaving the other; and the stores'
tables as migration 0019 makes them."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, MetaData, inspect
from sqlmodel import Session, select

from bot.app import Bot, build_bot
from bot.gateway import ErrorCode, SlackError
from bot.install_flow import (
    CANCELLED,
    INSTALL_FAILED,
    INSTALLED_IN,
    NOT_CONFIRMED,
    NOT_INSTALLED_HERE,
    OPEN_IN_BROWSER,
    ORG_WIDE,
    START_AGAIN,
)
from bot.installs import Installations
from bot.server import HttpServer, WebServer, web_app
from bot.settings import REDIRECT_PATH, OAuthApp, Settings, SettingsError, manifest_scopes
from i18n import english
from sandbox.local import LocalWorkspace, free_port, manifest_events
from sandbox.slackfake import FakeSlack, SlackDriver
from storage import installations as tables
from storage.models import CatalogEntry, PendingEffect, RoleGrant, ServiceOrder, SlackWorkspace
from storage.scope import UNCLAIMED, serving
from tests.conftest import SAMPLE_CATALOG, forget_workspaces
from tests.test_cli import CLI
from workflow.catalog import import_csv
from workflow.people import grant
from workflow.vocabulary import Role

CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET = "1111.2222", "the-client-secret", "oauth-signing-secret"
NOW = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)  # the bot's clock: effects queued for later never come due here
ACME, GLOBEX = "T0ACME", "T0GLOBEX"


@dataclass
class Installable:
    """The bot installed from a link, served over HTTP, and a fake Slack with two workspaces it is not in yet."""

    fake: FakeSlack
    bot: Bot
    url: str
    engine: Engine

    def driver(self, team: str) -> SlackDriver:
        return SlackDriver(f"{self.url}/slack/events", SIGNING_SECRET, self.fake.workspace(team))

    def stored(self) -> dict[str, list[Any]]:
        """What installs left: the registry's teams, and the store's rows."""
        with Session(self.engine) as session:
            teams = list(session.exec(select(SlackWorkspace.team_id).order_by(SlackWorkspace.team_id)))
            bots = [row.team_id for row in session.execute(tables.slack_bots.select())]
            installs = [row.team_id for row in session.execute(tables.slack_installations.select())]
        return {"workspaces": teams, "bots": bots, "installations": installs}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    """A browser's GET, redirects not followed: status, headers, body."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(_NoRedirects).open(request) as answer:
            return answer.status, dict(answer.headers.items()), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read().decode()


def cookie_of(headers: dict[str, str]) -> str:
    jar = SimpleCookie(headers["Set-Cookie"])
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


@pytest.fixture
def engine(engine: Engine) -> Engine:
    """A database no workspace has installed the app in yet."""
    return forget_workspaces(engine)


@pytest.fixture
def setup(engine: Engine) -> Iterator[Installable]:
    with FakeSlack() as fake:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET, [url + REDIRECT_PATH])
        fake.subscribe(manifest_events())  # Slack sends only the events the app's manifest subscribes to
        for team, name, person in ((ACME, "Acme", "U0ANA"), (GLOBEX, "Globex", "U0GUS")):
            workspace = fake.add_workspace(team, name)
            workspace.add_user(person, person[3:].lower())
            workspace.add_channel("general", members=[person])
        settings = Settings(bot_token=None, signing_secret=SIGNING_SECRET, api_url=fake.api_url,
                            oauth=OAuthApp(CLIENT_ID, CLIENT_SECRET, url + REDIRECT_PATH, manifest_scopes()))
        bot = build_bot(settings, engine, clock=lambda: NOW)
        server = HttpServer(bot, engine, SIGNING_SECRET, host="127.0.0.1", port=port)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield Installable(fake, bot, url, engine)
        finally:
            server.stop()
            thread.join(timeout=10)
            bot.stop()


def start(setup: Installable) -> tuple[str, str]:
    """The install link: the browser is sent to Slack's authorize page with a state, and given its cookie."""
    status, headers, _ = get(setup.url + "/slack/install")
    assert status == 302 and headers["Location"].startswith(setup.fake.authorize_url + "?")
    query = parse_qs(urlsplit(headers["Location"]).query)
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == [",".join(manifest_scopes())]
    assert query["redirect_uri"] == [setup.url + REDIRECT_PATH]
    return headers["Location"], cookie_of(headers)


def install(setup: Installable, team: str, person: str, allow: bool = True, org_wide: bool = False) -> tuple[int, str]:
    """A person of `team` follows the install link and clicks Allow (or Cancel): the page the bot answers."""
    authorize, cookie = start(setup)
    setup.fake.workspace(team).consent(person, allow=allow, org_wide=org_wide)
    status, headers, _ = get(authorize)
    assert status == 302 and headers["Location"].startswith(setup.url + REDIRECT_PATH + "?")
    status, _, page = get(headers["Location"], cookie)
    return status, page


def test_two_workspaces_install_through_the_redirect(setup: Installable) -> None:
    lang = english()
    for team, person, name in ((ACME, "U0ANA", "Acme"), (GLOBEX, "U0GUS", "Globex")):
        status, page = install(setup, team, person)
        assert status == 200 and f"<p>{lang._(INSTALLED_IN).format(workspace=name)}</p>" in page
    assert setup.stored() == {"workspaces": [ACME, GLOBEX], "bots": [ACME, GLOBEX],
                              "installations": [ACME, GLOBEX]}
    installations = Installations(setup.engine, CLIENT_ID)  # as another process reads them
    for team in (ACME, GLOBEX):
        bot = installations.bot(team)
        assert bot is not None and bot.bot_token == setup.fake.workspace(team).bot_token
        assert bot.bot_user_id == setup.fake.workspace(team).bot_user_id
    # each workspace's requests are served with its own token, and no auth.test was asked inside them
    asked = {team: len(setup.fake.workspace(team).calls_to("auth.test")) for team in (ACME, GLOBEX)}
    for team, person in ((ACME, "U0ANA"), (GLOBEX, "U0GUS")):
        answer = setup.driver(team).command(person, "/order", "help")
        assert answer.status == 200 and "/order" in answer.text
    assert {team: len(setup.fake.workspace(team).calls_to("auth.test")) for team in (ACME, GLOBEX)} == asked


def test_a_cancelled_install_says_so_and_stores_nothing(setup: Installable) -> None:
    status, page = install(setup, ACME, "U0ANA", allow=False)
    assert status == 200 and english()._(CANCELLED) in page
    assert setup.stored() == {"workspaces": [], "bots": [], "installations": []}


def test_a_bad_state_or_a_bad_code_gets_a_page_to_start_again_and_stores_nothing(setup: Installable) -> None:
    lang = english()
    authorize, cookie = start(setup)
    setup.fake.workspace(ACME).consent("U0ANA")
    back = get(authorize)[1]["Location"]
    code, state = (parse_qs(urlsplit(back).query)[key][0] for key in ("code", "state"))
    redirect = setup.url + REDIRECT_PATH
    # no cookie (another browser), a state the bot never issued, a code Slack never gave
    status, _, page = get(f"{redirect}?{urlencode({'code': code, 'state': state})}")
    assert status == 400 and lang._(START_AGAIN).split("{link}")[0] in page and 'href="/slack/install"' in page
    forged = "forged-state"
    status, _, page = get(f"{redirect}?{urlencode({'code': code, 'state': forged})}",
                          cookie.replace(state, forged))
    assert status == 401 and lang._(START_AGAIN).split("{link}")[0] in page
    status, _, page = get(f"{redirect}?{urlencode({'code': '1.2.3', 'state': state})}", cookie)
    assert status == 401 and lang._(NOT_CONFIRMED).split("{link}")[0] in page
    assert "Traceback" not in page
    assert setup.stored() == {"workspaces": [], "bots": [], "installations": []}
    assert setup.fake.workspace(ACME).installed is False


def test_an_install_for_a_whole_org_is_refused_and_stores_nothing(setup: Installable) -> None:
    initech = setup.fake.add_workspace("T0INITECH", "Initech", enterprise_id="E0INITECH")
    initech.add_user("U0IDA", "ida")
    with pytest.raises(ValueError, match="org_deploy_enabled"):  # our manifest's app: Slack offers none
        initech.consent("U0IDA", org_wide=True)
    # an app whose settings were changed to allow one (org_deploy_enabled: true): the bot still refuses it
    setup.fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET, [setup.url + REDIRECT_PATH], org_deploy_enabled=True)
    status, page = install(setup, "T0INITECH", "U0IDA", org_wide=True)
    assert status == 400 and english()._(ORG_WIDE) in page
    assert setup.stored() == {"workspaces": [], "bots": [], "installations": []}
    status, page = install(setup, "T0INITECH", "U0IDA")  # into the workspace itself: taken, with its org
    assert status == 200 and setup.stored()["bots"] == ["T0INITECH"]
    with Session(setup.engine) as session:
        row = session.get(SlackWorkspace, "T0INITECH")
    assert row is not None and row.enterprise_id == "E0INITECH"
    with serving("T0INITECH"):
        assert setup.bot.ctx.gateway.open_dm("U0IDA").startswith("D")


def queue(engine: Engine, team: str, key: str) -> None:
    """An effect the workspace still owes, not due before tomorrow on the bot's clock."""
    with serving(team), Session(engine) as session:
        session.add(PendingEffect(kind="message", key=key, payload="{}", not_before=NOW + timedelta(days=1),
                                  created_at=NOW))
        session.commit()


def effects(engine: Engine, team: str) -> list[tuple[str, str, str | None]]:
    with serving(team), Session(engine) as session:
        return [(e.key, e.status, e.last_error) for e in session.exec(select(PendingEffect).order_by(PendingEffect.id))]


def test_an_uninstall_stops_that_workspace_and_leaves_the_other(setup: Installable,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    for team, person in ((ACME, "U0ANA"), (GLOBEX, "U0GUS")):
        assert install(setup, team, person)[0] == 200
        queue(setup.engine, team, f"{team}-later")
    with caplog.at_level(logging.WARNING, logger="bot.installs"):
        revoked, uninstalled = setup.driver(ACME).uninstalled()
    assert (revoked.status, uninstalled.status) == (200, 200)
    assert effects(setup.engine, ACME) == [
        (f"{ACME}-later", "cancelled", f"the app was uninstalled from workspace {ACME} (tokens_revoked)")]
    assert effects(setup.engine, GLOBEX) == [(f"{GLOBEX}-later", "pending", None)]
    said = [r.getMessage() for r in caplog.records if r.name == "bot.installs"]
    assert said == [f"workspace {ACME} uninstalled the app (tokens_revoked): its installation is deleted and 1 "
                    "effects it owed (pending or failed) are cancelled",
                    f"workspace {ACME} uninstalled the app (app_uninstalled): its installation is deleted and 0 "
                    "effects it owed (pending or failed) are cancelled"]
    assert setup.stored() == {"workspaces": [ACME, GLOBEX], "bots": [GLOBEX], "installations": [GLOBEX]}
    with Session(setup.engine) as session:
        acme, globex = (session.get(SlackWorkspace, team) for team in (ACME, GLOBEX))
    assert acme is not None and acme.uninstalled_at is not None and globex is not None and not globex.uninstalled_at
    # no Slack call for the workspace that left; the other's go on with its own token
    gateway = setup.bot.ctx.gateway
    with serving(ACME), pytest.raises(SlackError) as refused:
        gateway.open_dm("U0ANA")
    assert refused.value.code == ErrorCode.NOT_AUTHED
    with serving(GLOBEX):
        assert gateway.open_dm("U0GUS").startswith("D")
    assert setup.driver(GLOBEX).command("U0GUS", "/order", "help").status == 200
    # no installation: the ack says so to the person, with no Slack call (no POST to the response_url)
    answer = setup.driver(ACME).command("U0ANA", "/order", "help")
    assert answer.json() == {"response_type": "ephemeral", "text": english()._(NOT_INSTALLED_HERE)}
    assert setup.fake.calls_to("response_url") == [] and setup.fake.workspace(ACME).calls_to("response_url") == []


def test_the_migration_makes_exactly_the_tables_the_stores_expect(engine: Engine) -> None:
    """Migration 0019 (run by the engine fixture's init_db) against slack-sdk's own table definitions: names,
    columns with their types and nullability, primary keys and indexes."""
    expected = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(expected, tables.INSTALLATIONS)
    SQLAlchemyInstallationStore.build_bots_table(expected, tables.BOTS)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(expected, tables.OAUTH_STATES)
    found = inspect(engine)
    for table in expected.sorted_tables:
        columns = {c["name"]: c for c in found.get_columns(table.name)}
        assert list(columns) == [c.name for c in table.columns], table.name
        for column in table.columns:
            made = columns[column.name]
            assert made["nullable"] == (column.nullable and not column.primary_key), (table.name, column.name)
            assert type(made["type"].as_generic()) is type(column.type), (table.name, column.name, made["type"])
            assert getattr(made["type"], "length", None) == getattr(column.type, "length", None)
        assert found.get_pk_constraint(table.name)["constrained_columns"] == ["id"]
        assert {(i["name"], tuple(i["column_names"])) for i in found.get_indexes(table.name)} == {
            (i.name, tuple(c.name for c in i.columns)) for i in table.indexes}



OAUTH_ENV = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": "s"}


def test_client_id_and_secret_install_from_a_link_without_a_bot_token() -> None:
    settings = Settings.from_env(OAUTH_ENV | {"PUBLIC_URL": "https://orders.example.com"})
    assert settings.bot_token is None and settings.oauth is not None
    assert settings.oauth.redirect_uri == "https://orders.example.com/slack/oauth_redirect"
    assert settings.oauth.scopes == manifest_scopes() and "chat:write" in settings.oauth.scopes
    assert CLIENT_SECRET not in repr(settings) + repr(settings.oauth)
    chosen = Settings.from_env(OAUTH_ENV | {"SLACK_REDIRECT_URI": "https://proxy.example.com/orders/slack/back"})
    assert chosen.oauth is not None and chosen.oauth.redirect_path == "/orders/slack/back"
    assert Settings.from_env(OAUTH_ENV).oauth.redirect_uri is None  # type: ignore[union-attr]  # the app's only one
    assert Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}).oauth is None


@pytest.mark.parametrize("env, said", [
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                                    "(installed from a link, in any number of workspaces), not both"),
    ({"SLACK_CLIENT_SECRET": ""}, "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: set both to install the app "
                                  "from a link, or neither to serve one workspace with SLACK_BOT_TOKEN"),
    ({"SLACK_REDIRECT_URI": "http://orders.example.com/slack/oauth_redirect"},
     "SLACK_REDIRECT_URI must be the https address of the bot's /slack/oauth_redirect, as the app's OAuth & "
     "Permissions page lists it (like https://orders.example.com/slack/oauth_redirect; http only for localhost), "
     "not 'http://orders.example.com/slack/oauth_redirect'"),
    ({"SLACK_SIGNING_SECRET": ""}, "missing setting(s): SLACK_SIGNING_SECRET (see the README's settings table)"),
])
def test_a_bad_combination_is_refused_in_one_line(env: dict[str, str], said: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(OAUTH_ENV | env)
    assert str(refused.value) == said


def test_socket_mode_installs_from_a_link_on_web_port_only() -> None:
    with pytest.raises(SettingsError, match="installing from a link needs WEB_PORT"):
        Settings.from_env(OAUTH_ENV | {"SLACK_APP_TOKEN": "xapp-1"}, socket_mode=True)
    assert Settings.from_env(OAUTH_ENV | {"SLACK_APP_TOKEN": "xapp-1", "WEB_PORT": "3001"}, socket_mode=True).oauth


def test_socket_modes_web_port_serves_the_install_link_too(setup: Installable) -> None:
    server = WebServer(web_app(setup.bot, setup.engine), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        status, headers, _ = get(f"http://127.0.0.1:{server.port}/slack/install")
        assert status == 302 and headers["Location"].startswith(setup.fake.authorize_url + "?")
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/slack/install", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET"
        said = refused.value.read().decode()
        assert english()._(OPEN_IN_BROWSER).split("{link}")[0] in said and 'href="/slack/install"' in said
    finally:
        server.stop()
        thread.join(timeout=10)


class Steps(LocalWorkspace):
    """LocalWorkspace's steps, as the people of one installed workspace take them: the bot and Slack are the
    setup's (nothing of its own to start, so no LocalWorkspace.__init__)."""

    def __init__(self, setup: Installable, team: str) -> None:
        self.engine, self.bot, self.clock = setup.engine, setup.bot, lambda: NOW
        self.fake, self.slack = setup.fake.workspace(team), setup.driver(team)


def test_an_order_in_each_workspace_and_neither_sees_the_others(setup: Installable) -> None:
    people = {ACME: ("U0ANA", "U0ASUP"), GLOBEX: ("U0GUS", "U0GSUP")}
    for team, (requester, supervisor) in people.items():
        assert install(setup, team, requester)[0] == 200
        setup.fake.workspace(team).add_user(supervisor, supervisor[3:].lower())
        with serving(team):
            grant(setup.engine, requester, [Role.REQUESTER])
            grant(setup.engine, supervisor, [Role.SUPERVISOR])
    with serving(ACME):
        import_csv(setup.engine, SAMPLE_CATALOG)
    globex = Steps(setup, GLOBEX)
    with serving(GLOBEX):  # Acme's catalog is not Globex's: its client picker finds nothing
        assert globex.slack.command("U0GUS", "/order").status == 200
        form = globex.wait_for_view("U0GUS", "submit_order")
        with pytest.raises(LookupError, match="no option"):
            globex.pick("U0GUS", form, "client", "peñ")
        globex.slack.close("U0GUS", form)
    with serving(GLOBEX):
        import_csv(setup.engine, SAMPLE_CATALOG)
    orders = {}
    for team, (requester, _) in people.items():
        steps = Steps(setup, team)
        with serving(team):
            ack = steps.submit_order(requester, client="peñ", site="presidentes", items=[("hvac", "1")],
                                     requested="2030-05-10", description=f"{team} job")
            assert ack.status == 200 and ack.text == "", ack.text
            steps.settle()
            with Session(setup.engine) as session:
                orders[team] = session.exec(select(ServiceOrder)).all()
    for team, other in ((ACME, GLOBEX), (GLOBEX, ACME)):
        (order,) = orders[team]  # its own order only, numbered in its own workspace
        assert order.description == f"{team} job" and order.number == 1 and order.requester_id == people[team][0]
        channels = setup.fake.workspace(team).channels
        assert order.channel_id in channels and order.channel_id not in setup.fake.workspace(other).channels
        assert set(channels[order.channel_id].members) >= set(people[team])  # its requester and supervisor
        assert channels[order.channel_id].message(order.card_ts or "") is not None
    # a supervisor's listing of every order counts their workspace's one alone
    for team, (_, supervisor) in people.items():
        listing = setup.driver(team).command(supervisor, "/order", "list all")
        assert listing.status == 200 and listing.json()["text"] == "All orders: 1\u20131 of 1"


def test_run_installs_from_a_link_without_a_bot_token(engine: Engine) -> None:
    """`service-orders run --http` with the app's credentials and no SLACK_BOT_TOKEN: it asks Slack nothing at
    start-up (no token to ask about) and serves the install link."""
    with FakeSlack() as fake:
        port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        environment |= {"DATABASE_URL": engine.url.render_as_string(hide_password=False),
                        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_CLIENT_ID": CLIENT_ID,
                        "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_API_URL": fake.api_url,
                        "PUBLIC_URL": f"http://127.0.0.1:{port}"}
        process = subprocess.Popen([CLI, "run", "--http", "--port", str(port), "--host", "127.0.0.1"],
                                   env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None and "Serving" in process.stdout.readline()
            status, headers, _ = get(f"http://127.0.0.1:{port}/slack/install")
            assert status == 302 and headers["Location"].startswith(fake.authorize_url + "?")
            assert parse_qs(urlsplit(headers["Location"]).query)["redirect_uri"] == [
                f"http://127.0.0.1:{port}{REDIRECT_PATH}"]
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        assert fake.calls == [] and "Traceback" not in err, err


def test_an_uninstall_in_a_workspace_of_an_org_deletes_its_installation(setup: Installable) -> None:
    """Slack's app_uninstalled and tokens_revoked name the team alone: the org comes from the registry."""
    initech = setup.fake.add_workspace("T0INITECH", "Initech", enterprise_id="E0INITECH")
    initech.add_user("U0IDA", "ida")
    initech.add_channel("general", members=["U0IDA"])
    assert install(setup, "T0INITECH", "U0IDA")[0] == 200
    assert setup.driver("T0INITECH").command("U0IDA", "/order", "help").status == 200
    revoked, uninstalled = setup.driver("T0INITECH").uninstalled()
    assert (revoked.status, uninstalled.status) == (200, 200)
    assert "enterprise_id" not in json.dumps(revoked.sent) and "authorizations" not in (revoked.sent or {})
    assert setup.stored() == {"workspaces": ["T0INITECH"], "bots": [], "installations": []}
    assert Installations(setup.engine, CLIENT_ID).bot("T0INITECH") is None


def ready_to_order(setup: Installable, team: str, requester: str, supervisor: str) -> Steps:
    """`team` installed, with a requester, a supervisor and the sample catalog."""
    assert install(setup, team, requester)[0] == 200
    setup.fake.workspace(team).add_user(supervisor, supervisor[3:].lower())
    with serving(team):
        grant(setup.engine, requester, [Role.REQUESTER])
        grant(setup.engine, supervisor, [Role.SUPERVISOR])
        import_csv(setup.engine, SAMPLE_CATALOG)
    return Steps(setup, team)


def submit(steps: Steps, requester: str) -> None:
    ack = steps.submit_order(requester, client="peñ", site="presidentes", items=[("hvac", "1")],
                             requested="2030-05-10", description="job")
    assert ack.status == 200 and ack.text == "", ack.text


def statuses(engine: Engine, team: str) -> dict[str, str]:
    with serving(team), Session(engine) as session:
        return {e.kind: e.status for e in session.exec(select(PendingEffect).order_by(PendingEffect.id))}


def test_effects_that_failed_as_slack_revoked_the_token_are_cancelled_by_the_uninstall(setup: Installable) -> None:
    """Slack revokes the token before it sends the events: an effect run in between fails (token_revoked, an
    admin's to mend) with its order's later ones; the uninstall cancels them, so `effects retry` cannot."""
    steps = ready_to_order(setup, ACME, "U0ANA", "U0ASUP")
    setup.fake.fail_next("conversations.create", "token_revoked", status=200)
    with serving(ACME):
        submit(steps, "U0ANA")
        setup.bot.ctx.effects.wait_idle(10)
    before = statuses(setup.engine, ACME)
    assert before["open_channel"] == "failed"
    setup.driver(ACME).uninstalled()
    after = statuses(setup.engine, ACME)
    assert {kind: after[kind] for kind, status in before.items() if status == "failed"} == {
        kind: "cancelled" for kind, status in before.items() if status == "failed"}
    assert "failed" not in after.values()


def test_an_effect_cancelled_while_it_ran_stays_cancelled(setup: Installable) -> None:
    steps = ready_to_order(setup, ACME, "U0ANA", "U0ASUP")
    stall = setup.fake.stall("conversations.create")
    with serving(ACME):
        submit(steps, "U0ANA")
    assert stall.reached.wait(10)  # Slack made the channel; its answer waits while the app is removed
    setup.driver(ACME).uninstalled()
    stall.release.set()
    setup.bot.ctx.effects.wait_idle(10)
    assert statuses(setup.engine, ACME)["open_channel"] == "cancelled"


def test_the_first_install_takes_no_rows_written_before_it(setup: Installable) -> None:
    """/slack/install is public: the CLI's rows of no workspace (UNCLAIMED) are not given to whoever installs
    first (the operator installs, then writes with --team)."""
    with serving(UNCLAIMED):
        grant(setup.engine, "U0ANA", [Role.REQUESTER])
        import_csv(setup.engine, SAMPLE_CATALOG)
    assert install(setup, ACME, "U0ANA")[0] == 200
    with serving(ACME), Session(setup.engine) as session:
        assert session.exec(select(RoleGrant)).all() == [] and session.exec(select(CatalogEntry)).all() == []
    with serving(UNCLAIMED), Session(setup.engine) as session:
        assert session.exec(select(RoleGrant)).all() and session.exec(select(CatalogEntry)).all()


def test_the_install_link_deletes_expired_states(setup: Installable) -> None:
    """slack-sdk deletes only the states consumed; every visit to the public link adds one."""
    now = datetime.now(UTC).replace(tzinfo=None)  # the store's own clock and form (naive UTC)
    with setup.engine.begin() as connection:
        connection.execute(tables.slack_oauth_states.insert(), [
            {"state": f"old-{n}", "expire_at": now - timedelta(hours=1)} for n in range(3)] + [
            {"state": "live", "expire_at": now + timedelta(minutes=5)}])
    _, cookie = start(setup)
    with setup.engine.connect() as connection:
        kept = {row.state for row in connection.execute(tables.slack_oauth_states.select())}
    assert kept == {"live", SimpleCookie(cookie)["slack-app-oauth-state"].value}


def test_an_install_that_fails_midway_gets_a_page_to_start_again(setup: Installable) -> None:
    """The database fails as the link is followed (its states table is gone): a page, not a traceback."""
    tables.slack_oauth_states.drop(setup.engine)
    try:
        status, headers, page = get(setup.url + "/slack/install")
    finally:
        tables.slack_oauth_states.create(setup.engine)
    assert status == 503 and headers["Content-Type"].startswith("text/html")
    assert english()._(INSTALL_FAILED).split("{link}")[0] in page and "Traceback" not in page


def test_a_form_open_when_the_app_was_uninstalled_says_so_and_saves_nothing(setup: Installable) -> None:
    """The person's picker gets no options and their submission a "not saved" view, in the ack (Bolt's own
    answer would be a plain-text body neither can show)."""
    steps = ready_to_order(setup, ACME, "U0ANA", "U0ASUP")
    with serving(ACME):
        assert steps.slack.command("U0ANA", "/order").status == 200
        form = steps.wait_for_view("U0ANA", "submit_order")
        steps.pick("U0ANA", form, "client", "peñ")
    setup.driver(ACME).uninstalled()
    suggested = steps.slack.suggest("U0ANA", form, "client", "client", "peñ")
    assert suggested.json() == {"options": []}
    answer = steps.slack.submit("U0ANA", form, {}, check_required=False)
    assert answer.json()["response_action"] == "update"
    assert english()._(NOT_INSTALLED_HERE) in setup.fake.workspace(ACME).view_text(form["id"])
    with serving(ACME), Session(setup.engine) as session:
        assert session.exec(select(ServiceOrder)).all() == []


def test_an_effect_cancelled_while_it_ran_stays_cancelled_when_it_then_fails(setup: Installable) -> None:
    """The approval's message is posted; the app is removed while Slack's answer is on its way; the effect's
    next call (is the requester in the channel?) fails, the workspace's installation gone: it stays cancelled."""
    steps = ready_to_order(setup, ACME, "U0ANA", "U0ASUP")
    setup.fake.workspace(ACME).add_user("U0AFW", "fw")
    with serving(ACME):
        grant(setup.engine, "U0AFW", [Role.FIELD_WORKER])
        submit(steps, "U0ANA")
        steps.settle()
        order_id = steps.latest_order_id()
        stall = setup.fake.stall("chat.postMessage")
        steps.approve("U0ASUP", order_id, workers=["U0AFW"], scheduled="2030-05-10")
    assert stall.reached.wait(10)
    setup.driver(ACME).uninstalled()
    stall.release.set()
    setup.bot.ctx.effects.wait_idle(10)
    with serving(ACME), Session(setup.engine) as session:
        message = session.exec(select(PendingEffect).where(PendingEffect.kind == "message")
                               .order_by(PendingEffect.id.desc())).first()  # type: ignore[union-attr]
    assert message is not None and message.status == "cancelled", (message.status if message else None)
