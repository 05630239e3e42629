"""The approval policy (issue 16) as Slack drives it: separation of duties (no one approves or rejects their own
order; with `strict`, no one approves work they alone would do) and approval by amount (one approval from each
level the total with tax reaches, in order, by distinct people). Signed requests into the running bot, the
loopback fake Web API, a real database."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.settings import Settings, SettingsError
from i18n import language
from sandbox.local import LocalWorkspace
from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import FakeSlack
from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import plain_text, users
from storage.db import queue_effects
from storage.models import AuditEvent, GivenApproval, OrderVersion, PendingEffect, Reminder, ServiceOrder
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE, SOON, pdf_text, submit
from tests.test_history import history_view, shown
from tests.test_processes import SECRET, at_once, bot_env, database_url, start_bot
from tests.test_reminders import POLICY, START
from tests.test_workflow import draft
from workflow.document import Provider
from workflow.facts import StepFacts
from workflow.letterhead import Letterhead
from workflow.overview import Listing, listing
from workflow.people import grant
from workflow.policy import ApprovalPolicy, Level, Separation
from workflow.service import OrderService
from workflow.vocabulary import Role

ADMIN, SUPERVISOR2 = "U0ADM", "U0SUP2"
NAMES = PEOPLE | {ADMIN: "Ada Admin", SUPERVISOR2: "Sofía Supervisora"}
# the issue's levels: up to 5,000 (with tax) a supervisor; above, also a coordinator; above 50,000, also an admin
LEVELS = (Level(Role.SUPERVISOR), Level(Role.COORDINATOR, Decimal(5000)), Level(Role.ADMIN, Decimal(50000)))
TAXED = Letterhead(Provider(name="Service Orders", tax_rate=Decimal("0.19")))
# 45.00 (one hour of HVAC-MNT) + 50,375.17 = 50,420.17 before tax; 60,000.00 with 19 %
BIG = {"items": [("hvac", "1")], "free_items": "1 | Plant room overhaul | unit | 50375.17"}


def workspace(engine: Engine, policy: ApprovalPolicy, **kwargs: Any) -> LocalWorkspace:
    return LocalWorkspace(engine, NAMES, letterhead=TAXED, policy=policy, **kwargs)


@pytest.fixture
def levels(seeded: Engine) -> Iterator[LocalWorkspace]:
    """Three levels; the coordinator is an admin too (so may give level 3, but not after giving level 2)."""
    grant(seeded, ADMIN, [Role.ADMIN])
    grant(seeded, SUPERVISOR2, [Role.SUPERVISOR])
    grant(seeded, COORDINATOR, [Role.ADMIN])
    with workspace(seeded, ApprovalPolicy(levels=LEVELS)) as ws:
        yield ws


def stored(ws: LocalWorkspace, order_id: int) -> tuple[Any, ...]:
    """Everything a step stores: the order's state and revision, its versions, audit rows, approvals, effects."""
    with Session(ws.engine) as session:
        def count(model: Any, column: Any) -> int:
            return session.exec(select(func.count()).select_from(model).where(column == order_id)).one()
        order = session.get(ServiceOrder, order_id)
        assert order is not None
        return (order.state, order.revision, order.current_version, count(OrderVersion, OrderVersion.order_id),
                count(AuditEvent, AuditEvent.order_id), count(GivenApproval, GivenApproval.order_id),
                count(PendingEffect, PendingEffect.order_id))


def refused_on_click(ws: LocalWorkspace, user: str, order_id: int, step: str = "approve") -> str:
    """Click the card's button; the refusal only `user` sees (an ephemeral message in the channel)."""
    seen = len([e for e in ws.fake.ephemerals if e["user"] == user])
    ws.click_step(user, order_id, f"order_{step}")
    ws.wait(lambda: len([e for e in ws.fake.ephemerals if e["user"] == user]) > seen, "the refusal")
    assert ws.top_view(user) is None  # no form opened
    return str([e for e in ws.fake.ephemerals if e["user"] == user][-1]["text"])


