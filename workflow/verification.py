"""Is this PDF a genuine version of one of our orders? Its stamp names the order, the version and the
fingerprint; the database holds that version's frozen document and the SHA-256 of the PDF as issued, which
the file must match byte for byte (so a PDF stays verifiable after the renderer changes). Anything else (an
edited file, a foreign file, another database's order) does not match. The verdict is typed: the command line
says it in the operator's language.

A client's signed copy of a version carries its own stamp (`... v3 signed sha256:<the signed copy's
fingerprint>`): it is looked up by that fingerprint among the signature requests, and checked byte for byte
against the signed copy's PDF as first rendered."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from pdf.render import read_stamp
from pdf.stamp import Stamp
from storage.models import OrderVersion, SignatureRequest
from workflow.document import SignedCopy, VersionDocument
from workflow.queries import order_id_by_number
from workflow.vocabulary import parse_order_number


class Finding(StrEnum):
    """What `verify` found; each has its values (see `verify`)."""

    NO_STAMP = "no_stamp"  # name
    NOT_ISSUED = "not_issued"  # name, number, version
    OTHER_FINGERPRINT = "other_fingerprint"  # name, number, version, claimed, recorded
    CHANGED = "changed"  # name, number, version
    GENUINE = "genuine"  # name, number, version, issued_at (UTC), fingerprint
    # a signed copy's stamp
    NOT_SIGNED = "not_signed"  # name, number, version: this database has no such signed copy
    SIGNED_CHANGED = "signed_changed"  # name, number, version
    GENUINE_SIGNED = "genuine_signed"  # name, number, version, signer, outcome, signed_at (UTC), fingerprint


@dataclass(frozen=True)
class Verdict:
    finding: Finding
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return self.finding in (Finding.GENUINE, Finding.GENUINE_SIGNED)


def verify(engine: Engine, data: bytes, name: str) -> Verdict:
    """`name`: how the verdict names the file, the caller's (a path): workflow/ has no words of its own."""
    stamp = read_stamp(data)
    if stamp is None:
        return Verdict(Finding.NO_STAMP, {"name": name})
    claim = {"name": name, "number": stamp.order_number, "version": stamp.version}
    if stamp.signed:
        return _verify_signed(engine, data, stamp, claim)
    number = parse_order_number(stamp.order_number)
    with Session(engine) as session:
        order_id = order_id_by_number(session, number) if number else None
        version = session.exec(select(OrderVersion).where(
            OrderVersion.order_id == order_id, OrderVersion.number == stamp.version)).first() if order_id else None
    if version is None or not version.document or not version.pdf_sha256:
        return Verdict(Finding.NOT_ISSUED, claim)
    if version.fingerprint != stamp.fingerprint:
        return Verdict(Finding.OTHER_FINGERPRINT, claim | {"claimed": stamp.fingerprint[:12],
                                                           "recorded": (version.fingerprint or "")[:12]})
    if hashlib.sha256(data).hexdigest() != version.pdf_sha256:
        return Verdict(Finding.CHANGED, claim)
    issued_at = VersionDocument.from_json(version.document).issued_at
    return Verdict(Finding.GENUINE, claim | {"issued_at": issued_at, "fingerprint": stamp.fingerprint[:12]})


def _verify_signed(engine: Engine, data: bytes, stamp: Stamp, claim: dict[str, Any]) -> Verdict:
    number = parse_order_number(stamp.order_number)
    with Session(engine) as session:
        order_id = order_id_by_number(session, number) if number else None
        request = session.exec(select(SignatureRequest).where(
            SignatureRequest.fingerprint == stamp.fingerprint)).first()
    if (request is None or not request.document or not request.pdf_sha256 or request.order_id != order_id
            or request.version != stamp.version):
        return Verdict(Finding.NOT_SIGNED, claim)
    if hashlib.sha256(data).hexdigest() != request.pdf_sha256:
        return Verdict(Finding.SIGNED_CHANGED, claim)
    signature = SignedCopy.from_json(request.document).signature
    return Verdict(Finding.GENUINE_SIGNED, claim | {"signer": signature.name, "outcome": signature.outcome,
                                                    "signed_at": signature.signed_at,
                                                    "fingerprint": stamp.fingerprint[:12]})
