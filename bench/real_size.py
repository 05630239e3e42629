"""Real size: the catalog pickers' typeahead and App Home with 100,000 orders, 100,000 catalog items and
20,000 sites (issue 19).

  typeahead  the options requests (block_suggestion) of the new-order form's three pickers (client, site of
             the client picked, item), as Slack sends them while a person types: recorded from the real form
             (opened with /order), then signed and sent over HTTP into the running bot (bot.app.build_bot behind
             bot.server.HttpServer, as sandbox.local.LocalWorkspace runs it), one client, back to back; the round
             trip is timed. Words with and without accents, in capitals, one and two letters, nothing typed (the
             picker opening) and a word nothing has. Baseline: the same requests in the same run against a
             catalog of --base-items items, --base-sites sites.
  home       `bot.home.render_home` (what `app_home_opened` and the `home` effect publish) for a coordinator
             to whose clients --home-open open orders are routed. Baseline in the same database: a coordinator
             with about 10; for scale, an admin, who sees every order.

The orders are bench/ack_latency.py's real-looking histories (versions, lines, crews, audit, done effects),
bulk-inserted, spread over the catalog's sites; the catalog is a generated CSV file (Spanish names with
accents, as a Chilean provider's) imported with `service-orders catalog import`'s code. Every client names one
coordinator (routing), so each coordinator sees their clients' orders only.

Run (from the project root):

  .venv/bin/python bench/real_size.py                     # SQLite files in a temp dir (~3 min)
  .venv/bin/python bench/real_size.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/real_size

--database-url drops and recreates every table of that database (as tests/conftest.py does), once per phase.
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ack_latency import PEOPLE, REQUESTER, Client, Payload, PayloadRecorder, seed  # bench/, beside this script
from sqlalchemy import Engine, insert, text
from stats import Stats
from tracking import fresh_database  # bench/, beside this script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: sandbox/ is not installed

from bot.home import render_home
from bot.server import EVENTS_PATH
from sandbox.local import SIGNING_SECRET, TEAM, LocalWorkspace
from sandbox.slackfake.inbound import InboundResult
from storage.db import make_engine, refresh_statistics
from storage.models import RoleGrant, Routing
from storage.scope import serving
from workflow.catalog import import_csv
from workflow.overview import OPEN_STATES
from workflow.vocabulary import Role

TIMEZONE = "America/Santiago"
TARGET_TYPEAHEAD_P99_MS = 50.0
TARGET_HOME_P99_MS = 100.0
# coordinators: the one with --home-open open orders, the baseline's, and the one every other client names
BIG, SMALL, REST, ADMIN = "U0CORBIG", "U0CORSML", "U0CORRST", "U0ADMIN"
STAFF = {BIG: "Carla Coordinadora", SMALL: "Cristóbal Coordinador", REST: "Coordinación General",
         ADMIN: "Adela Admin"}

# --- the catalog ------------------------------------------------------------------------------------------

COMUNAS = ["Peñalolén", "Ñuñoa", "Maipú", "Las Condes", "Providencia", "Concepción", "Valparaíso", "Viña del Mar",
           "Temuco", "Puerto Montt", "Chillán", "Curicó", "Rancagua", "Antofagasta", "Calama", "La Florida",
           "Conchalí", "Quilicura", "Estación Central", "San Joaquín", "Puente Alto", "Talcahuano", "Los Ángeles"]
FIRMS = ["Constructora", "Inmobiliaria", "Servicios", "Ingeniería", "Montajes", "Comercial", "Transportes"]
SUFFIXES = ["S.A.", "Ltda.", "SpA", "E.I.R.L."]
SURNAMES = ["Muñoz", "González", "Rodríguez", "Núñez", "Peña", "Fernández", "Pérez", "Sepúlveda", "Araya",
            "Jiménez", "Gutiérrez", "Ibáñez", "Echeverría", "Müller", "Ørsted", "O'Higgins"]
PLACES = ["Obra", "Bodega", "Edificio", "Planta", "Oficina", "Condominio", "Centro de distribución"]
STREETS = ["Av. Grecia", "Av. José Pedro Alessandri", "Camino a Melipilla", "Av. Los Presidentes", "Calle Ñandú",
           "Av. Libertador Bernardo O'Higgins", "Pasaje Los Aromos", "Av. Vicuña Mackenna", "Calle Pío Nono"]
MATERIALS = ["Válvula de bola", "Tubería PVC", "Cañería de cobre", "Cable eléctrico", "Filtro de aire",
             "Cemento", "Ladrillo fiscal", "Pintura látex", "Tornillo autoperforante", "Codo PVC",
             "Interruptor termomagnético", "Luminaria LED", "Canaleta", "Aislación térmica", "Membrana asfáltica",
             "Cerámica de piso", "Yeso cartón", "Perfil metálico", "Fierro estriado", "Silicona neutra"]
GRADES = ["clase 10", "tipo L", "alta presión", "galvanizado", "inoxidable", "antióxido", "reforzado", "estándar"]
SIZES = ['1/2"', '3/4"', "20 mm", "110 mm", "2,5 mm²", "25 kg", "4 m", "15 A", "60×60 cm", "1 galón"]
SERVICES = ["Mantención preventiva HVAC", "Instalación eléctrica", "Reparación de gasfitería", "Soldadura",
            "Excavación", "Demolición", "Operación de grúa", "Limpieza de ductos", "Impermeabilización",
            "Revisión de tableros", "Pintura de fachada", "Poda y jardinería"]


@dataclass(frozen=True)
class CatalogSize:
    clients: int
    sites: int
    items: int

    @classmethod
    def of(cls, sites: int, items: int) -> CatalogSize:
        return cls(max(1, sites // 10), sites, items)  # ten sites a client


def write_catalog(path: Path, size: CatalogSize, rng: random.Random) -> None:
    """The catalog as a CSV file the import reads: clients, their sites, services (a fifth) and materials."""
    with path.open("w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out)
        rows.writerow(["kind", "code", "name", "unit", "unit_price", "parent", "address", "contact"])
        for n in range(size.clients):
            firm = FIRMS[0] if n == 0 else rng.choice(FIRMS)  # a "Constructora" at any size: the form picks one
            rows.writerow(["client", f"CL{n:05d}", f"{firm} {rng.choice(SURNAMES)} "
                           f"{rng.choice(COMUNAS)} {rng.choice(SUFFIXES)}", "", "", "", "",
                           f"{rng.choice(SURNAMES)} (jefe de obra)"])
        for n in range(size.sites):
            street, comuna = f"{rng.choice(STREETS)} {rng.randint(10, 9999)}", rng.choice(COMUNAS)
            rows.writerow(["site", f"ST{n:06d}", f"{rng.choice(PLACES)} {street}, {comuna}", "", "",
                           f"CL{n % size.clients:05d}", f"{street}, {comuna}, Chile", ""])
        for n in range(size.items):
            if n % 5 == 0:
                kind, name, unit = "service", f"{rng.choice(SERVICES)} {rng.choice(COMUNAS)}", "h"
            else:
                kind, name, unit = ("material", f"{rng.choice(MATERIALS)} {rng.choice(GRADES)} {rng.choice(SIZES)}",
                                    "unidad")
            rows.writerow([kind, f"{kind[:2].upper()}{n:06d}", name, unit, f"{rng.randint(100, 500_000) / 100:.2f}",
                           "", "", ""])


# --- the databases --------------------------------------------------------------------------------------


def route(engine: Engine, orders: list[dict[str, Any]], clients: int, home_open: int) -> dict[str, int]:
    """Name one coordinator per client: BIG's clients add up to `home_open` open orders or just past it, SMALL's
    one client has the open orders nearest 10, REST has every other client. Returns each one's open orders."""
    open_by_client = Counter(o["client_code"] for o in orders if o["state"] in OPEN_STATES)
    codes = [f"CL{n:05d}" for n in range(clients)]
    small = min(codes, key=lambda c: abs(open_by_client[c] - 10))
    owner: dict[str, str] = {small: SMALL}
    big = 0
    for code in codes:
        if code != small and big < home_open:
            owner[code], big = BIG, big + open_by_client[code]
    seen = Counter[str]()
    for code in codes:
        seen[owner.setdefault(code, REST)] += open_by_client[code]
    with engine.begin() as connection:
        connection.execute(insert(RoleGrant), [{"user_id": u, "role": Role.COORDINATOR.value}
                                               for u in (BIG, SMALL, REST)] + [{"user_id": ADMIN, "role": "admin"}])
        connection.execute(insert(Routing), [{"kind": "client", "code": c, "role": Role.COORDINATOR.value,
                                              "user_id": u} for c, u in owner.items()])
    return {BIG: seen[BIG], SMALL: seen[SMALL], ADMIN: sum(open_by_client.values())}


