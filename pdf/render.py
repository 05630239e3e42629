"""One order version as a PDF: what the provider hands its client and keeps as its record.

`render_version` is pure: no database, no Slack, no clock. Everything comes from the `VersionDocument` (and
the logo bytes it names by hash), and the same inputs always give the same bytes: the creation date is the
document's `issued_at`, fpdf2's file /ID is an MD5 of the finished file plus that date, font subsets are
cut deterministically (`pdf.print_fonts`), and no time zone, locale or hash seed of the machine is read.

The PDF's document information carries a machine-readable stamp (`pdf.stamp`): order number, version
and the document's fingerprint, read back by `read_stamp`.

`render_signed` draws the client's signed copy of a version: the same document with the client's drawn
signature, typed name and time in the signature block, and a stamp of its own (the signed copy's fingerprint).

Each section is a small function in `SECTIONS`, in the order the issue gives them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time

from i18n import N_, Language, LocaleError, english, language
from i18n.domain import ITEM_KINDS, ROLES, priority, state
from i18n.schedule import scheduled
from pdf.figures import DASH, Figures, utc
from pdf.layout import GRAY_FILL, GRAY_RULE, GRAY_TEXT, PAGES_ALIAS, Page
from pdf.pictures import LOGO_PIXELS, THUMBNAIL_PIXELS, Picture, prepare_logo, prepare_picture
from pdf.print_fonts import PrintFontProducer
from pdf.stamp import Stamp, read_stamp
from workflow.document import Attachment, ClientSignature, ItemChange, ItemLine, Outcome, SignedCopy, VersionDocument
from workflow.vocabulary import ItemKind

__all__ = ["Stamp", "read_stamp", "render_signed", "render_version", "stamp_of"]

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
HISTORY_COLUMNS = ((20.0, "L"), (42.0, "L"), (48.0, "L"), (40.0, "L"), (30.0, "L"))
LOGO_BOX = (45.0, 18.0)  # mm
HEADING_SPACE = 2.4 + 6.4  # a section heading: the space above it and its own height (Page.heading)
# photos: a grid of 4:3 cells, each with two caption lines (who, when)
PHOTO_COLUMNS = 4
PHOTO_GAP = 4.0
PHOTO_RATIO = 0.75
CAPTION_LINE = 3.4

# The document's words, in the provider's language (gettext: i18n/locales); translated where drawn.
ITEM_HEADINGS = (N_("Code"), N_("Description"), N_("Qty"), N_("Unit"), N_("Unit price"), N_("Line total"))
HISTORY_HEADINGS = (N_("Version"), N_("Issued"), N_("By"), N_("Step"), N_("Fingerprint"))
SIGN_LINES = (N_("Name"), N_("Signature"), N_("Date"))
# each signature line's height, mm; a signed copy has room for the drawn signature
SIGN_ROWS = (7.0, 7.0, 7.0)
SIGNED_ROWS = (7.0, 16.0, 7.0)
OUTCOME_LINE = 1.0 + 4.2  # under a signed copy's block: what the client did (its first line)
# the signed copy: what the client did, under its title and under the signature block
SIGNED_BY = {Outcome.ACCEPTED: N_("Signed by {name} on {when}"), Outcome.DISPUTED: N_("Disputed by {name} on {when}")}
SIGNED_OUTCOMES = {Outcome.ACCEPTED: N_("The client accepted this version."),
                   Outcome.DISPUTED: N_("The client disputed this version: {comment}")}
# the step that made a version, in the history table
STEPS = {"approve": N_("Approved (original)"), "confirm": N_("Change confirmed"), "complete": N_("Completed"),
         "not_perform": N_("Not performed"), "set_prices": N_("Prices set")}
STEPS |= {"reschedule": N_("Rescheduled"), "change_crew": N_("Crew changed")}  # issue 15's steps
OUTCOMES = {"complete": N_("Completed"), "not_perform": N_("Not performed")}
CLOSING_NOTES = {"complete": N_("Closing note"), "not_perform": N_("Reason")}
CLOSED_AS = {"complete": N_("Closed as completed by {name} on {when}."),
             "not_perform": N_("Closed as not performed by {name} on {when}.")}
# what changed in a line item, in "Changed SRV-001: quantity 2 → 3"
CHANGED_FIELDS = {"description": N_("description"), "quantity": N_("quantity"), "unit": N_("unit"),
                  "unit_price": N_("unit price"), "line_total": N_("line total")}


def render_version(doc: VersionDocument, logo: bytes | None = None,
                   images: Mapping[str, bytes] | None = None) -> bytes:
    """The PDF of one order version. `logo`: the PNG or JPEG bytes whose SHA-256 is `doc.provider.logo_sha256`;
    `images`: the attachments' thumbnails, by their SHA-256 (`Attachment.thumbnail_sha256`)."""
    return _render(doc, logo, images or {}, None)


