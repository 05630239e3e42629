"""The version PDF, rendered for real and read back with pypdf (text, metadata) and pdfium (pixels)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from pdf import print_fonts
from pdf.render import Stamp, read_stamp, render_version
from workflow.document import HistoryEntry, ItemLine, Provider, VersionDocument, diff_items

ROOT = Path(__file__).resolve().parent.parent
ISSUED = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)  # 11:05 in Santiago (summer time, UTC-3)
FOOTER = re.compile(
    r"SO-\d+ · (?:version|versión) \d+ · (?:page|página) \d+ (?:of|de) \d+ (?:fingerprint|huella) [0-9a-f]{12}")
A4_MM = (210, 297)


# ---------------------------------------------------------------- the documents


def line(code: str | None, description: str, price: str | None, quantity: str, unit: str | None = "h",
         kind: str | None = None) -> ItemLine:
    kind = kind or ("free" if code is None else "material" if code.startswith("MAT") else "service")
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


def provider(**overrides: Any) -> Provider:
    values: dict[str, Any] = {
        "name": "Andes Industrial Services SpA",
        "address": "Av. Grecia 2001, Peñalolén, Santiago",
        "tax_id": "76.123.456-7",
        "logo_sha256": None,
        "timezone": "America/Santiago",
        "currency": "USD",
        "tax_rate": Decimal("0.19"),
        "locale": "en",
    }
    values.update(overrides)
    return Provider(**values)


def make_doc(**overrides: Any) -> VersionDocument:
    """A typical approved order, version 1; override any field (`provider` takes a Provider)."""
    values: dict[str, Any] = {
        "provider": provider(),
        "order_number": "SO-000042",
        "version": 1,
        "step": "approve",
        "state": "approved",
        "issued_at": ISSUED,
        "client": "Minera Andes",
        "client_code": "MAND",
        "client_contact": "Carla Rojas, +56 9 1234 5678",
        "site": "Peñalolén plant",
        "site_code": "PEN-01",
        "site_address": "Camino a Lo Hermida 1234, Peñalolén",
        "requester": "Ana Díaz",
        "approved_by": "Lars Ørsted",
        "approved_at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "field_workers": ("Jan Kowalski (Łódź)", "Jürgen Müller"),
        "requested_date": date(2026, 11, 20),
        "scheduled_date": date(2026, 12, 1),
        "priority": "high",
        "description": "Replace the worn belt on conveyor C-3 and check the idlers.",
        "approval_notes": "Approved within the quarterly budget.",
        "items": EIGHT_ITEMS,
    }
    values.update(overrides)
    return VersionDocument(**values)


BEFORE = EIGHT_ITEMS[:4]
AFTER = (
    line("SRV-001", "Conveyor belt inspection", "45.00", "3"),  # quantity 2 -> 3
    line("SRV-002", "Belt splice, hot vulcanised", "1300.00", "1"),  # price up
    EIGHT_ITEMS[2],  # unchanged
    line("SRV-009", "Alignment check", "99.50", "1"),  # added
)  # MAT-011 removed
HISTORY = (
    HistoryEntry(1, ISSUED, "Lars Ørsted", "approve", "1" * 64),
    HistoryEntry(2, datetime(2026, 11, 27, 13, 0, tzinfo=UTC), "Ana Díaz", "confirm", "2" * 64),
)


def version_2(**overrides: Any) -> VersionDocument:
    values: dict[str, Any] = {
        "version": 2, "step": "confirm", "items": AFTER, "changes": diff_items(BEFORE, AFTER),
        "added_people": ("Δημήτρης Παπαδόπουλος",), "change_note": "Client asked for an extra inspection.",
        "change_author": "Ana Díaz", "previous_subtotal": Decimal("2220.80"),
        "issued_at": datetime(2026, 11, 27, 13, 0, tzinfo=UTC), "history": HISTORY[:1],
    }
    values.update(overrides)
    return make_doc(**values)


def closing(step: str = "complete", **overrides: Any) -> VersionDocument:
    closed = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)  # 18:00 in Santiago
    values: dict[str, Any] = {
        "version": 3, "step": step, "state": "completed" if step == "complete" else "not_performed",
        "items": AFTER, "change_note": "All done, belt running." if step == "complete" else "Site closed by flooding.",
        "change_author": "Jürgen Müller", "previous_subtotal": Decimal("1995.30"),
        "closed_by": "Jürgen Müller", "closed_at": closed, "issued_at": closed, "history": HISTORY,
    }
    values.update(overrides)
    return make_doc(**values)


def png(width: int = 300, height: int = 100, color: tuple[int, int, int] = (20, 60, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------- reading back


def pages_text(data: bytes) -> list[str]:
    """Each page's text, whitespace collapsed so wrapping does not matter."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def text_of(data: bytes) -> str:
    """All pages' text, page footers left out so text flowing across a page break reads on."""
    return " ".join(FOOTER.sub("", page).strip() for page in pages_text(data))


