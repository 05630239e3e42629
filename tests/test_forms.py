"""Every form's build (validated by slack_sdk.models, as Slack would) and parse (typed data or field errors)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from slack_sdk.models.views import View

from forms import order_form
from forms.items import ITEM_ACTION, MAX_ROWS, catalog_option, item_options
from forms.metadata import BadMetadata, ButtonValue, FormMeta
from forms.step_forms import STEP_FORMS
from workflow.document import ItemLine
from workflow.errors import FieldErrors
from workflow.inputs import Approval, Closing, Confirmation, OrderDraft, Rejection
from workflow.queries import OrderCard
from workflow.transitions import TRANSITIONS
from workflow.vocabulary import State

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


@pytest.mark.parametrize("form", sorted(STEP_FORMS))
def test_step_forms_build_valid_views(form: str) -> None:
    view = STEP_FORMS[form].build(FormMeta(order_id=7, revision=3), CARD, LINES)
    valid(view)
    assert view["callback_id"] == form


def test_every_transition_with_a_source_has_a_form() -> None:
    assert {t.form for t in TRANSITIONS if t.source} == set(STEP_FORMS)


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
    ({"free_items": text("no pipes here")}, {"free_items": "Line 1: write `quantity | description | unit | "
                                                           "unit price`, e.g. `2 | Crane rental | h | 150`."}),
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
    with pytest.raises(FieldErrors) as caught:
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
    with pytest.raises(FieldErrors) as caught:
        order_form.parse(values(client=picked("ACME"), site=picked("ACME-HQ"), description=text("d"),
                                requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
                                item_0=picked("service:HVAC-MNT"), qty_0=text(raw)), FormMeta(rows=3, locale="es"))
    assert caught.value.errors == {"qty_0": "Enter the quantity in digits, like 2 or 2,5 (no other signs or spaces)."}


@pytest.mark.parametrize("raw, message", [
    ("1.234", "“1.234” can be read two ways: write 1234 or 1,234."),
    ("12.500", "“12.500” can be read two ways: write 12500 or 12,500."),
])
def test_a_point_before_three_digits_is_ambiguous_where_the_comma_is_the_decimal_mark(raw: str, message: str) -> None:
    fields = dict(client=picked("ACME"), site=picked("ACME-HQ"), description=text("d"),
                  requested_date={"type": "datepicker", "selected_date": "2026-12-01"},
                  item_0=picked("service:HVAC-MNT"), qty_0=text(raw), free_items=text(f"1 | Grúa | h | {raw}"))
    with pytest.raises(FieldErrors) as caught:
        order_form.parse(values(**fields), FormMeta(rows=3, locale="es"))
    assert caught.value.errors == {"qty_0": message, "free_items": f"Line 1: {message}"}
    draft = order_form.parse(values(**fields), FormMeta(rows=3))  # in English the point is the decimal mark
    assert draft.items[0].quantity == Decimal(raw)


def test_submit_needs_an_item() -> None:
    with pytest.raises(FieldErrors) as caught:
        order_form.parse(values(client=picked("A"), site=picked("S"), description=text("d"),
                                requested_date={"type": "datepicker", "selected_date": "2026-12-01"}),
                         FormMeta(rows=3))
    assert "at least one item" in caught.value.errors["item_0"]


def test_step_parses() -> None:
    users = {"type": "multi_users_select", "selected_users": ["U3", "U3", "U4"]}
    day = {"type": "datepicker", "selected_date": "2026-12-02"}
    meta = FormMeta(order_id=7, revision=3)
    assert STEP_FORMS["approve"].parse(values(field_workers=users, scheduled_date=day), meta) == Approval(
        ("U3", "U4"), date(2026, 12, 2), None)
    assert STEP_FORMS["reject"].parse(values(reason=text(" dup ")), meta) == Rejection("dup")
    assert STEP_FORMS["complete"].parse(values(), meta) == Closing(None)
    assert STEP_FORMS["not_perform"].parse(values(reason=text("no access")), meta) == Closing("no access")
    confirmation = STEP_FORMS["confirm"].parse(values(item_0=picked("line:12"), qty_0=text("0"),
                                                      note=text("not needed")), meta)
    assert isinstance(confirmation, Confirmation) and confirmation.changes[0].quantity == 0


@pytest.mark.parametrize("form, fields, field, message", [
    ("approve", {}, "field_workers", "Add at least one field worker."),
    ("approve", {"scheduled_date": {"type": "datepicker", "selected_date": "soon"}}, "scheduled_date",
     "'soon' is not a date."),
    ("reject", {}, "reason", "Enter the reason."),
    ("reject", {"reason": text("r" * 2001)}, "reason", "Keep it under 2,000 characters (this is 2,001)."),
    ("not_perform", {}, "reason", "Enter why it was not performed."),
    ("confirm", {}, "note", "Enter why the order changes."),
    ("complete", {"note": text("n" * 2001)}, "note", "Keep it under 2,000 characters (this is 2,001)."),
])
def test_step_parse_errors(form: str, fields: dict, field: str, message: str) -> None:
    with pytest.raises(FieldErrors) as caught:
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

    answer = item_options([Entry("CEM-25"), Entry("OTHER")], LINES)
    groups = answer["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["On this order", "Catalog"]
    assert [o["value"] for o in groups[0]["options"]] == ["material:CEM-25", "line:12"]
    assert [o["value"] for o in groups[1]["options"]] == ["material:OTHER"]
    assert all(len(o["text"]["text"]) <= 75 for g in groups for o in g["options"])
    assert catalog_option(Entry("X"))["value"] == "material:X"
    assert ITEM_ACTION == "line_item"
