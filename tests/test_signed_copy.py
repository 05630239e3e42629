"""The client's signed copy of a version: rendered from its frozen SignedCopy, written by `service-orders pdf
--signed`, and recognised by `verify` (genuine, changed, unknown), on a real database.

The signature request is written directly here, as the signing page stores it once the client has answered
(tests of the page itself drive it through a browser)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session, select

from pdf.render import Stamp, read_stamp
from storage.models import Asset, OrderVersion, SignatureRequest
from tests.conftest import COORDINATOR, WORKER
from tests.test_workflow import LETTERHEAD, NOW, approved, service  # noqa: F401 - the fixture
from workflow.document import ClientSignature, SignedCopy, VersionDocument
from workflow.inputs import Closing
from workflow.issuing import issue, issue_signed, signed_request
from workflow.service import OrderService
from workflow.verification import Finding, verify
from workflow.vocabulary import Action

CLI = str(Path(sys.executable).parent / "service-orders")
SIGNED_AT = NOW + timedelta(days=1, hours=2)  # 15:00 UTC + 1 day + 2 h


def signature_png(color: tuple[int, int, int, int] = (10, 10, 90, 255)) -> bytes:
    """A signature as the page's canvas gives it: strokes on a transparent PNG."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 160), (200, 30), (320, 170), (580, 40)], fill=color, width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def sign(engine: Engine, order_id: int, number: int, *, outcome: str = "accepted", name: str = "Carla Rojas",
         comment: str | None = None, png: bytes | None = None, at: datetime = SIGNED_AT) -> int:
    """The signature request of this version, answered: its facts, the PNG as an asset, the frozen copy."""
    png = png or signature_png()
    sha = hashlib.sha256(png).hexdigest()
    with Session(engine) as session:
        version = session.exec(select(OrderVersion).where(OrderVersion.order_id == order_id,
                                                          OrderVersion.number == number)).one()
        assert version.document, "the version is issued first"
        copy = SignedCopy(VersionDocument.from_json(version.document), ClientSignature(outcome, name, at, sha, comment))
        if session.get(Asset, sha) is None:
            session.add(Asset(sha256=sha, media_type="image/png", content=png))
        request = SignatureRequest(order_id=order_id, version=number, nonce=os.urandom(16).hex(), asked_by=WORKER,
                                   asked_at=at - timedelta(hours=1), expires_at=at + timedelta(days=2), used_at=at,
                                   outcome=outcome, signer_name=name, comment=comment, signature_sha256=sha,
                                   ip="203.0.113.7", user_agent="Mozilla/5.0 (Linux; Android 14)",
                                   document=copy.canonical_json(), fingerprint=copy.fingerprint)
        session.add(request)
        session.commit()
        assert request.id is not None
        return request.id


def closed(service: OrderService) -> int:  # noqa: F811 - the fixture's name
    """An order approved (version 1) and closed as completed (version 2, the closing record), both issued."""
    order = approved(service)
    assert order.id is not None
    service.apply(COORDINATOR, order.id, Action.COMPLETE, order.revision, Closing("Filters replaced."))
    for number in (1, 2):
        issue(service.engine, order.id, number, LETTERHEAD)
    return order.id


