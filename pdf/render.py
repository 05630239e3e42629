"""One order version as a PDF.

`render_version` is pure: no database, no Slack, no clock. Everything comes from the `VersionDocument`,
and the same document always gives the same bytes (creation date from `issued_at`; fpdf2's file /ID is
an MD5 of the finished buffer plus that date, so it is derived from the document too).

Each section is a small function in `SECTIONS`, so a later, prettier layout can restyle or reorder them
one at a time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF, FontFace, XPos, YPos

from workflow.document import ItemChange, ItemLine, VersionDocument, money

FONT_DIR = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
FONT_SIZE = 10
LINE = 5.0  # mm per text line at FONT_SIZE
DASH = "\u2014"
ARROW = "\u2192"
DOT = "\u00b7"
REPLACEMENT = "\ufffd"  # DejaVu Sans has it in both weights
# Total-pages alias. It holds control characters, which `clean_text` strips from all other text, so nothing
# a Slack user types can ever be mistaken for it (the default "{nb}" could be).
PAGES_ALIAS = "\x01pages\x01"
# Controls and format characters (zero-width joiners, bidi overrides) are always dropped: fpdf2 draws
# them as nothing at best, and they would make the extracted text lie. The soft hyphen is kept (fpdf2
# uses it as a break hint). Combining marks and emoji modifiers the font lacks are dropped too, so
# "👍🏽" or "👍️" becomes one replacement mark, not two.
_ALWAYS_DROPPED = frozenset({"Cc", "Cf"})
_DROPPED_IF_MISSING = frozenset({"Mn", "Me"})
_EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)
_KEPT = frozenset({"\n", "\u00ad"})
_NEWLINES = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\t": " "})

ITEM_HEADINGS = ("Code", "Description", "Quantity", "Unit", "Unit price", "Line total")
ITEM_COL_WIDTHS = (24, 66, 18, 14, 27, 31)  # mm on A4; the money columns fit "12,345,678.90" in bold
ITEM_ALIGN = ("LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT")
# fpdf2 cannot split a table row across pages and raises if one is taller than a page, so table cells
# are capped; a capped description is printed in full after the table.
ITEM_TEXT_LIMIT = 600
CODE_TEXT_LIMIT = 60
LABEL_WIDTH = 38  # mm

BOLD = FontFace(emphasis="BOLD")
HEADINGS_STYLE = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))


def render_version(doc: VersionDocument) -> bytes:
    """The PDF of one order version."""
    pdf = OrderPDF(doc)
    pdf.add_page()
    for section in SECTIONS:
        section(pdf, doc)
    return bytes(pdf.output())


class OrderPDF(FPDF):
    """FPDF with DejaVu Sans, a per-page footer and glyph-safe text."""

    def __init__(self, doc: VersionDocument) -> None:
        super().__init__(format="A4")
        self.doc = doc
        self.add_font(FAMILY, "", FONT_DIR / "DejaVuSans.ttf")
        self.add_font(FAMILY, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
        # Text may switch weight mid-table, so only keep characters both weights can draw.
        self.covered = frozenset(self.fonts["dejavu"].cmap) & frozenset(self.fonts["dejavuB"].cmap)
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.alias_nb_pages(PAGES_ALIAS)
        # Not the clock: the PDF's dates and its /ID both derive from this.
        self.set_creation_date(utc(doc.issued_at))
        self.set_title(f"Service order {doc.order_number}, version {doc.version}")
        self.set_creator("Service Orders for Slack")
        self.set_lang("en")
        self.set_font(FAMILY, size=FONT_SIZE)

    def normalize_text(self, text: str) -> str:
        # Every cell, multi_cell and table cell passes through here, so no caller can forget it.
        # The footer is exempt so the pages alias survives; it cleans its own text.
        if not self.in_footer:
            text = clean_text(text, self.covered)
        return super().normalize_text(text)

    def footer(self) -> None:
        label = clean_text(f"{self.doc.order_number} {DOT} version {self.doc.version}", self.covered)
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 4, f"{label} {DOT} page {self.page_no()} of {PAGES_ALIAS}", align="C")


def clean_text(text: str, covered: frozenset[int]) -> str:
    """Text the font can draw: composed accents, and a replacement mark for each missing glyph."""
    # NFC so "e" + combining acute uses DejaVu's "é" (and extracts back as one character).
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").translate(_NEWLINES)
    out = []
    for c in text:
        category = unicodedata.category(c)
        if c in _KEPT or (category not in _ALWAYS_DROPPED and ord(c) in covered):
            out.append(c)
        elif category not in _ALWAYS_DROPPED | _DROPPED_IF_MISSING and ord(c) not in _EMOJI_MODIFIERS:
            out.append(REPLACEMENT)
    return "".join(out)


# ---------------------------------------------------------------- formatting


def utc(value: datetime) -> datetime:
    """Aware UTC; naive values are taken to be UTC already (never the server's local zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fmt_when(value: datetime | None) -> str:
    return DASH if value is None else utc(value).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(value: date | None, missing: str = DASH) -> str:
    return missing if value is None else value.isoformat()


def fmt_money(value: Decimal | None) -> str:
    """2 decimals, half-up, thousands separators; Decimal throughout, never float."""
    # Quantize first: Decimal's own format() would round half-even.
    return DASH if value is None else f"{money(value):,.2f}"


def fmt_price(value: Decimal | None) -> str:
    """A unit price keeps any extra decimals (0.335 stays 0.335) so the line total can be checked."""
    if value is None:
        return DASH
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return f"{value.normalize():,f}"
    return f"{value:,.2f}"


def fmt_quantity(value: Decimal) -> str:
    return f"{value.normalize():,f}"  # 2.500 -> 2.5, 1E+2 -> 100


def fmt_signed(value: Decimal) -> str:
    return "no change" if value == 0 else f"{money(value):+,.2f}"


def item_label(line: ItemLine) -> str:
    return f"{line.code} {line.description}" if line.code else line.description


def capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# ---------------------------------------------------------------- building blocks


def heading(pdf: OrderPDF, text: str, keep: float = 3 * LINE) -> None:
    """A section title, moved to the next page unless `keep` mm of its content fit under it."""
    pdf.ln(3)
    if pdf.will_page_break(7 + keep):
        pdf.add_page()
    pdf.set_font(FAMILY, "B", 12)
    pdf.cell(0, 7, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", FONT_SIZE)


def paragraph(pdf: OrderPDF, text: str) -> None:
    pdf.multi_cell(0, LINE, text or DASH, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def bullets(pdf: OrderPDF, lines: Iterable[str]) -> None:
    for line in lines:
        paragraph(pdf, f"\u2022 {line}")


def fields(pdf: OrderPDF, pairs: Iterable[tuple[str, str]]) -> None:
    """Label/value rows. Not a table: a value of any length wraps and flows onto the next page."""
    for label, value in pairs:
        if pdf.will_page_break(LINE):
            pdf.add_page()
        page, top = pdf.page, pdf.y
        pdf.set_font(FAMILY, "B", FONT_SIZE)
        pdf.multi_cell(LABEL_WIDTH, LINE, label, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        label_bottom = pdf.y
        pdf.set_xy(pdf.l_margin + LABEL_WIDTH, top)
        pdf.set_font(FAMILY, "", FONT_SIZE)
        pdf.multi_cell(0, LINE, value or DASH, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if pdf.page == page:  # a label that wrapped further than its value
            pdf.y = max(pdf.y, label_bottom)


# ---------------------------------------------------------------- sections


def title_section(pdf: OrderPDF, doc: VersionDocument) -> None:
    pdf.set_font(FAMILY, "B", 18)
    pdf.cell(0, 10, f"Service order {doc.order_number}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "B", 12)
    pdf.cell(0, 7, f"Version {doc.version} of {doc.version_count}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", FONT_SIZE)
    fields(
        pdf,
        [
            ("State", doc.state_label),
            ("Issued", fmt_when(doc.issued_at)),
        ],
    )


def details_section(pdf: OrderPDF, doc: VersionDocument) -> None:
    heading(pdf, "Order")
    fields(
        pdf,
        [
            ("Client", doc.client),
            ("Site", doc.site),
            ("Requester", doc.requester),
            ("Approved by", doc.approved_by or "Not approved"),
            ("Approved at", fmt_when(doc.approved_at)),
            ("Field workers", ", ".join(doc.field_workers) or "None assigned"),
            ("Requested date", fmt_date(doc.requested_date)),
            ("Scheduled date", fmt_date(doc.scheduled_date, "Not scheduled")),
            ("Priority", doc.priority),
        ],
    )


def description_section(pdf: OrderPDF, doc: VersionDocument) -> None:
    heading(pdf, "Description")
    paragraph(pdf, doc.description)


def approval_notes_section(pdf: OrderPDF, doc: VersionDocument) -> None:
    if doc.approval_notes:
        heading(pdf, "Approval notes")
        paragraph(pdf, doc.approval_notes)


def items_section(pdf: OrderPDF, doc: VersionDocument) -> None:
    heading(pdf, "Line items", keep=25)  # the table header and a couple of rows
    if not doc.items:
        paragraph(pdf, "No line items.")
        return
    pdf.set_font(FAMILY, "", 9)
    with pdf.table(
        col_widths=ITEM_COL_WIDTHS,
        text_align=ITEM_ALIGN,
        v_align="TOP",
        headings_style=HEADINGS_STYLE,
        line_height=4.5,
        padding=(0.8, 1.2),
        repeat_headings=1,  # header again at the top of every page the table reaches
    ) as table:
        table.row(ITEM_HEADINGS)
        for line in doc.items:
            table.row(
                (
                    capped(line.code or DASH, CODE_TEXT_LIMIT),
                    capped(line.description, ITEM_TEXT_LIMIT),
                    fmt_quantity(line.quantity),
                    capped(line.unit or DASH, CODE_TEXT_LIMIT),
                    fmt_price(line.unit_price),
                    fmt_money(line.total),
                )
            )
        total = table.row()
        total.cell("Total", colspan=len(ITEM_HEADINGS) - 1, align="RIGHT", style=BOLD)
        total.cell(fmt_money(doc.total), align="RIGHT", style=BOLD)
    pdf.set_font(FAMILY, "", FONT_SIZE)
    unpriced = sum(1 for line in doc.items if line.unit_price is None)
    if unpriced:
        pdf.ln(1)
        paragraph(pdf, f"The total excludes {unpriced} item(s) not yet priced.")
    long_lines = [line for line in doc.items if len(line.description) > ITEM_TEXT_LIMIT]
    if long_lines:
        heading(pdf, "Full item descriptions")
        bullets(pdf, (item_label(line) for line in long_lines))


def changes_section(pdf: OrderPDF, doc: VersionDocument) -> None:
    heading(pdf, "Changes in this version")
    if doc.version == 1:
        paragraph(pdf, "Approved original.")
        return
    lines = [describe_change(change) for change in doc.changes] or ["No changes to line items."]
    if doc.added_people:
        lines.append(f"Added people: {', '.join(doc.added_people)}")
    if doc.change_note or doc.change_author:
        by = f" by {doc.change_author}" if doc.change_author else ""
        lines.append(f"Change note{by}: {doc.change_note or DASH}")
    previous = previous_total(doc)
    lines.append(
        f"Change in total: {fmt_signed(doc.total - previous)} ({fmt_money(previous)} {ARROW} {fmt_money(doc.total)})"
    )
    bullets(pdf, lines)


SECTIONS: tuple[Callable[[OrderPDF, VersionDocument], None], ...] = (
    title_section,
    details_section,
    description_section,
    approval_notes_section,
    items_section,
    changes_section,
)


# ---------------------------------------------------------------- changes


def describe_change(change: ItemChange) -> str:
    before, after = change.before, change.after
    if before is None and after is not None:
        return f"Added {item_label(after)}: {line_summary(after)}"
    if after is None and before is not None:
        return f"Removed {item_label(before)}: was {line_summary(before)}"
    assert before is not None and after is not None
    steps = [
        f"{name} {old} {ARROW} {new}"
        for name, old, new in (
            ("description", before.description, after.description),
            ("quantity", fmt_quantity(before.quantity), fmt_quantity(after.quantity)),
            ("unit", before.unit or DASH, after.unit or DASH),
            ("unit price", fmt_price(before.unit_price), fmt_price(after.unit_price)),
            ("line total", fmt_money(before.total), fmt_money(after.total)),
        )
        if old != new
    ]
    return f"Changed {item_label(after)}: {'; '.join(steps) or 'details'}"


def line_summary(line: ItemLine) -> str:
    unit = f" {line.unit}" if line.unit else ""
    return (
        f"quantity {fmt_quantity(line.quantity)}{unit}, unit price {fmt_price(line.unit_price)}, "
        f"line total {fmt_money(line.total)}"
    )


def previous_total(doc: VersionDocument) -> Decimal:
    """The previous version's total, recovered from the changes (every differing line is one)."""
    delta = sum(
        (line_total(c.after) - line_total(c.before) for c in doc.changes),
        Decimal(0),
    )
    return doc.total - delta


def line_total(line: ItemLine | None) -> Decimal:
    return Decimal(0) if line is None or line.total is None else line.total