def approve_level(ws: LocalWorkspace, user: str, order_id: int, note: str = "") -> Any:
    """A later level's approval: its form shows level 1's choices and takes a note."""
    view = ws.open_step(user, order_id, "approve")
    assert not any(b.get("block_id") == "field_workers" for b in view["blocks"])
    return ws.submit(user, view, {"approval_note": {"approval_note": plain_text(note)}})


def card_sections(ws: LocalWorkspace, order_id: int) -> list[str]:
    """The text of the card's sections (its fields, one per line), as a person reads them."""
    order = ws.order(order_id)
    assert order.channel_id and order.card_ts
    payload = ws.fake.message_payload(order.channel_id, order.card_ts)
    assert payload is not None
    out = []
    for block in payload["blocks"]:
        if block["type"] == "section":
            out += [f["text"] for f in block.get("fields", [])] + ([block["text"]["text"]] if "text" in block else [])
    return out


def facts(ws: LocalWorkspace, order_id: int) -> list[tuple[str, str, StepFacts]]:
    with Session(ws.engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id))
        return [(row.from_state or "", row.to_state, StepFacts.loads(row.detail)) for row in rows]


# --- settings ---------------------------------------------------------------------------------------------

BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def test_the_policy_settings_and_their_defaults() -> None:
    default = Settings.from_env(BASE_ENV).policy
    assert default.levels == (Level(Role.SUPERVISOR),) and default.separation is Separation.ON
    policy = Settings.from_env(BASE_ENV | {"APPROVAL_LEVELS": " Supervisor, coordinator>5000 ,admin > 50000.50",
                                           "SEPARATION_OF_DUTIES": "Strict"}).policy
    assert policy.levels == (Level(Role.SUPERVISOR), Level(Role.COORDINATOR, Decimal(5000)),
                             Level(Role.ADMIN, Decimal("50000.50")))
    assert policy.separation is Separation.STRICT
    four_eyes = Settings.from_env(BASE_ENV | {"APPROVAL_LEVELS": "supervisor,supervisor>1000"}).policy
    assert four_eyes.levels_for(Decimal(1000)) == (Level(Role.SUPERVISOR),)
    assert len(four_eyes.levels_for(Decimal("1000.01"))) == 2
    assert Settings.from_env(BASE_ENV | {"SEPARATION_OF_DUTIES": "off"}).policy.separation is Separation.OFF


SHAPE = ("APPROVAL_LEVELS must be 1 to 3 levels like supervisor,coordinator>5000,admin>50000 (a role of "
         "supervisor, coordinator or admin; each level after the first with the amount, with tax, above which it "
         "is needed, each amount larger than the one before), not {value}")


@pytest.mark.parametrize("value", [
    "field_worker", "supervisor>100", "supervisor,coordinator", "supervisor,coordinator>-5",
    "supervisor,coordinator>5000,admin>5000", "supervisor,coordinator>5000,admin>100", "supervisor,,admin>1",
    "supervisor,coordinator>1,admin>2,admin>3", "supervisor,coordinator>1e3", "supervisor,boss>10",
])
def test_bad_approval_levels_are_named(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | {"APPROVAL_LEVELS": value})
    assert str(refused.value) == SHAPE.format(value=repr(value))


def test_a_bad_separation_setting_is_named_in_english_and_spanish() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE_ENV | {"SEPARATION_OF_DUTIES": "maybe"})
    assert str(refused.value) == "SEPARATION_OF_DUTIES must be on, strict or off, not 'maybe'"
    assert refused.value.text(language("es")) == ("SEPARATION_OF_DUTIES debe ser on, strict u off, no 'maybe'")


# --- separation of duties ---------------------------------------------------------------------------------


