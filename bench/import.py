"""`service-orders catalog import` of a large file: rows per second and peak memory (the whole process), against
Python's csv module reading the same file and doing nothing else, in the same run.

Each size gets a generated file (a tenth clients, three tenths sites, a fifth services, two fifths materials;
a quarter of the sites come before their client, as files sorted by code do). Each run is a fresh process on a
fresh database: `service-orders init` (not timed), then the import, timed from its start to its exit, its
peak RSS from the kernel (VmHWM in /proc/PID/status, polled). The baseline is a process that reads the file
with csv.reader.
Target: 1,000,000 rows in at most 200 MB.

Run (from the project root):

  .venv/bin/python bench/import.py                                  # SQLite files in a temp dir (~2 min)
  .venv/bin/python bench/import.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/import_bench
  .venv/bin/python bench/import.py --rows 100000 --code /tmp/old    # another checkout's code (the before)

--database-url drops and recreates every table of that database before each run (as tests/conftest.py does).

`--orders 1000` times `service-orders orders import` instead: an .xlsx of that many orders (two items each) on
the sample catalog, on a fresh database; the import's wall time, orders per second and peak memory:

  .venv/bin/python bench/import.py --orders 1000
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "service-orders")
TARGET_MB = 200
TARGET_ROWS = 1_000_000
WORDS = ["Acme", "Peñalolén", "Ørsted", "Harbour", "North", "Łódź", "Service", "Obra", "Delta", "Nordic"]


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float


def generate(path: Path, rows: int, rng: random.Random) -> None:
    """`rows` catalog rows: per ten, one client, three sites (the first before its client), two services, four
    materials."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["kind", "code", "name", "unit", "unit_price", "parent", "address", "contact"])
        written = 0
        for group in range(rows // 10 + 1):
            client, words = f"CL-{group:07d}", " ".join(rng.sample(WORDS, 3))
            sites = [["site", f"{client}-S{n}", f"{words} site {n}", "", "", client,
                      f"{rng.randint(1, 999)} {rng.choice(WORDS)} Road, {rng.choice(WORDS)}", ""] for n in range(3)]
            block = [sites[0], ["client", client, f"{words} Ltd.", "", "", "", "", f"{rng.choice(WORDS)} Hopper"],
                     *sites[1:],
                     *(["service", f"SV-{group:07d}-{n}", f"{rng.choice(WORDS)} maintenance {n}", "h",
                        f"{rng.randint(20, 200)}.{rng.randint(0, 99):02d}", "", "", ""] for n in range(2)),
                     *(["material", f"MT-{group:07d}-{n}", f"{rng.choice(WORDS)} part {n} ({rng.randint(1, 50)} kg)",
                        rng.choice(["unit", "bag", "m", "roll"]), f"{rng.randint(0, 999)}.{rng.randint(0, 9999):04d}",
                        "", "", ""] for n in range(4))]
            for row in block[:rows - written]:
                out.writerow(row)
            written += min(len(block), rows - written)
            if written == rows:
                return


def measured(command: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run `command` to its end; its wall time and its peak RSS (VmHWM, polled every 10 ms). Not wait4's
    ru_maxrss: it counts this process's memory too, which a child shares until its exec."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, high_water_kb(process.pid))
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            output.seek(0)
            raise SystemExit(f"{' '.join(command[:4])} … failed ({process.returncode}):\n{output.read().decode()}")
    return Run(seconds, peak_kb / 1024)


def high_water_kb(pid: int) -> int:
    """The process's peak resident memory so far (0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def fresh_database(url: str | None, folder: Path, n: int) -> str:
    if not url:
        return f"sqlite:///{folder / f'import-{n}.db'}"
    from sqlalchemy import text
    from sqlmodel import SQLModel

    sys.path.insert(0, str(ROOT))
    from storage.db import make_engine

    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


def import_run(file: Path, url: str | None, folder: Path, n: int, code: Path | None) -> Run:
    env = {**os.environ, "DATABASE_URL": fresh_database(url, folder, n)}
    command = [CLI]
    if code:  # another checkout's code: its modules first on the path
        env["PYTHONPATH"] = str(code)
        command = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
    measured([*command, "init"], env, code or ROOT)
    return measured([*command, "catalog", "import", str(file)], env, code or ROOT)


def csv_run(file: Path) -> Run:
    reader = "import csv, sys\nfor _ in csv.reader(open(sys.argv[1], newline='', encoding='utf-8')): pass"
    return measured([sys.executable, "-c", reader, str(file)], dict(os.environ), ROOT)


def orders_file(path: Path, orders: int) -> None:
    """`orders` rows of the orders import's .xlsx on the sample catalog, each for ten days from now."""
    from datetime import date, timedelta

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["reference", "requester", "client", "site", "requested_date", "priority", "description", "items"])
    day = date.today() + timedelta(days=10)
    for n in range(orders):
        sheet.append([f"BENCH-{n:06d}", "U0REQ", "ACME", "ACME-HQ", day, "normal", f"Bench order {n}",
                      "HVAC-MNT x2; FLT-AIR x4"])
    book.save(path)


def orders_run(orders: int, url: str | None) -> int:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env = {**os.environ, "DATABASE_URL": fresh_database(url, tmp, 0)}
        measured([CLI, "catalog", "import", str(ROOT / "sandbox" / "sample" / "catalog.csv")], env, ROOT)
        measured([CLI, "roles", "grant", "U0REQ", "requester"], env, ROOT)
        file = tmp / "orders.xlsx"
        orders_file(file, orders)
        run = measured([CLI, "orders", "import", str(file)], env, ROOT)
        print(f"orders import of {orders:,} orders (.xlsx): {run.seconds:.2f} s, {orders / run.seconds:,.0f} "
              f"orders/s, peak {run.peak_mb:.0f} MB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,1000000", help="file sizes in rows, comma-separated")
    parser.add_argument("--runs", type=int, default=1, help="imports per size (the median is printed)")
    parser.add_argument("--database-url", help="a database of its own (all its tables are dropped before each run)")
    parser.add_argument("--code", type=Path, help="run the command from this checkout instead (e.g. an older commit)")
    parser.add_argument("--orders", type=int, help="time `orders import` of this many orders instead")
    args = parser.parse_args(argv)
    if args.orders:
        print(f"machine  : {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}")
        return orders_run(args.orders, args.database_url)
    sizes = [int(n) for n in args.rows.split(",")]
    print(f"machine  : {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}{f', code from {args.code}' if args.code else ''}")
    print(f"{'rows':>10}{'file MB':>9}  {'':<14}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}"
          f"{'time vs csv':>13}{'memory vs csv':>15}")
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for rows in sizes:
            file = tmp / f"catalog-{rows}.csv"
            generate(file, rows, random.Random(rows))
            runs = [import_run(file, args.database_url, tmp, n, args.code) for n in range(args.runs)]
            ours = Run(statistics.median(r.seconds for r in runs), max(r.peak_mb for r in runs))
            base = csv_run(file)
            size = f"{file.stat().st_size / 1e6:.1f}"
            print(f"{rows:>10,}{size:>9}  {'csv.reader':<14}{base.seconds:>9.2f}{rows / base.seconds:>10,.0f}"
                  f"{base.peak_mb:>9.0f}")
            print(f"{'':>19}  {'catalog import':<14}{ours.seconds:>9.2f}{rows / ours.seconds:>10,.0f}"
                  f"{ours.peak_mb:>9.0f}{ours.seconds / base.seconds:>12.1f}x{ours.peak_mb / base.peak_mb:>14.1f}x")
            if rows >= TARGET_ROWS:
                met = ours.peak_mb <= TARGET_MB
                ok &= met
                print(f"{'':>19}  target peak <= {TARGET_MB} MB at {rows:,} rows: {'MET' if met else 'NOT MET'}")
            file.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
