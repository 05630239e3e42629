"""Orders are numbered per workspace: each counts from SO-000001, what people read and the PDFs show that
number, and a number typed in one workspace finds that workspace's order alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session

from storage.scope import serving
from tests.conftest import NO_REAPPROVAL, REQUESTER, SAMPLE_CATALOG, SUPERVISOR, WORKER
from workflow.catalog import import_csv
from workflow.document import Provider
from workflow.inputs import Approval, ItemQuantity, OrderDraft
from workflow.issuing import issue
from workflow.letterhead import Letterhead
from workflow.people import grant
from workflow.queries import order_card, order_id_by_number
from workflow.service import OrderService
from workflow.verification import Finding, verify
from workflow.vocabulary import Action, Role, order_number, parse_order_number

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # the tests' own clock
LETTERHEAD = Letterhead(Provider(name="Test Provider"))
OTHER = "T0002"


def draft(description: str = "Replace the air filters.") -> OrderDraft:
    return OrderDraft(client_code="ACME", site_code="ACME-HQ", requested_date=NOW.date() + timedelta(days=1),
                      priority="normal", description=description,
                      items=(ItemQuantity("service:HVAC-MNT", Decimal("1"), 0),))


def approved(service: OrderService, when: date, description: str = "Replace the air filters.") -> int:
    order = service.submit(REQUESTER, draft(description))
    service.apply(SUPERVISOR, order.id, Action.APPROVE, order.revision, Approval((WORKER,), when, ""))
    return order.id  # type: ignore[return-value]


def found(engine: Engine, typed: str) -> int | None:
    with Session(engine) as session:
        number = parse_order_number(typed)
        return order_id_by_number(session, number) if number is not None else None


def test_each_workspace_counts_its_orders_from_one_and_finds_only_its_own(seeded: Engine) -> None:
    service = OrderService(seeded, clock=lambda: NOW, policy=NO_REAPPROVAL)
    tomorrow = NOW.date() + timedelta(days=1)
    first = approved(service, tomorrow)  # T0001's, in the tests' workspace
    second = service.submit(REQUESTER, draft()).id
    with serving(OTHER):  # another workspace, with its own catalog and people, in the same database
        import_csv(seeded, SAMPLE_CATALOG)
        grant(seeded, REQUESTER, [Role.REQUESTER])
        grant(seeded, SUPERVISOR, [Role.SUPERVISOR])
        grant(seeded, WORKER, [Role.FIELD_WORKER])
        theirs = approved(service, tomorrow, "Their own job.")
        with Session(seeded) as session:
            assert order_card(session, theirs).number == "SO-000001"
        pdf = issue(seeded, theirs, 1, LETTERHEAD)
        assert pdf.document.order_number == "SO-000001" and pdf.document.filename == "SO-000001-v1.pdf"
        assert found(seeded, "SO-000001") == theirs
        assert found(seeded, "SO-000002") is None  # T0001's second order is not theirs to find
        assert verify(seeded, pdf.pdf, "theirs.pdf").finding is Finding.GENUINE

    assert theirs not in (first, second)
    with Session(seeded) as session:
        assert [order_card(session, o).number for o in (first, second)] == ["SO-000001", "SO-000002"]
    assert found(seeded, "so-1") == first and found(seeded, "2") == second
    assert found(seeded, "SO-000003") is None
    ours = issue(seeded, first, 1, LETTERHEAD)
    assert ours.document.order_number == order_number(1)
    # T0002's PDF names SO-000001 v1 too, but not this workspace's: its fingerprint is not the one issued here
    assert verify(seeded, pdf.pdf, "theirs.pdf").finding is not Finding.GENUINE
    assert verify(seeded, ours.pdf, "ours.pdf").finding is Finding.GENUINE
