"""An order's whole trail in Slack: `/order history SO-… [page]` and the card's History button open a paged
modal; Previous/Next update it in place; who may not see the order, and bad requests, get one line each.
Driven by signed requests into the running bot against the loopback fake Slack; the bot reads the test's
clock (fixed), so every time it shows is known."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.models.views import View

from bot.history import BUTTON, PAGE_ACTIONS, chunks, paginate
from bot.render.history import describe_changes
from i18n import english, language
from sandbox.local import LocalWorkspace
from tests.conftest import COORDINATOR, NO_REAPPROVAL, OUTSIDER, REQUESTER, SUPERVISOR, WORKER, WORKER2
from tests.test_end_to_end import PEOPLE
from tests.test_tracking import answer
from workflow.facts import FieldChange, ItemFact, StepFacts
from workflow.inputs import Confirmation, FreeItem
from workflow.service import OrderService
from workflow.vocabulary import Action

NOW = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)  # 11:05 in America/Santiago (UTC-3 then), the fake's zone
DAY = (NOW.date() + timedelta(days=3)).isoformat()


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    # the coordinator reads Slack in Latin American Spanish
    with LocalWorkspace(seeded, PEOPLE, clock=lambda: NOW, locales={COORDINATOR: "es-LA"},
                        policy=NO_REAPPROVAL) as workspace:
        yield workspace


def approved_order(ws: LocalWorkspace) -> int:
    """An order submitted, approved (WORKER, for DAY) and confirmed once (one more HVAC hour), in Slack."""
    assert ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "2")], requested=DAY,
                           description="History").text == ""
    ws.settle()
    order_id = ws.latest_order_id()
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=DAY, notes="Gate <!channel> 4521").text == ""
    ws.settle()
    assert ws.confirm(WORKER, order_id, changes=[("hvac", "3")], note="One more hour",
                      workers=[WORKER2]).text == ""
    ws.settle()
    return order_id


def history_view(ws: LocalWorkspace, user: str, text: str) -> dict[str, Any]:
    before = (ws.top_view(user) or {}).get("id")
    ack = ws.slack.command(user, "/order", text=text)
    assert ack.status == 200 and ack.text == "", ack.text  # nothing said in the ack: the modal opens
    ws.wait(lambda: (ws.top_view(user) or {}).get("id") not in (None, before), f"the history for /order {text}")
    view = ws.top_view(user)
    assert view is not None and view["callback_id"] == "order_history"
    return view


def shown(view: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")


def test_history_shows_every_step_with_who_when_and_before_after(ws: LocalWorkspace) -> None:
    order_id = approved_order(ws)
    view = history_view(ws, REQUESTER, "history so-1")
    text = shown(view)
    assert view["title"]["text"] == "History SO-000001"
    assert "*SO-000001* · Acme Facilities Ltd. (ACME) · Approved, work in progress" in text
    assert "Steps 1–3 of 3 · page 1 of 1 · times in America/Santiago" in text
    # who and when (the reader's zone: 14:05 UTC is 11:05 in Santiago), from which state to which
    assert f"*Mar 2, 2026 11:05\u202fAM* · <@{REQUESTER}> submitted the order." in text
    assert f"<@{SUPERVISOR}> approved the order.\nPending approval → Approved, work in progress · version 1" in text
    # each fact: the submission's values, the approval's field before → after, people, notes (escaped)
    assert "• Requested for: Mar 5, 2026" in text and "• Priority: normal" in text
    assert f"version 1\n• Scheduled for: — → Mar 5, 2026\n• People added: <@{WORKER}>" in text
    assert "• Note: Gate &lt;!channel&gt; 4521" in text
    assert f"<@{WORKER}> filed a confirmation.\nApproved, work in progress · version 2" in text
    assert "• ~ HVAC preventive maintenance (h): quantity 2 → 3; amount $90.00 → $135.00" in text
    assert f"• People added: <@{WORKER2}>" in text and "• Change before tax: +$45.00" in text
    assert "That is all." in str(view["blocks"])

    # the card's History button opens the same modal for anyone who may see the order
    order = ws.order(order_id)
    ws.slack.click(WORKER2, order.channel_id, order.card_ts, "order_history")
    view = ws.wait_for_view(WORKER2, "order_history")
    assert shown(view) == text

    # the coordinator reads it in Spanish, in their zone
    spanish = shown(history_view(ws, COORDINATOR, "history SO-000001"))
    assert "Pasos 1–3 de 3 · página 1 de 1 · horas en America/Santiago" in spanish
    assert f"<@{SUPERVISOR}> aprobó la orden." in spanish and "2 mar 2026" in spanish


def test_history_pages_with_previous_and_next(ws: LocalWorkspace) -> None:
    order_id = approved_order(ws)
    service = OrderService(ws.engine, clock=lambda: NOW, policy=NO_REAPPROVAL)
    for n in range(10):  # ten more confirmations, each adding a free item: 13 steps, two pages
        revision = ws.order(order_id).revision
        service.apply(COORDINATOR, order_id, Action.CONFIRM, revision, Confirmation(
            (), (FreeItem(f"Extra {n}", Decimal(1), "unit", Decimal("5")),), (), f"extra {n}"))
    first = history_view(ws, SUPERVISOR, "history SO-000001")
    assert "Steps 1–10 of 13 · page 1 of 2" in shown(first)
    assert "Extra 6" in shown(first) and "Extra 7" not in shown(first)
    assert [e["action_id"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "order_history_next"]
    View(**first).validate_json()  # as slack_sdk's models check a view (limits included)
    ws.slack.click_in_view(SUPERVISOR, first, "order_history_next")
    ws.wait(lambda: "page 2 of 2" in shown(ws.top_view(SUPERVISOR) or {"blocks": []}), "page two")
    second = ws.top_view(SUPERVISOR)
    assert second is not None and second["id"] == first["id"]  # the same modal, updated in place
    assert "Steps 11–13 of 13" in shown(second) and "• + Extra 9 (unit): quantity — → 1; amount — → $5.00" \
        in shown(second)
    ws.slack.click_in_view(SUPERVISOR, second, "order_history_previous")
    ws.wait(lambda: "page 1 of 2" in shown(ws.top_view(SUPERVISOR) or {"blocks": []}), "back to page one")
    # a page button that names a page the trail does not have (forged): one line in the modal
    ws.slack.click_in_view(SUPERVISOR, ws.top_view(SUPERVISOR) or {}, "order_history_next", value=f"{order_id}:9")
    ws.wait(lambda: (ws.top_view(SUPERVISOR) or {}).get("callback_id") == "notice", "the line in the modal")
    assert shown(ws.top_view(SUPERVISOR) or {"blocks": []}) == "SO-000001's history has 2 pages; there is no page `9`."
    # a page asked for by number
    assert "Steps 11–13 of 13" in shown(history_view(ws, SUPERVISOR, "history SO-000001 2"))


def test_bad_history_requests_get_one_line_each(ws: LocalWorkspace) -> None:
    order_id = approved_order(ws)
    told = len(ws.fake.ephemerals)
    # someone who may not see the order: one line, no modal
    assert answer(ws, OUTSIDER, "history SO-000001")["text"] == (
        "SO-000001 is not one of yours: ask its requester or a coordinator.")
    # an order that does not exist, a malformed number, none at all
    assert answer(ws, REQUESTER, "history SO-000999")["text"] == (
        "There is no order SO-000999. `/order list` shows the ones you have.")
    assert answer(ws, REQUESTER, "history 12abc")["text"] == (
        "Which order? `/order history SO-000042` (the number is on its card and its channel's name).")
    assert answer(ws, REQUESTER, "history")["text"].startswith("Which order?")
    # a page out of range, or no page number
    assert answer(ws, REQUESTER, "history SO-000001 3")["text"] == (
        "SO-000001's history has 1 page; there is no page `3`.")
    assert answer(ws, REQUESTER, "history SO-000001 0")["text"] == (
        "SO-000001's history has 1 page; there is no page `0`.")
    assert answer(ws, REQUESTER, "history SO-000001 next")["text"] == (
        "SO-000001's history has 1 page; there is no page `next`.")
    assert answer(ws, REQUESTER, "history SO-000001 <!channel>")["text"] == (
        "SO-000001's history has 1 page; there is no page `&lt;!channel&gt;`.")
    assert ws.top_view(OUTSIDER) is None and ws.top_view(REQUESTER) is None  # no modal for any of them
    # the card's History button, clicked by someone who may not see the order: one line, just for them
    order = ws.order(order_id)
    before = len(ws.fake.ephemerals)
    ws.slack.click(OUTSIDER, order.channel_id, order.card_ts, "order_history")
    ws.wait(lambda: len(ws.fake.ephemerals) > before, "the refusal")
    refusal = ws.fake.ephemerals[-1]
    assert refusal["user"] == OUTSIDER and refusal["text"] == (
        "SO-000001 is not one of yours: ask its requester or a coordinator.")
    assert ws.top_view(OUTSIDER) is None
    assert "`/order history SO-000042`" in answer(ws, REQUESTER, "help")["text"]
    assert len(ws.fake.ephemerals) - told == 10  # one line for each of the nine, and the help: nothing twice


def test_any_step_facts_are_described_field_by_field() -> None:
    """A step another release adds (new fields, people removed, a price change) shows without new code."""
    facts = StepFacts(Action.CONFIRM, "U0COORD", version=4, currency="EUR", fields=(
        FieldChange("scheduled_date", "2026-03-05", "2026-03-09"), FieldChange("time_window", None, "08:00-12:00"),
        FieldChange("crew_lead", "U0FW1", "U0FW2")), items=(
        ItemFact("free", None, "Skip hire", "unit", Decimal(1), Decimal(1), Decimal("80"), Decimal("95")),
        ItemFact("material", "CEM-25", "Cement 25 kg", "bag", Decimal(2), None, Decimal("14.80"), None)))
    lines = describe_changes(facts, english())
    assert lines == [
        "Scheduled for: Mar 5, 2026 → Mar 9, 2026",
        "Time window: — → 08:00-12:00",
        "Crew lead: U0FW1 → U0FW2",
        "~ Skip hire (unit): amount €80.00 → €95.00",
        "− Cement 25 kg (bag): quantity 2 → —; amount €14.80 → —",
    ]
    assert describe_changes(facts, language("es"))[0] == "Fecha programada: 5 mar 2026 → 9 mar 2026"


def test_pages_fit_slacks_limits() -> None:
    """A section holds at most 3000 characters, a modal 100 blocks: long steps are split and paged."""
    long = ["x" * 1200] * 6 + ["y" * 7000]
    texts = chunks(long)
    assert all(len(t) <= 3000 for t in texts) and "".join(texts).replace("\n", "") == "".join(long)
    big_step = [{"type": "section"}] * 30
    pages = paginate([big_step] * 5 + [[{"type": "section"}]] * 12)
    assert [len(page) for page in pages] == [3, 10, 4]  # 31 blocks a big step; at most 10 steps a page
    assert all(sum(len(s) + 1 for s in page) + 3 <= 100 for page in pages)
    assert paginate([]) == [[]]


def test_every_history_button_has_a_listener(ws: LocalWorkspace) -> None:
    """Bolt answers 404 to an action no listener takes; each of ours is taken (and answered at once)."""
    user = {"id": OUTSIDER, "username": "otto", "name": "otto", "team_id": "T0001"}
    for action_id in (BUTTON, *PAGE_ACTIONS):
        payload = {"type": "block_actions", "team": {"id": "T0001", "domain": "fake"}, "user": user,
                   "api_app_id": "A0001", "token": "t", "trigger_id": "1.2.x", "container": {"type": "view"},
                   "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": "1:1",
                                "action_ts": "1.2"}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        assert ws.slack.post(body, "application/x-www-form-urlencoded").status == 200, action_id