def test_the_issues_sequence_is_refused_at_approval_and_nothing_is_stored(seeded: Engine) -> None:
    """One person holding requester, supervisor and field worker submits, then tries to approve naming themself
    (and to reject): refused at the click, with who can instead; nothing of the step is stored."""
    grant(seeded, REQUESTER, [Role.SUPERVISOR, Role.FIELD_WORKER])
    with workspace(seeded, ApprovalPolicy()) as ws:
        order_id = submit(ws)
        # they are not asked to review their own order
        assert StepFacts.loads(_first_detail(ws, order_id)).reviewers == (COORDINATOR, SUPERVISOR)
        before = stored(ws, order_id)
        assert refused_on_click(ws, REQUESTER, order_id) == (
            "You submitted SO-000001, so you may not approve it yourself: someone else must (separation of "
            "duties). Who can: <@U0COORD> or <@U0SUP>.")
        assert refused_on_click(ws, REQUESTER, order_id, "reject") == (
            "You submitted SO-000001, so you may not reject it yourself (separation of duties): withdraw it if it "
            "is no longer wanted, or ask someone else. Who can: <@U0COORD> or <@U0SUP>.")
        ws.settle()
        assert stored(ws, order_id) == before == ("pending_approval", 0, 0, 1, 1, 0, before[-1])
        # someone else approves it as before
        assert ws.approve(SUPERVISOR, order_id, workers=[REQUESTER], scheduled=SOON).text == ""
        ws.settle()
        assert ws.order(order_id).state == "approved"


def _first_detail(ws: LocalWorkspace, order_id: int) -> str:
    with Session(ws.engine) as session:
        return session.exec(select(AuditEvent.detail).where(AuditEvent.order_id == order_id)
                            .order_by(AuditEvent.id)).first() or ""


def test_strict_refuses_an_approver_naming_only_themself_in_the_form(seeded: Engine) -> None:
    grant(seeded, SUPERVISOR, [Role.FIELD_WORKER])
    with workspace(seeded, ApprovalPolicy(separation=Separation.STRICT)) as ws:
        order_id = submit(ws)
        before = stored(ws, order_id)
        body = ws.approve(SUPERVISOR, order_id, workers=[SUPERVISOR], scheduled=SOON).json()
        # a form's refusal replaces the modal; it is plain text, so people are named, not mentioned
        assert body["response_action"] == "update"
        assert body["view"]["blocks"][0]["text"]["text"] == (
            ":warning: You would be the only field worker of SO-000001, so you may not approve it yourself "
            "(separation of duties): add another field worker, or let someone else approve it. Who can: Carla "
            "Coordinator.")
        ws.settle()
        assert stored(ws, order_id) == before
        # with a colleague on the crew it goes through
        assert ws.approve(SUPERVISOR, order_id, workers=[SUPERVISOR, WORKER], scheduled=SOON).text == ""
        ws.settle()
        assert ws.order(order_id).state == "approved"


def test_off_lets_one_person_submit_approve_and_work_their_own_order(seeded: Engine) -> None:
    grant(seeded, REQUESTER, [Role.SUPERVISOR, Role.FIELD_WORKER])
    with workspace(seeded, ApprovalPolicy(separation=Separation.OFF)) as ws:
        order_id = submit(ws)
        assert ws.approve(REQUESTER, order_id, workers=[REQUESTER], scheduled=SOON).text == ""
        ws.settle()
        assert (ws.order(order_id).state, ws.order(order_id).approved_by) == ("approved", REQUESTER)


def test_nobody_else_can_says_what_it_takes(seeded: Engine) -> None:
    """The only supervisor submitted it and there is no coordinator: the refusal says an admin must grant it."""
    with workspace(seeded, ApprovalPolicy(levels=(Level(Role.ADMIN),))) as ws:
        order_id = submit(ws)
        assert refused_on_click(ws, SUPERVISOR, order_id) == (
            "SO-000001 needs an admin's approval next (level 1 of 1). Nobody else can yet: an admin must grant the "
            "role (service-orders roles grant USER ROLE).")


# --- approval by amount -----------------------------------------------------------------------------------


