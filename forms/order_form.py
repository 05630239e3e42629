"""The submit order form: client, site of that client, requested date, priority, description, items."""

from __future__ import annotations

from forms.elements import (
    Collector,
    Values,
    View,
    actions_block,
    button,
    context,
    datepicker,
    external_select,
    header,
    input_block,
    modal,
    read_option,
    static_select,
    text_input,
)
from forms.fields import DESCRIPTION_MAX, decimal_marks, parse_free_items, required_date, required_text
from forms.items import ADD_ROWS_ACTION, FREE_ITEMS, MAX_ROWS, ROW_STEP, free_items_block, item_rows, parse_rows
from forms.metadata import FormMeta
from workflow.errors import FieldErrors
from workflow.inputs import OrderDraft
from workflow.vocabulary import PRIORITIES

CALLBACK_ID = "submit_order"
CLIENT, SITE, REQUESTED_DATE, PRIORITY, DESCRIPTION = "client", "site", "requested_date", "priority", "description"


def build(meta: FormMeta, today: str | None = None) -> View:
    blocks = [
        input_block(CLIENT, "Client", external_select(CLIENT, "Type to search clients")),
        input_block(SITE, "Site", external_select(SITE, "Type to search the client's sites"),
                    hint="Sites of the client picked above."),
        input_block(REQUESTED_DATE, "Requested date", datepicker(REQUESTED_DATE, today)),
        input_block(PRIORITY, "Priority", static_select(PRIORITY, [(p, p.capitalize()) for p in PRIORITIES],
                                                        "normal")),
        input_block(DESCRIPTION, "Description of the job",
                    text_input(DESCRIPTION, max_length=DESCRIPTION_MAX, multiline=True)),
        header("Items"),
        context("Services and materials from the catalog, with quantities. Leave unused rows empty."),
        *item_rows(meta.rows, "Quantity"),
    ]
    if meta.rows < MAX_ROWS:
        blocks.append(actions_block("item_rows", [button(ADD_ROWS_ACTION, f"Add {ROW_STEP} more rows")]))
    blocks.append(free_items_block())
    return modal(CALLBACK_ID, "New service order", "Submit", blocks, meta.dump())


def parse(values: Values, meta: FormMeta) -> OrderDraft:
    errors = Collector()
    client = read_option(values, CLIENT)
    site = read_option(values, SITE)
    if not client:
        errors.add(CLIENT, "Pick a client.")
    if not site:
        errors.add(SITE, "Pick a site.")
    requested = required_date(values, REQUESTED_DATE, errors)
    priority = read_option(values, PRIORITY) or "normal"
    if priority not in PRIORITIES:
        errors.add(PRIORITY, "Pick a priority from the list.")
    description = required_text(values, DESCRIPTION, DESCRIPTION_MAX, errors, "a description of the job")
    marks = decimal_marks(meta.locale)
    items = parse_rows(values, meta.rows, errors, allow_zero=False, marks=marks)
    free = parse_free_items(values, FREE_ITEMS, errors, marks)
    errors.raise_if_any()
    if not items and not free:
        raise FieldErrors({"item_0": "Add at least one item (or an item not in the catalog below)."})
    return OrderDraft(client, site, requested, priority, description, items, free)
