"""Read models: what the order card, the PDF and the typeahead pickers show, built from the database."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, or_, union_all
from sqlmodel import Session, col, func, select

from storage.models import (
    Assignment,
    AuditEvent,
    CatalogEntry,
    GivenApproval,
    LineItem,
    OrderAttachment,
    OrderVersion,
    Person,
    ProposedChange,
    RoleGrant,
    ServiceOrder,
)
from storage.scope import current
from workflow.document import ItemLine, subtotal
from workflow.errors import NotFound
from workflow.facts import StepFacts
from workflow.folding import fold
from workflow.policy import Level, asked_for
from workflow.routing import Router
from workflow.transitions import Transition, available
from workflow.vocabulary import Action, Role, State, order_number


@dataclass(frozen=True)
class ApprovalLine:
    """One level's approval given in the order's round (workflow/approvals.py)."""

    level: int
    role: str
    approver_id: str
    at: datetime


@dataclass(frozen=True)
class Awaited:
    """The level of approval an order pending approval waits for, of how many, and who may give it."""

    level: int
    levels: int
    role: str
    people: tuple[str, ...]


@dataclass(frozen=True)
class Proposal:
    """Level 1's choices, which the last level's approval issues version 1 with."""

    field_workers: tuple[str, ...]
    scheduled_date: date | None
    notes: str | None
    names: tuple[str, ...] = ()  # the field workers' names, for a form (which shows no mentions)


@dataclass(frozen=True)
class OrderCard:
    """Everything the order card shows: a projection of the database at one revision."""

    id: int
    number: str
    revision: int
    state: State
    version: int
    client: str
    site: str
    requester_id: str
    approved_by: str | None
    field_workers: tuple[str, ...]
    requested_date: date
    scheduled_date: date | None
    priority: str
    description: str
    item_count: int
    total: Decimal
    closed_by: str | None
    closed_at: datetime | None
    close_reason: str | None
    channel_id: str | None
    card_ts: str | None
    steps: tuple[Transition, ...]
    client_code: str = ""  # the request's own codes, for the Edit form's pickers
    site_code: str = ""
    rounds: tuple[StepFacts, ...] = ()  # the rounds before approval (send-backs, edits, resubmissions)
    scheduled_start: time | None = None  # the time window on the scheduled date, if one was set
    scheduled_end: time | None = None
    # approval by amount: the round's approvals so far (of the approved round, once approved), the level it
    # waits for while pending (None: not pending), level 1's choices while further levels are awaited
    approvals: tuple[ApprovalLine, ...] = ()
    awaited: Awaited | None = None
    proposal: Proposal | None = None
    # change_pending: the step waiting for approval (its facts: author, items, money, who may approve it)
    waiting: StepFacts | None = None
    # photos (images not left out) per version, oldest first; version None: waiting for the next version
    photos: tuple[tuple[int | None, int], ...] = ()


def get_order(session: Session, order_id: int) -> ServiceOrder:
    """The order with this id in the served workspace; NotFound without a number (the id is not one to show)."""
    order = session.get(ServiceOrder, order_id)
    if order is None:
        raise NotFound(None)
    return order


def order_id_by_number(session: Session, number: int) -> int | None:
    """The id of the served workspace's order SO-`number` (what a person typed), if it has one."""
    return session.exec(select(ServiceOrder.id).where(ServiceOrder.number == number)).first()


def order_numbers(session: Session, order_ids: Iterable[int]) -> dict[int, str]:
    """The number people read of each of these orders, by id: one query for a list (a digest's lines)."""
    ids = sorted(set(order_ids))
    rows = session.exec(select(ServiceOrder.id, ServiceOrder.number).where(
        col(ServiceOrder.id).in_(ids))).all() if ids else []
    return {order_id: order_number(number) for order_id, number in rows}


def number_of(session: Session, order_id: int) -> str:
    """'SO-000042': the number people read for the order with this id (the session's copy, if it has one)."""
    return order_number(get_order(session, order_id).number)