def test_a_60000_order_goes_through_three_approvals_in_order(levels: LocalWorkspace) -> None:
    ws = levels
    order_id = submit(ws, **BIG)
    order = ws.order(order_id)
    assert (order.approval_level, order.approval_levels, order.approval_role) == (1, 3, "supervisor")
    sections = card_sections(ws, order_id)
    assert "*Approvals*\n:hourglass_flowing_sand: Next: a supervisor's approval (level 1 of 3), from <@U0COORD> " \
        "<@U0SUP> <@U0SUP2>." in sections
    print("\n--- card, level 1 awaited ---\n" + "\n".join(sections))

    # level 1: the supervisor chooses the crew and the date; nothing is issued yet
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON, notes="Gate code 4521").text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version, order.approval_level, order.approval_role) == (
        "pending_approval", 0, 2, "coordinator")
    assert not [f for f in ws.fake.files.values() if order.channel_id in f.channels]
    assert WORKER not in ws.fake.channels[order.channel_id].members
    sections = card_sections(ws, order_id)
    print("\n--- card, level 2 awaited ---\n" + "\n".join(sections))
    approvals = next(s for s in sections if s.startswith("*Approvals*"))
    assert "• Level 1 (supervisor): <@U0SUP>, <!date^" in approvals
    assert "Proposed at level 1: field workers <@U0FW1>; scheduled for" in approvals
    # asked: the coordinators (an admin may give a coordinator's level too, but is only asked for an admin's)
    assert approvals.endswith("Next: a coordinator's approval (level 2 of 3), from <@U0COORD>.")
    transcript = ws.fake.transcript(order.channel_id)
    assert "@Sam Supervisor gave the approval of level 1 of 3." in transcript
    assert "Next: a coordinator's approval (level 2 of 3). @Carla Coordinator, please review it." in transcript

    # the pending lists (App Home, /order list pending) show it to those who may give level 2, not to supervisors
    with Session(ws.engine) as session:
        waiting = {user: listing(session, Listing.PENDING, user, order.requested_date).total
                   for user in (SUPERVISOR, SUPERVISOR2, COORDINATOR, ADMIN)}
    assert waiting == {SUPERVISOR: 0, SUPERVISOR2: 0, COORDINATOR: 1, ADMIN: 1}

    # a supervisor may not give a coordinator's level, nor may level 1's approver give level 2
    assert refused_on_click(ws, SUPERVISOR2, order_id) == (
        "SO-000001 needs a coordinator's approval next (level 2 of 3). Who can: <@U0ADM> or <@U0COORD>.")
    assert refused_on_click(ws, SUPERVISOR, order_id) == (
        "SO-000001 needs a coordinator's approval next (level 2 of 3). Who can: <@U0ADM> or <@U0COORD>.")

    # level 2: the coordinator's form shows level 1's choices and takes a note
    view = ws.open_step(COORDINATOR, order_id, "approve")
    form = json.dumps(view, ensure_ascii=False)
    assert "Level 2 of 3: a coordinator's approval." in form and "Field workers: Jürgen Müller" in form
    assert ws.submit(COORDINATOR, view, {"approval_note": {"approval_note": plain_text("Budget line 7")}}).text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version, order.approval_level, order.approval_role) == (
        "pending_approval", 0, 3, "admin")
    sections = card_sections(ws, order_id)
    print("\n--- card, level 3 awaited ---\n" + "\n".join(sections))
    assert "Next: an admin's approval (level 3 of 3), from <@U0ADM>." in "\n".join(sections)
    assert ADMIN in ws.fake.channels[order.channel_id].members  # asked, so brought in

    # the coordinator is an admin too, but each level needs a different person
    before = stored(ws, order_id)
    assert refused_on_click(ws, COORDINATOR, order_id) == (
        "You gave the approval of level 2 of SO-000001; level 3 of 3 needs someone else. Who can: <@U0ADM>.")
    assert stored(ws, order_id) == before

    # level 3: version 1 is issued, with level 1's choices
    assert approve_level(ws, ADMIN, order_id).text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version, order.approved_by, order.scheduled_date.isoformat()) == (
        "approved", 1, ADMIN, SOON)
    assert WORKER in ws.fake.channels[order.channel_id].members
    sections = card_sections(ws, order_id)
    print("\n--- card, approved ---\n" + "\n".join(sections))
    assert not any("Next:" in s for s in sections)
    trail = facts(ws, order_id)
    assert [(a, b, f.level, f.levels) for a, b, f in trail if f.action == "approve"] == [
        ("pending_approval", "pending_approval", 1, 3), ("pending_approval", "pending_approval", 2, 3),
        ("pending_approval", "approved", 3, 3)]
    assert "@Ada Admin approved the order. Last level of approval (3 of 3). Version 1." in \
        ws.fake.transcript(order.channel_id)
    files = [f for f in ws.fake.files.values() if order.channel_id in f.channels]
    assert [f.name for f in files] == ["SO-000001-v1.pdf"]
    text = pdf_text(files[0].content)
    for line in ("Level 1 (supervisor): Sam Supervisor", "Level 2 (coordinator): Carla Coordinator",
                 "Level 3 (admin): Ada Admin"):
        assert line in text, text
    assert "60,000.00" in text and "Gate code 4521" in text
    # /order history tells each level's approval, and whom it asked next
    history = shown(history_view(ws, COORDINATOR, "history SO-000001"))
    scheduled = language("en").date(date.fromisoformat(SOON))  # as the history writes it, whatever today is
    assert f"<@U0SUP> gave the approval of level 1 of 3.\nPending approval\n• Scheduled for: {scheduled}" in history
    assert "• Level of approval given: 1\n• Levels the order needs: 3\n• Next level's role: coordinator\n" \
        "• Asked next: <@U0COORD>" in history
    assert "<@U0ADM> approved the order.\nPending approval → Approved, work in progress · version 1" in history