def assert_all_in(text: str, expected: list[str]) -> None:
    missing = [e for e in expected if e not in text]
    assert not missing, f"missing {missing} in:\n{text}"


# ---------------------------------------------------------------- sections, en and es


def test_every_section_in_english() -> None:
    data = render_version(make_doc())
    text = text_of(data)
    assert_all_in(text, [
        # 1. header
        "Andes Industrial Services SpA", "Av. Grecia 2001, Peñalolén, Santiago", "Tax ID: 76.123.456-7",
        "Service order SO-000042", "Version 1 · issued Nov 26, 2026 11:05 AM (America/Santiago)",
        "State: Approved, work in progress",
        # 2. parties
        "Client Minera Andes (MAND)", "Requested by Ana Díaz", "Site Peñalolén plant (PEN-01)",
        "Approved by Lars Ørsted, Nov 25, 2026 6:30 AM", "Site address Camino a Lo Hermida 1234, Peñalolén",
        "Field workers Jan Kowalski (Łódź), Jürgen Müller", "Client contact Carla Rojas, +56 9 1234 5678",
        # 3. schedule
        "Requested for Nov 20, 2026", "Scheduled for Dec 1, 2026", "Priority High",
        # 4. description
        "Description of the job Replace the worn belt on conveyor C-3 and check the idlers.",
        "Approval notes Approved within the quarterly budget.",
        # 5. items, grouped, then totals
        "Line items Amounts in USD", "Code Description Qty Unit Unit price Line total",
        "Services SRV-001 Conveyor belt inspection 2 h 45.00 90.00 SRV-002 Belt splice, hot vulcanised 1 h "
        "1,250.00 1,250.00 SRV-003 Night shift surcharge 8 h 18.75 150.00 SRV-004 Commissioning test 1 h",
        "Materials MAT-010 Idler roller 152 mm 12 pc 38.40 460.80",
        "Other items — Crane hire, to be quoted 1 — — —",
        "Subtotal 2,769.80 Tax 19% 526.26 Total USD 3,296.06",
        "The total excludes 1 item not yet priced (shown as —).",
        # 6. changes
        "Changes in this version • Version 1 is the approved original.",
        # 7. history
        "Version history Version Issued By Step Fingerprint",
        f"1 (this) Nov 26, 2026 11:05 AM Lars Ørsted Approved (original) {make_doc().fingerprint[:12]}",
        # 8. signatures
        "Signatures Field worker Name Signature Date Client's representative Name Signature Date",
    ])
    # 9. footer
    footer = f"SO-000042 · version 1 · page 1 of 1 fingerprint {make_doc().fingerprint[:12]}"
    assert pages_text(data)[-1].endswith(footer)
    assert len(pages_text(data)) == 1  # a typical order is one page


def test_every_section_in_spanish() -> None:
    doc = closing(provider=provider(locale="es", currency="CLP"), items=EIGHT_ITEMS, previous_subtotal=Decimal(2500))
    data = render_version(doc)
    text = text_of(data)
    assert_all_in(text, [
        "ID fiscal: 76.123.456-7", "Orden de servicio SO-000042",
        "Versión 3 · emitida el 28 nov 2026 18:00 (America/Santiago)", "Estado: Completada",
        "Partes Cliente Minera Andes (MAND) Solicitada por Ana Díaz", "Aprobada por Lars Ørsted, 25 nov 2026 6:30",
        "Técnicos de campo Jan Kowalski (Łódź), Jürgen Müller", "Contacto del cliente Carla Rojas",
        "Programación Fecha solicitada 20 nov 2026 Fecha programada 1 dic 2026", "Prioridad Alta",
        "Cerrada 28 nov 2026 18:00 por Jürgen Müller", "Resultado Completada",
        "Nota de cierre All done, belt running.",
        "Descripción del trabajo", "Notas de aprobación",
        "Ítems Montos en CLP", "Código Descripción Cant. Unidad Precio unit. Total línea",
        "Servicios SRV-001", "Materiales MAT-010", "Otros ítems",
        "SRV-002 Belt splice, hot vulcanised 1 h 1.250 1.250", "MAT-010 Idler roller 152 mm 12 pc 38,4 461",
        # 90 + 1250 + 461 + 420 + 150 + 79 + 320 = 2770; 19 % = 526.3 -> 526
        "Subtotal 2.770 Impuesto 19 % 526 Total CLP 3.296",
        "El total no incluye 1 ítem aún sin precio",
        "Cambios en esta versión", "Subtotal 2.500 → 2.770 (+270)",
        "Cerrada como completada por Jürgen Müller el 28 nov 2026 18:00.",
        "Historial de versiones Versión Emitida Por Paso Huella",
        "1 26 nov 2026 11:05 Lars Ørsted Aprobada (original) 111111111111",
        "2 27 nov 2026 10:00 Ana Díaz Cambio confirmado 222222222222",
        f"3 (esta) 28 nov 2026 18:00 Jürgen Müller Completada {doc.fingerprint[:12]}",
        "Firmas Técnico de campo Nombre Firma Fecha Representante del cliente Nombre Firma Fecha",
    ])
    pages = pages_text(data)
    for number, page in enumerate(pages, start=1):
        assert f"SO-000042 · versión 3 · página {number} de {len(pages)} huella {doc.fingerprint[:12]}" in page
    assert "Version" not in text and "Service order" not in text


