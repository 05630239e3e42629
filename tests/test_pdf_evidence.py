"""A version's photos and attachments in its PDF, and the signature block kept with the totals: rendered for real,
read back with pypdf (text, images) and looked at as pixels (pypdfium2, and poppler's pdftoppm)."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlmodel import Session, select

from pdf.render import render_signed, render_version
from storage.models import Asset, OrderVersion
from tests.test_pdf import ISSUED, closing, line, make_doc, pages_text, png, provider, text_of
from tests.test_signed_copy import signature_png
from tests.test_workflow import LETTERHEAD, approved, service  # noqa: F401 - the fixture
from workflow.document import Attachment, ClientSignature, SignedCopy, VersionDocument
from workflow.issuing import issue
from workflow.service import OrderService
from workflow.verification import Finding, verify

SHARED = ISSUED + timedelta(days=1, hours=1)  # Nov 27, 12:05 in Santiago
A4_MM = (210, 297)


def thumbnail(color: tuple[int, int, int], size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A camera photo made into a thumbnail as the download effect does: at most 480 px, JPEG."""
    image = Image.new("RGB", size, color)
    ImageDraw.Draw(image).ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(250, 220, 0))
    image.thumbnail((480, 480))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def photo(n: int, data: bytes, who: str = "Jürgen Müller") -> Attachment:
    return Attachment(f"IMG_{n:04d}.jpg", "image/jpeg", 3_000_000 + n, hashlib.sha256(b"original %d" % n).hexdigest(),
                      who, SHARED + timedelta(minutes=n), hashlib.sha256(data).hexdigest())


SCAN = Attachment("delivery-note.pdf", "application/pdf", 1_250_000, "ab12" * 16, "Ana Díaz", SHARED)


def evidence(count: int = 10) -> tuple[tuple[Attachment, ...], dict[str, bytes]]:
    """`count` photos, every third one upright, and a scanned PDF."""
    images, attachments = {}, []
    for n in range(count):
        data = thumbnail((30 + 20 * n, 90, 200 - 15 * n), (3000, 4000) if n % 3 == 0 else (4000, 3000))
        attachments.append(photo(n, data, "Jan Kowalski (Łódź)" if n % 2 else "Jürgen Müller"))
        images[hashlib.sha256(data).hexdigest()] = data
    return (*attachments, SCAN), images


def page_images(data: bytes) -> list[list[tuple[int, int]]]:
    return [[image.image.size for image in page.images] for page in PdfReader(io.BytesIO(data)).pages]


# ---------------------------------------------------------------- the section


def test_photos_in_a_grid_with_who_and_when_and_files_by_name_size_and_hash() -> None:
    attachments, images = evidence()
    doc = closing(attachments=attachments)
    data = render_version(doc, png(), images)
    text = text_of(data).replace("\u202f", " ")
    assert "Photos and attachments" in text
    captions = re.findall(r"(Jürgen Müller|Jan Kowalski \(Łódź\)) Nov 27, 2026 12:(\d\d) PM", text)
    assert [int(minute) for _, minute in captions] == list(range(5, 15))  # in order, each with who and when
    assert "Jürgen Müller Nov 27, 2026 12:05 PM Jan Kowalski (Łódź) Nov 27, 2026 12:06 PM" in text
    assert "• delivery-note.pdf · 1.3 MB · ab12ab12ab12 · Ana Díaz, Nov 27, 2026 12:05 PM" in text
    sizes = [size for page in page_images(data) for size in page]
    assert sorted(sizes) == sorted([(300, 100)] + [(360, 480)] * 4 + [(480, 360)] * 6)  # the logo, the photos
    # the photos come after the changes and before the history
    assert text.index("Changes in this version") < text.index("Photos and attachments") < text.index(
        "Version history")
    assert render_version(VersionDocument.from_json(doc.canonical_json()), png(), images) == data


