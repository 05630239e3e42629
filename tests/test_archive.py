"""Tidy channels: a closed order's channel is archived ARCHIVE_AFTER_DAYS after it closed, with a last message
saying where its documents are; once, across sweeps and processes; never for an order that changed since;
never replaced by a new channel: what the order still has to say goes to its people by direct message; and
`/order status` still names every PDF and says where they stay. Time is the bot's clock, moved by the test."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from sandbox.local import manifest_scopes
from sandbox.slackfake.server import LOST
from storage.db import make_engine
from storage.models import PendingEffect, Reminder, ServiceOrder
from storage.scope import serving
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, TEAM, WORKER, WORKER2
from tests.test_cli import cli
from tests.test_processes import database_url
from tests.test_reminders import POLICY, START, Timed, submit
from tests.test_tracking import answer
from workflow.reminders import ReminderPolicy, sweep

WEEK = replace(POLICY, archive_after=timedelta(days=7))  # ARCHIVE_AFTER_DAYS' default
NUMBER = "SO-000001"
LAST_WORDS = (f"{NUMBER} is closed (Completed), so this channel is archived now. Its documents stay here, under "
              f"Files, and `/order status {NUMBER}` links them.")


class Archiving(Timed):
    """The reminders' workspace, sweeping with its own policy (ARCHIVE_AFTER_DAYS as the test sets it)."""

    reminders: ReminderPolicy = WEEK

    def sweep(self) -> dict[str, int]:
        assert self.bot is not None
        found = self.bot.sweep(self.reminders)
        self.settle()
        return {k: v for k, v in vars(found).items() if v}

    def channel_of(self, order_id: int) -> Any:
        return self.fake.channels[self.order(order_id).channel_id]

    def order_channels(self, order_id: int) -> list[str]:
        return [c.id for c in self.fake.channels.values() if c.name.startswith(f"so-{order_id:06d}")]

    def dm_files(self, user: str) -> list[str]:
        return [self.fake.files[f].name for c in self.fake.channels.values() if c.is_im and user in c.members
                for m in c.messages for f in m.files]


@pytest.fixture
def ws(seeded) -> Iterator[Archiving]:  # type: ignore[no-untyped-def]
    with Archiving(seeded) as workspace:
        yield workspace


def completed(ws: Archiving) -> int:
    """An order approved and closed as completed at the workspace's now: versions 1 and 2, two PDFs."""
    order_id = submit(ws, scheduled=(ws.now + timedelta(days=1)).date())
    ack = ws.complete(WORKER, order_id, "Done")
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    assert ws.order(order_id).state == "completed"
    return order_id


def archive_calls(ws: Archiving) -> list[str]:
    return [c.args.get("channel", "") for c in ws.fake.calls_to("conversations.archive")]


def test_a_closed_orders_channel_is_archived_after_the_days_set_with_a_last_message(ws: Archiving) -> None:
    order_id = completed(ws)
    rejected = submit(ws)
    ws.reject(SUPERVISOR, rejected, "Not ours")
    ws.settle()
    waiting = submit(ws)  # open: its channel stays
    channel = ws.channel_of(order_id)
    assert "archive" not in ws.at(START + timedelta(days=7) - timedelta(minutes=1)).sweep()
    assert not channel.archived and archive_calls(ws) == []
    archived_at = START + timedelta(days=7)
    assert ws.at(archived_at).sweep().get("archive") == 2  # the completed one and the rejected one
    channel = ws.channel_of(order_id)
    assert channel.archived and ws.channel_of(rejected).archived and not ws.channel_of(waiting).archived
    assert channel.messages[-1].text == LAST_WORDS  # said before the archive, in the provider's language
    assert ws.channel_of(rejected).messages[-1].text == LAST_WORDS.replace("Completed", "Rejected").replace(
        NUMBER, "SO-000002")
    assert ws.order(order_id).channel_archived_at is not None
    assert ws.order(order_id).channel_archived_at.replace(tzinfo=None) == archived_at.replace(tzinfo=None)
    assert sorted(archive_calls(ws)) == sorted([channel.id, ws.channel_of(rejected).id])
    # once: later sweeps find nothing, and nothing new is made or posted
    assert "archive" not in ws.at(START + timedelta(days=30)).sweep()
    assert len(archive_calls(ws)) == 2 and ws.order_channels(order_id) == [channel.id]
    with Session(ws.engine) as session:
        keys = session.exec(select(Reminder.key).where(Reminder.kind == "archive").order_by(Reminder.key)).all()
    revision = ws.order(order_id).revision
    assert keys == sorted([f"archive:{order_id}:{revision}", f"archive:{rejected}:{ws.order(rejected).revision}"])


def test_an_archive_whose_answer_was_lost_is_done_once(ws: Archiving) -> None:
    order_id = completed(ws)
    # Slack archives the channel and the answer never arrives: asked again, Slack says already_archived
    ws.fake.fail_next("conversations.archive", "lost", status=LOST)
    assert ws.at(START + timedelta(days=7)).sweep() == {"archive": 1}
    channel = ws.channel_of(order_id)
    assert channel.archived and [m.text for m in channel.messages].count(LAST_WORDS) == 1
    assert [c.status for c in ws.fake.calls_to("conversations.archive")] == [0, 200]
    assert ws.order(order_id).channel_archived_at is not None