def test_a_rejection_at_level_2_ends_the_order(levels: LocalWorkspace) -> None:
    ws = levels
    order_id = submit(ws, **BIG)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert ws.reject(COORDINATOR, order_id, "Over this year's budget").text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version, order.closed_by) == ("rejected", 0, COORDINATOR)
    assert "order_approve" not in json.dumps(ws.fake.message_payload(order.channel_id, order.card_ts))


def test_an_edit_after_level_1_clears_its_approval(levels: LocalWorkspace) -> None:
    ws = levels
    order_id = submit(ws, **BIG)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    view = ws._open(REQUESTER, "edit_order", lambda: ws.click_step(REQUESTER, order_id, "order_edit"))
    assert ws.submit(REQUESTER, view, {"description": {"description": plain_text("Plant room, phase 1")}}).text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.approval_level, order.approval_role) == ("pending_approval", 1, "supervisor")
    # a new round: its level 1 is reminded again, keyed apart from the round whose approval no longer stands
    assert order.pending_round == 2
    assert "The approvals given so far (@Sam Supervisor) no longer stand: the order needs them again." in \
        ws.fake.transcript(order.channel_id)
    assert "Next: a supervisor's approval (level 1 of 3)" in "\n".join(card_sections(ws, order_id))
    with Session(ws.engine) as session:  # the audit keeps the cleared approval
        given = session.exec(select(GivenApproval).where(GivenApproval.order_id == order_id)).all()
        assert [(g.level, g.approver_id, g.cleared_at is not None) for g in given] == [(1, SUPERVISOR, True)]
    # level 1 again, by the same supervisor: the level-1 form, since what they approved changed
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert ws.order(order_id).approval_level == 2