def test_missing_optional_values_read_plainly() -> None:
    doc = make_doc(approved_by=None, approved_at=None, field_workers=(), scheduled_date=None, approval_notes=None,
                   items=(), client_contact=None, site_address=None, provider=provider(address="", tax_id=""))
    text = text_of(render_version(doc))
    assert_all_in(text, ["Approved by Not approved", "Field workers None assigned", "Scheduled for Not scheduled",
                         "No line items.", "Site address —", "Client contact —"])
    assert "Approval notes" not in text and "Tax ID" not in text


def test_version_2_lists_every_change() -> None:
    text = text_of(render_version(version_2()))
    assert "approved original" not in text
    changes = text.split("Changes in this version")[1].split("Version history")[0]
    assert_all_in(changes, [
        "Changed SRV-001 · Conveyor belt inspection: quantity 2 → 3; line total 90.00 → 135.00",
        "Changed SRV-002 · Belt splice, hot vulcanised: unit price 1,250.00 → 1,300.00; "
        "line total 1,250.00 → 1,300.00",
        "Added SRV-009 · Alignment check: 1 h × 99.50 = 99.50",
        "Removed MAT-011 · Scraper blade (was 2 pc × 210.00 = 420.00)",
        "Added people: Δημήτρης Παπαδόπουλος",
        "Note from Ana Díaz: Client asked for an extra inspection.",
        # 90 + 1250 + 460.80 + 420 = 2,220.80 before; 135 + 1300 + 460.80 + 99.50 = 1,995.30 after
        "Subtotal 2,220.80 → 1,995.30 (-225.50)",
    ])
    assert "MAT-010" not in changes  # unchanged lines are not changes
    assert "Version 2 · issued Nov 27, 2026 10:00 AM" in text
    assert_all_in(text, ["1 Nov 26, 2026 11:05 AM Lars Ørsted Approved (original) 111111111111",
                         f"2 (this) Nov 27, 2026 10:00 AM Ana Díaz Change confirmed {version_2().fingerprint[:12]}"])


def test_a_closing_version_says_how_when_and_by_whom_it_closed() -> None:
    done = text_of(render_version(closing("complete")))
    assert_all_in(done, ["State: Completed", "Closed Nov 28, 2026 6:00 PM by Jürgen Müller", "Outcome Completed",
                         "Closing note All done, belt running.",
                         "Closed as completed by Jürgen Müller on Nov 28, 2026 6:00 PM.",
                         "3 (this) Nov 28, 2026 6:00 PM Jürgen Müller Completed"])
    not_done = text_of(render_version(closing("not_perform")))
    assert_all_in(not_done, ["State: Not performed", "Outcome Not performed", "Reason Site closed by flooding.",
                             "Closed as not performed by Jürgen Müller on Nov 28, 2026 6:00 PM."])


@pytest.mark.parametrize(("state", "label"), [("pending_approval", "Pending approval"), ("rejected", "Rejected")])
def test_every_state_has_a_label(state: str, label: str) -> None:
    assert f"State: {label}" in text_of(render_version(make_doc(state=state)))


# ---------------------------------------------------------------- money