def render_signed(copy: SignedCopy, logo: bytes | None, images: Mapping[str, bytes], signature_png: bytes) -> bytes:
    """The client's signed copy of a version: its PDF with the signature (`signature_png`, whose SHA-256 is
    `copy.signature.signature_sha256`), the name and the time in the client's signature block."""
    drawn = prepare_picture(signature_png, LOGO_PIXELS, "signature")
    return _render(copy.document, logo, images, Signed(copy.signature, drawn, copy.fingerprint))


def _render(doc: VersionDocument, logo: bytes | None, images: Mapping[str, bytes], signed: Signed | None) -> bytes:
    lang = document_language(doc.provider.locale)
    ctx = Context(doc, lang, Figures(lang, doc.provider.currency, doc.provider.timezone),
                  prepare_logo(logo) if logo else None, doc.fingerprint, images, signed)
    pdf = Page(footer=ctx.footer)
    _metadata(pdf, ctx)
    pdf.add_page()
    for section in SECTIONS:
        section(pdf, ctx)
    return bytes(pdf.output(output_producer_class=PrintFontProducer))


def stamp_of(doc: VersionDocument) -> Stamp:
    return Stamp(doc.order_number, doc.version, doc.fingerprint)


def document_language(locale: str) -> Language:
    """The provider's language as the document recorded it ('en', 'es' before CLDR names, 'es_CL' since); a
    name this release cannot read still renders, in English, rather than leaving a version without its PDF."""
    try:
        return language(locale)
    except LocaleError:
        return english()


@dataclass(frozen=True)
class Signed:
    """What a signed copy adds to its version's document."""

    signature: ClientSignature
    image: Picture | None  # the drawn signature; None if its bytes are not an image (the name and time still say it)
    fingerprint: str  # the signed copy's


@dataclass(frozen=True)
class Context:
    doc: VersionDocument
    lang: Language
    f: Figures
    logo: Picture | None
    fingerprint: str  # the document's, computed once
    images: Mapping[str, bytes]  # thumbnails by SHA-256
    signed: Signed | None = None  # set for the client's signed copy

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]

    @property
    def stamp(self) -> Stamp:
        if self.signed is not None:
            return Stamp(self.doc.order_number, self.doc.version, self.signed.fingerprint, signed=True)
        return Stamp(self.doc.order_number, self.doc.version, self.fingerprint)

    def footer(self, pdf: Page) -> None:
        doc, lang = self.doc, self.lang
        y = pdf.h - 13.0
        pdf.rule(y - 1.5)
        pdf.font(7.5)
        pdf.set_text_color(GRAY_TEXT)
        # the page count goes last on the left: fpdf2 reserves three digits for it, unseen at the end of a line
        page = lang._("page {page} of {pages}").format(page=pdf.page_no(), pages=PAGES_ALIAS)
        answered = self.signed.signature.outcome if self.signed else None
        left = (lang._("{number} \u00b7 version {version}, signed copy \u00b7 {page}")
                if answered == Outcome.ACCEPTED else
                lang._("{number} \u00b7 version {version}, disputed copy \u00b7 {page}") if answered else
                lang._("{number} \u00b7 version {version} \u00b7 {page}")).format(
            number=pdf.clean(doc.order_number), version=doc.version, page=page)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(pdf.content_width * 0.7, 4, left)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(pdf.content_width, 4, pdf.clean(lang._("fingerprint {fingerprint}").format(
            fingerprint=self.stamp.fingerprint[:12])), align="R")
        pdf.set_text_color(0)


