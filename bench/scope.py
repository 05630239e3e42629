"""What scoping every ORM statement to one workspace costs (storage/scope.py: a with_loader_criteria option per
scoped table, added to each select, update and delete).

Two workspaces share the database, each with the sample catalog, its people and --orders orders. Each read below
runs --samples times inside `serving(team)` and, as the baseline in the same run, inside `everywhere()`, where
the hook adds nothing (the same rows come back: each read names one workspace's order or person).

  card     workflow.queries.order_card: the order, its client and site names, its version and totals
  roles    workflow.service.roles_of: one person's roles
  submit   OrderService.submit, a whole step (its reads and writes), in the served workspace only: no baseline
           (`everywhere()` refuses new rows), shown for scale

Run (from the project root):

  .venv/bin/python bench/scope.py                 # SQLite in a temp dir (~20 s)
  .venv/bin/python bench/scope.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/scope_bench

--database-url drops and recreates every table of that database (as tests/conftest.py does).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, SQLModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import Stats  # noqa: E402
from storage.db import init_db, make_engine  # noqa: E402
from storage.scope import everywhere, serving  # noqa: E402
from workflow.catalog import import_csv  # noqa: E402
from workflow.inputs import ItemQuantity, OrderDraft  # noqa: E402
from workflow.people import grant  # noqa: E402
from workflow.queries import order_card  # noqa: E402
from workflow.service import OrderService, roles_of  # noqa: E402
from workflow.vocabulary import Role  # noqa: E402

CATALOG = Path(__file__).resolve().parents[1] / "sandbox" / "sample" / "catalog.csv"
TEAMS = ("T0BENCH1", "T0BENCH2")
REQUESTER = "U0REQ"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def draft(n: int) -> OrderDraft:
    return OrderDraft(client_code="ACME", site_code="ACME-HQ", requested_date=(NOW + timedelta(days=2)).date(),
                      priority="normal", description=f"Job {n}",
                      items=(ItemQuantity("service:HVAC-MNT", Decimal(2), 0),), free_items=())


def timed(samples: int, read: Callable[[], object]) -> Stats:
    read()  # the first run compiles and caches the statements
    seconds = []
    for _ in range(samples):
        start = time.perf_counter()
        read()
        seconds.append(time.perf_counter() - start)
    return Stats.of(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per workspace (default 200)")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(args.database_url or f"sqlite:///{folder}/scope.db")
        if args.database_url:
            SQLModel.metadata.drop_all(engine)
        init_db(engine)
        services, orders = {}, {}
        for team in TEAMS:
            with serving(team):
                import_csv(engine, CATALOG)
                grant(engine, REQUESTER, [Role.REQUESTER])
                services[team] = OrderService(engine, clock=lambda: NOW)
                orders[team] = [services[team].submit(REQUESTER, draft(n)).id for n in range(args.orders)]
        team, order = TEAMS[1], orders[TEAMS[1]][args.orders // 2]

        def card() -> object:
            with Session(engine) as session:
                return order_card(session, order)

        def roles() -> object:
            with Session(engine) as session:
                return roles_of(session, REQUESTER)

        print(f"{engine.dialect.name}, Python {platform.python_version()}, {args.orders} orders in each of "
              f"{len(TEAMS)} workspaces, {args.samples} samples")
        print(f"{'read':<8} {'scoped median':>14} {'p99':>8} {'baseline median':>16} {'p99':>8} {'ratio':>6}")
        for name, read in (("card", card), ("roles", roles)):
            with serving(team):
                scoped = timed(args.samples, read)
            with everywhere():
                bare = timed(args.samples, read)
            print(f"{name:<8} {scoped.median:>11.3f} ms {scoped.p99:>5.3f} ms {bare.median:>13.3f} ms "
                  f"{bare.p99:>5.3f} ms {scoped.median / bare.median:>5.2f}×")
        with serving(team):
            step = timed(min(args.samples, 200), lambda: services[team].submit(REQUESTER, draft(0)))
        print(f"{'submit':<8} {step.median:>11.3f} ms {step.p99:>5.3f} ms {'(no baseline)':>16}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