def statistics(engine: Engine) -> None:
    """The query planner's statistics, as the running bot keeps them (SQLite: storage.db.refresh_statistics at
    start and every few hours) and PostgreSQL's autovacuum soon after such a load (its VACUUM also marks the
    pages all-visible, so index-only scans need not visit the table)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    refresh_statistics(engine)


# --- typeahead: options requests recorded from the real form, signed and sent --------------------------


class OptionsRecorder(PayloadRecorder):
    """Keeps the request instead of sending it, answering as a bot with no options would."""

    def post(self, raw_body: bytes, content_type: str = "application/json", signed: bool = True,
             timestamp: int | None = None, headers: dict[str, str] | None = None) -> InboundResult:
        self.recorded = Payload(raw_body, content_type)
        return InboundResult(200, {}, '{"options": []}', 0.0)


# what a person types into each picker; the sites' are typed once a client is picked
CLIENT_WORDS = ["constructora", "penalolen", "PEÑA", "nunoa", "Sepúlveda", "ltda"]
SITE_WORDS = ["", "obra", "av", "maipu"]
ITEM_WORDS = ["", "c", "ca", "cable", "valvula", "VÁLVULA bola", "tuberia pvc 110", "cañeria", "cemento 25",
              "filtro f7", "mantencion hvac penalolen", "zzzz"]


@dataclass(frozen=True)
class Query:
    picker: str  # block id
    typed: str
    payload: Payload

    @property
    def label(self) -> str:
        return f"{self.picker} '{self.typed}'"


def record_queries(ws: LocalWorkspace) -> list[Query]:
    ack = ws.slack.command(REQUESTER, "/order")
    assert ack.status == 200 and not ack.text, ack.text
    view = ws.wait_for_view(REQUESTER, "submit_order")
    ws.pick(REQUESTER, view, "client", "constructora")  # the site picker lists that client's sites
    recorder = OptionsRecorder(ws.slack.bot_url, SIGNING_SECRET, ws.fake)
    asked = [("client", "client", w) for w in CLIENT_WORDS] + [("site", "site", w) for w in SITE_WORDS] + [
        ("item_0", "line_item", w) for w in ITEM_WORDS]
    queries = []
    for block, action, typed in asked:
        recorder.suggest(REQUESTER, view, action, block, typed)
        queries.append(Query(block, typed, recorder.recorded))
    return queries


def send(client: Client, payload: Payload) -> tuple[float, int]:
    """One signed options request: the seconds to the whole answer, and how many options it had."""
    headers = client.headers(payload)
    start = time.perf_counter()
    client.connection.request("POST", EVENTS_PATH, body=payload.body, headers=headers)
    response = client.connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200 or b'"options"' not in body:
        raise SystemExit(f"{payload.body[:80]!r}: expected options, got HTTP {response.status}: {body[:300]!r}")
    return elapsed, body.count(b'"value"')


@dataclass
class Typeahead:
    all: Stats
    per_query: dict[str, tuple[Stats, int]]  # label: (stats, options answered)


def measure_typeahead(ws: LocalWorkspace, rounds: int, warmup: int) -> Typeahead:
    queries = record_queries(ws)
    client = Client(urlsplit(ws.url).port or 0, fresh_connections=False)
    kept: dict[str, list[float]] = {q.label: [] for q in queries}
    found: dict[str, int] = {}
    try:
        for n in range(warmup + rounds):
            for query in queries:
                seconds, found[query.label] = send(client, query.payload)
                if n >= warmup:
                    kept[query.label].append(seconds)
    finally:
        client.connection.close()
    every = list(itertools.chain.from_iterable(kept.values()))
    return Typeahead(Stats.of(every), {label: (Stats.of(s), found[label]) for label, s in kept.items()})


# --- App Home ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Home:
    open_orders: int
    wall: Stats
    cpu: Stats  # this thread's CPU time (SQLite's work included): what a busy machine's queue leaves out


def measure_home(engine: Engine, user: str, open_orders: int, samples: int, warmup: int = 3) -> Home:
    now = datetime.now(UTC)
    view = render_home(engine, user, now, TIMEZONE)
    assert len(view["blocks"]) <= 100, len(view["blocks"])
    wall, cpu = [], []
    for n in range(warmup + samples):
        start, start_cpu = time.perf_counter(), time.thread_time()
        render_home(engine, user, now, TIMEZONE)
        if n >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
    return Home(open_orders, Stats.of(wall), Stats.of(cpu))


# --- the run ----------------------------------------------------------------------------------------------


def phase(url: str | None, tmp: Path, name: str, size: CatalogSize, orders: int, args: argparse.Namespace,
          ) -> tuple[Typeahead, dict[str, Home]]:
    """One database: the catalog, the orders and their routing; then typeahead through the bot and App Home."""
    engine = fresh_database(url, tmp / f"{name}.db")
    catalog = tmp / f"{name}.csv"
    write_catalog(catalog, size, random.Random(19))
    start = time.perf_counter()
    import_csv(engine, catalog)
    print(f"{name:<10}: catalog of {size.clients:,} clients, {size.sites:,} sites, {size.items:,} items imported "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
    homes: dict[str, Home] = {}
    statistics(engine)
    if not orders:  # the one who types
        with engine.begin() as connection:
            connection.execute(insert(RoleGrant), [{"user_id": REQUESTER, "role": Role.REQUESTER.value}])
    else:
        rows, seconds = seed(engine, orders)
        seen = route(engine, rows.orders, size.clients, args.home_open)
        print(f"{'':<10}  {len(rows.orders):,} orders ({len(rows.versions):,} versions, {len(rows.lines):,} lines, "
              f"{len(rows.audits):,} audit events, {len(rows.effects):,} done effects) in {seconds:.1f} s", flush=True)
        del rows
        gc.collect()
        statistics(engine)
        for user in (SMALL, BIG, ADMIN):
            homes[user] = measure_home(engine, user, seen[user], args.home_samples)
    with LocalWorkspace(engine, {**PEOPLE, **STAFF}) as ws:
        typeahead = measure_typeahead(ws, args.rounds, args.warmup)
    engine.dispose()
    print(f"{'':<10}  measured", flush=True)
    return typeahead, homes


def print_typeahead(base: Typeahead, big: Typeahead, base_size: CatalogSize, size: CatalogSize) -> bool:
    print("\nTypeahead: options requests through the bot over HTTP, round trip (ms); options answered")
    print(f"{'picker, typed':<36}{'base median':>12}{'p99':>8}{'found':>7}{'real median':>13}{'p99':>8}{'found':>7}")
    for label, (stats, found) in big.per_query.items():
        b, b_found = base.per_query[label]
        print(f"{label:<36}{b.median:>12.1f}{b.p99:>8.1f}{b_found:>7}{stats.median:>13.1f}{stats.p99:>8.1f}{found:>7}")
    print(f"{'every request':<36}{base.all.median:>12.1f}{base.all.p99:>8.1f}{'':>7}"
          f"{big.all.median:>13.1f}{big.all.p99:>8.1f}")
    print(f"base: {base_size.items:,} items, {base_size.sites:,} sites; real: {size.items:,} items, "
          f"{size.sites:,} sites; ratio (median) {big.all.median / base.all.median:.2f}x, "
          f"(p99) {big.all.p99 / base.all.p99:.2f}x")
    met = big.all.p99 <= TARGET_TYPEAHEAD_P99_MS
    print(f"target p99 <= {TARGET_TYPEAHEAD_P99_MS:g} ms: {'MET' if met else 'NOT MET'} ({big.all.p99:.1f} ms)")
    return met


def print_home(homes: dict[str, Home], orders: int, samples: int) -> bool:
    print(f"\nApp Home: bot.home.render_home, {samples} renders each, {orders:,} orders in the database (ms)")
    print(f"{'who':<44}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}{'cpu median':>12}{'cpu p99':>9}")
    labels = {SMALL: "coordinator with {n:,} open orders (baseline)", BIG: "coordinator with {n:,} open orders",
              ADMIN: "admin, every order ({n:,} open)"}
    for user in (SMALL, BIG, ADMIN):
        h = homes[user]
        print(f"{labels[user].format(n=h.open_orders):<44}{h.wall.median:>9.1f}{h.wall.p90:>9.1f}{h.wall.p99:>9.1f}"
              f"{h.wall.max:>9.1f}{h.cpu.median:>12.1f}{h.cpu.p99:>9.1f}")
    big, small = homes[BIG].wall, homes[SMALL].wall
    print(f"ratio (median): {big.median / small.median:.2f}x the baseline")
    met = big.p99 <= TARGET_HOME_P99_MS
    print(f"target p99 <= {TARGET_HOME_P99_MS:g} ms: {'MET' if met else 'NOT MET'} ({big.p99:.1f} ms)")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders (default 100000)")
    parser.add_argument("--items", type=int, default=100_000, help="services and materials (default 100000)")
    parser.add_argument("--sites", type=int, default=20_000, help="sites, ten per client (default 20000)")
    parser.add_argument("--home-open", type=int, default=5_000, help="open orders of the coordinator measured")
    parser.add_argument("--base-items", type=int, default=1_000, help="the baseline catalog's items (1000)")
    parser.add_argument("--base-sites", type=int, default=200, help="the baseline catalog's sites (200)")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds of every typeahead request (20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (2)")
    parser.add_argument("--home-samples", type=int, default=200, help="timed App Home renders per person (200)")
    parser.add_argument("--database-url", help="a database of its own (all its tables are dropped)")
    args = parser.parse_args(argv)
    if min(args.orders, args.items, args.sites, args.base_items, args.base_sites, args.rounds, args.home_samples) < 1:
        parser.error("every count must be at least 1")
    size = CatalogSize.of(args.sites, args.items)
    base_size = CatalogSize.of(args.base_sites, args.base_items)
    with tempfile.TemporaryDirectory(prefix="real-size-") as folder:
        tmp = Path(folder)
        logging.basicConfig(level=logging.INFO, filename=tmp / "bot.log",
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        engine = make_engine(args.database_url or f"sqlite:///{tmp / 'probe.db'}")
        version = ".".join(map(str, engine.dialect.server_version_info or ())) if args.database_url else ""
        print(f"Real size · {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs, {platform.machine()}, "
              f"Python {platform.python_version()}, {engine.dialect.name} {version}".rstrip(), flush=True)
        engine.dispose()
        base, _ = phase(args.database_url, tmp, "baseline", base_size, 0, args)
        big, homes = phase(args.database_url, tmp, "real size", size, args.orders, args)
    ok = print_typeahead(base, big, base_size, size)
    ok &= print_home(homes, args.orders, args.home_samples)
    return 0 if ok else 1


if __name__ == "__main__":
    with serving(TEAM):  # what it seeds and reads is the fake workspace's
        sys.exit(main())
