"""SLAs by priority (issue 16), with time driven by the test (the bot's clock): approval reminders and
escalations timed per priority, "urgent" pinged at once; urgent escalations through quiet hours only where the
settings say so; the completion deadline per priority, flagged "late" on the card (once), in App Home and in the
coordinators' digest; and the settings, each bad value refused with its message."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from sandbox.slackfake.state_values import static
from storage.db import make_engine
from storage.models import Reminder
from storage.scope import serving
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, TEAM, WORKER, WORKER2
from tests.test_reminders import BASE_ENV, START, Timed
from workflow.reminders import ReminderPolicy, sweep
from workflow.sla import COMPLETION_DAYS, ESCALATE_AFTER, REMIND_AFTER, ByPriority, QuietOverride

# the defaults: urgent 0 h / 2 h, high 8 / 24, normal 24 / 48, low 48 / 96; completion urgent 0 days, high 2,
# normal 7, low 14; the provider in Madrid, quiet 20:00-07:00 there
SLA = ReminderPolicy(timezone="Europe/Madrid")
OVERRIDE = ReminderPolicy(timezone="Europe/Madrid", urgent_overrides_quiet=QuietOverride.COORDINATORS)


@pytest.fixture
def ws(seeded) -> Iterator[Timed]:  # type: ignore[no-untyped-def]
    with Timed(seeded) as workspace:
        workspace.fake.set_user(WORKER, tz="Asia/Tokyo")
        workspace.fake.set_user(WORKER2, tz="America/Santiago")
        workspace.fake.set_user(COORDINATOR, tz="America/New_York")
        yield workspace


def swept(ws: Timed, at: datetime, policy: ReminderPolicy = SLA) -> dict[str, int]:
    assert ws.bot is not None
    found = ws.at(at).bot.sweep(policy)  # type: ignore[union-attr]
    ws.settle()
    return {k: v for k, v in vars(found).items() if v}


def submit(ws: Timed, priority: str, description: str = "SLA") -> int:
    ack = ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], priority=priority,
                          requested=(ws.now + timedelta(days=5)).date().isoformat(), description=description)
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    return ws.latest_order_id()


def waited(ws: Timed, order_id: int) -> list[str]:
    return [p for p in ws.posts(order_id) if "for approval" in p]


def keys(ws: Timed, order_id: int) -> list[str]:
    with Session(ws.engine) as session:
        return list(session.exec(select(Reminder.key).where(Reminder.order_id == order_id).order_by(Reminder.id)))


def test_an_urgent_order_is_reminded_at_once_and_escalated_after_its_hours(ws: Timed) -> None:
    order_id = submit(ws.at(START), "urgent")
    assert swept(ws, START + timedelta(minutes=1)) == {"approval": 1}  # the first sweep after the submission
    assert waited(ws, order_id) == [f"<@{SUPERVISOR}>: SO-000001 waits for approval, with priority urgent."]
    assert swept(ws, START + timedelta(hours=1, minutes=59)) == {}  # once
    assert swept(ws, START + timedelta(hours=2)) == {"escalation": 1}
    assert waited(ws, order_id)[-1] == (f"<@{COORDINATOR}>: SO-000001 has waited over 2 h for approval; nobody has "
                                        "approved or rejected it yet.")
    assert swept(ws, START + timedelta(days=3)) == {}
    assert keys(ws, order_id) == [f"approval:{order_id}:r1:0h", f"escalation:{order_id}:r1:2h"]


def test_each_priority_waits_its_own_hours(ws: Timed) -> None:
    low, normal, high = submit(ws.at(START), "low"), submit(ws, "normal"), submit(ws, "high")
    assert swept(ws, START + timedelta(hours=8)) == {"approval": 1}  # high's
    assert [len(waited(ws, o)) for o in (low, normal, high)] == [0, 0, 1]
    # at normal's 24 hours, low is not reminded: it waits 48
    assert swept(ws, START + timedelta(hours=24)) == {"approval": 1, "escalation": 1}  # normal's; high's escalation
    assert [len(waited(ws, o)) for o in (low, normal, high)] == [0, 1, 2]
    assert waited(ws, high)[0] == f"<@{SUPERVISOR}>: SO-000003 has waited over 8 h for approval."
    assert swept(ws, START + timedelta(hours=47, minutes=59)) == {}
    assert swept(ws, START + timedelta(hours=48)) == {"approval": 1, "escalation": 1}  # low's; normal's escalation
    assert waited(ws, low) == [f"<@{SUPERVISOR}>: SO-000001 has waited over 48 h for approval."]
    assert swept(ws, START + timedelta(hours=96)) == {"escalation": 1}  # low's
    assert [len(waited(ws, o)) for o in (low, normal, high)] == [2, 2, 2]
    assert keys(ws, low) == [f"approval:{low}:r1:48h", f"escalation:{low}:r1:96h"]


def test_an_edit_to_urgent_while_pending_pings_at_once(ws: Timed) -> None:
    order_id = submit(ws.at(START), "normal")
    assert swept(ws, START + timedelta(hours=1)) == {}
    view = ws._open(REQUESTER, "edit_order", lambda: ws.click_step(REQUESTER, order_id, "order_edit"))
    ack = ws.submit(REQUESTER, view, {"priority": {"priority": static("urgent")}})
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    assert ws.order(order_id).priority == "urgent"
    # the round began at the submission: the reminder is due at once, the escalation 2 h after the submission
    assert swept(ws, START + timedelta(hours=1, minutes=1)) == {"approval": 1}
    assert swept(ws, START + timedelta(hours=2)) == {"escalation": 1}


def test_urgent_escalation_goes_through_quiet_hours_only_with_the_override(ws: Timed) -> None:
    # a normal order from the evening before, and an urgent one at 21:30 in Madrid (quiet until 07:00)
    normal = submit(ws.at(datetime(2026, 11, 25, 20, 30, tzinfo=UTC)), "normal")
    urgent = submit(ws.at(datetime(2026, 11, 27, 20, 30, tzinfo=UTC)), "urgent")
    night = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)  # 23:30 in Madrid: everything due is held
    # normal: its reminder and escalation; urgent: its reminder (at once) and escalation (2 h)
    assert swept(ws, night) == {"deferred": 4}
    assert waited(ws, urgent) == [] and waited(ws, normal) == []
    # URGENT_OVERRIDES_QUIET_HOURS=coordinators: the urgent order's escalation goes now; the supervisors'
    # reminder, and the normal order's escalation, wait for the morning
    assert swept(ws, night + timedelta(minutes=1), OVERRIDE) == {"escalation": 1, "deferred": 3}
    assert waited(ws, urgent) == [f"<@{COORDINATOR}>: SO-000002 has waited over 2 h for approval; nobody has "
                                  "approved or rejected it yet."]
    assert waited(ws, normal) == []
    assert swept(ws, datetime(2026, 11, 28, 6, 0, tzinfo=UTC), OVERRIDE) == {"approval": 2, "escalation": 1}
    assert [len(waited(ws, o)) for o in (normal, urgent)] == [2, 2]


def _sweep_when_all_are_ready(url: str, moment: datetime, ready: Any, results: Any) -> None:
    engine = make_engine(url)
    ready.wait()
    try:
        with serving(TEAM):  # as the bot's sweep does, in each workspace
            found = sweep(engine, moment, SLA)
        results.put((found.approval, found.escalation))
    except Exception as error:  # reported to the test
        results.put(repr(error))


def test_two_processes_sweeping_at_once_ping_each_priority_once(ws: Timed) -> None:
    urgent, high = submit(ws.at(START), "urgent"), submit(ws, "high")
    moment = START + timedelta(hours=8)  # urgent: reminder and escalation due; high: its reminder
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(2), spawn.Queue()
    url = ws.engine.url.render_as_string(hide_password=False)
    processes = [spawn.Process(target=_sweep_when_all_are_ready, args=(url, moment, ready, results))
                 for _ in range(2)]
    for process in processes:
        process.start()
    queued = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(isinstance(n, tuple) for n in queued), queued
    assert (sum(n[0] for n in queued), sum(n[1] for n in queued)) == (2, 1), queued  # whoever won each
    ws.at(moment).settle()
    assert sorted(keys(ws, urgent)) == [f"approval:{urgent}:r1:0h", f"escalation:{urgent}:r1:2h"]
    assert keys(ws, high) == [f"approval:{high}:r1:8h"]
    assert [len(waited(ws, o)) for o in (urgent, high)] == [2, 1]


def card(ws: Timed, order_id: int) -> str:
    order = ws.order(order_id)
    message = ws.fake.message(order.channel_id, order.card_ts)
    assert message is not None
    return str(message.blocks)


def card_updates(ws: Timed, order_id: int) -> int:
    return len([c for c in ws.fake.calls_to("chat.update") if c.args.get("ts") == ws.order(order_id).card_ts])


def test_an_order_past_its_completion_deadline_is_late_on_the_card_in_app_home_and_in_the_digest(ws: Timed) -> None:
    from tests.test_app_home import open_home, text

    scheduled = date(2026, 11, 27)
    high = submit(ws.at(START), "high", "High: two days after its date")
    normal = submit(ws, "normal", "Normal: a week after its date")
    for order_id in (high, normal):
        ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=scheduled.isoformat())
    ws.settle()
    # midnight in Madrid: the 27th is over. Both are overdue, neither is late
    found = swept(ws, datetime(2026, 11, 27, 23, 0, tzinfo=UTC))
    assert (found["overdue"], found.get("late", 0)) == (2, 0)
    assert ":warning: *Overdue*: scheduled for Nov 27, 2026" in card(ws, high) and "Late" not in card(ws, high)
    # the 29th over in Madrid: high's deadline (the 27th + 2 days) has passed, normal's (+ 7) has not
    updates = card_updates(ws, high)
    found = swept(ws, datetime(2026, 11, 29, 23, 0, tzinfo=UTC))
    assert found.get("late") == 1 and card_updates(ws, high) == updates + 1
    assert (":rotating_light: *Late*: to be completed by Nov 29, 2026 (scheduled for Nov 27, 2026), and not "
            "closed yet.") in card(ws, high)
    assert "Overdue" not in card(ws, high)  # late says more: one or the other
    assert ":warning: *Overdue*" in card(ws, normal) and "Late" not in card(ws, normal)
    # once: a later sweep re-renders nothing for it
    assert "late" not in swept(ws, datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    assert card_updates(ws, high) == updates + 1
    # the coordinator's digest (08:00 in New York) counts and names the late one first
    dms = len(ws.dms(COORDINATOR))
    assert swept(ws, datetime(2026, 11, 30, 13, 0, tzinfo=UTC)) == {"digest": 1}
    digest = ws.dms(COORDINATOR)[dms]
    channels = {o: ws.order(o).channel_id for o in (high, normal)}
    assert digest == ("*2 overdue orders* (approved, past the scheduled date, not closed):\n"
                      "1 of them is late: past its completion deadline.\n"
                      f"• SO-000001 <#{channels[high]}> · scheduled Nov 27, 2026 · late: due by Nov 29, 2026\n"
                      f"• SO-000002 <#{channels[normal]}> · scheduled Nov 27, 2026")
    # App Home: the overdue entries say which is late, and by when it was due
    home = text(open_home(ws, COORDINATOR))
    assert "*Overdue* (2)" in home
    assert ":rotating_light: *late*: due by Nov 29, 2026" in home
    assert home.count(":rotating_light:") == 1 and home.count(":warning: *overdue*") == 1
    # completed: not late any more, and no digest names it
    ws.complete(WORKER, high, "done at last")
    ws.settle()
    assert "Late" not in card(ws, high)


def test_the_digest_says_late_in_spanish() -> None:
    from bot.render.reminders import digest
    from i18n import language
    from workflow.effects import Notify, NotifyAbout, OverdueLine

    notify = Notify(COORDINATOR, NotifyAbout.DIGEST, count=3, late=2, orders=(
        OverdueLine(1, "C1", date(2026, 11, 20), date(2026, 11, 22)), OverdueLine(2, "C2", date(2026, 11, 21))))
    said = digest(notify, language("es"), {1: "SO-000001", 2: "SO-000002"})
    assert "2 de ellas están fuera de plazo: pasó su fecha límite de término." in said
    assert "• SO-000001 <#C1> · programada para el 20 nov 2026 · fuera de plazo: vencía el 22 nov 2026" in said


# --- settings ------------------------------------------------------------------------------------------------


def test_sla_settings_and_their_defaults() -> None:
    from bot.settings import Settings

    default = Settings.from_env(BASE_ENV).reminders
    assert (default.remind_after, default.escalate_after) == (REMIND_AFTER, ESCALATE_AFTER)
    assert default.remind_after.urgent == timedelta(0) and default.escalate_after.low == timedelta(hours=96)
    assert default.completion == COMPLETION_DAYS == ByPriority(low=14, normal=7, high=2, urgent=0)
    assert default.urgent_overrides_quiet is QuietOverride.OFF
    chosen = Settings.from_env(BASE_ENV | {
        "APPROVAL_REMINDER_HOURS": "urgent=1, high=4", "APPROVAL_ESCALATION_HOURS": "Urgent=1.5",
        "COMPLETION_DAYS": "normal=10", "URGENT_OVERRIDES_QUIET_HOURS": "Coordinators"}).reminders
    # the priorities a list leaves out keep their defaults
    assert chosen.remind_after == ByPriority(low=timedelta(hours=48), normal=timedelta(hours=24),
                                             high=timedelta(hours=4), urgent=timedelta(hours=1))
    assert chosen.escalate_after == ByPriority(low=timedelta(hours=96), normal=timedelta(hours=48),
                                               high=timedelta(hours=24), urgent=timedelta(hours=1.5))
    assert chosen.completion == ByPriority(low=14, normal=10, high=2, urgent=0)
    assert chosen.urgent_overrides_quiet is QuietOverride.COORDINATORS
    # one number, as before SLAs had priorities: every priority, and the unset other its former 24 h / 48 h
    legacy = Settings.from_env(BASE_ENV | {"APPROVAL_REMINDER_HOURS": "30", "COMPLETION_DAYS": "3"}).reminders
    assert (legacy.remind_after, legacy.escalate_after) == (ByPriority.same(timedelta(hours=30)),
                                                            ByPriority.same(timedelta(hours=48)))
    assert legacy.completion == ByPriority.same(3)


HOURS = "for every priority or per priority (like urgent=0,high=8,normal=24,low=48)"


@pytest.mark.parametrize("env, message", [
    ({"APPROVAL_REMINDER_HOURS": "urgent=soon"},
     f"APPROVAL_REMINDER_HOURS must be a number of hours from 0 to 8760, {HOURS}, not 'soon'"),
    ({"APPROVAL_ESCALATION_HOURS": "high=9000"},
     f"APPROVAL_ESCALATION_HOURS must be a number of hours from 0 to 8760, {HOURS}, not '9000'"),
    ({"APPROVAL_REMINDER_HOURS": "urgnt=0"},
     "APPROVAL_REMINDER_HOURS: 'urgnt=0' is not a priority with its number, like urgent=0,high=8,normal=24,low=48 "
     "(the priorities: low, normal, high, urgent)"),
    ({"APPROVAL_REMINDER_HOURS": "urgent 0"},
     f"APPROVAL_REMINDER_HOURS must be a number of hours from 0 to 8760, {HOURS}, not 'urgent 0'"),
    ({"APPROVAL_REMINDER_HOURS": "urgent=0,high"},
     "APPROVAL_REMINDER_HOURS: 'high' is not a priority with its number, like urgent=0,high=8,normal=24,low=48 "
     "(the priorities: low, normal, high, urgent)"),
    ({"APPROVAL_REMINDER_HOURS": "urgent=0,urgent=1"}, "APPROVAL_REMINDER_HOURS gives urgent twice"),
    ({"APPROVAL_REMINDER_HOURS": "urgent=2"},
     "APPROVAL_ESCALATION_HOURS must be more than APPROVAL_REMINDER_HOURS for each priority (urgent: 2 h is not "
     "more than 2 h)"),
    ({"APPROVAL_REMINDER_HOURS": "6", "APPROVAL_ESCALATION_HOURS": "high=4.5"},
     "APPROVAL_ESCALATION_HOURS must be more than APPROVAL_REMINDER_HOURS for each priority (high: 4.5 h is not "
     "more than 6 h)"),
    ({"COMPLETION_DAYS": "urgent=0.5"},
     "COMPLETION_DAYS must be a whole number of days from 0 to 3650, for every priority or per priority (like "
     "urgent=0,high=2,normal=7,low=14), not '0.5'"),
    ({"COMPLETION_DAYS": "-1"},
     "COMPLETION_DAYS must be a whole number of days from 0 to 3650, for every priority or per priority (like "
     "urgent=0,high=2,normal=7,low=14), not '-1'"),
    ({"URGENT_OVERRIDES_QUIET_HOURS": "everyone"},
     "URGENT_OVERRIDES_QUIET_HOURS must be off or coordinators, not 'everyone'"),
])
def test_bad_sla_settings_are_named(env: dict[str, str], message: str) -> None:
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | env)
    assert str(refused.value) == message


def test_bad_sla_settings_are_named_in_the_operators_spanish() -> None:
    from bot.settings import Settings, SettingsError
    from i18n import language

    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | {"COMPLETION_DAYS": "pronto"})
    assert refused.value.text(language("es_CL")) == (
        "COMPLETION_DAYS debe ser un número entero de días de 0 a 3650, para todas las prioridades o por prioridad "
        "(como urgent=0,high=2,normal=7,low=14), no 'pronto'")


# --- a change waiting for approval (REAPPROVAL_OVER, the product's 10 %) is reminded of and escalated too --------


def approved(ws: Timed, priority: str) -> int:
    """An order of `priority`, approved at once for WORKER and WORKER2, six days ahead (no morning falls due)."""
    order_id = submit(ws, priority)
    ack = ws.approve(SUPERVISOR, order_id, workers=[WORKER, WORKER2],
                     scheduled=(ws.now + timedelta(days=6)).date().isoformat())
    assert ack.text == "", ack.text
    ws.settle()
    return order_id


def propose(ws: Timed, order_id: int, hours: str, author: str = WORKER) -> int:
    """A confirmation that raises 1 h of HVAC to `hours`: far past 10 %, it waits. The revision it waits at."""
    ack = ws.confirm(author, order_id, changes=[("hvac", hours)], note="Bigger job than it looked")
    assert ack.text == "", ack.text
    ws.settle()
    order = ws.order(order_id)
    assert order.state == "change_pending"
    return order.revision


def reminded(ws: Timed, order_id: int) -> list[str]:
    return [p for p in ws.posts(order_id) if "A change to" in p]


def decide(ws: Timed, user: str, order_id: int, action: str, reason: str | None = None) -> None:
    from tests.test_change_approval import open_form, text

    view = open_form(ws, user, order_id, action, action)
    ack = ws.submit(user, view, {"reason": {"reason": text(reason)}} if reason is not None else {})
    assert ack.text == "", ack.text
    ws.settle()


def test_a_waiting_change_is_reminded_after_its_priority_hours_then_escalated(ws: Timed) -> None:
    order_id = approved(ws.at(START), "high")
    revision = propose(ws.at(START + timedelta(hours=1)), order_id, "3")
    # high: 8 h, then 24 h, counted from the proposal (not from the order's submission or approval)
    assert swept(ws, START + timedelta(hours=8, minutes=59)) == {}
    assert swept(ws, START + timedelta(hours=9)) == {"approval": 1}
    assert reminded(ws, order_id) == [f"<@{SUPERVISOR}>: A change to SO-000001 has waited over 8 h for approval."]
    assert swept(ws, START + timedelta(hours=24, minutes=59)) == {}  # once
    assert swept(ws, START + timedelta(hours=25)) == {"escalation": 1}
    assert reminded(ws, order_id)[-1] == (f"<@{COORDINATOR}>: A change to SO-000001 has waited over 24 h for "
                                        "approval; nobody has approved or rejected it yet.")
    assert swept(ws, START + timedelta(days=3)) == {}
    # keyed by the revision the change waits at, apart from the order's round of approval
    assert keys(ws, order_id) == [f"approval:{order_id}:c{revision}:8h", f"escalation:{order_id}:c{revision}:24h"]
    assert ws.order(order_id).pending_round == 1  # the card and the PDF list that round's approvals


def test_an_urgent_change_is_reminded_at_once_and_never_to_its_author(ws: Timed) -> None:
    from workflow.people import grant
    from workflow.vocabulary import Role

    grant(ws.engine, WORKER2, [Role.SUPERVISOR])  # on the crew and a supervisor: may not approve their own change
    order_id = approved(ws.at(START), "urgent")
    assert swept(ws, START + timedelta(minutes=1)) == {}  # approved before its reminder was due
    propose(ws.at(START + timedelta(minutes=30)), order_id, "3", author=WORKER2)
    assert swept(ws, START + timedelta(minutes=31)) == {"approval": 1}
    assert reminded(ws, order_id) == [f"<@{SUPERVISOR}>: A change to SO-000001 waits for approval, with priority "
                                    "urgent."]


def test_a_change_decided_before_its_reminder_is_not_reminded_and_a_later_change_has_its_own(ws: Timed) -> None:
    order_id = approved(ws.at(START), "normal")
    propose(ws.at(START + timedelta(hours=1)), order_id, "3")
    decide(ws.at(START + timedelta(hours=2)), SUPERVISOR, order_id, "approve_change")
    assert ws.order(order_id).state == "approved"
    assert swept(ws, START + timedelta(hours=26)) == {}  # its 24 h passed: nothing, it was decided
    # a second change: its own wait, counted from its proposal
    second = propose(ws.at(START + timedelta(hours=27)), order_id, "9")
    assert swept(ws, START + timedelta(hours=50, minutes=59)) == {}
    assert swept(ws, START + timedelta(hours=51)) == {"approval": 1}
    assert reminded(ws, order_id) == [f"<@{SUPERVISOR}>: A change to SO-000001 has waited over 24 h for approval."]
    assert keys(ws, order_id) == [f"approval:{order_id}:c{second}:24h"]
    # queued, then rejected before it goes out: dropped, not sent
    found = sweep(ws.engine, START + timedelta(hours=75), SLA)
    assert found.escalation == 1
    decide(ws.at(START + timedelta(hours=75)), SUPERVISOR, order_id, "reject_change", "Not in the contract")
    assert ws.order(order_id).state == "approved"
    assert len(reminded(ws, order_id)) == 1
    assert keys(ws, order_id)[-1] == f"escalation:{order_id}:c{second}:48h"
