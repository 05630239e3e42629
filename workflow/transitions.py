"""The transition table: the one place that says who may move an order from which state to which.

Buttons on the order card, the permission check, the form that opens and who is asked to review a new order
(the Approve row's roles) all come from these rows; their words are i18n/domain.py's, keyed by the action.
A new step is a new row (and a new form), not a new branch in a listener.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.errors import NotAllowed, WrongState
from workflow.policy import APPROVING_ROLES
from workflow.vocabulary import Action, Role, State


@dataclass(frozen=True)
class Transition:
    action: Action
    source: State | None  # None: the order does not exist yet
    target: State
    roles: frozenset[Role]
    assigned_field_worker: bool  # a field worker assigned to the order may also take it
    form: str  # the form (modal callback_id) that collects its input
    style: str | None  # how its button looks on the card (Block Kit: primary, danger)
    requester: bool = False  # the order's requester (a person on the order, not a role) may also take it
    # where the step leaves the order when the approval policy holds it (workflow/policy.py): an approval with a
    # further level to give stays pending; a confirmation or new prices past REAPPROVAL_OVER wait as a change
    waits_in: State | None = None


@dataclass(frozen=True)
class Who:
    """Who may take a step the table does not list (asking a client to sign: workflow/signing.py), in its terms."""

    roles: frozenset[Role]
    assigned_field_worker: bool = False
    requester: bool = False


_COORD = frozenset({Role.COORDINATOR})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.SUBMIT, None, State.PENDING_APPROVAL, frozenset({Role.REQUESTER}), False, "submit_order", None),
    # any approving role may click Approve; which level of approval an order needs next, and so whose role it
    # takes, is the approval policy's (workflow/policy.py, applied by workflow/approvals.py)
    Transition(Action.APPROVE, State.PENDING_APPROVAL, State.APPROVED, APPROVING_ROLES, False, "approve", "primary",
               waits_in=State.PENDING_APPROVAL),
    Transition(Action.REJECT, State.PENDING_APPROVAL, State.REJECTED, APPROVING_ROLES, False, "reject", "danger"),
    Transition(Action.CONFIRM, State.APPROVED, State.APPROVED, _COORD, True, "confirm", None,
               waits_in=State.CHANGE_PENDING),
    Transition(Action.COMPLETE, State.APPROVED, State.COMPLETED, _COORD, True, "complete", "primary"),
    Transition(Action.NOT_PERFORM, State.APPROVED, State.NOT_PERFORMED, _COORD, True, "not_perform", "danger"),
    Transition(Action.SET_PRICES, State.APPROVED, State.APPROVED, _COORD, False, "set_prices", None,
               waits_in=State.CHANGE_PENDING),
    # rounds before approval: the requester edits or withdraws; a reviewer sends it back; the requester resubmits
    Transition(Action.EDIT, State.PENDING_APPROVAL, State.PENDING_APPROVAL, frozenset(), False, "edit_order", None,
               requester=True),
    Transition(Action.WITHDRAW, State.PENDING_APPROVAL, State.WITHDRAWN, frozenset(), False, "withdraw", "danger",
               requester=True),
    Transition(Action.SEND_BACK, State.PENDING_APPROVAL, State.CHANGES_REQUESTED, APPROVING_ROLES, False, "send_back",
               None),
    Transition(Action.RESUBMIT, State.CHANGES_REQUESTED, State.PENDING_APPROVAL, frozenset(), False,
               "resubmit_order", "primary", requester=True),
    Transition(Action.WITHDRAW_SENT_BACK, State.CHANGES_REQUESTED, State.WITHDRAWN, frozenset(), False,
               "withdraw_sent_back", "danger", requester=True),
    Transition(Action.RESCHEDULE, State.APPROVED, State.APPROVED, _COORD, True, "reschedule", None),
    # the crew is the coordinators' to set: a field worker may not remove a colleague (or add themselves)
    Transition(Action.CHANGE_CREW, State.APPROVED, State.APPROVED, _COORD, False, "change_crew", None),
    # a change that raised the total past REAPPROVAL_OVER waits: whoever the policy's level for the new total
    # allows (workflow/policy.py, checked by the service) issues it or drops it
    Transition(Action.APPROVE_CHANGE, State.CHANGE_PENDING, State.APPROVED, APPROVING_ROLES, False,
               "approve_change", "primary"),
    Transition(Action.REJECT_CHANGE, State.CHANGE_PENDING, State.APPROVED, APPROVING_ROLES, False,
               "reject_change", "danger"),
)

BY_ACTION: dict[Action, Transition] = {t.action: t for t in TRANSITIONS}
BY_FORM: dict[str, Transition] = {t.form: t for t in TRANSITIONS}


def available(state: State) -> list[Transition]:
    """The steps an order in this state offers, in table order: its card's buttons."""
    return [t for t in TRANSITIONS if t.source == state]


def may(transition: Transition | Who, roles: set[Role], assigned: bool, requester: bool = False) -> bool:
    return (bool(transition.roles & roles) or (transition.assigned_field_worker and assigned)
            or (transition.requester and requester))


def check(transition: Transition, state: State | None, roles: set[Role], assigned: bool, number: str,
          requester: bool = False) -> None:
    """Raise WrongState or NotAllowed (bot/ words them) unless this actor may take this step now."""
    if transition.source != state:
        raise WrongState(transition.action, state, number)
    if not may(transition, roles, assigned, requester):
        raise NotAllowed(transition.action, transition.roles, transition.assigned_field_worker, number,
                         requester=transition.requester)
