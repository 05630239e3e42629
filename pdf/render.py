"""One order version as a PDF: what the provider hands its client and keeps as its record.

`render_version` is pure: no database, no Slack, no clock. Everything comes from the `VersionDocument` (and
the logo bytes it names by hash), and the same inputs always give the same bytes: the creation date is the
document's `issued_at`, fpdf2's file /ID is an MD5 of the finished file plus that date, font subsets are
cut deterministically (`pdf.print_fonts`), and no time zone, locale or hash seed of the machine is read.

The PDF's document information carries a machine-readable stamp (`pdf.stamp`): order number, version
and the document's fingerprint, read back by `read_stamp`.

Each section is a small function in `SECTIONS`, in the order the issue gives them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from pdf.formatting import DASH, Formatter, utc
from pdf.labels import Labels, labels_for
from pdf.layout import GRAY_FILL, GRAY_TEXT, PAGES_ALIAS, Page
from pdf.logo import Logo, prepare_logo
from pdf.print_fonts import PrintFontProducer
from pdf.stamp import Stamp, read_stamp
from workflow.document import ItemChange, ItemLine, VersionDocument

__all__ = ["Stamp", "read_stamp", "render_version", "stamp_of"]

CREATOR = "Service Orders for Slack"
ARROW = "\u2192"
DOT = "\u00b7"
CLOSING_STEPS = ("complete", "not_perform")
GROUPS = ("service", "material", "free")
# A table row cannot be split across pages, so very long cells are shortened in the table and printed in
# full after it.
ITEM_TEXT_LIMIT = 600
CODE_TEXT_LIMIT = 60
ITEM_COLUMNS = ((22.0, "L"), (70.0, "L"), (15.0, "R"), (15.0, "L"), (27.0, "R"), (31.0, "R"))
HISTORY_COLUMNS = ((22.0, "L"), (34.0, "L"), (54.0, "L"), (40.0, "L"), (30.0, "L"))
LOGO_BOX = (45.0, 18.0)  # mm


def render_version(doc: VersionDocument, logo: bytes | None = None) -> bytes:
    """The PDF of one order version. `logo`: the PNG or JPEG bytes whose SHA-256 is `doc.provider.logo_sha256`."""
    ctx = Context(doc, labels_for(doc.provider.locale),
                  Formatter(doc.provider.locale, doc.provider.currency, doc.provider.timezone),
                  prepare_logo(logo) if logo else None, doc.fingerprint)
    pdf = Page(footer=ctx.footer)
    _metadata(pdf, ctx)
    pdf.add_page()
    for section in SECTIONS:
        section(pdf, ctx)
    return bytes(pdf.output(output_producer_class=PrintFontProducer))


def stamp_of(doc: VersionDocument) -> Stamp:
    return Stamp(doc.order_number, doc.version, doc.fingerprint)


@dataclass(frozen=True)
class Context:
    doc: VersionDocument
    t: Labels
    f: Formatter
    logo: Logo | None
    fingerprint: str  # the document's, computed once

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]

    def footer(self, pdf: Page) -> None:
        doc, t = self.doc, self.t
        y = pdf.h - 13.0
        pdf.rule(y - 1.5)
        pdf.font(7.5)
        pdf.set_text_color(GRAY_TEXT)
        # the page count goes last on the left: fpdf2 reserves three digits for it, unseen at the end of a line
        left = t.footer.format(number=pdf.clean(doc.order_number), version=doc.version,
                               page=t.page.format(page=pdf.page_no(), pages=PAGES_ALIAS))
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(pdf.content_width * 0.7, 4, left)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(pdf.content_width, 4, t.fingerprint.format(fingerprint=self.short_fingerprint), align="R")
        pdf.set_text_color(0)


def _metadata(pdf: Page, ctx: Context) -> None:
    doc, t = ctx.doc, ctx.t
    title = f"{t.title.format(number=doc.order_number)} v{doc.version}"
    pdf.set_title(_plain(title))
    pdf.set_subject(_plain(f"{title} {DOT} {doc.client}"))
    pdf.set_author(_plain(doc.provider.name))
    pdf.set_keywords(Stamp(doc.order_number, doc.version, ctx.fingerprint).text())
    pdf.set_creator(CREATOR)
    pdf.set_lang(doc.provider.locale if doc.provider.locale in ("en", "es") else "en")
    # Not the clock: the PDF's dates and its /ID both derive from this.
    pdf.set_creation_date(utc(doc.issued_at))


def _plain(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


# ---------------------------------------------------------------- 1. header


def header_section(pdf: Page, ctx: Context) -> None:
    doc, t, f = ctx.doc, ctx.t, ctx.f
    top = pdf.y
    right_width = 82.0
    right_x = pdf.w - pdf.r_margin - right_width
    left_x = pdf.l_margin
    bottom = top
    if ctx.logo is not None:
        width, height = _fit(ctx.logo, *LOGO_BOX)
        pdf.image(io.BytesIO(ctx.logo.data), x=left_x, y=top, w=width, h=height)
        left_x += width + 5
        bottom = top + height
    left_width = right_x - 6 - left_x
    provider = doc.provider
    pdf.set_xy(left_x, top)
    pdf.paragraph(provider.name, size=11.5, bold=True, line=5.4, x=left_x, width=left_width)
    if provider.address:
        pdf.paragraph(provider.address, size=8.5, line=3.9, x=left_x, width=left_width)
    if provider.tax_id:
        pdf.paragraph(f"{t.tax_id}: {provider.tax_id}", size=8.5, line=3.9, x=left_x, width=left_width)
    bottom = max(bottom, pdf.y)

    pdf.set_xy(right_x, top)
    pdf.paragraph(t.title.format(number=doc.order_number), size=14, bold=True, line=6.2, x=right_x,
                  width=right_width, align="R")
    issued = t.version_issued.format(version=doc.version, when=f.when(doc.issued_at), zone=f.zone_name)
    pdf.paragraph(issued, size=8.5, line=4.0, x=right_x, width=right_width, align="R")
    pdf.y += 1.2
    state = f"{t.state}: {t.states.get(doc.state, doc.state)}"
    pdf.font(8.5, bold=True)
    text = pdf.clean(state)
    width = min(pdf.measure(text) + 4, right_width)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.3)
    pdf.rect(pdf.w - pdf.r_margin - width, pdf.y, width, 5.4)
    pdf.put(text, pdf.w - pdf.r_margin - width, pdf.y + 0.7, width, 4, align="C")
    bottom = max(bottom, pdf.y + 4.7)
    pdf.y = bottom + 3
    pdf.rule(pdf.y, gray=0, width=0.4)
    pdf.y += 1


def _fit(logo: Logo, max_width: float, max_height: float) -> tuple[float, float]:
    scale = min(max_width / logo.width, max_height / logo.height)
    return logo.width * scale, logo.height * scale


# ---------------------------------------------------------------- 2. parties


def parties_section(pdf: Page, ctx: Context) -> None:
    doc, t, f = ctx.doc, ctx.t, ctx.f
    pdf.heading(t.parties)
    approved = (t.approved_by_value.format(name=doc.approved_by, when=f.when(doc.approved_at))
                if doc.approved_by else t.not_approved)
    pdf.fields([
        (t.client, _with_code(doc.client, doc.client_code)),
        (t.requester, doc.requester or DASH),
        (t.site, _with_code(doc.site, doc.site_code)),
        (t.approved_by, approved),
        (t.site_address, doc.site_address or DASH),
        (t.field_workers, ", ".join(doc.field_workers) or t.none_assigned),
        (t.client_contact, doc.client_contact or DASH),
    ])


def _with_code(name: str, code: str) -> str:
    return f"{name} ({code})" if code and code != name else name or code or DASH


# ---------------------------------------------------------------- 3. schedule


def schedule_section(pdf: Page, ctx: Context) -> None:
    doc, t, f = ctx.doc, ctx.t, ctx.f
    pdf.heading(t.schedule)
    pairs = [
        (t.requested_date, f.date(doc.requested_date)),
        (t.scheduled_date, f.date(doc.scheduled_date) if doc.scheduled_date else t.not_scheduled),
        (t.priority, t.priorities.get(doc.priority, doc.priority)),
    ]
    if _is_closing(doc):
        pairs += [
            (t.closed, t.closed_value.format(when=f.when(doc.closed_at), name=doc.closed_by or DASH)),
            (t.outcome, t.outcomes.get(doc.step, doc.step)),
        ]
    pdf.fields(pairs)
    if _is_closing(doc):
        pdf.fields([(t.closing_notes.get(doc.step, t.closing_notes["complete"]), doc.change_note or DASH)],
                   columns=1)


def _is_closing(doc: VersionDocument) -> bool:
    return doc.step in CLOSING_STEPS or doc.closed_at is not None


# ---------------------------------------------------------------- 4. description


def description_section(pdf: Page, ctx: Context) -> None:
    doc, t = ctx.doc, ctx.t
    pdf.heading(t.description)
    pdf.paragraph(doc.description or DASH)
    if doc.approval_notes:
        pdf.y += 1.5
        pdf.room(9)
        pdf.paragraph(t.approval_notes, size=7.8, bold=True, line=4.0)
        pdf.paragraph(doc.approval_notes)


# ---------------------------------------------------------------- 5. line items


def items_section(pdf: Page, ctx: Context) -> None:
    doc, t, f = ctx.doc, ctx.t, ctx.f
    headings = list(zip(t.item_headings, *zip(*ITEM_COLUMNS, strict=True), strict=True))
    heading_cells = [(text, width, align) for text, width, align in headings]
    header_height = pdf.row_height(heading_cells, bold=True)
    pdf.heading(t.items, keep=header_height + 14)
    pdf.font(8, bold=False)
    pdf.set_text_color(GRAY_TEXT)
    amounts = pdf.clean(t.amounts_in.format(currency=doc.currency))
    pdf.put(amounts, pdf.l_margin, pdf.y - 6.6, pdf.content_width, 5.2, align="R")
    pdf.set_text_color(0)
    if not doc.items:
        pdf.paragraph(t.no_items)
        return

    group_now: list[str] = [""]

    def header() -> None:
        pdf.table_row(heading_cells, bold=True, fill=GRAY_FILL, rule=0)

    def continued() -> None:
        header()
        if group_now[0]:
            _group_row(pdf, t.continued.format(group=group_now[0]))

    header()
    for kind, lines in _groups(doc.items):
        group_now[0] = t.groups[kind]
        first = _item_cells(lines[0], f)
        if pdf.room(_group_height(pdf) + pdf.row_height(first)):
            header()
        _group_row(pdf, group_now[0])
        for line in lines:
            pdf.table_row(_item_cells(line, f), on_new_page=continued)
    group_now[0] = ""

    total_width = sum(width for width, _ in ITEM_COLUMNS)
    label_width = total_width - ITEM_COLUMNS[-1][0]
    rows = [
        (t.subtotal, f.money(doc.subtotal), False),
        (t.tax.format(rate=f.percent(doc.provider.tax_rate)), f.money(doc.tax), False),
        (t.total.format(currency=doc.currency), f.money(doc.total), True),
    ]
    pdf.room(3 * 5.0 + 1)
    pdf.y += 0.8
    for label, amount, bold in rows:
        pdf.table_row([(label, label_width, "R"), (amount, ITEM_COLUMNS[-1][0], "R")], bold=bold,
                      size=9 if bold else 8.5, pad=0.5, rule=None)
    if doc.unpriced:
        note = t.unpriced_note[0] if doc.unpriced == 1 else t.unpriced_note[1].format(count=doc.unpriced)
        pdf.y += 1
        pdf.paragraph(note, size=8, line=3.8)
    shortened = [line for line in doc.items if len(line.description) > ITEM_TEXT_LIMIT]
    if shortened:
        pdf.heading(t.full_descriptions)
        for line in shortened:
            pdf.paragraph(_item_label(line), size=8.5, line=4.0, indent=4, bullet="\u2022")
            pdf.y += 1


def _groups(items: tuple[ItemLine, ...]) -> list[tuple[str, list[ItemLine]]]:
    by_kind: dict[str, list[ItemLine]] = {kind: [] for kind in GROUPS}
    for line in items:
        by_kind[line.kind if line.kind in by_kind else "free"].append(line)
    return [(kind, lines) for kind, lines in by_kind.items() if lines]


def _group_height(pdf: Page) -> float:
    return pdf.row_height([("X", 100.0, "L")], bold=True, size=8.5)


def _group_row(pdf: Page, text: str) -> None:
    pdf.table_row([(text, sum(width for width, _ in ITEM_COLUMNS), "L")], bold=True, size=8.5, rule=GRAY_FILL - 60)


def _item_cells(line: ItemLine, f: Formatter) -> list[tuple[str, float, str]]:
    texts = (
        _capped(line.code or DASH, CODE_TEXT_LIMIT),
        _capped(line.description, ITEM_TEXT_LIMIT),
        f.quantity(line.quantity),
        _capped(line.unit or DASH, CODE_TEXT_LIMIT),
        f.price(line.unit_price),
        f.money(line.total(f.currency)),
    )
    return [(text, width, align) for text, (width, align) in zip(texts, ITEM_COLUMNS, strict=True)]


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _item_label(line: ItemLine) -> str:
    return f"{line.code} {DOT} {line.description}" if line.code else line.description


# ---------------------------------------------------------------- 6. changes


def changes_section(pdf: Page, ctx: Context) -> None:
    doc, t, f = ctx.doc, ctx.t, ctx.f
    pdf.heading(t.changes)
    lines: list[str] = []
    if doc.version <= 1 and not _is_closing(doc):
        lines.append(t.original)
    else:
        lines += [_describe_change(change, t, f) for change in doc.changes] or [t.no_item_changes]
        if doc.added_people:
            lines.append(t.added_people.format(names=", ".join(doc.added_people)))
        if not _is_closing(doc) and (doc.change_note or doc.change_author):
            if doc.change_author:
                lines.append(t.note_from.format(author=doc.change_author, note=doc.change_note or DASH))
            else:
                lines.append(t.note.format(note=doc.change_note))
        if doc.previous_subtotal is not None:
            delta = doc.subtotal - doc.previous_subtotal
            lines.append(t.subtotal_change.format(before=f.money(doc.previous_subtotal), after=f.money(doc.subtotal),
                                                  delta=f.signed_money(delta)))
        if _is_closing(doc):
            outcome = t.outcomes.get(doc.step, doc.step).lower()
            lines.append(t.closed_as.format(outcome=outcome, name=doc.closed_by or DASH, when=f.when(doc.closed_at)))
    for line in lines:
        pdf.paragraph(line, size=8.8, line=4.2, indent=4, bullet="\u2022")
        pdf.y += 0.6


def _describe_change(change: ItemChange, t: Labels, f: Formatter) -> str:
    before, after = change.before, change.after
    if before is None and after is not None:
        return t.added.format(item=_item_label(after), summary=_line_summary(after, f))
    if after is None and before is not None:
        return t.removed.format(item=_item_label(before), summary=_line_summary(before, f))
    assert before is not None and after is not None
    names = t.fields_changed
    steps = [
        f"{names[key]} {old} {ARROW} {new}"
        for key, old, new in (
            ("description", before.description, after.description),
            ("quantity", f.quantity(before.quantity), f.quantity(after.quantity)),
            ("unit", before.unit or DASH, after.unit or DASH),
            ("unit_price", f.price(before.unit_price), f.price(after.unit_price)),
            ("line_total", f.money(before.total(f.currency)), f.money(after.total(f.currency))),
        )
        if old != new
    ]
    return t.changed.format(item=_item_label(after), steps="; ".join(steps) or DASH)


def _line_summary(line: ItemLine, f: Formatter) -> str:
    quantity = f"{f.quantity(line.quantity)} {line.unit}" if line.unit else f.quantity(line.quantity)
    return f"{quantity} \u00d7 {f.price(line.unit_price)} = {f.money(line.total(f.currency))}"


# ---------------------------------------------------------------- 7. history


def history_section(pdf: Page, ctx: Context) -> None:
    doc, t, f = ctx.doc, ctx.t, ctx.f
    cells = [(text, width, align) for text, (width, align) in zip(t.history_headings, HISTORY_COLUMNS, strict=True)]

    def header() -> None:
        pdf.table_row(cells, bold=True, fill=GRAY_FILL, rule=0)

    pdf.heading(t.history, keep=pdf.row_height(cells, bold=True) + 8)
    header()
    rows = [(str(entry.version), f.when(entry.issued_at), entry.author or DASH, t.steps.get(entry.step, entry.step),
             entry.fingerprint[:12], False) for entry in sorted(doc.history, key=lambda e: e.version)]
    rows.append((t.this_version.format(version=doc.version), f.when(doc.issued_at), _this_author(doc),
                 t.steps.get(doc.step, doc.step), ctx.short_fingerprint, True))
    for *texts, bold in rows:
        pdf.table_row([(text, width, align) for text, (width, align) in zip(texts, HISTORY_COLUMNS, strict=True)],
                      bold=bool(bold), on_new_page=header)


def _this_author(doc: VersionDocument) -> str:
    if _is_closing(doc):
        return doc.closed_by or doc.change_author or DASH
    if doc.step == "approve" or doc.version <= 1:
        return doc.approved_by or DASH
    return doc.change_author or DASH


# ---------------------------------------------------------------- 8. signatures


def signatures_section(pdf: Page, ctx: Context) -> None:
    t = ctx.t
    block = 5.0 + 3 * 7.0
    pdf.heading(t.signatures, keep=block)
    gap = 10.0
    width = (pdf.content_width - gap) / 2
    top = pdf.y
    for i, title in enumerate((t.field_worker_signs, t.client_signs)):
        x = pdf.l_margin + i * (width + gap)
        pdf.font(8.5, bold=True)
        pdf.put(pdf.clean(title), x, top, width, 4.5)
        for j, label in enumerate(t.sign_lines):
            base = top + 5.0 + (j + 1) * 7.0 - 1.0
            pdf.font(7.8)
            pdf.set_text_color(GRAY_TEXT)
            pdf.put(pdf.clean(label), x, base - 3.6, 20, 3.6)
            pdf.set_text_color(0)
            pdf.rule(base, gray=0, width=0.2, x1=x + 20, x2=x + width)
    pdf.y = top + block


SECTIONS: tuple[Callable[[Page, Context], None], ...] = (
    header_section,
    parties_section,
    schedule_section,
    description_section,
    items_section,
    changes_section,
    history_section,
    signatures_section,
)
