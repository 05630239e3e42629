"""The bot knows its workspace: it asks Slack at start-up (and says why when it cannot), the database belongs to
that workspace, requests naming another are refused with nothing stored, and a refused click always reaches the
person who clicked."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.cards import step_action_id
from bot.workspace import ANOTHER_WORKSPACE
from forms.elements import notice
from sandbox.local import SIGNING_SECRET, LocalWorkspace
from sandbox.slackfake.inbound import InboundResult, SlackDriver
from sandbox.slackfake.server import FakeSlack
from storage.models import (
    AuditEvent,
    HomeViewer,
    PendingEffect,
    Person,
    ServiceOrder,
    SlackEvent,
    SlackWorkspace,
)
from tests.conftest import OUTSIDER, REQUESTER, SUPERVISOR, forget_workspaces
from tests.test_cli import CLI, free_port
from tests.test_end_to_end import PEOPLE, submit
from workflow.document import Provider
from workflow.letterhead import Letterhead
from workflow.vocabulary import Action

THEM = "T0THEM"  # another workspace, where the same app (one signing secret) is installed too


def workspaces(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(w.team_id, w.team_name) for w in session.exec(select(SlackWorkspace))]


# --- start-up -------------------------------------------------------------------------------------------


@pytest.fixture
def engine(engine: Engine) -> Engine:
    """A database no bot has started on: no workspace recorded yet (the first start records its own)."""
    return forget_workspaces(engine)


@pytest.fixture
def env(engine: Engine) -> dict[str, str]:
    """The command's environment, on the test's database."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environment["DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    environment["SLACK_SIGNING_SECRET"] = "cli-secret"
    return environment