def _metadata(pdf: Page, ctx: Context) -> None:
    doc, lang = ctx.doc, ctx.lang
    title = f"{_title(lang, doc)} v{doc.version}"
    if ctx.signed is not None:
        title = (lang._("{title}, signed by {name}") if ctx.signed.signature.outcome == Outcome.ACCEPTED else
                 lang._("{title}, disputed by {name}")).format(title=title, name=ctx.signed.signature.name)
    pdf.set_title(_plain(title))
    pdf.set_subject(_plain(f"{title} {DOT} {doc.client}"))
    pdf.set_author(_plain(doc.provider.name))
    pdf.set_keywords(ctx.stamp.text())
    pdf.set_creator(CREATOR)
    pdf.set_lang(lang.locale.language + (f"-{lang.locale.territory}" if lang.locale.territory else ""))  # BCP 47
    # Not the clock: the PDF's dates and its /ID both derive from this.
    pdf.set_creation_date(utc(doc.issued_at))


def _title(lang: Language, doc: VersionDocument) -> str:
    return lang._("Service order {number}").format(number=doc.order_number)


def _plain(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


# ---------------------------------------------------------------- 1. header


def header_section(pdf: Page, ctx: Context) -> None:
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
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
        pdf.paragraph(lang._("Tax ID: {tax_id}").format(tax_id=provider.tax_id), size=8.5, line=3.9, x=left_x,
                      width=left_width)
    bottom = max(bottom, pdf.y)

    pdf.set_xy(right_x, top)
    pdf.paragraph(_title(lang, doc), size=14, bold=True, line=6.2, x=right_x,
                  width=right_width, align="R")
    issued = lang._("Version {version} \u00b7 issued {when} ({zone})").format(
        version=doc.version, when=f.when(doc.issued_at), zone=f.zone_name)
    pdf.paragraph(issued, size=8.5, line=4.0, x=right_x, width=right_width, align="R")
    if ctx.signed is not None:
        signature = ctx.signed.signature
        pdf.paragraph(lang._(SIGNED_BY.get(signature.outcome, SIGNED_BY[Outcome.ACCEPTED])).format(
            name=signature.name, when=f.when(signature.signed_at)), size=8.5, bold=True, line=4.0, x=right_x,
            width=right_width, align="R")
    pdf.y += 1.2
    state_text = lang._("State: {state}").format(state=_state(lang, doc.state))
    pdf.font(8.5, bold=True)
    text = pdf.clean(state_text)
    width = min(pdf.measure(text) + 4, right_width)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.3)
    pdf.rect(pdf.w - pdf.r_margin - width, pdf.y, width, 5.4)
    pdf.put(text, pdf.w - pdf.r_margin - width, pdf.y + 0.7, width, 4, align="C")
    bottom = max(bottom, pdf.y + 4.7)
    pdf.y = bottom + 3
    pdf.rule(pdf.y, gray=0, width=0.4)
    pdf.y += 1


def _state(lang: Language, value: str) -> str:
    try:
        return state(lang, value)
    except ValueError:  # a state this release does not know: its code
        return value


def _fit(logo: Picture, max_width: float, max_height: float) -> tuple[float, float]:
    scale = min(max_width / logo.width, max_height / logo.height)
    return logo.width * scale, logo.height * scale


# ---------------------------------------------------------------- 2. parties


