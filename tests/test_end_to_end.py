"""The whole workflow as Slack drives it: signed HTTP requests into the running bot, a real loopback
HTTP server answering the Web API, and a real database."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from bot.effects import MAX_ATTEMPTS
from sandbox.local import LocalWorkspace
from storage.db import queue_effects
from storage.models import AuditEvent, OrderVersion, PendingEffect, ServiceOrder
from tests.conftest import COORDINATOR, NO_REAPPROVAL, OUTSIDER, REQUESTER, SUPERVISOR, WORKER, WORKER2
from workflow.document import quantity_text
from workflow.letterhead import letterhead_from_env
from workflow.queries import version_lines

PEOPLE = {REQUESTER: "Rosa Requester", SUPERVISOR: "Sam Supervisor", COORDINATOR: "Carla Coordinator",
          WORKER: "Jürgen Müller", WORKER2: "Ana Peñalolén", OUTSIDER: "Otto Outsider"}
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


@pytest.fixture(params=["http", "socket_mode"])
def any_transport(request, seeded, monkeypatch):  # type: ignore[no-untyped-def]
    """The same workspace reached over HTTP or over Socket Mode."""
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # slack_sdk's Socket Mode client would tunnel loopback
    with LocalWorkspace(seeded, PEOPLE, transport=request.param, policy=NO_REAPPROVAL) as workspace:
        yield workspace


def submit(ws: LocalWorkspace, **changes) -> int:  # type: ignore[no-untyped-def]
    args = dict(client="peñ", site="presidentes", items=[("hvac", "3"), ("cement", "10")],
                requested=SOON, description="Replace the HVAC filters; patch the slab.",
                free_items="1 | Skip hire | unit | 80")
    args.update(changes)
    ack = ws.submit_order(REQUESTER, **args)
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    return ws.latest_order_id()


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_whole_workflow(any_transport: LocalWorkspace) -> None:
    ws = any_transport
    order_id = submit(ws)
    order = ws.order(order_id)
    channel = ws.fake.channels[order.channel_id]
    assert channel.name == "so-000001-constructora-penalolen-s-a" and channel.is_private
    assert {REQUESTER, SUPERVISOR, COORDINATOR} <= channel.members
    assert WORKER not in channel.members
    card = ws.fake.message(channel.id, order.card_ts)
    actions = [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["order_approve", "order_reject", "order_edit", "order_withdraw", "order_send_back"]
    assert "Pending approval" in ws.fake.transcript(channel.id)
    assert "please review it" in ws.fake.transcript(channel.id)

    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON, notes="Gate code 4521").text == ""
    ws.settle()
    order = ws.order(order_id)
    assert order.state == "approved" and order.current_version == 1
    assert WORKER in ws.fake.channels[channel.id].members
    files = [f for f in ws.fake.files.values() if channel.id in f.channels]
    assert [f.name for f in files] == ["SO-000001-v1.pdf"]
    text = pdf_text(files[0].content)
    assert "Service order SO-000001" in text and "Version 1" in text and "Jürgen Müller" in text
    assert "Constructora Peñalolén S.A." in text and "approved original" in text

    ack = ws.confirm(WORKER, order_id, changes=[("cement", "14"), ("skip", "0"), ("cable", "2")],
                     note="The slab needs more cement; no skip needed", workers=[WORKER2])
    assert ack.text == "", ack.text
    ws.settle()
    assert ws.confirm(COORDINATOR, order_id, changes=[("crane", "4")], note="Crane for the roof unit").text == ""
    ws.settle()
    assert ws.complete(WORKER2, order_id, note="Done, site clean").text == ""
    ws.settle()

    order = ws.order(order_id)
    assert order.state == "completed" and order.current_version == 4 and order.closed_by == WORKER2
    names = sorted(f.name for f in ws.fake.files.values() if channel.id in f.channels)
    assert names == ["SO-000001-v1.pdf", "SO-000001-v2.pdf", "SO-000001-v3.pdf", "SO-000001-v4.pdf"]
    v2 = pdf_text(next(f for f in ws.fake.files.values() if f.name == "SO-000001-v2.pdf").content)
    assert "Cement 25 kg" in v2 and "10 → 14" in v2 and "Skip hire" in v2 and "Ana Peñalolén" in v2
    assert "The slab needs more cement" in v2

    # the card was posted once and updated in place at every step, and offers no step once closed
    assert len(ws.fake.calls_to("chat.postMessage")) == len(
        [m for m in ws.fake.channels[channel.id].messages if not m.files]) >= 1
    card = ws.fake.message(channel.id, order.card_ts)
    assert not [b for b in card.blocks if b["type"] == "actions"]
    assert card.edited
    with Session(ws.engine) as session:
        trail = [(e.actor_id, e.action, e.from_state, e.to_state) for e in
                 session.exec(select(AuditEvent).order_by(AuditEvent.id))]
        assert trail == [(REQUESTER, "submit", None, "pending_approval"),
                         (SUPERVISOR, "approve", "pending_approval", "approved"),
                         (WORKER, "confirm", "approved", "approved"),
                         (COORDINATOR, "confirm", "approved", "approved"),
                         (WORKER2, "complete", "approved", "completed")]
        assert session.exec(select(PendingEffect).where(PendingEffect.status != "done")).all() == []


def test_reject_and_not_performed(ws: LocalWorkspace) -> None:
    first = submit(ws)
    assert ws.reject(COORDINATOR, first, "Duplicate of an open order").text == ""
    second = submit(ws, client="acme", site="warehouse", items=[("pipe", "12")], free_items="")
    ws.approve(SUPERVISOR, second, workers=[WORKER], scheduled=SOON)
    ws.settle()
    assert ws.not_perform(WORKER, second, "No access to the site").text == ""
    ws.settle()
    assert ws.order(first).state == "rejected" and ws.order(first).close_reason == "Duplicate of an open order"
    assert ws.order(second).state == "not_performed"
    assert ws.fake.channel_by_name("so-000002-acme-facilities-ltd") is not None
    assert "No access to the site" in ws.fake.transcript(ws.order(second).channel_id)


def test_refusals_are_ephemeral_and_change_nothing(any_transport: LocalWorkspace) -> None:
    ws = any_transport
    # no requester role: the command answers why, in the ack (shown to the user alone)
    assert ws.slack.command(OUTSIDER, "/order").status == 200
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == OUTSIDER], "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == ("Only a requester can submit service orders. "
                                              "Ask an admin for the requester role.")
    order_id = submit(ws)
    # the requester may not approve: an ephemeral message in the channel says why
    channel = ws.order(order_id).channel_id
    assert ws.click_step(REQUESTER, order_id, "order_approve").status == 200
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == REQUESTER], "an ephemeral refusal")
    refusal = ws.fake.ephemerals[-1]
    assert refusal["user"] == REQUESTER and refusal["channel"] == channel
    assert refusal["text"] == "Only a supervisor, a coordinator, or an admin can approve SO-000001."
    assert ws.top_view(REQUESTER) is None  # no form opened
    # approved: approving again is refused with the order's state
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    # the card's buttons are gone, but a click from a stale copy of it (or a replay) still reaches the bot
    ws.slack.click(COORDINATOR, channel, "1700000000.000001", "order_approve", value=f"{order_id}:0",
                   block_id="order_steps")
    ws.wait(lambda: any("so you can't approve the order now" in e["text"] for e in ws.fake.ephemerals), "state refusal")
    # a supervisor (in the channel, not assigned) may not file a confirmation
    ws.click_step(SUPERVISOR, order_id, "order_confirm")
    ws.wait(lambda: any(e["user"] == SUPERVISOR for e in ws.fake.ephemerals), "assignment refusal")
    assert ws.fake.ephemerals[-1]["text"] == ("Only a field worker assigned to it or a coordinator can file a "
                                              "confirmation on SO-000001.")
    with Session(ws.engine) as session:
        assert len(session.exec(select(AuditEvent)).all()) == 2


def test_a_stale_form_is_refused_in_the_modal(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    first = ws.open_step(SUPERVISOR, order_id, "approve")
    assert ws.approve(COORDINATOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ack = ws.submit(SUPERVISOR, first, {"field_workers": {"field_workers": {
        "type": "multi_users_select", "selected_users": [WORKER2]}}})
    body = ack.json()
    assert body["response_action"] == "update"
    assert "approved, work in progress" in str(body["view"]["blocks"])
    with Session(ws.engine) as session:
        assert session.exec(select(OrderVersion).where(OrderVersion.number == 1)).one().author_id == COORDINATOR


@pytest.mark.parametrize("field, entry, message", [
    ("qty_0", {"quantity": {"type": "number_input", "value": "-2"}}, "Enter a quantity above 0."),
    ("description", {"description": {"type": "plain_text_input", "value": "x" * 3001}},
     "Keep it under 3,000 characters"),
    ("requested_date", {"requested_date": {"type": "datepicker", "selected_date": "2020-01-01"}},
     "The requested date is in the past."),
])
def test_invalid_form_values_get_field_errors_and_store_nothing(ws, field, entry, message) -> None:  # type: ignore[no-untyped-def]
    ws.slack.command(REQUESTER, "/order")
    view = ws.wait_for_view(REQUESTER, "submit_order")
    values = {
        "client": ws.pick(REQUESTER, view, "client", "acme"),
        "site": ws.pick(REQUESTER, view, "site", "hq"),
        "requested_date": {"requested_date": {"type": "datepicker", "selected_date": SOON}},
        "description": {"description": {"type": "plain_text_input", "value": "Fix it"}},
        "item_0": ws.pick(REQUESTER, view, "item_0", "hvac"),
        "qty_0": {"quantity": {"type": "number_input", "value": "1"}},
    }
    values[field] = entry
    body = ws.submit(REQUESTER, view, values, check_required=False).json()
    assert body["response_action"] == "errors" and message in body["errors"][field]
    with Session(ws.engine) as session:
        assert session.exec(select(ServiceOrder)).all() == []


def test_a_site_of_another_client_is_refused(ws: LocalWorkspace) -> None:
    ws.slack.command(REQUESTER, "/order")
    view = ws.wait_for_view(REQUESTER, "submit_order")
    acme = ws.pick(REQUESTER, view, "client", "acme")
    pena = ws.pick(REQUESTER, view, "client", "peñ")
    site = ws.pick(REQUESTER, view, "site", "presidentes")  # a site of Peñalolén
    body = ws.submit(REQUESTER, view, {
        "client": acme, "site": site,
        "requested_date": {"requested_date": {"type": "datepicker", "selected_date": SOON}},
        "description": {"description": {"type": "plain_text_input", "value": "Fix it"}},
        "item_0": ws.pick(REQUESTER, view, "item_0", "hvac"),
        "qty_0": {"quantity": {"type": "number_input", "value": "1"}},
    }).json()
    assert pena and body["errors"] == {"site": "Obra Los Presidentes 8450 is a site of another client, "
                                               "not of Acme Facilities Ltd.."}


def test_approving_someone_without_the_field_worker_role_is_a_field_error(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    body = ws.approve(SUPERVISOR, order_id, workers=[OUTSIDER], scheduled=SOON).json()
    assert body == {"response_action": "errors",
                    # plain text (a mention would show raw): the name Slack gave us, else the member id
                    "errors": {"field_workers": "U0OUT is not a field worker. An admin can grant the role."}}
    assert ws.order(order_id).state == "pending_approval"


def test_typeahead_answers_from_the_database(ws: LocalWorkspace) -> None:
    ws.slack.command(REQUESTER, "/order")
    view = ws.wait_for_view(REQUESTER, "submit_order")
    sites = ws.slack.suggest(REQUESTER, view, "site", "site", "").json()
    assert sites == {"options": []}  # no client picked yet
    ws.pick(REQUESTER, view, "client", "ørsted")
    sites = ws.slack.suggest(REQUESTER, view, "site", "site", "").json()["options"]
    assert [o["value"] for o in sites] == ["ORST-LDZ"]
    items = ws.slack.suggest(REQUESTER, view, "line_item", "item_0", "filter").json()["options"]
    assert [o["value"] for o in items] == ["material:FLT-AIR"]


def test_typeahead_ignores_case_and_accents_typed_or_stored(ws: LocalWorkspace) -> None:
    ws.slack.command(REQUESTER, "/order")
    view = ws.wait_for_view(REQUESTER, "submit_order")

    def found(block: str, action: str, typed: str) -> list[str]:
        return [o["value"] for o in ws.slack.suggest(REQUESTER, view, action, block, typed).json()["options"]]

    assert found("client", "client", "penalolen") == ["PENA"]  # stored "Peñalolén", typed without accents
    assert found("client", "client", "PEÑA") == ["PENA"]
    assert found("client", "client", "orsted") == ["ORST"]  # Ø: no letter plus a mark, read as o all the same
    assert found("item_0", "line_item", "ÉLECTRICAL instal") == ["service:ELEC-INS"]  # stored without accents
    ws.pick(REQUESTER, view, "client", "orsted")
    assert found("site", "site", "lodz") == ["ORST-LDZ"]  # "Łódź substation"


def test_more_item_rows(ws: LocalWorkspace) -> None:
    items = [("hvac", "1"), ("elec", "2"), ("plumb", "3"), ("cable", "4"), ("filter", "5")]
    assert ws.submit_order(REQUESTER, client="acme", site="hq", items=items, requested=SOON,
                           description="Five lines").text == ""
    ws.settle()
    with Session(ws.engine) as session:
        lines = version_lines(session, ws.latest_order_id(), 0)
    assert [(line.code, quantity_text(line.quantity)) for _, line in lines] == [
        ("HVAC-MNT", "1"), ("ELEC-INS", "2"), ("PLMB-REP", "3"), ("CBL-25", "4"), ("FLT-AIR", "5")]


def test_help_and_unknown_subcommands(ws: LocalWorkspace) -> None:
    assert "opens the form to submit a new order" in ws.slack.command(OUTSIDER, "/order", "help").text
    answer = ws.slack.command(OUTSIDER, "/order", "frobnicate").text
    assert answer.startswith("I don't know `/order frobnicate`.")


def test_app_home(ws: LocalWorkspace) -> None:
    assert ws.slack.event({"type": "app_home_opened", "user": SUPERVISOR, "tab": "home"}).status == 200
    ws.wait(lambda: ws.fake.home_view(SUPERVISOR), "the home tab")
    assert "Your roles: *supervisor*" in str(ws.fake.home_view(SUPERVISOR)["blocks"])


def test_a_taken_channel_name_gets_a_suffix(ws: LocalWorkspace) -> None:
    ws.fake.add_channel("so-000001-constructora-penalolen-s-a")
    order_id = submit(ws)
    assert ws.order(order_id).channel_name == "so-000001-constructora-penalolen-s-a-2"


def test_public_channels_when_configured(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, private_channels=False) as workspace:
        order_id = submit(workspace)
        assert workspace.fake.channels[workspace.order(order_id).channel_id].is_private is False


def test_a_rate_limited_call_is_retried_after_retry_after(ws: LocalWorkspace) -> None:
    ws.fake.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1)
    order_id = submit(ws)
    posts = ws.fake.calls_to("chat.postMessage")
    assert [call.status for call in posts][:2] == [429, 200]
    assert ws.order(order_id).card_ts is not None
    assert len([m for m in ws.fake.channels[ws.order(order_id).channel_id].messages if m.blocks]) == 1


def test_a_slack_outage_delays_effects_and_loses_none(seeded) -> None:  # type: ignore[no-untyped-def]
    now = [datetime.now(UTC)]
    with LocalWorkspace(seeded, PEOPLE, clock=lambda: now[0]) as ws:
        # the client does not retry conversations.create (after a 500 Slack may have made the channel): the
        # effect looks for the channel, finds none, asks again; two 500s and it waits for its backoff
        ws.fake.fail_next("conversations.create", status=500, error="internal_error", times=2)
        assert ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=SOON,
                               description="During an outage").text == ""
        order_id = ws.latest_order_id()
        ws.wait(lambda: len(ws.fake.calls_to("conversations.create")) == 2, "the first try's two")
        assert ws.bot is not None and ws.bot.ctx.effects.wait_idle(10)
        with Session(ws.engine) as session:
            effects = session.exec(select(PendingEffect).order_by(PendingEffect.id)).all()
            assert [(e.kind, e.status, e.attempts) for e in effects] == [
                ("open_channel", "pending", 1), ("invite", "pending", 0), ("card", "pending", 0),
                ("message", "pending", 0), ("home", "done", 1)]  # App Home waits for nothing
            assert (effects[0].last_error or "").startswith("SlackError: conversations.create: http_500")
        assert ws.order(order_id).channel_id is None
        now[0] += timedelta(seconds=3)  # past the first backoff (1 s)
        ws.settle()
        order = ws.order(order_id)
        assert order.channel_id and order.card_ts
        assert len([c for c in ws.fake.channels.values() if c.name.startswith("so-000001")]) == 1
        assert len([c for c in ws.fake.calls_to("conversations.create") if c.status == 200]) == 1


def test_one_500_on_the_channel_is_looked_into_and_asked_again_at_once(ws: LocalWorkspace) -> None:
    # a 500 may hide a channel made: the bot looks (users.conversations), finds none, and creates it in the
    # same try, not after the effect's backoff
    ws.fake.fail_next("conversations.create", status=500, error="internal_error")
    order_id = submit(ws)
    creates = ws.fake.calls_to("conversations.create")
    assert [call.status for call in creates] == [500, 200]
    assert creates[0].args["name"] == creates[1].args["name"]
    assert ws.fake.calls_to("users.conversations")  # looked before asking again
    with Session(ws.engine) as session:
        channel = session.exec(select(PendingEffect).where(PendingEffect.kind == "open_channel")).one()
        assert (channel.status, channel.attempts) == ("done", 1)
    assert ws.order(order_id).card_ts is not None
    assert len([c for c in ws.fake.channels.values() if c.name == creates[1].args["name"]]) == 1


def test_a_name_taken_after_a_lost_answer_is_looked_for_again_not_replaced_by_the_next_name(
        ws: LocalWorkspace) -> None:
    # after a 500 the name may be taken by our own channel that Slack does not list yet: the effect tries
    # again later under the same name rather than making SO-…-2 beside it
    ws.fake.fail_next("conversations.create", status=500, error="internal_error")
    ws.fake.fail_next("conversations.create", status=200, error="name_taken")
    order_id = submit(ws)
    names = [call.args["name"] for call in ws.fake.calls_to("conversations.create")]
    assert len(names) == 3 and len(set(names)) == 1, names
    assert ws.fake.channels[ws.order(order_id).channel_id].name == names[0]


def test_an_unknown_reviewer_does_not_keep_the_others_out(seeded) -> None:  # type: ignore[no-untyped-def]
    from workflow.people import grant
    from workflow.vocabulary import Role
    grant(seeded, "U0GONE", [Role.SUPERVISOR])  # a mistyped or departed member id
    with LocalWorkspace(seeded, PEOPLE) as ws:
        order_id = submit(ws)
        members = ws.fake.channels[ws.order(order_id).channel_id].members
        assert {REQUESTER, SUPERVISOR, COORDINATOR} <= members and "U0GONE" not in members
        invite = ws.fake.calls_to("conversations.invite")[0]
        assert invite.response["ok"] and invite.response["errors"] == [
            {"user": "U0GONE", "ok": False, "error": "user_not_found"}]


def test_dates_are_the_users_own(seeded) -> None:  # type: ignore[no-untyped-def]
    # 09:30 UTC on 10 March: already the 10th in Berlin, still the 9th at UTC-12
    now = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    with LocalWorkspace(seeded, PEOPLE, clock=lambda: now) as ws:
        ws.fake.set_user(REQUESTER, tz="Europe/Berlin")
        ws.slack.command(REQUESTER, "/order")
        view = ws.wait_for_view(REQUESTER, "submit_order")
        initial = next(b for b in view["blocks"] if b.get("block_id") == "requested_date")["element"]
        assert initial["initial_date"] == "2026-03-10"
        body = ws.submit(REQUESTER, view, {
            "client": ws.pick(REQUESTER, view, "client", "acme"), "site": ws.pick(REQUESTER, view, "site", "hq"),
            "requested_date": {"requested_date": {"type": "datepicker", "selected_date": "2026-03-09"}},
            "description": {"description": {"type": "plain_text_input", "value": "Yesterday in Berlin"}},
            "item_0": ws.pick(REQUESTER, view, "item_0", "hvac"),
            "qty_0": {"quantity": {"type": "number_input", "value": "1"}}}).json()
        assert body["errors"] == {"requested_date": "The requested date is in the past."}


def test_the_same_form_submitted_twice_makes_one_order(ws: LocalWorkspace) -> None:
    ws.slack.command(REQUESTER, "/order")
    view = ws.wait_for_view(REQUESTER, "submit_order")
    values = {
        "client": ws.pick(REQUESTER, view, "client", "acme"), "site": ws.pick(REQUESTER, view, "site", "hq"),
        "requested_date": {"requested_date": {"type": "datepicker", "selected_date": SOON}},
        "description": {"description": {"type": "plain_text_input", "value": "Twice"}},
        "item_0": ws.pick(REQUESTER, view, "item_0", "hvac"),
        "qty_0": {"quantity": {"type": "number_input", "value": "1"}}}
    payload = {"type": "view_submission", "team": {"id": "T0001", "domain": "fake"}, "api_app_id": "A0001",
               "user": {"id": REQUESTER, "username": "rosa", "name": "rosa", "team_id": "T0001"},
               "trigger_id": "1.2.abc", "response_urls": [], "token": "t",
               "view": {**view, "state": {"values": ws.fake.views[view["id"]]["state"]["values"] | values}}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    for _ in range(2):  # e.g. the user pressed Submit again after a slow answer
        assert ws.slack.post(body, "application/x-www-form-urlencoded").status == 200
    ws.settle()
    with Session(ws.engine) as session:
        assert len(session.exec(select(ServiceOrder)).all()) == 1
    assert len(ws.fake.calls_to("conversations.create")) == 1


def test_typed_text_cannot_ping_the_channel_or_hide_links(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON,
               notes="<!channel> see <https://evil.example/x|the order sheet> & more")
    ws.settle()
    posted = [m.text for m in ws.fake.channels[ws.order(order_id).channel_id].messages]
    assert any("&lt;!channel&gt; see &lt;https://evil.example/x|the order sheet&gt; &amp; more" in t for t in posted)
    assert not any("<!channel>" in t for t in posted)


def test_a_click_on_an_out_of_date_card_is_refused(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    channel = ws.order(order_id).channel_id
    ws.slack.click(WORKER, channel, "1700000000.000001", "order_complete", value=f"{order_id}:0",
                   block_id="order_steps")
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == WORKER], "the refusal")
    assert ws.fake.ephemerals[-1]["text"].startswith("This card of SO-000001 is out of date")
    assert ws.top_view(WORKER) is None


def test_an_effect_that_fails_for_good_ends_the_ones_after_it(seeded) -> None:  # type: ignore[no-untyped-def]
    now = [datetime.now(UTC)]
    with LocalWorkspace(seeded, PEOPLE, clock=lambda: now[0]) as ws:
        ws.fake.fail_next("conversations.create", status=200, error="restricted_action", times=100)
        ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=SOON,
                        description="Channels are admin-only here")
        for _ in range(10):  # every retry, past each backoff
            assert ws.bot is not None and ws.bot.ctx.effects.wait_idle(10)
            now[0] += timedelta(minutes=6)
            ws.bot.ctx.effects.kick()
        ws.bot.ctx.effects.wait_idle(10)
        with Session(ws.engine) as session:
            effects = session.exec(select(PendingEffect).order_by(PendingEffect.id)).all()
        assert [(e.kind, e.status) for e in effects] == [("open_channel", "failed"), ("invite", "failed"),
                                                         ("card", "failed"), ("message", "failed"), ("home", "done")]
        assert effects[0].attempts == MAX_ATTEMPTS and "restricted_action" in (effects[0].last_error or "")
        assert effects[1].last_error.startswith("not run: open_channel (1:channel) failed before it")


def test_events_api_retries_change_nothing(ws: LocalWorkspace) -> None:
    event = {"type": "app_home_opened", "user": SUPERVISOR, "tab": "home"}
    assert ws.slack.event(event, event_id="Ev0RETRY").status == 200
    ws.wait(lambda: ws.fake.calls_to("views.publish"), "the home tab")
    for attempt in (1, 2, 3):  # Slack's retries of the same delivery
        assert ws.slack.event(event, event_id="Ev0RETRY", retry_num=attempt).status == 200
    assert ws.slack.event(event, event_id="Ev0AGAIN").status == 200  # the user opens the tab again
    ws.wait(lambda: len(ws.fake.calls_to("views.publish")) == 2, "the second publish")
    time.sleep(0.3)
    assert len(ws.fake.calls_to("views.publish")) == 2


ENGLISH = ("submitted", "please review", "approved the order", "Version", "Field workers", "Scheduled for",
           "filed a confirmation", "added field worker", "Why:", "closed the order", "closing record", "State",
           "Requested for", "Revision", "fingerprint", "not approved yet", "Pending approval",
           "Approved, work in progress", "Completed", " item", "Job")


def test_a_spanish_provider_gets_its_channel_in_spanish(seeded) -> None:  # type: ignore[no-untyped-def]
    """The card, the step messages and the PDFs' comments follow the provider's LOCALE (es_CL here): Spanish
    words, Chilean dates and pesos, nothing in English but names and codes."""
    letterhead = letterhead_from_env({"LOCALE": "es-CL", "CURRENCY": "CLP", "PROVIDER_TIMEZONE": "America/Santiago"})
    with LocalWorkspace(seeded, PEOPLE, letterhead=letterhead) as ws:
        order_id = submit(ws, free_items="")
        assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON, notes="Código 4521").text == ""
        ws.settle()
        assert ws.confirm(WORKER, order_id, changes=[("cement", "12")], note="Faltó cemento",
                          workers=[WORKER2]).text == ""
        ws.settle()
        assert ws.complete(WORKER, order_id, note="Todo listo").text == ""
        ws.settle()
        channel = ws.order(order_id).channel_id
        transcript = ws.fake.transcript(channel)
        messages = ws.fake.channels[channel].messages
    said = "\n".join([transcript, *(m.text for m in messages)])
    for word in ("envió SO-000001", "por favor revísenla", "aprobó la orden", "Versión 1", "Técnicos de campo",
                 "Programada para el", "registró una confirmación", "Versión 2:", "se agregó al técnico de campo",
                 "Motivo: Faltó cemento", "Versión 3, el acta de cierre", "Nota: Todo listo", "Completada",
                 "Estado", "Cliente", "Sede", "Solicitante", "Revisión", "huella"):
        assert word in said, word
    assert "Cambio antes de impuestos: +$" in said  # pesos, as Chile writes them
    english = [word for word in ENGLISH if word in said]
    assert english == [], english


def test_effects_queued_by_the_release_before_facts_still_run(ws: LocalWorkspace) -> None:
    """A queue may hold payloads the old code wrote (a message's and a reminder's text): they are posted as
    they were written."""
    order_id = submit(ws)
    with Session(ws.engine) as session:
        queue_effects(session, [
            (order_id, "message", f"{order_id}:message:old", {"text": "<@U0SUP> approved the order. Version 1."}),
            (order_id, "reminder", f"reminder:approval:{order_id}:old",
             {"text": "Supervisors: SO-000001 has waited over 24 h for approval.", "state": "pending_approval"})],
            datetime.now(UTC))
        session.commit()
    ws.settle()
    posted = [m.text for m in ws.fake.channels[ws.order(order_id).channel_id].messages]
    assert "<@U0SUP> approved the order. Version 1." in posted
    assert "Supervisors: SO-000001 has waited over 24 h for approval." in posted