def run_http(env: dict[str, str], **settings: str) -> subprocess.Popen[str]:
    return subprocess.Popen([CLI, "run", "--http", "--port", str(free_port()), "--host", "127.0.0.1"],
                            env={**env, **settings}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_run_with_slack_out_of_reach_says_where_it_looked_and_stores_nothing(env: dict[str, str],
                                                                             engine: Engine) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    process = run_http(env, SLACK_BOT_TOKEN="xoxb-unreachable-secret", SLACK_API_URL=closed,
                       SLACK_STARTUP_WAIT_SECONDS="1")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert err.count(f"Slack is not answering at {closed} (connection_error); trying again for 1 s") == 1
    assert f"service-orders: Slack did not answer at {closed} for 1 s (connection_error).\n" in err
    assert "Check SLACK_API_URL" in err and "Traceback" not in err and "xoxb-unreachable" not in err + out
    assert "Serving" not in out and workspaces(engine) == []


@pytest.mark.parametrize("wait, told", [("soon", "must be a number of seconds above 0 and at most 86400, not 'soon'"),
                                        ("0", "must be a number of seconds above 0 and at most 86400, not '0'")])
def test_a_bad_startup_wait_is_named(env: dict[str, str], engine: Engine, wait: str, told: str) -> None:
    process = run_http(env, SLACK_BOT_TOKEN="xoxb-1", SLACK_STARTUP_WAIT_SECONDS=wait)
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 2 and err == f"service-orders: SLACK_STARTUP_WAIT_SECONDS {told}\n", err
    assert workspaces(engine) == []


def test_run_waits_out_a_slack_outage_then_serves(env: dict[str, str], engine: Engine) -> None:
    with FakeSlack(team_id="T0ACME", team_name="Acme") as fake:
        fake.fail_next("auth.test", "internal_error", status=503, times=2)
        fake.fail_next("auth.test", "ratelimited", status=429, retry_after=1)
        process = run_http(env, SLACK_BOT_TOKEN=fake.bot_token, SLACK_API_URL=fake.api_url,
                           SLACK_STARTUP_WAIT_SECONDS="20")
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("Serving Slack's HTTP mode")
        finally:
            process.send_signal(signal.SIGTERM)
            err = process.communicate(timeout=30)[1]
        assert process.returncode == 0, err
        assert err.count("Slack is not answering at") == 1 and "(http_503); trying again for 20 s" in err
        assert [call.status for call in fake.calls_to("auth.test")] == [503, 503, 429, 200]
    assert workspaces(engine) == [("T0ACME", "Acme")]


@pytest.mark.parametrize("code", ["token_revoked", "account_inactive", "not_authed"])
def test_run_with_a_refused_token_stops_at_once_saying_why(env: dict[str, str], engine: Engine, code: str) -> None:
    with FakeSlack() as fake:
        fake.fail_next("auth.test", code, status=200)
        process = run_http(env, SLACK_BOT_TOKEN=fake.bot_token, SLACK_API_URL=fake.api_url)
        err = process.communicate(timeout=60)[1]
        assert process.returncode == 2, err
        assert f"service-orders: Slack did not accept SLACK_BOT_TOKEN ({code}).\n" in err, err
        assert "reinstall" in err and "Slack is not answering" not in err and fake.bot_token not in err
        assert [call.method for call in fake.calls] == ["auth.test"]  # not asked again: waiting cannot help
    assert workspaces(engine) == []


def test_a_start_up_error_is_said_in_the_providers_language(env: dict[str, str], engine: Engine) -> None:
    with FakeSlack() as fake:
        fake.fail_next("auth.test", "token_revoked", status=200)
        process = run_http(env, SLACK_BOT_TOKEN=fake.bot_token, SLACK_API_URL=fake.api_url, LOCALE="es_CL")
        err = process.communicate(timeout=60)[1]
    assert process.returncode == 2, err
    assert "service-orders: Slack no aceptó SLACK_BOT_TOKEN (token_revoked).\n" in err, err
    assert "reinstálela" in err and "Traceback" not in err
    assert workspaces(engine) == []


def test_run_refuses_a_database_that_belongs_to_another_workspace(env: dict[str, str], engine: Engine) -> None:
    with FakeSlack(team_id=THEM, team_name="Them") as theirs:
        theirs.add_channel("general")
        with LocalWorkspace(engine, {}, fake=theirs):
            pass  # their bot started on this database first
    with FakeSlack() as ours:
        process = run_http(env, SLACK_BOT_TOKEN=ours.bot_token, SLACK_API_URL=ours.api_url)
        err = process.communicate(timeout=60)[1]
    assert process.returncode == 2, err
    assert (f"service-orders: This database belongs to the Slack workspace {THEM} (Them), but "
            f"SLACK_BOT_TOKEN is {ours.team_id}'s (Fake Workspace).\n") in err, err
    assert "DATABASE_URL" in err and "Traceback" not in err
    assert workspaces(engine) == [(THEM, "Them")]


# --- requests from another workspace ---------------------------------------------------------------------


@pytest.fixture
def ws(seeded: Engine) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def stored(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one()
                for model in (ServiceOrder, PendingEffect, AuditEvent, HomeViewer, SlackEvent, Person)}


def open_submit_form(ws: LocalWorkspace) -> dict[str, Any]:
    assert ws.slack.command(REQUESTER, "/order").status == 200
    return ws.wait_for_view(REQUESTER, "submit_order")


Act = Callable[[SlackDriver], InboundResult]


def a_command(ws: LocalWorkspace) -> Act:
    return lambda them: them.command(REQUESTER, "/order")


def a_click(ws: LocalWorkspace) -> Act:
    order = ws.order(submit(ws))
    assert order.channel_id and order.card_ts
    return lambda them: them.click(SUPERVISOR, order.channel_id or "", order.card_ts or "",
                                   step_action_id(Action.APPROVE))


def their_view(ws: LocalWorkspace) -> dict[str, Any]:
    """A form as their workspace's Slack would send it back: installed there, opened there."""
    view = open_submit_form(ws)  # the view as the fake stores it
    return {**view, "team_id": THEM, "app_installed_team_id": THEM, "state": {"values": {}}}


def a_submission(ws: LocalWorkspace) -> Act:
    view = their_view(ws)
    return lambda them: them._post_payload(them._common("view_submission", REQUESTER) | {"view": view})


def a_closed_view(ws: LocalWorkspace) -> Act:
    view = their_view(ws)
    # our forms do not ask for view_closed, so SlackDriver.close sends nothing: the payload as Slack would send it
    return lambda them: them._post_payload(them._common("view_closed", REQUESTER) | {
        "view": view, "is_cleared": False})


def a_suggestion(ws: LocalWorkspace) -> Act:
    view = their_view(ws)
    return lambda them: them._post_payload(them._common("block_suggestion", REQUESTER) | {
        "container": {"type": "view", "view_id": view["id"]}, "action_id": "client", "block_id": "client",
        "value": "peñ", "view": view})


def an_event(ws: LocalWorkspace) -> Act:
    return lambda them: them.event({"type": "app_home_opened", "user": OUTSIDER, "tab": "home", "channel": "D0OUT"})


@pytest.mark.parametrize("request_from_them, answer", [
    (a_command, {"response_type": "ephemeral", "text": ANOTHER_WORKSPACE}),
    (a_click, None),
    (a_submission, {"response_action": "update", "view": notice(
        "Not saved", f":warning: {ANOTHER_WORKSPACE} Nothing was saved.")}),
    (a_closed_view, None),
    (a_suggestion, {"options": []}),
    (an_event, None),
], ids=["slash_command", "block_actions", "view_submission", "view_closed", "block_suggestion", "event"])
def test_a_request_from_another_workspace_is_refused_and_changes_nothing(
        ws: LocalWorkspace, caplog: pytest.LogCaptureFixture, request_from_them: Callable[[LocalWorkspace], Act],
        answer: dict[str, Any] | None) -> None:
    ws.slack.close(REQUESTER, open_submit_form(ws))  # the bot has learnt the requester's time zone: one call less
    act = request_from_them(ws)
    rows, calls = stored(ws.engine), len(ws.fake.calls)
    them = SlackDriver(f"{ws.url}/slack/events", SIGNING_SECRET, ws.fake, team_id=THEM)
    with caplog.at_level(logging.WARNING, logger="bot.workspace"):
        result = act(them)
    assert result.status == 200 and result.json() == answer
    assert [r.levelname for r in caplog.records if f"from workspace {THEM}: this bot serves T0001" in r.getMessage()
            ] == ["WARNING"]
    # one of our requests after it, to its Slack call: a refused request that got through would have made its
    # own by then (and stored what it stores)
    opened = len(ws.fake.calls_to("views.open"))
    ws.slack.command(REQUESTER, "/order")
    ws.wait(lambda: len(ws.fake.calls_to("views.open")) > opened, "our /order's form")
    assert [call.method for call in ws.fake.calls[calls:]] == ["views.open"]
    assert stored(ws.engine) == rows


def test_a_person_of_another_workspace_is_refused_in_the_providers_language(seeded: Engine) -> None:
    # they are not one of ours: we know no language of theirs, so the refusal is the provider's
    spanish = Letterhead(Provider(name="Servicios", locale="es_CL"))
    with LocalWorkspace(seeded, PEOPLE, letterhead=spanish) as ws:
        submission = a_submission(ws)
        them = SlackDriver(f"{ws.url}/slack/events", SIGNING_SECRET, ws.fake, team_id=THEM)
        assert them.command(REQUESTER, "/order").json() == {
            "response_type": "ephemeral", "text": "Esta aplicación está instalada en otro espacio de trabajo."}
        view = submission(them).json()["view"]
        assert view["title"]["text"] == "No se guardó" and view["close"]["text"] == "Cerrar"
        assert view["blocks"][0]["text"]["text"] == (
            ":warning: Esta aplicación está instalada en otro espacio de trabajo. No se guardó nada.")
        assert stored(seeded)["ServiceOrder"] == 0


def test_a_slack_connect_click_by_someone_of_another_workspace_is_ours(ws: LocalWorkspace) -> None:
    # in a shared channel the person acting belongs to their workspace; the installation is still ours
    order = ws.order(submit(ws))
    payload = ws.slack.click(REQUESTER, order.channel_id or "", order.card_ts or "",
                             step_action_id(Action.APPROVE)).sent
    assert payload is not None
    ws.wait(lambda: ws.fake.ephemerals, "the first click's refusal")
    told = len(ws.fake.ephemerals)
    payload = {**payload, "user": {**payload["user"], "team_id": THEM}, "is_ext_shared_channel": True}
    assert ws.slack._post_payload(payload).status == 200
    ws.wait(lambda: len(ws.fake.ephemerals) > told, "the Slack Connect click's refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only a supervisor, a coordinator, or an admin can approve SO-000001."


def test_a_request_from_another_workspace_over_socket_mode_is_refused(seeded: Engine) -> None:
    with LocalWorkspace(seeded, PEOPLE, transport="socket_mode") as ws:
        them = SlackDriver(None, None, ws.fake, team_id=THEM, transport="socket_mode")
        answer = them.command(REQUESTER, "/order")
        assert answer.status == 200 and answer.json() == {"response_type": "ephemeral", "text": ANOTHER_WORKSPACE}
        assert ws.fake.calls_to("views.open") == [] and stored(seeded)["ServiceOrder"] == 0


def test_a_request_naming_no_workspace_is_a_bad_request(ws: LocalWorkspace) -> None:
    order = ws.order(submit(ws))
    rows = stored(ws.engine)
    payload = ws.slack.click(SUPERVISOR, order.channel_id or "", order.card_ts or "",
                             step_action_id(Action.APPROVE)).sent
    assert payload is not None and ws.wait_for_view(SUPERVISOR, "approve")  # ours: served
    opened = len(ws.fake.calls_to("views.open"))
    payload = {**payload, "team": None, "user": {**payload["user"], "team_id": None}}
    answer = ws.slack._post_payload(payload)
    assert answer.status == 400 and answer.json() == {"error": "no workspace named"}
    assert len(ws.fake.calls_to("views.open")) == opened and stored(ws.engine) == rows


# --- a refusal reaches the person who clicked ------------------------------------------------------------


def test_a_refusal_reaches_someone_who_is_not_in_a_public_order_channel(seeded: Engine) -> None:
    with LocalWorkspace(seeded, PEOPLE, private_channels=False) as ws:
        order = ws.order(submit(ws))
        assert OUTSIDER not in ws.fake.channels[order.channel_id or ""].members
        assert ws.click_step(OUTSIDER, order.id or 0, step_action_id(Action.APPROVE)).status == 200
        told = "Only a supervisor, a coordinator, or an admin can approve SO-000001."
        ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == OUTSIDER], "the refusal")
        assert [(e["channel"], e["text"]) for e in ws.fake.ephemerals if e["user"] == OUTSIDER] == [
            (order.channel_id, told)]
        refused = [c for c in ws.fake.calls_to("chat.postEphemeral") if c.args.get("user") == OUTSIDER]
        assert [c.response.get("error") for c in refused] == ["user_not_in_channel"]  # as Slack answers
        assert [c.args for c in ws.fake.calls_to("response_url")] == [
            {"text": told, "response_type": "ephemeral", "replace_original": False}]
        assert stored(seeded)["AuditEvent"] == 1  # the submission alone


