"""Evidence from the field (issue 17, item 1): photos and files attached to a form or shared in an order's
channel, through signed requests into the running bot and the fake Slack on loopback, on a real database.
Each file's type and size are checked in the ack; its bytes are read after it, with the bot token; a kept one is
hashed and thumbnailed, a bad one left out and said in the channel; it goes on the next version issued."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlmodel import Session, select

from bot.gateway import Gateway, SlackError, make_client
from sandbox.local import LocalWorkspace, manifest_scopes
from sandbox.slackfake.validation import validate_view
from storage.models import Asset, OrderAttachment, OrderVersion, PendingEffect
from tests.conftest import COORDINATOR, NO_REAPPROVAL, OUTSIDER, REQUESTER, SUPERVISOR, WORKER
from workflow.document import Provider, VersionDocument
from workflow.letterhead import Letterhead
from workflow.shared_files import MAX_BYTES

PEOPLE = {REQUESTER: "Rosa Requester", SUPERVISOR: "Sam Supervisor", COORDINATOR: "Carla Coordinator",
          WORKER: "Jürgen Müller", OUTSIDER: "Otto Outsider"}
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


def photo(size: tuple[int, int] = (1200, 800), kind: str = "JPEG", orientation: int | None = None) -> bytes:
    """A real image; with an EXIF `orientation` (6: the camera was turned, show it rotated 90°)."""
    image = Image.new("RGB", size, (40, 120, 200))
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, kind, exif=exif)
    else:
        image.save(out, kind)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, policy=NO_REAPPROVAL) as workspace:
        yield workspace


def approved(ws: LocalWorkspace, files: list | None = None) -> int:  # type: ignore[type-arg]
    ack = ws.submit_order(REQUESTER, client="peñ", site="presidentes", items=[("hvac", "3")], requested=SOON,
                          description="Replace the HVAC filters.", files=files)
    assert ack.text == "", ack.text
    ws.settle()
    order_id = ws.latest_order_id()
    assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
    ws.settle()
    return order_id


def rows(ws: LocalWorkspace, order_id: int) -> list[OrderAttachment]:
    with Session(ws.engine) as session:
        return list(session.exec(select(OrderAttachment).where(OrderAttachment.order_id == order_id)
                                 .order_by(OrderAttachment.id)))


def document(ws: LocalWorkspace, order_id: int, number: int) -> VersionDocument:
    with Session(ws.engine) as session:
        version = session.exec(select(OrderVersion).where(OrderVersion.order_id == order_id,
                                                          OrderVersion.number == number)).one()
        assert version.document, f"v{number} was not issued"
        return VersionDocument.from_json(version.document)


def card_text(ws: LocalWorkspace, order_id: int) -> str:
    order = ws.order(order_id)
    assert order.channel_id and order.card_ts
    card = ws.fake.message(order.channel_id, order.card_ts)
    assert card is not None
    return json.dumps(card.blocks, ensure_ascii=False)


def channel_says(ws: LocalWorkspace, order_id: int) -> str:
    channel = ws.order(order_id).channel_id
    assert channel
    return ws.fake.transcript(channel)


def test_a_confirmation_with_two_photos_and_a_pdf_puts_them_on_its_version(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    roof, gauge = photo((1600, 1200), orientation=6), photo((300, 200), "PNG")
    ack = ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="Roof patched",
                     files=[("roof.jpg", roof), ("gauge.png", gauge), ("report.pdf", PDF)])
    assert ack.text == "", ack.text
    ws.settle()

    kept = rows(ws, order_id)
    assert [(r.name, r.version, r.status, r.source, r.shared_by) for r in kept] == [
        ("roof.jpg", 2, "kept", "form", WORKER), ("gauge.png", 2, "kept", "form", WORKER),
        ("report.pdf", 2, "kept", "form", WORKER)]
    assert [r.sha256 for r in kept] == [hashlib.sha256(b).hexdigest() for b in (roof, gauge, PDF)]
    assert kept[2].thumbnail_sha256 is None  # a PDF is listed, not drawn
    with Session(ws.engine) as session:
        thumbs = [session.get(Asset, r.thumbnail_sha256) for r in kept[:2]]
    for asset in thumbs:
        assert asset is not None and asset.media_type == "image/jpeg"
        assert hashlib.sha256(asset.content).hexdigest() == asset.sha256
    with Image.open(io.BytesIO(thumbs[0].content)) as small:  # type: ignore[union-attr]
        assert small.format == "JPEG" and small.size == (360, 480)  # at most 480 px, turned as its EXIF says
    # the bytes were read with the bot token, from the URL Slack gave for each file
    reads = [c for c in ws.fake.calls if c.method == "url_private"]
    assert len(reads) == 3 and all(c.status == 200 for c in reads)

    issued = document(ws, order_id, 2)
    assert [(a.name, a.shared_by, a.sha256) for a in issued.attachments] == [
        (r.name, "Jürgen Müller", r.sha256) for r in kept]
    assert issued.attachments[0].thumbnail_sha256 == kept[0].thumbnail_sha256
    assert document(ws, order_id, 1).attachments == ()  # an issued version is frozen
    assert "v2 · 2 photos" in card_text(ws, order_id)
    # the PDF shared in the channel draws both photos (their thumbnails) and lists the PDF by name
    [shared] = [f for f in ws.fake.files.values() if f.name == "SO-000001-v2.pdf"]
    drawn = [image.data for page in PdfReader(io.BytesIO(shared.content)).pages for image in page.images]
    with Session(ws.engine) as session:
        assert all(session.get(Asset, r.thumbnail_sha256).content in drawn for r in kept[:2])  # type: ignore[union-attr]
    assert "report.pdf" in "".join(page.extract_text() for page in PdfReader(io.BytesIO(shared.content)).pages)


def test_files_from_the_submit_form_go_on_version_1(ws: LocalWorkspace) -> None:
    order_id = approved(ws, files=[("site.jpg", photo())])
    assert [(r.version, r.status, r.shared_by) for r in rows(ws, order_id)] == [(1, "kept", REQUESTER)]
    assert [a.name for a in document(ws, order_id, 1).attachments] == ["site.jpg"]
    assert "v1 · 1 photo" in card_text(ws, order_id)


@pytest.mark.parametrize("upload, said", [
    (("notes.txt", b"just words"), "“notes.txt” is a text/plain file: only images (JPEG, PNG, GIF, WebP) and PDFs "
                                   "are taken."),
    (("huge.jpg", b"\xff" * (MAX_BYTES + 1)), "“huge.jpg” is 10 MB, above the limit of 10 MB for one file."),
    (("photo.heic", b"not read", "image/heic"), "“photo.heic” is a image/heic file"),
])
def test_a_wrong_type_or_an_oversize_file_is_refused_on_the_field(ws: LocalWorkspace, upload: tuple,  # type: ignore[type-arg]
                                                                  said: str) -> None:
    order_id = approved(ws)
    before = ws.order(order_id).revision
    ack = ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="More cement", files=[upload])
    body = ack.json()
    assert body["response_action"] == "errors" and said in body["errors"]["files"], body
    assert ws.order(order_id).revision == before  # nothing stored: no step, no row, nothing read
    assert rows(ws, order_id) == []
    assert not [c for c in ws.fake.calls if c.method == "url_private"]


def test_a_file_that_is_not_what_its_type_says_is_left_out_and_the_channel_told(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    cut = photo()[:400]  # a JPEG cut short: its header reads, its data does not
    ack = ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="Slab",
                     files=[("slab.jpg", b"these are words, not a photo"), ("cut.jpg", cut),
                            ("fake.pdf", b"MZ not a pdf"), ("real.jpg", photo())])
    assert ack.text == "", ack.text
    ws.settle()
    assert [(r.name, r.status, r.reason) for r in rows(ws, order_id)] == [
        ("slab.jpg", "left_out", "not_its_type"), ("cut.jpg", "left_out", "unreadable"),
        ("fake.pdf", "left_out", "not_its_type"), ("real.jpg", "kept", None)]
    said = channel_says(ws, order_id)
    assert "“slab.jpg” was left out of the order's photos and files: it is not the kind of file its name and " \
           "type say" in said
    assert "“cut.jpg” was left out" in said and "cannot be read" in said and "“fake.pdf” was left out" in said
    assert [a.name for a in document(ws, order_id, 2).attachments] == ["real.jpg"]
    assert "v2 · 1 photo" in card_text(ws, order_id)  # the card counted them while they were read: again now


def test_a_file_deleted_before_it_was_read_is_left_out(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    [gone] = ws.upload(WORKER, [("gone.jpg", photo())])
    ws.fake.delete_file(gone["id"])
    view = ws.open_step(WORKER, order_id, "confirm")
    ws.pick(WORKER, view, "item_0", "cement")
    ack = ws.submit(WORKER, view, {"qty_0": {"quantity": {"type": "number_input", "value": "2"}},
                                   "note": {"note": {"type": "plain_text_input", "value": "More"}},
                                   "files": {"files": {"type": "file_input", "files": [gone]}}})
    assert ack.text == "", ack.text
    ws.settle()
    assert [(r.status, r.reason) for r in rows(ws, order_id)] == [("left_out", "gone")]
    assert "“gone.jpg” was left out of the order's photos and files: Slack no longer has it" in channel_says(
        ws, order_id)


def test_a_photo_shared_in_the_channel_goes_on_the_next_version_with_a_thread_reply(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    shot = photo((640, 480))
    ts, answer = ws.share_photos(WORKER, order_id, [("meter.jpg", shot)], "the meter now")
    assert answer.status == 200
    ws.settle()
    [row] = rows(ws, order_id)
    assert (row.version, row.status, row.source, row.shared_by) == (None, "kept", "channel", WORKER)
    assert row.sha256 == hashlib.sha256(shot).hexdigest()
    channel = ws.fake.channels[ws.order(order_id).channel_id]  # type: ignore[index]
    [reply] = [m for m in channel.messages if m.thread_ts == ts and m.ts != ts]
    assert reply.user == ws.fake.bot_user_id
    assert ws.fake.plain_text(reply.text) == "SO-000001: “meter.jpg” goes on the order's next version."
    assert "1 photo for the next version" in card_text(ws, order_id)
    assert document(ws, order_id, 1).attachments == ()  # v1 was issued already: frozen

    assert ws.complete(WORKER, order_id, note="Done").text == ""
    ws.settle()
    assert rows(ws, order_id)[0].version == 2
    assert [(a.name, a.shared_by) for a in document(ws, order_id, 2).attachments] == [("meter.jpg", "Jürgen Müller")]
    assert "v2 · 1 photo" in card_text(ws, order_id)


def test_what_the_channel_listener_leaves_alone(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    channel = ws.order(order_id).channel_id
    assert channel
    ws.fake.invite_by_hand(channel, OUTSIDER, WORKER)  # someone of no part in the order
    ws.fake.add_channel("elsewhere", members=[WORKER])
    posts = len(ws.fake.calls_to("chat.postMessage"))
    # a PDF is not a photo; an outsider's photo is theirs; a photo in another channel is not this order's; a
    # bot's message is not a person's; an edit and a plain message carry no new photo
    ws.share_photos(WORKER, order_id, [("report.pdf", PDF)])
    ws.share_photos(OUTSIDER, order_id, [("mine.jpg", photo())])
    [other] = ws.upload(WORKER, [("other.jpg", photo())])
    ws.slack.share_files(WORKER, ws.fake.channel_by_name("elsewhere").id, [other["id"]])  # type: ignore[union-attr]
    ws.slack.event({"type": "message", "subtype": "file_share", "user": WORKER, "bot_id": "B1", "channel": channel,
                    "ts": "1.000001", "channel_type": "group", "files": [ws.upload(WORKER, [("b.jpg", photo())])[0]]})
    ws.slack.event({"type": "message", "subtype": "message_changed", "channel": channel, "ts": "1.000002",
                    "channel_type": "group", "message": {"user": WORKER, "text": "edited"}})
    ws.slack.event({"type": "message", "user": WORKER, "text": "just talk", "channel": channel, "ts": "1.000003",
                    "channel_type": "group"})
    ws.settle()
    assert rows(ws, order_id) == []
    assert len(ws.fake.calls_to("chat.postMessage")) == posts


def test_a_message_event_retried_by_slack_changes_nothing(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    ts, first = ws.share_photos(WORKER, order_id, [("a.jpg", photo())], event_id="EvPHOTO1")
    event = first.sent["event"]
    again = ws.slack.event(event, event_id="EvPHOTO1", retry_num=1)
    other_id = ws.slack.event(event, event_id="EvPHOTO2")  # the same message delivered under another id
    assert first.status == again.status == other_id.status == 200
    ws.settle()
    assert len(rows(ws, order_id)) == 1
    channel = ws.fake.channels[ws.order(order_id).channel_id]  # type: ignore[index]
    assert len([m for m in channel.messages if m.thread_ts == ts and m.ts != ts]) == 1
    with Session(ws.engine) as session:
        fetches = session.exec(select(PendingEffect).where(PendingEffect.kind == "fetch_file")).all()
    assert len(fetches) == 1


def test_a_change_held_for_approval_keeps_its_photos_waiting(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as ws:  # the product's re-approval threshold: a big rise waits
        order_id = approved(ws)
        ack = ws.confirm(WORKER, order_id, changes=[("crane", "40")], note="Crane", files=[("crane.jpg", photo())])
        assert ack.text == "", ack.text
        ws.settle()
        assert ws.order(order_id).state == "change_pending"
        assert [(r.version, r.status) for r in rows(ws, order_id)] == [(None, "kept")]
        assert ws.approve_change(COORDINATOR, order_id).text == ""
        ws.settle()
        assert [a.name for a in document(ws, order_id, 2).attachments] == ["crane.jpg"]


def test_the_fake_serves_url_private_only_to_the_bot_token_with_files_read(ws: LocalWorkspace) -> None:
    [file] = ws.upload(WORKER, [("x.png", photo(kind="PNG"))])
    url = file["url_private"]
    gateway = Gateway(make_client(ws.fake.bot_token, ws.fake.api_url))
    assert gateway.download(url, MAX_BYTES, "image/png") == ws.fake.files[file["id"]].content
    assert gateway.download(url, 100, "image/png") is None  # more than the cap: not read whole

    def get(token: str | None) -> tuple[int, str]:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request) as answer:  # follows the redirect, as a browser would
                return answer.status, answer.headers.get_content_type()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get_content_type()

    assert get(None) == (200, "text/html") and get("xoxb-wrong") == (200, "text/html")  # the sign-in page
    ws.fake.set_scopes([s for s in manifest_scopes() if s != "files:read"])
    assert get(ws.fake.bot_token) == (200, "text/html")
    with pytest.raises(SlackError, match="missing_scope"):
        gateway.download(url, MAX_BYTES, "image/png")
    ws.fake.delete_file(file["id"])
    ws.fake.set_scopes(manifest_scopes())
    assert get(ws.fake.bot_token)[0] == 404


def test_the_fake_takes_a_file_input_only_in_an_input_block() -> None:
    element = {"type": "file_input", "action_id": "f", "max_files": 10, "filetypes": ["jpg"]}
    ok = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "submit": {"type": "plain_text", "text": "S"},
          "blocks": [{"type": "input", "block_id": "f", "label": {"type": "plain_text", "text": "F"},
                      "element": element}]}
    assert validate_view(ok, ("modal",)) == []
    too_many = json.loads(json.dumps(ok))
    too_many["blocks"][0]["element"]["max_files"] = 11
    assert any("max_files" in e for e in validate_view(too_many, ("modal",)))
    outside = json.loads(json.dumps(ok))
    outside["blocks"] = [{"type": "actions", "elements": [element]}]
    assert validate_view(outside, ("modal",))


def test_a_download_slack_fails_is_read_again_and_the_pdf_waits_for_it(ws: LocalWorkspace) -> None:
    order_id = approved(ws)
    ws.fake.fail_next("url_private", "internal_error", 500)
    ack = ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="Slab", files=[("slab.jpg", photo())])
    assert ack.text == "", ack.text
    ws.settle(timeout=30)
    assert [c.status for c in ws.fake.calls if c.method == "url_private"] == [500, 200]
    assert [(r.status, r.version) for r in rows(ws, order_id)] == [("kept", 2)]
    assert [a.name for a in document(ws, order_id, 2).attachments] == ["slab.jpg"]  # issued after the read


def test_only_slack_file_objects_are_read_from_a_form() -> None:
    from forms.evidence import parse_files

    good = {"id": "F1", "name": "a.jpg", "mimetype": "image/jpeg", "size": 10, "url_private": "https://x/a.jpg",
            "user": "U1", "created": 1_700_000_000}
    values = {"files": {"files": {"type": "file_input", "files": [good, "F2", {"id": "F3"}, {"url_private": "u"},
                                                                  {**good, "id": "F4", "size": True,
                                                                   "created": "soon"}]}}}
    parsed = parse_files(values)
    assert [(f.slack_id, f.size, f.created is None) for f in parsed] == [("F1", 10, False), ("F4", 0, True)]
    assert parse_files({}) == () and parse_files({"files": {"files": {"files": "F1"}}}) == ()


def test_photos_over_socket_mode(seeded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # slack_sdk's Socket Mode client would tunnel loopback
    with LocalWorkspace(seeded, PEOPLE, transport="socket_mode", policy=NO_REAPPROVAL) as ws:
        order_id = approved(ws, files=[("before.jpg", photo())])
        ws.share_photos(WORKER, order_id, [("after.jpg", photo())])
        ws.settle()
        assert [(r.name, r.version, r.status) for r in rows(ws, order_id)] == [
            ("before.jpg", 1, "kept"), ("after.jpg", None, "kept")]


def test_what_the_bytes_are_decides_not_the_name() -> None:
    from bot.effects.fetch import examine

    def saved(image: Image.Image, kind: str, **options: object) -> bytes:
        out = io.BytesIO()
        image.save(out, kind, **options)
        return out.getvalue()

    clear = saved(Image.new("RGBA", (900, 300), (0, 0, 0, 0)), "PNG")
    read = examine(clear, "image/png")
    assert read.reason is None and read.sha256 == hashlib.sha256(clear).hexdigest()
    with Image.open(io.BytesIO(read.thumbnail or b"")) as thumb:
        assert thumb.size == (480, 160) and thumb.getpixel((1, 1)) == (255, 255, 255)  # on white paper
    assert examine(saved(Image.new("RGB", (9, 9)), "JPEG"), "image/png").reason == "not_its_type"
    camera = saved(Image.new("RGB", (64, 48)), "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48))])
    assert examine(camera, "image/jpeg").reason is None  # a camera's multi-picture JPEG is a JPEG
    assert examine(b"%PDF-1.7\n", "application/pdf").thumbnail is None


def test_the_channel_hears_it_in_the_providers_language(seeded) -> None:  # type: ignore[no-untyped-def]
    spanish = Letterhead(Provider(name="Servicios", locale="es_CL"))
    with LocalWorkspace(seeded, PEOPLE, policy=NO_REAPPROVAL, letterhead=spanish) as ws:
        order_id = approved(ws)
        ws.confirm(WORKER, order_id, changes=[("cement", "2")], note="Losa", files=[("losa.jpg", b"palabras")])
        ts, _ = ws.share_photos(WORKER, order_id, [("medidor.jpg", photo())])
        ws.settle()
        said = channel_says(ws, order_id)
        assert ("“losa.jpg” quedó fuera de las fotos y archivos de la orden: no es el tipo de archivo que dicen su "
                "nombre y su tipo. Súbelo de nuevo si hace falta.") in said
        assert "“medidor.jpg” va en la próxima versión de la orden." in said
        assert "v2 · 0 fotos" not in card_text(ws, order_id) and "1 foto para la próxima versión" in card_text(
            ws, order_id)
