"""Prices set after approval, and per-client prices from the catalog, driven as Slack would: signed requests
into the running bot (click the card's "Set prices", submit the form) against the loopback fake, on a real
database."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli_words import import_summary, sheet_error
from i18n import english
from sandbox.local import LocalWorkspace
from storage.models import AuditEvent, ClientPrice
from tests.conftest import COORDINATOR, NO_REAPPROVAL, OUTSIDER, SAMPLE_CATALOG, SUPERVISOR, WORKER
from tests.test_app_home import open_home
from tests.test_bad_input import days_ahead, errors_of, stored
from tests.test_end_to_end import PEOPLE, pdf_text, submit
from tests.test_tracking import answer
from workflow.catalog import import_csv
from workflow.document import Provider
from workflow.facts import StepFacts
from workflow.letterhead import Letterhead
from workflow.limits import Limits
from workflow.people import grant
from workflow.queries import version_lines
from workflow.sheets import SheetError
from workflow.vocabulary import Role


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, policy=NO_REAPPROVAL) as workspace:
        yield workspace


def approved(ws: LocalWorkspace, **changes: object) -> int:
    """An approved order: 3 h of HVAC maintenance at 45.00, 10 bags of cement at 7.40, and a free-text
    "Skip hire" entered without a price."""
    args: dict = dict(free_items="1 | Skip hire | unit")
    args.update(changes)
    order_id = submit(ws, **args)
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=days_ahead(3)).text == ""
    ws.settle()
    return order_id


def prices_now(ws: LocalWorkspace, order_id: int) -> dict[str, Decimal | None]:
    order = ws.order(order_id)
    with Session(ws.engine) as session:
        return {line.description: line.unit_price
                for _, line in version_lines(session, order_id, order.current_version)}


def test_a_coordinator_prices_a_free_item_and_corrects_another(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    card = ws.fake.message(ws.order(order_id).channel_id, ws.order(order_id).card_ts)
    buttons = {e["action_id"]: e["text"]["text"] for b in card.blocks if b["type"] == "actions"
               for e in b["elements"]}
    assert buttons["order_set_prices"] == "Set prices"

    form = ws.open_step(COORDINATOR, order_id, "set_prices")
    shown = {b["label"]["text"]: b["element"].get("initial_value") for b in form["blocks"] if b["type"] == "input"}
    # each line of the current version with its unit price; the free item entered without one is blank
    assert shown["HVAC-MNT · HVAC preventive maintenance (3 h)"] == "45"
    assert shown["Skip hire (1 unit)"] is None
    ws.slack.close(COORDINATOR, form)

    ack = ws.set_prices(COORDINATOR, order_id, prices={"Skip hire": "80", "Cement": "6.9"},
                        reason="Skip quoted by the hauler; cement at the client's rate")
    assert ack.text == "", ack.text
    ws.settle()

    order = ws.order(order_id)
    assert order.state == "approved" and order.current_version == 2
    assert prices_now(ws, order_id) == {"HVAC preventive maintenance": Decimal("45.0000"),
                                        "Cement 25 kg": Decimal("6.9000"), "Skip hire": Decimal("80.0000")}
    with Session(ws.engine) as session:
        event = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()  # type: ignore[union-attr]
        assert event is not None and (event.action, event.from_state, event.to_state) == (
            "set_prices", "approved", "approved")
        facts = StepFacts.loads(event.detail)
    # each price change is a fact with its before and after
    assert {(i.description, i.unit_price_before, i.unit_price_after) for i in facts.items} == {
        ("Cement 25 kg", Decimal("7.4000"), Decimal("6.9000")), ("Skip hire", None, Decimal("80.0000"))}
    assert facts.note == "Skip quoted by the hauler; cement at the client's rate" and facts.delta == Decimal("75.00")

    transcript = ws.fake.transcript(order.channel_id)
    assert "Carla Coordinator set prices. Version 2:" in transcript
    assert "Skip hire: unit price no price → $80.00" in transcript
    assert "Cement 25 kg: unit price $7.40 → $6.90" in transcript
    v2 = next(f for f in ws.fake.files.values() if f.name == "SO-000001-v2.pdf")
    text = pdf_text(v2.content)
    assert "Changes in this version" in text and "Prices set" in text
    assert "Changed Skip hire: unit price" in text and "80.00" in text
    assert "Skip quoted by the hauler" in text


def test_only_a_coordinator_may_set_prices(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    before = stored(ws)
    ws.click_step(WORKER, order_id, "order_set_prices")
    ws.wait(lambda: any(e["user"] == WORKER for e in ws.fake.ephemerals), "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == "Only a coordinator can set prices on SO-000001."
    assert ws.top_view(WORKER) is None and stored(ws) == before


@pytest.mark.parametrize("typed, message", [
    ("-5", "A price is 0 or more."),
    ("twelve", "Write the price in digits, like 2 or 2.5."),
    ("1.23456", "Use at most 4 decimals in a price."),
])
def test_a_bad_price_is_answered_on_its_line_and_stores_nothing(ws: LocalWorkspace, typed: str,
                                                                message: str) -> None:
    order_id = approved(ws)
    before = stored(ws)
    errors = errors_of(ws.set_prices(COORDINATOR, order_id, prices={"Skip hire": typed}, reason="quote"))
    assert list(errors.values()) == [message]
    assert list(errors)[0].startswith("price:")
    assert stored(ws) == before and prices_now(ws, order_id)["Skip hire"] is None


def test_a_reason_is_required(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    before = stored(ws)
    view = ws.open_step(COORDINATOR, order_id, "set_prices")
    block = next(b["block_id"] for b in view["blocks"] if "Skip hire" in b.get("label", {}).get("text", ""))
    body = ws.submit(COORDINATOR, view, {block: {block: {"type": "plain_text_input", "value": "80"}}},
                     check_required=False).json()
    assert body == {"response_action": "errors", "errors": {"reason": "Enter why the prices change."}}
    assert stored(ws) == before


def test_nothing_changed_is_answered_on_the_first_price(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    before = stored(ws)
    errors = errors_of(ws.set_prices(COORDINATOR, order_id, prices={}, reason="just looking"))
    assert list(errors.values()) == ["No price changed: enter a new unit price on at least one line."]
    assert stored(ws) == before


def test_a_price_that_raises_the_total_over_the_ceiling_is_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    # 135 + 74 = 209 now; the skip at 900 takes the order to 1,109 before tax, 1,319.71 with 19 % tax
    with LocalWorkspace(seeded, PEOPLE, limits=Limits(ceiling=Decimal(1000), tax_rate=Decimal("0.19"))) as ws:
        order_id = approved(ws)
        before = stored(ws)
        errors = errors_of(ws.set_prices(COORDINATOR, order_id, prices={"Skip hire": "900"}, reason="quote"))
        assert list(errors.values()) == ["The order would come to 1,319.71 USD with tax, above the limit of "
                                         "1,000 USD for one order."]
        assert stored(ws) == before
        ws.slack.close(COORDINATOR, ws.top_view(COORDINATOR))  # as the coordinator gives up on it
        # lowering a price is always allowed
        assert ws.set_prices(COORDINATOR, order_id, prices={"HVAC": "40"}, reason="discount").text == ""


def test_a_stale_price_form_is_refused_in_the_modal(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    first = ws.open_step(COORDINATOR, order_id, "set_prices")
    assert ws.confirm(WORKER, order_id, changes=[("cement", "12")], note="more cement").text == ""
    ws.settle()
    before = stored(ws)
    block = next(b["block_id"] for b in first["blocks"] if "Skip hire" in b.get("label", {}).get("text", ""))
    body = ws.submit(COORDINATOR, first, {block: {block: {"type": "plain_text_input", "value": "80"}},
                                          "reason": {"reason": {"type": "plain_text_input", "value": "q"}}}).json()
    assert body["response_action"] == "update" and "Not saved" in str(body["view"])
    assert stored(ws) == before


def test_two_forms_at_one_revision_make_one_step(ws: LocalWorkspace) -> None:
    # two coordinators open the form on the same card; both submit: one lands, the other is told, in the modal
    grant(ws.engine, OUTSIDER, [Role.COORDINATOR])
    order_id = approved(ws)
    views = [ws.open_step(user, order_id, "set_prices") for user in (COORDINATOR, OUTSIDER)]
    answers = []
    for user, view in zip((COORDINATOR, OUTSIDER), views, strict=True):
        block = next(b["block_id"] for b in view["blocks"] if "Skip hire" in b.get("label", {}).get("text", ""))
        answers.append(ws.submit(user, view, {block: {block: {"type": "plain_text_input", "value": "80"}},
                                              "reason": {"reason": {"type": "plain_text_input", "value": "q"}}}))
    ws.settle()
    assert answers[0].text == "" and "Not saved" in answers[1].text
    assert ws.order(order_id).current_version == 2
    with Session(ws.engine) as session:
        assert [e.action for e in session.exec(select(AuditEvent))].count("set_prices") == 1


# --- per-client prices: catalog rows of kind `price` ------------------------------------------------------


def catalog(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text("kind,code,name,unit,unit_price,parent\n" + body, encoding="utf-8")
    return path


def test_a_clients_price_is_used_whenever_its_orders_pick_the_item(ws: LocalWorkspace, tmp_path: Path) -> None:
    report = import_csv(ws.engine, catalog(tmp_path, "price,HVAC-MNT,,,40.00,PENA\nprice,CBL-25,,,80,PENA\n"
                                                     "price,HVAC-MNT,,,44.5,ACME\n"))
    assert import_summary(english(), report) == "Imported 3 new client prices."
    # Peñalolén's order: its own price for the HVAC hours, the catalog's for the cement (it has none)
    order_id = approved(ws)
    assert prices_now(ws, order_id) == {"HVAC preventive maintenance": Decimal("40.0000"),
                                        "Cement 25 kg": Decimal("7.4000"), "Skip hire": None}
    # and in a confirmation that adds an item
    assert ws.confirm(WORKER, order_id, changes=[("cable", "1")], note="a roll of cable").text == ""
    ws.settle()
    assert prices_now(ws, order_id)["Cable 2.5 mm² (100 m roll)"] == Decimal("80.0000")
    # another client's order pays its own price
    other = submit(ws, client="acme", site="warehouse", items=[("hvac", "2"), ("cable", "1")], free_items="")
    assert prices_now(ws, other) == {"HVAC preventive maintenance": Decimal("44.5000"),
                                     "Cable 2.5 mm² (100 m roll)": Decimal("89.9000")}
    # a later file changes a client's price: orders from then on use it
    again = import_csv(ws.engine, catalog(tmp_path, "price,HVAC-MNT,,,42,PENA\n"))
    assert again.changed == 1 and again.existing == {"price": 1}


def test_bad_price_rows_are_named_by_line_and_nothing_is_stored(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import_csv(engine, SAMPLE_CATALOG)
    path = catalog(tmp_path, "price,NOPE,,,10,ACME\n"          # line 2: no such item
                             "price,CEM-25,,,10,NOBODY\n"      # line 3: no such client
                             "price,CEM-25,,,-3,ACME\n"        # line 4: a negative price
                             "price,CEM-25,,,7,\n"             # line 5: whose price?
                             "price,CEM-25,,,7,ACME\n"         # line 6: good
                             "price,CEM-25,,,8,ACME\n")        # line 7: the same client's price again
    with pytest.raises(SheetError) as caught:
        import_csv(engine, path)
    assert sheet_error(english(), caught.value) == [
        f"{path}: line 2: code 'NOPE' is not a service or material code (in this file or already imported)",
        f"{path}: line 3: parent 'NOBODY' is not a client code (in this file or already imported)",
        f"{path}: line 4: unit_price '-3' must be 0 or more",
        f"{path}: line 5: a price needs its client's code in 'parent'",
        f"{path}: line 7: price 'CEM-25' already appears on line 6",
    ]
    with Session(engine) as session:
        assert session.exec(select(ClientPrice)).all() == []


def test_a_price_row_may_name_an_item_and_client_of_the_same_file(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import_csv(engine, catalog(tmp_path, "price,GLUE,,,3.10,NEWCO\nclient,NEWCO,New Co,,,\n"
                                         "material,GLUE,Glue,tube,3.50,\n"))
    with Session(engine) as session:
        assert [(p.client_code, p.item_code, p.unit_price) for p in session.exec(select(ClientPrice))] == [
            ("NEWCO", "GLUE", Decimal("3.1000"))]


# --- one way to show money -------------------------------------------------------------------------------


def test_every_surface_shows_subtotal_tax_and_total_as_the_pdf(seeded) -> None:  # type: ignore[no-untyped-def]
    letterhead = Letterhead(Provider(name="Servicios", currency="EUR", tax_rate=Decimal("0.21")))
    with LocalWorkspace(seeded, PEOPLE, letterhead=letterhead) as ws:
        order_id = approved(ws, free_items="1 | Skip hire | unit | 80")
        # 3 h × 45.00 + 10 bags × 7.40 + 80.00 = 289.00; 21 % tax 60.69; 349.69 with tax
        said = "Subtotal 289.00 · tax 21% 60.69 · total 349.69 EUR"
        order = ws.order(order_id)
        card = ws.fake.message(order.channel_id, order.card_ts)
        assert said in str(card.blocks)
        transcript = ws.fake.transcript(order.channel_id)
        assert said + "." in transcript  # the approval's message
        v1 = pdf_text(next(f for f in ws.fake.files.values() if f.name == "SO-000001-v1.pdf").content)
        assert all(figure in v1 for figure in ("289.00", "60.69", "349.69", "EUR"))
        assert said in answer(ws, COORDINATOR, f"status SO-{order_id:06d}")["text"]
        assert said in str(answer(ws, WORKER, "list mine")["blocks"])
        assert said in str(open_home(ws, WORKER)["blocks"])
        # a price step's message ends on the new figures: the skip at 100 adds 20.00, 24.20 with tax
        assert ws.set_prices(COORDINATOR, order_id, prices={"Skip hire": "100"}, reason="quote").text == ""
        ws.settle()
        assert "Subtotal 309.00 · tax 21% 64.89 · total 373.89 EUR." in ws.fake.transcript(order.channel_id)
