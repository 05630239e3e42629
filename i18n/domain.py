"""The domain's words, keyed by its enums: states, steps, roles, priorities, item kinds.

A step's wording lives here beside its row's action (the transition table in workflow/ holds no words):
its button, what it is called in a sentence ("approve SO-000001"), and what the actor did ("approved the
order"). Translate on use: `lang._(STATES[state])`, or the helpers below.
"""

from __future__ import annotations

from i18n import N_, Language
from workflow.vocabulary import Action, CatalogKind, ItemKind, Role, State

STATES = {
    State.PENDING_APPROVAL: N_("Pending approval"),
    State.APPROVED: N_("Approved, work in progress"),
    State.REJECTED: N_("Rejected"),
    State.COMPLETED: N_("Completed"),
    State.NOT_PERFORMED: N_("Not performed"),
    State.CHANGES_REQUESTED: N_("Changes requested"),
    State.WITHDRAWN: N_("Withdrawn"),
    State.CHANGE_PENDING: N_("Waiting for approval of the change"),
}

# the state in a sentence: "SO-000001 is already completed"
STATES_IN_SENTENCE = {
    State.PENDING_APPROVAL: N_("pending approval"),
    State.APPROVED: N_("approved, work in progress"),
    State.REJECTED: N_("rejected"),
    State.COMPLETED: N_("completed"),
    State.NOT_PERFORMED: N_("not performed"),
    State.CHANGES_REQUESTED: N_("sent back for changes"),
    State.WITHDRAWN: N_("withdrawn"),
    State.CHANGE_PENDING: N_("waiting for approval of a change"),
}

BUTTONS = {
    Action.SUBMIT: N_("New order"),
    Action.APPROVE: N_("Approve"),
    Action.REJECT: N_("Reject"),
    Action.CONFIRM: N_("File a confirmation"),
    Action.COMPLETE: N_("Close as completed"),
    Action.NOT_PERFORM: N_("Close as not performed"),
    Action.SET_PRICES: N_("Set prices"),
    Action.EDIT: N_("Edit"),
    Action.WITHDRAW: N_("Withdraw"),
    Action.SEND_BACK: N_("Send back for changes"),
    Action.RESUBMIT: N_("Edit and resubmit"),
    Action.WITHDRAW_SENT_BACK: N_("Withdraw"),
    Action.RESCHEDULE: N_("Reschedule"),
    Action.CHANGE_CREW: N_("Change crew"),
    Action.APPROVE_CHANGE: N_("Approve the change"),
    Action.REJECT_CHANGE: N_("Reject the change"),
}

# what the actor did, after their name: "Ana approved the order."
DONE = {
    Action.SUBMIT: N_("submitted the order"),
    Action.APPROVE: N_("approved the order"),
    Action.REJECT: N_("rejected the order"),
    Action.CONFIRM: N_("filed a confirmation"),
    Action.COMPLETE: N_("closed the order as completed"),
    Action.NOT_PERFORM: N_("closed the order as not performed"),
    Action.SET_PRICES: N_("set prices"),
    Action.EDIT: N_("edited the request"),
    Action.WITHDRAW: N_("withdrew the order"),
    Action.SEND_BACK: N_("sent the order back for changes"),
    Action.RESUBMIT: N_("resubmitted the order"),
    Action.WITHDRAW_SENT_BACK: N_("withdrew the order"),
    Action.RESCHEDULE: N_("rescheduled the order"),
    Action.CHANGE_CREW: N_("changed the crew"),
    Action.APPROVE_CHANGE: N_("approved the change"),
    Action.REJECT_CHANGE: N_("rejected the change"),
}

# a step held for approval, after its author's name: "Carla proposed a confirmation."
PROPOSED = {
    Action.CONFIRM: N_("proposed a confirmation"),
    Action.SET_PRICES: N_("proposed new prices"),
}

# the step as something one may or may not do: "Only a supervisor can {approve SO-000001}."
DOING = {
    Action.SUBMIT: N_("submit service orders"),
    Action.APPROVE: N_("approve {number}"),
    Action.REJECT: N_("reject {number}"),
    Action.CONFIRM: N_("file a confirmation on {number}"),
    Action.COMPLETE: N_("close {number} as completed"),
    Action.NOT_PERFORM: N_("close {number} as not performed"),
    Action.SET_PRICES: N_("set prices on {number}"),
    Action.EDIT: N_("edit {number}"),
    Action.WITHDRAW: N_("withdraw {number}"),
    Action.SEND_BACK: N_("send {number} back for changes"),
    Action.RESUBMIT: N_("resubmit {number}"),
    Action.WITHDRAW_SENT_BACK: N_("withdraw {number}"),
    Action.RESCHEDULE: N_("reschedule {number}"),
    Action.CHANGE_CREW: N_("change the crew of {number}"),
    Action.APPROVE_CHANGE: N_("approve the change to {number}"),
    Action.REJECT_CHANGE: N_("reject the change to {number}"),
}

ROLES = {
    Role.REQUESTER: N_("requester"),
    Role.SUPERVISOR: N_("supervisor"),
    Role.COORDINATOR: N_("coordinator"),
    Role.FIELD_WORKER: N_("field worker"),
    Role.ADMIN: N_("admin"),
}

# a person of that role, in "Only {a supervisor or a coordinator} can …"
A_ROLE = {
    Role.REQUESTER: N_("a requester"),
    Role.SUPERVISOR: N_("a supervisor"),
    Role.COORDINATOR: N_("a coordinator"),
    Role.FIELD_WORKER: N_("a field worker"),
    Role.ADMIN: N_("an admin"),
}
ASSIGNED_FIELD_WORKER = N_("a field worker assigned to it")

# the approval a level needs (workflow/policy.py), in "SO-000001 needs {a coordinator's approval} next"
APPROVAL_OF = {
    Role.SUPERVISOR: N_("a supervisor's approval"),
    Role.COORDINATOR: N_("a coordinator's approval"),
    Role.ADMIN: N_("an admin's approval"),
}
THE_REQUESTER = N_("the person who requested it")

PRIORITIES = {"low": N_("low"), "normal": N_("normal"), "high": N_("high"), "urgent": N_("urgent")}

ITEM_KINDS = {ItemKind.SERVICE: N_("Services"), ItemKind.MATERIAL: N_("Materials"), ItemKind.FREE: N_("Other items")}

CATALOG_KINDS = {CatalogKind.CLIENT: N_("client"), CatalogKind.SITE: N_("site"), CatalogKind.SERVICE: N_("service"),
                 CatalogKind.MATERIAL: N_("material"), CatalogKind.PRICE: N_("client price")}


def state(lang: Language, value: State | str) -> str:
    return lang._(STATES[State(value)])


def priority(lang: Language, value: str) -> str:
    return lang._(PRIORITIES[value]) if value in PRIORITIES else value


def who_may(lang: Language, roles: frozenset[Role], assigned_field_worker: bool, requester: bool = False) -> str:
    """'a supervisor or a coordinator', 'a field worker assigned to it or a coordinator',
    'the person who requested it'."""
    names = [lang._(A_ROLE[role]) for role in Role if role in roles]
    if assigned_field_worker:
        names.insert(0, lang._(ASSIGNED_FIELD_WORKER))
    if requester:
        names.insert(0, lang._(THE_REQUESTER))
    return lang.list(names, style="or")
