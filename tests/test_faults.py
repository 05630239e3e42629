"""Nothing lost, nothing done twice, while Slack fails: 30 % of all Web API calls answer 500, 429 (with
Retry-After), drop the connection, or are done with their answer lost, and the workflow still ends with
exactly what it should.

Marked slow (about 3 minutes): `scripts/test -m slow` runs it alone; CI runs it on both databases.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from sandbox.local import LocalWorkspace
from storage.models import AuditEvent, OrderVersion, PendingEffect, ServiceOrder
from tests.conftest import COORDINATOR, NO_REAPPROVAL, REQUESTER, SUPERVISOR, WORKER, WORKER2
from tests.test_end_to_end import PEOPLE

SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
ORDERS = 20


def settle(ws: LocalWorkspace, timeout: float = 120) -> None:
    """Wait for every effect, kicking the runner past each backoff (the retry job would, every few seconds)."""
    deadline = time.monotonic() + timeout
    while ws.pending_effects() and time.monotonic() < deadline:
        assert ws.bot is not None
        ws.bot.ctx.effects.kick()
        time.sleep(0.5)
    assert ws.pending_effects() == 0, "effects still pending"


@pytest.mark.slow
def test_twenty_orders_through_a_failing_slack(seeded) -> None:  # type: ignore[no-untyped-def]
    # the confirmations add cement without waiting for approval: the drill is about Slack failing
    with LocalWorkspace(seeded, PEOPLE, policy=NO_REAPPROVAL) as ws:
        # 429s are rarer than the others only to keep the test's Retry-After sleeps short; "lost" answers
        # (Slack acted, the caller never heard) make the bot look before it does anything again
        ws.fake.chaos(0.3, seed=42, kinds=("500", "500", "drop", "drop", "lost", "lost", "429"))
        ids = []
        for n in range(ORDERS):
            assert ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "2"), ("cement", "3")],
                                   requested=SOON, description=f"Order {n}").status == 200
            ids.append(ws.latest_order_id())
        settle(ws)
        for order_id in ids:
            ws.approve(SUPERVISOR if order_id % 2 else COORDINATOR, order_id, workers=[WORKER], scheduled=SOON)
        settle(ws)
        for order_id in ids:
            ws.confirm(WORKER, order_id, changes=[("cement", "5")], note="more cement", workers=[WORKER2])
        settle(ws)
        for order_id in ids:
            ws.complete(WORKER2, order_id, note="done")
        settle(ws)
        faults = Counter(call.status for call in ws.fake.calls if call.status in (0, 429, 500))

        # exactly one channel, one card and one PDF per version for every order
        channels = Counter(c.name.split("-")[1] for c in ws.fake.channels.values() if c.name.startswith("so-"))
        assert len(channels) == ORDERS and set(channels.values()) == {1}
        with Session(ws.engine) as session:
            orders = session.exec(select(ServiceOrder)).all()
            assert len(orders) == ORDERS and {o.state for o in orders} == {"completed"}
            for order in orders:
                channel = ws.fake.channels[order.channel_id]
                cards = [m for m in channel.messages if m.blocks and any(b.get("type") == "actions" or
                         b.get("type") == "header" for b in m.blocks)]
                assert len(cards) == 1, f"{order.id}: {len(cards)} cards"
                pdfs = sorted(ws.fake.files[f].name for m in channel.messages for f in m.files)
                assert pdfs == [f"SO-{order.id:06d}-v{n}.pdf" for n in (1, 2, 3)], pdfs
                assert {WORKER, WORKER2, REQUESTER} <= channel.members
            steps = Counter(e.action for e in session.exec(select(AuditEvent)))
            assert steps == {"submit": ORDERS, "approve": ORDERS, "confirm": ORDERS, "complete": ORDERS}
            assert len(session.exec(select(OrderVersion)).all()) == ORDERS * 4  # v0 .. v3
            assert {e.status for e in session.exec(select(PendingEffect))} == {"done"}
        # and Slack really failed that often
        assert sum(faults.values()) > 0.2 * len(ws.fake.calls), faults
