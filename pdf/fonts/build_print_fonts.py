"""Build the print fonts the renderer embeds from the DejaVu Sans sources beside this script.

    .venv/bin/python pdf/fonts/build_print_fonts.py          # rewrites DejaVuSans-print.ttf, DejaVuSans-Bold-print.ttf

Each print font is its source with every character kept (nothing a user could type before is lost) and
what fpdf2 never embedded anyway taken out, so that `pdf.print_fonts` can read it quickly once per process
and cut subsets from it without fontTools:

- OpenType layout and kerning (GSUB, GPOS, GDEF, kern, MATH): fpdf2 without text shaping ignores them,
  and its own subsetting dropped them;
- glyph names (post format 3) and the FontForge timestamp (FFTM);
- name records other than 0-6 (copyright, family, style, id, full name, version, PostScript name), the
  same ones fpdf2's own subsetting kept.

Glyph outlines, hinting and advance widths are untouched, so text measures and renders exactly as when
fpdf2 embedded the sources (tests/test_pdf.py compares the two pixel for pixel). The output is
deterministic (no timestamps are recalculated), so running this again with the same fontTools gives the
same files. print_fonts.json records the fontTools version and the SHA-256 of sources and outputs; a test
rebuilds the fonts and compares, when the installed fontTools is that version.

Regenerating changes the bytes of every PDF rendered afterwards (a different subset font program), so a
version rendered before no longer compares equal byte for byte: do it only with a reason.
The sources are DejaVu Sans 2.37 (as in Debian's fonts-dejavu-core), under the licence in LICENSE.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = {"DejaVuSans.ttf": "DejaVuSans-print.ttf", "DejaVuSans-Bold.ttf": "DejaVuSans-Bold-print.ttf"}
MANIFEST = HERE / "print_fonts.json"


def print_font(source: bytes) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "kern", "hdmx", "meta"]
    options.glyph_names = False
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
    font = TTFont(io.BytesIO(source), recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=font.getBestCmap().keys())
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def main() -> int:
    manifest: dict[str, object] = {"fontTools": version("fonttools"), "fonts": {}}
    for source, target in SOURCES.items():
        original = (HERE / source).read_bytes()
        data = print_font(original)
        (HERE / target).write_bytes(data)
        manifest["fonts"][target] = {  # type: ignore[index]
            "source": source,
            "source_sha256": hashlib.sha256(original).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        print(f"{target}: {len(data):,} bytes")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
