"""Rounds before approval, as Slack drives them: the requester edits or withdraws a pending order, a reviewer
sends it back with a note, the requester edits and resubmits. Signed requests into the running bot, the
loopback fake Web API, a real database."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, select

from sandbox.local import LocalWorkspace
from sandbox.slackfake.state_values import complete_values
from storage.models import AuditEvent, OrderVersion, RoleGrant, ServiceOrder
from tests.conftest import COORDINATOR, OUTSIDER, REQUESTER, SUPERVISOR, TEAM, WORKER
from tests.test_end_to_end import PEOPLE, SOON, submit
from workflow.facts import StepFacts
from workflow.queries import version_lines


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def open_form(ws: LocalWorkspace, user: str, order_id: int, action: str, form: str) -> dict[str, Any]:
    """Click the card's button for `action`; the form it opens."""
    return ws._open(user, form, lambda: ws.click_step(user, order_id, f"order_{action}"))


def steps(ws: LocalWorkspace, order_id: int) -> list[StepFacts]:
    with Session(ws.engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id))
        return [StepFacts.loads(row.detail) for row in rows]


def lines(ws: LocalWorkspace, order_id: int, number: int = 0) -> list[tuple[str, str]]:
    with Session(ws.engine) as session:
        return [(line.description, f"{line.quantity.normalize():f}")
                for _, line in version_lines(session, order_id, number)]


def card_text(ws: LocalWorkspace, order_id: int) -> str:
    order = ws.order(order_id)
    assert order.channel_id and order.card_ts
    return str(ws.fake.message_payload(order.channel_id, order.card_ts))


def test_the_requester_edits_the_filled_in_request_and_the_approval_is_still_version_1(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    assert "Edit" in card_text(ws, order_id) and "Withdraw" in card_text(ws, order_id)
    view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
    # the same form as on submit, filled in with the order as it is
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["description"]["element"]["initial_value"] == "Replace the HVAC filters; patch the slab."
    assert blocks["item_0"]["element"]["initial_option"]["value"].startswith("service:")
    assert blocks["qty_0"]["element"]["initial_value"] == "3"
    assert blocks["free_items"]["element"]["initial_value"] == "1 | Skip hire | unit | 80"
    before = ws.order(order_id).revision
    ack = ws.submit(REQUESTER, view, {"description": {"description": text("Replace the HVAC filters only.")},
                                      "priority": {"priority": {"type": "static_select", "selected_option": {
                                          "value": "high", "text": {"type": "plain_text", "text": "High"}}}},
                                      "qty_0": {"quantity": {"type": "number_input", "value": "5"}}})
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.description, order.priority) == ("pending_approval", "Replace the HVAC filters only.",
                                                                "high")
    assert order.revision == before + 1 and order.current_version == 0
    assert lines(ws, order_id)[0][1] == "5"
    edit = steps(ws, order_id)[-1]
    assert edit.action == "edit" and edit.version is None
    assert {(f.name, f.before, f.after) for f in edit.fields} == {
        ("description", "Replace the HVAC filters; patch the slab.", "Replace the HVAC filters only."),
        ("priority", "normal", "high")}
    assert [(i.quantity_before, i.quantity_after) for i in edit.items] == [(3, 5)]
    channel = ws.fake.transcript(order.channel_id)
    assert "edited the request" in channel and "Priority: normal → high" in channel
    assert "Rounds before approval" in card_text(ws, order_id)
    # approval still makes version 1, from the request as edited
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert ws.order(order_id).current_version == 1 and lines(ws, order_id, 1) == lines(ws, order_id, 0)


