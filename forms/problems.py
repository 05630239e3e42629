"""The workflow's field problems, worded in the form's language and put on the block of the field they name."""

from __future__ import annotations

from collections.abc import Callable

from forms.items import FREE_ITEMS, item_block
from i18n import Language
from workflow.errors import (
    CrewUnchanged,
    DateInPast,
    DateTooFar,
    Field,
    FieldErrors,
    FieldKey,
    FileNotAccepted,
    FileTooLarge,
    FreeItemTaken,
    ItemRow,
    KeepOneFieldWorker,
    KeepOneItem,
    LineOverCeiling,
    NegativePrice,
    NoItems,
    NoLongerOnOrder,
    NotFieldWorkers,
    NothingChanged,
    NotInCatalog,
    OnAnotherRow,
    PriceLine,
    Problem,
    RemovingAbsent,
    Required,
    ScheduleUnchanged,
    SiteOfAnotherClient,
    TooManyFiles,
    TotalOverCeiling,
    WindowBackwards,
)
from workflow.vocabulary import CatalogKind

# the block each field is shown in, in whichever form has it
BLOCKS: dict[Field, str] = {
    Field.CLIENT: "client",
    Field.SITE: "site",
    Field.REQUESTED_DATE: "requested_date",
    Field.PRIORITY: "priority",
    Field.DESCRIPTION: "description",
    Field.FREE_ITEMS: FREE_ITEMS,
    Field.FIELD_WORKERS: "field_workers",
    Field.SCHEDULED_DATE: "scheduled_date",
    Field.NOTES: "notes",
    Field.NOTE: "note",
    Field.REASON: "reason",
    Field.START_TIME: "start_time",
    Field.END_TIME: "end_time",
    Field.FILES: "files",
}


def price_block(line_id: int) -> str:
    """The block of one line's unit price in the Set prices form."""
    return f"price:{line_id}"


def block_of(key: FieldKey) -> str:
    if isinstance(key, PriceLine):
        return price_block(key.line_id)
    return item_block(key.row) if isinstance(key, ItemRow) else BLOCKS[key]


def field_errors(lang: Language, error: FieldErrors, name: Callable[[str], str]) -> dict[str, str]:
    """Block id → the problem worded; `name` gives a person's name from their Slack user id."""
    return {block_of(key): problem_text(lang, key, problem, name) for key, problem in error.problems.items()}


def _amount(lang: Language, value: object, currency: str) -> str:
    return f"{lang.money(value, currency)} {currency}"  # type: ignore[arg-type]


def problem_text(lang: Language, key: FieldKey, problem: Problem, name: Callable[[str], str]) -> str:  # noqa: C901
    _ = lang._
    match problem:
        case NotInCatalog(kind=CatalogKind.CLIENT):
            return _("Pick a client from the list.")
        case NotInCatalog(kind=CatalogKind.SITE):
            return _("Pick a site from the list.")
        case NotInCatalog():
            return _("Pick a service or material from the list.")
        case SiteOfAnotherClient(site=site, client=client):
            return _("{site} is a site of another client, not of {client}.").format(site=site, client=client)
        case DateInPast():
            return (_("The scheduled date is in the past.") if key == Field.SCHEDULED_DATE
                    else _("The requested date is in the past."))
        case DateTooFar(latest=latest, horizon_days=days):
            text = (_("Pick a scheduled date by {latest}, at most {days} days ahead.") if key == Field.SCHEDULED_DATE
                    else _("Pick a requested date by {latest}, at most {days} days ahead."))
            return text.format(latest=lang.date(latest), days=lang.number(days))
        case NoItems():
            return _("Add at least one item.")
        case LineOverCeiling(description=description, amount=amount, ceiling=ceiling, currency=currency):
            facts = {"amount": _amount(lang, amount, currency), "ceiling": f"{lang.number(ceiling)} {currency}"}
            if description is None:
                return _("This line comes to {amount}, above the limit of {ceiling} for one line.").format(**facts)
            return _("“{description}” comes to {amount}, above the limit of {ceiling} for one line.").format(
                description=description, **facts)
        case TotalOverCeiling(total=total, ceiling=ceiling, currency=currency):
            return _("The order would come to {total} with tax, above the limit of {ceiling} for one order.").format(
                total=_amount(lang, total, currency), ceiling=f"{lang.number(ceiling)} {currency}")
        case NotFieldWorkers(users=users):
            return lang.n_("{people} is not a field worker. An admin can grant the role.",
                           "{people} are not field workers. An admin can grant the role.", len(users)).format(
                people=lang.list([name(user) for user in users]))
        case NoLongerOnOrder():
            return _("That item is no longer on this order.")
        case OnAnotherRow():
            return _("This item is already on another row.")
        case RemovingAbsent():
            return _("That item is not on the order; a quantity of 0 removes an item.")
        case KeepOneItem():
            return _("An order keeps at least one item; close it as not performed instead.")
        case NothingChanged() if isinstance(key, PriceLine):
            return _("No price changed: enter a new unit price on at least one line.")
        case NegativePrice():
            return _("A price is 0 or more.")
        case NothingChanged():
            return _("Nothing changed: change an item or add a field worker.")
        case FreeItemTaken(description=description):
            return _("“{description}” is already on the order: change its quantity instead (pick it in an item "
                     "row), or describe it differently.").format(description=description)
        case ScheduleUnchanged():
            return _("The order is already scheduled for that date and time: pick another.")
        case WindowBackwards():
            return _("The end of the time window must come after its start.")
        case KeepOneFieldWorker():
            return _("An approved order keeps at least one field worker: pick who does the job.")
        case CrewUnchanged():
            return _("That is the crew the order already has: add, remove or replace someone.")
        case FileNotAccepted(name=name_, mimetype=mimetype):
            return _("“{name}” is a {type} file: only images (JPEG, PNG, GIF, WebP) and PDFs are taken.").format(
                name=name_, type=mimetype)
        case FileTooLarge(name=name_, size=size, limit=limit):
            return _("“{name}” is {size} MB, above the limit of {limit} MB for one file.").format(
                name=name_, size=lang.number(round(size / 2**20, 1)), limit=lang.number(limit // 2**20))
        case TooManyFiles(limit=limit):
            return _("Attach at most {count} files.").format(count=lang.number(limit))
        case Required() if key == Field.REASON:
            return _("Say why the order was not performed.")
        case _:
            return _("Fill this in.")
