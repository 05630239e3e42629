"""Reschedule and Change crew (issue 15, items 2 and 3), driven as Slack drives them: a click on the order
card's button opens the form, the form is submitted, both as signed requests into the running bot, with the
loopback fake answering the Web API and the bot's clock driven by the test. Each bad input gets one line on
its field and stores nothing; a stale form is refused in the modal; a double submission makes one step."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import plain_text, timepicker, users
from storage.models import Assignment, AuditEvent, OrderVersion, PendingEffect, ServiceOrder
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER, WORKER2
from tests.test_reminders import POLICY, START, Timed
from workflow.facts import StepFacts
from workflow.people import grant
from workflow.vocabulary import Role

DAY1 = (START + timedelta(days=1)).date()  # Friday 27 November 2026: the date approved
DAY4 = (START + timedelta(days=4)).date()  # Monday 30 November: the new date


@pytest.fixture
def ws(seeded) -> Iterator[Timed]:  # type: ignore[no-untyped-def]
    with Timed(seeded) as workspace:
        yield workspace


def approved(ws: Timed, workers: list[str]) -> int:
    ack = ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")],
                          requested=DAY1.isoformat(), description="Replace the filters")
    assert ack.text == "", ack.text
    ws.settle()
    order_id = ws.latest_order_id()
    assert ws.approve(SUPERVISOR, order_id, workers=workers, scheduled=DAY1.isoformat()).text == ""
    ws.settle()
    return order_id


def pdf_text(ws: Timed, name: str) -> str:
    content = next(f for f in ws.fake.files.values() if f.name == name).content
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def stored(ws: Timed) -> tuple[int, int, int, int]:
    """What a refused step must leave as it was: versions, audit events, pending effects, revisions."""
    with Session(ws.engine) as session:
        return (len(session.exec(select(OrderVersion)).all()), len(session.exec(select(AuditEvent)).all()),
                len(session.exec(select(PendingEffect)).all()),
                sum(o.revision for o in session.exec(select(ServiceOrder))))


def card_text(ws: Timed, order_id: int) -> str:
    order = ws.order(order_id)
    return json.dumps(ws.fake.message(order.channel_id, order.card_ts).blocks, ensure_ascii=False)


def card_buttons(ws: Timed, order_id: int) -> list[str]:
    order = ws.order(order_id)
    card = ws.fake.message(order.channel_id, order.card_ts)
    return [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]


def last_facts(ws: Timed) -> StepFacts:
    with Session(ws.engine) as session:
        return StepFacts.loads(session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first().detail)  # type: ignore[union-attr,attr-defined]


# --- reschedule --------------------------------------------------------------------------------------------


def test_reschedule_makes_a_version_clears_overdue_and_moves_the_mornings(ws: Timed) -> None:
    order_id = approved(ws, [WORKER])
    assert card_buttons(ws, order_id) == ["order_confirm", "order_complete", "order_not_perform",
                                          "order_set_prices", "order_reschedule", "order_change_crew"]
    # the day passes without the job: the order is overdue on its card
    assert ws.at(START + timedelta(days=2)).sweep().get("overdue") == 1
    assert "Overdue" in card_text(ws, order_id)

    # the assigned field worker reschedules it, with a time window
    ack = ws.reschedule(WORKER, order_id, scheduled=DAY4.isoformat(), start="08:00", end="12:00",
                        reason="The client postponed: the site is closed until Monday")
    assert ack.text == "", ack.text
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version, order.scheduled_date) == ("approved", 2, DAY4)
    assert order.scheduled_start.isoformat() == "08:00:00" and order.scheduled_end.isoformat() == "12:00:00"  # type: ignore[union-attr]
    card = card_text(ws, order_id)
    assert "Overdue" not in card and "Nov 30, 2026, 8:00\u202fAM – 12:00\u202fPM" in card
    said = next(p for p in ws.posts(order_id) if "rescheduled" in p)
    assert said == (f"<@{WORKER}> rescheduled the order. Version 2: scheduled for Nov 30, 2026, 8:00\u202fAM – "
                    "12:00\u202fPM (was Nov 27, 2026). Reason: The client postponed: the site is closed until Monday")
    facts = last_facts(ws)
    assert [(f.name, f.before, f.after) for f in facts.fields] == [
        ("scheduled_date", "2026-11-27", "2026-11-30"), ("scheduled_start", None, "08:00"),
        ("scheduled_end", None, "12:00")]
    text = pdf_text(ws, "SO-000001-v2.pdf")
    assert "Version 2" in text and "Nov 30, 2026, 8:00" in text and "12:00" in text
    assert "Rescheduled from Nov 27, 2026 to Nov 30, 2026, 8:00" in text
    assert "The client postponed" in text
    assert "Nov 27, 2026" in pdf_text(ws, "SO-000001-v1.pdf")

    # no overdue digest for it any more, and the field worker's morning is on the new date
    assert ws.at(START + timedelta(days=3)).sweep().get("overdue") is None
    zone = ZoneInfo(ws.fake.users[WORKER].tz)
    assert ws.at(datetime.combine(DAY1, POLICY.morning, zone)).sweep().get("morning") is None
    assert ws.at(datetime.combine(DAY4, POLICY.morning, zone)).sweep().get("morning") == 1
    assert ws.dms(WORKER)


def reschedule_form(ws: Timed, user: str, order_id: int) -> dict[str, Any]:
    return ws.open_step(user, order_id, "reschedule")


def reschedule_values(day: date, reason: str = "Postponed", start: str | None = None,
                      end: str | None = None) -> dict[str, Any]:
    return {"scheduled_date": {"scheduled_date": date_value(day.isoformat())},
            "start_time": {"start_time": timepicker(start)}, "end_time": {"end_time": timepicker(end)},
            "reason": {"reason": plain_text(reason)}}


@pytest.mark.parametrize("values, block, message", [
    # rescheduling into the past (the day before the bot's today)
    (reschedule_values(START.date() - timedelta(days=1)), "scheduled_date", "The scheduled date is in the past."),
    # the same date and no window: nothing would change
    (reschedule_values(DAY1), "scheduled_date", "The order is already scheduled for that date and time"),
    # a window that ends before it starts
    (reschedule_values(DAY4, start="12:00", end="08:00"), "end_time",
     "The end of the time window must come after its start."),
    # a time Slack's timepicker cannot give (a forged payload)
    (reschedule_values(DAY4, start="8 o'clock"), "start_time", "is not a time."),
    # no reason
    (reschedule_values(DAY4, reason=""), "reason", "Enter why the date changes."),
])
def test_a_bad_reschedule_gets_one_line_on_its_field_and_stores_nothing(ws, values, block, message) -> None:  # type: ignore[no-untyped-def]
    order_id = approved(ws, [WORKER])
    before = stored(ws)
    view = reschedule_form(ws, COORDINATOR, order_id)
    body = ws.submit(COORDINATOR, view, values, check_required=False).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == [block], body
    assert message in body["errors"][block]
    assert stored(ws) == before and ws.order(order_id).scheduled_date == DAY1


def test_only_a_coordinator_or_an_assigned_field_worker_may_reschedule(ws: Timed) -> None:
    order_id = approved(ws, [WORKER])
    # the click is refused (an ephemeral line), and no form opens
    for user in (SUPERVISOR, WORKER2):
        ws.click_step(user, order_id, "order_reschedule")
        ws.wait(lambda u=user: [e for e in ws.fake.ephemerals if e["user"] == u], "the refusal")
        assert [e["text"] for e in ws.fake.ephemerals if e["user"] == user] == [
            "Only a field worker assigned to it or a coordinator can reschedule SO-000001."]
        assert ws.top_view(user) is None
    # and again at submit: a form opened by someone who has since left the crew is refused in the modal
    view = reschedule_form(ws, WORKER, order_id)
    assert ws.change_crew(COORDINATOR, order_id, workers=[WORKER2]).text == ""
    ws.settle()
    before = stored(ws)
    body = ws.submit(WORKER, view, reschedule_values(DAY4)).json()
    assert body["response_action"] == "update" and "Not saved" in str(body["view"])
    assert stored(ws) == before


def test_a_double_submit_reschedules_once(ws: Timed) -> None:
    """The same form's submission arriving twice (Submit pressed again after a slow answer): one step; the
    second is told in the modal that the order changed since."""
    order_id = approved(ws, [WORKER])
    view = reschedule_form(ws, COORDINATOR, order_id)
    state = {**ws.fake.views[view["id"]]["state"]["values"], **reschedule_values(DAY4)}
    payload = {"type": "view_submission", "team": {"id": "T0001", "domain": "fake"}, "api_app_id": "A0001",
               "user": {"id": COORDINATOR, "username": "carla", "name": "carla", "team_id": "T0001"},
               "trigger_id": "1.2.abc", "response_urls": [], "token": "t",
               "view": {**view, "state": {"values": state}}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    first, second = (ws.slack.post(body, "application/x-www-form-urlencoded") for _ in range(2))
    assert first.status == second.status == 200 and first.text == ""
    assert second.json()["response_action"] == "update" and "Not saved" in str(second.json()["view"])
    ws.settle()
    with Session(ws.engine) as session:
        assert [v.number for v in session.exec(select(OrderVersion).order_by(OrderVersion.number))] == [0, 1, 2]
        assert [e.action for e in session.exec(select(AuditEvent))].count("reschedule") == 1
    assert [f.name for f in ws.fake.files.values()] == ["SO-000001-v1.pdf", "SO-000001-v2.pdf"]


# --- change crew -------------------------------------------------------------------------------------------


def test_change_crew_replaces_a_worker_kicks_them_and_each_pdf_lists_its_crew(ws: Timed) -> None:
    grant(ws.engine, COORDINATOR, [Role.FIELD_WORKER])  # a coordinator on the crew holds another part too
    order_id = approved(ws, [WORKER, COORDINATOR])
    channel = ws.order(order_id).channel_id
    assert channel is not None
    assert {WORKER, COORDINATOR} <= ws.fake.channels[channel].members
    ws.slack.event({"type": "app_home_opened", "user": WORKER, "tab": "home"})
    ws.wait(lambda: "SO-000001" in str(ws.fake.home_view(WORKER)), "the worker's home lists the order")

    ack = ws.change_crew(COORDINATOR, order_id, workers=[WORKER2], note="Jürgen is on another site")
    assert ack.text == "", ack.text
    ws.settle()
    order = ws.order(order_id)
    assert order.current_version == 2
    members = ws.fake.channels[channel].members
    # the removed worker is out of the private channel; the coordinator stays (a reviewer of the order)
    assert WORKER not in members and WORKER2 in members and COORDINATOR in members
    assert [c.args.get("user") for c in ws.fake.calls_to("conversations.kick")] == [WORKER]
    with Session(ws.engine) as session:
        rows = {a.user_id: (a.added_in_version, a.removed_in_version)
                for a in session.exec(select(Assignment).where(Assignment.order_id == order_id))}
    assert rows == {WORKER: (1, 2), COORDINATOR: (1, 2), WORKER2: (2, None)}
    facts = last_facts(ws)
    assert (facts.people_added, set(facts.people_removed)) == ((WORKER2,), {WORKER, COORDINATOR})
    said = ws.fake.transcript(channel)
    assert "changed the crew" in said and "removed field worker" in said and "Jürgen is on another site" in said
    assert "← Jürgen Müller was removed from #so-000001" in said  # Slack's own line for the kick
    assert f"<@{WORKER2}>" in card_text(ws, order_id) and f"<@{WORKER}>" not in card_text(ws, order_id)
    v1, v2 = pdf_text(ws, "SO-000001-v1.pdf"), pdf_text(ws, "SO-000001-v2.pdf")
    assert "Jürgen Müller" in v1 and "Ana Peñalolén" not in v1
    assert "Ana Peñalolén" in v2 and "Removed people: Carla Coordinator, Jürgen Müller" in v2
    # the removed worker's App Home no longer lists it, and they may no longer take its steps
    ws.wait(lambda: "SO-000001" not in str(ws.fake.home_view(WORKER)), "the order gone from the worker's home")
    ws.click_step(WORKER, order_id, "order_confirm")
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == WORKER], "the refusal")


def test_a_field_worker_may_not_change_the_crew(ws: Timed) -> None:
    order_id = approved(ws, [WORKER])
    ws.click_step(WORKER, order_id, "order_change_crew")
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == WORKER], "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only a coordinator can change the crew of SO-000001."
    assert ws.top_view(WORKER) is None


@pytest.mark.parametrize("crew, message", [
    # removing the last field worker of an approved order
    ([], "An approved order keeps at least one field worker"),
    # the crew it has already
    ([WORKER], "That is the crew the order already has"),
    # someone without the field worker role
    ([WORKER, SUPERVISOR], "Sam Supervisor is not a field worker."),
])
def test_a_bad_crew_change_gets_one_line_on_its_field_and_stores_nothing(ws, crew, message) -> None:  # type: ignore[no-untyped-def]
    order_id = approved(ws, [WORKER])
    before = stored(ws)
    view = ws.open_step(COORDINATOR, order_id, "change_crew")
    body = ws.submit(COORDINATOR, view, {"field_workers": {"field_workers": users(crew)}}).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["field_workers"], body
    assert message in body["errors"]["field_workers"]
    assert stored(ws) == before
    assert WORKER in ws.fake.channels[ws.order(order_id).channel_id].members


def test_a_stale_crew_form_is_refused_in_the_modal(ws: Timed) -> None:
    order_id = approved(ws, [WORKER])
    stale = ws.open_step(COORDINATOR, order_id, "change_crew")
    assert ws.reschedule(WORKER, order_id, scheduled=DAY4.isoformat(), reason="Postponed").text == ""
    ws.settle()
    before = stored(ws)
    body = ws.submit(COORDINATOR, stale, {"field_workers": {"field_workers": users([WORKER2])}}).json()
    assert body["response_action"] == "update" and "Not saved" in str(body["view"])
    assert stored(ws) == before and ws.fake.calls_to("conversations.kick") == []


def test_a_kick_slack_refuses_leaves_the_worker_in_and_holds_nothing_up(ws: Timed) -> None:
    """A workspace where only admins may remove people answers restricted_action: the worker stays in the
    channel, and the crew change's PDF and the order's later steps do not wait on it."""
    order_id = approved(ws, [WORKER])
    channel = ws.order(order_id).channel_id
    assert channel is not None
    ws.fake.fail_next("conversations.kick", error="restricted_action", status=200)
    assert ws.change_crew(COORDINATOR, order_id, workers=[WORKER2], note="Another site").text == ""
    ws.settle()
    assert WORKER in ws.fake.channels[channel].members
    assert "SO-000001-v2.pdf" in ws.fake.transcript(channel)
    with Session(ws.engine) as session:
        assert session.exec(select(PendingEffect.kind).where(PendingEffect.status != "done")).all() == []


def test_history_shows_what_a_reschedule_changed_in_the_readers_words(ws: Timed) -> None:
    order_id = approved(ws, [WORKER])
    day = ws.order(order_id).scheduled_date + timedelta(days=1)
    assert ws.reschedule(COORDINATOR, order_id, scheduled=day.isoformat(), start="08:00",
                         reason="Postponed").text == ""
    ws.settle()
    ws.slack.command(COORDINATOR, "/order", "history SO-000001")
    shown = json.dumps(ws.wait_for_view(COORDINATOR, "order_history"), ensure_ascii=False)
    assert "Starts at: — → 8:00" in shown
    # the end it left empty is no change, and a tax rate is no field of the order
    assert "scheduled_end" not in shown and "Ends at" not in shown and "Tax rate" not in shown
