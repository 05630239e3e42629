"""DejaVu Sans for fpdf2, parsed once per process and subset without fontTools at render time.

fpdf2's own `add_font` parses the TrueType file with fontTools on every document, and its output step
subsets it with fontTools: about 200 ms a document for our two fonts, against a 20 ms budget for a whole
page. So, faithfully to what fpdf2 does but without the repeated work:

- Each print font (`fonts/*-print.ttf`: DejaVu Sans without the OpenType layout tables fpdf2 never used,
  see `fonts/build_print_fonts.py`) is read once per process by
  fpdf2's own `TTFFont` (its metrics, widths and character map are fpdf2's, so text is measured and
  encoded exactly as `add_font` would do it) and by `FontProgram`, a small reader of the TrueType tables.
- Each document gets its own `TTFFont` copy (`attach`): the immutable parts (character map, glyph ids,
  names, metrics) are shared, everything fpdf2 changes while it lays a document out (the subset map, the
  width cache, the missing-glyph list, the font descriptor) is new. Nothing shared is ever written to,
  so documents rendered at the same time in several threads don't see each other.
- `PrintFontProducer` is fpdf2's `OutputProducer` with its font step replaced: the embedded font file is
  a TrueType subset cut from the cached tables (`FontProgram.subset`: only the glyphs used, renumbered
  so that glyph id == character code, hence `/CIDToGIDMap /Identity`), written as the same PDF objects
  fpdf2 writes (Type0 font, CIDFontType2 with widths, ToUnicode map, descriptor with FontFile2).

The output depends only on which characters a document uses: no clock, no randomness, no state left
over from an earlier document.
"""

from __future__ import annotations

import copy
import hashlib
import struct
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFContentStream, PDFFont, PDFFontStream
from fpdf.syntax import Name, PDFArray

FONT_DIR = Path(__file__).parent / "fonts"
STYLES = {"": FONT_DIR / "DejaVuSans-print.ttf", "B": FONT_DIR / "DejaVuSans-Bold-print.ttf"}

# composite glyph flags (OpenType glyf table)
_ARG_1_AND_2_ARE_WORDS = 0x0001
_WE_HAVE_A_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_WE_HAVE_AN_X_AND_Y_SCALE = 0x0040
_WE_HAVE_A_TWO_BY_TWO = 0x0080
# copied whole into every subset: identity (OS/2, name with the copyright notice) and the TrueType hinting
# programs the glyphs' instructions call (cvt, fpgm, prep; gasp says when to use them)
_COPIED_TABLES = ("OS/2", "cvt ", "fpgm", "gasp", "name", "prep")


