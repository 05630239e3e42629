"""Reminders and SLAs, with time driven by the test (the bot's clock), not by sleeping: approval reminders
and their escalation, field workers' mornings in their own time zones, overdue orders on the card and in the
coordinators' digest; quiet hours; once per due moment across sweeps, processes and restarts; never to an
order that moved on or a channel that was archived."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from sandbox.local import LocalWorkspace
from sandbox.slackfake.server import LOST, FakeSlack
from sandbox.slackfake.state_values import plain_text
from storage.db import make_engine
from storage.models import PendingEffect, Person, Reminder
from storage.scope import serving
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, TEAM, WORKER, WORKER2
from tests.test_cli import cli
from tests.test_end_to_end import PEOPLE
from tests.test_processes import database_url
from workflow.document import Provider
from workflow.letterhead import Letterhead
from workflow.reminders import QuietHours, ReminderPolicy, sweep
from workflow.sla import ByPriority

# Thursday 26 November 2026, 09:00 in Madrid (the provider's zone)
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
POLICY = ReminderPolicy(remind_after=timedelta(hours=24), escalate_after=timedelta(hours=48),
                        morning=time(7, 30), digest=time(8, 0), quiet=QuietHours(time(20, 0), time(7, 0)),
                        timezone="Europe/Madrid")


class Timed(LocalWorkspace):
    """A workspace whose bot, and the Slack it makes, read the test's clock (a fake given to it keeps its own)."""

    def __init__(self, engine, now: datetime = START, fake: FakeSlack | None = None,  # type: ignore[no-untyped-def]
                 scopes: set[str] | None = None) -> None:
        self.now = now
        super().__init__(engine, PEOPLE, clock=lambda: self.now, fake=fake, scopes=scopes, slack_on_clock=True,
                         # the provider is in Madrid
                         letterhead=Letterhead(Provider(name="Servicios Madrid", timezone=POLICY.timezone)))

    def at(self, moment: datetime) -> Timed:
        self.now = moment
        return self

    def sweep(self) -> dict[str, int]:
        assert self.bot is not None
        found = self.bot.sweep(POLICY)
        self.settle()
        return {k: v for k, v in vars(found).items() if v}

    def posts(self, order_id: int) -> list[str]:
        return [m.text for m in self.fake.channels[self.order(order_id).channel_id].messages if not m.blocks]

    def dms(self, user: str) -> list[str]:
        return [m.text for c in self.fake.channels.values() if c.is_im and user in c.members for m in c.messages]


@pytest.fixture
def ws(seeded) -> Iterator[Timed]:  # type: ignore[no-untyped-def]
    with Timed(seeded) as workspace:
        workspace.fake.set_user(WORKER, tz="Asia/Tokyo")
        workspace.fake.set_user(WORKER2, tz="America/Santiago")
        workspace.fake.set_user(COORDINATOR, tz="America/New_York")
        yield workspace


def submit(ws: Timed, scheduled: date | None = None) -> int:
    ack = ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")],
                          requested=(ws.now + timedelta(days=5)).date().isoformat(), description="Reminders")
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    order_id = ws.latest_order_id()
    if scheduled is not None:
        ws.approve(SUPERVISOR, order_id, workers=[WORKER, WORKER2], scheduled=scheduled.isoformat())
        ws.settle()
    return order_id


def test_approval_reminder_then_escalation_each_once(ws: Timed) -> None:
    order_id = submit(ws)
    assert ws.at(START + timedelta(hours=23, minutes=59)).sweep() == {}
    assert ws.at(START + timedelta(hours=24)).sweep() == {"approval": 1}
    reminder = ws.posts(order_id)[-1]
    assert reminder == f"<@{SUPERVISOR}>: SO-000001 has waited over 24 h for approval."
    assert ws.at(START + timedelta(hours=30)).sweep() == {}  # never twice for the same due moment
    assert ws.at(START + timedelta(hours=48)).sweep() == {"escalation": 1}
    assert ws.posts(order_id)[-1].startswith(f"<@{COORDINATOR}>: SO-000001 has waited over 48 h for approval")
    assert ws.at(START + timedelta(days=3)).sweep() == {}
    assert len([p for p in ws.posts(order_id) if "waited over" in p]) == 2


