"""Keeping track of many orders: `/order list` (paged), `/order status`, `/order help`, and the read models
behind them and App Home (workflow/overview.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from sandbox.local import LocalWorkspace
from tests.conftest import COORDINATOR, OUTSIDER, REQUESTER, SUPERVISOR, WORKER, WORKER2
from tests.test_end_to_end import PEOPLE
from tests.test_workflow import draft
from workflow.inputs import Approval
from workflow.overview import Listing, counts_by_state, is_overdue, listing, tally
from workflow.service import OrderService, roles_of
from workflow.vocabulary import Action, State

NOW = datetime.now(UTC)
TODAY = NOW.date()


def seed_orders(engine, pending: int, approved: int, overdue: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Orders through the service: `pending` waiting, `approved` scheduled ahead for WORKER, `overdue`
    scheduled yesterday (approved two days ago) for WORKER2."""
    ids = []
    past = OrderService(engine, clock=lambda: NOW - timedelta(days=2))
    for n in range(pending + approved + overdue):
        service = past if n >= pending + approved else OrderService(engine, clock=lambda: NOW)
        order = service.submit(REQUESTER, draft(requested_date=TODAY + timedelta(days=3), description=f"job {n}"))
        if n >= pending:
            late = n >= pending + approved
            service.apply(SUPERVISOR, order.id, Action.APPROVE, order.revision, Approval(
                (WORKER2,) if late else (WORKER,), (NOW - timedelta(days=1)).date() if late else TODAY, None))
        ids.append(order.id)
    return ids


def test_listings_count_page_and_flag_overdue(seeded) -> None:  # type: ignore[no-untyped-def]
    seed_orders(seeded, pending=12, approved=3, overdue=2)
    with Session(seeded) as session:
        pending = listing(session, Listing.PENDING, SUPERVISOR, TODAY, limit=5)
        assert pending.total == 12 and [line.id for line in pending.lines] == [1, 2, 3, 4, 5]  # oldest first
        assert pending.has_more and not listing(session, Listing.PENDING, SUPERVISOR, TODAY, offset=10).has_more
        overdue = listing(session, Listing.OVERDUE, COORDINATOR, TODAY)
        assert [line.id for line in overdue.lines] == [16, 17] and all(line.overdue for line in overdue.lines)
        assert listing(session, Listing.ASSIGNED, WORKER, TODAY).total == 3
        assert listing(session, Listing.ASSIGNED, WORKER2, TODAY).total == 2
        assert listing(session, Listing.MINE, REQUESTER, TODAY).total == 17
        assert listing(session, Listing.MINE, OUTSIDER, TODAY).total == 0
        line = pending.lines[0]
        assert line.client.startswith("Acme") and line.number == "SO-000001" and line.state == State.PENDING_APPROVAL
        assert counts_by_state(session)[State.APPROVED] == 5 and counts_by_state(session)[State.REJECTED] == 0
    assert is_overdue(State.APPROVED, date(2026, 1, 1), date(2026, 1, 2))
    assert not is_overdue(State.APPROVED, date(2026, 1, 2), date(2026, 1, 2))
    assert not is_overdue(State.COMPLETED, date(2026, 1, 1), date(2026, 1, 2))


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def answer(ws: LocalWorkspace, user: str, text: str) -> dict:
    """What `/order <text>` shows `user` (the ack, an ephemeral message)."""
    before = len(ws.fake.ephemerals)
    assert ws.slack.command(user, "/order", text=text).status == 200
    ws.wait(lambda: len(ws.fake.ephemerals) > before, f"the answer to /order {text}")
    return ws.fake.ephemerals[-1]


def test_app_homes_tally_counts_what_the_listings_count(seeded) -> None:  # type: ignore[no-untyped-def]
    """The one pass App Home makes (workflow/overview.tally) says what the listings and counts by state say."""
    seed_orders(seeded, pending=3, approved=2, overdue=2)
    with Session(seeded) as session:
        for person in (COORDINATOR, SUPERVISOR):
            roles = roles_of(session, person)
            counted = tally(session, person, roles, TODAY)
            assert counted.by_state == counts_by_state(session, person, roles)
            assert counted.totals == {which: listing(session, which, person, TODAY, roles=roles).total
                                      for which in (Listing.PENDING, Listing.OVERDUE)}
            assert counted.totals == {Listing.PENDING: 3, Listing.OVERDUE: 2} and counted.by_state[State.APPROVED] == 4
            given = listing(session, Listing.PENDING, person, TODAY, roles=roles, total=counted.totals[Listing.PENDING])
            assert given == listing(session, Listing.PENDING, person, TODAY, roles=roles)


