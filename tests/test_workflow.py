"""The transition table and the workflow service, on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from bot.refusals import refusal_text
from bot.render.facts import describe
from i18n import english, language
from i18n.domain import BUTTONS, DOING, DONE, who_may
from storage.models import AuditEvent, OrderVersion, PendingEffect, ServiceOrder
from storage.scope import serving
from tests.conftest import COORDINATOR, NO_REAPPROVAL, OUTSIDER, REQUESTER, SUPERVISOR, TEAM, WORKER, WORKER2
from workflow.document import Provider, VersionDocument
from workflow.errors import (
    DateInPast,
    DateTooFar,
    Field,
    FieldErrors,
    FreeItemTaken,
    ItemRow,
    NotAllowed,
    NotFieldWorkers,
    NothingChanged,
    NotInCatalog,
    OnAnotherRow,
    Problem,
    Refused,
    RemovingAbsent,
    Required,
    SiteOfAnotherClient,
    Stale,
    WrongState,
)
from workflow.facts import StepFacts
from workflow.inputs import Approval, Closing, Confirmation, FreeItem, ItemQuantity, OrderDraft, Rejection
from workflow.issuing import issue
from workflow.letterhead import Letterhead
from workflow.limits import Limits
from workflow.people import remember
from workflow.queries import audit_trail, order_card, version_lines
from workflow.service import OrderService, roles_of
from workflow.transitions import BY_ACTION, TRANSITIONS, available
from workflow.vocabulary import Action, State

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LETTERHEAD = Letterhead(Provider(name="Test Provider", currency="EUR", tax_rate=Decimal("0.21")))
TOMORROW = date(2026, 11, 27)


def draft(**changes) -> OrderDraft:  # type: ignore[no-untyped-def]
    base = dict(client_code="ACME", site_code="ACME-HQ", requested_date=TOMORROW, priority="high",
                description="Replace the air filters on floor 3.",
                items=(ItemQuantity("service:HVAC-MNT", Decimal("3"), 0),
                       ItemQuantity("material:FLT-AIR", Decimal("4"), 1)),
                free_items=(FreeItem("Skip hire", Decimal(1), "unit", Decimal("80")),))
    base.update(changes)
    return OrderDraft(**base)  # type: ignore[arg-type]


@pytest.fixture
def service(seeded) -> OrderService:  # type: ignore[no-untyped-def]
    return OrderService(seeded, clock=lambda: NOW, policy=NO_REAPPROVAL)


def with_money_of(letterhead: Letterhead, engine: Engine) -> OrderService:
    """The service as the bot builds it: its currency and tax rate from the same settings as the letterhead (a
    version is issued in the money it was made in)."""
    return OrderService(engine, clock=lambda: NOW, currency=letterhead.provider.currency, policy=NO_REAPPROVAL,
                        limits=Limits(tax_rate=letterhead.provider.tax_rate))


def approved(service: OrderService) -> ServiceOrder:
    order = service.submit(REQUESTER, draft())
    return service.apply(SUPERVISOR, order.id, Action.APPROVE, order.revision,
                         Approval((WORKER,), TOMORROW, "Bring the ladder"))


def test_table_is_complete_and_consistent() -> None:
    assert {t.action for t in TRANSITIONS} == set(Action)
    assert [t.action for t in available(State.PENDING_APPROVAL)] == [Action.APPROVE, Action.REJECT, Action.EDIT,
                                                                     Action.WITHDRAW, Action.SEND_BACK]
    assert [t.action for t in available(State.CHANGES_REQUESTED)] == [Action.RESUBMIT, Action.WITHDRAW_SENT_BACK]
    assert [t.action for t in available(State.APPROVED)] == [Action.CONFIRM, Action.COMPLETE, Action.NOT_PERFORM,
                                                             Action.SET_PRICES, Action.RESCHEDULE, Action.CHANGE_CREW]
    for closed in (State.REJECTED, State.COMPLETED, State.NOT_PERFORMED, State.WITHDRAWN):
        assert available(closed) == []
    # every step has its words, in every language we ship (i18n/domain.py)
    for lang in (english(), language("es")):
        for action in Action:
            assert lang._(BUTTONS[action]) and lang._(DONE[action]) and lang._(DOING[action])
    confirm, approve = BY_ACTION[Action.CONFIRM], BY_ACTION[Action.APPROVE]
    assert who_may(english(), confirm.roles, confirm.assigned_field_worker) == \
        "a field worker assigned to it or a coordinator"
    assert who_may(english(), approve.roles, False) == "a supervisor, a coordinator, or an admin"
    assert who_may(language("es"), approve.roles, False) == "un supervisor, un coordinador o un administrador"


def test_the_reviewers_asked_are_whoever_the_approve_row_names(service: OrderService, seeded) -> None:  # type: ignore[no-untyped-def]
    order = service.submit(REQUESTER, draft())
    with Session(seeded) as session:
        facts = StepFacts.loads(audit_trail(session, order.id)[0].detail)
        approvers = {u for u in (SUPERVISOR, COORDINATOR) if BY_ACTION[Action.APPROVE].roles & roles_of(session, u)}
    assert set(facts.reviewers) == approvers == {SUPERVISOR, COORDINATOR}


def test_submit_stores_order_version_zero_audit_and_effects(service: OrderService, seeded) -> None:  # type: ignore[no-untyped-def]
    order = service.submit(REQUESTER, draft())
    with Session(seeded) as session:
        card = order_card(session, order.id)
        assert card.number == "SO-000001" and card.state == State.PENDING_APPROVAL and card.version == 0
        assert card.client == "Acme Facilities Ltd. (ACME)" and card.item_count == 3
        assert card.total == Decimal("3") * Decimal("45") + 4 * Decimal("23.75") + 80
        events = audit_trail(session, order.id)
        assert [(e.actor_id, e.action, e.from_state, e.to_state) for e in events] == [
            (REQUESTER, "submit", None, "pending_approval")]
        kinds = [e.kind for e in session.exec(select(PendingEffect).order_by(PendingEffect.id))]
        assert kinds == ["open_channel", "invite", "card", "message", "home"]
        invite = session.exec(select(PendingEffect).where(PendingEffect.kind == "invite")).one()
        assert set(__import__("json").loads(invite.payload)["users"]) == {REQUESTER, SUPERVISOR, COORDINATOR}


@pytest.mark.parametrize("changes, field, problem", [
    ({"client_code": "NOPE"}, Field.CLIENT, NotInCatalog),
    ({"site_code": "PENA-OB"}, Field.SITE, SiteOfAnotherClient),
    ({"requested_date": date(2026, 11, 20)}, Field.REQUESTED_DATE, DateInPast),
    ({"items": (ItemQuantity("service:NOPE", Decimal(1), 0),)}, ItemRow(0), NotInCatalog),
    ({"items": (ItemQuantity("service:CRANE", Decimal(1), 0),
                ItemQuantity("service:CRANE", Decimal(2), 1))}, ItemRow(1), OnAnotherRow),
])
def test_submit_refuses_bad_input_and_stores_nothing(service, seeded, changes, field, problem) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FieldErrors) as caught:
        service.submit(REQUESTER, draft(**changes))
    assert isinstance(caught.value.problems[field], problem)
    with Session(seeded) as session:
        assert session.exec(select(ServiceOrder)).all() == []
        assert session.exec(select(PendingEffect)).all() == []


def test_a_date_still_today_somewhere_is_not_past(service) -> None:  # type: ignore[no-untyped-def]
    # 15:00 UTC on the 26th is still the 26th in UTC-12, and already the 27th in UTC+14
    service.submit(REQUESTER, draft(requested_date=date(2026, 11, 26)))
    with pytest.raises(FieldErrors):
        service.submit(REQUESTER, draft(requested_date=date(2026, 11, 25)))


def test_only_requesters_submit(service) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAllowed) as caught:
        service.submit(OUTSIDER, draft())
    assert refusal_text(english(), caught.value) == "Only a requester can submit service orders."


def test_approve_makes_version_one_with_field_workers(seeded) -> None:  # type: ignore[no-untyped-def]
    order = approved(with_money_of(LETTERHEAD, seeded))
    assert order.state == State.APPROVED and order.current_version == 1 and order.revision == 1
    doc = issue(seeded, order.id, 1, LETTERHEAD).document
    assert doc.version == 1 and doc.step == "approve" and doc.state == "approved" and doc.changes == ()
    assert [line.code for line in doc.items] == ["HVAC-MNT", "FLT-AIR", None]
    assert doc.subtotal == Decimal("310.00") and doc.tax == Decimal("65.10") and doc.total == Decimal("375.10")
    assert doc.client_contact == "Grace Hopper (facilities manager)"
    assert doc.site_address == "12 Harbour Road, Southampton SO14 2AQ, UK"
    with Session(seeded) as session:
        kinds = [e.kind for e in session.exec(select(PendingEffect).order_by(PendingEffect.id))][5:]  # after submit's
        assert kinds == ["invite", "card", "message", "upload_pdf", "home"]


def test_approve_checks_roles_and_input(service) -> None:  # type: ignore[no-untyped-def]
    order = service.submit(REQUESTER, draft())
    with pytest.raises(NotAllowed) as refused:
        service.apply(REQUESTER, order.id, Action.APPROVE, 0, Approval((WORKER,), TOMORROW, None))
    assert refusal_text(english(), refused.value) == (
        "Only a supervisor, a coordinator, or an admin can approve SO-000001.")
    with pytest.raises(FieldErrors) as caught:
        service.apply(SUPERVISOR, order.id, Action.APPROVE, 0,
                      Approval((OUTSIDER,), date(2026, 1, 1), None))
    assert caught.value.problems == {Field.FIELD_WORKERS: NotFieldWorkers((OUTSIDER,)),
                                     Field.SCHEDULED_DATE: DateInPast()}


def test_two_approvals_at_the_same_revision_make_one(service, seeded) -> None:  # type: ignore[no-untyped-def]
    order = service.submit(REQUESTER, draft())
    service.apply(SUPERVISOR, order.id, Action.APPROVE, 0, Approval((WORKER,), TOMORROW, None))
    with pytest.raises(WrongState) as caught:
        service.apply(COORDINATOR, order.id, Action.APPROVE, 0, Approval((WORKER2,), TOMORROW, None))
    assert (caught.value.action, caught.value.state) == (Action.APPROVE, State.APPROVED)
    with pytest.raises(WrongState) as caught:
        service.apply(COORDINATOR, order.id, Action.REJECT, 0, Rejection("late"))
    assert refusal_text(english(), caught.value) == ("SO-000001 is approved, work in progress, so you can't reject "
                                                     "the order now.")
    with Session(seeded) as session:
        assert len(session.exec(select(AuditEvent)).all()) == 2


def test_a_form_against_an_old_revision_is_stale(service) -> None:  # type: ignore[no-untyped-def]
    order = approved(service)
    service.apply(WORKER, order.id, Action.CONFIRM, 1, Confirmation(
        (ItemQuantity("material:FLT-AIR", Decimal(6), 0),), (), (), "two more filters"))
    with pytest.raises(Stale) as caught:
        service.apply(COORDINATOR, order.id, Action.COMPLETE, 1, Closing(None))
    assert (caught.value.number, caught.value.state, caught.value.on_card) == ("SO-000001", State.APPROVED, False)


def test_confirmation_adds_changes_removes_and_records_diff(service, seeded) -> None:  # type: ignore[no-untyped-def]
    order = approved(service)
    with Session(seeded) as session:
        skip_line = next(i for i, line in version_lines(session, order.id, 1) if line.code is None)
    order = service.apply(WORKER, order.id, Action.CONFIRM, order.revision, Confirmation(
        (ItemQuantity("material:FLT-AIR", Decimal(6), 0),
         ItemQuantity(f"line:{skip_line}", Decimal(0), 1),
         ItemQuantity("material:CEM-25", Decimal("2.5"), 2)),
        (FreeItem("Night shift surcharge", Decimal(1), None, Decimal("120")),), (WORKER2,),
        "Filters were clogged; skip not needed"))
    assert order.current_version == 2 and order.state == State.APPROVED
    doc = issue(seeded, order.id, 2, LETTERHEAD).document
    assert doc.previous_subtotal == Decimal("310.00") and [h.version for h in doc.history] == [1]
    with Session(seeded) as session:
        assert {(c.kind, (c.before or c.after).description) for c in doc.changes} == {
            ("changed", "Air filter F7 592×592"), ("added", "Cement 25 kg"),
            ("added", "Night shift surcharge"), ("removed", "Skip hire")}
        assert doc.added_people == (WORKER2,)  # no name learnt from Slack yet: the id
        assert doc.change_note == "Filters were clogged; skip not needed"
        event = audit_trail(session, order.id)[-1]
    # the audit stores typed facts, no words and no markup; bot/ renders them per reader
    assert "<@" not in event.detail
    facts = StepFacts.loads(event.detail)
    assert (facts.action, facts.actor, facts.version, facts.people_added) == (Action.CONFIRM, WORKER, 2, (WORKER2,))
    assert {(i.change, i.description, i.quantity_before, i.quantity_after) for i in facts.items} == {
        ("changed", "Air filter F7 592×592", Decimal(4), Decimal(6)), ("added", "Cement 25 kg", None, Decimal("2.5")),
        ("added", "Night shift surcharge", None, Decimal(1)), ("removed", "Skip hire", Decimal(1), None)}
    assert (facts.total, facts.delta, facts.note) == (Decimal("416.00"), Decimal("106.00"), doc.change_note)
    said = describe(event, english())
    assert said.startswith("<@U0FW1> filed a confirmation. Version 2: ")
    assert "Air filter F7 592×592 4 → 6" in said and "− Skip hire" in said and "<@U0FW2>" in said
    assert ("Change before tax: +$106.00. Subtotal 416.00 · tax 0% 0.00 · total 416.00 USD. "
            "Why: Filters were clogged; skip not needed") in said
    spanish = describe(event, language("es_CL"))
    assert "registró una confirmación" in spanish and "Versión 2" in spanish and "US$106,00" in spanish


# 11:00 UTC on 10 March: already the 11th at UTC+14, still the 9th at UTC-12
ZONES_DISAGREE = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(("tz", "requested", "problem"), [
    ("Pacific/Kiritimati", date(2026, 3, 10), DateInPast()),  # UTC+14: the 10th is yesterday
    ("Etc/GMT+12", date(2026, 3, 9), None),  # UTC-12: the 9th is today
    (None, date(2026, 3, 9), None),  # zone unknown: the earliest today on earth
    ("Etc/GMT+12", date(2028, 3, 8), None),  # the horizon: 730 days from the 9th
    ("Pacific/Kiritimati", date(2028, 3, 10), None),  # … from the 11th
    ("Etc/GMT+12", date(2028, 3, 10), DateTooFar(date(2028, 3, 8), 730)),
])
def test_a_requested_date_is_judged_by_the_requesters_today(seeded: Engine, tz: str | None, requested: date,
                                                              problem: Problem | None) -> None:
    remember(seeded, REQUESTER, "Rosa", tz, now=ZONES_DISAGREE)
    service = OrderService(seeded, clock=lambda: ZONES_DISAGREE, policy=NO_REAPPROVAL)
    if problem is None:
        assert service.submit(REQUESTER, draft(requested_date=requested)).requested_date == requested
    else:
        with pytest.raises(FieldErrors) as caught:
            service.submit(REQUESTER, draft(requested_date=requested))
        assert caught.value.problems == {Field.REQUESTED_DATE: problem}


def test_a_date_every_zone_accepts_is_checked_without_reading_the_requesters_zone(seeded: Engine) -> None:
    """A submit runs inside Slack's ack: for a date no zone on earth disagrees on, the zone is not read."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(seeded, "before_cursor_execute", record)
    try:
        service = OrderService(seeded, clock=lambda: ZONES_DISAGREE, policy=NO_REAPPROVAL)
        service.submit(REQUESTER, draft(requested_date=date(2026, 3, 12)))
        assert sent and not [s for s in sent if "FROM person" in s]
        sent.clear()
        service.submit(REQUESTER, draft(requested_date=date(2026, 3, 10)))  # UTC+14 and UTC-12 disagree on it
        assert [s for s in sent if s.startswith("SELECT person.tz") and "FROM person" in s]
    finally:
        event.remove(seeded, "before_cursor_execute", record)


