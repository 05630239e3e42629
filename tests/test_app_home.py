"""App Home: what each person should look at, by role, refreshed when a step changes it; its buttons are the
order card's (same listeners, same checks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from i18n import english
from sandbox.local import LocalWorkspace
from tests.conftest import COORDINATOR, OUTSIDER, REQUESTER, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE

SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def open_home(ws: LocalWorkspace, user: str) -> dict:
    before = len([c for c in ws.fake.calls_to("views.publish") if c.args.get("user_id") == user])
    assert ws.slack.event({"type": "app_home_opened", "user": user, "tab": "home"}).status == 200
    ws.wait(lambda: len([c for c in ws.fake.calls_to("views.publish") if c.args.get("user_id") == user]) > before,
            f"{user}'s home")
    return home(ws, user)


def home(ws: LocalWorkspace, user: str) -> dict:
    view = ws.fake.home_view(user)
    assert view is not None
    return view


def text(view: dict) -> str:
    return str(view["blocks"])


def submit(ws: LocalWorkspace, description: str) -> int:
    ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=SOON,
                    description=description)
    ws.settle()
    return ws.latest_order_id()


def test_each_role_sees_its_own_lists(ws: LocalWorkspace) -> None:
    first, second = submit(ws, "One"), submit(ws, "Two")
    ws.approve(SUPERVISOR, first, workers=[WORKER], scheduled=SOON)
    ws.settle()
    supervisor = open_home(ws, SUPERVISOR)
    assert "*Waiting for approval* (1)" in text(supervisor) and "SO-000002" in text(supervisor)
    assert f"home_pending_{second}" in text(supervisor) and "order_approve" in text(supervisor)
    assert "By state" not in text(supervisor) and "Assigned to you" not in text(supervisor)
    worker = open_home(ws, WORKER)
    assert "*Assigned to you* (1)" in text(worker) and f"scheduled {english().date(date.fromisoformat(SOON))}" in text(
        worker)
    assert "order_confirm" in text(worker) and "order_complete" in text(worker)
    assert "order_approve" not in text(worker) and "Waiting for approval" not in text(worker)
    requester = open_home(ws, REQUESTER)
    # their own pending request: Edit and Withdraw (the table's requester steps); nothing else to click
    assert "*You requested* (2)" in text(requester) and "order_approve" not in text(requester)
    assert f"home_requested_{second}" in text(requester) and f"home_requested_{first}" not in text(requester)
    assert "order_edit" in text(requester) and "order_withdraw" in text(requester)
    coordinator = open_home(ws, COORDINATOR)
    assert "Pending approval: *1*" in text(coordinator) and "Approved, work in progress: *1*" in text(coordinator)
    assert "*Overdue* (0)" in text(coordinator) and "Nothing is overdue." in text(coordinator)
    outsider = open_home(ws, OUTSIDER)
    assert "You have no role in the service orders yet" in text(outsider)
    channel = ws.order(first).channel_id
    assert f"<#{channel}|SO-000001>" in text(worker)  # each entry links to its channel


def test_a_step_refreshes_the_homes_it_changes(ws: LocalWorkspace) -> None:
    order_id = submit(ws, "Refresh")
    assert "*Waiting for approval* (1)" in text(open_home(ws, SUPERVISOR))
    assert "*Assigned to you* (0)" in text(open_home(ws, WORKER))
    ws.approve(COORDINATOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    assert "*Waiting for approval* (0)" in text(home(ws, SUPERVISOR))
    assert "*Assigned to you* (1)" in text(home(ws, WORKER))
    published = {c.args["user_id"] for c in ws.fake.calls_to("views.publish")}
    assert REQUESTER not in published  # never opened it: nothing to refresh


def test_home_buttons_act_like_the_cards(ws: LocalWorkspace) -> None:
    first, second = submit(ws, "One"), submit(ws, "Two")
    supervisor = open_home(ws, SUPERVISOR)
    ws.slack.click_in_view(SUPERVISOR, supervisor, "order_approve", block_id=f"home_pending_{first}")
    form = ws.wait_for_view(SUPERVISOR, "approve")
    assert "SO-000001" in str(form["blocks"])
    # the coordinator approves it first; the supervisor's click on a stale copy is refused, over App Home
    ws.approve(COORDINATOR, first, workers=[WORKER], scheduled=SOON)
    ws.settle()
    ws.slack.click_in_view(SUPERVISOR, home(ws, SUPERVISOR), "order_approve", value=f"{first}:0",
                           block_id=f"home_pending_{second}")
    ws.wait(lambda: any("so you can't approve the order now" in str(v.get("blocks")) for v in ws.fake.views.values()),
            "the refusal")