def test_clp_has_no_decimals_and_rounds_half_up() -> None:
    # 12.5 CLP -> 13 (half-even would say 12); 1,150 at 19 % is 218.5 -> 219 (half-even: 218)
    items = (line("SRV-1", "Half a peso", "12.5", "1"), line("SRV-2", "Mil", "1137", "1"))
    for locale, expected in [
        ("es", ["SRV-1 Half a peso 1 h 12,5 13", "SRV-2 Mil 1 h 1.137 1.137", "Subtotal 1.150 Impuesto 19 % 219 "
                                                                               "Total CLP 1.369"]),
        ("en", ["SRV-1 Half a peso 1 h 12.5 13", "Subtotal 1,150 Tax 19% 219 Total CLP 1,369"]),
    ]:
        doc = make_doc(items=items, provider=provider(currency="CLP", locale=locale))
        assert doc.total == Decimal(1369)
        assert_all_in(text_of(render_version(doc)), expected)


def test_three_decimal_currency_and_a_zero_tax_rate() -> None:
    doc = make_doc(items=(line("SRV-1", "Thing", "0.6175", "2"),),
                   provider=provider(currency="KWD", tax_rate=Decimal(0)))
    assert_all_in(text_of(render_version(doc)),
                  ["SRV-1 Thing 2 h 0.6175 1.235", "Subtotal 1.235 Tax 0% 0.000 Total KWD 1.235"])


def test_fractional_tax_rate_and_spanish_number_style() -> None:
    doc = make_doc(items=(line("SRV-1", "Thing", "1234.56", "2.5"),),
                   provider=provider(locale="es", currency="EUR", tax_rate=Decimal("0.075")))
    # 3,086.40 at 7.5 % = 231.48
    assert_all_in(text_of(render_version(doc)),
                  ["SRV-1 Thing 2,5 h 1.234,56 3.086,40", "Subtotal 3.086,40 Impuesto 7,5 % 231,48 Total EUR 3.317,88"])



def test_each_spanish_locale_writes_numbers_and_dates_as_cldr_says() -> None:
    # one Spanish catalog for the words; Babel (CLDR) for the figures: es_CL 1.234,56, es_MX 1,234.56
    def rendered(locale: str) -> tuple[str, str]:
        doc = make_doc(items=(line("SRV-1", "Thing", "1234.56", "2.5"),),
                       provider=provider(locale=locale, tax_rate=Decimal("0.075")))
        data = render_version(doc)
        return text_of(data), PdfReader(io.BytesIO(data)).pages[0].extract_text()

    chile, chile_raw = rendered("es_CL")
    assert_all_in(chile, ["Orden de servicio SO-000042", "Versión 1 · emitida el 26-11-2026 11:05",
                          "Fecha solicitada 20-11-2026", "Prioridad Alta", "Técnicos de campo",
                          "SRV-1 Thing 2,5 h 1.234,56 3.086,40",
                          "Subtotal 3.086,40 Impuesto 7,5% 231,48 Total USD 3.317,88",
                          "Estado: Aprobada, en ejecución"])
    mexico, mexico_raw = rendered("es_MX")
    assert_all_in(mexico, ["Orden de servicio SO-000042", "emitida el 26 nov 2026 11:05 a.m.",
                           "SRV-1 Thing 2.5 h 1,234.56 3,086.40",
                           "Subtotal 3,086.40 Impuesto 7.5% 231.48 Total USD 3,317.88"])
    # CLDR's narrow no-break space (11:05 a.m.) is in the print font: drawn, not replaced
    assert "11:05\u202fa.m." in mexico_raw
    assert "\ufffd" not in chile_raw + mexico_raw
    for english_word in ("Service order", "Line items", "Signatures", "Version history"):
        assert english_word not in chile + mexico


@pytest.mark.parametrize(("locale", "tag"), [("en", "en"), ("es", "es"), ("es_CL", "es-CL"), ("es_419", "es-419")])
def test_the_pdf_says_its_language(locale: str, tag: str) -> None:
    data = render_version(make_doc(provider=provider(locale=locale)))
    assert PdfReader(io.BytesIO(data)).trailer["/Root"]["/Lang"] == tag


def test_a_document_frozen_with_a_locale_this_release_cannot_read_still_renders_in_english() -> None:
    text = text_of(render_version(make_doc(provider=provider(locale="not a locale"))))
    assert "Service order SO-000042" in text

