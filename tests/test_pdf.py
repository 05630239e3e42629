"""The version PDF, rendered for real and read back with pypdf."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from pdf.render import render_version
from workflow.document import ItemLine, VersionDocument, diff_items

FOOTER = re.compile(r"SO-\d+ · version \d+ · page \d+ of \d+")
ROOT = Path(__file__).resolve().parent.parent
ISSUED = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)


def line(code: str | None, description: str, price: str | None, quantity: str, unit: str | None = "h") -> ItemLine:
    kind = "service" if code else "free"
    return ItemLine(kind, code, description, unit, None if price is None else Decimal(price), Decimal(quantity))


EIGHT_ITEMS = (
    line("SRV-001", "Conveyor belt inspection", "45.00", "2"),
    line("SRV-002", "Belt splice, hot vulcanised", "1250.00", "1"),
    line("MAT-010", "Idler roller 152 mm", "38.40", "12", "pc"),
    line("MAT-011", "Scraper blade", "210.00", "2", "pc"),
    line("SRV-003", "Night shift surcharge", "18.75", "8"),
    line("MAT-020", "Grease cartridge", "7.90", "10", "pc"),
    line("SRV-004", "Commissioning test", "320.00", "1"),
    line(None, "Crane hire, to be quoted", None, "1", None),
)


def make_doc(**overrides: Any) -> VersionDocument:
    """A typical approved order; override any field."""
    values: dict[str, Any] = {
        "order_number": "SO-000001",
        "version": 1,
        "version_count": 1,
        "state_label": "Approved",
        "issued_at": ISSUED,
        "client": "Minera Andes (MAND)",
        "site": "Peñalolén plant",
        "requester": "Ana Díaz",
        "approved_by": "Lars Ørsted",
        "approved_at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "field_workers": ("Jan Kowalski (Łódź)", "Jürgen Müller"),
        "requested_date": date(2026, 11, 20),
        "scheduled_date": date(2026, 12, 1),
        "priority": "High",
        "description": "Replace the worn belt on conveyor C-3 and check the idlers.",
        "approval_notes": "Approved within the quarterly budget.",
        "items": EIGHT_ITEMS,
    }
    values.update(overrides)
    return VersionDocument(**values)


def pages_text(data: bytes) -> list[str]:
    """Each page's text, whitespace collapsed so wrapping does not matter."""
    reader = PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def text_of(data: bytes) -> str:
    """All pages' text, page footers left out so text flowing across a page break reads on."""
    return " ".join(FOOTER.sub("", page).strip() for page in pages_text(data))


def test_every_section_is_present() -> None:
    data = render_version(make_doc())
    text = text_of(data)
    for expected in [
        "Service order SO-000001",
        "Version 1 of 1",
        "Approved",
        "2026-11-26 14:05 UTC",
        "Minera Andes (MAND)",
        "Peñalolén plant",
        "Ana Díaz",
        "Lars Ørsted",
        "2026-11-25 09:30 UTC",
        "Jan Kowalski (Łódź), Jürgen Müller",
        "2026-11-20",
        "2026-12-01",
        "Priority High",
        "Replace the worn belt on conveyor C-3",
        "Approval notes Approved within the quarterly budget.",
        "Code Description Quantity Unit Unit price Line total",
        "SRV-002 Belt splice, hot vulcanised 1 h 1,250.00 1,250.00",
        "MAT-010 Idler roller 152 mm 12 pc 38.40 460.80",
        "— Crane hire, to be quoted 1 — — —",
        "Total 2,769.80",
        "The total excludes 1 item(s) not yet priced.",
    ]:
        assert expected in text, expected
    assert pages_text(data)[-1].endswith("SO-000001 · version 1 · page 1 of 1")


def test_missing_optional_values_read_plainly() -> None:
    doc = make_doc(
        approved_by=None, approved_at=None, field_workers=(), scheduled_date=None, approval_notes=None, items=()
    )
    text = text_of(render_version(doc))
    for expected in ["Not approved", "None assigned", "Not scheduled", "No line items."]:
        assert expected in text
    assert "Approval notes" not in text


def test_version_1_is_the_approved_original() -> None:
    assert "Changes in this version Approved original." in text_of(render_version(make_doc()))


def test_version_2_lists_every_change() -> None:
    before = EIGHT_ITEMS[:4]
    after = (
        line("SRV-001", "Conveyor belt inspection", "45.00", "3"),  # quantity 2 -> 3
        line("SRV-002", "Belt splice, hot vulcanised", "1300.00", "1"),  # price up
        EIGHT_ITEMS[2],  # unchanged
        line("SRV-009", "Alignment check", "99.50", "1"),  # added
    )  # MAT-011 removed
    doc = make_doc(
        version=2,
        version_count=2,
        items=after,
        changes=diff_items(before, after),
        added_people=("Δημήτρης Παπαδόπουλος",),
        change_note="Client asked for an extra inspection.",
        change_author="Ana Díaz",
    )
    text = text_of(render_version(doc))
    assert "Approved original" not in text
    for expected in [
        "Changed SRV-001 Conveyor belt inspection: quantity 2 → 3; line total 90.00 → 135.00",
        "Changed SRV-002 Belt splice, hot vulcanised: unit price 1,250.00 → 1,300.00; line total 1,250.00 → 1,300.00",
        "Added SRV-009 Alignment check: quantity 1 h, unit price 99.50, line total 99.50",
        "Removed MAT-011 Scraper blade: was quantity 2 pc, unit price 210.00, line total 420.00",
        "Added people: Δημήτρης Παπαδόπουλος",
        "Change note by Ana Díaz: Client asked for an extra inspection.",
        # 90 + 1250 + 460.80 + 420 = 2,220.80 before; 135 + 1300 + 460.80 + 99.50 = 1,995.30 after
        "Change in total: -225.50 (2,220.80 → 1,995.30)",
    ]:
        assert expected in text, expected
    assert "MAT-010 Idler roller" not in text.split("Changes in this version")[1]