def test_a_send_back_after_level_1_clears_it_and_a_resubmission_starts_a_new_round(levels: LocalWorkspace) -> None:
    ws = levels
    order_id = submit(ws, **BIG)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert ws.send_back(COORDINATOR, order_id, "Split the overhaul in two phases").text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.approval_level) == ("changes_requested", 1)
    assert "What to change: Split the overhaul in two phases The approvals given so far (@Sam Supervisor) no " \
        "longer stand: the order needs them again." in ws.fake.transcript(order.channel_id)
    assert ws.resubmit(REQUESTER, order_id, description="Plant room overhaul, phase 1").text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.pending_round, order.approval_level, order.approval_levels) == (
        "pending_approval", 2, 1, 3)
    sections = "\n".join(card_sections(ws, order_id))
    assert "Level 1 (supervisor)" not in sections and "Next: a supervisor's approval (level 1 of 3)" in sections


def test_a_small_order_under_the_same_levels_needs_one_approval(levels: LocalWorkspace) -> None:
    """289 before tax, 343.91 with it: level 1 only, and the card is as before levels."""
    ws = levels
    order_id = submit(ws)
    assert ws.order(order_id).approval_levels == 1
    assert not any(s.startswith("*Approvals*") for s in card_sections(ws, order_id))
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 1)


def test_the_next_level_is_reminded_timed_from_the_approval_before_it(seeded: Engine) -> None:
    grant(seeded, ADMIN, [Role.ADMIN])
    now = [START]
    with LocalWorkspace(seeded, NAMES, clock=lambda: now[0], slack_on_clock=True, policy=ApprovalPolicy(
            levels=LEVELS), letterhead=Letterhead(Provider(name="S", timezone=POLICY.timezone,
                                                            tax_rate=Decimal("0.19")))) as ws:
        requested = (START + timedelta(days=5)).date().isoformat()
        order_id = submit(ws, requested=requested, **BIG)
        now[0] = START + timedelta(hours=2)
        assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=requested).text == ""
        ws.settle()
        assert ws.bot is not None

        def sweep(at: datetime) -> dict[str, int]:
            now[0] = at
            found = ws.bot.sweep(POLICY)  # type: ignore[union-attr]
            ws.settle()
            return {k: v for k, v in vars(found).items() if v}

        assert sweep(START + timedelta(hours=25)) == {}  # 24 h from the submission: level 1 is given
        assert sweep(START + timedelta(hours=26)) == {"approval": 1}  # 24 h from level 1's approval
        posts = [m.text for m in ws.fake.channels[ws.order(order_id).channel_id].messages if not m.blocks]
        assert "<@U0COORD>" in posts[-1] and "<@U0SUP>" not in posts[-1]
        assert sweep(START + timedelta(hours=50)) == {"escalation": 1}  # to those ranked above: the admins
        posts = [m.text for m in ws.fake.channels[ws.order(order_id).channel_id].messages if not m.blocks]
        assert "<@U0ADM>" in posts[-1]
        with Session(ws.engine) as session:
            keys = sorted(session.exec(select(Reminder.key)).all())
        assert keys == [f"approval:{order_id}:r1:l2:24h", f"escalation:{order_id}:r1:l2:48h"]


def test_a_reminder_for_a_level_already_given_is_dropped(levels: LocalWorkspace) -> None:
    """A reminder queued while level 1 was awaited runs after level 1 was given: it is not posted (the next
    level has its own, timed from that approval); one for the level awaited is."""
    ws = levels
    order_id = submit(ws, **BIG)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    channel = ws.order(order_id).channel_id
    assert channel is not None
    late = {"about": "approval", "hours": 24, "state": "pending_approval"}
    with Session(ws.engine) as session:
        queue_effects(session, [
            (order_id, "reminder", f"reminder:approval:{order_id}:r1:24h", late | {"people": [SUPERVISOR], "level": 1}),
            (order_id, "reminder", f"reminder:approval:{order_id}:r1:l2:24h",
             late | {"people": [COORDINATOR], "level": 2})], datetime.now(UTC))
        session.commit()
    ws.settle()
    reminders = [m.text for m in ws.fake.channels[channel].messages if "has waited over 24 h" in m.text]
    assert len(reminders) == 1 and "<@U0COORD>" in reminders[0] and "<@U0SUP>" not in reminders[0], reminders


