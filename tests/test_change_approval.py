"""Re-approval of changes (issue 16, item 3) and the ceilings on every step that changes money (item 4), driven
as Slack would: signed requests into the running bot (click the card's buttons, submit the forms) against the
loopback fake, on a real database.

The order of these tests, once approved: 3 h of HVAC at 45.00 (135), 10 bags of cement at 7.40 (74) and a skip
at 80: 289.00, no tax. REAPPROVAL_OVER is 10 % unless a test says otherwise."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.settings import Settings, SettingsError
from sandbox.local import LocalWorkspace
from sandbox.slackfake.inbound import SlackDriver
from storage.models import AuditEvent, OrderVersion, PendingEffect, ProposedChange, ServiceOrder
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER
from tests.test_bad_input import days_ahead, errors_of, stored
from tests.test_end_to_end import PEOPLE, pdf_text, submit
from tests.test_processes import at_once, bot_env, database_url, start_bot, workspace
from tests.test_rounds import card_text, lines, open_form, text
from tests.test_tracking import answer
from tests.test_workflow import draft
from workflow.inputs import Approval, Confirmation, ItemQuantity
from workflow.limits import Limits
from workflow.people import grant
from workflow.policy import ApprovalPolicy, Level, ReapprovalThreshold
from workflow.service import OrderService
from workflow.vocabulary import Action, Role

TEN_PERCENT = ApprovalPolicy()  # the product's default: REAPPROVAL_OVER=10%


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, policy=TEN_PERCENT) as workspace:
        yield workspace


def approved(ws: LocalWorkspace) -> int:
    order_id = submit(ws)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=days_ahead(3)).text == ""
    ws.settle()
    return order_id


def double_the_cement(ws: LocalWorkspace, order_id: int, user: str = WORKER) -> None:
    """Cement 10 → 50 bags: 289.00 → 585.00, more than double."""
    ack = ws.confirm(user, order_id, changes=[("cement", "50")], note="The slab is twice as big")
    assert ack.text == "", ack.text
    ws.settle()


def buttons(ws: LocalWorkspace, order_id: int) -> list[str]:
    order = ws.order(order_id)
    card = ws.fake.message(order.channel_id, order.card_ts)
    return [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]


def pdfs(ws: LocalWorkspace) -> list[str]:
    return sorted(f.name for f in ws.fake.files.values())


def trail(ws: LocalWorkspace, order_id: int) -> list[tuple[str, str, str | None, str]]:
    with Session(ws.engine) as session:
        return [(e.actor_id, e.action, e.from_state, e.to_state) for e in session.exec(
            select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id))]  # type: ignore[arg-type]


def refused_click(ws: LocalWorkspace, user: str, order_id: int, action: str) -> str:
    """Click a card button that is refused: the ephemeral line the person reads; no form opens."""
    before = len(ws.fake.ephemerals)
    ws.click_step(user, order_id, f"order_{action}")
    ws.wait(lambda: len(ws.fake.ephemerals) > before, "the refusal")
    assert ws.top_view(user) is None
    return str(ws.fake.ephemerals[-1]["text"])


def decide(ws: LocalWorkspace, user: str, order_id: int, action: str, reason: str | None = None) -> Any:
    view = open_form(ws, user, order_id, action, action)
    return ws.submit(user, view, {"reason": {"reason": text(reason)}} if reason is not None else {})


# --- the "Done when": a confirmation that doubles the total waits for approval --------------------------------


def test_a_confirmation_that_doubles_the_total_waits_and_an_approver_issues_it(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    double_the_cement(ws, order_id)

    # no version and no PDF yet: the order waits for approval of the change
    order = ws.order(order_id)
    assert (order.state, order.current_version) == ("change_pending", 1)
    assert pdfs(ws) == ["SO-000001-v1.pdf"]
    assert lines(ws, order_id, 1)[1] == ("Cement 25 kg", "10")
    # the crew sees why its buttons are gone, and the card offers only the decision
    card = card_text(ws, order_id)
    assert "Waiting for approval of the change" in card and "<@U0FW1> proposed a confirmation" in card
    assert "<@U0COORD> <@U0SUP> may approve or reject it." in card
    assert buttons(ws, order_id) == ["order_approve_change", "order_reject_change"]
    transcript = ws.fake.transcript(order.channel_id)
    assert ("@Jürgen Müller proposed a confirmation. Proposed: Cement 25 kg 10 → 50. Change before tax: +$296.00. "
            "Subtotal 585.00 · tax 0% 0.00 · total 585.00 USD. Why: The slab is twice as big Waiting for approval "
            "of the change: @Carla Coordinator @Sam Supervisor, please approve or reject it.") in transcript

    ack = decide(ws, SUPERVISOR, order_id, "approve_change")
    assert ack.text == "", ack.text
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version) == ("approved", 2)
    assert lines(ws, order_id, 2)[1] == ("Cement 25 kg", "50")
    assert pdfs(ws) == ["SO-000001-v1.pdf", "SO-000001-v2.pdf"]
    v2 = pdf_text(next(f for f in ws.fake.files.values() if f.name == "SO-000001-v2.pdf").content)
    # the version is the confirmation's, as it would have been: its author and why
    assert "10 → 50" in v2 and "Note from Jürgen Müller: The slab is twice as big" in v2
    assert ("@Sam Supervisor approved the change. Version 2, proposed by @Jürgen Müller: Cement 25 kg 10 → 50. "
            "Change before tax: +$296.00.") in ws.fake.transcript(order.channel_id)
    assert "order_confirm" in buttons(ws, order_id)
    assert trail(ws, order_id)[-2:] == [(WORKER, "confirm", "approved", "change_pending"),
                                        (SUPERVISOR, "approve_change", "change_pending", "approved")]
    with Session(ws.engine) as session:
        change = session.exec(select(ProposedChange)).one()
        assert (change.outcome, change.decided_by, change.total_before, change.total_after, change.level) == (
            "approved", SUPERVISOR, Decimal("289.0000"), Decimal("585.0000"), "supervisor")


def test_the_author_of_a_change_may_not_approve_or_reject_it(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    double_the_cement(ws, order_id, user=COORDINATOR)  # a coordinator may both file and approve: not their own
    before = stored(ws)
    for action in ("approve_change", "reject_change"):
        assert refused_click(ws, COORDINATOR, order_id, action) == (
            "You proposed this change to SO-000001, so someone else must approve or reject it: <@U0SUP> can.")
    assert stored(ws) == before and ws.order(order_id).state == "change_pending"


def test_a_change_needs_the_level_of_its_new_total(seeded) -> None:  # type: ignore[no-untyped-def]
    # up to 500 a supervisor approves; above it a coordinator (or an admin)
    levels = ApprovalPolicy(levels=(Level(Role.SUPERVISOR), Level(Role.COORDINATOR, Decimal(500))))
    with LocalWorkspace(seeded, PEOPLE, policy=levels) as ws:
        order_id = approved(ws)
        double_the_cement(ws, order_id)  # 585: the coordinator's level
        assert ("Waiting for approval of the change: @Carla Coordinator, please approve or reject it."
                in ws.fake.transcript(ws.order(order_id).channel_id))
        before = stored(ws)
        assert refused_click(ws, SUPERVISOR, order_id, "approve_change") == (
            "The change brings SO-000001 to a total that a coordinator or higher must approve: <@U0COORD> can.")
        assert stored(ws) == before
        assert decide(ws, COORDINATOR, order_id, "approve_change").text == ""
        ws.settle()
        assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 2)


def test_a_rejected_change_keeps_the_version_and_its_author_hears_why(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    double_the_cement(ws, order_id)
    before = stored(ws)
    view = open_form(ws, SUPERVISOR, order_id, "reject_change", "reject_change")
    body = ws.submit(SUPERVISOR, view, {}, check_required=False).json()
    assert body == {"response_action": "errors", "errors": {"reason": "Enter why the change is rejected."}}
    assert stored(ws) == before
    ws.slack.close(SUPERVISOR, ws.top_view(SUPERVISOR))

    assert decide(ws, SUPERVISOR, order_id, "reject_change", "Fifty bags is more than the slab takes").text == ""
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version) == ("approved", 1)
    assert pdfs(ws) == ["SO-000001-v1.pdf"] and lines(ws, order_id, 1)[1] == ("Cement 25 kg", "10")
    assert ("@Sam Supervisor rejected the change. @Jürgen Müller, your change (Cement 25 kg 10 → 50) was not made; "
            "the current version stays. Reason: Fifty bags is more than the slab takes"
            in ws.fake.transcript(order.channel_id))
    assert trail(ws, order_id)[-1] == (SUPERVISOR, "reject_change", "change_pending", "approved")
    # the work goes on: the next confirmation, a small one, issues at once
    assert ws.confirm(WORKER, order_id, changes=[("cement", "12")], note="two more bags").text == ""
    ws.settle()
    assert ws.order(order_id).current_version == 2


def test_other_steps_wait_while_a_change_does(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    form = ws.open_step(WORKER, order_id, "complete")  # opened before the change was proposed
    double_the_cement(ws, order_id, user=COORDINATOR)
    before = stored(ws)
    body = ws.submit(WORKER, form, {"note": {"note": text("done")}}).json()
    assert body["response_action"] == "update"
    assert ("SO-000001 is waiting for approval of a change, so you can't close the order as completed now."
            in str(body["view"]))
    assert stored(ws) == before
    # supervisors find it among what waits for approval; its crew still has it as work
    assert "SO-000001" in str(answer(ws, SUPERVISOR, "list pending")["blocks"])
    assert "SO-000001" in str(answer(ws, WORKER, "list")["blocks"])


# --- the threshold --------------------------------------------------------------------------------------------


def test_a_small_rise_issues_its_version_at_once(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    # 10 → 12 bags: +14.80, 5 % of 289
    assert ws.confirm(WORKER, order_id, changes=[("cement", "12")], note="two more bags").text == ""
    ws.settle()
    assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 2)
    assert pdfs(ws) == ["SO-000001-v1.pdf", "SO-000001-v2.pdf"]


@pytest.mark.parametrize("threshold, waits", [
    (ReapprovalThreshold(), False),  # off: nothing waits
    (ReapprovalThreshold(amount=Decimal(300)), False),  # +296 is not more than 300
    (ReapprovalThreshold(amount=Decimal(295)), True),
    (ReapprovalThreshold(percent=Decimal(150)), False),  # +102 %
])
def test_the_threshold_decides_what_waits(seeded, threshold: ReapprovalThreshold, waits: bool) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, policy=ApprovalPolicy(reapproval=threshold)) as ws:
        order_id = approved(ws)
        double_the_cement(ws, order_id)
        assert ws.order(order_id).state == ("change_pending" if waits else "approved")
        assert ws.order(order_id).current_version == (1 if waits else 2)


def test_new_prices_that_raise_the_total_wait_too(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    ack = ws.set_prices(COORDINATOR, order_id, prices={"Skip hire": "500"}, reason="The hauler's real quote")
    assert ack.text == "", ack.text
    ws.settle()
    order = ws.order(order_id)
    assert (order.state, order.current_version) == ("change_pending", 1)
    assert ("@Carla Coordinator proposed new prices. Proposed: Skip hire: unit price $80.00 → $500.00."
            in ws.fake.transcript(order.channel_id))
    assert decide(ws, SUPERVISOR, order_id, "approve_change").text == ""
    ws.settle()
    assert ws.order(order_id).current_version == 2 and lines(ws, order_id, 2)[2] == ("Skip hire", "1")
    v2 = pdf_text(next(f for f in ws.fake.files.values() if f.name == "SO-000001-v2.pdf").content)
    assert "Prices set" in v2 and "The hauler's real quote" in v2


# --- ceilings: on the field at every step that changes money, and again when a change is approved -------------


def test_a_change_over_a_ceiling_lowered_while_it_waited_is_not_approved(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, policy=TEN_PERCENT) as first:
        order_id = approved(first)
        double_the_cement(first, order_id)
        # the bot restarted with a ceiling of 500, on the same Slack: the change's 585 is above it
        with LocalWorkspace(seeded, PEOPLE, fake=first.fake, policy=TEN_PERCENT,
                            limits=Limits(ceiling=Decimal(500))) as ws:
            before = stored(ws)
            body = decide(ws, SUPERVISOR, order_id, "approve_change").json()
            assert body["response_action"] == "update"
            assert ("The order would come to 585.00 USD with tax, above the limit of 500 USD for one order."
                    in str(body["view"]))
            assert stored(ws) == before and ws.order(order_id).state == "change_pending"
            # rejecting it is always possible
            assert decide(ws, SUPERVISOR, order_id, "reject_change", "Over the limit").text == ""


def test_a_change_over_the_ceiling_is_refused_on_its_field_not_proposed(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, policy=TEN_PERCENT, limits=Limits(ceiling=Decimal(500))) as ws:
        order_id = approved(ws)
        before = stored(ws)
        errors = errors_of(ws.confirm(WORKER, order_id, changes=[("cement", "50")], note="bigger slab"))
        assert errors == {"item_0": "The order would come to 585.00 USD with tax, above the limit of 500 USD for "
                                    "one order."}
        assert stored(ws) == before and ws.order(order_id).state == "approved"


def test_an_edit_before_approval_is_held_to_the_ceilings(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, limits=Limits(ceiling=Decimal(500))) as ws:
        order_id = submit(ws)
        before = stored(ws)
        view = open_form(ws, REQUESTER, order_id, "edit", "edit_order")
        body = ws.submit(REQUESTER, view, {"free_items": {"free_items": text("1 | Skip hire | unit | 600")}}).json()
        assert body == {"response_action": "errors", "errors": {
            "free_items": "“Skip hire” comes to 600.00 USD, above the limit of 500 USD for one line."}}
        assert stored(ws) == before and lines(ws, order_id)[2] == ("Skip hire", "1")


def test_a_resubmission_is_held_to_the_ceilings(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, limits=Limits(ceiling=Decimal(500))) as ws:
        order_id = submit(ws)
        assert ws.send_back(SUPERVISOR, order_id, "Price the skip properly").text == ""
        ws.settle()
        before = stored(ws)
        view = open_form(ws, REQUESTER, order_id, "resubmit", "resubmit_order")
        body = ws.submit(REQUESTER, view, {"free_items": {"free_items": text("1 | Skip hire | unit | 450")}}).json()
        assert body == {"response_action": "errors", "errors": {
            "item_0": "The order would come to 659.00 USD with tax, above the limit of 500 USD for one order."}}
        assert stored(ws) == before and ws.order(order_id).state == "changes_requested"


# --- the setting ----------------------------------------------------------------------------------------------

ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize("raw, threshold", [
    (None, ReapprovalThreshold(percent=Decimal(10))),
    ("15%", ReapprovalThreshold(percent=Decimal(15))),
    (" 7.5 % ", ReapprovalThreshold(percent=Decimal("7.5"))),
    ("500", ReapprovalThreshold(amount=Decimal(500))),
    ("off", ReapprovalThreshold()),
    ("OFF", ReapprovalThreshold()),
])
def test_reapproval_over_is_read(raw: str | None, threshold: ReapprovalThreshold) -> None:
    env = ENV | ({"REAPPROVAL_OVER": raw} if raw is not None else {})
    assert Settings.from_env(env).policy.reapproval == threshold


@pytest.mark.parametrize("raw", ["ten", "0%", "0", "-5", "5%%", "1e3", "1001%", "99999999999", "10 percent"])
def test_a_bad_reapproval_over_is_one_line(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(ENV | {"REAPPROVAL_OVER": raw})
    assert str(caught.value) == (
        "REAPPROVAL_OVER must be a percentage like 10% (above 0, at most 1000%), an amount in digits like 500 "
        f"(above 0, at most 9,999,999,999) or off, not {raw!r}")


# --- two bot processes on one database ------------------------------------------------------------------------


def test_simultaneous_approvals_of_a_change_on_two_processes_make_one_version(seeded) -> None:  # type: ignore[no-untyped-def]
    soon = datetime.now(UTC).date() + timedelta(days=3)
    service = OrderService(seeded, policy=TEN_PERCENT)
    order = service.submit(REQUESTER, draft(requested_date=soon))
    order = service.apply(SUPERVISOR, order.id, Action.APPROVE, order.revision, Approval((WORKER,), soon, None))
    # 3 h of HVAC, 4 filters and a skip (310.00) doubled by 12 more filters: it waits
    order = service.apply(WORKER, order.id, Action.CONFIRM, order.revision, Confirmation(
        (ItemQuantity("material:FLT-AIR", Decimal(16), 0),), (), (), "the whole floor"))
    assert order.state == "change_pending"
    with workspace() as fake:
        started = [start_bot(bot_env(fake, database_url(seeded))) for _ in range(2)]
        try:
            first, second = (SlackDriver(f"http://127.0.0.1:{port}/slack/events", "two-process-secret", fake)
                             for _, port in started)

            def settled() -> ServiceOrder | None:
                with Session(seeded) as session:
                    row = session.get(ServiceOrder, order.id)
                    pending = session.exec(select(PendingEffect).where(PendingEffect.status == "pending")).all()
                    return row if row is not None and row.card_ts and not pending else None

            assert fake.wait_for(lambda: settled() is not None, timeout=30)
            card = settled()
            assert card is not None and card.channel_id and card.card_ts
            views = {}
            for driver, user in ((first, SUPERVISOR), (second, COORDINATOR)):
                assert driver.click(user, card.channel_id, card.card_ts, "order_approve_change").status == 200
                assert fake.wait_for(lambda u=user: fake.open_view_ids(u), timeout=10), fake.ephemerals
                views[user] = fake.views[fake.open_view_ids(user)[-1]]
            answers: dict[str, Any] = {}

            def approve(driver: SlackDriver, user: str) -> None:
                answers[user] = driver.submit(user, views[user], {})

            at_once(approve, ((first, SUPERVISOR), (second, COORDINATOR)))
            assert sorted(bool(answers[u].text) for u in (SUPERVISOR, COORDINATOR)) == [False, True]
            assert fake.wait_for(lambda: any(f.name == "SO-000001-v2.pdf" for f in fake.files.values()), timeout=20)
            time.sleep(1)  # a second runner would have had its chance to issue it again
            assert sum(1 for f in fake.files.values() if f.name == "SO-000001-v2.pdf") == 1
            with Session(seeded) as session:
                assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "approve_change")).all()) == 1
                assert len(session.exec(select(OrderVersion).where(OrderVersion.number == 2)).all()) == 1
        finally:
            for process, _ in started:
                process.send_signal(signal.SIGTERM)
            for process, _ in started:
                assert process.communicate(timeout=30)[0] is not None


# --- review of the merged policy: changes meet the same separation of duties, and small steps add up ---------


def test_the_requester_may_not_decide_a_change_to_their_own_order(seeded) -> None:  # type: ignore[no-untyped-def]
    grant(seeded, REQUESTER, [Role.SUPERVISOR])
    with LocalWorkspace(seeded, PEOPLE, policy=TEN_PERCENT) as ws:
        order_id = approved(ws)
        double_the_cement(ws, order_id, user=COORDINATOR)
        assert refused_click(ws, REQUESTER, order_id, "approve_change") == (
            "You submitted SO-000001, so you may not decide a change to it yourself: someone else must (separation "
            "of duties). Who can: <@U0SUP>.")
        assert ws.order(order_id).state == "change_pending"
        assert decide(ws, SUPERVISOR, order_id, "approve_change").text == ""
        ws.settle()
        assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 2)


def test_small_rises_add_up_from_the_total_last_approved(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    # 289.00 → 303.80 (+5 %): issued at once
    assert ws.confirm(WORKER, order_id, changes=[("cement", "12")], note="Two more bags").text == ""
    ws.settle()
    assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 2)
    # 303.80 → 318.60: +5 % on the current version, but +10.2 % on the 289.00 approved: it waits
    assert ws.confirm(WORKER, order_id, changes=[("cement", "14")], note="Two more again").text == ""
    ws.settle()
    assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("change_pending", 2)
    assert decide(ws, SUPERVISOR, order_id, "approve_change").text == ""
    ws.settle()
    # approved: 318.60 is the new baseline, so the next small step issues at once
    assert ws.confirm(WORKER, order_id, changes=[("cement", "15")], note="One more").text == ""
    ws.settle()
    assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 4)


def test_a_small_rise_into_a_further_level_waits_for_that_level(seeded) -> None:  # type: ignore[no-untyped-def]
    policy = ApprovalPolicy(levels=(Level(Role.SUPERVISOR), Level(Role.COORDINATOR, Decimal(300))))
    with LocalWorkspace(seeded, PEOPLE, policy=policy) as ws:
        order_id = approved(ws)
        # 289.00 → 303.80: +5 %, under the threshold, but above 300, where a coordinator's approval is needed
        assert ws.confirm(WORKER, order_id, changes=[("cement", "12")], note="Two more bags").text == ""
        ws.settle()
        assert ws.order(order_id).state == "change_pending"
        assert refused_click(ws, SUPERVISOR, order_id, "approve_change").startswith(
            "The change brings SO-000001 to a total that a coordinator or higher must approve")
        assert decide(ws, COORDINATOR, order_id, "approve_change").text == ""
        ws.settle()
        assert (ws.order(order_id).state, ws.order(order_id).current_version) == ("approved", 2)
