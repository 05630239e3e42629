"""A version's photos and the reads Slack refuses (review findings 1, 2, 5, 9, 10 of issue 17), through signed
requests into the running bot, the fake Slack on loopback, the signing page over HTTP and the CLI, on a real
database. A file is read beside the order's chain: its version's document waits for it (the PDF, the signing
page, a new signing link), and a read that fails for good leaves the file out, said, instead of anything waiting
for ever or failing with it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import Session, func, select

from bot.effects.fetch import examine
from bot.signing_links import Links
from sandbox.client import drawn_signature as signature_png
from sandbox.client import fetch, open_page
from sandbox.local import manifest_scopes
from storage.models import Asset, OrderAttachment, OrderVersion, PendingEffect, SignatureRequest, SlackEvent
from tests.conftest import WORKER
from tests.signing_helpers import LINK_SECRET, Signing
from tests.test_evidence import photo, rows
from workflow.attachments import LeftOut
from workflow.document import SignedCopy

CLI = str(Path(sys.executable).parent / "service-orders")


def png_header(width: int, height: int) -> bytes:
    """A PNG that is its header alone: its size is known without decoding, and decoding it would fail."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with Signing(seeded) as workspace:
        yield workspace


def frozen(ws: Signing, order_id: int, number: int) -> bool:
    with Session(ws.engine) as session:
        return session.exec(select(OrderVersion.document).where(
            OrderVersion.order_id == order_id, OrderVersion.number == number)).one() is not None


def effects(ws: Signing, kind: str) -> list[PendingEffect]:
    with Session(ws.engine) as session:
        return list(session.exec(select(PendingEffect).where(PendingEffect.kind == kind).order_by(PendingEffect.id)))


def later(ws: Signing, minutes: int = 10) -> None:
    """The clock moves on past any back-off; the runner runs what is due."""
    ws.now += timedelta(minutes=minutes)
    ws.settle()


def images_in(content: bytes) -> list[bytes]:
    """The images a PDF draws, as embedded (a JPEG thumbnail is embedded as it is)."""
    return [image.data for page in PdfReader(io.BytesIO(content)).pages for image in page.images]


def thumbnail(ws: Signing, row: OrderAttachment) -> bytes:
    with Session(ws.engine) as session:
        asset = session.get(Asset, row.thumbnail_sha256)
        assert asset is not None
        return asset.content


def uploaded(ws: Signing, name: str) -> bytes:
    [file] = [f for f in ws.fake.files.values() if f.name == name]
    return file.content


