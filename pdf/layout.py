"""Page layout on top of fpdf2: glyph-safe text, our own line wrapping, flowing fields and tables.

fpdf2's `multi_cell` and `table` re-measure text character by character (about 0.4 ms a call, 4 ms for
300 characters) and render each table cell twice; a page has a hundred or more cells. So text is measured
here with the font's width table, wrapped here, and drawn line by line with `cell` (one call a line, no
re-measuring). That also gives full control of page breaks: nothing is drawn below the break line, a table
row or a field row never splits, a table's header is repeated on each page it reaches, and long text flows
on line by line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

from fpdf import FPDF

from pdf import print_fonts

FAMILY = "dejavu"
REPLACEMENT = "\ufffd"  # DejaVu Sans has it in both weights
# Total-pages alias. It holds control characters, which `clean_text` strips from all other text, so nothing
# a Slack user types can ever be mistaken for it. Three characters: room for up to 999 pages.
PAGES_ALIAS = "\x01n\x01"

# Controls and format characters (zero-width joiners, bidi overrides, soft hyphens) are always dropped:
# fpdf2 draws them as nothing at best, and they would make the extracted text lie. Combining marks and
# emoji modifiers the font lacks are dropped too, so "👍🏽" or "👍️" becomes one replacement mark, not two.
_ALWAYS_DROPPED = frozenset({"Cc", "Cf"})
_DROPPED_IF_MISSING = frozenset({"Mn", "Me"})
_EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)
_NEWLINES = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\t": " ", "\u000b": "\n", "\u000c": "\n"})

# page geometry, mm (A4)
MARGIN = 15.0
TOP = 13.0
BOTTOM = 18.0  # the footer lives below this
GRAY_RULE = 175
GRAY_TEXT = 70
GRAY_FILL = 236


def clean_text(text: str, covered: frozenset[int]) -> str:
    """Text the font can draw: composed accents, and a replacement mark for each missing glyph."""
    if text.isascii() and text.isprintable():
        return text  # the common case; DejaVu Sans draws all of printable ASCII
    # NFC so "e" + combining acute uses DejaVu's "é" (and extracts back as one character).
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").translate(_NEWLINES)
    out = []
    for c in text:
        if c == "\n":
            out.append(c)
            continue
        category = unicodedata.category(c)
        if category not in _ALWAYS_DROPPED and ord(c) in covered:
            out.append(c)
        elif category not in _ALWAYS_DROPPED | _DROPPED_IF_MISSING and ord(c) not in _EMOJI_MODIFIERS:
            out.append(REPLACEMENT)
    return "".join(out)


class Page(FPDF):
    """An A4 FPDF with our fonts, a per-page footer and glyph-safe, self-wrapped text."""

    def __init__(self, footer: Callable[[Page], None] | None = None) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        print_fonts.attach(self, FAMILY)
        self.covered = print_fonts.coverage()
        self.footer_painter = footer
        self.set_margins(MARGIN, TOP, MARGIN)
        # we break pages ourselves, before anything that would not fit (see `room`)
        self.set_auto_page_break(False, margin=BOTTOM)
        self.c_margin = 0
        self.alias_nb_pages(PAGES_ALIAS)
        self.set_font(FAMILY, "", 9)

    @property
    def content_width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    @property
    def bottom(self) -> float:
        return self.page_break_trigger

    def normalize_text(self, text: str) -> str:
        # All text fpdf2 draws (text, cell) passes through here, so nothing can skip the cleaning. The footer
        # is exempt so the pages alias survives; it cleans its own text.
        if not self.in_footer:
            text = clean_text(text, self.covered)
        return super().normalize_text(text)

    def clean(self, text: str) -> str:
        return clean_text(text, self.covered)

    def footer(self) -> None:
        if self.footer_painter is not None:
            self.footer_painter(self)

    # -- fonts and measuring

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)

    def measure(self, text: str) -> float:
        """Width in mm of clean text in the current font (fpdf2's own arithmetic)."""
        widths = self.current_font.cw
        return sum(widths[ord(c)] for c in text) * self.font_size / 1000

    def wrap(self, text: str, width: float) -> list[str]:
        """Clean text broken into lines no wider than `width`, at spaces, or inside a word too long for a line."""
        text = self.clean(text).strip()
        widths = self.current_font.cw
        scale = self.font_size / 1000
        limit = width / scale + 1e-6  # compare in font units
        space = widths[32]
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line: list[str] = []
            used = 0.0
            for word in paragraph.split(" "):
                if not word:
                    continue
                size = sum(widths[ord(c)] for c in word)
                if line and used + space + size <= limit:
                    line.append(word)
                    used += space + size
                    continue
                if line:
                    lines.append(" ".join(line))
                    line, used = [], 0.0
                if size <= limit:
                    line, used = [word], size
                    continue
                start, run = 0, 0.0  # a word wider than a line: cut it where it reaches the edge
                for i, c in enumerate(word):
                    if run + widths[ord(c)] > limit and i > start:
                        lines.append(word[start:i])
                        start, run = i, 0.0
                    run += widths[ord(c)]
                line, used = [word[start:]], run
            lines.append(" ".join(line))
        return lines

    # -- flow

    def room(self, height: float) -> bool:
        """Start a new page unless `height` mm fit above the bottom margin; True if a page was added."""
        if self.y + height > self.bottom + 1e-6:
            self.add_page()
            return True
        return False

    def put(self, text: str, x: float, top: float, width: float, height: float, align: str = "L") -> None:
        """Clean text placed in the box (x, top, width, height), vertically centred as fpdf2's `cell` does.

        `FPDF.text` writes the string as it is, where `cell` costs ten times more (it splits text into
        styled fragments and measures it again); the text here is already cleaned, measured and wrapped."""
        if not text:
            return
        if align == "R":
            x += width - self.measure(text)
        elif align == "C":
            x += (width - self.measure(text)) / 2
        self.text(x, top + height / 2 + 0.3 * self.font_size, text)

    def text_line(self, text: str, width: float, height: float, align: str = "L") -> None:
        """One line of already wrapped text at (x, y); y moves down, x stays."""
        self.put(text, self.x, self.y, width, height, align)
        self.y += height

    def paragraph(self, text: str, *, size: float = 9, bold: bool = False, line: float = 4.3,
                  x: float | None = None, width: float | None = None, indent: float = 0.0,
                  bullet: str | None = None, align: str = "L") -> None:
        """Wrapped text that flows onto the next page line by line."""
        self.font(size, bold)
        left = self.l_margin if x is None else x
        width = self.content_width - (left - self.l_margin) if width is None else width
        for i, text_line in enumerate(self.wrap(text, width - indent)):
            self.room(line)
            if bullet is not None and i == 0:
                self.put(bullet, left, self.y, indent, line)
            self.set_x(left + indent)
            self.text_line(text_line, width - indent, line, align=align)

    def heading(self, text: str, keep: float = 12.0) -> None:
        """A section title with a rule under it, kept on a page with `keep` mm of what follows."""
        height = 6.4
        if self.y > self.t_margin + 1:
            self.y += 2.4
        self.room(height + keep)
        self.font(10, bold=True)
        self.set_x(self.l_margin)
        self.text_line(self.clean(text), self.content_width, 5.2)
        self.rule(self.y, gray=0, width=0.3)
        self.y += 1.2

    def rule(self, y: float, *, gray: int = GRAY_RULE, width: float = 0.15, x1: float | None = None,
             x2: float | None = None) -> None:
        self.set_draw_color(gray)
        self.set_line_width(width)
        self.line(self.l_margin if x1 is None else x1, y, self.w - self.r_margin if x2 is None else x2, y)

    # -- label / value fields

    def fields(self, pairs: Sequence[tuple[str, str]], *, columns: int = 2, label_width: float = 32.0,
               max_lines: int = 6) -> None:
        """Label/value pairs in a grid of `columns`; a value too long for the grid gets a full-width row
        that flows across pages."""
        gap = 6.0
        column = (self.content_width - gap * (columns - 1)) / columns
        row: list[tuple[list[str], list[str]]] = []
        for label, value in pairs:
            self.font(7.8, bold=True)
            label_lines = self.wrap(label, label_width - 2)
            self.font(9)
            value_lines = self.wrap(value or "\u2014", column - label_width)
            if columns == 1 or max(len(label_lines), len(value_lines)) > max_lines:
                self._field_row(row, column, gap, label_width)
                row = []
                self._long_field(label_lines, value, label_width)
                continue
            row.append((label_lines, value_lines))
            if len(row) == columns:
                self._field_row(row, column, gap, label_width)
                row = []
        self._field_row(row, column, gap, label_width)

    def _field_row(self, row: list[tuple[list[str], list[str]]], column: float, gap: float, label_width: float) -> None:
        if not row:
            return
        line = 4.3
        height = max(max(len(labels), len(values)) for labels, values in row) * line + 0.5
        self.room(height)
        top = self.y
        for i, (labels, values) in enumerate(row):
            x = self.l_margin + i * (column + gap)
            self._draw_field(x, top, labels, values, label_width, column, line)
        self.y = top + height

    def _draw_field(self, x: float, top: float, labels: list[str], values: list[str], label_width: float,
                    column: float, line: float) -> None:
        self.font(7.8, bold=True)
        self.set_text_color(GRAY_TEXT)
        self.set_xy(x, top + 0.25)
        for text in labels:
            self.text_line(text, label_width - 2, line)
        self.set_text_color(0)
        self.font(9)
        self.set_xy(x + label_width, top)
        for text in values:
            self.text_line(text, column - label_width, line)

    def _long_field(self, label_lines: list[str], value: str, label_width: float) -> None:
        line = 4.3
        self.room(max(len(label_lines), 1) * line)
        top = self.y
        self._draw_field(self.l_margin, top, label_lines, [], label_width, label_width, line)
        self.y = top
        self.paragraph(value, x=self.l_margin + label_width, width=self.content_width - label_width, line=line)
        self.y = max(self.y, top + len(label_lines) * line) + 0.5

    # -- tables

    def table_row(self, cells: Sequence[tuple[str, float, str]], *, size: float = 8.5, bold: bool = False,
                  line: float = 3.8, pad: float = 0.8, fill: int | None = None, rule: int | None = GRAY_RULE,
                  on_new_page: Callable[[], None] | None = None, keep: float = 0.0) -> None:
        """One table row of (text, width, align) cells; never split: moved whole to the next page, where
        `on_new_page` (the table header) is drawn first. `keep`: mm of what follows that must fit on its page."""
        self.font(size, bold)
        # Callers shorten long cells (and print them in full elsewhere); this only stops a pathological
        # cell from making a row taller than a page, which would run into the footer.
        most = max(1, int((self.bottom - self.t_margin - 20) / line))
        wrapped = [_at_most(self.wrap(text, width - 2 * pad), most) for text, width, _ in cells]
        height = max(len(lines) for lines in wrapped) * line + 2 * pad
        if self.room(height + keep) and on_new_page is not None:
            on_new_page()
            self.font(size, bold)
        top = self.y
        if fill is not None:
            self.set_fill_color(fill)
            self.rect(self.l_margin, top, sum(width for _, width, _ in cells), height, style="F")
        x = self.l_margin
        for (_, width, align), lines in zip(cells, wrapped, strict=True):
            self.set_xy(x + pad, top + pad)
            for text in lines:
                self.text_line(text, width - 2 * pad, line, align="R" if align == "R" else "L")
            x += width
        self.y = top + height
        if rule is not None:
            self.rule(self.y, gray=rule, x2=x)

    def row_height(self, cells: Sequence[tuple[str, float, str]], *, size: float = 8.5, bold: bool = False,
                   line: float = 3.8, pad: float = 0.8) -> float:
        self.font(size, bold)
        most = max(1, int((self.bottom - self.t_margin - 20) / line))
        return max(min(len(self.wrap(text, width - 2 * pad)), most) for text, width, _ in cells) * line + 2 * pad


def _at_most(lines: list[str], count: int) -> list[str]:
    return lines if len(lines) <= count else [*lines[: count - 1], lines[count - 1] + " \u2026"]
