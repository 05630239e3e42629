"""Issuing a version's document: built from the database the first time, then frozen with its version.

Every later rendering (the upload, `service-orders pdf`, `verify`) reads the frozen document, so the same
version always gives the same bytes, and the fingerprint stored with it proves which document a PDF is.

The client's signed copy of a version is frozen with its signature request when the client answers;
`issue_signed` renders it the same way, from the frozen copy and the assets it names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import time
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pdf.render import render_signed, render_version
from storage.db import session_scope
from storage.models import Asset, OrderVersion, ServiceOrder, SignatureRequest
from workflow import attachments
from workflow.document import (
    ApprovalEntry,
    Attachment,
    HistoryEntry,
    SignedCopy,
    VersionDocument,
    diff_items,
    subtotal,
)
from workflow.errors import FilesBeingRead, NotFound
from workflow.letterhead import Letterhead
from workflow.queries import (
    catalog_entry,
    field_workers,
    get_order,
    number_of,
    person_name,
    round_of,
    version_lines,
    version_row,
)
from workflow.vocabulary import Action, State, order_number

# the state an order is in right after the step that made a version
_STATE_AFTER = {Action.APPROVE: State.APPROVED, Action.CONFIRM: State.APPROVED,
                Action.COMPLETE: State.COMPLETED, Action.NOT_PERFORM: State.NOT_PERFORMED,
                Action.SET_PRICES: State.APPROVED,
                Action.RESCHEDULE: State.APPROVED, Action.CHANGE_CREW: State.APPROVED}


@dataclass(frozen=True)
class Issued:
    document: VersionDocument
    pdf: bytes
    # False when this renderer no longer gives the bytes first issued (a renderer, font or library
    # upgrade): the file first issued, whose hash is recorded, stays the one of record
    as_issued: bool


def issue(engine: Engine, order_id: int, number: int, letterhead: Letterhead) -> Issued:
    """The version's document (frozen now if it was not yet) and its PDF; the first PDF's hash is recorded.
    FilesBeingRead while a version not yet frozen has files still being read."""
    with session_scope(engine) as session:
        document = _issue(session, order_id, number, letterhead)
        logo, images = logo_of(session, document), thumbnails_of(session, document)
    content = render_version(document, logo, images)  # outside the transaction: no lock held while drawing
    with session_scope(engine) as session:
        return Issued(document, content, _first_pdf(session, _version(session, order_id, number), content))


class IssuedSigned(NamedTuple):
    copy: SignedCopy
    pdf: bytes
    as_issued: bool  # as `Issued.as_issued`: False when this renderer no longer gives the first bytes


def issue_signed(engine: Engine, request_id: int) -> IssuedSigned:
    """The signed copy frozen with an answered signature request, and its PDF; the first PDF's hash is recorded.
    A request that is unknown or not answered yet has no signed copy: LookupError (the caller's mistake)."""
    with session_scope(engine) as session:
        request = session.get(SignatureRequest, request_id)
        if request is None or not request.document:
            raise LookupError(f"signature request {request_id} has no signed copy")
        copy = SignedCopy.from_json(request.document)
        logo, images = logo_of(session, copy.document), thumbnails_of(session, copy.document)
        signature = _asset(session, copy.signature.signature_sha256) or b""
    content = render_signed(copy, logo, images, signature)
    with session_scope(engine) as session:
        request = session.get(SignatureRequest, request_id)
        assert request is not None
        return IssuedSigned(copy, content, _first_pdf(session, request, content))


def _first_pdf(session: Session, row: OrderVersion | SignatureRequest, content: bytes) -> bool:
    """Whether `content` is the row's PDF as first made: its hash is recorded the first time (`as_issued`)."""
    digest = hashlib.sha256(content).hexdigest()
    if row.pdf_sha256 is None:
        row.pdf_sha256 = digest
        session.add(row)
    return row.pdf_sha256 == digest


def signed_request(engine: Engine, order_id: int, number: int) -> int | None:
    """The signature request whose signed copy is the latest for this version (the last answered), if any."""
    with Session(engine) as session:
        return session.exec(select(SignatureRequest.id).where(
            SignatureRequest.order_id == order_id, SignatureRequest.version == number,
            col(SignatureRequest.document).is_not(None)).order_by(
            col(SignatureRequest.used_at).desc(), col(SignatureRequest.id).desc())).first()


def frozen_document(session: Session, order_id: int, number: int, letterhead: Letterhead) -> VersionDocument:
    """The version's document, frozen now if it was not yet (the client signs a version before its PDF is
    shared, perhaps): the same document the version's PDF shows."""
    return _issue(session, order_id, number, letterhead)


def logo_of(session: Session, document: VersionDocument) -> bytes | None:
    return _asset(session, document.provider.logo_sha256)


def thumbnails_of(session: Session, document: VersionDocument) -> Mapping[str, bytes]:
    """The attachments' thumbnails the document names, by SHA-256 (one that is missing is drawn as a blank)."""
    wanted = {a.thumbnail_sha256 for a in document.attachments if a.thumbnail_sha256}
    if not wanted:
        return {}
    return {asset.sha256: asset.content
            for asset in session.exec(select(Asset).where(col(Asset.sha256).in_(sorted(wanted))))}


def _asset(session: Session, sha: str | None) -> bytes | None:
    asset = session.get(Asset, sha) if sha else None
    return asset.content if asset else None


def _version(session: Session, order_id: int, number: int) -> OrderVersion:
    if number < 1:  # version 0 is the order as submitted: never a document
        raise NotFound(number_of(session, order_id), number)
    return version_row(session, order_id, number)


def _issue(session: Session, order_id: int, number: int, letterhead: Letterhead) -> VersionDocument:
    version = _version(session, order_id, number)
    if version.document:
        return VersionDocument.from_json(version.document)
    if attachments.being_read(session, order_id, number):  # frozen without them, they would never be on it
        raise FilesBeingRead(number_of(session, order_id), number)
    # a version's history names the earlier ones by fingerprint, so they are issued first
    history = tuple(_entry(session, _issue(session, order_id, n, letterhead), order_id, n) for n in range(1, number))
    document = _build(session, order_id, version, letterhead, history)
    sha = letterhead.provider.logo_sha256
    if letterhead.logo and sha and session.get(Asset, sha) is None:
        session.add(Asset(sha256=sha, media_type=letterhead.logo_type or "image/png", content=letterhead.logo))
    version.document, version.fingerprint = document.canonical_json(), document.fingerprint
    session.add(version)
    session.flush()
    return document


def _entry(session: Session, document: VersionDocument, order_id: int, number: int) -> HistoryEntry:
    version = _version(session, order_id, number)
    return HistoryEntry(version=number, issued_at=version.created_at, author=person_name(session, version.author_id),
                        step=version.action, fingerprint=document.fingerprint)


def _build(session: Session, order_id: int, version: OrderVersion, letterhead: Letterhead,
           history: tuple[HistoryEntry, ...]) -> VersionDocument:
    order = get_order(session, order_id)
    number = version.number
    client = catalog_entry(session, "client", order.client_code)
    site = catalog_entry(session, "site", order.site_code)
    items = tuple(line for _, line in version_lines(session, order_id, number))
    previous = tuple(line for _, line in version_lines(session, order_id, number - 1)) if number > 1 else ()
    workers = field_workers(session, order_id, number)
    earlier = set(field_workers(session, order_id, number - 1)) if number > 1 else set(workers)
    closing = version.action in (Action.COMPLETE, Action.NOT_PERFORM)
    # the money the version was made in (card, list and export show the same), not today's settings; a version
    # made before it was recorded takes the settings'
    provider = replace(letterhead.provider, currency=version.currency or letterhead.provider.currency,
                       tax_rate=letterhead.provider.tax_rate if version.tax_rate is None else version.tax_rate)
    currency = provider.currency

    def name(user_id: str | None) -> str | None:
        return person_name(session, user_id) if user_id else None

    return VersionDocument(
        provider=provider, order_number=order_number(order.number), version=number, step=version.action,
        state=_STATE_AFTER[Action(version.action)].value, issued_at=version.created_at,
        client=client.name if client else order.client_code, client_code=order.client_code,
        client_contact=client.contact if client else None,
        site=site.name if site else order.site_code, site_code=order.site_code,
        site_address=site.address if site else None,
        requester=name(order.requester_id) or "", approved_by=name(order.approved_by), approved_at=order.approved_at,
        field_workers=tuple(name(u) or u for u in workers), requested_date=order.requested_date,
        scheduled_date=version.scheduled_date, priority=order.priority, description=order.description,
        approval_notes=order.approval_notes, items=items,
        changes=diff_items(previous, items) if number > 1 else (),
        added_people=tuple(name(u) or u for u in workers if u not in earlier),
        change_note=version.note if number > 1 else None,
        change_author=name(version.author_id) if number > 1 else None,
        previous_subtotal=subtotal(previous, currency) if number > 1 else None,
        closed_by=name(version.author_id) if closing else None,
        closed_at=version.created_at if closing else None,
        history=history,
        scheduled_start=_hhmm(version.scheduled_start), scheduled_end=_hhmm(version.scheduled_end),
        removed_people=tuple(name(u) or u for u in sorted(earlier - set(workers))) if number > 1 else (),
        approvals=_approvals(session, order),
        attachments=_attachments(session, order_id, number),
        **_schedule_before(session, order_id, version),
    )


def _attachments(session: Session, order_id: int, number: int) -> tuple[Attachment, ...]:
    """The photos and files kept on the version (read before its PDF: workflow/effects.py ORDER), in the order
    they came; who shared each by name, as of the issue."""
    return tuple(Attachment(name=row.name, mimetype=row.mimetype, size=row.size, sha256=row.sha256 or "",
                            shared_by=person_name(session, row.shared_by), shared_at=row.shared_at,
                            thumbnail_sha256=row.thumbnail_sha256)
                 for row in attachments.kept(session, order_id, number))


def _approvals(session: Session, order: ServiceOrder) -> tuple[ApprovalEntry, ...]:
    """The approved round's approvals, when it took more than one (one is the document's "Approved by")."""
    assert order.id is not None
    given = round_of(session, order.id, order.pending_round)
    if len(given) < 2:
        return ()
    return tuple(ApprovalEntry(a.level, a.role, person_name(session, a.approver_id), a.at) for a in given)


def _schedule_before(session: Session, order_id: int, version: OrderVersion) -> dict[str, object]:
    """The previous version's schedule, if this version changed it."""
    if version.number <= 1:
        return {}
    before = _version(session, order_id, version.number - 1)
    old = (before.scheduled_date, before.scheduled_start, before.scheduled_end)
    if old == (version.scheduled_date, version.scheduled_start, version.scheduled_end):
        return {}
    return {"previous_scheduled_date": old[0], "previous_scheduled_start": _hhmm(old[1]),
            "previous_scheduled_end": _hhmm(old[2])}


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None