def parties_section(pdf: Page, ctx: Context) -> None:
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
    pdf.heading(lang._("Parties"))
    approved = (lang._("{name}, {when}").format(name=doc.approved_by, when=f.when(doc.approved_at))
                if doc.approved_by else lang._("Not approved"))
    pdf.fields([
        (lang._("Client"), _with_code(doc.client, doc.client_code)),
        (lang._("Requested by"), doc.requester or DASH),
        (lang._("Site"), _with_code(doc.site, doc.site_code)),
        (lang._("Approved by"), approved),
        (lang._("Site address"), doc.site_address or DASH),
        (lang._("Field workers"), ", ".join(doc.field_workers) or lang._("None assigned")),
        (lang._("Client contact"), doc.client_contact or DASH),
    ])
    if doc.approvals:  # approval by amount: every level, in order
        pdf.fields([(lang._("Approvals"), "\n".join(
            lang._("Level {level} ({role}): {name}, {when}").format(
                level=a.level, role=_word(lang, ROLE_NAMES, a.role), name=a.name, when=f.when(a.at))
            for a in doc.approvals))], columns=1)


ROLE_NAMES = {role.value: word for role, word in ROLES.items()}


def _with_code(name: str, code: str) -> str:
    return f"{name} ({code})" if code and code != name else name or code or DASH


# ---------------------------------------------------------------- 3. schedule


def schedule_section(pdf: Page, ctx: Context) -> None:
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
    pdf.heading(lang._("Schedule"))
    pairs = [
        (lang._("Requested for"), f.date(doc.requested_date)),
        (lang._("Scheduled for"), scheduled(lang, doc.scheduled_date, _time(doc.scheduled_start),
                                            _time(doc.scheduled_end))
         if doc.scheduled_date else lang._("Not scheduled")),
        (lang._("Priority"), _capital(priority(lang, doc.priority))),
    ]
    if _is_closing(doc):
        pairs += [
            (lang._("Closed"), lang._("{when} by {name}").format(when=f.when(doc.closed_at),
                                                                 name=doc.closed_by or DASH)),
            (lang._("Outcome"), _word(lang, OUTCOMES, doc.step)),
        ]
    pdf.fields(pairs)
    if _is_closing(doc):
        pdf.fields([(lang._(CLOSING_NOTES.get(doc.step, CLOSING_NOTES["complete"])), doc.change_note or DASH)],
                   columns=1)


def _time(hhmm: str | None) -> time | None:
    return time.fromisoformat(hhmm) if hhmm else None


def _capital(text: str) -> str:
    """A word from a sentence as a value of its own ('high' → 'High', 'alta' → 'Alta')."""
    return text[:1].upper() + text[1:]


def _word(lang: Language, table: dict[str, str], key: str) -> str:
    """A table's word in the document's language; a key the table does not know (a newer step), as it is."""
    return lang._(table[key]) if key in table else key


def _is_closing(doc: VersionDocument) -> bool:
    return doc.step in CLOSING_STEPS or doc.closed_at is not None


# ---------------------------------------------------------------- 4. description


def description_section(pdf: Page, ctx: Context) -> None:
    doc, lang = ctx.doc, ctx.lang
    pdf.heading(lang._("Description of the job"))
    pdf.paragraph(doc.description or DASH)
    if doc.approval_notes:
        pdf.y += 1.5
        pdf.room(9)
        pdf.paragraph(lang._("Approval notes"), size=7.8, bold=True, line=4.0)
        pdf.paragraph(doc.approval_notes)


# ---------------------------------------------------------------- 5. line items


