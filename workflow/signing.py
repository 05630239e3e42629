"""The client's signature: asking for it (a single-use, expiring request for one issued version) and recording
the client's answer, each in one transaction with the effects it owes. Typed facts and refusals, no words.

Asking is not a row of the transition table: it changes no state, revision or version, opens no form, and is
offered on a closed (completed) order, which the table closes to every step. Who may ask and when is said here
instead, in the table's terms: a `Who` the table's `may` checks, and states.

The `signature_request` row is the record of it all (who asked and when; the client's answer, name, time,
address and browser; the frozen signed copy): an audit row is a step some Slack user took, and the client is not
one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from storage.db import dialect_insert, queue_effects, session_scope
from storage.models import Asset, ServiceOrder, SignatureRequest
from storage.scope import everywhere
from workflow.attachments import being_read
from workflow.clock import aware
from workflow.document import ClientSignature, Outcome, SignedCopy, VersionDocument
from workflow.effects import ORDER, EffectKind, Signing
from workflow.errors import FilesBeingRead, WorkflowError
from workflow.issuing import frozen_document
from workflow.letterhead import Letterhead
from workflow.queries import get_order
from workflow.service import is_assigned, roles_of
from workflow.transitions import Who, may
from workflow.vocabulary import Role, State, order_number

# who may ask the client to sign: coordinators, and the field workers assigned to the order (they hand the link
# over on site)
ASKERS = Who(frozenset({Role.COORDINATOR}), assigned_field_worker=True)
# work in progress (a change waiting for approval leaves the issued version as it is), and a closed order's
# closing record, completed or not performed
SIGNABLE = frozenset({State.APPROVED, State.CHANGE_PENDING, State.COMPLETED, State.NOT_PERFORMED})

MAX_NAME = 200
MAX_COMMENT = 2000
MAX_USER_AGENT = 512


class NotSignable(WorkflowError):
    """The order is in a state the client does not sign (pending, sent back, rejected, withdrawn)."""

    def __init__(self, number: str, state: State) -> None:
        self.number, self.state = number, state


class MayNotAsk(WorkflowError):
    """Only coordinators and the order's assigned field workers may ask."""

    def __init__(self, number: str) -> None:
        self.number = number


class LinkTrouble(StrEnum):
    UNKNOWN = "unknown"  # no request with this nonce (a link we did not make, or made for another database)
    USED = "used"  # answered already: single use
    EXPIRED = "expired"


class LinkRefused(WorkflowError):
    def __init__(self, trouble: LinkTrouble, used_at: datetime | None = None) -> None:
        self.trouble, self.used_at = trouble, used_at


def ask(engine: Engine, order_id: int, actor: str, now: datetime, lives: timedelta) -> SignatureRequest:
    """A request for the order's latest issued version (a 128-bit random nonce, expiring after `lives`), and
    the message that posts its link in the order's channel. MayNotAsk unless `actor` is one of ASKERS (a field
    worker on the order now: an open stint), NotSignable outside SIGNABLE, FilesBeingRead while that version's
    files are."""
    with session_scope(engine) as session:
        order = get_order(session, order_id)
        state, number = State(order.state), order_number(order.number)
        if not may(ASKERS, roles_of(session, actor), is_assigned(session, order_id, actor)):
            raise MayNotAsk(number)
        if state not in SIGNABLE:
            raise NotSignable(number, state)
        if being_read(session, order_id, order.current_version):  # its document cannot be shown yet
            raise FilesBeingRead(number, order.current_version)
        request = SignatureRequest(order_id=order_id, version=order.current_version, nonce=secrets.token_hex(16),
                                   asked_by=actor, asked_at=now, expires_at=now + lives)
        session.add(request)
        session.flush()
        assert request.id is not None
        queue_effects(session, [(order_id, EffectKind.SIGNATURE_ASKED.value, f"{order_id}:sign:{request.id}",
                                 Signing(request.id).to_json())], now)
        return request


def workspace_of(engine: Engine, nonce: str) -> str | None:
    """The workspace whose order a link is for (the client who opens it is in none): None for a link of no
    request. The page then serves that workspace alone."""
    with everywhere(), Session(engine) as session:
        return session.exec(select(ServiceOrder.workspace).join(
            SignatureRequest, SignatureRequest.order_id == ServiceOrder.id)  # type: ignore[arg-type]
            .where(SignatureRequest.nonce == nonce)).first()


def open_request(session: Session, nonce: str, now: datetime) -> SignatureRequest:
    """The request a link names, if it may still be answered; LinkRefused says why not."""
    request = session.exec(select(SignatureRequest).where(SignatureRequest.nonce == nonce)).first()
    if request is None:
        raise LinkRefused(LinkTrouble.UNKNOWN)
    if request.used_at is not None:
        raise LinkRefused(LinkTrouble.USED, request.used_at)
    if aware(request.expires_at) <= now:
        raise LinkRefused(LinkTrouble.EXPIRED)
    return request


def document_for(engine: Engine, request: SignatureRequest, letterhead: Letterhead) -> VersionDocument:
    """The document of the request's version (frozen now, if the version's PDF was not issued yet)."""
    with session_scope(engine) as session:
        return frozen_document(session, request.order_id, request.version, letterhead)


@dataclass(frozen=True)
class Answer:
    """What the client sent, already checked (bot/signing_page.py): the signature is a PNG with ink on it."""

    outcome: Outcome
    name: str
    comment: str | None
    signature_png: bytes
    signature_sha256: str
    ip: str | None
    user_agent: str | None


def record(engine: Engine, nonce: str, answer: Answer, now: datetime, letterhead: Letterhead) -> SignedCopy:
    """The client's answer, once: a compare-and-set on the unused request claims it (a second submit, or two at
    once, find it used: LinkRefused(USED)); the signature PNG kept as an asset; the signed copy frozen (the
    version's document and the signature, with its own fingerprint); the message and the signed copy's PDF
    owed to the channel."""
    with session_scope(engine) as session:
        request = open_request(session, nonce, now)
        claimed = session.execute(
            update(SignatureRequest)
            .where(SignatureRequest.nonce == nonce, SignatureRequest.used_at.is_(None))  # type: ignore[union-attr]
            .values(used_at=now).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            raise LinkRefused(LinkTrouble.USED, now)
        session.execute(dialect_insert(session, Asset).values(
            sha256=answer.signature_sha256, media_type="image/png", content=answer.signature_png,
        ).on_conflict_do_nothing(index_elements=["sha256"]))
        document = frozen_document(session, request.order_id, request.version, letterhead)
        copy = SignedCopy(document, ClientSignature(outcome=answer.outcome.value, name=answer.name, signed_at=now,
                                                    signature_sha256=answer.signature_sha256,
                                                    comment=answer.comment))
        session.execute(
            update(SignatureRequest).where(SignatureRequest.id == request.id)
            .values(outcome=answer.outcome.value, signer_name=answer.name, comment=answer.comment,
                    signature_sha256=answer.signature_sha256, ip=answer.ip,
                    user_agent=(answer.user_agent or "")[:MAX_USER_AGENT] or None,
                    document=copy.canonical_json(), fingerprint=copy.fingerprint)
            .execution_options(synchronize_session=False))
        order_id, given = request.order_id, Signing(request.id)  # type: ignore[arg-type]
        owed = sorted([EffectKind.SIGNATURE_GIVEN, EffectKind.UPLOAD_SIGNED], key=ORDER.index)
        queue_effects(session, [(order_id, kind.value, f"{order_id}:{kind.value}:{request.id}", given.to_json())
                                for kind in owed], now)
        return copy
