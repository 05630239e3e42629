"""Is this PDF a genuine version of one of our orders? Its stamp names the order, the version and the
fingerprint; the database holds that version's frozen document and the SHA-256 of the PDF as issued, which
the file must match byte for byte (so a PDF stays verifiable after the renderer changes). Anything else (an
edited file, a foreign file, another database's order) does not match."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from pdf.render import read_stamp
from storage.models import OrderVersion
from workflow.document import VersionDocument
from workflow.vocabulary import parse_order_number


@dataclass(frozen=True)
class Verdict:
    matches: bool
    message: str


def verify(engine: Engine, data: bytes, name: str = "the file") -> Verdict:
    stamp = read_stamp(data)
    if stamp is None:
        return Verdict(False, f"{name} is not a service-order PDF (it carries no order stamp).")
    what = f"{stamp.order_number} version {stamp.version}"
    order_id = parse_order_number(stamp.order_number)
    with Session(engine) as session:
        version = session.exec(select(OrderVersion).where(
            OrderVersion.order_id == order_id, OrderVersion.number == stamp.version)).first() if order_id else None
    if version is None or not version.document or not version.pdf_sha256:
        return Verdict(False, f"{name} claims to be {what}, but this database has no such issued version.")
    if version.fingerprint != stamp.fingerprint:
        return Verdict(False, f"{name} claims to be {what} with fingerprint {stamp.fingerprint[:12]}, but the "
                              f"recorded version's fingerprint is {(version.fingerprint or '')[:12]}: "
                              "it is not that version.")
    if hashlib.sha256(data).hexdigest() != version.pdf_sha256:
        return Verdict(False, f"{name} carries the stamp of {what}, but its bytes differ from the PDF that was "
                              "issued: it was changed after it was issued.")
    issued_at = VersionDocument.from_json(version.document).issued_at
    return Verdict(True, f"{name} is {what}, issued {issued_at:%Y-%m-%d %H:%M} UTC, and is exactly the PDF that "
                         f"was issued (fingerprint {stamp.fingerprint[:12]}).")
