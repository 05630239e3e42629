"""Each person's forms in their own language, in an English workspace: the modal, the numbers they type, the
errors and refusals they read. End to end, as Slack drives the bot."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from forms.metadata import FormMeta
from sandbox.local import LocalWorkspace
from storage.db import session_scope, upsert
from storage.models import LineItem, OrderVersion, Person, ServiceOrder
from tests.conftest import OUTSIDER, REQUESTER, SUPERVISOR
from tests.test_end_to_end import PEOPLE, SOON, submit
from workflow.clock import utcnow
from workflow.people import remember


def reads(ws: LocalWorkspace, user: str, locale: str) -> None:
    """`user` reads Slack in `locale`, as the bot records it (person.locale)."""
    with session_scope(ws.engine) as session:
        upsert(session, Person, {"user_id": user, "name": PEOPLE[user], "locale": locale, "updated_at": utcnow()},
               "user_id")


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:  # the provider's LOCALE: English
        yield workspace


def test_a_spanish_reader_gets_the_submit_form_in_spanish_in_an_english_workspace(ws: LocalWorkspace) -> None:
    reads(ws, REQUESTER, "es_419")
    assert ws.slack.command(REQUESTER, "/order").status == 200
    view = ws.wait_for_view(REQUESTER, "submit_order")
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Nueva orden de servicio", "Enviar", "Cancelar")
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels[:5] == ["Cliente", "Sede", "Fecha solicitada", "Prioridad", "Descripción del trabajo"]
    assert FormMeta.load(view["private_metadata"]).locale == "es_419"

    # what is wrong is said in Spanish, on the fields; nothing is stored
    values = {
        "client": ws.pick(REQUESTER, view, "client", "acme"),
        "site": ws.pick(REQUESTER, view, "site", "hq"),
        "requested_date": {"requested_date": {"type": "datepicker", "selected_date": "2020-01-01"}},
        "description": {"description": {"type": "plain_text_input", "value": "Cambiar filtros"}},
        "item_0": ws.pick(REQUESTER, view, "item_0", "hvac"),
        "qty_0": {"quantity": {"type": "number_input", "value": "2.5"}},  # es_419 writes 2.5 (es_CL 2,5)
    }
    body = ws.submit(REQUESTER, view, values).json()
    assert body == {"response_action": "errors", "errors": {"requested_date": "La fecha solicitada ya pasó."}}
    body = ws.submit(REQUESTER, view, {**values, "qty_0": {"quantity": {"type": "number_input", "value": "2,5"}},
                                       "requested_date": {"requested_date": {"type": "datepicker",
                                                                             "selected_date": SOON}}}).json()
    assert body["errors"] == {"qty_0": "Escribe la cantidad en dígitos, como 2 o 2.5 (sin otros signos ni espacios)."}
    with Session(ws.engine) as session:
        assert session.exec(select(ServiceOrder)).all() == []

    # the reader's decimal mark is read as such
    ack = ws.submit(REQUESTER, view, {**values, "requested_date": {"requested_date": {
        "type": "datepicker", "selected_date": SOON}}})
    assert (ack.status, ack.text) == (200, "")
    with Session(ws.engine) as session:
        version = session.exec(select(OrderVersion)).one()
        assert session.exec(select(LineItem.quantity).where(LineItem.version_id == version.id)).one() == Decimal(
            "2.5")


def test_each_person_reads_refusals_and_step_forms_in_their_language(ws: LocalWorkspace) -> None:
    order_id = submit(ws)  # the requester reads English (the provider's)
    reads(ws, SUPERVISOR, "es_CL")
    # the English requester may not approve, and is told so in English ...
    ws.click_step(REQUESTER, order_id, "order_approve")
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == REQUESTER], "the English refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only a supervisor or a coordinator can approve SO-000001."
    # ... and, once Slack says they read Spanish, in Spanish
    reads(ws, REQUESTER, "es_CL")
    told = len(ws.fake.ephemerals)
    ws.click_step(REQUESTER, order_id, "order_approve")
    ws.wait(lambda: len(ws.fake.ephemerals) > told, "the Spanish refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Solo un supervisor o un coordinador puede aprobar SO-000001."

    # the Spanish supervisor's approve form, and its errors, are in Spanish (with people's names as Slack gave them)
    remember(ws.engine, OUTSIDER, PEOPLE[OUTSIDER], None)
    view = ws.open_step(SUPERVISOR, order_id, "approve")
    assert (view["title"]["text"], view["submit"]["text"]) == ("Aprobar SO-000001", "Aprobar")
    body = ws.submit(SUPERVISOR, view, {
        "field_workers": {"field_workers": {"type": "multi_users_select", "selected_users": [OUTSIDER]}},
        "scheduled_date": {"scheduled_date": {"type": "datepicker", "selected_date": SOON}}}).json()
    assert body == {"response_action": "errors", "errors": {
        "field_workers": "Otto Outsider no es técnico de campo. Un administrador puede otorgar el rol."}}
    assert ws.order(order_id).state == "pending_approval"