def test_off_never_archives_and_zero_days_archives_at_the_next_sweep(ws: Archiving) -> None:
    order_id = completed(ws)
    ws.reminders = replace(WEEK, archive_after=None)
    assert ws.at(START + timedelta(days=400)).sweep() == {}
    assert not ws.channel_of(order_id).archived and archive_calls(ws) == []
    ws.reminders = replace(WEEK, archive_after=timedelta(0))  # turned on later: the old channel is tidied too
    assert ws.sweep() == {"archive": 1}
    assert ws.channel_of(order_id).archived


def test_an_order_that_changed_since_its_archive_was_queued_is_left_alone(
        ws: Archiving, caplog: pytest.LogCaptureFixture) -> None:
    # No step leaves a closed state today; a later one (reopening an order) would bump its revision. The
    # effect compares the revision it was queued with to the order's when it runs, so a reopened order's
    # channel is not archived under it: the bump here stands in for that step.
    order_id = completed(ws)
    queued = sweep(ws.engine, START + timedelta(days=7), WEEK)  # queued, not yet run
    assert queued.archive == 1
    with Session(ws.engine) as session:
        session.execute(update(ServiceOrder).where(ServiceOrder.id == order_id)
                        .values(revision=ServiceOrder.revision + 1))
        session.commit()
    caplog.set_level(logging.INFO, logger="bot.effects")
    ws.at(START + timedelta(days=7)).settle()
    assert not ws.channel_of(order_id).archived and archive_calls(ws) == []
    assert ws.channel_of(order_id).messages[-1].text != LAST_WORDS
    assert f"{NUMBER} changed since" in caplog.text
    with Session(ws.engine) as session:
        assert session.exec(select(PendingEffect.status).where(PendingEffect.kind == "archive")).all() == ["done"]
    assert ws.order(order_id).channel_archived_at is None


def _sweep_when_all_are_ready(url: str, ready: Any, results: Any) -> None:
    engine = make_engine(url)
    ready.wait()
    try:
        with serving(TEAM):  # as the bot's sweep does, in each workspace
            results.put(sweep(engine, START + timedelta(days=8), WEEK).archive)
    except Exception as error:  # reported to the test
        results.put(repr(error))


def test_two_processes_sweeping_at_once_archive_each_channel_once(ws: Archiving) -> None:
    first, second = completed(ws), completed(ws)
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(2), spawn.Queue()
    url = ws.engine.url.render_as_string(hide_password=False)
    processes = [spawn.Process(target=_sweep_when_all_are_ready, args=(url, ready, results)) for _ in range(2)]
    for process in processes:
        process.start()
    queued = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(isinstance(n, int) for n in queued) and sum(queued) == 2, queued  # 2 in all, whoever won each
    ws.at(START + timedelta(days=8)).settle()
    assert ws.sweep() == {}
    for order_id in (first, second):
        channel = ws.channel_of(order_id)
        assert channel.archived and [m.text for m in channel.messages].count(
            LAST_WORDS.replace(NUMBER, f"SO-{order_id:06d}")) == 1
    assert len(archive_calls(ws)) == 2


def test_what_a_closed_order_says_after_archiving_goes_by_direct_message(seeded) -> None:  # type: ignore[no-untyped-def]
    # the app lacks files:write: the approval's and the closing's PDFs fail at once, saying what to do
    with Archiving(seeded, scopes=[s for s in manifest_scopes() if s != "files:write"]) as ws:
        order_id = completed(ws)
        channel = ws.channel_of(order_id)
        with Session(ws.engine) as session:
            assert session.exec(select(PendingEffect.status).where(PendingEffect.kind == "upload_pdf")).all() == [
                "failed", "failed"]
        assert ws.at(START + timedelta(days=7)).sweep() == {"archive": 1}
        channel = ws.channel_of(order_id)
        assert channel.archived and channel.messages[-1].text == LAST_WORDS
        posted = len(channel.messages)
        # an admin adds the scope and retries: the PDFs go to the order's people by direct message, as one
        # share each; no new channel is made, and nothing goes into the archived one
        ws.fake.set_scopes(manifest_scopes())
        env = {**os.environ, "DATABASE_URL": database_url(ws.engine)}
        assert "2 failed effects will be tried again" in cli("effects", "retry", env=env).stdout
        ws.settle()
        for person in (REQUESTER, SUPERVISOR, WORKER, WORKER2):  # requester, approver, crew, who closed it
            assert ws.dm_files(person) == [f"{NUMBER}-v1.pdf", f"{NUMBER}-v2.pdf"], person
        assert ws.dm_files(COORDINATOR) == []
        assert ws.order_channels(order_id) == [channel.id] and len(ws.channel_of(order_id).messages) == posted
        comments = [m.text for c in ws.fake.channels.values() if c.is_im and REQUESTER in c.members
                    for m in c.messages if m.files]
        assert comments[1].startswith(f"{NUMBER} (its channel <#{channel.id}> is archived): {NUMBER} version 2 "
                                      "(the closing record) · fingerprint ")
        assert len({f for c in ws.fake.channels.values() for m in c.messages for f in m.files}) == 2


