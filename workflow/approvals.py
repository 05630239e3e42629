"""Approval by amount and separation of duties, applied to one order (the policy itself is workflow/policy.py).

An order pending approval needs one approval from each level its request's total with tax reaches, in order,
by distinct people; the levels given so far in its current round are rows of `approval` (GivenApproval). Every
check here raises a Refused that names who may act instead, so nothing of a refused step is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Session

from storage.models import GivenApproval, ServiceOrder
from workflow.amounts import amounts
from workflow.errors import AlreadyApproved, LevelNotYours, OnlyFieldWorker, OwnOrder
from workflow.policy import ApprovalPolicy, Level, Separation, asked_for, may_approve, roles_for
from workflow.queries import holders, round_of, version_lines
from workflow.routing import Router
from workflow.transitions import BY_ACTION
from workflow.vocabulary import Action, Role, order_number


@dataclass(frozen=True)
class NextApproval:
    """Where an order stands in its round: the level it waits for (1-based), of how many, and those given."""

    level: int
    levels: tuple[Level, ...]
    given: tuple[GivenApproval, ...]

    @property
    def needed(self) -> Level:
        return self.levels[self.level - 1]

    @property
    def last(self) -> bool:
        return self.level == len(self.levels)

    @property
    def crew(self) -> tuple[str, ...] | None:
        """The field workers level 1 chose (None: level 1 is still to come)."""
        return tuple(json.loads(self.given[0].field_workers or "[]")) if self.given else None


def request_total(session: Session, order: ServiceOrder, currency: str, tax_rate: Decimal) -> Decimal:
    """The request's total with tax (version 0's lines), as the card and the PDF compute it."""
    return amounts((line for _, line in version_lines(session, order.id, 0)), currency, tax_rate).total


def round_approvals(session: Session, order: ServiceOrder) -> tuple[GivenApproval, ...]:
    """The approvals given in the order's current round and not cleared since, lowest level first."""
    assert order.id is not None
    return round_of(session, order.id, order.pending_round)


def next_approval(session: Session, order: ServiceOrder, policy: ApprovalPolicy, currency: str,
                  tax_rate: Decimal) -> NextApproval:
    given = round_approvals(session, order)
    levels = policy.levels_for(request_total(session, order, currency, tax_rate))
    return NextApproval(min(len(given) + 1, len(levels)), levels, given)


def approvers(session: Session, order: ServiceOrder, step: NextApproval, policy: ApprovalPolicy,
              roles: frozenset[Role] | None = None, but: str | None = None) -> tuple[str, ...]:
    """Who may give the level the order waits for (holders of `roles`, by default those the level allows):
    not its requester where separation is on, not who gave an earlier level, not `but`."""
    excluded = {a.approver_id for a in step.given} | ({but} if but else set())
    if policy.separation is not Separation.OFF:
        excluded.add(order.requester_id)
    return tuple(u for u in holders(session, roles or roles_for(step.needed)) if u not in excluded)


def asked(session: Session, order: ServiceOrder, step: NextApproval, policy: ApprovalPolicy) -> tuple[str, ...]:
    """Who is asked for the level the order waits for: invited, named in the channel, reminded; among them, those
    its client or site names (workflow/routing.py)."""
    roles = asked_for(step.needed)
    people = approvers(session, order, step, policy, roles)
    return tuple(Router(session).narrow(order.client_code, order.site_code, people, roles))


def check_approver(session: Session, order: ServiceOrder, actor: str, roles: set[Role], action: Action,
                   step: NextApproval, policy: ApprovalPolicy, crew: tuple[str, ...] | None = None) -> None:
    """Refuse `actor` giving the order's next approval (or rejecting it) where the policy forbids it. `crew`:
    the field workers the approval would give the order (level 1's form), if not chosen already."""
    number = order_number(order.number)
    if policy.separation is not Separation.OFF and actor == order.requester_id:
        if action is Action.REJECT:
            others = [u for u in holders(session, BY_ACTION[Action.REJECT].roles) if u != actor]
            raise OwnOrder(action, number, tuple(others))
        raise OwnOrder(action, number, approvers(session, order, step, policy, but=actor))
    if action is not Action.APPROVE:
        return
    if not may_approve(step.needed, roles):
        raise LevelNotYours(number, step.level, len(step.levels), step.needed.role,
                            approvers(session, order, step, policy))
    if given := next((a for a in step.given if a.approver_id == actor), None):
        raise AlreadyApproved(number, given.level, step.level, len(step.levels),
                              approvers(session, order, step, policy))
    crew = crew if crew is not None else step.crew
    if policy.separation is Separation.STRICT and crew is not None and set(crew) == {actor}:
        raise OnlyFieldWorker(number, approvers(session, order, step, policy, but=actor))


def clear_round(session: Session, order: ServiceOrder, now: datetime, levels: tuple[Level, ...]) -> tuple[str, ...]:
    """An edit or a send-back: the round's approvals no longer stand (the rows stay, marked), and the order
    waits for level 1 of the `levels` its request needs now. Returns who had approved."""
    cleared = tuple(a.approver_id for a in round_approvals(session, order))
    if cleared:
        session.connection().execute(update(GivenApproval).where(
            GivenApproval.order_id == order.id, GivenApproval.round == order.pending_round,  # type: ignore[arg-type]
            GivenApproval.cleared_at.is_(None)).values(cleared_at=now))  # type: ignore[union-attr]
    wait_for(order, 1, levels)
    return cleared


def wait_for(order: ServiceOrder, level: int, levels: tuple[Level, ...]) -> None:
    """Record on the order the level it waits for, the role that takes, and how many levels it needs: what its
    card, reminders and App Home read."""
    order.approval_level, order.approval_role = level, levels[level - 1].role.value
    order.approval_levels = len(levels)