def test_order_list_pages_through_pending_orders(ws: LocalWorkspace) -> None:
    seed_orders(ws.engine, pending=23, approved=0, overdue=0)
    first = answer(ws, SUPERVISOR, "list pending")
    assert "*Waiting for approval* (23) · 1–10 of 23" in str(first["blocks"])
    assert "SO-000001" in str(first["blocks"]) and "SO-000011" not in str(first["blocks"])
    ws.slack.click_ephemeral(SUPERVISOR, first, "order_list_next")
    ws.wait(lambda: "11–20 of 23" in str(ws.fake.ephemerals[-1]["blocks"]), "page two")
    second = ws.fake.ephemerals[-1]
    assert second["ts"] == first["ts"]  # replaced in place
    ws.slack.click_ephemeral(SUPERVISOR, second, "order_list_previous")
    ws.wait(lambda: "1–10 of 23" in str(ws.fake.ephemerals[-1]["blocks"]), "back to page one")


def test_order_list_answers_bad_and_forbidden_requests(ws: LocalWorkspace) -> None:
    seed_orders(ws.engine, pending=2, approved=0, overdue=0)
    assert answer(ws, SUPERVISOR, "list everything")["text"] == (
        "`/order list` takes one of mine|pending|overdue|all, not `everything`.")
    assert answer(ws, REQUESTER, "list pending")["text"] == (
        "Only a supervisor, a coordinator, or an admin can use `/order list pending`; `/order list mine` lists yours.")
    mine = answer(ws, REQUESTER, "list")
    assert "*Your open orders* (2)" in str(mine["blocks"]) and "That is all." in str(mine["blocks"])
    assert answer(ws, WORKER, "list mine")["text"] == "*Your open orders* (0): none."


def test_order_status(ws: LocalWorkspace) -> None:
    ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "2")],
                    requested=(TODAY + timedelta(days=3)).isoformat(), description="Status")
    ws.settle()
    order_id = ws.latest_order_id()
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=(TODAY + timedelta(days=3)).isoformat())
    ws.settle()
    text = answer(ws, REQUESTER, "status so-1")["text"]
    channel = ws.order(order_id).channel_id
    assert f"*SO-000001* · Acme Facilities Ltd. (ACME) · Acme HQ — 12 Harbour Road (ACME-HQ) · <#{channel}>" in text
    assert f"Approved, work in progress · version 1 · requested by <@{REQUESTER}>, approved by <@{SUPERVISOR}>" \
        in text
    assert f"Latest PDF: SO-000001-v1.pdf in <#{channel}>" in text
    assert f"<@{SUPERVISOR}> approved the order" in text and f"<@{REQUESTER}> submitted the order" in text
    assert answer(ws, COORDINATOR, "status SO-000001")["text"] == text
    assert answer(ws, OUTSIDER, "status SO-000001")["text"] == (
        "SO-000001 is not one of yours: ask its requester or a coordinator.")
    assert answer(ws, REQUESTER, "status SO-000999")["text"] == (
        "There is no order SO-000999. `/order list` shows the ones you have.")
    assert answer(ws, REQUESTER, "status")["text"].startswith("Which order? `/order status SO-000042`")
    assert answer(ws, REQUESTER, "status 12abc")["text"].startswith("Which order?")


def test_help_and_unknown_subcommands(ws: LocalWorkspace) -> None:
    assert "`/order list [mine|pending|overdue|all]`" in answer(ws, REQUESTER, "help")["text"]
    assert answer(ws, REQUESTER, "lsit")["text"] == (
        "I don't know `/order lsit`. Try `/order list`, `/order status SO-000042` or `/order help`.")
    assert answer(ws, REQUESTER, "*<!channel>*")["text"].startswith("I don't know `/order *&lt;!channel&gt;*`")