def test_no_reminder_once_the_order_moved_on(ws: Timed) -> None:
    approved = submit(ws, scheduled=(START + timedelta(days=3)).date())
    assert ws.at(START + timedelta(hours=25)).sweep() == {}  # approved before it was due
    # queued, then the order is rejected before the reminder goes out: it is dropped, not sent
    waiting = submit(ws.at(START + timedelta(hours=1)))
    found = sweep(ws.engine, ws.at(START + timedelta(hours=25, minutes=1)).now, POLICY)
    assert found.approval == 1
    ws.reject(SUPERVISOR, waiting, "Duplicate of SO-000001")
    ws.settle()
    assert not [p for p in ws.posts(waiting) if "waited over" in p]
    assert not [p for p in ws.posts(approved) if "waited over" in p]


def waited(ws: Timed, order_id: int) -> list[str]:
    return [p for p in ws.posts(order_id) if "waited over" in p]


def test_a_resubmitted_order_is_reminded_again_timed_from_the_resubmission_once(ws: Timed) -> None:
    order_id = submit(ws)
    assert ws.at(START + timedelta(hours=24)).sweep() == {"approval": 1}
    ack = ws.at(START + timedelta(hours=30)).send_back(SUPERVISOR, order_id, "Add the ladder hire.")
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    # changes requested: no escalation at 48 h, nor anything later, while it waits on the requester
    assert ws.at(START + timedelta(hours=48)).sweep() == {}
    assert ws.at(START + timedelta(hours=90)).sweep() == {}
    resubmitted = START + timedelta(hours=100)
    ack = ws.at(resubmitted).resubmit(REQUESTER, order_id, description="Reminders, with the ladder hire")
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    # a new round: not "pending 24 h" at once (100 h after the submission), but 24 h after the resubmission
    assert ws.at(resubmitted + timedelta(minutes=1)).sweep() == {}
    assert ws.at(resubmitted + timedelta(hours=23, minutes=59)).sweep() == {}
    assert ws.at(resubmitted + timedelta(hours=24)).sweep() == {"approval": 1}
    assert waited(ws, order_id)[-1] == f"<@{SUPERVISOR}>: SO-000001 has waited over 24 h for approval."
    assert ws.at(resubmitted + timedelta(hours=30)).sweep() == {}  # once in this round
    assert ws.at(resubmitted + timedelta(hours=48)).sweep() == {"escalation": 1}
    assert waited(ws, order_id)[-1].startswith(f"<@{COORDINATOR}>: SO-000001 has waited over 48 h")
    assert ws.at(resubmitted + timedelta(days=3)).sweep() == {}
    assert len(waited(ws, order_id)) == 3  # round 1's reminder; round 2's reminder and escalation
    with Session(ws.engine) as session:
        keys = session.exec(select(Reminder.key).where(Reminder.order_id == order_id).order_by(Reminder.id)).all()
    assert keys == [f"approval:{order_id}:r1:24h", f"approval:{order_id}:r2:24h", f"escalation:{order_id}:r2:48h"]


def test_an_edit_while_pending_keeps_the_rounds_clock(ws: Timed) -> None:
    order_id = submit(ws)
    view = ws.at(START + timedelta(hours=20))._open(REQUESTER, "edit_order",
                                                    lambda: ws.click_step(REQUESTER, order_id, "order_edit"))
    ack = ws.submit(REQUESTER, view, {"description": {"description": plain_text("Reminders, edited")}})
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    assert ws.order(order_id).description == "Reminders, edited"
    assert ws.at(START + timedelta(hours=24)).sweep() == {"approval": 1}  # 24 h after the submission, not the edit
    assert ws.at(START + timedelta(hours=44)).sweep() == {}


def test_quiet_hours_hold_a_reminder_until_morning(ws: Timed) -> None:
    order_id = submit(ws.at(datetime(2026, 11, 26, 20, 30, tzinfo=UTC)))  # 21:30 in Madrid
    assert ws.at(datetime(2026, 11, 27, 20, 30, tzinfo=UTC)).sweep() == {"deferred": 1}
    assert ws.at(datetime(2026, 11, 28, 5, 59, tzinfo=UTC)).sweep() == {"deferred": 1}  # 06:59 in Madrid
    assert ws.at(datetime(2026, 11, 28, 6, 0, tzinfo=UTC)).sweep() == {"approval": 1}
    assert "waited over 24 h" in ws.posts(order_id)[-1]