@pytest.mark.parametrize(
    ("price", "quantity", "row"),
    [
        ("0.335", "3", "3 h 0.335 1.01"),  # 1.005: half-up, where float or half-even give 1.00
        ("0.125", "2", "2 h 0.125 0.25"),
        ("1234567.5", "1", "1 h 1,234,567.50 1,234,567.50"),
        ("2.675", "1", "1 h 2.675 2.68"),  # float(2.675) is 2.67499...
    ],
)
def test_money_is_decimal_half_up(price: str, quantity: str, row: str) -> None:
    doc = make_doc(items=(line("SRV-1", "Thing", price, quantity),), provider=provider(tax_rate=Decimal(0)))
    total = row.split()[-1]
    assert_all_in(text_of(render_version(doc)),
                  [f"SRV-1 Thing {row}", f"Subtotal {total} Tax 0% 0.00 Total USD {total}"])


def test_unit_price_keeps_its_extra_decimals() -> None:
    doc = make_doc(items=(line("SRV-1", "Thing", "0.335", "3"),))
    assert "SRV-1 Thing 3 h 0.335 1.01" in text_of(render_version(doc))


def test_several_unpriced_items() -> None:
    items = (line(None, "Crane", None, "1", None), line(None, "Scaffold", None, "2", "day"))
    assert "The total excludes 2 items not yet priced (shown as —)." in text_of(render_version(make_doc(items=items)))


# ---------------------------------------------------------------- text of any kind


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
    assert_all_in(text, list(names))
    assert "\ufffd" not in text
    resources = PdfReader(io.BytesIO(data)).pages[0]["/Resources"]
    fonts = [font.get_object()["/BaseFont"] for font in resources["/Font"].values()]
    assert len(fonts) == 2 and all(re.fullmatch(r"/[A-Z]{6}\+DejaVuSans(Book|Bold)", name) for name in fonts)


def test_characters_the_font_lacks_become_a_mark_not_a_crash() -> None:
    # (DejaVu Sans does draw some emoji, e.g. 😀, so these are ones it lacks)
    doc = version_2(
        description="Done 👍🏽 and 🎉, 你好; zero\u200bwidth\x00 ok",
        items=(line(None, "Sticker 🚀 pack", None, "1", None),),
        change_note="🚀🚀",
        change_author="Ψ 🦄",
        client="株式会社",
    )
    text = text_of(render_version(doc))
    assert_all_in(text, ["Done \ufffd and \ufffd, \ufffd\ufffd; zerowidth ok", "Sticker \ufffd pack",
                         "Note from Ψ \ufffd: \ufffd\ufffd", "Client \ufffd\ufffd\ufffd\ufffd (MAND)"])


def test_control_characters_cannot_fake_the_page_count() -> None:
    data = render_version(make_doc(description="page \x01n\x01 of \x01n\x01 {nb}"))
    assert "page n of n {nb}" in text_of(data)


def test_long_description_wraps_in_full() -> None:
    description = " ".join(f"word{i}" for i in range(400))  # ~3,000 characters
    assert len(description) > 2_800
    assert description in text_of(render_version(make_doc(description=description)))


def test_a_word_longer_than_a_line_is_broken_not_cut() -> None:
    word = "x" * 400
    data = render_version(make_doc(description=word, client="C" * 150, items=(line("S" * 50, word, "1", "1"),)))
    assert word in text_of(data).replace(" ", "")


def test_long_text_flows_over_pages_everywhere() -> None:
    paragraph = " ".join(f"note{i}" for i in range(1500))
    doc = version_2(description=paragraph, approval_notes=paragraph, change_note=paragraph,
                    site_address=paragraph, field_workers=tuple(f"Worker {i}" for i in range(300)))
    data = render_version(doc)
    text = text_of(data)
    assert text.count(paragraph) == 4
    assert ", ".join(f"Worker {i}" for i in range(300)) in text
    assert len(pages_text(data)) > 5
    closing_note = text_of(render_version(closing(change_note=paragraph)))
    assert f"Closing note {paragraph}" in closing_note


def test_a_cell_taller_than_a_page_is_cut_not_run_into_the_footer() -> None:
    name = " ".join(f"name{i}" for i in range(800))  # a history author is not shortened by the renderer
    history = (HistoryEntry(1, ISSUED, name, "approve", "1" * 64),)
    data = render_version(version_2(history=history))
    assert "name0 name1" in text_of(data) and "…" in text_of(data)


def test_overlong_item_description_does_not_break_the_table() -> None:
    # A table row never splits across pages; the cell is shortened and the text given in full after.
    description = " ".join(f"part{i}" for i in range(600))
    text = text_of(render_version(make_doc(items=(line(None, description, "1.00", "1"),))))
    assert "Full text of shortened item descriptions" in text
    assert description in text
    assert "…" in text.split("Subtotal")[0]


