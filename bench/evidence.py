"""Photos and files on a form: what they cost the ack, and what reading one costs after it.

  ack          a confirmation's view_submission through the running bot (HTTP, signed, on loopback): the HTTP
               round trip of the ack, with no file and with 10 photos chosen (the ack checks what Slack reports
               of each, records its row and queues its read; it never downloads). Each sample is a new
               confirmation on the same order; the effects it queues are drained between samples, outside
               the time.
  read         bot/effects/fetch.examine on one camera photo (4000×3000 JPEG of noise, ~7 MB: the worst case
               under the 10 MB cap): Pillow's verify, the thumbnail (480 px) and the SHA-256, as the fetch_file
               effect does after the ack.

Median and p99 of each, and the ack's ratio with and without files, measured in the same run.

Run (from the project root):

  .venv/bin/python bench/evidence.py
  .venv/bin/python bench/evidence.py --samples 60 --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from bot.effects.fetch import examine  # noqa: E402
from sandbox.local import TEAM, LocalWorkspace  # noqa: E402
from storage.db import init_db, make_engine  # noqa: E402
from storage.scope import serving  # noqa: E402
from workflow.catalog import import_csv  # noqa: E402
from workflow.people import grant  # noqa: E402
from workflow.policy import ApprovalPolicy, ReapprovalThreshold  # noqa: E402
from workflow.vocabulary import Role  # noqa: E402

PEOPLE = {"U0REQ": "Rosa Requester", "U0SUP": "Sam Supervisor", "U0FW1": "Jürgen Müller"}


def camera_photo(size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A photo-like JPEG (noise compresses as badly as a real scene)."""
    image = Image.effect_noise(size, 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def small_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def figures(name: str, times: list[float]) -> float:
    times = sorted(times)
    median = statistics.median(times)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    print(f"{name:<28} median {median * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   n={len(times)}")
    return median


def bench_ack(url: str, samples: int) -> None:
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    init_db(engine)
    import_csv(engine, ROOT / "sandbox" / "sample" / "catalog.csv")
    grant(engine, "U0REQ", [Role.REQUESTER])
    grant(engine, "U0SUP", [Role.SUPERVISOR])
    grant(engine, "U0FW1", [Role.FIELD_WORKER])
    soon = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    policy = ApprovalPolicy(reapproval=ReapprovalThreshold())
    with LocalWorkspace(engine, PEOPLE, policy=policy) as ws:
        ws.submit_order("U0REQ", client="peñ", site="presidentes", items=[("hvac", "3")], requested=soon,
                        description="Bench")
        ws.settle()
        order_id = ws.latest_order_id()
        ws.approve("U0SUP", order_id, workers=["U0FW1"], scheduled=soon)
        ws.settle()
        photo = small_photo()
        runs: dict[str, list[float]] = {"ack, no file": [], "ack, 10 photos": []}
        for i in range(2 * samples + 4):
            files = [(f"p{i}-{n}.jpg", photo) for n in range(10)] if i % 2 else None
            ack = ws.confirm("U0FW1", order_id, changes=[("cement", str(2 + i % 5 + i))], note=f"Sample {i}",
                             files=files)
            assert ack.text == "", ack.text
            if i >= 4:  # the first rounds warm up
                runs["ack, 10 photos" if files else "ack, no file"].append(ack.elapsed)
            ws.settle(timeout=60)
    bare = figures("ack, no file", runs["ack, no file"])
    with_files = figures("ack, 10 photos", runs["ack, 10 photos"])
    print(f"{'ratio (10 photos / none)':<28} {with_files / bare:.2f}")
    engine.dispose()


def bench_read(samples: int) -> None:
    content = camera_photo()
    print(f"camera photo: {len(content) / 2**20:.1f} MB")
    examine(content, "image/jpeg")  # warm-up: Pillow's plugins
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        read = examine(content, "image/jpeg")
        times.append(time.perf_counter() - start)
        assert read.reason is None and read.thumbnail
    figures("read one photo", times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--database-url", help="drops and recreates every table (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench_ack(args.database_url or f"sqlite:///{folder}/bench.db", args.samples)
    bench_read(args.samples)


if __name__ == "__main__":
    with serving(TEAM):  # what it seeds and reads is the fake workspace's
        main()