def test_a_version_waits_for_its_photos_then_its_pdf_and_signed_copy_have_them(ws: Signing, tmp_path: Path) -> None:
    order_id = ws.approved_order()
    ws.fake.fail_next("url_private", "internal_error", 500)  # Slack fails the first read
    ack = ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="Slab", files=[("slab.jpg", photo())])
    assert ack.text == "", ack.text
    ws.wait(lambda: any(e.attempts for e in effects(ws, "fetch_file"))
            and any(e.attempts for e in effects(ws, "upload_pdf") if e.status == "pending"), "the first tries")
    assert ws.bot is not None and ws.bot.ctx.effects.wait_idle()
    # the read waits for its back-off; the version is not frozen without its photo, its PDF waits
    assert [(r.version, r.status) for r in rows(ws, order_id)] == [(2, "pending")]
    assert not frozen(ws, order_id, 2)
    [waiting] = [e for e in effects(ws, "upload_pdf") if e.status == "pending"]
    assert "still being read" in (waiting.last_error or "")
    assert "SO-000001-v2.pdf" not in {f.name for f in ws.fake.files.values()}

    # nobody is asked to sign it yet: the clicking person hears why, and no link is made
    ws.ask_to_sign(WORKER, order_id)
    ws.wait(lambda: ws.fake.ephemerals, "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == ("SO-000001 v2's photos and files are still being read from Slack: ask "
                                              "the client to sign in a moment.")
    assert ws.requests() == []

    # a link made for it before this release: the page and its PDF say "being prepared", and store nothing
    with Session(ws.engine) as session:
        session.add(SignatureRequest(order_id=order_id, version=2, nonce="ab" * 16, asked_by=WORKER,
                                     asked_at=ws.now, expires_at=ws.now + timedelta(hours=72)))
        session.commit()
    link = Links(ws.url, LINK_SECRET).link("ab" * 16)
    for answer in (fetch(link), fetch(f"{link}/pdf")):
        assert answer.status == 503 and "still being prepared" in answer.body, answer.body
    assert not frozen(ws, order_id, 2) and ws.requests()[0].used_at is None

    # the CLI says so in one line, and writes nothing
    env = {**os.environ, "DATABASE_URL": ws.engine.url.render_as_string(hide_password=False)}
    out = tmp_path / "v2.pdf"
    result = subprocess.run([CLI, "pdf", "SO-000001", "-o", str(out)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and not out.exists()
    assert result.stderr.strip().splitlines()[-1].endswith(
        "SO-000001 version 2's photos and files are still being read from Slack: try again in a moment")
    assert not frozen(ws, order_id, 2)

    later(ws)  # the read succeeds: the version is issued with the photo
    [row] = rows(ws, order_id)
    assert (row.version, row.status) == (2, "kept")
    assert thumbnail(ws, row) in images_in(uploaded(ws, "SO-000001-v2.pdf"))

    page = open_page(link)
    assert page.post(outcome="accepted", name="Pat Client", signature=signature_png()).status == 200
    ws.settle()
    copy = SignedCopy.from_json(ws.requests()[0].document or "")
    assert [a.name for a in copy.document.attachments] == ["slab.jpg"]
    signed = images_in(uploaded(ws, "SO-000001-v2-signed.pdf"))
    assert thumbnail(ws, row) in signed  # the photo, and the drawn signature beside it
    assert len(signed) == len(images_in(uploaded(ws, "SO-000001-v2.pdf"))) + 1


def test_a_read_slack_refuses_for_good_fails_nothing_else_and_is_left_out(ws: Signing) -> None:
    order_id = ws.approved_order()
    link = ws.ask(WORKER, order_id)
    ws.fake.set_scopes([s for s in manifest_scopes() if s != "files:read"])  # an admin took files:read away
    ws.share_photos(WORKER, order_id, [("meter.jpg", photo())], "the meter now")
    assert open_page(link).post(outcome="accepted", name="Pat Client", signature=signature_png()).status == 200
    ws.settle()
    # the photo is left out at once, said; the client's answer and the signed copy went out all the same
    assert [(r.status, r.reason) for r in rows(ws, order_id)] == [("left_out", LeftOut.NOT_READ.value)]
    said = ws.transcript(order_id)
    assert ("“meter.jpg” was left out of the order's photos and files: Slack did not let the bot read it (an admin "
            "may need to check the app's permissions)") in said
    assert "*SO-000001 v1* was signed by Pat Client" in said
    assert "SO-000001-v1-signed.pdf" in {f.name for f in ws.fake.files.values()}
    assert {e.status for e in effects(ws, "fetch_file") + effects(ws, "upload_signed")} == {"done"}

    # the next version is not held for it
    assert ws.complete(WORKER, order_id, note="Done").text == ""
    ws.settle()
    assert frozen(ws, order_id, 2)
    assert not any(e.status == "failed" for e in effects(ws, "upload_pdf"))


def test_a_read_that_keeps_failing_is_left_out_after_its_last_try(ws: Signing) -> None:
    order_id = ws.approved_order()
    ws.fake.fail_next("url_private", "internal_error", 500, times=20)
    assert ws.complete(WORKER, order_id, note="Done", files=[("roof.jpg", photo())]).text == ""
    for _ in range(12):  # each try after its back-off, as long as the version waits
        if [r.status for r in rows(ws, order_id)] != ["pending"]:
            break
        ws.now += timedelta(minutes=10)
        assert ws.bot is not None
        ws.bot.ctx.effects.kick()
        ws.bot.ctx.effects.wait_idle()
    ws.settle()
    assert [(r.status, r.reason) for r in rows(ws, order_id)] == [("left_out", "not_read")]
    assert frozen(ws, order_id, 2)  # the closing record was issued without it
    assert "SO-000001-v2.pdf" in {f.name for f in ws.fake.files.values()}
    assert "“roof.jpg” was left out" in ws.transcript(order_id)


def test_a_slack_connect_photo_comes_as_its_id_and_is_read(ws: Signing) -> None:
    order_id = ws.approved_order()
    shot = photo((640, 480))
    ts, answer = ws.share_photos(WORKER, order_id, [("gauge.jpg", shot), ("notes.pdf", b"%PDF-1.4\n%%EOF\n")],
                                 slack_connect=True)
    assert answer.status == 200
    assert answer.sent["event"]["files"][0] == {"id": answer.sent["event"]["files"][0]["id"], "mode": "file_access",
                                                "file_access": "check_file_info", "created": 0, "timestamp": 0,
                                                "user": ""}
    ws.settle()
    # files.info told its name, type and size; a file that is not a photo is left out once Slack says so
    assert [(r.name, r.mimetype, r.size, r.status, r.reason) for r in rows(ws, order_id)] == [
        ("gauge.jpg", "image/jpeg", len(shot), "kept", None),
        ("notes.pdf", "application/pdf", 15, "left_out", LeftOut.NOT_A_PHOTO.value)]
    assert ("“notes.pdf” was left out of the order's photos and files: only photos shared in the channel are taken"
            in ws.transcript(order_id))
    order = ws.order(order_id)
    card = ws.fake.message(order.channel_id or "", order.card_ts or "")
    assert card is not None and "1 photo for the next version" in str(card.blocks)  # counted once it was read


def test_an_image_too_large_to_decode_is_left_out_from_its_header(ws: Signing) -> None:
    huge = png_header(8000, 6000)  # 48 megapixels, in a few bytes
    assert examine(huge, "image/png").reason is LeftOut.TOO_MANY_PIXELS  # decoding it would have failed
    assert examine(png_header(800, 600), "image/png").reason is LeftOut.UNREADABLE
    order_id = ws.approved_order()
    assert ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="Pano", files=[("pano.png", huge)]).text == ""
    ws.settle()
    assert [(r.status, r.reason) for r in rows(ws, order_id)] == [("left_out", "too_many_pixels")]
    assert ("“pano.png” was left out of the order's photos and files: the picture is larger than 40 megapixels"
            in ws.transcript(order_id))


def test_a_chat_message_costs_no_write_in_the_ack(ws: Signing) -> None:
    order_id = ws.approved_order()
    channel = ws.order(order_id).channel_id

    def seen() -> int:
        with Session(ws.engine) as session:
            return session.exec(select(func.count()).select_from(SlackEvent)).one()

    before = seen()
    ws.slack.event({"type": "message", "user": WORKER, "text": "on my way", "channel": channel, "ts": "1.000001",
                    "channel_type": "group"}, event_id="EvTALK")
    assert seen() == before
    ws.share_photos(WORKER, order_id, [("a.jpg", photo())], event_id="EvPHOTO")
    assert seen() == before + 1  # a message with files is still kept once