def test_field_workers_hear_on_the_morning_of_the_day_where_they_are(ws: Timed) -> None:
    day = date(2026, 11, 28)
    ws.fake.set_user(WORKER2, locale="es-LA")  # WORKER2 reads Slack in Spanish, WORKER in English
    order_id = submit(ws, scheduled=day)
    # 07:30 on the 28th in Tokyo is 22:30 UTC on the 27th; in Santiago (UTC-3) 10:30 UTC on the 28th
    assert ws.at(datetime(2026, 11, 27, 22, 29, tzinfo=UTC)).sweep() == {}
    assert ws.at(datetime(2026, 11, 27, 22, 30, tzinfo=UTC)).sweep() == {"morning": 1}
    assert ws.dms(WORKER) == [f"Good morning: SO-000001 is scheduled for today, Saturday, November 28, 2026. "
                              f"Its channel: <#{ws.order(order_id).channel_id}>."]
    assert ws.dms(WORKER2) == []
    assert ws.at(datetime(2026, 11, 28, 10, 30, tzinfo=UTC)).sweep() == {"morning": 1}
    assert len(ws.dms(WORKER2)) == 1 and len(ws.dms(WORKER)) == 1
    assert ws.dms(WORKER2)[0] == (f"Buenos días: SO-000001 está programada para hoy, sábado, 28 de noviembre de "
                                  f"2026. Su canal: <#{ws.order(order_id).channel_id}>.")


def test_a_field_worker_never_learnt_is_asked_of_slack_before_their_morning(ws: Timed) -> None:
    # WORKER2's invite could not look them up (paced or refused: it skips that, not to hold up the card), so
    # the bot has never learnt them; their morning message asks Slack first, and is in their language
    ws.fake.set_user(WORKER2, locale="es-LA")
    submit(ws, scheduled=date(2026, 11, 28))
    with Session(ws.engine) as session:
        session.delete(session.get(Person, (TEAM, WORKER2)))
        session.commit()
    looked_up = len(ws.fake.calls_to("users.info"))
    assert ws.at(datetime(2026, 11, 28, 10, 30, tzinfo=UTC)).sweep() == {"morning": 2}  # Tokyo's too
    assert WORKER2 in [c.args.get("user") for c in ws.fake.calls_to("users.info")[looked_up:]]
    assert ws.dms(WORKER2)[0].startswith("Buenos días: SO-000001 está programada para hoy, sábado, 28 de noviembre")


def test_a_direct_message_whose_answer_was_lost_is_sent_once(ws: Timed, caplog: pytest.LogCaptureFixture) -> None:
    submit(ws, scheduled=date(2026, 11, 28))
    ws.fake.set_user(WORKER2, deleted=True)  # deactivated since the approval
    # Slack posts the morning message, and its answer never arrives: the bot finds it in the DM's history
    ws.fake.fail_next("chat.postMessage", "lost", status=LOST)
    assert ws.at(datetime(2026, 11, 27, 22, 30, tzinfo=UTC)).sweep() == {"morning": 1}
    assert len(ws.dms(WORKER)) == 1
    assert [c.status for c in ws.fake.calls_to("chat.postMessage") if c.args.get("channel", "").startswith("D")] == [0]
    # a deactivated field worker gets no message, and the effect ends rather than retrying for days
    assert ws.at(datetime(2026, 11, 28, 10, 30, tzinfo=UTC)).sweep() == {"morning": 1}
    assert ws.dms(WORKER2) == []
    assert f"Slack says user_disabled for {WORKER2}" in caplog.text
    with Session(ws.engine) as session:
        notify = session.exec(select(PendingEffect.status).where(PendingEffect.kind == "notify")).all()
    assert notify == ["done", "done"]


def test_a_direct_message_slack_cannot_deliver_ends_saying_why(ws: Timed, caplog: pytest.LogCaptureFixture) -> None:
    order_id = submit(ws, scheduled=date(2026, 11, 28))
    # the app's Messages tab turned off in its settings: an admin must turn it on; retrying cannot help
    ws.fake.set_tabs(messages=False)
    assert ws.at(datetime(2026, 11, 27, 22, 30, tzinfo=UTC)).sweep() == {"morning": 1}
    with Session(ws.engine) as session:
        morning = session.exec(select(PendingEffect).where(PendingEffect.kind == "notify")).one()
    assert (morning.status, morning.attempts) == ("failed", 1)
    assert "Messages tab is off" in (morning.last_error or "") and "effects retry" in (morning.last_error or "")
    ws.fake.set_tabs(messages=True)
    env = {**os.environ, "DATABASE_URL": database_url(ws.engine)}
    assert "1 failed effect will be tried again" in cli("effects", "retry", env=env).stdout
    ws.settle()
    assert len(ws.dms(WORKER)) == 1
    # the other worker's DM archived (as Slack does for a deactivated account): dropped, and the order's
    # channel is left alone (a gone channel is replaced only when it is the order's)
    dm = WebClient(token=ws.fake.bot_token, base_url=ws.fake.api_url).conversations_open(users=WORKER2)
    ws.fake.archive(dm["channel"]["id"])
    assert ws.at(datetime(2026, 11, 28, 10, 30, tzinfo=UTC)).sweep() == {"morning": 1}
    assert ws.dms(WORKER2) == [] and f"Slack says is_archived for {WORKER2}" in caplog.text
    assert [c.id for c in ws.fake.channels.values() if c.name.startswith("so-000001")] == [
        ws.order(order_id).channel_id]


