"""Typed outcomes the bot turns into the right Slack surface, in its reader's language.

workflow/ says what went wrong as data (which field, which problem, with what numbers), never as a sentence:
forms/ words a field's problem and puts it on its block; bot/ words a refusal. Nothing was stored when one
of these is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from workflow.vocabulary import Action, CatalogKind, Role, State


class WorkflowError(Exception):
    """Base for every refusal the user should read. Its str() is for logs: the reader gets it worded."""

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({shown})"


class FilesBeingRead(WorkflowError):
    """A version's photos and files are still being read from Slack: its document cannot be frozen yet (the PDF
    waits, the signing page says "try again in a moment", nobody is asked to sign it)."""

    def __init__(self, number: str, version: int) -> None:
        super().__init__()
        self.number, self.version = number, version


class Refused(WorkflowError):
    """The actor may not take this step now (role, assignment, or the order's state)."""


class NotAllowed(Refused):
    """Only someone with one of `roles` (or, when `assigned_field_worker`, a field worker on the order) may."""

    def __init__(self, action: Action, roles: frozenset[Role], assigned_field_worker: bool, number: str,
                 requester: bool = False) -> None:
        super().__init__()
        self.action, self.roles, self.assigned_field_worker, self.number = (
            action, roles, assigned_field_worker, number)
        self.requester = requester  # the order's requester may also take it


class WrongState(Refused):
    """The order is not in the state the step starts from (None: it was never submitted)."""

    def __init__(self, action: Action, state: State | None, number: str) -> None:
        super().__init__()
        self.action, self.state, self.number = action, state, number


class Stale(Refused):
    """The order moved on since the form (or, `on_card`, the card's button) was shown; it is now `state`."""

    def __init__(self, number: str, state: State, on_card: bool = False) -> None:
        super().__init__()
        self.number, self.state, self.on_card = number, state, on_card


# --- the approval policy's refusals (workflow/policy.py): each names who may act instead ---------------------
# `others`: the people (Slack user ids) who may give that approval instead; empty: nobody yet (an admin must
# grant the role).


class OwnOrder(Refused):
    """Separation of duties: whoever submitted an order may not approve or reject it."""

    def __init__(self, action: Action, number: str, others: tuple[str, ...]) -> None:
        super().__init__()
        self.action, self.number, self.others = action, number, others


class OnlyFieldWorker(Refused):
    """Separation of duties, strict: the approver may not be the order's only field worker (`change`: deciding a
    change to it, rather than approving it)."""

    def __init__(self, number: str, others: tuple[str, ...], change: bool = False) -> None:
        super().__init__()
        self.number, self.others, self.change = number, others, change


class LevelNotYours(Refused):
    """The next approval of the order is `level` of `levels`, which needs `role` or higher."""

    def __init__(self, number: str, level: int, levels: int, role: Role, others: tuple[str, ...]) -> None:
        super().__init__()
        self.number, self.level, self.levels, self.role, self.others = number, level, levels, role, others


class AlreadyApproved(Refused):
    """The actor gave an earlier level's approval of this round: each level needs a different person."""

    def __init__(self, number: str, given: int, level: int, levels: int, others: tuple[str, ...]) -> None:
        super().__init__()
        self.number, self.given, self.level, self.levels, self.others = number, given, level, levels, others


class ScheduleLapsed(Refused):
    """The last level's approval would issue version 1 for the date level 1 chose, which has passed."""

    def __init__(self, number: str, scheduled_date: date) -> None:
        super().__init__()
        self.number, self.scheduled_date = number, scheduled_date
class OwnChange(Refused):
    """The change waiting on the order was proposed by whoever is deciding it: someone else must (`approvers`)."""

    def __init__(self, number: str, approvers: tuple[str, ...]) -> None:
        super().__init__()
        self.number, self.approvers = number, approvers


class ChangeAboveLevel(Refused):
    """The change's new total needs a `level` approver (or higher); `approvers` may decide it."""

    def __init__(self, number: str, level: Role, approvers: tuple[str, ...]) -> None:
        super().__init__()
        self.number, self.level, self.approvers = number, level, approvers


class NotFound(WorkflowError):
    """No such order (version None), or the order has no such version. `number` None: no order has the id a
    payload named (an id is never shown: only the number a person typed or read)."""

    def __init__(self, number: str | None, version: int | None = None) -> None:
        super().__init__()
        self.number, self.version = number, version


# --- field problems ----------------------------------------------------------------------------------


class Field(StrEnum):
    """The inputs of the steps, as the domain names them (forms/ maps each to its block)."""

    CLIENT = "client"
    SITE = "site"
    REQUESTED_DATE = "requested_date"
    PRIORITY = "priority"
    DESCRIPTION = "description"
    FREE_ITEMS = "free_items"
    FIELD_WORKERS = "field_workers"
    SCHEDULED_DATE = "scheduled_date"
    NOTES = "notes"  # the approval's notes for the field workers
    NOTE = "note"  # a confirmation's why, a closing note
    REASON = "reason"  # why rejected, why not performed
    START_TIME = "start_time"  # a reschedule's optional time window
    END_TIME = "end_time"
    FILES = "files"  # photos and files a form takes (workflow/attachments.py)


@dataclass(frozen=True)
class ItemRow:
    """One picked item and its quantity: the `row`th (from 0) of the form's item rows."""

    row: int


@dataclass(frozen=True)
class PriceLine:
    """The unit price of one line of the order's current version (`line_id`: its line_item row)."""

    line_id: int


FieldKey = Field | ItemRow | PriceLine


class Problem:
    """What is wrong with a field's value; each kind below carries what its wording needs."""


@dataclass(frozen=True)
class NotInCatalog(Problem):
    """Not a `kind` the catalog has (None: not a service or material)."""

    kind: CatalogKind | None = None


@dataclass(frozen=True)
class SiteOfAnotherClient(Problem):
    site: str
    client: str


@dataclass(frozen=True)
class DateInPast(Problem):
    pass


@dataclass(frozen=True)
class DateTooFar(Problem):
    latest: date
    horizon_days: int


@dataclass(frozen=True)
class NoItems(Problem):
    pass


@dataclass(frozen=True)
class LineOverCeiling(Problem):
    """One line's amount above the ceiling; `description` names a free-text item (None: the row's item)."""

    description: str | None
    amount: Decimal
    ceiling: Decimal
    currency: str


@dataclass(frozen=True)
class TotalOverCeiling(Problem):
    total: Decimal  # with tax
    ceiling: Decimal
    currency: str


@dataclass(frozen=True)
class NotFieldWorkers(Problem):
    users: tuple[str, ...]  # Slack user ids


@dataclass(frozen=True)
class NoLongerOnOrder(Problem):
    pass


@dataclass(frozen=True)
class OnAnotherRow(Problem):
    pass


@dataclass(frozen=True)
class RemovingAbsent(Problem):
    """A quantity of 0 for an item the order does not have."""


@dataclass(frozen=True)
class KeepOneItem(Problem):
    pass


@dataclass(frozen=True)
class NothingChanged(Problem):
    pass


@dataclass(frozen=True)
class FreeItemTaken(Problem):
    description: str


@dataclass(frozen=True)
class Required(Problem):
    pass


@dataclass(frozen=True)
class FileNotAccepted(Problem):
    """A file of a type the order does not keep (images Pillow reads, PDFs), as Slack reported its type."""

    name: str
    mimetype: str


@dataclass(frozen=True)
class FileTooLarge(Problem):
    """A file larger than Slack's limit for a form's files, as Slack reported its size."""

    name: str
    size: int
    limit: int


@dataclass(frozen=True)
class TooManyFiles(Problem):
    limit: int


@dataclass(frozen=True)
class ScheduleUnchanged(Problem):
    """A reschedule to the date and window the order already has."""


@dataclass(frozen=True)
class WindowBackwards(Problem):
    """A time window that ends before (or when) it starts."""


@dataclass(frozen=True)
class KeepOneFieldWorker(Problem):
    """An approved order keeps at least one field worker."""


@dataclass(frozen=True)
class CrewUnchanged(Problem):
    pass


@dataclass(frozen=True)
class NegativePrice(Problem):
    pass


class FieldErrors(WorkflowError):
    """Invalid input, one problem per field. Nothing was stored."""

    def __init__(self, problems: dict[FieldKey, Problem]) -> None:
        super().__init__()
        self.problems = problems