def test_confirmation_refusals(service) -> None:  # type: ignore[no-untyped-def]
    order = approved(service)
    with pytest.raises(NotAllowed) as refused:
        service.apply(WORKER2, order.id, Action.CONFIRM, 1, Confirmation((), (), (), "x"))
    assert refusal_text(english(), refused.value).startswith("Only a field worker assigned to it or a coordinator")
    with pytest.raises(FieldErrors) as caught:
        service.apply(WORKER, order.id, Action.CONFIRM, 1, Confirmation(
            (ItemQuantity("material:FLT-AIR", Decimal(4), 0),), (), (), "same"))
    assert caught.value.problems == {Field.NOTE: NothingChanged()}
    with pytest.raises(FieldErrors) as caught:
        service.apply(WORKER, order.id, Action.CONFIRM, 1, Confirmation(
            (ItemQuantity("material:CEM-25", Decimal(0), 0),), (), (), "x"))
    assert caught.value.problems == {ItemRow(0): RemovingAbsent()}


def test_closing_and_closed_orders_refuse_everything(service, seeded) -> None:  # type: ignore[no-untyped-def]
    order = approved(service)
    before = issue(seeded, order.id, 1, LETTERHEAD).document
    with pytest.raises(FieldErrors) as caught:
        service.apply(WORKER, order.id, Action.NOT_PERFORM, 1, Closing(None))
    assert caught.value.problems == {Field.REASON: Required()}
    order = service.apply(WORKER, order.id, Action.COMPLETE, 1, Closing("All done"))
    assert order.state == State.COMPLETED and order.closed_by == WORKER
    for action in Action:
        if action is Action.SUBMIT:
            continue
        with pytest.raises(Refused) as refused:
            service.authorize(COORDINATOR, order.id, action)
        assert refusal_text(english(), refused.value) == "SO-000001 is already completed: it can no longer be changed."
    # a version's document does not change when the order moves on
    assert issue(seeded, order.id, 1, LETTERHEAD).document == before
    # closing issues the closing record: the same items, who closed it, when and how
    assert order.current_version == 2
    record = issue(seeded, order.id, 2, LETTERHEAD).document
    assert (record.step, record.state, record.closed_by, record.change_note) == (
        "complete", "completed", WORKER, "All done")
    assert record.changes == () and record.items == before.items
    assert [h.fingerprint for h in record.history] == [before.fingerprint]


