"""Who still has a part in an order when a crew change takes a field worker off it: they stay in its channel."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import AuditEvent, ServiceOrder
from workflow.facts import StepFacts
from workflow.queries import field_workers
from workflow.vocabulary import Action


def parts_kept(session: Session, order: ServiceOrder) -> set[str]:
    """Everyone the order still involves: its requester, its approver, its crew now, and the reviewers its
    submission brought into the channel (supervisors and coordinators are there for every order)."""
    kept = {order.requester_id, *field_workers(session, order.id)}
    if order.approved_by:
        kept.add(order.approved_by)
    submitted = session.exec(select(AuditEvent).where(
        AuditEvent.order_id == order.id, AuditEvent.action == Action.SUBMIT.value)).first()
    if submitted is not None:
        kept |= set(StepFacts.loads(submitted.detail).reviewers)
    return kept
