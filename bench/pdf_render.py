"""PDF render time and size: `pdf.render.render_version` on a typical order and on a 500-item one.

  typical      version 1 of an approved order: 8 line items in three groups (one unpriced), the sample logo
               (sandbox/sample/logo.png), accented names, English; one A4 page
  500 items    the same order with 400 services and 100 materials; 12 pages
  closing, es  a version 3 that closes the order, in Spanish and CLP, with history and changes; 2 pages
  10 photos    the typical order with ten photos (4000 x 3000 camera JPEGs made into thumbnails as the download
               effect makes them: at most 480 px, JPEG) and a PDF attachment; 2 pages
  signed copy  the typical order's signed copy: the client's drawn signature (a transparent PNG), name and time

The issue's targets: a typical page under 20 ms (median) and under 60 KB; 500 items under 1 s; the 10-photo
document at most 50 ms after its first render (issue 17). The first render of the photo document in a process
(fonts already parsed) also decodes and measures its thumbnails once; it is printed apart, and later renders
are compared with the typical order's, measured in the same run.

Each case is rendered --samples times in a row (after --warmup renders that are thrown away) with
`time.perf_counter` around the call; median and p99 are reported, and the size of the (identical, checked)
output. The first render in a process is slower (it parses the two fonts, ~1 MB of TrueType, and imports
fpdf2): that cold render is measured separately, in fresh processes (--cold-runs of them), as the time of
the first `render_version` call and, apart, of `import pdf.render`.

Run (from the project root):

  .venv/bin/python bench/pdf_render.py
  .venv/bin/python bench/pdf_render.py --samples 500 --cold-runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflow.document import SignedCopy, VersionDocument  # noqa: E402

LOGO = ROOT / "sandbox" / "sample" / "logo.png"
TYPICAL_MS, TYPICAL_BYTES, LONG_MS, PHOTOS_MS = 20.0, 60_000, 1000.0, 50.0


# The documents are the PDF tests' sample order (tests/test_pdf.py), imported when first needed: the cold run
# times `import pdf.render` on its own, and the tests import it.


def typical(**overrides: object) -> VersionDocument:
    """Version 1 of an approved order: 8 line items in three groups, one not yet priced; English, USD."""
    from tests.test_pdf import make_doc, provider

    return make_doc(provider=provider(logo_sha256="sample"), **overrides)


def five_hundred() -> VersionDocument:
    from tests.test_pdf import line

    items = tuple(line(f"SRV-{i:04d}", f"Service step {i}", "10.00", "1") for i in range(1, 401))
    items += tuple(line(f"MAT-{i:04d}", f"Part {i}", "2.50", "2", "pc") for i in range(1, 101))
    return typical(items=items)


def closing_es() -> VersionDocument:
    """Version 3, the closing record, with its changes and history; Spanish, CLP."""
    from tests.test_pdf import AFTER, BEFORE, closing, provider
    from workflow.document import diff_items

    return closing(provider=provider(logo_sha256="sample", locale="es", currency="CLP"),
                   changes=diff_items(BEFORE, AFTER), added_people=("Δημήτρης Παπαδόπουλος",))


def camera_thumbnail(n: int) -> bytes:
    """A 4000 x 3000 camera JPEG (noisy, as photos are), made into a thumbnail as the download effect does."""
    import io

    from PIL import Image

    gray = Image.effect_noise((400, 300), 60).resize((4000, 3000))
    photo = Image.merge("RGB", (gray, gray.point(lambda v: (v + 40 * n) % 256), gray.point(lambda v: 255 - v)))
    camera = io.BytesIO()
    photo.save(camera, "JPEG", quality=92)
    with Image.open(io.BytesIO(camera.getvalue())) as image:
        image = image.convert("RGB")
        image.thumbnail((480, 480))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
    return out.getvalue()


def with_photos(count: int = 10) -> tuple[VersionDocument, dict[str, bytes]]:
    import hashlib
    from datetime import timedelta

    from tests.test_pdf import ISSUED
    from workflow.document import Attachment

    images: dict[str, bytes] = {}
    attachments = []
    for n in range(count):
        data = camera_thumbnail(n)
        sha = hashlib.sha256(data).hexdigest()
        images[sha] = data
        attachments.append(Attachment(f"IMG_{n:04d}.jpg", "image/jpeg", 3_400_000 + n, sha, "Jürgen Müller",
                                      ISSUED + timedelta(minutes=n), sha))
    attachments.append(Attachment("delivery-note.pdf", "application/pdf", 1_250_000, "ab" * 32, "Ana Díaz", ISSUED))
    return typical(attachments=tuple(attachments)), images


def signed(doc: VersionDocument) -> tuple[SignedCopy, bytes]:
    import io
    from datetime import timedelta

    from PIL import Image, ImageDraw

    from workflow.document import ClientSignature

    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 160), (200, 30), (320, 170), (580, 40)], fill=(10, 10, 90, 255), width=6)
    png = io.BytesIO()
    image.save(png, "PNG")
    signature = ClientSignature("accepted", "Carla Rojas", doc.issued_at + timedelta(days=1), "0" * 64)
    return SignedCopy(doc, signature), png.getvalue()


def measure(render: Callable[[], bytes], samples: int, warmup: int) -> tuple[list[float], bytes]:
    first = render()
    for _ in range(warmup):
        render()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        data = render()
        times.append((time.perf_counter() - start) * 1000)
        if data != first:
            raise SystemExit("render_version gave different bytes for the same document")
    return times, first


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def pages(data: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def cold_child() -> None:
    """In a fresh process: the import, then the first render (fonts parsed), then a second one."""
    start = time.perf_counter()
    from pdf.render import render_version

    imported = time.perf_counter()
    doc, logo = typical(), LOGO.read_bytes()
    first_start = time.perf_counter()
    render_version(doc, logo)
    first = time.perf_counter()
    render_version(doc, logo)
    second = time.perf_counter()
    print(json.dumps({"import_ms": (imported - start) * 1000, "first_ms": (first - first_start) * 1000,
                      "second_ms": (second - first) * 1000}))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200, help="timed renders of the typical order (default 200)")
    parser.add_argument("--long-samples", type=int, default=20, help="timed renders of the 500-item order")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes timing the first render")
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_child()
        return 0

    print(f"Python {platform.python_version()}, fpdf2 {version('fpdf2')}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {platform.system()}")

    colds = []
    for _ in range(args.cold_runs):
        out = subprocess.run([sys.executable, __file__, "--cold-child"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
        colds.append(json.loads(out))
    if colds:
        print(f"\ncold (fresh process, {len(colds)} runs, median): import pdf.render "
              f"{statistics.median(c['import_ms'] for c in colds):.0f} ms, first render "
              f"{statistics.median(c['first_ms'] for c in colds):.0f} ms (parses the fonts), second render "
              f"{statistics.median(c['second_ms'] for c in colds):.1f} ms")

    from pdf.render import render_signed, render_version

    logo = LOGO.read_bytes()
    photos, images = with_photos()
    copy, signature = signed(typical())
    render_version(typical(), logo)  # parses the fonts
    # the first render of the photo document in this process: its thumbnails are read
    start = time.perf_counter()
    render_version(photos, logo, images)
    photos_first = (time.perf_counter() - start) * 1000
    plain, long, spanish = typical(), five_hundred(), closing_es()
    cases: list[tuple[str, Callable[[], bytes], int, float | None, int | None]] = [
        ("typical (8 items, logo)", lambda: render_version(plain, logo), args.samples, TYPICAL_MS, TYPICAL_BYTES),
        ("500 items", lambda: render_version(long, logo), args.long_samples, LONG_MS, None),
        ("closing, es (v3, history)", lambda: render_version(spanish, logo), args.samples, None, None),
        ("10 photos (typical)", lambda: render_version(photos, logo, images), args.samples, PHOTOS_MS, None),
        ("signed copy (typical)", lambda: render_signed(copy, logo, {}, signature), args.samples, None, None),
    ]
    print(f"\n{'case':28} {'pages':>5} {'median':>10} {'p99':>10} {'size':>10}   targets")
    failures = 0
    medians: dict[str, float] = {}
    for name, render, samples, ms_target, size_target in cases:
        times, data = measure(render, samples, args.warmup)
        median = medians[name] = statistics.median(times)
        targets = []
        if ms_target is not None:
            targets.append(f"median < {ms_target:.0f} ms: {verdict(median < ms_target)}")
            failures += median >= ms_target
        if size_target is not None:
            targets.append(f"size < {size_target // 1000} KB: {verdict(len(data) < size_target)}")
            failures += len(data) >= size_target
        print(f"{name:28} {pages(data):>5} {median:>7.1f} ms {p99(times):>7.1f} ms {len(data) / 1000:>7.1f} KB   "
              f"{'; '.join(targets) or '-'}  ({samples} samples)")
    base = medians["typical (8 items, logo)"]
    print(f"\n10 photos: first render {photos_first:.1f} ms (thumbnails read once per process), later renders "
          f"{medians['10 photos (typical)'] / base:.2f} x the typical order's; signed copy "
          f"{medians['signed copy (typical)'] / base:.2f} x")
    print("\nall targets met" if not failures else f"\n{failures} target(s) not met")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