def test_reject(service, seeded) -> None:  # type: ignore[no-untyped-def]
    order = service.submit(REQUESTER, draft())
    order = service.apply(COORDINATOR, order.id, Action.REJECT, 0, Rejection("Duplicate of SO-000007"))
    assert order.state == State.REJECTED and order.close_reason == "Duplicate of SO-000007"
    with Session(seeded) as session:
        assert session.exec(select(OrderVersion).where(OrderVersion.number >= 1)).all() == []
    assert NOW - timedelta(0) == order.closed_at


def test_a_free_text_item_is_known_by_its_description(service, seeded) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FieldErrors) as caught:
        service.submit(REQUESTER, draft(free_items=(FreeItem("Labour", Decimal(1), "h", Decimal(40)),
                                                    FreeItem("labour", Decimal(2), "day", Decimal(300)))))
    assert caught.value.problems == {Field.FREE_ITEMS: FreeItemTaken("labour")}
    order = approved(service)  # has the free item "Skip hire"
    with pytest.raises(FieldErrors) as caught:
        service.apply(WORKER, order.id, Action.CONFIRM, 1, Confirmation(
            (), (FreeItem("skip HIRE", Decimal(2)),), (), "another skip"))
    assert caught.value.problems == {Field.FREE_ITEMS: FreeItemTaken("skip HIRE")}
    # a confirmation that touches other lines keeps every free line as it was
    order = service.apply(WORKER, order.id, Action.CONFIRM, 1, Confirmation(
        (ItemQuantity("service:HVAC-MNT", Decimal(4), 0),), (), (), "one more hour"))
    doc = issue(seeded, order.id, 2, LETTERHEAD).document
    assert [c.kind for c in doc.changes] == ["changed"]
    assert [line.description for line in doc.items][-1] == "Skip hire"


