"""Each person's forms in their own Slack language, in an English workspace: the modal, the numbers they type,
the errors and refusals they read. End to end, as Slack drives the bot: the bot learns each person's language
from users.info (include_locale), as in production."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from forms.metadata import FormMeta
from sandbox.local import LocalWorkspace
from storage.models import LineItem, OrderVersion, Person, ServiceOrder
from tests.conftest import OUTSIDER, REQUESTER, SUPERVISOR, TEAM, WORKER
from tests.test_end_to_end import PEOPLE, SOON, submit
from workflow.people import remember


def test_a_spanish_reader_gets_the_submit_form_in_spanish_in_an_english_workspace(seeded) -> None:  # type: ignore[no-untyped-def]
    # the provider's LOCALE is English; Slack says the requester reads Latin American Spanish (es-LA)
    with LocalWorkspace(seeded, PEOPLE, locales={REQUESTER: "es-LA"}) as ws:
        assert ws.slack.command(REQUESTER, "/order").status == 200
        view = ws.wait_for_view(REQUESTER, "submit_order")
        with Session(ws.engine) as session:
            assert session.get(Person, (TEAM, REQUESTER)).locale == "es_419"  # type: ignore[union-attr]
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
        soon = {"requested_date": {"type": "datepicker", "selected_date": SOON}}
        body = ws.submit(REQUESTER, view, {**values, "requested_date": soon,
                                           "qty_0": {"quantity": {"type": "number_input", "value": "2,5"}}}).json()
        assert body["errors"] == {
            "qty_0": "Escribe la cantidad en dígitos, como 2 o 2.5 (sin otros signos ni espacios)."}
        with Session(ws.engine) as session:
            assert session.exec(select(ServiceOrder)).all() == []

        # the reader's decimal mark is read as such
        ack = ws.submit(REQUESTER, view, {**values, "requested_date": soon})
        assert (ack.status, ack.text) == (200, "")
        with Session(ws.engine) as session:
            version = session.exec(select(OrderVersion)).one()
            quantity = session.exec(select(LineItem.quantity).where(LineItem.version_id == version.id)).one()
            assert quantity == Decimal("2.5")


def test_each_person_reads_refusals_and_step_forms_in_their_language(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, locales={SUPERVISOR: "es-ES"}) as ws:
        order_id = submit(ws)  # the requester reads English
        # the English requester may not approve, and is told so in English
        ws.click_step(REQUESTER, order_id, "order_approve")
        ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == REQUESTER], "the English refusal")
        assert ws.fake.ephemerals[-1]["text"] == "Only a supervisor, a coordinator, or an admin can approve SO-000001."

        # the Spanish supervisor's approve form, and its errors, are in Spanish (people named as Slack names them)
        remember(ws.engine, OUTSIDER, PEOPLE[OUTSIDER], None)
        view = ws.open_step(SUPERVISOR, order_id, "approve")
        assert (view["title"]["text"], view["submit"]["text"]) == ("Aprobar SO-000001", "Aprobar")
        scheduled = {"scheduled_date": {"type": "datepicker", "selected_date": SOON}}
        body = ws.submit(SUPERVISOR, view, {
            "field_workers": {"field_workers": {"type": "multi_users_select", "selected_users": [OUTSIDER]}},
            "scheduled_date": scheduled}).json()
        assert body == {"response_action": "errors", "errors": {
            "field_workers": "Otto Outsider no es técnico de campo. Un administrador puede otorgar el rol."}}
        assert ws.order(order_id).state == "pending_approval"
        ack = ws.submit(SUPERVISOR, view, {
            "field_workers": {"field_workers": {"type": "multi_users_select", "selected_users": [WORKER]}},
            "scheduled_date": scheduled})
        assert (ack.status, ack.text) == (200, "")
        ws.settle()

        # a step the supervisor may not take is refused in Spanish
        told = len(ws.fake.ephemerals)
        ws.click_step(SUPERVISOR, order_id, "order_confirm")
        ws.wait(lambda: len(ws.fake.ephemerals) > told, "the Spanish refusal")
        assert ws.fake.ephemerals[-1]["text"] == ("Solo un técnico de campo asignado a ella o un coordinador puede "
                                                  "registrar una confirmación en SO-000001.")
