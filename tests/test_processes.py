"""Two real bot processes on one database, as behind a load balancer: a step lands once however the
clicks are spread, and the pending effects are drained by both without doing anything twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from slackfake.inbound import SlackDriver
from slackfake.server import FakeSlack
from slackfake.state_values import date as date_value
from slackfake.state_values import users
from storage.models import AuditEvent, OrderVersion
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER
from tests.test_cli import free_port
from tests.test_end_to_end import PEOPLE
from tests.test_workflow import draft
from workflow.service import OrderService

CLI = str(Path(sys.executable).parent / "service-orders")
SECRET = "two-process-secret"
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


@pytest.fixture
def bots(seeded, tmp_path) -> Iterator[tuple[FakeSlack, list[SlackDriver]]]:  # type: ignore[no-untyped-def]
    url = os.environ.get("TEST_DATABASE_URL") or str(seeded.url).replace("***", "")
    with FakeSlack() as fake:
        for user, name in PEOPLE.items():
            fake.add_user(user, name.split()[0].lower(), real_name=name)
        fake.add_channel("general", members=list(PEOPLE))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {
            "DATABASE_URL": url, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url, "EFFECT_RETRY_SECONDS": "1"}
        ports = [free_port(), free_port()]
        processes = [subprocess.Popen([CLI, "run", "--http", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for port in ports]
        try:
            for port in ports:
                for _ in range(150):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.1)
            yield fake, [SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, fake) for port in ports]
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                output = process.communicate(timeout=30)[0]
                assert process.returncode == 0, output


def test_simultaneous_approvals_on_two_processes_make_one(seeded, bots) -> None:  # type: ignore[no-untyped-def]
    fake, (first, second) = bots
    order = OrderService(seeded).submit(REQUESTER, draft(requested_date=datetime.now(UTC).date() + timedelta(days=3)))
    # both processes' runners drain the new order's effects: one channel, one card (its ts recorded)
    def recorded() -> object:
        with Session(seeded) as session:
            row = session.get(type(order), order.id)
            return row if row.card_ts else None

    assert fake.wait_for(lambda: recorded() is not None, timeout=20)
    card = recorded()
    channel = fake.channels[card.channel_id]  # type: ignore[attr-defined]

    views = {}
    for driver, user in ((first, SUPERVISOR), (second, COORDINATOR)):
        assert driver.click(user, channel.id, card.card_ts, "order_approve").status == 200  # type: ignore[attr-defined]
        assert fake.wait_for(lambda u=user: fake.open_view_ids(u), timeout=10), fake.ephemerals
        views[user] = fake.views[fake.open_view_ids(user)[-1]]

    answers: dict[str, object] = {}

    def approve(driver: SlackDriver, user: str) -> None:
        answers[user] = driver.submit(user, views[user], {
            "field_workers": {"field_workers": users([WORKER])},
            "scheduled_date": {"scheduled_date": date_value(SOON)}})

    threads = [threading.Thread(target=approve, args=args) for args in ((first, SUPERVISOR), (second, COORDINATOR))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    bodies = [answers[user].text for user in (SUPERVISOR, COORDINATOR)]  # type: ignore[attr-defined]
    assert sorted(bool(b) for b in bodies) == [False, True], bodies  # one closed its modal, one was told
    told = json.loads(next(b for b in bodies if b))
    assert told["response_action"] == "update" and "approved" in json.dumps(told["view"])
    with Session(seeded) as session:
        approvals = session.exec(select(AuditEvent).where(AuditEvent.action == "approve")).all()
        assert len(approvals) == 1
        assert len(session.exec(select(OrderVersion).where(OrderVersion.number == 1)).all()) == 1
    # and the effects of that one approval run once, whichever process claims them
    assert fake.wait_for(lambda: any(f.name == "SO-000001-v1.pdf" for f in fake.files.values()), timeout=20)
    time.sleep(2)  # give a second runner the chance to do it again, if it could
    assert sum(1 for f in fake.files.values() if f.name == "SO-000001-v1.pdf") == 1
    assert len([c for c in fake.channels.values() if c.name.startswith("so-000001")]) == 1
    cards = [m for m in fake.channels[channel.id].messages if any(b.get("type") == "header" for b in m.blocks or [])]
    assert len(cards) == 1
    assert len(fake.calls_to("conversations.create")) == 1


def test_a_claim_left_by_a_killed_process_is_taken_over_when_its_lease_ends(seeded) -> None:  # type: ignore[no-untyped-def]
    from bot.local import LocalWorkspace
    from storage.db import session_scope
    from storage.models import PendingEffect

    now = [datetime.now(UTC)]
    order = OrderService(seeded, clock=lambda: now[0]).submit(
        REQUESTER, draft(requested_date=now[0].date() + timedelta(days=3)))
    with session_scope(seeded) as session:  # a process claimed the channel effect, then was killed
        claimed = session.exec(select(PendingEffect).where(PendingEffect.kind == "open_channel")).one()
        claimed.claimed_by, claimed.claimed_until = "dead-host:4242", now[0] + timedelta(minutes=2)
    with LocalWorkspace(seeded, PEOPLE, clock=lambda: now[0]) as ws:
        assert ws.bot is not None
        ws.bot.ctx.effects.kick()
        assert ws.bot.ctx.effects.wait_idle(10)
        assert ws.fake.calls_to("conversations.create") == []  # still its claim: nobody else runs it
        now[0] += timedelta(minutes=3)  # the lease has run out
        ws.settle()
        assert len(ws.fake.calls_to("conversations.create")) == 1
        assert ws.order(order.id).card_ts is not None
        with Session(seeded) as session:
            assert {e.status for e in session.exec(select(PendingEffect))} == {"done"}