def test_a_level_refusal_in_the_readers_spanish(seeded: Engine) -> None:
    grant(seeded, ADMIN, [Role.ADMIN])
    grant(seeded, SUPERVISOR2, [Role.SUPERVISOR])
    with workspace(seeded, ApprovalPolicy(levels=LEVELS), locales={SUPERVISOR2: "es-ES"}) as ws:
        order_id = submit(ws, **BIG)
        assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
        ws.settle()
        assert refused_on_click(ws, SUPERVISOR2, order_id) == (
            "SO-000001 necesita ahora la aprobación de un coordinador (nivel 2 de 3). Pueden hacerlo: <@U0ADM> o "
            "<@U0COORD>.")



def test_the_last_level_refuses_a_scheduled_date_that_has_passed_meanwhile(seeded: Engine) -> None:
    now = [START]
    two = ApprovalPolicy(levels=LEVELS[:2])
    with LocalWorkspace(seeded, NAMES, clock=lambda: now[0], slack_on_clock=True, policy=two,
                        letterhead=TAXED) as ws:
        scheduled = (START + timedelta(days=2)).date()
        order_id = submit(ws, requested=scheduled.isoformat(), **BIG)
        assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=scheduled.isoformat()).text == ""
        ws.settle()
        now[0] = START + timedelta(days=3)
        before = stored(ws, order_id)
        body = approve_level(ws, COORDINATOR, order_id).json()
        assert body["response_action"] == "update"
        assert body["view"]["blocks"][0]["text"]["text"] == (
            f":warning: SO-000001 was to be scheduled for {ws_date(scheduled)}, which has passed: send it back for "
            "changes, so it is approved again with a new date.")
        assert stored(ws, order_id) == before


def ws_date(day: date) -> str:
    return language("en").date(day)


# --- two bot processes on one database ----------------------------------------------------------------------


@pytest.fixture
def two_bots(seeded: Engine) -> Iterator[tuple[FakeSlack, list[SlackDriver]]]:
    """Two `service-orders run --http` processes under the levels supervisor, then a coordinator above 100."""
    grant(seeded, SUPERVISOR2, [Role.SUPERVISOR])
    with FakeSlack() as fake:
        for user, name in NAMES.items():
            fake.add_user(user, name.split()[0].lower(), real_name=name)
        fake.add_channel("general", members=list(NAMES))
        env = bot_env(fake, database_url(seeded), APPROVAL_LEVELS="supervisor,coordinator>100")
        started = [start_bot(env) for _ in range(2)]
        try:
            yield fake, [SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, fake) for _, port in started]
        finally:
            for process, _ in started:
                process.send_signal(signal.SIGTERM)
            for process, _ in started:
                assert process.wait(timeout=30) == 0