def test_a_channel_archived_by_hand_is_not_replaced_once_the_order_closes(ws: Archiving) -> None:
    order_id = submit(ws, scheduled=(START + timedelta(days=1)).date())
    channel = ws.channel_of(order_id)
    ws.fake.archive(channel.id)  # someone archives it while the work goes on
    ws.at(START + timedelta(hours=2)).complete(WORKER, order_id, "Done")
    ws.settle()
    # the closing's message and PDF go by direct message; no new channel, and the order knows it is archived
    assert ws.order_channels(order_id) == [channel.id]
    assert ws.order(order_id).channel_archived_at is not None
    dms = ws.dms(REQUESTER)
    assert any(text.startswith(f"{NUMBER} (its channel <#{channel.id}> is archived): <@{WORKER}> closed the order")
               for text in dms), dms
    assert ws.dm_files(WORKER) == [f"{NUMBER}-v2.pdf"]
    with Session(ws.engine) as session:
        assert {e.status for e in session.exec(select(PendingEffect))} == {"done"}
    assert ws.at(START + timedelta(days=8)).sweep() == {}  # already archived: nothing to queue
    assert archive_calls(ws) == []


def test_a_channel_archived_or_left_after_closing_counts_as_done(ws: Archiving,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    by_hand, app_removed = completed(ws), completed(ws)
    ws.fake.archive(ws.channel_of(by_hand).id)
    ws.fake.remove_member(ws.channel_of(app_removed).id, ws.fake.bot_user_id)
    assert ws.at(START + timedelta(days=7)).sweep() == {"archive": 2}
    assert ws.order(by_hand).channel_archived_at is not None  # found archived: no last message into it
    assert LAST_WORDS not in [m.text for m in ws.channel_of(by_hand).messages]
    assert ws.order(app_removed).channel_archived_at is None  # not the app's to archive any more
    assert "SO-000002: channel" in caplog.text and "not archived: Slack says channel_not_found" in caplog.text
    with Session(ws.engine) as session:
        assert session.exec(select(PendingEffect.status).where(PendingEffect.kind == "archive")).all() == [
            "done", "done"]
    assert ws.at(START + timedelta(days=9)).sweep() == {}
    assert ws.order_channels(by_hand) == [ws.order(by_hand).channel_id]
    assert ws.order_channels(app_removed) == [ws.order(app_removed).channel_id]


def test_order_status_after_archiving_names_every_pdf_and_where_it_stays(ws: Archiving) -> None:
    order_id = completed(ws)
    channel = ws.order(order_id).channel_id
    before = answer(ws, REQUESTER, f"status {NUMBER}")["text"]
    assert f"Latest PDF: {NUMBER}-v2.pdf in <#{channel}>" in before and "archived" not in before
    ws.at(START + timedelta(days=7)).sweep()
    text = answer(ws, REQUESTER, f"status {NUMBER}")["text"]
    stamp = int((START + timedelta(days=7)).timestamp())
    assert (f"Its channel <#{channel}> was archived (<!date^{stamp}^{{date_short_pretty}} {{time}}|Dec 3, 2026 "
            f"8:00\u202fAM UTC>); its documents stay there, under Files: {NUMBER}-v1.pdf and {NUMBER}-v2.pdf."
            ) in text
    assert "Completed · version 2" in text
    ws.set_locale(COORDINATOR, "es-LA")
    answer(ws, COORDINATOR, "help")  # Slack tells the bot their language after this answer
    ws.wait(lambda: "Su canal" in answer(ws, COORDINATOR, f"status {NUMBER}")["text"], "the answer in Spanish")
    spanish = answer(ws, COORDINATOR, f"status {NUMBER}")["text"]
    assert f"Su canal <#{channel}> se archivó (" in spanish
    assert f"sus documentos siguen allí, en Archivos: {NUMBER}-v1.pdf y {NUMBER}-v2.pdf." in spanish


BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize("value, days", [("", 7), ("0", 0), ("30", 30), (" 3650 ", 3650), ("off", None),
                                         ("OFF", None)])
def test_archive_after_days_setting(value: str, days: int | None) -> None:
    from bot.settings import Settings

    expected = None if days is None else timedelta(days=days)
    assert Settings.from_env(BASE_ENV | {"ARCHIVE_AFTER_DAYS": value}).reminders.archive_after == expected


@pytest.mark.parametrize("value", ["-1", "3651", "7.5", "a week", "never", "1e3"])
def test_bad_archive_after_days_are_named(value: str) -> None:
    from bot.settings import Settings, SettingsError
    from i18n import language

    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | {"ARCHIVE_AFTER_DAYS": value})
    assert str(refused.value) == (f"ARCHIVE_AFTER_DAYS must be a whole number of days from 0 to 3650, or off, "
                                  f"not '{value}'")
    assert refused.value.text(language("es")) == (f"ARCHIVE_AFTER_DAYS debe ser un número entero de días de 0 a "
                                                  f"3650, u off, no '{value}'")