def catalog_entry(session: Session, kind: str, code: str) -> CatalogEntry | None:
    return session.exec(select(CatalogEntry).where(CatalogEntry.kind == kind, CatalogEntry.code == code)).first()


def catalog_name(session: Session, kind: str, code: str) -> str:
    entry = catalog_entry(session, kind, code)
    return f"{entry.name} ({code})" if entry else code


def version_row(session: Session, order_id: int, number: int) -> OrderVersion:
    version = session.exec(select(OrderVersion).where(
        OrderVersion.order_id == order_id, OrderVersion.number == number)).first()
    if version is None:
        raise NotFound(number_of(session, order_id), number)
    return version


def field_workers(session: Session, order_id: int, up_to_version: int | None = None) -> tuple[str, ...]:
    """The crew of the order now, or of one version (added by then, not removed by then)."""
    query = select(Assignment).where(Assignment.order_id == order_id)
    if up_to_version is not None:
        query = query.where(Assignment.added_in_version <= up_to_version, or_(
            Assignment.removed_in_version.is_(None), Assignment.removed_in_version > up_to_version))  # type: ignore[union-attr,operator]
    else:
        query = query.where(Assignment.removed_in_version.is_(None))  # type: ignore[union-attr]
    rows = session.exec(query.order_by(Assignment.added_in_version, Assignment.user_id))
    return tuple(row.user_id for row in rows)


def open_stint(session: Session, order_id: int, user_id: str) -> Assignment | None:
    """The worker's stint on the order now, if they are on its crew (earlier stints ended with a removal)."""
    return session.exec(select(Assignment).where(
        Assignment.order_id == order_id, Assignment.user_id == user_id,
        Assignment.removed_in_version.is_(None))).first()  # type: ignore[union-attr]


def order_people(session: Session, order: ServiceOrder) -> list[str]:
    """Who an order involves: its requester, its approver and its field workers."""
    return [order.requester_id, *([order.approved_by] if order.approved_by else []),
            *field_workers(session, order.id)]


def orders_people(session: Session, order_ids: Iterable[int]) -> list[str]:
    """Who the orders involve (as `order_people` says for each), in two statements however many orders: an App
    Home batch names up to 200."""
    ids = list(order_ids)
    if not ids:
        return []
    people: list[str] = []
    for requester, approver in session.exec(select(ServiceOrder.requester_id, ServiceOrder.approved_by)
                                            .where(col(ServiceOrder.id).in_(ids))):
        people += [requester, *([approver] if approver else [])]
    people += session.exec(select(Assignment.user_id).where(col(Assignment.order_id).in_(ids),
                                                            col(Assignment.removed_in_version).is_(None)))
    return people


def closed_order_people(session: Session, order: ServiceOrder) -> list[str]:
    """Who hears what a closed order still has to say once its channel is archived: its requester, its field
    workers and whoever decided (approved it; rejected, withdrew or closed it), each once."""
    return list(dict.fromkeys([*order_people(session, order), *([order.closed_by] if order.closed_by else [])]))


def version_lines(session: Session, order_id: int, number: int) -> list[tuple[int, ItemLine]]:
    """(line id, line) of one version, in position order."""
    rows = session.exec(
        select(LineItem)
        .join(OrderVersion, LineItem.version_id == OrderVersion.id)
        .where(OrderVersion.order_id == order_id, OrderVersion.number == number)
        .order_by(LineItem.position)
    )
    return [(row.id, ItemLine(row.kind, row.code, row.description, row.unit, row.unit_price, row.quantity))
            for row in rows]