def items_section(pdf: Page, ctx: Context) -> None:
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
    headings = list(zip((lang._(h) for h in ITEM_HEADINGS), *zip(*ITEM_COLUMNS, strict=True), strict=True))
    heading_cells = [(text, width, align) for text, width, align in headings]
    header_height = pdf.row_height(heading_cells, bold=True)
    pdf.heading(lang._("Line items"), keep=header_height + 14)
    pdf.font(8, bold=False)
    pdf.set_text_color(GRAY_TEXT)
    amounts = pdf.clean(lang._("Amounts in {currency}").format(currency=doc.currency))
    pdf.put(amounts, pdf.l_margin, pdf.y - 6.6, pdf.content_width, 5.2, align="R")
    pdf.set_text_color(0)
    if not doc.items:
        pdf.paragraph(lang._("No line items."))
        signatures_section(pdf, ctx)
        return

    group_now: list[str] = [""]

    def header() -> None:
        pdf.table_row(heading_cells, bold=True, fill=GRAY_FILL, rule=0)

    def continued() -> None:
        header()
        if group_now[0]:
            _group_row(pdf, lang._("{group} (continued)").format(group=group_now[0]))

    header()
    # the totals and the signature block follow the table on its last page, with at least its last row
    closing_block = _totals_height(pdf, ctx) + _signatures_height(ctx)
    groups = _groups(doc.items)
    for kind, lines in groups:
        group_now[0] = lang._(ITEM_KINDS[ItemKind(kind)])
        first = _item_cells(lines[0], f)
        if pdf.room(_group_height(pdf) + pdf.row_height(first)):
            header()
        _group_row(pdf, group_now[0])
        for line in lines:
            last = kind == groups[-1][0] and line is lines[-1]
            pdf.table_row(_item_cells(line, f), on_new_page=continued, keep=closing_block if last else 0.0)
    group_now[0] = ""
    _totals(pdf, ctx)
    signatures_section(pdf, ctx)
    shortened = [line for line in doc.items if len(line.description) > ITEM_TEXT_LIMIT]
    if shortened:
        pdf.heading(lang._("Full text of shortened item descriptions"))
        for line in shortened:
            pdf.paragraph(_item_label(line), size=8.5, line=4.0, indent=4, bullet="\u2022")
            pdf.y += 1


def _total_rows(ctx: Context) -> list[tuple[str, str, bool]]:
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
    return [
        (lang._("Subtotal"), f.money(doc.subtotal), False),
        (lang._("Tax {rate}").format(rate=f.percent(doc.provider.tax_rate)), f.money(doc.tax), False),
        (lang._("Total {currency}").format(currency=doc.currency), f.money(doc.total), True),
    ]


def _unpriced_note(ctx: Context) -> str | None:
    count = ctx.doc.unpriced
    if not count:
        return None
    return ctx.lang.n_("The total excludes {count} item not yet priced (shown as \u2014).",
                       "The total excludes {count} items not yet priced (shown as \u2014).",
                       count).format(count=ctx.lang.number(count))


def _total_cells(label: str, amount: str) -> list[tuple[str, float, str]]:
    label_width = sum(width for width, _ in ITEM_COLUMNS) - ITEM_COLUMNS[-1][0]
    return [(label, label_width, "R"), (amount, ITEM_COLUMNS[-1][0], "R")]


def _totals_height(pdf: Page, ctx: Context) -> float:
    height = 0.8 + sum(pdf.row_height(_total_cells(label, amount), bold=bold, size=9 if bold else 8.5, pad=0.5)
                       for label, amount, bold in _total_rows(ctx))
    note = _unpriced_note(ctx)
    if note:
        pdf.font(8)
        height += 1 + len(pdf.wrap(note, pdf.content_width)) * 3.8
    return height


def _totals(pdf: Page, ctx: Context) -> None:
    """Subtotal, tax and total, kept on one page with the signature block under them."""
    pdf.room(_totals_height(pdf, ctx) + _signatures_height(ctx))
    pdf.y += 0.8
    for label, amount, bold in _total_rows(ctx):
        pdf.table_row(_total_cells(label, amount), bold=bold, size=9 if bold else 8.5, pad=0.5, rule=None)
    note = _unpriced_note(ctx)
    if note:
        pdf.y += 1
        pdf.paragraph(note, size=8, line=3.8)


def _groups(items: tuple[ItemLine, ...]) -> list[tuple[str, list[ItemLine]]]:
    by_kind: dict[str, list[ItemLine]] = {kind: [] for kind in GROUPS}
    for line in items:
        by_kind[line.kind if line.kind in by_kind else "free"].append(line)
    return [(kind, lines) for kind, lines in by_kind.items() if lines]


def _group_height(pdf: Page) -> float:
    return pdf.row_height([("X", 100.0, "L")], bold=True, size=8.5)


def _group_row(pdf: Page, text: str) -> None:
    pdf.table_row([(text, sum(width for width, _ in ITEM_COLUMNS), "L")], bold=True, size=8.5, rule=GRAY_FILL - 60)