# ---------------------------------------------------------------- long orders


def five_hundred() -> VersionDocument:
    items = tuple(line(f"SRV-{i:04d}", f"Service step {i}", "10.00", "1") for i in range(1, 401))
    items += tuple(line(f"MAT-{i:04d}", f"Part {i}", "2.50", "2", "pc") for i in range(1, 101))
    return make_doc(items=items)


def test_500_items_flow_over_pages_with_the_header_on_each() -> None:
    data = render_version(five_hundred())
    pages = pages_text(data)
    assert 10 <= len(pages) <= 16
    table_pages = [page for page in pages if re.search(r"(SRV|MAT)-0", page)]
    assert len(table_pages) >= 9
    for page in table_pages:
        assert "Code Description Qty Unit Unit price Line total" in page
    for number, page in enumerate(pages, start=1):
        assert f"SO-000042 · version 1 · page {number} of {len(pages)} fingerprint" in page
    text = text_of(data)
    assert all(f"SRV-{i:04d} Service step {i} 1 h 10.00 10.00" in text for i in range(1, 401))
    assert all(f"MAT-{i:04d} Part {i} 2 pc 2.50 5.00" in text for i in range(1, 101))
    assert "Materials MAT-0001" in text
    # a group broken by a page break is labelled again on the next page
    assert "Services (continued)" in text
    assert "Subtotal 4,500.00 Tax 19% 855.00 Total USD 5,355.00" in text
    assert "Signatures" in pages[-1]


