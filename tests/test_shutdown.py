"""Graceful shutdown of a real `service-orders run --http` process: SIGTERM while an effect's Slack call is in
flight refuses new connections at once, lets the call finish and be recorded, releases the effects claimed
after it, and exits 0 within SHUTDOWN_SECONDS; a second process then runs the released effects at once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import Stall
from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import users
from storage.models import AuditEvent, PendingEffect, ServiceOrder
from tests.conftest import REQUESTER, SUPERVISOR, WORKER
from tests.test_cli import CLI, free_port
from tests.test_processes import SECRET, bot_env, database_url, start_bot, workspace
from tests.test_workflow import draft
from workflow.service import OrderService

DEADLINE = 15  # SHUTDOWN_SECONDS in these tests


def refused(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError as error:  # urllib wraps it
        return isinstance(getattr(error, "reason", None), ConnectionRefusedError)
    return False


def terminate(process: subprocess.Popen[str], port: int) -> None:
    """SIGTERM: new connections are refused at once, while the process, not gone, waits for the call in flight."""
    process.send_signal(signal.SIGTERM)
    for _ in range(100):
        if refused(port):
            break
        time.sleep(0.05)
    assert refused(port), "still taking requests after SIGTERM"
    assert process.poll() is None  # not gone: finishing the call


@contextmanager
def ended(process: subprocess.Popen[str], stall: Stall) -> Iterator[None]:
    """Whatever fails inside: Slack answers the stalled call, and a process still running is killed."""
    try:
        yield
    finally:
        stall.release.set()
        if process.poll() is None:
            process.kill()
            process.communicate()


def effects(engine) -> list[PendingEffect]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(PendingEffect).order_by(PendingEffect.id)))


def test_sigterm_finishes_the_call_in_flight_releases_the_rest_and_refuses_new_requests(seeded) -> None:  # type: ignore[no-untyped-def]
    with workspace() as fake:
        # a lease far longer than the test: only a release lets the second process run the rest in time
        env = bot_env(fake, database_url(seeded), EFFECT_LEASE_SECONDS="600", SHUTDOWN_SECONDS=str(DEADLINE))
        stall = fake.stall("conversations.create")
        first, port = start_bot(env)
        with ended(first, stall):
            OrderService(seeded).submit(REQUESTER, draft(requested_date=datetime.now(UTC).date() + timedelta(3)))
            assert stall.reached.wait(20), "the bot never opened the order's channel"
            claimed = [e for e in effects(seeded) if e.claimed_until is not None]
            assert len(claimed) > 1  # the channel's effect and the order's later ones, in one claim
            # (b) new connections are refused while the call in flight is still being waited for
            terminate(first, port)
            stall.release.set()  # Slack answers
            output = first.communicate(timeout=DEADLINE + 10)[0]
        # (a) it finished the call, recorded Slack's answer, and exited 0 within the deadline
        assert first.returncode == 0, output
        assert "still running at the deadline" not in output  # finished in time, not cut off
        rows = effects(seeded)
        opened = next(e for e in rows if e.kind == "open_channel")
        assert opened.status == "done", output
        left = [e for e in rows if e.status == "pending"]
        assert left, "nothing was left to release"
        assert all(e.claimed_until is None for e in rows), [(e.kind, e.claimed_until) for e in rows]
        assert f"stopping: 1 effects finished, {len(left)} released" in output, output
        assert "Traceback" not in output

        # (c) a second process takes the released effects at once, not after the 600 s lease
        second, _ = start_bot(env)
        try:
            def all_done() -> bool:
                return {e.status for e in effects(seeded)} == {"done"}

            assert fake.wait_for(all_done, timeout=30), [(e.kind, e.status, e.claimed_until) for e in effects(seeded)]
        finally:
            second.send_signal(signal.SIGTERM)
            output = second.communicate(timeout=DEADLINE + 10)[0]
        assert second.returncode == 0, output
        assert len(fake.calls_to("conversations.create")) == 1  # the channel was not opened twice


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_idle_process_stops_at_once_on_sigterm_or_sigint(seeded, sig) -> None:  # type: ignore[no-untyped-def]
    with workspace() as fake:
        process, port = start_bot(bot_env(fake, database_url(seeded), SHUTDOWN_SECONDS=str(DEADLINE)))
        assert not refused(port)
        process.send_signal(sig)
        output = process.communicate(timeout=DEADLINE + 10)[0]
        assert process.returncode == 0, output
        assert "still running at the deadline" not in output
        assert "stopping: 0 effects finished, 0 released" in output, output
        assert "Traceback" not in output


def test_sigterm_lets_a_command_in_hand_finish_its_work_after_the_ack(seeded) -> None:  # type: ignore[no-untyped-def]
    """/order is acked at once; its form opens after a users.info call (bot/listeners/commands.py). SIGTERM while
    Slack is slow to answer that call: the form still opens, then the process exits 0."""
    with workspace() as fake:
        process, port = start_bot(bot_env(fake, database_url(seeded), SHUTDOWN_SECONDS=str(DEADLINE)))
        stall = fake.stall("users.info")
        with ended(process, stall):
            driver = SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, fake)
            assert driver.command(REQUESTER, "/order").status == 200
            assert stall.reached.wait(20), "the bot never asked Slack who the person is"
            terminate(process, port)
            assert not fake.open_view_ids(REQUESTER)  # the form waits for Slack's answer
            stall.release.set()
            output = process.communicate(timeout=DEADLINE + 10)[0]
        assert process.returncode == 0, output
        assert fake.open_view_ids(REQUESTER), output  # the work in hand was finished, not dropped


def test_socket_mode_sigterm_closes_the_web_port_at_once_and_finishes_the_call_in_flight(seeded) -> None:  # type: ignore[no-untyped-def]
    """Socket Mode with WEB_PORT (the signing page, /healthz, /metrics): SIGTERM refuses the web port's new
    connections at once, as HTTP mode does its own, while the effect in flight finishes; then it exits 0."""
    with workspace() as fake:
        port = free_port()
        env = bot_env(fake, database_url(seeded), SLACK_APP_TOKEN=fake.app_token, WEB_PORT=str(port),
                      SHUTDOWN_SECONDS=str(DEADLINE))
        stall = fake.stall("conversations.create")
        process = subprocess.Popen([CLI, "run", "--host", "127.0.0.1"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        with ended(process, stall):
            assert fake.wait_for(lambda: not refused(port), timeout=20), "the web port never answered"
            OrderService(seeded).submit(REQUESTER, draft(requested_date=datetime.now(UTC).date() + timedelta(3)))
            assert stall.reached.wait(20), "the bot never opened the order's channel"
            terminate(process, port)
            stall.release.set()
            output = process.communicate(timeout=DEADLINE + 10)[0]
        assert process.returncode == 0, output
        assert "still running at the deadline" not in output and "Traceback" not in output
        assert next(e for e in effects(seeded) if e.kind == "open_channel").status == "done", output


@contextmanager
def order_held(engine, order_id: int) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Another writer holds the order while the block runs: a step on it waits (SQLite: the write lock; PostgreSQL:
    the order's row)."""
    if engine.dialect.name == "sqlite":
        connection = sqlite3.connect(engine.url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
    else:
        with engine.connect() as connection, connection.begin():
            connection.execute(text("SELECT id FROM service_order WHERE id = :id FOR UPDATE"), {"id": order_id})
            yield


def test_socket_mode_sigterm_acks_the_request_in_hand_before_it_disconnects(seeded) -> None:  # type: ignore[no-untyped-def]
    """An approval's ack (the step's transaction) waits for the database when SIGTERM comes: the link stays open
    until that ack has gone back to Slack, then the process exits 0; the approval is recorded once."""
    with workspace() as fake:
        env = bot_env(fake, database_url(seeded), SLACK_APP_TOKEN=fake.app_token, SHUTDOWN_SECONDS=str(DEADLINE))
        process = subprocess.Popen([CLI, "run", "--host", "127.0.0.1"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            assert fake.socket_mode.wait_connected(20), "the bot never connected over Socket Mode"
            soon = datetime.now(UTC).date() + timedelta(3)
            order = OrderService(seeded).submit(REQUESTER, draft(requested_date=soon))
            slack = SlackDriver(None, None, fake, transport="socket_mode")

            def card() -> ServiceOrder | None:
                with Session(seeded) as session:
                    row = session.get(ServiceOrder, order.id)
                    return row if row is not None and row.card_ts else None

            assert fake.wait_for(lambda: card() is not None, timeout=20)
            shown = card()
            assert slack.click(SUPERVISOR, shown.channel_id, shown.card_ts, "order_approve").status == 200
            assert fake.wait_for(lambda: fake.open_view_ids(SUPERVISOR), timeout=10)
            form = fake.views[fake.open_view_ids(SUPERVISOR)[-1]]
            answers: list[Any] = []
            with order_held(seeded, order.id):
                sending = threading.Thread(target=lambda: answers.append(slack.submit(SUPERVISOR, form, {
                    "field_workers": {"field_workers": users([WORKER])},
                    "scheduled_date": {"scheduled_date": date_value(soon.isoformat())}})))
                sending.start()
                time.sleep(0.5)  # the envelope is in the bot's hands, its step waiting for the order
                process.send_signal(signal.SIGTERM)
                time.sleep(1)
                assert process.poll() is None  # not gone: the ack is still owed
            sending.join(timeout=10)
            output = process.communicate(timeout=DEADLINE + 10)[0]
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, output
        (answer,) = answers
        assert answer.status == 200 and answer.text == "", (answer, output)  # acked in time: the form closed
        assert "in hand at the deadline" not in output and "Traceback" not in output
        with Session(seeded) as session:
            steps = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.order_id == order.id))]
        assert steps == ["submit", "approve"], output
