"""The submit order form: client, site of that client, requested date, priority, description, items."""

from __future__ import annotations

from forms.elements import (
    Collector,
    FormErrors,
    Values,
    View,
    datepicker,
    external_select,
    header,
    input_block,
    modal,
    read_option,
    static_select,
    text_context,
    text_input,
)
from forms.evidence import files_block, parse_files
from forms.fields import DESCRIPTION_MAX, decimal_marks, parse_free_items, required_date, required_text
from forms.items import FREE_ITEMS, MAX_ROWS, add_rows_button, free_items_block, item_block, item_rows, parse_rows
from forms.metadata import FormMeta
from forms.problems import BLOCKS
from i18n import language
from i18n.domain import priority
from workflow.errors import Field
from workflow.inputs import OrderDraft
from workflow.transitions import BY_ACTION
from workflow.vocabulary import PRIORITIES, Action

CALLBACK_ID = BY_ACTION[Action.SUBMIT].form
CLIENT, SITE, REQUESTED_DATE, PRIORITY, DESCRIPTION = (
    BLOCKS[f] for f in (Field.CLIENT, Field.SITE, Field.REQUESTED_DATE, Field.PRIORITY, Field.DESCRIPTION))


def build(meta: FormMeta, today: str | None = None) -> View:
    """The form in its reader's language (meta.locale), which is also the one its answer is read in."""
    lang = language(meta.locale)
    _ = lang._
    priorities = [(p, priority(lang, p).capitalize()) for p in PRIORITIES]
    blocks = [
        input_block(CLIENT, _("Client"), external_select(CLIENT, _("Type to search clients"))),
        input_block(SITE, _("Site"), external_select(SITE, _("Type to search the client's sites")),
                    hint=_("Sites of the client picked above.")),
        input_block(REQUESTED_DATE, _("Requested date"), datepicker(REQUESTED_DATE, today)),
        input_block(PRIORITY, _("Priority"), static_select(PRIORITY, priorities, "normal")),
        input_block(DESCRIPTION, _("Description of the job"),
                    text_input(DESCRIPTION, max_length=DESCRIPTION_MAX, multiline=True)),
        header(_("Items")),
        text_context(_("Services and materials from the catalog, with quantities. Leave unused rows empty.")),
        *item_rows(lang, meta.rows, _("Quantity")),
    ]
    if meta.rows < MAX_ROWS:
        blocks.append(add_rows_button(lang))
    blocks.append(free_items_block(lang, _("Items not in the catalog")))
    blocks.append(files_block(lang))
    return modal(lang, CALLBACK_ID, lang.p_("modal title", "New service order"), lang.p_("modal button", "Submit"),
                 blocks, meta.dump())


def parse(values: Values, meta: FormMeta) -> OrderDraft:
    lang = language(meta.locale)
    errors = Collector(lang)
    client = read_option(values, CLIENT)
    site = read_option(values, SITE)
    if not client:
        errors.add(CLIENT, lang._("Pick a client."))
    if not site:
        errors.add(SITE, lang._("Pick a site."))
    requested = required_date(values, REQUESTED_DATE, errors)
    chosen = read_option(values, PRIORITY) or "normal"
    if chosen not in PRIORITIES:
        errors.add(PRIORITY, lang._("Pick a priority from the list."))
    description = required_text(values, DESCRIPTION, DESCRIPTION_MAX, errors,
                                lang._("Enter a description of the job."))
    marks = decimal_marks(meta.locale)
    items = parse_rows(values, meta.rows, errors, allow_zero=False, marks=marks)
    free = parse_free_items(values, FREE_ITEMS, errors, marks)
    errors.raise_if_any()
    if not items and not free:
        raise FormErrors({item_block(0): lang._("Add at least one item (or an item not in the catalog below).")})
    return OrderDraft(client, site, requested, chosen, description, items, free, parse_files(values))