def test_a_refusal_whose_response_url_fails_opens_a_small_modal(seeded: Engine) -> None:
    with LocalWorkspace(seeded, PEOPLE, private_channels=False) as ws:
        order = ws.order(submit(ws))
        sent = ws.click_step(REQUESTER, order.id or 0, step_action_id(Action.APPROVE)).sent  # refused, in channel
        assert sent is not None
        dead = f"{ws.fake.base_url}/response/{ws.fake.team_id}/expired"
        clicked = {**sent, "user": {**sent["user"], "id": OUTSIDER}, "response_url": dead,
                   "trigger_id": ws.fake.new_trigger_id(OUTSIDER)}
        assert ws.slack._post_payload(clicked).status == 200
        ws.wait(lambda: ws.top_view(OUTSIDER) is not None, "the refusal's modal")
        view = ws.top_view(OUTSIDER)
        assert view is not None
        assert "Only a supervisor, a coordinator, or an admin can approve SO-000001." in json.dumps(view)
        assert [e for e in ws.fake.ephemerals if e["user"] == OUTSIDER] == []



def test_a_refusal_slack_may_have_shown_is_not_shown_again_another_way(seeded: Engine) -> None:
    with LocalWorkspace(seeded, PEOPLE) as ws:
        order = ws.order(submit(ws))
        # every try of the ephemeral ends in a server error: Slack may have shown it, so no second way is tried
        ws.fake.fail_next("chat.postEphemeral", error="internal_error", status=500, times=3)
        assert ws.click_step(REQUESTER, order.id or 0, step_action_id(Action.APPROVE)).status == 200
        ws.wait(lambda: len(ws.fake.calls_to("chat.postEphemeral")) == 3, "the ephemeral's tries")
        ws.settle()
        assert ws.fake.calls_to("response_url") == [] and ws.top_view(REQUESTER) is None
