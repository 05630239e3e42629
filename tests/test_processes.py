"""Two real bot processes on one database, as behind a load balancer: a step lands once however the
clicks are spread, and the pending effects are drained by both without doing anything twice."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from bot.effects.wake import RECONNECT_SECONDS, Listener, notify
from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import FakeSlack
from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import users
from storage.models import AuditEvent, OrderVersion, PendingEffect
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER
from tests.test_cli import free_port
from tests.test_end_to_end import PEOPLE
from tests.test_workflow import draft
from workflow.service import OrderService

CLI = str(Path(sys.executable).parent / "service-orders")
SECRET = "two-process-secret"
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


def at_once(step: Callable[..., None], calls: Iterable[tuple[Any, ...]], timeout: float = 20) -> None:
    """Run `step` with each of `calls`' arguments in its own thread, all at once (two people clicking in two
    processes), and wait for them."""
    threads = [threading.Thread(target=step, args=args) for args in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


def bot_env(fake: FakeSlack, url: str, **settings: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {
        "DATABASE_URL": url, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url, "EFFECT_RETRY_SECONDS": "1"} | settings


def start_bot(env: dict[str, str], command: tuple[str, ...] = ("run", "--http")) -> tuple[subprocess.Popen, int]:
    """`service-orders run --http` (or `command`, which takes --host and --port) in a process of its own, once
    it answers its health check."""
    port = free_port()
    process = subprocess.Popen([CLI, *command, "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, port


def database_url(seeded) -> str:  # type: ignore[no-untyped-def]
    return os.environ.get("TEST_DATABASE_URL") or str(seeded.url).replace("***", "")


@contextmanager
def workspace() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for user, name in PEOPLE.items():
            fake.add_user(user, name.split()[0].lower(), real_name=name)
        fake.add_channel("general", members=list(PEOPLE))
        yield fake


@pytest.fixture
def bots(seeded, tmp_path) -> Iterator[tuple[FakeSlack, list[SlackDriver]]]:  # type: ignore[no-untyped-def]
    with workspace() as fake:
        started = [start_bot(bot_env(fake, database_url(seeded))) for _ in range(2)]
        try:
            yield fake, [SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, fake) for _, port in started]
        finally:
            for process, _ in started:
                process.send_signal(signal.SIGTERM)
            for process, _ in started:
                output = process.communicate(timeout=30)[0]
                assert process.returncode == 0, output
                assert "will be unused" not in output  # Bolt's warning about SLACK_BOT_TOKEN: the same token


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

    at_once(approve, ((first, SUPERVISOR), (second, COORDINATOR)))

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
    from sandbox.local import LocalWorkspace
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


@pytest.mark.parametrize("method", ["conversations.create", "chat.postMessage"])
def test_a_process_killed_inside_a_slack_call_is_finished_once_by_the_next(seeded, method) -> None:  # type: ignore[no-untyped-def]
    """kill -9 while Slack has done the call and the answer is on its way: the next process takes the
    effects over when the lease ends, finds what Slack did, and does the rest once."""
    with workspace() as fake:
        env = bot_env(fake, database_url(seeded), EFFECT_LEASE_SECONDS="2")
        stall = fake.stall(method)
        first, _ = start_bot(env)
        order = OrderService(seeded).submit(REQUESTER, draft(requested_date=datetime.now(UTC).date() + timedelta(3)))
        assert stall.reached.wait(20), f"the bot never called {method}"
        first.kill()  # SIGKILL: no shutdown, no record of what Slack answered
        first.communicate(timeout=10)
        stall.release.set()
        second, _ = start_bot(env)
        try:
            def all_done() -> bool:
                with Session(seeded) as session:
                    return {e.status for e in session.exec(select(PendingEffect))} == {"done"}

            assert fake.wait_for(all_done, timeout=30), "effects left undone"
        finally:
            second.send_signal(signal.SIGTERM)
            output = second.communicate(timeout=30)[0]
        assert second.returncode == 0, output
        channels = [c for c in fake.channels.values() if c.name.startswith("so-000001")]
        assert len(channels) == 1
        with Session(seeded) as session:
            row = session.get(type(order), order.id)
            assert row.channel_id == channels[0].id
        posted = channels[0].messages
        assert [m.ts for m in posted if m.blocks] == [row.card_ts]  # one card, the recorded one
        assert len(posted) == len({m.text for m in posted})  # every message once
        assert {REQUESTER, SUPERVISOR, COORDINATOR} <= channels[0].members
        # the second process looked rather than guessed
        if method == "conversations.create":
            assert [c.response.get("error") for c in fake.calls_to(method)] == [None, "name_taken"]
        else:
            assert fake.calls_to("conversations.history")



@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads threads' nice values from Linux's /proc")
def test_background_work_runs_below_the_request_threads(seeded) -> None:  # type: ignore[no-untyped-def]
    # Slack waits for acks, not for effects: the effect runner and the scheduler's jobs run at nice 10, so on
    # a busy machine the OS gives the request threads the CPU first.
    with workspace() as fake:
        process, port = start_bot(bot_env(fake, database_url(seeded)))
        try:
            SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, fake).command(REQUESTER, "/order")
            assert fake.wait_for(lambda: fake.open_view_ids(REQUESTER), timeout=10)  # a lazy listener ran
            time.sleep(1.5)  # the scheduler's first job (the effects retry pass, every second) has run

            def nice_values() -> list[int]:
                values = []
                for stat in Path(f"/proc/{process.pid}/task").glob("*/stat"):
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    values.append(int(fields[16]))  # proc(5)'s field 19, "nice", counted after the name
                return values

            values = nice_values()
            assert values.count(10) >= 2, values  # the effects thread, the scheduler's job thread
            assert values.count(0) >= 9, values  # the main thread, 8 request threads, Bolt's lazy listener
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0]
        assert process.returncode == 0, output


def stopped(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    return output


def test_a_process_without_effect_workers_leaves_its_effects_to_effects_work(seeded) -> None:  # type: ignore[no-untyped-def]
    """EFFECT_WORKERS=0 serves requests only; `service-orders effects work` runs every Slack call steps owe,
    woken by the serving process (PostgreSQL's NOTIFY, or its look every EFFECT_POLL_SECONDS on SQLite), not
    by its retry pass, which is an hour apart here."""
    with workspace() as fake:
        # no timer of the worker's drains before a minute is out: the retry pass, and the App Home window (the
        # runner drains again when it ends); so a step's effects run within seconds only if the step wakes it
        env = bot_env(fake, database_url(seeded), EFFECT_WORKERS="0", EFFECT_RETRY_SECONDS="3600",
                      HOME_REFRESH_SECONDS="60")
        web, port = start_bot(env)
        worker = None
        try:
            soon = datetime.now(UTC).date() + timedelta(3)
            order = OrderService(seeded).submit(REQUESTER, draft(requested_date=soon))
            driver = SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, fake)
            assert driver.command(REQUESTER, "/order").status == 200
            assert fake.wait_for(lambda: fake.open_view_ids(REQUESTER), timeout=10)  # its requests are served
            time.sleep(1.5)
            assert fake.calls_to("conversations.create") == []  # and its effects are not run
            worker, worker_port = start_bot(env, ("effects", "work"))
            health = urllib.request.urlopen(f"http://127.0.0.1:{worker_port}/healthz", timeout=5)
            assert json.load(health) == {"ok": True, "database": "reachable"}

            def card() -> object:
                with Session(seeded) as session:
                    row = session.get(type(order), order.id)
                    return row if row.card_ts else None

            assert fake.wait_for(lambda: card() is not None, timeout=20)
            shown = card()
            # a step through the serving process: the worker is woken for its effects (the PDF of version 1)
            assert driver.click(SUPERVISOR, shown.channel_id, shown.card_ts, "order_approve").status == 200  # type: ignore[attr-defined]
            assert fake.wait_for(lambda: fake.open_view_ids(SUPERVISOR), timeout=10)
            view = fake.views[fake.open_view_ids(SUPERVISOR)[-1]]
            answer = driver.submit(SUPERVISOR, view, {"field_workers": {"field_workers": users([WORKER])},
                                                      "scheduled_date": {"scheduled_date": date_value(SOON)}})
            assert answer.status == 200 and answer.text == "", answer.text
            assert fake.wait_for(lambda: any(f.name == "SO-000001-v1.pdf" for f in fake.files.values()), timeout=20)

            def effects() -> list[PendingEffect]:
                with Session(seeded) as session:
                    return list(session.exec(select(PendingEffect)))

            assert fake.wait_for(lambda: {e.status for e in effects() if e.kind != "home"} == {"done"},
                                 timeout=20), effects()
            assert {(e.claimed_by or "").rsplit(":", 1)[-1] for e in effects() if e.status == "done"} == {
                str(worker.pid)}
        finally:
            output = stopped(web)
            if worker is not None:
                worked = stopped(worker)
                assert "Running the Slack calls steps owe, 2 at a time" in worked, worked
        assert "EFFECT_WORKERS=0: this process serves requests only" in output, output


def test_the_worker_listens_again_after_postgresql_drops_its_connection(engine, caplog) -> None:  # type: ignore[no-untyped-def]
    """A restart or failover of PostgreSQL ends the worker's LISTEN connection: it connects again, says so, and
    is woken again by the serving processes' notices (the wait, 5 s first, doubles while PostgreSQL is away)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the worker looks")
    woken = threading.Event()
    listener = Listener(engine, woken.set, lambda: False, poll_seconds=0.25)
    caplog.set_level(logging.INFO, logger="bot.effects")
    listener.start()
    try:
        assert woken.wait(10)  # listening: it wakes the runner for what was notified before
        woken.clear()
        with engine.begin() as connection:  # PostgreSQL drops the listener's connection, and only that one
            dropped = connection.execute(text("SELECT pg_terminate_backend(:pid)"),
                                         {"pid": listener.backend_pid}).scalar_one()
        assert dropped
        assert woken.wait(RECONNECT_SECONDS + 10)  # listening again
        woken.clear()
        notify(engine)  # a serving process's step
        assert woken.wait(10)
    finally:
        listener.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "bot.effects"]
    assert any(m.startswith("the effects listener lost PostgreSQL") and m.endswith("(try 1)") for m in said), said
    assert "the effects listener is listening again (try 2)" in said, said