class FontProgram:
    """The tables of one TrueType font, read once, from which glyph subsets are cut."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        (num_tables,) = struct.unpack_from(">H", data, 4)
        self.tables: dict[str, bytes] = {}
        for i in range(num_tables):
            tag, _checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            self.tables[tag.decode("latin-1")] = data[offset : offset + length]
        head, maxp, hhea = self.tables["head"], self.tables["maxp"], self.tables["hhea"]
        (self.num_glyphs,) = struct.unpack_from(">H", maxp, 4)
        (long_loca,) = struct.unpack_from(">h", head, 50)
        count = self.num_glyphs + 1
        loca = struct.unpack_from(f">{count}{'I' if long_loca else 'H'}", self.tables["loca"])
        self.loca: tuple[int, ...] = loca if long_loca else tuple(2 * x for x in loca)
        (num_hmetrics,) = struct.unpack_from(">H", hhea, 34)
        hmtx = self.tables["hmtx"]
        metrics = [struct.unpack_from(">Hh", hmtx, 4 * i) for i in range(num_hmetrics)]
        last_advance = metrics[-1][0]
        side_bearings = struct.unpack_from(f">{self.num_glyphs - num_hmetrics}h", hmtx, 4 * num_hmetrics)
        metrics += [(last_advance, lsb) for lsb in side_bearings]
        self.metrics: tuple[tuple[int, int], ...] = tuple(metrics)
        self._components: dict[int, tuple[tuple[int, int], ...]] = {}
        for gid in range(self.num_glyphs):
            if parts := self._read_components(gid):
                self._components[gid] = parts

    def glyph(self, gid: int) -> bytes:
        return self.tables["glyf"][self.loca[gid] : self.loca[gid + 1]]

    def components(self, gid: int) -> tuple[tuple[int, int], ...]:
        """A composite glyph's (offset of a component's glyph id in the glyph's data, component glyph id)."""
        return self._components.get(gid, ())

    def _read_components(self, gid: int) -> tuple[tuple[int, int], ...]:
        data = self.glyph(gid)
        if len(data) < 10 or struct.unpack_from(">h", data, 0)[0] >= 0:
            return ()  # empty or simple
        found = []
        offset = 10
        while True:
            flags, component = struct.unpack_from(">HH", data, offset)
            found.append((offset + 2, component))
            offset += 4 + (4 if flags & _ARG_1_AND_2_ARE_WORDS else 2)
            if flags & _WE_HAVE_A_SCALE:
                offset += 2
            elif flags & _WE_HAVE_AN_X_AND_Y_SCALE:
                offset += 4
            elif flags & _WE_HAVE_A_TWO_BY_TWO:
                offset += 8
            if not flags & _MORE_COMPONENTS:
                return tuple(found)

    def subset(self, glyphs: Sequence[int | None]) -> bytes:
        """A TrueType font whose glyph `i` is this font's glyph `glyphs[i]` (None: an empty glyph).

        Glyphs that composite glyphs are built from are appended after them and the composites' references
        renumbered, so the font is complete. Glyph 0 should be .notdef (0).
        """
        order: list[int | None] = list(glyphs)
        new_id: dict[int, int] = {}
        for i, gid in enumerate(order):
            if gid is not None:
                new_id.setdefault(gid, i)
        i = 0
        while i < len(order):  # components, breadth first; `order` grows as they are found
            gid = order[i]
            if gid is not None:
                for _, component in self.components(gid):
                    if component not in new_id:
                        new_id[component] = len(order)
                        order.append(component)
            i += 1
        glyf = bytearray()
        loca = [0]
        hmtx = bytearray()
        for gid in order:
            if gid is None:
                hmtx += b"\0\0\0\0"
            else:
                data = self.glyph(gid)
                parts = self.components(gid)
                if parts:
                    data = bytearray(data)
                    for offset, component in parts:
                        struct.pack_into(">H", data, offset, new_id[component])
                glyf += data
                glyf += b"\0" * (-len(glyf) % 4)
                hmtx += struct.pack(">Hh", *self.metrics[gid])
            loca.append(len(glyf))
        count = len(order)
        head = bytearray(self.tables["head"])
        struct.pack_into(">I", head, 8, 0)  # checkSumAdjustment, set below
        struct.pack_into(">h", head, 50, 1)  # long loca offsets
        maxp = bytearray(self.tables["maxp"])
        struct.pack_into(">H", maxp, 4, count)
        hhea = bytearray(self.tables["hhea"])
        struct.pack_into(">H", hhea, 34, count)
        post = bytearray(self.tables["post"][:32])
        struct.pack_into(">I", post, 0, 0x00030000)  # no glyph names
        loca_words = array("I", loca)
        if _LITTLE_ENDIAN:
            loca_words.byteswap()
        tables = {tag: self.tables[tag] for tag in _COPIED_TABLES if tag in self.tables}
        tables |= {
            "glyf": bytes(glyf),
            "head": bytes(head),
            "hhea": bytes(hhea),
            "hmtx": bytes(hmtx),
            "loca": loca_words.tobytes(),
            "maxp": bytes(maxp),
            "post": bytes(post),
        }
        return _sfnt(tables)