def test_overdue_flag_on_the_card_and_a_daily_digest(ws: Timed) -> None:
    order_id = submit(ws, scheduled=date(2026, 11, 27))
    card = ws.fake.message(ws.order(order_id).channel_id, ws.order(order_id).card_ts)
    assert card is not None and "Overdue" not in str(card.blocks)
    # midnight in Madrid: the 27th is over. In New York it is 18:00, past the digest time: that day's digest
    # goes now. (In Santiago it is 20:00, quiet: the morning reminder of the 27th, never sent, waits.)
    found = ws.at(datetime(2026, 11, 27, 23, 0, tzinfo=UTC)).sweep()
    assert found == {"overdue": 1, "digest": 1, "deferred": 1}
    card = ws.fake.message(ws.order(order_id).channel_id, ws.order(order_id).card_ts)
    assert ":warning: *Overdue*: scheduled for Nov 27, 2026" in str(card.blocks)
    assert ws.at(datetime(2026, 11, 28, 12, 59, tzinfo=UTC)).sweep() == {}  # 07:59 in New York
    assert ws.at(datetime(2026, 11, 28, 13, 0, tzinfo=UTC)).sweep() == {"digest": 1}
    assert len(ws.dms(COORDINATOR)) == 2
    assert ws.dms(COORDINATOR)[1].startswith("*1 overdue order* (approved, past the scheduled date, not closed):")
    assert f"SO-000001 <#{ws.order(order_id).channel_id}> · scheduled Nov 27, 2026" in ws.dms(COORDINATOR)[1]
    assert ws.at(datetime(2026, 11, 28, 20, 0, tzinfo=UTC)).sweep() == {}  # once a day
    ws.complete(WORKER, order_id, "done at last")
    ws.settle()
    assert ws.at(datetime(2026, 11, 29, 13, 0, tzinfo=UTC)).sweep() == {}  # closed: no digest


def test_an_archived_channel_gets_no_reminder_and_no_new_channel(ws: Timed) -> None:
    order_id = submit(ws)
    ws.fake.archive(ws.order(order_id).channel_id)
    assert ws.at(START + timedelta(hours=24)).sweep() == {"approval": 1}
    assert len([c for c in ws.fake.channels.values() if c.name.startswith("so-000001")]) == 1
    assert not [p for p in ws.posts(order_id) if "waited over" in p]


def _sweep_when_all_are_ready(url: str, ready: Any, results: Any) -> None:
    engine = make_engine(url)
    ready.wait()
    try:
        with serving(TEAM):  # as the bot's sweep does, in each workspace
            results.put(sweep(engine, START + timedelta(hours=24), POLICY).approval)
    except Exception as error:  # reported to the test
        results.put(repr(error))


def test_three_processes_sweeping_at_once_queue_each_reminder_once(ws: Timed) -> None:
    for _ in range(3):
        submit(ws)
    ws.at(START + timedelta(hours=24))
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(3), spawn.Queue()
    url = ws.engine.url.render_as_string(hide_password=False)
    processes = [spawn.Process(target=_sweep_when_all_are_ready, args=(url, ready, results)) for _ in range(3)]
    for process in processes:
        process.start()
    queued = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(isinstance(n, int) for n in queued) and sum(queued) == 3, queued  # 3 in all, whoever won each
    with Session(ws.engine) as session:
        assert len(session.exec(select(Reminder)).all()) == 3
    ws.settle()
    for order_id in (1, 2, 3):
        assert len([p for p in ws.posts(order_id) if "waited over" in p]) == 1