def text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def test_the_signed_copy_shows_who_signed_when_and_how(service: OrderService) -> None:  # noqa: F811
    order_id = closed(service)
    request = sign(service.engine, order_id, 2)
    signed = issue_signed(service.engine, request)
    assert signed.as_issued and signed.copy.signature.name == "Carla Rojas"
    said = text(signed.pdf)
    # the time in the document's zone (the letterhead's: UTC here) and language
    assert "Signed by Carla Rojas on Nov 27, 2026 5:00 PM" in said.replace("\u202f", " ")
    assert "Client's representative Name Carla Rojas Signature Date Nov 27, 2026 5:00 PM" in said.replace(
        "\u202f", " ")
    assert "The client accepted this version." in said
    assert "version 2, signed copy" in said
    reader = PdfReader(io.BytesIO(signed.pdf))
    assert reader.metadata is not None and reader.metadata.title == "Service order SO-000001 v2, signed by Carla Rojas"
    stamp = read_stamp(signed.pdf)
    assert stamp is not None and stamp.signed and stamp.version == 2 and stamp.fingerprint == signed.copy.fingerprint
    assert reader.metadata["/Keywords"] == f"service-order SO-000001 v2 signed sha256:{signed.copy.fingerprint}"
    # the drawn signature is on the page that has the signature block
    assert any(image.image.size == (600, 200) for page in reader.pages for image in page.images
               if "Client's representative" in page.extract_text())
    # the first render's hash is recorded; a second render gives the same bytes
    with Session(service.engine) as session:
        row = session.get_one(SignatureRequest, request)
        assert row.pdf_sha256 == hashlib.sha256(signed.pdf).hexdigest()
    assert issue_signed(service.engine, request).pdf == signed.pdf
    # the version's own PDF is unchanged by its signature, and its stamp stays the plain one
    plain = issue(service.engine, order_id, 2, LETTERHEAD)
    assert plain.as_issued and read_stamp(plain.pdf) == Stamp("SO-000001", 2, plain.document.fingerprint)
    assert "Signed by" not in text(plain.pdf)


def test_a_dispute_says_so_with_its_comment_in_spanish(service: OrderService) -> None:  # noqa: F811
    from dataclasses import replace

    from workflow.letterhead import Letterhead

    spanish = Letterhead(replace(LETTERHEAD.provider, locale="es", timezone="America/Santiago"))
    order = approved(service)
    assert order.id is not None
    issue(service.engine, order.id, 1, spanish)
    request = sign(service.engine, order.id, 1, outcome="disputed", name="Pedro Núñez",
                   comment="Faltan dos filtros.")
    said = text(issue_signed(service.engine, request).pdf)
    # 17:00 UTC is 14:00 in Santiago (summer time)
    assert "Disputada por Pedro Núñez el 27 nov 2026 14:00" in said, said
    assert "El cliente disputó esta versión: Faltan dos filtros." in said
    # a disputed copy is not called signed (its title, its footer)
    assert "versión 1, copia disputada" in said and "firmada" not in said
    assert PdfReader(io.BytesIO(issue_signed(service.engine, request).pdf)).metadata.title.endswith(
        "v1, disputada por Pedro Núñez")


def test_verify_knows_a_signed_copy_and_a_changed_one(service: OrderService) -> None:  # noqa: F811
    order_id = closed(service)
    signed = issue_signed(service.engine, sign(service.engine, order_id, 2))
    verdict = verify(service.engine, signed.pdf, "signed.pdf")
    assert verdict.finding is Finding.GENUINE_SIGNED and verdict.matches
    assert verdict.values["signer"] == "Carla Rojas" and verdict.values["outcome"] == "accepted"
    assert verdict.values["signed_at"] == SIGNED_AT and verdict.values["version"] == 2
    # one byte changed
    at = signed.pdf.index(b"Carla Rojas") if b"Carla Rojas" in signed.pdf else len(signed.pdf) // 2
    changed = signed.pdf[:at] + bytes([signed.pdf[at] ^ 1]) + signed.pdf[at + 1:]
    assert verify(service.engine, changed, "x.pdf").finding is Finding.SIGNED_CHANGED
    # a signed stamp nobody issued
    forged = signed.pdf.replace(signed.copy.fingerprint.encode(), b"a" * 64)
    assert verify(service.engine, forged, "x.pdf").finding is Finding.NOT_SIGNED
    # the plain versions still verify as versions
    for number in (1, 2):
        plain = issue(service.engine, order_id, number, LETTERHEAD)
        assert verify(service.engine, plain.pdf, "v.pdf").finding is Finding.GENUINE


def test_a_signed_copy_never_rendered_is_not_yet_genuine(service: OrderService) -> None:  # noqa: F811
    """verify compares with the first render's recorded hash: none yet, nothing to match."""
    order_id = closed(service)
    request = sign(service.engine, order_id, 2)
    data = issue_signed(service.engine, request).pdf
    with Session(service.engine) as session:
        row = session.get_one(SignatureRequest, request)
        row.pdf_sha256 = None
        session.add(row)
        session.commit()
    assert verify(service.engine, data, "x.pdf").finding is Finding.NOT_SIGNED