def test_money_is_exact_on_every_database(service, seeded) -> None:  # type: ignore[no-untyped-def]
    order = service.submit(REQUESTER, draft(free_items=(
        FreeItem("Precision part", Decimal("0.001"), "g", Decimal("9999999999.9999")),)))
    with Session(seeded) as session:
        line = version_lines(session, order.id, 0)[-1][1]
        assert line.unit_price == Decimal("9999999999.9999") and line.quantity == Decimal("0.001")
        assert line.total("EUR") == Decimal("10000000.00") and line.total("CLP") == Decimal("10000000")


def test_an_issued_document_is_frozen(service, seeded) -> None:  # type: ignore[no-untyped-def]
    from storage.models import CatalogEntry
    from workflow.people import remember
    order = approved(service)
    first = issue(seeded, order.id, 1, LETTERHEAD).document
    assert VersionDocument.from_json(first.canonical_json()) == first
    # names, catalog and settings change afterwards: the issued version does not
    remember(seeded, REQUESTER, "Somebody Else", None)
    with Session(seeded) as session:
        client = session.exec(select(CatalogEntry).where(CatalogEntry.code == "ACME")).one()
        client.name = "Renamed Ltd."
        session.add(client)
        session.commit()
    again = issue(seeded, order.id, 1, Letterhead(Provider(name="Other", currency="CLP"))).document
    assert again == first and again.fingerprint == first.fingerprint
    with Session(seeded) as session:
        stored = session.exec(select(OrderVersion).where(OrderVersion.number == 1)).one()
        assert stored.fingerprint == first.fingerprint and len(first.fingerprint) == 64