def test_two_processes_record_each_level_once_and_read_it_from_the_database(seeded: Engine, two_bots) -> None:  # type: ignore[no-untyped-def]
    """Two supervisors give level 1 at once, on different processes: one lands, the other is told. The level it
    left is the database's: the other process then refuses a supervisor and takes the coordinator's level 2."""
    fake, (first, second) = two_bots
    policy = ApprovalPolicy(levels=(Level(Role.SUPERVISOR), Level(Role.COORDINATOR, Decimal(100))))
    order = OrderService(seeded, policy=policy).submit(REQUESTER, draft(requested_date=date.fromisoformat(SOON)))
    assert fake.wait_for(lambda: _card(seeded, order.id) is not None, timeout=20)
    channel, ts = _card(seeded, order.id)  # type: ignore[misc]

    views = {}
    for driver, user in ((first, SUPERVISOR), (second, SUPERVISOR2)):
        assert driver.click(user, channel, ts, "order_approve").status == 200
        assert fake.wait_for(lambda u=user: fake.open_view_ids(u), timeout=10), fake.ephemerals
        views[user] = fake.views[fake.open_view_ids(user)[-1]]
    answers: dict[str, Any] = {}

    def approve(driver: SlackDriver, user: str) -> None:
        answers[user] = driver.submit(user, views[user], {"field_workers": {"field_workers": users([WORKER])},
                                                          "scheduled_date": {"scheduled_date": date_value(SOON)}})

    at_once(approve, ((first, SUPERVISOR), (second, SUPERVISOR2)))
    bodies = [answers[user].text for user in (SUPERVISOR, SUPERVISOR2)]
    assert sorted(bool(b) for b in bodies) == [False, True], bodies  # one closed its modal, one was told
    with Session(seeded) as session:
        given = session.exec(select(GivenApproval).where(GivenApproval.order_id == order.id)).all()
        assert [(g.level, g.cleared_at) for g in given] == [(1, None)]
        row = session.get(ServiceOrder, order.id)
        assert row is not None and (row.state, row.approval_level, row.current_version) == ("pending_approval", 2, 0)

    # the other process knows level 2 is next: a supervisor is refused there, the coordinator approves there
    # (once the card shows it: its buttons carry the revision they were drawn at)
    assert fake.wait_for(lambda: "level 2 of 2" in json.dumps(fake.message_payload(channel, ts)), timeout=20)
    winner = given[0].approver_id
    other = SUPERVISOR2 if winner == SUPERVISOR else SUPERVISOR
    seen = len(fake.ephemerals)
    assert second.click(other, channel, ts, "order_approve").status == 200
    assert fake.wait_for(lambda: len(fake.ephemerals) > seen, timeout=10)
    assert fake.ephemerals[-1]["text"] == (
        "SO-000001 needs a coordinator's approval next (level 2 of 2). Who can: <@U0COORD>.")
    assert second.click(COORDINATOR, channel, ts, "order_approve").status == 200
    assert fake.wait_for(lambda: [v for v in fake.open_view_ids(COORDINATOR)
                                  if fake.views[v]["callback_id"] == "approve"], timeout=10)
    view = fake.views[fake.open_view_ids(COORDINATOR)[-1]]
    assert second.submit(COORDINATOR, view, {"approval_note": {"approval_note": plain_text("")}}).text == ""
    assert fake.wait_for(lambda: any(f.name == "SO-000001-v1.pdf" for f in fake.files.values()), timeout=20)
    with Session(seeded) as session:
        row = session.get(ServiceOrder, order.id)
        assert row is not None and (row.state, row.approved_by, row.current_version) == ("approved", COORDINATOR, 1)


def _card(engine: Engine, order_id: int) -> tuple[str, str] | None:
    with Session(engine) as session:
        row = session.get(ServiceOrder, order_id)
        return (row.channel_id, row.card_ts) if row and row.channel_id and row.card_ts else None


def test_an_admin_may_reject_at_the_level_that_needs_one(levels: LocalWorkspace) -> None:
    ws = levels
    order_id = submit(ws, **BIG)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert approve_level(ws, COORDINATOR, order_id).text == ""
    ws.settle()
    assert ws.reject(ADMIN, order_id, "Not this quarter").text == ""
    ws.settle()
    assert (ws.order(order_id).state, ws.order(order_id).closed_by) == ("rejected", ADMIN)


def test_those_an_escalation_would_name_are_in_the_channel_before_it(levels: LocalWorkspace) -> None:
    """A level's reminder is escalated to the role above it, as a mention in the order's (private) channel: they
    are invited when the order starts waiting for that level, or the mention would reach nobody."""
    ws = levels
    order_id = submit(ws, **BIG)
    ws.settle()
    channel = ws.order(order_id).channel_id
    assert ADMIN not in ws.fake.channels[channel].members  # level 1 (a supervisor's) escalates to coordinators
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    assert ADMIN in ws.fake.channels[channel].members  # level 2 (a coordinator's) escalates to the admins