def test_accented_greek_and_cyrillic_render_and_extract() -> None:
    names = ("Peñalolén", "Ørsted", "Łódź", "Müller", "Αλέξανδρος Παπαδόπουλος", "Дмитрий Иванов")
    doc = make_doc(
        requester=names[4],
        field_workers=names[:4],
        description=f"Coordinate with {names[5]}.",
        # decomposed accents are composed to the font's own glyphs
        site="Pen\u0303alole\u0301n",
    )
    data = render_version(doc)
    text = text_of(data)
    for name in names:
        assert name in text
    assert "\ufffd" not in text
    fonts = [
        font.get_object()["/BaseFont"] for font in PdfReader(io.BytesIO(data)).pages[0]["/Resources"]["/Font"].values()
    ]
    assert all("DejaVuSans" in name for name in fonts)


def test_fonts_are_subset() -> None:
    # The two DejaVu files are ~1.4 MB; a subset holds only the glyphs used.
    assert len(render_version(make_doc())) < 80_000


def test_characters_the_font_lacks_become_a_mark_not_a_crash() -> None:
    # (DejaVu Sans does draw some emoji, e.g. 😀, so these are ones it lacks)
    doc = make_doc(
        version=2,
        version_count=2,
        description="Done 👍🏽 and 🎉, 你好; zero\u200bwidth\x00 ok",
        items=(line(None, "Sticker 🚀 pack", None, "1", None),),
        change_note="🚀🚀",
        change_author="Ψ 🦄",
    )
    text = text_of(render_version(doc))
    assert "Done \ufffd and \ufffd, \ufffd\ufffd; zerowidth ok" in text
    assert "Sticker \ufffd pack" in text
    assert "Change note by Ψ \ufffd: \ufffd\ufffd" in text


def test_long_description_wraps_in_full() -> None:
    words = [f"word{i}" for i in range(400)]
    description = " ".join(words)  # ~3,000 characters
    assert len(description) > 2_800
    text = text_of(render_version(make_doc(description=description)))
    assert description in text


def test_overlong_item_description_does_not_break_the_table() -> None:
    # fpdf2 cannot split one table row across pages; the cell is capped and the text given in full after.
    description = " ".join(f"part{i}" for i in range(600))
    data = render_version(make_doc(items=(line(None, description, "1.00", "1"),)))
    text = text_of(data)
    assert "Full item descriptions" in text
    assert description in text


def test_500_items_flow_over_pages_with_the_header_on_each() -> None:
    items = tuple(line(f"SRV-{i:04d}", f"Service step {i}", "10.00", "1") for i in range(1, 501))
    data = render_version(make_doc(items=items))
    pages = pages_text(data)
    assert len(pages) >= 5
    table_pages = [page for page in pages if "SRV-0" in page]
    assert len(table_pages) >= 4
    for page in table_pages:
        assert "Code Description Quantity Unit Unit price Line total" in page
    for number, page in enumerate(pages, start=1):
        assert f"SO-000001 · version 1 · page {number} of {len(pages)}" in page
    text = " ".join(pages)
    assert all(f"SRV-{i:04d} Service step {i} " in text for i in range(1, 501))
    assert "Total 5,000.00" in text


def test_same_document_gives_the_same_bytes() -> None:
    doc = make_doc()
    first = render_version(doc)
    assert render_version(doc) == first
    assert render_version(make_doc()) == first
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata is not None and reader.metadata.creation_date == ISSUED
    # a different document must not share the file ID
    other = render_version(make_doc(version=2, version_count=2))
    assert PdfReader(io.BytesIO(other)).trailer["/ID"] != reader.trailer["/ID"]


def test_same_bytes_in_another_process() -> None:
    """Hash seeds, the local time zone, the clock and fpdf2's internal uuids must not reach the output."""
    script = (
        "import hashlib, tests.test_pdf as t; from pdf.render import render_version; "
        "print(hashlib.sha256(render_version(t.make_doc())).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345", "TZ": "America/Santiago"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other == hashlib.sha256(render_version(make_doc())).hexdigest()


def test_naive_issue_time_is_taken_as_utc() -> None:
    aware = render_version(make_doc())
    assert render_version(make_doc(issued_at=ISSUED.replace(tzinfo=None))) == aware


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        ("0.335", "3", "1.01"),  # 1.005: half-up, where float or half-even give 1.00
        ("0.125", "2", "0.25"),
        ("1234567.5", "1", "1,234,567.50"),
        ("2.675", "1", "2.68"),  # float(2.675) is 2.67499...
    ],
)
def test_money_is_decimal_half_up(price: str, quantity: str, expected: str) -> None:
    text = text_of(render_version(make_doc(items=(line("SRV-1", "Thing", price, quantity),))))
    assert f"Total {expected}" in text
    assert f" {expected} Total" in text  # the line total, just before the total row


def test_unit_price_keeps_its_extra_decimals() -> None:
    text = text_of(render_version(make_doc(items=(line("SRV-1", "Thing", "0.335", "3"),))))
    assert "SRV-1 Thing 3 h 0.335 1.01" in text