def test_rounding_follows_the_currency(seeded) -> None:  # type: ignore[no-untyped-def]
    letterhead = Letterhead(Provider(name="P", currency="EUR", tax_rate=Decimal("0.19")))
    service = with_money_of(letterhead, seeded)
    order = service.submit(REQUESTER, draft(items=(), free_items=(
        FreeItem("Odd", Decimal(3), "u", Decimal("0.335")),)))
    order = service.apply(SUPERVISOR, order.id, Action.APPROVE, 0, Approval((WORKER,), TOMORROW, None))
    eur = issue(seeded, order.id, 1, letterhead).document
    assert eur.subtotal == Decimal("1.01") and eur.tax == Decimal("0.19") and eur.total == Decimal("1.20")


def test_people_learnt_at_once_by_several_processes_are_stored_once(engine) -> None:  # type: ignore[no-untyped-def]
    # Two bot processes learn the same new person (users.info) at the same moment, and two Home-tab opens of
    # one user arrive together: every write succeeds, and the last one's values are kept.
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from storage.models import HomeViewer, Person
    from workflow.people import remember, saw_home

    writers = 8
    barrier = Barrier(writers)

    def learn(n: int) -> None:
        barrier.wait()
        with serving(TEAM):  # a thread of its own: its own context
            remember(engine, "U0NEW", f"Name {n}", "America/Santiago")
            saw_home(engine, "U0NEW", datetime(2026, 11, 26, 12, n, tzinfo=UTC))

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(learn, range(writers)))  # re-raises a writer's error
    with Session(engine) as session:
        people = session.exec(select(Person).where(Person.user_id == "U0NEW")).all()
        assert len(people) == 1 and people[0].name.startswith("Name ") and people[0].tz == "America/Santiago"
        assert len(session.exec(select(HomeViewer).where(HomeViewer.user_id == "U0NEW")).all()) == 1
