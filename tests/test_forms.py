"""Every form's build (validated by slack_sdk.models, as Slack would) and parse (typed data or field errors)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from slack_sdk.models.views import View

from forms import order_form
from forms.elements import FormErrors
from forms.items import ITEM_ACTION, MAX_ROWS, catalog_option, item_options
from forms.metadata import BadMetadata, ButtonValue, FormMeta
from forms.problems import field_errors
from forms.step_forms import STEP_FORMS
from i18n import english, language
from workflow.document import ItemLine
from workflow.errors import (
    DateTooFar,
    Field,
    FieldErrors,
    ItemRow,
    LineOverCeiling,
    NotFieldWorkers,
    NotInCatalog,
    SiteOfAnotherClient,
)
from workflow.inputs import Approval, Closing, Confirmation, OrderDraft, Rejection
from workflow.queries import OrderCard
from workflow.transitions import BY_ACTION, TRANSITIONS
from workflow.vocabulary import Action, State

CARD = OrderCard(
    id=7, number="SO-000007", revision=3, state=State.APPROVED, version=1, client="Acme (ACME)",
    site="HQ (ACME-HQ)", requester_id="U1", approved_by="U2", field_workers=("U3",),
    requested_date=date(2026, 12, 1), scheduled_date=date(2026, 12, 2), priority="normal", description="Fix",
    item_count=1, total=Decimal("10"), closed_by=None, closed_at=None, close_reason=None, channel_id="C1",
    card_ts="1.2", steps=(),
)
LINES = [(11, ItemLine("material", "CEM-25", "Cement 25 kg", "bag", Decimal("7.4"), Decimal("4"))),
         (12, ItemLine("free", None, "Skip hire", None, None, Decimal("1")))]


def text(value: str) -> dict:
    return {"type": "plain_text_input", "value": value}


def picked(value: str) -> dict:
    return {"type": "external_select", "selected_option": {"text": {"type": "plain_text", "text": value},
                                                           "value": value}}


def values(**fields: dict) -> dict:
    return {block: {"x": state} for block, state in fields.items()}


def valid(view: dict) -> None:
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100
    assert len(view["private_metadata"]) <= 3000


@pytest.mark.parametrize("rows", [1, 3, MAX_ROWS])
def test_submit_form_builds_valid_views(rows: int) -> None:
    view = order_form.build(FormMeta(rows=rows), "2026-11-26")
    valid(view)
    assert view["callback_id"] == order_form.CALLBACK_ID
    assert FormMeta.load(view["private_metadata"]).rows == rows


@pytest.mark.parametrize("action", sorted(STEP_FORMS))
def test_step_forms_build_valid_views(action: Action) -> None:
    view = STEP_FORMS[action].build(FormMeta(order_id=7, revision=3), CARD, LINES)
    valid(view)
    assert view["callback_id"] == BY_ACTION[action].form  # the table row names the form


def test_every_transition_with_a_source_has_a_form() -> None:
    assert {t.action for t in TRANSITIONS if t.source} == set(STEP_FORMS)
    assert BY_ACTION[Action.SUBMIT].form == order_form.CALLBACK_ID


def test_submit_parse_valid() -> None:
    draft = order_form.parse(values(
        client=picked("ACME"), site=picked("ACME-HQ"),
        requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
        priority={"type": "static_select", "selected_option": {"value": "high"}},
        description=text("  Replace filters  "), item_0=picked("service:HVAC-MNT"),
        qty_0={"type": "number_input", "value": "2.5"},
        free_items=text("2 | Crane rental | h | 150\n\n1 | Permit fee"),
    ), FormMeta(rows=3))
    assert isinstance(draft, OrderDraft)
    assert draft.description == "Replace filters" and draft.items[0].quantity == Decimal("2.5")
    assert [(f.description, f.unit, f.unit_price) for f in draft.free_items] == [
        ("Crane rental", "h", Decimal("150")), ("Permit fee", None, None)]


DIGITS = "Enter the quantity in digits, like 2 or 2.5 (no other signs or spaces)."


@pytest.mark.parametrize("fields, errors", [
    ({}, {"client": "Pick a client.", "site": "Pick a site.", "requested_date": "Pick a date.",
          "description": "Enter a description of the job."}),
    ({"qty_0": text("-1"), "item_0": picked("service:X")}, {"qty_0": "Enter a quantity above 0."}),
    ({"qty_0": text("abc"), "item_0": picked("service:X")}, {"qty_0": DIGITS}),
    ({"qty_0": text("0"), "item_0": picked("service:X")}, {"qty_0": "Enter a quantity above 0."}),
    ({"qty_0": text("1.2345"), "item_0": picked("service:X")}, {"qty_0": "Use at most 3 decimals."}),
    ({"item_0": {"type": "external_select", "selected_option": None}, "qty_0": text("2")},
     {"item_0": "Pick an item for this quantity."}),
    ({"item_1": picked("service:X")}, {"qty_1": "Enter a quantity."}),
    ({"description": text("x" * 3001)}, {"description": "Keep it under 3,000 characters (this is 3,001)."}),
    ({"free_items": text("two | thing")}, {"free_items": f"Line 1: {DIGITS}"}),
    ({"free_items": text("no pipes here")}, {"free_items": "Line 1: write “quantity | description | unit | "
                                                           "unit price”, e.g. “2 | Crane rental | h | 150”."}),
    ({"free_items": text("1 | x | h | -3")}, {"free_items": "Line 1: a price is 0 or more"}),
    # numbers are ASCII digits with at most one decimal mark: no grouping, exponents, underscores or other digits
    *[({"qty_0": text(raw), "item_0": picked("service:X")}, {"qty_0": DIGITS})
      for raw in ("1_000", "１２", "1e6", "1,000", "2,5", "1.000,5", "+3", "2 5", "NaN", "Infinity", "0x10", "½")],
    ({"qty_0": text("9" * 40), "item_0": picked("service:X")}, {"qty_0": "Enter at most 1,000,000."}),
    ({"free_items": text("1 | x | h | 1e3")}, {"free_items": "Line 1: write the price in digits, like 2 or 2.5"}),
    ({"free_items": text("1 | x | h | 1_000")}, {"free_items": "Line 1: write the price in digits, like 2 or 2.5"}),
    ({"free_items": text("1 | x | h | 10000000000")},
     {"free_items": "Line 1: a price may be at most 9,999,999,999.9999"}),
    ({"free_items": text("１ | x")}, {"free_items": f"Line 1: {DIGITS}"}),
])
def test_submit_parse_errors(fields: dict, errors: dict) -> None:
    base = {"client": picked("ACME"), "site": picked("ACME-HQ"), "description": text("d"),
            "requested_date": {"type": "datepicker", "selected_date": "2026-12-01"},
            "item_0": picked("service:HVAC-MNT"), "qty_0": text("1")}
    base.update(fields)
    if not fields:
        base = {}
    with pytest.raises(FormErrors) as caught:
        order_form.parse(values(**base), FormMeta(rows=3))
    for field, message in errors.items():
        assert caught.value.errors[field] == message


@pytest.mark.parametrize("raw, quantity", [("2,5", Decimal("2.5")), ("2.5", Decimal("2.5")), ("7", Decimal(7))])
def test_a_spanish_form_takes_a_decimal_comma_and_a_point(raw: str, quantity: Decimal) -> None:
    draft = order_form.parse(values(
        client=picked("ACME"), site=picked("ACME-HQ"), description=text("d"),
        requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
        item_0=picked("service:HVAC-MNT"), qty_0=text(raw), free_items=text(f"{raw} | Grúa | h | {raw}"),
    ), FormMeta(rows=3, locale="es"))
    assert draft.items[0].quantity == quantity
    assert (draft.free_items[0].quantity, draft.free_items[0].unit_price) == (quantity, quantity)


@pytest.mark.parametrize("raw", ["1.000,5", "1,000.5", "2,,5", "1 000"])
def test_a_spanish_form_takes_no_grouping_marks(raw: str) -> None:
    with pytest.raises(FormErrors) as caught:
        order_form.parse(values(client=picked("ACME"), site=picked("ACME-HQ"), description=text("d"),
                                requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
                                item_0=picked("service:HVAC-MNT"), qty_0=text(raw)), FormMeta(rows=3, locale="es"))
    assert caught.value.errors == {
        "qty_0": "Escribe la cantidad en dígitos, como 2 o 2,5 (sin otros signos ni espacios)."}


@pytest.mark.parametrize("raw, message", [
    ("1.234", "“1.234” se puede leer de dos formas: escribe 1234 o 1,234."),
    ("12.500", "“12.500” se puede leer de dos formas: escribe 12500 o 12,500."),
])
def test_a_point_before_three_digits_is_ambiguous_where_the_comma_is_the_decimal_mark(raw: str, message: str) -> None:
    fields = dict(client=picked("ACME"), site=picked("ACME-HQ"), description=text("d"),
                  requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
                  item_0=picked("service:HVAC-MNT"), qty_0=text(raw), free_items=text(f"1 | Grúa | h | {raw}"))
    with pytest.raises(FormErrors) as caught:
        order_form.parse(values(**fields), FormMeta(rows=3, locale="es"))
    assert caught.value.errors == {"qty_0": message, "free_items": f"Línea 1: {message}"}
    draft = order_form.parse(values(**fields), FormMeta(rows=3))  # in English the point is the decimal mark
    assert draft.items[0].quantity == Decimal(raw)


def test_submit_needs_an_item() -> None:
    with pytest.raises(FormErrors) as caught:
        order_form.parse(values(client=picked("A"), site=picked("S"), description=text("d"),
                                requested_date={"type": "datepicker", "selected_date": "2026-12-01"}),
                         FormMeta(rows=3))
    assert "at least one item" in caught.value.errors["item_0"]


def test_step_parses() -> None:
    users = {"type": "multi_users_select", "selected_users": ["U3", "U3", "U4"]}
    day = {"type": "datepicker", "selected_date": "2026-12-02"}
    meta = FormMeta(order_id=7, revision=3)
    assert STEP_FORMS[Action.APPROVE].parse(values(field_workers=users, scheduled_date=day), meta) == Approval(
        ("U3", "U4"), date(2026, 12, 2), None)
    assert STEP_FORMS[Action.REJECT].parse(values(reason=text(" dup ")), meta) == Rejection("dup")
    assert STEP_FORMS[Action.COMPLETE].parse(values(), meta) == Closing(None)
    assert STEP_FORMS[Action.NOT_PERFORM].parse(values(reason=text("no access")), meta) == Closing("no access")
    confirmation = STEP_FORMS[Action.CONFIRM].parse(values(item_0=picked("line:12"), qty_0=text("0"),
                                                      note=text("not needed")), meta)
    assert isinstance(confirmation, Confirmation) and confirmation.changes[0].quantity == 0


@pytest.mark.parametrize("form, fields, field, message", [
    (Action.APPROVE, {}, "field_workers", "Add at least one field worker."),
    (Action.APPROVE, {"scheduled_date": {"type": "datepicker", "selected_date": "soon"}}, "scheduled_date",
     "“soon” is not a date."),
    (Action.REJECT, {}, "reason", "Enter the reason."),
    (Action.REJECT, {"reason": text("r" * 2001)}, "reason", "Keep it under 2,000 characters (this is 2,001)."),
    (Action.NOT_PERFORM, {}, "reason", "Enter why it was not performed."),
    (Action.CONFIRM, {}, "note", "Enter why the order changes."),
    (Action.COMPLETE, {"note": text("n" * 2001)}, "note", "Keep it under 2,000 characters (this is 2,001)."),
])
def test_step_parse_errors(form: Action, fields: dict, field: str, message: str) -> None:
    with pytest.raises(FormErrors) as caught:
        STEP_FORMS[form].parse(values(**fields), FormMeta(order_id=7))
    assert caught.value.errors[field] == message


@pytest.mark.parametrize("raw", ["", "x", "{}x", '{"order_id": -1}', '{"rows": 500}', '{"revision": "a"}',
                                 '{"evil": 1}', "[]"])
def test_bad_metadata_is_refused(raw: str) -> None:
    with pytest.raises(BadMetadata):
        FormMeta.load(raw if raw != "" else "null")


@pytest.mark.parametrize("raw", [None, "", "7", "a:1", "7:-1", "0:1", "7:1:2"])
def test_bad_button_values_are_refused(raw: str | None) -> None:
    with pytest.raises(BadMetadata):
        ButtonValue.load(raw)


def test_item_options_put_the_order_first_and_fit_slack_limits() -> None:
    class Entry:
        kind, unit, unit_price = "material", "bag", Decimal("7.4")

        def __init__(self, code: str) -> None:
            self.code, self.name = code, "N" * 100

    answer = item_options([Entry("CEM-25"), Entry("OTHER")], english(), "USD", LINES)
    groups = answer["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["On this order", "Catalog"]
    assert [o["value"] for o in groups[0]["options"]] == ["material:CEM-25", "line:12"]
    assert [o["value"] for o in groups[1]["options"]] == ["material:OTHER"]
    assert all(len(o["text"]["text"]) <= 75 for g in groups for o in g["options"])
    assert catalog_option(Entry("X"), english(), "USD")["value"] == "material:X"
    assert ITEM_ACTION == "line_item"


# --- every form in its reader's language -----------------------------------------------------------------------

# the longest number of the first million orders (past those, a title is cut: the summary still names it)
LONG = replace(CARD, number="SO-999999")


def _texts(node: object) -> list[dict]:
    """Every Block Kit text object in a view."""
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("plain_text", "mrkdwn") and "text" in node else []
        return found + [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _texts(value)]
    return []


def _views(locale: str) -> list[dict]:
    return [order_form.build(FormMeta(rows=3, locale=locale), "2026-11-26"),
            *(form.build(FormMeta(order_id=7, revision=3, locale=locale), LONG, LINES)
              for form in STEP_FORMS.values())]


@pytest.mark.parametrize("locale", ["en", "es_CL", "es_419"])
def test_every_form_fits_slack_in_each_language_and_shows_plain_text(locale: str) -> None:
    for view in _views(locale):
        valid(view)
        for part in ("title", "submit", "close"):  # nothing was cut to fit (24 characters)
            assert not view[part]["text"].endswith("…"), view[part]
        assert {t["type"] for t in _texts(view)} == {"plain_text"}  # forms/ writes no mrkdwn


def test_the_submit_form_in_spanish() -> None:
    view = order_form.build(FormMeta(rows=1, locale="es_CL"), "2026-11-26")
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Nueva orden de servicio", "Enviar", "Cancelar")
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Cliente", "Sede", "Fecha solicitada", "Prioridad", "Descripción del trabajo", "Ítem 1",
                      "Cantidad", "Ítems que no están en el catálogo", "Fotos y archivos"]
    priority = next(b for b in view["blocks"] if b.get("block_id") == "priority")["element"]
    assert [o["text"]["text"] for o in priority["options"]] == ["Baja", "Normal", "Alta", "Urgente"]
    assert priority["initial_option"]["value"] == "normal"
    assert "Agregar 3 filas más" in json.dumps(view, ensure_ascii=False)
    assert not {"Client", "Site", "Priority", "Quantity", "Items"} & {t["text"] for t in _texts(view)}


def test_a_spanish_submit_form_reads_a_decimal_comma_and_says_what_is_wrong_in_spanish() -> None:
    meta = FormMeta(rows=3, locale="es_CL")
    draft = order_form.parse(values(
        client=picked("ACME"), site=picked("ACME-HQ"), description=text("Cambiar filtros"),
        requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
        item_0=picked("service:HVAC-MNT"), qty_0=text("2,5"), free_items=text("1,5 | Grúa | h | 150,25")), meta)
    assert draft.items[0].quantity == Decimal("2.5")
    assert (draft.free_items[0].quantity, draft.free_items[0].unit_price) == (Decimal("1.5"), Decimal("150.25"))
    with pytest.raises(FormErrors) as caught:
        order_form.parse(values(qty_0=text("9" * 9), item_0=picked("service:X"), free_items=text("sin barras"),
                                description=text("d" * 3001)), meta)
    assert caught.value.errors == {
        "client": "Elige un cliente.", "site": "Elige una sede.", "requested_date": "Elige una fecha.",
        "description": "Usa menos de 3.000 caracteres (este tiene 3.001).",
        "qty_0": "Escribe como máximo 1.000.000.",
        "free_items": "Línea 1: escribe “cantidad | descripción | unidad | precio unitario”, p. ej. "
                      "“2 | Alquiler de grúa | h | 150”.",
    }


@pytest.mark.parametrize("action, title, submit, label", [
    (Action.APPROVE, "Aprobar SO-000007", "Aprobar", "Técnicos de campo"),
    (Action.REJECT, "Rechazar SO-000007", "Rechazar", "Motivo del rechazo"),
    (Action.CONFIRM, "Confirmación SO-000007", "Registrar", "Ítem 1"),
    (Action.COMPLETE, "Completar SO-000007", "Cerrar orden", "Nota de cierre"),
    (Action.NOT_PERFORM, "No realizada SO-000007", "Cerrar orden", "¿Por qué no se realizó?"),
])
def test_each_step_form_in_spanish(action: Action, title: str, submit: str, label: str) -> None:
    lang = language("es_CL")
    view = STEP_FORMS[action].build(FormMeta(order_id=7, revision=3, locale="es_CL"), CARD, LINES)
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (title, submit, "Cancelar")
    assert [b for b in view["blocks"] if b["type"] == "input"][0]["label"]["text"] == label
    summary = view["blocks"][0]["text"]["text"]
    assert summary == (f"SO-000007 · Acme (ACME) · HQ (ACME-HQ)\nSolicitada para el {lang.date(date(2026, 12, 1))}, "
                       "prioridad normal.")


def test_the_confirmation_form_lists_the_items_with_the_readers_decimal_mark() -> None:
    lines = [(11, ItemLine("material", "CEM-25", "Cement 25 kg", "bag", Decimal("7.4"), Decimal("2.500")))]
    view = STEP_FORMS[Action.CONFIRM].build(FormMeta(order_id=7, revision=3, locale="es_CL"), CARD, lines)
    shown = json.dumps(view, ensure_ascii=False)
    assert "Ítems actuales (v1)" in shown and "• 2,5 bag Cement 25 kg" in shown


@pytest.mark.parametrize("action, fields, field, message", [
    (Action.APPROVE, {}, "field_workers", "Agrega al menos un técnico de campo."),
    (Action.REJECT, {}, "reason", "Escribe el motivo."),
    (Action.NOT_PERFORM, {}, "reason", "Escribe por qué no se realizó."),
    (Action.CONFIRM, {"item_0": picked("line:12"), "qty_0": text("-1")}, "qty_0",
     "Escribe una cantidad de 0 o más (0 quita el ítem)."),
])
def test_step_parse_errors_in_spanish(action: Action, fields: dict, field: str, message: str) -> None:
    with pytest.raises(FormErrors) as caught:
        STEP_FORMS[action].parse(values(**fields), FormMeta(order_id=7, locale="es_CL"))
    assert caught.value.errors[field] == message


def test_item_options_in_spanish() -> None:
    class Entry:
        kind, code, name, unit, unit_price = "material", "CEM-50", "Cemento", "saco", Decimal("1234.5")

    answer = item_options([Entry()], language("es_CL"), "USD", LINES)
    assert [g["label"]["text"] for g in answer["option_groups"]] == ["En esta orden", "Catálogo"]
    assert answer["option_groups"][0]["options"][0]["text"]["text"] == "CEM-25 · Cement 25 kg (ahora 4 bag)"
    assert answer["option_groups"][1]["options"][0]["text"]["text"] == "CEM-50 · Cemento · 1.234,50/saco"


# --- the workflow's field problems, worded on their blocks ----------------------------------------------------

PROBLEMS = FieldErrors({
    ItemRow(2): NotInCatalog(),
    Field.SITE: SiteOfAnotherClient("Obra Norte", "Acme"),
    Field.FIELD_WORKERS: NotFieldWorkers(("U1", "U2")),
    Field.FREE_ITEMS: LineOverCeiling("Grúa", Decimal("1011.5"), Decimal("1000"), "USD"),
    Field.SCHEDULED_DATE: DateTooFar(date(2028, 11, 26), 730),
})


def test_field_problems_are_worded_on_their_blocks_in_english() -> None:
    people = {"U1": "Ana", "U2": "Luis"}.__getitem__
    assert field_errors(english(), PROBLEMS, people) == {
        "item_2": "Pick a service or material from the list.",
        "site": "Obra Norte is a site of another client, not of Acme.",
        "field_workers": "Ana and Luis are not field workers. An admin can grant the role.",
        "free_items": "“Grúa” comes to 1,011.50 USD, above the limit of 1,000 USD for one line.",
        "scheduled_date": "Pick a scheduled date by Nov 26, 2028, at most 730 days ahead.",
    }


def test_field_problems_are_worded_in_spanish() -> None:
    people = {"U1": "Ana", "U2": "Luis"}.__getitem__
    worded = field_errors(language("es_CL"), PROBLEMS, people)
    assert worded["field_workers"] == "Ana y Luis no son técnicos de campo. Un administrador puede otorgar el rol."
    assert worded["free_items"] == "“Grúa” suma 1.011,50 USD, por encima del límite de 1.000 USD por línea."
    assert worded["item_2"] == "Elige un servicio o material de la lista."
    one = field_errors(language("es_CL"), FieldErrors({Field.FIELD_WORKERS: NotFieldWorkers(("U1",))}), people)
    assert one == {"field_workers": "Ana no es técnico de campo. Un administrador puede otorgar el rol."}


def test_the_price_form_reads_only_the_price_blocks_it_could_have_built() -> None:
    """A forged block id ("price:²" passes str.isdigit, then int() fails) is no line: left out, not a crash."""
    values = {"price:²": {"price:²": {"type": "plain_text_input", "value": "1"}},
              "price:0": {"price:0": {"type": "plain_text_input", "value": "5"}},
              "price:7": {"price:7": {"type": "plain_text_input", "value": "12.5"}},
              "reason": {"reason": {"type": "plain_text_input", "value": "New rates"}}}
    parsed = STEP_FORMS[Action.SET_PRICES].parse(values, FormMeta(order_id=7, revision=3))
    assert [(price.line_id, price.unit_price) for price in parsed.prices] == [(7, Decimal("12.5"))]