def test_a_photo_keeps_its_aspect_in_its_cell() -> None:
    """An upright photo is centred in its 4:3 cell with blank bands beside it; a landscape one fills it."""
    pdfium = pytest.importorskip("pypdfium2")
    red, blue = thumbnail((220, 0, 0), (3000, 4000)), thumbnail((0, 0, 220))
    doc = make_doc(attachments=(photo(1, red), photo(2, blue)), items=(line("SRV-1", "One", "1", "1"),))
    document = pdfium.PdfDocument(render_version(doc, None, {hashlib.sha256(d).hexdigest(): d for d in (red, blue)}))
    image = document[len(document) - 1].render(scale=4).to_pil().convert("RGB")
    document.close()
    px = image.width / A4_MM[0]
    cells = _photo_rows(image)
    assert cells, "no photo on the page"
    top, bottom = cells[0]
    middle = (top + bottom) // 2
    cell = (180 - 3 * 4.0) / 4
    red_cell = (int(15 * px), int((15 + cell) * px))
    blue_cell = (int((15 + cell + 4) * px), int((15 + 2 * cell + 4) * px))
    # an upright photo: 3/4 of the cell's height wide, so bands of 1 - 9/16 of the width beside it
    assert _is(image.getpixel((red_cell[0] + 4, middle)), (255, 255, 255))
    assert _is(image.getpixel(((red_cell[0] + red_cell[1]) // 2, middle + int(0.4 * (bottom - top))))[:1], (220,))
    assert _is(image.getpixel((blue_cell[0] + 6, middle + int(0.4 * (bottom - top)))), (0, 0, 220))


def _photo_rows(image: Image.Image) -> list[tuple[int, int]]:
    """The vertical extent of the red photo (its pixels in the left quarter of the page)."""
    quarter = image.crop((0, 0, image.width // 4, image.height))
    rows = [y for y in range(quarter.height) if any(_is(quarter.getpixel((x, y)), (220, 0, 0))
                                                    for x in range(0, quarter.width, 8))]
    return [(rows[0], rows[-1])] if rows else []


def _is(pixel: tuple[int, ...], color: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(pixel, color, strict=False))


def test_in_spanish() -> None:
    attachments, images = evidence(2)
    doc = closing(provider=provider(locale="es", currency="CLP"), attachments=attachments)
    text = text_of(render_version(doc, None, images))
    assert "Fotos y adjuntos" in text
    assert "Jürgen Müller 27 nov 2026 12:05" in text
    assert "• delivery-note.pdf · 1,3 MB · ab12ab12ab12 · Ana Díaz, 27 nov 2026 12:05" in text


def test_a_photo_whose_thumbnail_is_missing_or_unreadable_is_listed_as_a_file() -> None:
    good = thumbnail((0, 120, 0))
    broken = photo(2, b"\xff\xd8\xff not a jpeg")
    lost = photo(3, b"never stored")
    doc = make_doc(attachments=(photo(1, good), broken, lost))
    data = render_version(doc, None, {hashlib.sha256(good).hexdigest(): good,
                                      broken.thumbnail_sha256 or "": b"\xff\xd8\xff not a jpeg"})
    assert [size for page in page_images(data) for size in page] == [(480, 360)]
    text = text_of(data)
    assert f"• IMG_0002.jpg · 3 MB · {broken.sha256[:12]}" in text
    assert f"• IMG_0003.jpg · 3 MB · {lost.sha256[:12]}" in text


def test_long_names_are_cut_in_a_caption_and_wrap_in_the_list() -> None:
    data = thumbnail((0, 0, 200))
    who = "María Fernanda de los Ángeles Gutiérrez-Valenzuela y Santibáñez"
    doc = make_doc(attachments=(replace(photo(1, data), shared_by=who),
                                replace(SCAN, name="informe " * 40 + ".pdf")))
    text = text_of(render_version(doc, None, {hashlib.sha256(data).hexdigest(): data}))
    assert "María Fernanda de los… Nov 27, 2026" in text and who not in text
    assert "informe " * 39 in text.replace("  ", " ") + " "


def test_no_attachments_no_section_and_the_stored_form_is_unchanged() -> None:
    doc = make_doc()
    assert "attachments" not in doc.canonical_json()
    assert "Photos and attachments" not in text_of(render_version(doc))
    with_files = make_doc(attachments=(SCAN,))
    assert with_files.fingerprint != doc.fingerprint and '"attachments":' in with_files.canonical_json()


# ---------------------------------------------------------------- the fingerprint and verify


def test_verify_notices_a_swapped_photo(service: OrderService) -> None:  # noqa: F811
    """A version issued with a photo: a PDF drawn with another picture under the same stamp is a changed file;
    a document naming another photo is another document (another fingerprint)."""
    order = approved(service)
    assert order.id is not None
    first = thumbnail((200, 0, 0))
    _freeze_with(service, order.id, 1, (photo(1, first),), {hashlib.sha256(first).hexdigest(): first})
    issued = issue(service.engine, order.id, 1, LETTERHEAD)
    assert issued.document.attachments and issued.as_issued
    assert [size for page in page_images(issued.pdf) for size in page] == [(480, 360)]
    assert verify(service.engine, issued.pdf, "v1.pdf").finding is Finding.GENUINE

    other = thumbnail((0, 0, 200))
    swapped = render_version(issued.document, None, {issued.document.attachments[0].thumbnail_sha256 or "": other})
    assert verify(service.engine, swapped, "swapped.pdf").finding is Finding.CHANGED
    # the thumbnail's bytes swapped in storage: the version renders differently, the first file stays of record
    with Session(service.engine) as session:
        asset = session.get_one(Asset, issued.document.attachments[0].thumbnail_sha256)
        asset.content = other
        session.add(asset)
        session.commit()
    again = issue(service.engine, order.id, 1, LETTERHEAD)
    assert not again.as_issued and verify(service.engine, again.pdf, "again.pdf").finding is Finding.CHANGED
    assert verify(service.engine, issued.pdf, "v1.pdf").finding is Finding.GENUINE

    renamed = replace(issued.document, attachments=(replace(issued.document.attachments[0], sha256="0" * 64),))
    forged = render_version(renamed, None, {issued.document.attachments[0].thumbnail_sha256 or "": first})
    assert verify(service.engine, forged, "forged.pdf").finding is Finding.OTHER_FINGERPRINT


def _freeze_with(service: OrderService, order_id: int, number: int,  # noqa: F811
                 attachments: tuple[Attachment, ...], images: dict[str, bytes]) -> None:
    """The version's document frozen with these attachments, as issuing does once the photos are on it."""
    issued = issue(service.engine, order_id, number, LETTERHEAD).document
    document = replace(issued, attachments=attachments)
    with Session(service.engine) as session:
        version = session.exec(select(OrderVersion).where(OrderVersion.order_id == order_id,
                                                          OrderVersion.number == number)).one()
        version.document, version.fingerprint, version.pdf_sha256 = (document.canonical_json(), document.fingerprint,
                                                                     None)
        session.add(version)
        for sha, data in images.items():
            session.add(Asset(sha256=sha, media_type="image/jpeg", content=data))
        session.commit()


# ---------------------------------------------------------------- the signature block stays with the totals


def items(count: int, unpriced: bool = False) -> tuple:  # type: ignore[type-arg]
    lines = tuple(line(f"SRV-{i:03d}", f"Service step {i}", "10.00", "1") for i in range(count))
    return lines + ((line(None, "Crane hire, to be quoted", None, "1", None),) if unpriced else ())


def _page_of(pages: list[str], text: str) -> int:
    found = [i for i, page in enumerate(pages) if text in page]
    assert found, f"{text!r} is on no page"
    return found[0]


@pytest.mark.parametrize("kind", ["version", "signed copy"])
def test_the_signature_block_is_never_alone_on_a_page(kind: str) -> None:
    """For every item count from one line to three pages of them, the page with the totals has the signature
    block and the last line item. (Before, the block came last and from about 15 lines on sat alone on page 2.)"""
    broke = 0
    for count in range(1, 90, 1 if kind == "version" else 3):
        doc = closing(items=items(count, unpriced=count % 2 == 0))
        if kind == "version":
            data = render_version(doc)
        else:
            signature = ClientSignature("disputed", "Carla Rojas", SHARED, "0" * 64, "Belt still noisy")
            data = render_signed(SignedCopy(doc, signature), None, {}, signature_png())
        pages = pages_text(data)
        totals = _page_of(pages, "Total USD")
        assert _page_of(pages, "Signatures Field worker") == totals, f"{count} items: signatures apart"
        last = "Crane hire" if count % 2 == 0 else f"SRV-{count - 1:03d}"
        assert last in pages[totals], f"{count} items: the totals without the last line"
        if kind == "signed copy":
            assert _page_of(pages, "The client disputed this version") == totals
        broke += totals > 0
    assert broke  # some of them did reach a second page


def test_the_signature_block_is_drawn_on_the_totals_page_seen_by_pdftoppm(tmp_path: Path) -> None:
    """Pixels, as poppler renders them: the signature lines (long thin rules in the field worker's column) are
    on the page with the totals, under them, and on no other page."""
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: install poppler-utils (.ci/run does)"
    for count in (14, 30, 42):  # counts where the block used to be pushed alone onto the next page
        doc = closing(items=items(count))
        data = render_version(doc)
        pages = pages_text(data)
        totals = _page_of(pages, "Total USD")
        path = tmp_path / f"{count}.pdf"
        path.write_bytes(data)
        subprocess.run([pdftoppm, "-r", "100", "-gray", "-png", str(path), str(tmp_path / f"p{count}")], check=True,
                       timeout=60)
        rendered = sorted(tmp_path.glob(f"p{count}-*.png"))
        assert len(rendered) == len(pages)
        for index, file in enumerate(rendered):
            rules = _signature_rules(Image.open(file).convert("L"))
            if index == totals:
                assert len(rules) == 3, f"{count} items: {len(rules)} signature lines on the totals page"
                assert _total_row(Image.open(file).convert("L")) < rules[0]
            else:
                assert not rules, f"{count} items: signature lines on page {index + 1}, the totals on {totals + 1}"


def _signature_rules(image: Image.Image) -> list[int]:
    """Rows (in mm from the top) holding a dark rule across the field worker's column (x 36 to 99 mm) and white
    beyond it (x 101 to 104 mm, the gap between the two columns): the signature lines, one row each."""
    px = image.width / A4_MM[0]
    rows: list[int] = []
    for y in range(image.height):
        dark = all(image.getpixel((int(x * px), y)) < 128 for x in range(36, 100, 3))
        if dark and all(image.getpixel((int(x * px), y)) > 200 for x in (101, 102, 103)):
            mm = int(y / px)
            if not rows or mm - rows[-1] > 2:
                rows.append(mm)
    return rows


def _total_row(image: Image.Image) -> int:
    """The lowest row (mm) with ink in the amounts column, right of 170 mm, above the signature block."""
    px = image.width / A4_MM[0]
    rules = _signature_rules(image)
    inked = [y for y in range(int(rules[0] * px))
             if min(image.getpixel((int(x * px), y)) for x in range(175, 195)) < 100]
    return int(inked[-1] / px) if inked else 0


def test_a_version_with_no_line_items_still_has_its_signature_block() -> None:
    text = text_of(render_version(make_doc(items=())))
    assert "No line items. Signatures Field worker" in text