def _item_cells(line: ItemLine, f: Figures) -> list[tuple[str, float, str]]:
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
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
    pdf.heading(lang._("Changes in this version"))
    lines: list[str] = []
    if doc.version <= 1 and not _is_closing(doc):
        lines.append(lang._("Version 1 is the approved original."))
    else:
        lines += ([_describe_change(change, lang, f) for change in doc.changes]
                  or [lang._("No changes to line items.")])
        if doc.added_people:
            lines.append(lang._("Added people: {names}").format(names=", ".join(doc.added_people)))
        if doc.removed_people:
            lines.append(lang._("Removed people: {names}").format(names=", ".join(doc.removed_people)))
        if doc.previous_scheduled_date and doc.scheduled_date:
            lines.append(lang._("Rescheduled from {before} to {after}").format(
                before=scheduled(lang, doc.previous_scheduled_date, _time(doc.previous_scheduled_start),
                                 _time(doc.previous_scheduled_end)),
                after=scheduled(lang, doc.scheduled_date, _time(doc.scheduled_start), _time(doc.scheduled_end))))
        if not _is_closing(doc) and (doc.change_note or doc.change_author):
            if doc.change_author:
                lines.append(lang._("Note from {author}: {note}").format(author=doc.change_author,
                                                                         note=doc.change_note or DASH))
            else:
                lines.append(lang._("Note: {note}").format(note=doc.change_note))
        if doc.previous_subtotal is not None:
            delta = doc.subtotal - doc.previous_subtotal
            lines.append(lang._("Subtotal {before} \u2192 {after} ({delta})").format(
                before=f.money(doc.previous_subtotal), after=f.money(doc.subtotal), delta=f.signed_money(delta)))
        if _is_closing(doc):
            closed_as = CLOSED_AS.get(doc.step, CLOSED_AS["complete"])
            sentence = lang._(closed_as).format(name=doc.closed_by or DASH, when=f.when(doc.closed_at))
            # a time the locale writes with a period ('6:00 p.m.') ends the sentence: one period, not two
            lines.append(sentence[:-1] if sentence.endswith("..") else sentence)
    for line in lines:
        pdf.paragraph(line, size=8.8, line=4.2, indent=4, bullet="\u2022")
        pdf.y += 0.6


def _describe_change(change: ItemChange, lang: Language, f: Figures) -> str:
    before, after = change.before, change.after
    if before is None and after is not None:
        return lang._("Added {item}: {summary}").format(item=_item_label(after), summary=_line_summary(after, f))
    if after is None and before is not None:
        return lang._("Removed {item} (was {summary})").format(item=_item_label(before),
                                                               summary=_line_summary(before, f))
    assert before is not None and after is not None
    steps = [
        f"{lang._(CHANGED_FIELDS[key])} {old} {ARROW} {new}"
        for key, old, new in (
            ("description", before.description, after.description),
            ("quantity", f.quantity(before.quantity), f.quantity(after.quantity)),
            ("unit", before.unit or DASH, after.unit or DASH),
            ("unit_price", f.price(before.unit_price), f.price(after.unit_price)),
            ("line_total", f.money(before.total(f.currency)), f.money(after.total(f.currency))),
        )
        if old != new
    ]
    return lang._("Changed {item}: {steps}").format(item=_item_label(after), steps="; ".join(steps) or DASH)


def _line_summary(line: ItemLine, f: Figures) -> str:
    quantity = f"{f.quantity(line.quantity)} {line.unit}" if line.unit else f.quantity(line.quantity)
    return f"{quantity} \u00d7 {f.price(line.unit_price)} = {f.money(line.total(f.currency))}"


# ---------------------------------------------------------------- 7. history