def crop_mm(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    px_per_mm = image.width / A4_MM[0]
    left, top, right, bottom = (int(v * px_per_mm) for v in box)
    return image.crop((left, top, right, bottom))


def has_ink(image: Image.Image, box: tuple[float, float, float, float]) -> bool:
    """Anything darker than light grey in this box (mm from the page's top left)?"""
    return crop_mm(image, box).getextrema()[0] < 200


def assert_clean_pages(data: bytes, table_pages: range | None = None) -> None:
    """Pixels: on every page nothing is drawn between the content's bottom margin and the footer, nor
    outside the left and right margins; on `table_pages` (0-based) the shaded table header comes first."""
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(data)
    try:
        for index in range(len(document)):
            image = document[index].render(scale=4).to_pil().convert("L")  # 288 dpi
            page = f"page {index + 1}"
            assert not has_ink(image, (0, 279.5, 210, 282.0)), f"{page}: something runs into the footer"
            assert has_ink(image, (0, 282.0, 210, 290.0)), f"{page}: no footer"
            assert not has_ink(image, (0, 0, 14.5, 297)), f"{page}: ink in the left margin"
            assert not has_ink(image, (195.5, 0, 210, 297)), f"{page}: ink in the right margin"
            if table_pages is not None and index in table_pages:
                # the repeated table header: a light grey band at the top margin (sampled where it has no text)
                darkest, lightest = crop_mm(image, (108, 13.3, 112, 13.9)).getextrema()
                assert 225 <= darkest <= lightest <= 245, f"{page}: no table header"
    finally:
        document.close()


def test_pages_render_cleanly_table_footer_and_margins_apart() -> None:
    data = render_version(five_hundred(), png())
    assert_clean_pages(data, table_pages=range(1, len(pages_text(data)) - 1))


def test_long_and_pathological_text_stays_inside_the_page() -> None:
    paragraph = " ".join(f"note{i}" for i in range(1500))
    word = "W" * 3000
    doc = closing(description=paragraph + " " + word, change_note=paragraph, site_address=word,
                  items=(line("X" * 300, word, "123456789012345.5", "99999999.999", "Z" * 300),),
                  history=(HistoryEntry(1, ISSUED, " ".join(f"name{i}" for i in range(800)), "approve", "1" * 64),))
    assert_clean_pages(render_version(doc, png()))


def test_the_embedded_fonts_render_exactly_as_fpdf2_embeds_dejavu() -> None:
    """Our cached subsetting against fpdf2's own add_font + fontTools subsetting of the original DejaVu files,
    the same text drawn both ways: the rendered pages must be identical, pixel for pixel."""
    pdfium = pytest.importorskip("pypdfium2")
    from fpdf import FPDF

    sample = "Peñalolén Ørsted Łódź Müller ǅ ẞ Αλέξανδρος Дмитрий Їжак ẫ ệ ữ € ← ✓ ★ ☺ 0123456789 ﬁ ½ \ufffd"

    def page(ours: bool) -> bytes:
        pdf = FPDF(format="A4")
        if ours:
            print_fonts.attach(pdf, "d")
        else:
            pdf.add_font("d", "", str(print_fonts.FONT_DIR / "DejaVuSans.ttf"))
            pdf.add_font("d", "B", str(print_fonts.FONT_DIR / "DejaVuSans-Bold.ttf"))
        pdf.add_page()
        for row, style in enumerate(("", "B")):
            pdf.set_font("d", style, 13)
            for i in range(0, len(sample), 24):
                pdf.text(10, 20 + row * 60 + i, sample[i: i + 24])
        if ours:
            return bytes(pdf.output(output_producer_class=print_fonts.PrintFontProducer))
        return bytes(pdf.output())

    bitmaps = []
    for flag in (True, False):
        document = pdfium.PdfDocument(page(flag))
        bitmaps.append(document[0].render(scale=3).to_pil().convert("L").tobytes())
        document.close()
    assert bitmaps[0] == bitmaps[1]


def test_embedded_font_subsets_are_small_valid_truetype() -> None:
    from fontTools.ttLib import TTFont

    reader = PdfReader(io.BytesIO(render_version(make_doc())))
    for font in reader.pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        assert descendant["/CIDToGIDMap"] == "/Identity"
        program = descendant["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
        parsed = TTFont(io.BytesIO(program))
        assert 20 < len(parsed.getGlyphOrder()) < 120  # the glyphs used (and their components), not 6,000
        for name in parsed.getGlyphOrder():
            parsed["glyf"][name].expand(parsed["glyf"])  # every glyph decodes
        assert "Bitstream" in parsed["name"].getDebugName(0)  # the copyright notice travels with it


def test_print_fonts_are_what_the_build_script_makes() -> None:
    manifest = json.loads((print_fonts.FONT_DIR / "print_fonts.json").read_text())
    def sha256(name: str) -> str:
        return hashlib.sha256((print_fonts.FONT_DIR / name).read_bytes()).hexdigest()

    for target, entry in manifest["fonts"].items():
        assert sha256(target) == entry["sha256"] and sha256(entry["source"]) == entry["source_sha256"]
    if manifest["fontTools"] != version("fonttools"):
        pytest.skip(f"the print fonts were built with fontTools {manifest['fontTools']}, not {version('fonttools')}")
    sys.path.insert(0, str(print_fonts.FONT_DIR))
    try:
        import build_print_fonts
    finally:
        sys.path.pop(0)
    for target, entry in manifest["fonts"].items():
        built = build_print_fonts.print_font((print_fonts.FONT_DIR / entry["source"]).read_bytes())
        assert hashlib.sha256(built).hexdigest() == entry["sha256"], f"{target} is not what the script makes"


# ---------------------------------------------------------------- determinism


def test_same_document_gives_the_same_bytes() -> None:
    doc = make_doc()
    first = render_version(doc)
    assert render_version(doc) == first
    assert render_version(make_doc()) == first
    assert render_version(VersionDocument.from_json(doc.canonical_json())) == first
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata is not None and reader.metadata.creation_date == ISSUED
    # a different document must not share the file ID
    other = render_version(version_2())
    assert PdfReader(io.BytesIO(other)).trailer["/ID"] != reader.trailer["/ID"]


def test_same_bytes_from_stored_json_for_every_kind_of_version() -> None:
    logo = png()
    for doc in (version_2(), closing("not_perform", provider=provider(locale="es", currency="CLP")), five_hundred()):
        assert render_version(VersionDocument.from_json(doc.canonical_json()), logo) == render_version(doc, logo)


def test_same_bytes_in_another_process() -> None:
    """Hash seeds, the local time zone, the clock and fpdf2's internal uuids must not reach the output."""
    script = (
        "import hashlib, tests.test_pdf as t; from pdf.render import render_version; "
        "print(hashlib.sha256(render_version(t.closing(), t.png())).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Asia/Tokyo", "LC_ALL": "C"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other == hashlib.sha256(render_version(closing(), png())).hexdigest()


def test_same_bytes_when_rendered_in_threads_at_once() -> None:
    docs = [make_doc(), version_2(), closing(), make_doc(provider=provider(locale="es"))]
    expected = [render_version(doc) for doc in docs]
    results: dict[int, bytes] = {}

    def work(i: int) -> None:
        results[i] = render_version(docs[i % len(docs)])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[i] == expected[i % len(docs)] for i in range(12))


def test_naive_times_are_taken_as_utc() -> None:
    naive = make_doc(issued_at=ISSUED.replace(tzinfo=None), approved_at=datetime(2026, 11, 25, 9, 30))
    data = render_version(naive)
    assert_all_in(text_of(data), ["issued Nov 26, 2026 11:05 AM", "Lars Ørsted, Nov 25, 2026 6:30 AM"])
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None and metadata.creation_date == ISSUED


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    text = text_of(render_version(make_doc(provider=provider(timezone="Mars/Olympus_Mons"))))
    assert "Version 1 · issued Nov 26, 2026 2:05 PM (UTC)" in text


# ---------------------------------------------------------------- size and logo


def test_a_typical_page_is_small() -> None:
    assert len(render_version(make_doc(), png())) < 60_000


def test_a_png_logo_is_drawn_in_the_header() -> None:
    pdfium = pytest.importorskip("pypdfium2")
    data = render_version(make_doc(), png(300, 100, (200, 30, 30)))
    reader = PdfReader(io.BytesIO(data))
    images = reader.pages[0].images
    assert len(images) == 1 and images[0].image.size == (300, 100)
    # drawn at the top left, 45 x 15 mm
    document = pdfium.PdfDocument(data)
    image = document[0].render(scale=2).to_pil().convert("RGB")
    document.close()
    px_per_mm = image.width / A4_MM[0]
    assert image.getpixel((int(30 * px_per_mm), int(20 * px_per_mm))) == (200, 30, 30)
    assert image.getpixel((int(30 * px_per_mm), int(30 * px_per_mm))) == (255, 255, 255)
    assert render_version(make_doc()) != data


def test_jpeg_and_transparent_logos_and_a_huge_one() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (120, 80), (0, 128, 0)).save(jpeg, "JPEG")
    transparent = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 255, 128)).save(transparent, "PNG")
    for logo in (jpeg.getvalue(), transparent.getvalue()):
        assert len(PdfReader(io.BytesIO(render_version(make_doc(), logo))).pages[0].images) == 1
    noise = io.BytesIO()
    Image.frombytes("RGB", (3000, 1000), os.urandom(3000 * 1000 * 3)).save(noise, "PNG")
    assert len(noise.getvalue()) > 5_000_000
    data = render_version(make_doc(), noise.getvalue())
    assert len(data) < 1_500_000  # scaled down to at most 800 x 320 pixels
    assert PdfReader(io.BytesIO(data)).pages[0].images[0].image.size == (800, 267)