def order_card(session: Session, order_id: int, currency: str = "USD") -> OrderCard:
    order = get_order(session, order_id)
    lines = [line for _, line in version_lines(session, order_id, order.current_version)]
    state = State(order.state)
    return OrderCard(
        id=order.id, number=order_number(order.number), revision=order.revision, state=state,
        version=order.current_version, client=catalog_name(session, "client", order.client_code),
        site=catalog_name(session, "site", order.site_code), requester_id=order.requester_id,
        approved_by=order.approved_by, field_workers=field_workers(session, order_id),
        requested_date=order.requested_date, scheduled_date=order.scheduled_date, priority=order.priority,
        description=order.description, item_count=len(lines),
        total=subtotal(lines, currency),
        closed_by=order.closed_by, closed_at=order.closed_at, close_reason=order.close_reason,
        channel_id=order.channel_id, card_ts=order.card_ts, steps=tuple(available(state)),
        client_code=order.client_code, site_code=order.site_code, rounds=rounds(session, order_id),
        scheduled_start=order.scheduled_start, scheduled_end=order.scheduled_end,
        **_approval_state(session, order),
        waiting=_waiting_facts(session, order_id) if state is State.CHANGE_PENDING else None,
        photos=photo_counts(session, order_id),
    )


def photo_counts(session: Session, order_id: int) -> tuple[tuple[int | None, int], ...]:
    """How many photos each version of the order has (images on it not left out: those still being read count),
    and how many wait for its next version (None), oldest version first."""
    rows = session.exec(select(OrderAttachment.version, func.count()).where(
        OrderAttachment.order_id == order_id, col(OrderAttachment.mimetype).startswith("image/"),
        OrderAttachment.status != "left_out").group_by(OrderAttachment.version))
    counts = {version: int(count) for version, count in rows}
    return tuple(sorted(counts.items(), key=lambda vc: (vc[0] is None, vc[0] or 0)))


def _approval_state(session: Session, order: ServiceOrder) -> dict[str, Any]:
    """The card's approvals, the level awaited and who may give it (those its role or a higher one allows, but
    not the requester nor who approved already), and level 1's choices while later levels are awaited."""
    assert order.id is not None
    given = round_of(session, order.id, order.pending_round)
    lines = tuple(ApprovalLine(a.level, a.role, a.approver_id, a.at) for a in given)
    if order.state != State.PENDING_APPROVAL:
        return {"approvals": lines}
    level = Level(Role(order.approval_role))
    done = {a.approver_id for a in given} | {order.requester_id}
    asked = asked_for(level)
    people = tuple(u for u in Router(session).narrow(order.client_code, order.site_code, holders(session, asked),
                                                     asked) if u not in done)
    awaited = Awaited(order.approval_level, order.approval_levels, order.approval_role, people)
    first = given[0] if given else None
    crew = tuple(json.loads(first.field_workers or "[]")) if first else ()
    proposal = Proposal(crew, first.scheduled_date, first.notes,
                        tuple(person_name(session, u) for u in crew)) if first else None
    return {"approvals": lines, "awaited": awaited, "proposal": proposal}


def holders(session: Session, roles: frozenset[Role]) -> list[str]:
    """Who holds any of `roles`."""
    rows = session.exec(select(RoleGrant.user_id).where(RoleGrant.role.in_(sorted(roles))).distinct())  # type: ignore[attr-defined]
    return sorted(rows)


def waiting_change(session: Session, order_id: int) -> ProposedChange | None:
    """The change waiting for approval on the order, if any (at most one: the order is change_pending)."""
    return session.exec(select(ProposedChange).where(ProposedChange.order_id == order_id,
                                                     ProposedChange.outcome.is_(None))  # type: ignore[union-attr]
                        .order_by(ProposedChange.id.desc())).first()  # type: ignore[union-attr]


def _waiting_facts(session: Session, order_id: int) -> StepFacts | None:
    change = waiting_change(session, order_id)
    return StepFacts.loads(change.facts) if change else None


ROUND_ACTIONS = (Action.SEND_BACK, Action.EDIT, Action.RESUBMIT)