def history_section(pdf: Page, ctx: Context) -> None:
    doc, lang, f = ctx.doc, ctx.lang, ctx.f
    cells = [(lang._(text), width, align)
             for text, (width, align) in zip(HISTORY_HEADINGS, HISTORY_COLUMNS, strict=True)]

    def header() -> None:
        pdf.table_row(cells, bold=True, fill=GRAY_FILL, rule=0)

    rows = [(str(entry.version), f.when(entry.issued_at), entry.author or DASH, _word(lang, STEPS, entry.step),
             entry.fingerprint[:12], False) for entry in sorted(doc.history, key=lambda e: e.version)]
    rows.append((lang._("{version} (this)").format(version=doc.version), f.when(doc.issued_at), _this_author(doc),
                 _word(lang, STEPS, doc.step), ctx.short_fingerprint, True))
    *first, first_bold = rows[0]
    first_row = [(text, width, align) for text, (width, align) in zip(first, HISTORY_COLUMNS, strict=True)]
    # the heading is kept on a page with the header and the first row
    pdf.heading(lang._("Version history"), keep=pdf.row_height(cells, bold=True) + pdf.row_height(
        first_row, bold=bool(first_bold)))
    header()
    for *texts, bold in rows:
        pdf.table_row([(text, width, align) for text, (width, align) in zip(texts, HISTORY_COLUMNS, strict=True)],
                      bold=bool(bold), on_new_page=header)


def _this_author(doc: VersionDocument) -> str:
    if _is_closing(doc):
        return doc.closed_by or doc.change_author or DASH
    if doc.step == "approve" or doc.version <= 1:
        return doc.approved_by or DASH
    return doc.change_author or DASH


# ---------------------------------------------------------------- 8. photos and attachments


def attachments_section(pdf: Page, ctx: Context) -> None:
    """The version's evidence: each photo's thumbnail in a grid, captioned with who shared it and when; other
    files (and a photo whose thumbnail is missing) listed by name, size and short hash. Only when there are any:
    documents without attachments render as before."""
    doc, lang = ctx.doc, ctx.lang
    if not doc.attachments:
        return
    photos: list[tuple[Attachment, Picture]] = []
    files: list[Attachment] = []
    for attachment in doc.attachments:
        picture = _thumbnail(ctx, attachment.thumbnail_sha256)
        if picture is None:
            files.append(attachment)
        else:
            photos.append((attachment, picture))
    cell = (pdf.content_width - PHOTO_GAP * (PHOTO_COLUMNS - 1)) / PHOTO_COLUMNS
    row_height = cell * PHOTO_RATIO + 1.0 + 2 * CAPTION_LINE
    pdf.heading(lang._("Photos and attachments"), keep=row_height if photos else 9.0)
    for start in range(0, len(photos), PHOTO_COLUMNS):
        pdf.room(row_height)
        top = pdf.y
        for column, (attachment, picture) in enumerate(photos[start:start + PHOTO_COLUMNS]):
            _photo(pdf, ctx, attachment, picture, pdf.l_margin + column * (cell + PHOTO_GAP), top, cell)
        pdf.y = top + row_height + PHOTO_GAP / 2
    for attachment in files:
        said = lang._("{name} \u00b7 {size} \u00b7 {hash} \u00b7 {who}, {when}").format(
            name=attachment.name, size=ctx.f.size(attachment.size), hash=attachment.sha256[:12],
            who=attachment.shared_by, when=ctx.f.when(attachment.shared_at))
        pdf.paragraph(said, size=8.5, line=4.0, indent=4, bullet="\u2022")
        pdf.y += 0.6


def _thumbnail(ctx: Context, sha: str | None) -> Picture | None:
    data = ctx.images.get(sha) if sha else None
    return prepare_picture(data, THUMBNAIL_PIXELS, "thumbnail") if data else None


def _photo(pdf: Page, ctx: Context, attachment: Attachment, picture: Picture, x: float, top: float,
           cell: float) -> None:
    """One photo, fitted in its 4:3 cell (aspect kept, centred), on a thin frame, with who and when under it."""
    box = cell * PHOTO_RATIO
    width, height = _fit(picture, cell, box)
    pdf.set_draw_color(GRAY_RULE)
    pdf.set_line_width(0.15)
    pdf.rect(x, top, cell, box)
    pdf.image(io.BytesIO(picture.data), x=x + (cell - width) / 2, y=top + (box - height) / 2, w=width, h=height)
    pdf.font(7.2, bold=True)
    pdf.put(_one_line(pdf, attachment.shared_by, cell), x, top + box + 1.0, cell, CAPTION_LINE)
    pdf.font(7.2)
    pdf.set_text_color(GRAY_TEXT)
    pdf.put(_one_line(pdf, ctx.f.when(attachment.shared_at), cell), x, top + box + 1.0 + CAPTION_LINE, cell,
            CAPTION_LINE)
    pdf.set_text_color(0)