def test_a_logo_that_is_not_an_image_is_left_out() -> None:
    assert render_version(make_doc(), b"\x89PNG\r\n\x1a\n not really") == render_version(make_doc())


# ---------------------------------------------------------------- the stamp


def test_the_stamp_names_order_version_and_fingerprint() -> None:
    doc = version_2()
    data = render_version(doc, png())
    assert read_stamp(data) == Stamp("SO-000042", 2, doc.fingerprint)
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata["/Keywords"] == f"service-order SO-000042 v2 sha256:{doc.fingerprint}"
    assert metadata.title == "Service order SO-000042 v2"
    assert metadata.author == "Andes Industrial Services SpA"
    assert metadata.creator == "Service Orders for Slack"


def test_an_edited_pdf_keeps_whatever_stamp_it_carries() -> None:
    doc = make_doc()
    writer = PdfWriter(clone_from=io.BytesIO(render_version(doc)))
    writer.add_blank_page()  # edited: the stamp survives; the verifier catches it by rendering again
    edited = io.BytesIO()
    writer.write(edited)
    assert read_stamp(edited.getvalue()) == Stamp("SO-000042", 1, doc.fingerprint)
    writer.add_metadata({"/Keywords": f"service-order SO-000099 v7 sha256:{'a' * 64}"})
    restamped = io.BytesIO()
    writer.write(restamped)
    assert read_stamp(restamped.getvalue()) == Stamp("SO-000099", 7, "a" * 64)
    writer.add_metadata({"/Keywords": "invoice 42"})
    unstamped = io.BytesIO()
    writer.write(unstamped)
    assert read_stamp(unstamped.getvalue()) is None


def test_no_stamp_in_garbage_or_in_other_pdfs() -> None:
    from fpdf import FPDF

    plain = FPDF()
    plain.add_page()
    ours = render_version(make_doc())
    for data in (b"", b"hello", os.urandom(4096), b"%PDF-1.7\n" + os.urandom(2048), ours[: len(ours) // 2],
                 ours.replace(b"/Keywords", b"/Kexwords"), bytes(plain.output())):
        assert read_stamp(data) is None
