"""The forms of the steps on an existing order: approve, reject, confirmation, and the two closings.

Each form is registered under its transition's action, and its callback id is the transition's `form`: the
bot opens and parses whatever form the transition table names, without a branch per step. Every word is in the
form's reader's language (meta.locale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forms import edit_form
from forms.elements import (
    Collector,
    Values,
    View,
    datepicker,
    header,
    input_block,
    modal,
    read_text,
    read_users,
    text_context,
    text_input,
    text_section,
    users_select,
)
from forms.evidence import files_block, parse_files
from forms.fields import (
    NOTES_MAX,
    REASON_MAX,
    decimal_marks,
    optional_text,
    parse_free_items,
    parse_price,
    required_date,
    required_text,
)
from forms.items import FREE_ITEMS, MAX_ROWS, add_rows_button, free_items_block, item_rows, parse_rows
from forms.metadata import FormMeta
from forms.problems import BLOCKS, price_block
from forms.schedule_crew import build_change_crew, build_reschedule, parse_change_crew, parse_reschedule
from i18n import Language, language
from i18n.domain import APPROVAL_OF, priority
from workflow.document import ItemLine
from workflow.errors import Field
from workflow.inputs import (
    Approval,
    ChangeDecision,
    Closing,
    Confirmation,
    LevelApproval,
    LinePrice,
    Pricing,
    Rejection,
    SendBack,
    StepInput,
    Withdrawal,
)
from workflow.numbers import parse_id
from workflow.queries import OrderCard
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action, Role

FIELD_WORKERS, SCHEDULED_DATE, NOTES, REASON, NOTE = (
    BLOCKS[f] for f in (Field.FIELD_WORKERS, Field.SCHEDULED_DATE, Field.NOTES, Field.REASON, Field.NOTE))

Lines = list[tuple[int, ItemLine]]
LEVEL_NOTE = "approval_note"  # a later level's approval form (approval by amount): its only input


def _modal(lang: Language, action: Action, title: str, submit: str, blocks: list, meta: FormMeta) -> View:
    """The step's modal: its callback id is the table row's form."""
    return modal(lang, BY_ACTION[action].form, title, submit, blocks, meta.dump())


def _summary(lang: Language, order: OrderCard) -> dict:
    asked = lang._("Requested for {date}, priority {priority}.").format(
        date=lang.date(order.requested_date), priority=priority(lang, order.priority))
    return text_section(f"{order.number} · {order.client} · {order.site}\n{asked}")


def build_approve(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    """Level 1's form chooses the crew, the date and the notes; a later level's (approval by amount) shows
    those choices and takes an optional note."""
    if order.awaited is not None and order.awaited.level > 1:
        return _build_later_level(meta, order)
    lang = language(meta.locale)
    _ = lang._
    blocks = [
        _summary(lang, order),
        input_block(FIELD_WORKERS, _("Field workers"), users_select(FIELD_WORKERS, _("Who does the job"))),
        input_block(SCHEDULED_DATE, _("Scheduled date"),
                    datepicker(SCHEDULED_DATE, order.requested_date.isoformat())),
        input_block(NOTES, _("Notes for the field workers"),
                    text_input(NOTES, max_length=NOTES_MAX, multiline=True), optional=True),
    ]
    return _modal(lang, Action.APPROVE, lang.p_("modal title", "Approve {number}").format(number=order.number),
                  lang.p_("modal button", "Approve"), blocks, meta)


def _build_later_level(meta: FormMeta, order: OrderCard) -> View:
    lang = language(meta.locale)
    _ = lang._
    awaited, proposal = order.awaited, order.proposal
    assert awaited is not None
    chosen = [_("Level {level} of {levels}: {approval}.").format(
        level=awaited.level, levels=awaited.levels, approval=_(APPROVAL_OF[Role(awaited.role)]))]
    if proposal is not None:
        chosen.append(_("Field workers: {people}").format(
            people=", ".join(proposal.names) or "—"))
        if proposal.scheduled_date:
            chosen.append(_("Scheduled date: {date}").format(date=lang.date(proposal.scheduled_date)))
        if proposal.notes:
            chosen.append(_("Notes for the field workers: {notes}").format(notes=proposal.notes))
    blocks = [
        _summary(lang, order),
        text_section("\n".join(chosen)),  # plain text: a form builds no markup (names, not mentions)
        input_block(LEVEL_NOTE, _("Note (optional)"), text_input(LEVEL_NOTE, max_length=NOTES_MAX, multiline=True),
                    optional=True),
    ]
    return _modal(lang, Action.APPROVE, lang.p_("modal title", "Approve {number}").format(number=order.number),
                  lang.p_("modal button", "Approve"), blocks, meta)


def parse_approve(values: Values, meta: FormMeta) -> Approval | LevelApproval:
    """A later level's form is known by its note's block (Slack sends every input block, filled in or not)."""
    if LEVEL_NOTE in values:
        errors = Collector(language(meta.locale))
        notes = optional_text(values, LEVEL_NOTE, NOTES_MAX, errors)
        errors.raise_if_any()
        return LevelApproval(notes)
    errors = Collector(language(meta.locale))
    workers = read_users(values, FIELD_WORKERS)
    if not workers:
        errors.add(FIELD_WORKERS, errors.lang._("Add at least one field worker."))
    scheduled = required_date(values, SCHEDULED_DATE, errors)
    notes = optional_text(values, NOTES, NOTES_MAX, errors)
    errors.raise_if_any()
    return Approval(tuple(dict.fromkeys(workers)), scheduled, notes)


def _reason_blocks(lang: Language, order: OrderCard, label: str) -> list:
    return [_summary(lang, order),
            input_block(REASON, label, text_input(REASON, max_length=REASON_MAX, multiline=True))]


def build_reject(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    return _modal(lang, Action.REJECT, lang.p_("modal title", "Reject {number}").format(number=order.number),
                  lang.p_("modal button", "Reject"), _reason_blocks(lang, order, lang._("Reason for rejecting")),
                  meta)


def parse_reject(values: Values, meta: FormMeta) -> Rejection:
    errors = Collector(language(meta.locale))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter the reason."))
    errors.raise_if_any()
    return Rejection(reason)


def build_not_performed(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    return _modal(lang, Action.NOT_PERFORM,
                  lang.p_("modal title", "Not performed {number}").format(number=order.number),
                  lang.p_("modal button", "Close order"),
                  [*_reason_blocks(lang, order, lang._("Why was it not performed?")), files_block(lang)], meta)


def parse_not_performed(values: Values, meta: FormMeta) -> Closing:
    errors = Collector(language(meta.locale))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter why it was not performed."))
    errors.raise_if_any()
    return Closing(reason, parse_files(values))


def build_complete(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    blocks = [_summary(lang, order),
              text_context(_("Close the order as completed, as specified in its latest version (v{version}).")
                           .format(version=order.version)),
              input_block(NOTE, _("Closing note"), text_input(NOTE, max_length=NOTES_MAX, multiline=True),
                          optional=True),
              files_block(lang)]
    return _modal(lang, Action.COMPLETE, lang.p_("modal title", "Complete {number}").format(number=order.number),
                  lang.p_("modal button", "Close order"), blocks, meta)


def parse_complete(values: Values, meta: FormMeta) -> Closing:
    errors = Collector(language(meta.locale))
    note = optional_text(values, NOTE, NOTES_MAX, errors)
    errors.raise_if_any()
    return Closing(note, parse_files(values))


def _current_items(lang: Language, lines: Lines) -> str:
    shown = [" ".join(part for part in ("•", lang.number(line.quantity), line.unit or "", line.description) if part)
             for _, line in lines]
    text = "\n".join(shown)
    return text if len(text) <= 2900 else text[:2900].rsplit("\n", 1)[0] + "\n…"


def build_confirm(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    blocks = [
        _summary(lang, order),
        header(_("Items now (v{version})").format(version=order.version)),
        text_section(_current_items(lang, lines)),
        text_context(_("To change an item, pick it and enter its new quantity (0 removes it). "
                       "To add one, pick it from the catalog.")),
        *item_rows(lang, meta.rows, _("New quantity"), _("0 removes the item.")),
    ]
    if meta.rows < MAX_ROWS:
        blocks.append(add_rows_button(lang))
    blocks += [
        free_items_block(lang, _("New items not in the catalog")),
        input_block(FIELD_WORKERS, _("Add field workers"), users_select(FIELD_WORKERS, _("More people on the job")),
                    optional=True),
        input_block(NOTE, _("Why the change"), text_input(NOTE, max_length=NOTES_MAX, multiline=True)),
        files_block(lang),
    ]
    return _modal(lang, Action.CONFIRM, lang.p_("modal title", "Confirmation {number}").format(number=order.number),
                  lang.p_("modal button", "File it"), blocks, meta)


def parse_confirm(values: Values, meta: FormMeta) -> Confirmation:
    errors = Collector(language(meta.locale))
    marks = decimal_marks(meta.locale)
    changes = parse_rows(values, meta.rows, errors, allow_zero=True, marks=marks)
    free = parse_free_items(values, FREE_ITEMS, errors, marks)
    workers = read_users(values, FIELD_WORKERS)
    note = required_text(values, NOTE, NOTES_MAX, errors, errors.lang._("Enter why the order changes."))
    errors.raise_if_any()
    return Confirmation(changes, free, tuple(dict.fromkeys(workers)), note, parse_files(values))


# the modal's 100 blocks: the summary, the reason and at most this many lines' prices
PRICE_LINES_MAX = 95
PRICE_TEXT_MAX = 24


def _price_text(line: ItemLine, marks: str) -> str | None:
    """The current unit price as the reader types it (their own decimal mark), or None: not priced yet."""
    if line.unit_price is None:
        return None
    return f"{line.unit_price.normalize():f}".replace(".", marks[-1])


def build_set_prices(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    marks = decimal_marks(meta.locale)
    blocks = [_summary(lang, order),
              text_context(_("Unit prices of version {version}. Change the ones that are wrong; "
                             "a blank price stays as it is.").format(version=order.version))]
    for line_id, line in lines[:PRICE_LINES_MAX]:
        quantity = " ".join(part for part in (lang.number(line.quantity), line.unit or "") if part)
        label = f"{line.code} · {line.description} ({quantity})" if line.code else f"{line.description} ({quantity})"
        now = _price_text(line, marks)
        blocks.append(input_block(
            price_block(line_id), label,
            text_input(price_block(line_id), max_length=PRICE_TEXT_MAX, initial=now,
                       placeholder=_("Unit price, like {example}").format(example=f"150{marks[-1]}50")),
            optional=True, hint=None if now is not None else _("No price yet.")))
    blocks.append(input_block(REASON, _("Why the prices change"),
                              text_input(REASON, max_length=REASON_MAX, multiline=True)))
    return _modal(lang, Action.SET_PRICES, lang.p_("modal title", "Prices {number}").format(number=order.number),
                  lang.p_("modal button", "Set prices"), blocks, meta)


def parse_set_prices(values: Values, meta: FormMeta) -> Pricing:
    errors = Collector(language(meta.locale))
    marks = decimal_marks(meta.locale)
    prices: list[LinePrice] = []
    for block_id in values:
        kind, _, raw_id = block_id.partition(":")
        line_id = parse_id(raw_id) if kind == "price" else None
        if line_id is None:  # not a price block, or a forged one ("price:²" is digits to str.isdigit)
            continue
        typed = read_text(values, block_id)
        if not typed:  # left blank: that line keeps its price
            continue
        price = parse_price(typed, errors.lang, marks)
        if isinstance(price, str):
            errors.add(block_id, price[:1].upper() + price[1:] + ".")
            continue
        prices.append(LinePrice(line_id, price))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter why the prices change."))
    errors.raise_if_any()
    return Pricing(tuple(prices), reason)
def build_withdraw(meta: FormMeta, order: OrderCard, lines: Lines, action: Action = Action.WITHDRAW) -> View:
    lang = language(meta.locale)
    return _modal(lang, action, lang.p_("modal title", "Withdraw {number}").format(number=order.number),
                  lang.p_("modal button", "Withdraw"),
                  _reason_blocks(lang, order, lang._("Why do you withdraw it?")), meta)


def build_withdraw_sent_back(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    return build_withdraw(meta, order, lines, Action.WITHDRAW_SENT_BACK)


def parse_withdraw(values: Values, meta: FormMeta) -> Withdrawal:
    errors = Collector(language(meta.locale))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter why you withdraw it."))
    errors.raise_if_any()
    return Withdrawal(reason)


def build_send_back(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    _ = lang._
    blocks = [_summary(lang, order),
              input_block(NOTE, _("What should the requester change?"),
                          text_input(NOTE, max_length=NOTES_MAX, multiline=True))]
    return _modal(lang, Action.SEND_BACK, lang.p_("modal title", "Send back {number}").format(number=order.number),
                  lang.p_("modal button", "Send back"), blocks, meta)


def parse_send_back(values: Values, meta: FormMeta) -> SendBack:
    errors = Collector(language(meta.locale))
    note = required_text(values, NOTE, NOTES_MAX, errors, errors.lang._("Enter what should change."))
    errors.raise_if_any()
    return SendBack(note)


def _waiting_change(lang: Language, order: OrderCard) -> list:
    """What the change waiting for approval would make: each item before → after, and the subtotal."""
    facts = order.waiting
    if facts is None:  # decided meanwhile: the submission will say so (its revision is stale)
        return [text_context(lang._("No change is waiting for approval on this order."))]
    currency = facts.currency or "USD"
    said = []
    for item in facts.items:
        if facts.action is Action.SET_PRICES:
            before, after = (lang.amount(p, currency) if p is not None else "—"
                             for p in (item.unit_price_before, item.unit_price_after))
        else:
            before, after = (lang.number(q) if q is not None else "—" for q in (item.quantity_before,
                                                                                  item.quantity_after))
        said.append(f"• {item.description}: {before} → {after}")
    if facts.total is not None and facts.delta is not None:
        said.append(lang._("Subtotal {before} → {after}").format(
            before=lang.amount(facts.total - facts.delta, currency), after=lang.amount(facts.total, currency)))
    if facts.note:
        said.append(lang._("Why: {note}").format(note=facts.note))
    return [text_section("\n".join(said)[:2900])]


def build_approve_change(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    blocks = [_summary(lang, order), *_waiting_change(lang, order),
              text_context(lang._("Approving issues the next version of the order and its PDF, as proposed."))]
    return _modal(lang, Action.APPROVE_CHANGE, lang.p_("modal title", "Approve change"),
                  lang.p_("modal button", "Approve"), blocks, meta)


def parse_approve_change(values: Values, meta: FormMeta) -> ChangeDecision:
    return ChangeDecision()


def build_reject_change(meta: FormMeta, order: OrderCard, lines: Lines) -> View:
    lang = language(meta.locale)
    blocks = [_summary(lang, order), *_waiting_change(lang, order),
              input_block(REASON, lang._("Why is the change rejected?"),
                          text_input(REASON, max_length=REASON_MAX, multiline=True))]
    return _modal(lang, Action.REJECT_CHANGE, lang.p_("modal title", "Reject change"),
                  lang.p_("modal button", "Reject"), blocks, meta)


def parse_reject_change(values: Values, meta: FormMeta) -> ChangeDecision:
    errors = Collector(language(meta.locale))
    reason = required_text(values, REASON, REASON_MAX, errors, errors.lang._("Enter why the change is rejected."))
    errors.raise_if_any()
    return ChangeDecision(reason)


@dataclass(frozen=True)
class StepForm:
    build: Callable[[FormMeta, OrderCard, Lines], View]
    parse: Callable[[Values, FormMeta], StepInput]
    has_item_rows: bool = False


# keyed by the transition's action; the callback id each form's modal carries is that row's `form`
STEP_FORMS: dict[Action, StepForm] = {
    Action.APPROVE: StepForm(build_approve, parse_approve),
    Action.REJECT: StepForm(build_reject, parse_reject),
    Action.CONFIRM: StepForm(build_confirm, parse_confirm, has_item_rows=True),
    Action.COMPLETE: StepForm(build_complete, parse_complete),
    Action.NOT_PERFORM: StepForm(build_not_performed, parse_not_performed),
    Action.SET_PRICES: StepForm(build_set_prices, parse_set_prices),
    Action.EDIT: StepForm(edit_form.build_edit, edit_form.parse, has_item_rows=True),
    Action.WITHDRAW: StepForm(build_withdraw, parse_withdraw),
    Action.SEND_BACK: StepForm(build_send_back, parse_send_back),
    Action.RESUBMIT: StepForm(edit_form.build_resubmit, edit_form.parse, has_item_rows=True),
    Action.WITHDRAW_SENT_BACK: StepForm(build_withdraw_sent_back, parse_withdraw),
    Action.RESCHEDULE: StepForm(build_reschedule, parse_reschedule),
    Action.CHANGE_CREW: StepForm(build_change_crew, parse_change_crew),
    Action.APPROVE_CHANGE: StepForm(build_approve_change, parse_approve_change),
    Action.REJECT_CHANGE: StepForm(build_reject_change, parse_reject_change),
}