def test_an_edit_that_changes_nothing_is_answered_on_its_field(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
    body = ws.submit(REQUESTER, view, {}).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["description"]
    assert ws.order(order_id).revision == 0 and len(steps(ws, order_id)) == 1


def test_only_the_requester_may_edit_or_withdraw(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    ws.click_step(SUPERVISOR, order_id, "order_edit")
    ws.wait(lambda: any(e["user"] == SUPERVISOR for e in ws.fake.ephemerals), "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only the person who requested it can edit SO-000001."
    ws.click_step(OUTSIDER, order_id, "order_withdraw")
    ws.wait(lambda: any(e["user"] == OUTSIDER for e in ws.fake.ephemerals), "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only the person who requested it can withdraw SO-000001."
    # and the requester may not send their own order back
    ws.click_step(REQUESTER, order_id, "order_send_back")
    ws.wait(lambda: any(e["user"] == REQUESTER for e in ws.fake.ephemerals), "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == ("Only a supervisor, a coordinator, or an admin can send SO-000001 back "
                                              "for changes.")
    assert ws.top_view(SUPERVISOR) is None and ws.top_view(REQUESTER) is None
    assert len(steps(ws, order_id)) == 1


def test_withdraw_needs_a_reason_and_closes_the_order(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, REQUESTER, order_id, "withdraw", "withdraw")
    body = ws.submit(REQUESTER, view, {"reason": {"reason": text("   ")}}, check_required=False).json()
    assert body == {"response_action": "errors", "errors": {"reason": "Enter why you withdraw it."}}
    assert ws.order(order_id).state == "pending_approval" and len(steps(ws, order_id)) == 1
    assert ws.submit(REQUESTER, view, {"reason": {"reason": text("The client found another provider")}}).text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.closed_by, order.close_reason) == ("withdrawn", REQUESTER,
                                                                  "The client found another provider")
    assert "withdrew the order" in ws.fake.transcript(order.channel_id)
    assert "order_approve" not in card_text(ws, order_id)  # closed: no buttons
    # a click on a copy of the card from before (a replay, another device) is refused with the order's state
    ws.slack.click(SUPERVISOR, order.channel_id, "1700000000.000001", "order_approve", value=f"{order_id}:0",
                   block_id="order_steps")
    ws.wait(lambda: any("already withdrawn" in e["text"] for e in ws.fake.ephemerals), "closed refusal")


def test_send_back_edit_and_resubmit_make_rounds_on_the_card_and_in_the_audit(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, SUPERVISOR, order_id, "send_back", "send_back")
    body = ws.submit(SUPERVISOR, view, {"note": {"note": text("")}}, check_required=False).json()
    assert body == {"response_action": "errors", "errors": {"note": "Enter what should change."}}
    assert ws.order(order_id).state == "pending_approval" and len(steps(ws, order_id)) == 1
    assert ws.submit(SUPERVISOR, view, {"note": {"note": text("Quote 4 filters, not 3")}}).text == ""
    ws.settle()
    assert ws.order(order_id).state == "changes_requested"
    card = card_text(ws, order_id)
    assert "Quote 4 filters, not 3" in card and "order_resubmit" in card and "order_approve" not in card
    # the requester's App Home offers the same step, among the orders they requested
    assert ws.slack.event({"type": "app_home_opened", "user": REQUESTER, "tab": "home"}).status == 200
    ws.wait(lambda: "order_resubmit" in str((ws.fake.home_view(REQUESTER) or {}).get("blocks")), "Resubmit on Home")
    # a reviewer cannot resubmit for the requester
    ws.click_step(COORDINATOR, order_id, "order_resubmit")
    ws.wait(lambda: any(e["user"] == COORDINATOR for e in ws.fake.ephemerals), "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only the person who requested it can resubmit SO-000001."
    view = open_form(ws, REQUESTER, order_id, "resubmit", "resubmit_order")
    assert ws.submit(REQUESTER, view, {"qty_0": {"quantity": {"type": "number_input", "value": "4"}}}).text == ""
    ws.settle()
    order = ws.order(order_id)
    assert order.state == "pending_approval" and lines(ws, order_id)[0][1] == "4"
    # the reviewers are asked again, as on submit
    said = ws.fake.transcript(order.channel_id)
    assert "resubmitted the order" in said and "please review it" in said.split("resubmitted the order")[1]
    assert [s.action for s in steps(ws, order_id)] == ["submit", "send_back", "resubmit"]
    card = card_text(ws, order_id)
    assert "Quote 4 filters, not 3" in card and "resubmitted the order" in card and "order_approve" in card


def test_an_order_sent_back_may_be_withdrawn_instead(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, COORDINATOR, order_id, "send_back", "send_back")
    assert ws.submit(COORDINATOR, view, {"note": {"note": text("Which floor?")}}).text == ""
    ws.settle()
    view = open_form(ws, REQUESTER, order_id, "withdraw_sent_back", "withdraw_sent_back")
    body = ws.submit(REQUESTER, view, {"reason": {"reason": text("")}}, check_required=False).json()
    assert body == {"response_action": "errors", "errors": {"reason": "Enter why you withdraw it."}}
    assert ws.submit(REQUESTER, view, {"reason": {"reason": text("Done in-house")}}).text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.close_reason) == ("withdrawn", "Done in-house")
    assert [s.action for s in steps(ws, order_id)] == ["submit", "send_back", "withdraw_sent_back"]
    assert "withdrew the order" in ws.fake.transcript(order.channel_id)


def test_a_reviewer_who_lost_the_role_is_refused_at_submit(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, SUPERVISOR, order_id, "send_back", "send_back")
    with Session(ws.engine) as session:
        session.delete(session.get(RoleGrant, (TEAM, SUPERVISOR, "supervisor")))
        session.commit()
    body = ws.submit(SUPERVISOR, view, {"note": {"note": text("More detail please")}}).json()
    assert body["response_action"] == "update"
    assert "Only a supervisor, a coordinator, or an admin can send SO-000001 back for changes." in str(body["view"])
    assert ws.order(order_id).state == "pending_approval" and len(steps(ws, order_id)) == 1


def test_editing_an_order_approved_meanwhile_is_stale_and_stores_nothing(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
    assert ws.approve(COORDINATOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    body = ws.submit(REQUESTER, view, {"description": {"description": text("Something else")}}).json()
    assert body["response_action"] == "update"
    assert "approved, work in progress" in str(body["view"]["blocks"])
    assert ws.order(order_id).description == "Replace the HVAC filters; patch the slab."
    assert [s.action for s in steps(ws, order_id)] == ["submit", "approve"]


def test_a_double_click_on_the_edit_form_makes_one_edit(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
    values = complete_values(view, {**ws._state(view), "description": {"description": text("Twice")}})
    payload = {"type": "view_submission", "team": {"id": "T0001", "domain": "fake"}, "api_app_id": "A0001",
               "user": {"id": REQUESTER, "username": "rosa", "name": "rosa", "team_id": "T0001"},
               "trigger_id": "1.2.abc", "response_urls": [], "token": "t",
               "view": {**view, "state": {"values": values}}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    first = ws.slack.post(body, "application/x-www-form-urlencoded")
    assert first.status == 200 and first.text == ""
    # the same submission again (Submit pressed twice after a slow answer): refused as stale, nothing stored
    second = ws.slack.post(body, "application/x-www-form-urlencoded").json()
    assert second["response_action"] == "update" and "changed since you opened this" in str(second["view"])
    assert [s.action for s in steps(ws, order_id)] == ["submit", "edit"]
    with Session(ws.engine) as session:
        assert session.exec(select(ServiceOrder)).one().revision == 1
        assert len(session.exec(select(OrderVersion)).all()) == 1


# --- decisions reach the requester (issue 15, item 5) -----------------------------------------------------


def channel_posts(ws: LocalWorkspace, channel: str) -> list[str]:
    return [c.args.get("text", "") for c in ws.fake.calls_to("chat.postMessage") if c.args.get("channel") == channel]


def dms_to(ws: LocalWorkspace, user: str) -> list[str]:
    """What the bot posted into its direct message with `user`."""
    opened = {c.response["channel"]["id"] for c in ws.fake.calls_to("conversations.open")
              if c.args.get("users") == user and c.response.get("ok")}
    return [text for dm in opened for text in channel_posts(ws, dm)]


def test_a_decision_mentions_the_requester_in_the_channel(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    view = open_form(ws, SUPERVISOR, order_id, "send_back", "send_back")
    assert ws.submit(SUPERVISOR, view, {"note": {"note": text("Add the floor number")}}).text == ""
    ws.settle()
    channel = ws.order(order_id).channel_id
    assert channel
    sent_back = channel_posts(ws, channel)[-1]
    assert sent_back.startswith(f"<@{REQUESTER}>: <@{SUPERVISOR}> sent the order back")
    assert "Add the floor number" in sent_back
    view = open_form(ws, REQUESTER, order_id, "resubmit", "resubmit_order")
    assert ws.submit(REQUESTER, view, {"description": {"description": text("Floor 3")}}).text == ""
    ws.settle()
    # their own step: they are its actor, not mentioned again
    assert channel_posts(ws, channel)[-1].startswith(f"<@{REQUESTER}> resubmitted the order.")
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert any(t.startswith(f"<@{REQUESTER}>: ") and "approved the order" in t for t in channel_posts(ws, channel))
    assert dms_to(ws, REQUESTER) == []  # a member of the channel: the mention reaches them


def test_a_requester_who_left_the_channel_gets_the_decision_by_direct_message(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    channel = ws.order(order_id).channel_id
    assert channel
    ws.fake.remove_member(channel, REQUESTER)
    assert ws.reject(COORDINATOR, order_id, "Duplicate of SO-000009").text == ""
    ws.settle()
    told = dms_to(ws, REQUESTER)
    assert len(told) == 1
    assert told[0].startswith(f"Your order SO-000001 (<#{channel}>): ") and "Duplicate of SO-000009" in told[0]
    assert ws.fake.calls_to("conversations.members")


@pytest.mark.parametrize("field, entry, message", [
    ("qty_0", {"quantity": {"type": "number_input", "value": "-2"}}, "Enter a quantity above 0."),
    ("requested_date", {"requested_date": {"type": "datepicker", "selected_date": "2020-01-01"}},
     "The requested date is in the past."),
    ("description", {"description": text("")}, "Enter a description of the job."),
])
def test_bad_input_in_the_edit_form_is_answered_on_its_field_and_stores_nothing(  # type: ignore[no-untyped-def]
        ws, field, entry, message) -> None:
    order_id = submit(ws)
    view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
    body = ws.submit(REQUESTER, view, {field: entry}, check_required=False).json()
    assert body["response_action"] == "errors" and message in body["errors"][field]
    assert len(body["errors"]) == 1
    order = ws.order(order_id)
    assert order.revision == 0 and order.description == "Replace the HVAC filters; patch the slab."
    assert lines(ws, order_id)[0][1] == "3" and len(steps(ws, order_id)) == 1


def test_the_edit_form_offers_the_sites_of_the_client_it_came_filled_in_with(ws: LocalWorkspace) -> None:
    order_id = submit(ws, client="acme", site="hq", items=[("hvac", "1")], free_items="")
    view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
    # the client is untouched: the site picker still answers with that client's sites
    site = ws.pick(REQUESTER, view, "site", "warehouse")
    assert ws.submit(REQUESTER, view, {"site": site}).text == ""
    ws.settle()
    assert ws.order(order_id).site_code == "ACME-WH"
    assert [(f.name, f.after) for f in steps(ws, order_id)[-1].fields] == [("site", "Acme Warehouse North")]


def test_a_spanish_reader_gets_the_free_items_in_their_decimals_and_may_save_them_as_they_are(seeded) -> None:  # type: ignore[no-untyped-def]
    """The Edit form writes a free item's quantity and price with the reader's decimal mark: a Spanish reader's
    "1.125" would read as a thousand (or be refused as ambiguous) on a field they never touched."""
    with LocalWorkspace(seeded, PEOPLE, locales={REQUESTER: "es-ES"}) as ws:
        order_id = submit(ws, free_items="1,125 | Andamio | día | 12,5")
        view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
        free = next(b for b in view["blocks"] if b.get("block_id") == "free_items")
        assert free["element"]["initial_value"] == "1,125 | Andamio | día | 12,5"
        assert ws.submit(REQUESTER, view, {"description": {"description": text("Solo el andamio")}}).text == ""
        ws.settle()
        assert ("free", "1.125") in [(kind, qty) for kind, qty in lines_of_kind(ws, order_id)]


def lines_of_kind(ws: LocalWorkspace, order_id: int) -> list[tuple[str, str]]:
    with Session(ws.engine) as session:
        return [(line.kind, f"{line.quantity.normalize():f}") for _, line in version_lines(session, order_id, 0)]

