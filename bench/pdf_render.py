"""PDF render time and size: `pdf.render.render_version` on a typical order and on a 500-item one.

  typical      version 1 of an approved order: 8 line items in three groups (one unpriced), the sample logo
               (sandbox/sample/logo.png), accented names, English; one A4 page
  500 items    the same order with 400 services and 100 materials; 12 pages
  closing, es  a version 3 that closes the order, in Spanish and CLP, with history and changes; 2 pages

The issue's targets: a typical page under 20 ms (median) and under 60 KB; 500 items under 1 s.

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

from workflow.document import VersionDocument  # noqa: E402

LOGO = ROOT / "sandbox" / "sample" / "logo.png"
TYPICAL_MS, TYPICAL_BYTES, LONG_MS = 20.0, 60_000, 1000.0


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

    from pdf.render import render_version

    logo = LOGO.read_bytes()
    cases = [
        ("typical (8 items, logo)", typical(), args.samples, TYPICAL_MS, TYPICAL_BYTES),
        ("500 items", five_hundred(), args.long_samples, LONG_MS, None),
        ("closing, es (v3, history)", closing_es(), args.samples, None, None),
    ]
    print(f"\n{'case':28} {'pages':>5} {'median':>10} {'p99':>10} {'size':>10}   targets")
    failures = 0
    for name, doc, samples, ms_target, size_target in cases:
        times, data = measure(lambda doc=doc: render_version(doc, logo), samples, args.warmup)
        median = statistics.median(times)
        targets = []
        if ms_target is not None:
            targets.append(f"median < {ms_target:.0f} ms: {verdict(median < ms_target)}")
            failures += median >= ms_target
        if size_target is not None:
            targets.append(f"size < {size_target // 1000} KB: {verdict(len(data) < size_target)}")
            failures += len(data) >= size_target
        print(f"{name:28} {pages(data):>5} {median:>7.1f} ms {p99(times):>7.1f} ms {len(data) / 1000:>7.1f} KB   "
              f"{'; '.join(targets) or '-'}  ({samples} samples)")
    print("\nall targets met" if not failures else f"\n{failures} target(s) not met")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