def test_a_restart_sends_what_was_due_and_nothing_twice(seeded) -> None:  # type: ignore[no-untyped-def]
    with Timed(seeded) as first:
        first.fake.set_user(WORKER, tz="Asia/Tokyo")
        order_id = submit(first)
        # the process queues the reminder, and stops before sending it
        assert sweep(seeded, START + timedelta(hours=24), POLICY).approval == 1
        assert first.bot is not None
        first.bot.stop()
        first.bot = None
        # a new bot process, the same database and the same Slack
        with Timed(seeded, START + timedelta(hours=26), fake=first.fake) as second:
            assert second.sweep() == {}  # nothing new is due, and the queued one is sent
            assert [p for p in second.posts(order_id) if "waited over" in p] == [
                f"<@{SUPERVISOR}>: SO-000001 has waited over 24 h for approval."]
            assert second.at(START + timedelta(hours=40)).sweep() == {}
            assert len([p for p in second.posts(order_id) if "waited over" in p]) == 1


def test_a_big_backlog_is_queued_in_bounded_rounds(ws: Timed) -> None:
    for _ in range(3):
        submit(ws)
    first = sweep(ws.engine, START + timedelta(hours=24), POLICY, limit=2)
    assert (first.approval, first.backlog) == (2, 1)
    second = sweep(ws.engine, START + timedelta(hours=24), POLICY, limit=2)
    assert (second.approval, second.backlog) == (1, 0)
    assert ws.at(START + timedelta(hours=24)).sweep() == {}


BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PROVIDER_TIMEZONE": "Europe/Madrid"}


def test_reminder_settings_and_their_defaults() -> None:
    from bot.settings import Settings

    default = Settings.from_env(BASE_ENV)
    assert default.reminders == ReminderPolicy(timezone="Europe/Madrid") and default.reminder_sweep_seconds == 60
    chosen = Settings.from_env(BASE_ENV | {
        "APPROVAL_REMINDER_HOURS": "4", "APPROVAL_ESCALATION_HOURS": "8.5", "FIELD_REMINDER_TIME": "06:45",
        "DIGEST_TIME": "09:00", "QUIET_HOURS": "off", "REMINDER_SWEEP_SECONDS": "30"}).reminders
    # one number (as before SLAs had priorities): every priority
    assert (chosen.remind_after, chosen.escalate_after) == (ByPriority.same(timedelta(hours=4)),
                                                            ByPriority.same(timedelta(hours=8.5)))
    assert (chosen.morning, chosen.digest, chosen.quiet) == (time(6, 45), time(9, 0), None)
    assert QuietHours.parse("22:00-06:30") == QuietHours(time(22, 0), time(6, 30))
    assert QuietHours(time(22, 0), time(6, 30)).covers(time(23, 0)) and not QuietHours(
        time(22, 0), time(6, 30)).covers(time(12, 0))


@pytest.mark.parametrize("setting, value, message", [
    ("APPROVAL_REMINDER_HOURS", "soon",
     "APPROVAL_REMINDER_HOURS must be a number of hours from 0 to 8760, for every priority or per priority (like "
     "urgent=0,high=8,normal=24,low=48), not 'soon'"),
    ("APPROVAL_REMINDER_HOURS", "-1",
     "APPROVAL_REMINDER_HOURS must be a number of hours from 0 to 8760, for every priority or per priority (like "
     "urgent=0,high=8,normal=24,low=48), not '-1'"),
    ("APPROVAL_ESCALATION_HOURS", "12", "APPROVAL_ESCALATION_HOURS must be more than APPROVAL_REMINDER_HOURS for each "
                                        "priority (low: 12 h is not more than 24 h)"),
    ("FIELD_REMINDER_TIME", "7.30", "FIELD_REMINDER_TIME must be a time of day like 07:30, not '7.30'"),
    ("DIGEST_TIME", "25:00", "DIGEST_TIME must be a time of day like 07:30, not '25:00'"),
    ("QUIET_HOURS", "evenings", "QUIET_HOURS: 'evenings' is not a span of hours like 20:00-07:00"),
    ("QUIET_HOURS", "20:00-20:00", "QUIET_HOURS: '20:00-20:00' starts and ends at the same time"),
    ("REMINDER_SWEEP_SECONDS", "-5",
     "REMINDER_SWEEP_SECONDS must be a number of seconds above 0 and at most 86400, not '-5'"),
])
def test_bad_reminder_settings_are_named(setting: str, value: str, message: str) -> None:
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | {"APPROVAL_REMINDER_HOURS": "24", setting: value})
    assert str(refused.value) == message


def test_bad_quiet_hours_are_named_in_the_operators_spanish() -> None:
    from bot.settings import Settings, SettingsError
    from i18n import language

    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | {"QUIET_HOURS": "Evenings"})
    assert refused.value.text(language("es_CL")) == "QUIET_HOURS: 'evenings' no es un rango de horas como 20:00-07:00"