def test_the_latest_answer_is_the_signed_copy_of_a_version(service: OrderService) -> None:  # noqa: F811
    order_id = closed(service)
    assert signed_request(service.engine, order_id, 2) is None
    first = sign(service.engine, order_id, 2, outcome="disputed", comment="Noisy belt", at=SIGNED_AT)
    later = sign(service.engine, order_id, 2, at=SIGNED_AT + timedelta(hours=3))
    assert signed_request(service.engine, order_id, 2) == later != first
    assert signed_request(service.engine, order_id, 1) is None
    with pytest.raises(LookupError):
        issue_signed(service.engine, 10_000)


def test_an_unreadable_signature_image_still_names_the_signer(service: OrderService) -> None:  # noqa: F811
    order_id = closed(service)
    request = sign(service.engine, order_id, 2, png=b"\x89PNG\r\n\x1a\n not an image")
    signed = issue_signed(service.engine, request)
    assert "Signed by Carla Rojas" in text(signed.pdf)
    assert not any(page.images for page in PdfReader(io.BytesIO(signed.pdf)).pages)


# ---------------------------------------------------------------- the command line


def cli(*args: str, engine: Engine, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "LOCALE"}
    env["DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    return subprocess.run([CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_pdf_signed_writes_the_signed_copy_and_verify_recognises_it(service: OrderService,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    order_id = closed(service)
    out = tmp_path / "copy.pdf"
    none = cli("pdf", "SO-000001", "--version", "2", "--signed", "-o", str(out), engine=service.engine)
    assert none.returncode == 2 and not out.exists()
    assert none.stderr.strip() == ("service-orders: SO-000001 version 2 has no signed copy: the client has not "
                                   "signed it")
    signed = issue_signed(service.engine, sign(service.engine, order_id, 2))  # as the signing page's effect does
    result = cli("pdf", "SO-000001", "--signed", "-o", str(out), engine=service.engine)  # the latest version
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == signed.pdf
    assert result.stdout.strip() == (f"Wrote {out}: SO-000001 version 2, signed by Carla Rojas, fingerprint "
                                     f"{signed.copy.fingerprint}")
    checked = cli("verify", str(out), engine=service.engine)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip() == (
        f"MATCHES: {out} is the signed copy of SO-000001 version 2, accepted by Carla Rojas on "
        f"{SIGNED_AT:%Y-%m-%d %H:%M} UTC, and is exactly that signed copy (fingerprint "
        f"{signed.copy.fingerprint[:12]}).")
    edited = tmp_path / "edited.pdf"
    edited.write_bytes(out.read_bytes().replace(b"/Title", b"/Title ", 1))
    changed = cli("verify", str(edited), engine=service.engine)
    assert changed.returncode == 1 and "its bytes differ from that signed copy" in changed.stdout
    # by default the file is named after the signed copy, here
    default = cli("pdf", "SO-000001", "--version", "2", "--signed", engine=service.engine, cwd=tmp_path)
    assert default.returncode == 0 and (tmp_path / "SO-000001-v2-signed.pdf").read_bytes() == signed.pdf
    again = cli("pdf", "SO-000001", "--version", "2", "--signed", engine=service.engine, cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.strip().endswith("exists; add --force to replace it")
    # a later answer that disputes it is the disputed copy, by name and in what the command says
    disputed = issue_signed(service.engine, sign(service.engine, order_id, 2, outcome="disputed", name="Pat Client",
                                                 comment="Two filters were not replaced"))
    result = cli("pdf", "SO-000001", "--version", "2", "--signed", engine=service.engine, cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "SO-000001-v2-disputed.pdf").read_bytes() == disputed.pdf
    assert result.stdout.strip() == ("Wrote SO-000001-v2-disputed.pdf: SO-000001 version 2, disputed by Pat Client, "
                                     f"fingerprint {disputed.copy.fingerprint}")
