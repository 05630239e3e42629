"""The words of the domain: order states, the actions that move an order, and people's roles."""

from __future__ import annotations

from enum import StrEnum

from workflow.numbers import parse_id


class State(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"  # work in progress
    REJECTED = "rejected"
    COMPLETED = "completed"
    NOT_PERFORMED = "not_performed"
    CHANGES_REQUESTED = "changes_requested"  # sent back to the requester before approval
    WITHDRAWN = "withdrawn"  # the requester took it back before approval
    CHANGE_PENDING = "change_pending"  # approved, and a change that raised the total waits for its approval

    @property
    def is_closed(self) -> bool:
        return self in (State.REJECTED, State.COMPLETED, State.NOT_PERFORMED, State.WITHDRAWN)

    @property
    def in_progress(self) -> bool:
        """Approved work: a change waiting for approval does not stop the job, its mornings or its deadline."""
        return self in WORK_IN_PROGRESS


class Action(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    CONFIRM = "confirm"  # file a confirmation: a change to the order, a new version
    COMPLETE = "complete"
    NOT_PERFORM = "not_perform"
    SET_PRICES = "set_prices"  # set or change lines' unit prices, with a reason: a new version
    EDIT = "edit"  # the requester changes the request before approval
    WITHDRAW = "withdraw"  # the requester takes the request back: closed
    SEND_BACK = "send_back"  # a reviewer asks the requester for changes
    RESUBMIT = "resubmit"  # the requester edits what was sent back and asks for approval again
    WITHDRAW_SENT_BACK = "withdraw_sent_back"  # the requester withdraws an order sent back, rather than resubmit
    RESCHEDULE = "reschedule"  # a new scheduled date (and time window): a new version
    CHANGE_CREW = "change_crew"  # add, remove or replace field workers: a new version
    APPROVE_CHANGE = "approve_change"  # a proposed change (it raised the total past REAPPROVAL_OVER) is issued
    REJECT_CHANGE = "reject_change"  # a proposed change is dropped, with a reason: the current version stays


# approved work, with or without a change waiting for approval (lists, reminders, overdue)
WORK_IN_PROGRESS = (State.APPROVED, State.CHANGE_PENDING)


class Role(StrEnum):
    REQUESTER = "requester"
    SUPERVISOR = "supervisor"
    COORDINATOR = "coordinator"
    FIELD_WORKER = "field_worker"
    ADMIN = "admin"


class ItemKind(StrEnum):
    SERVICE = "service"
    MATERIAL = "material"
    FREE = "free"  # a free-text item for what the catalog lacks


class CatalogKind(StrEnum):
    CLIENT = "client"
    SITE = "site"
    SERVICE = "service"
    MATERIAL = "material"
    PRICE = "price"  # a client's own unit price for a service or material


PRIORITIES = ("low", "normal", "high", "urgent")


def order_number(number: int) -> str:
    """What people read for an order: its number in its workspace (`ServiceOrder.number`), never its id."""
    return f"SO-{number:06d}"


def parse_order_number(text: str) -> int | None:
    """'SO-000042', 'so-42' or '42' -> 42, a number in the served workspace (queries.order_id_by_number finds its
    order); anything else (a number no order can have included) -> None."""
    return parse_id(text.strip().upper().removeprefix("SO-"))