def rounds(session: Session, order_id: int, last: int = 10) -> tuple[StepFacts, ...]:
    """The latest rounds before approval, oldest first (the card shows them; the audit keeps them all)."""
    rows = session.exec(select(AuditEvent.detail).where(
        AuditEvent.order_id == order_id, AuditEvent.action.in_([a.value for a in ROUND_ACTIONS]))  # type: ignore[attr-defined]
        .order_by(AuditEvent.id.desc()).limit(last))  # type: ignore[union-attr]
    return tuple(StepFacts.loads(detail) for detail in reversed(list(rows)))


def round_of(session: Session, order_id: int, pending_round: int) -> tuple[GivenApproval, ...]:
    """The approvals that stand in one round of an order (not cleared by an edit or a send-back), by level."""
    return tuple(session.exec(select(GivenApproval).where(
        GivenApproval.order_id == order_id, GivenApproval.round == pending_round,
        GivenApproval.cleared_at.is_(None)).order_by(GivenApproval.level)))  # type: ignore[union-attr]


def latest_pdf(session: Session, order_id: int) -> str | None:
    """The file name of the order's latest version that has been shared as a PDF."""
    version = session.exec(select(OrderVersion).where(
        OrderVersion.order_id == order_id, OrderVersion.pdf_file_id.is_not(None))  # type: ignore[union-attr]
        .order_by(OrderVersion.number.desc())).first()  # type: ignore[attr-defined]
    return f"{number_of(session, order_id)}-v{version.number}.pdf" if version else None


def shared_pdfs(session: Session, order_id: int) -> list[str]:
    """The file names of every version of the order shared as a PDF, oldest first."""
    numbers = session.exec(select(OrderVersion.number).where(
        OrderVersion.order_id == order_id, OrderVersion.pdf_file_id.is_not(None))  # type: ignore[union-attr]
        .order_by(OrderVersion.number)).all()
    shown = number_of(session, order_id) if numbers else ""
    return [f"{shown}-v{number}.pdf" for number in numbers]


def person_name(session: Session, user_id: str) -> str:
    person = session.get(Person, (current(), user_id))
    return person.name if person else user_id


def search_catalog(session: Session, kinds: tuple[str, ...], text: str, parent: str | None = None,
                   limit: int = 100) -> list[Row]:
    """Typeahead: entries (kind, code, name, unit, unit_price) whose code or name contains every typed word,
    case and accents aside (workflow/folding.py), codes first. Slack shows at most 100 options, so a catalog of
    any size answers with indexed, limited reads: per kind, entries in code order through the index on (kind,
    code, search_text), stopped at `limit` matches (PostgreSQL may read a rare word's few matches through the
    trigram index instead); plain rows, as this runs inside the ack for every few keystrokes."""
    matching = [CatalogEntry.search_text.like(f"%{_escaped(word)}%", escape="\\")  # type: ignore[attr-defined]
                for word in fold(text).split()[:5]]
    if parent is not None:
        matching.append(CatalogEntry.parent_code == parent)
    # one ordered read per kind: a read of two kinds at once must sort all they match before it can stop
    firsts = [select(CatalogEntry.id).where(CatalogEntry.kind == kind, *matching).order_by(CatalogEntry.code)
              .limit(limit).subquery() for kind in kinds]
    query = select(CatalogEntry.kind, CatalogEntry.code, CatalogEntry.name, CatalogEntry.unit,
                   CatalogEntry.unit_price).where(
        CatalogEntry.id.in_(union_all(*(select(first.c.id) for first in firsts))))  # type: ignore[union-attr]
    return list(session.exec(query.order_by(CatalogEntry.kind.desc(), CatalogEntry.code).limit(limit)))


def _escaped(word: str) -> str:
    """A word for LIKE: its wildcards literal."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def audit_trail(session: Session, order_id: int) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id)))


def free_lines_matching(lines: list[tuple[int, ItemLine]], text: str) -> list[tuple[int, ItemLine]]:
    words = fold(text).split()
    return [(i, line) for i, line in lines if all(w in fold(f"{line.code or ''} {line.description}") for w in words)]