def _one_line(pdf: Page, text: str, width: float) -> str:
    """The text's first line at this width (in the current font), ending in an ellipsis if more was cut."""
    lines = pdf.wrap(text, width)
    if len(lines) <= 1:
        return lines[0] if lines else ""
    line = lines[0]
    while line and pdf.measure(line + "\u2026") > width:
        line = line[:-1]
    return line.rstrip() + "\u2026"


# ---------------------------------------------------------------- 9. signatures


def _signatures_height(ctx: Context) -> float:
    """The signature block with its heading (and a signed copy's first line of outcome): what must fit."""
    rows = SIGNED_ROWS if ctx.signed else SIGN_ROWS
    return HEADING_SPACE + 5.0 + sum(rows) + (OUTCOME_LINE if ctx.signed else 0.0)


def signatures_section(pdf: Page, ctx: Context) -> None:
    """Drawn right under the totals (`items_section`): the signatures are given for those amounts, and a block
    alone on a last page would sign nothing one can see."""
    lang = ctx.lang
    rows = SIGN_ROWS if ctx.signed is None else SIGNED_ROWS
    block = 5.0 + sum(rows)
    pdf.heading(lang._("Signatures"), keep=block + (OUTCOME_LINE if ctx.signed else 0.0))
    gap = 10.0
    width = (pdf.content_width - gap) / 2
    top = pdf.y
    for i, title in enumerate((lang._("Field worker"), lang._("Client's representative"))):
        x = pdf.l_margin + i * (width + gap)
        pdf.font(8.5, bold=True)
        pdf.put(pdf.clean(title), x, top, width, 4.5)
        base = top + 5.0
        for j, (label, row) in enumerate(zip((lang._(word) for word in SIGN_LINES), rows, strict=True)):
            base += row
            pdf.font(7.8)
            pdf.set_text_color(GRAY_TEXT)
            pdf.put(pdf.clean(label), x, base - 1.0 - 3.6, 20, 3.6)
            pdf.set_text_color(0)
            pdf.rule(base - 1.0, gray=0, width=0.2, x1=x + 20, x2=x + width)
            if i == 1 and ctx.signed is not None:
                _client_signed(pdf, ctx, ctx.signed, j, x + 21, base - 1.0, width - 21, row)
    pdf.y = top + block
    if ctx.signed is not None:
        signature = ctx.signed.signature
        said = lang._(SIGNED_OUTCOMES.get(signature.outcome, SIGNED_OUTCOMES[Outcome.ACCEPTED]))
        pdf.y += 1
        pdf.paragraph(said.format(comment=signature.comment or DASH), size=8.8, line=4.2)


def _client_signed(pdf: Page, ctx: Context, signed: Signed, line: int, x: float, base: float, width: float,
                   height: float) -> None:
    """The client's name, drawn signature or time, on its line of the client's signature block."""
    if line == 1:
        if signed.image is not None:
            w, h = _fit(signed.image, width, height - 2.0)
            pdf.image(io.BytesIO(signed.image.data), x=x, y=base - 0.5 - h, w=w, h=h)
        return
    text = signed.signature.name if line == 0 else ctx.f.when(signed.signature.signed_at)
    pdf.font(9)
    pdf.put(pdf.wrap(text, width)[0] if text.strip() else "", x, base - 4.4, width, 4.0)


SECTIONS: tuple[Callable[[Page, Context], None], ...] = (
    header_section,
    parties_section,
    schedule_section,
    description_section,
    items_section,  # with the totals and, kept with them, the signatures
    changes_section,
    attachments_section,
    history_section,
)