_LITTLE_ENDIAN = array("H", [1]).tobytes() == b"\x01\x00"
assert array("I").itemsize == 4, "TrueType tables are read as 32-bit words"


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words = array("I", padded)
    if _LITTLE_ENDIAN:
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """A TrueType file of these tables, in tag order, with checksums."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    directory = bytearray(struct.pack(">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1,
                                      count * 16 - power * 16))
    body = bytearray()
    offset = 12 + 16 * count
    for tag in tags:
        table = tables[tag]
        directory += struct.pack(">4sIII", tag.encode("latin-1"), _checksum(table), offset + len(body), len(table))
        body += table + b"\0" * (-len(table) % 4)
    font = bytearray(directory + body)
    head_offset = offset + sum(len(tables[t]) + (-len(tables[t]) % 4) for t in tags[: tags.index("head")])
    struct.pack_into(">I", font, head_offset + 8, (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


# ---------------------------------------------------------------- per process


@dataclass(frozen=True)
class _Typeface:
    template: TTFFont  # fpdf2's own parse; copied per document, never used directly
    program: FontProgram


_loaded: dict[str, _Typeface] = {}
_coverage: list[frozenset[int]] = []
_lock = threading.Lock()


def _typeface(style: str) -> _Typeface:
    face = _loaded.get(style)
    if face is None:
        with _lock:
            face = _loaded.get(style)
            if face is None:
                path = STYLES[style]
                scratch = FPDF()
                scratch.add_font("print", style, path)
                template = scratch.fonts[f"print{style}"]
                assert isinstance(template, TTFFont)
                template.close()  # the parse is done; fontTools' file handle is not needed any more
                face = _Typeface(template, FontProgram(path.read_bytes()))
                _loaded[style] = face
    return face


def load() -> None:
    """Parse the fonts now (a service can call this at start-up so that its first render is not slow)."""
    for style in STYLES:
        _typeface(style)


def coverage() -> frozenset[int]:
    """Characters every style can draw (text may switch weight anywhere)."""
    if not _coverage:
        maps = [set(_typeface(style).template.cmap) for style in STYLES]
        with _lock:
            if not _coverage:
                _coverage.append(frozenset(set.intersection(*maps)))
    return _coverage[0]


def attach(pdf: FPDF, family: str) -> None:
    """Give this document its own copy of each style, as `pdf.add_font(family, style, ...)` would."""
    for style in STYLES:
        template = _typeface(style).template
        font = TTFFont.__new__(TTFFont)
        for slot in TTFFont.__slots__:
            if hasattr(template, slot):
                setattr(font, slot, getattr(template, slot))
        font.i = len(pdf.fonts) + 1
        font.fontkey = f"{family.lower()}{style}"
        font.ttfont = None  # type: ignore[assignment]  # only fpdf2's own font output step reads it
        font._hbfont = None
        font.cw = copy.copy(template.cw)  # a defaultdict: looking up a character it lacks adds it
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.desc = copy.copy(template.desc)  # the output step sets its name and font file
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


# ---------------------------------------------------------------- output


class PrintFontProducer(OutputProducer):
    """fpdf2's output, with the fonts `attach` added embedded from the cached tables."""

    def _add_fonts(self, *args: Any, **kwargs: Any) -> dict[int, Any]:
        objects: dict[int, Any] = {}
        for font in sorted(self.fpdf.fonts.values(), key=lambda f: f.i):
            if not isinstance(font, TTFFont) or font.ttfont is not None:
                raise TypeError(f"{font!r} was not added with pdf.print_fonts.attach")
            objects[font.i] = self._embed(font)
        # fpdf2 caches glyph look-ups on the SubsetMap class and clears the cache after output too
        SubsetMap.pick.cache_clear()
        SubsetMap.get_glyph.cache_clear()
        return objects

    def _embed(self, font: TTFFont) -> PDFFont:
        program = _typeface("B" if font.fontkey.endswith("B") else "").program
        used = sorted(((code, glyph) for glyph, code in font.subset.items() if glyph is not None))
        glyphs: list[int | None] = [None] * (used[-1][0] + 1 if used else 1)
        glyphs[0] = 0  # .notdef
        widths: dict[int, int] = {}
        to_unicode: list[str] = []
        for code, glyph in used:
            # fpdf2 gives code 0 a placeholder glyph: it is .notdef
            glyphs[code] = 0 if code == 0 else glyph.glyph_id
            widths[code] = glyph.glyph_width
            if code and isinstance(glyph.unicode, tuple) and glyph.unicode:
                to_unicode.append(f"<{code:04X}> <{''.join(_utf16_hex(c) for c in glyph.unicode)}>\n")
        file = program.subset(glyphs)
        # A subset's tag is six capital letters (ISO 32000-1, 9.6.4); derived from the subset itself
        digest = hashlib.sha256(file).digest()
        tag = "".join(chr(65 + b % 26) for b in digest[:6])
        name = f"{tag}+{font.name}"

        type0 = PDFFont(subtype="Type0", base_font=name, encoding="Identity-H")
        self._add_pdf_obj(type0, "fonts")
        cid_font = PDFFont(subtype="CIDFontType2", base_font=name, d_w=font.desc.missing_width, w=_widths(widths))
        cid_font.c_i_d_to_g_i_d_map = Name("Identity")  # type: ignore[assignment]
        self._add_pdf_obj(cid_font, "fonts")
        type0.descendant_fonts = PDFArray([cid_font])

        cmap = PDFContentStream(_to_unicode_cmap(to_unicode).encode("latin-1"), compress=True)
        self._add_pdf_obj(cmap, "fonts")
        type0.to_unicode = cmap

        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info

        descriptor = font.desc
        descriptor.font_name = Name(name)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor

        stream = PDFFontStream(contents=file)
        self._add_pdf_obj(stream, "fonts")
        descriptor.font_file2 = stream  # type: ignore[attr-defined]
        return type0


def _utf16_hex(code: int) -> str:
    return chr(code).encode("utf-16-be").hex().upper()


def _widths(widths: dict[int, int]) -> str:
    """A /W array: runs of consecutive codes as `first [w1 w2 ...]`."""
    parts: list[str] = []
    run: list[int] = []
    start = previous = -2
    for code, width in sorted(widths.items()):
        if code != previous + 1 and run:
            parts.append(f"{start} [{' '.join(map(str, run))}]")
            run = []
        if not run:
            start = code
        run.append(width)
        previous = code
    if run:
        parts.append(f"{start} [{' '.join(map(str, run))}]")
    return f"[{' '.join(parts)}]"


def _to_unicode_cmap(entries: list[str]) -> str:
    # at most 100 entries a block (Adobe Technical Note #5014)
    blocks = "".join(
        f"{len(chunk)} beginbfchar\n{''.join(chunk)}endbfchar\n"
        for chunk in (entries[i : i + 100] for i in range(0, len(entries), 100))
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{blocks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )
