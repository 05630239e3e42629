"""Load: many orders from concurrent clients against two bot processes on PostgreSQL, with Slack failing or not.

Issue 4's benchmark. Two real bot processes (`service-orders run --http`, started as tests/test_processes.py
starts them) share one PostgreSQL database, as behind a load balancer, and make their Web API calls to a
FakeSlack (slackfake) running in this process. --clients threads (20) each act as one requester and one
supervisor with a SlackDriver of their own, client n talking to bot n % 2, and between them submit --orders
orders (200), back to back, the way a person does: `/order`, wait for the modal the bot opens, type into the
catalog pickers (each a block_suggestion options request), submit the form (view_submission). Then, unless
--skip-approve, each client waits for each of its orders' card to be posted, clicks Approve on it
(block_actions), waits for the approve form and submits it, so every order also gets its version 1 PDF.
The person's side is sandbox.local.LocalWorkspace's (submit_order, approve), so the payloads are SlackDriver's.

It measures, per run:

  acks/s          every request the clients sent, divided by the seconds from the first one to the last ack
  ack latency     each request's HTTP round trip (signed request out, whole answer read), timed with
                  time.perf_counter around SlackDriver.post: median, p90, p99 and max per request kind
                  (/order command, options request, submit_order form, order_approve click, approve form)
  drain           seconds from the last ack until the database shows no pending effect (polled every 50 ms)
  lost, repeated  after the drain (and a 2 s grace for a late duplicate), each order is checked in the fake:
                  exactly one channel named so-NNNNNN…, the requester, the supervisors and the assigned field
                  worker in it, one card, one message per message effect, one PDF per issued version (and no
                  upload completed twice); every PendingEffect done; orders, versions and audit events as many
                  as the acked submissions and approvals. Anything missing counts as lost, anything extra as
                  repeated.

It does this twice: run 1 with a healthy Slack, run 2 with `FakeSlack.chaos(--failure-rate, seed=--seed,
kinds=--chaos-kinds)`, by default 30 % of the bots' Web API calls (the upload leg included) failing as "500",
"429" or "drop", before the fake acts on them. The fake can only fail Web API calls, not the requests Slack
sends the bot. Each run starts from fresh tables, a fresh fake and fresh bot processes (EFFECT_RETRY_SECONDS=1).
Before the clock starts (and before Slack starts failing), each client sends --warmup untimed `/order help`
commands, so a new process's first requests (Bolt's auth.test, which runs inside the first ack) are not timed;
--warmup 0 times a cold start.

Targets (issue 4): p99 ack under 250 ms for every request kind, and no effect lost or repeated, in both runs.
The exit status is 1 if one is not met, or if a client had to stop, or an ack took over 3 s, was not a 200,
or carried a message where the form should have opened or closed.

The clients, the fake and the bots share the machine's CPUs; each run prints how busy they were and what each
process used. The fake is a LeanFake (below): FakeSlack whose `views` and `channels` copy only what is read,
so the clients' polling for modals does not eat the CPU the bots need.

Run (from the project root, PostgreSQL on 127.0.0.1:5432):

  psql -h 127.0.0.1 -U postgres -c 'create database load_bench'     # once
  .venv/bin/python bench/load.py                                     # 200 orders, 20 clients, both runs
  .venv/bin/python bench/load.py --orders 40 --clients 8 --failure-rate 0 --skip-approve

--database-url drops every table of that database and recreates ours (as tests/conftest.py does), before each
run.
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO, TypeVar
from urllib.parse import parse_qs

from sqlalchemy import Engine, MetaData, func
from sqlmodel import Session, SQLModel, select
from stats import Stats  # bench/stats.py, beside this script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: sandbox/ is not installed

from sandbox.local import TEAM, LocalWorkspace, manifest_scopes
from sandbox.slackfake.inbound import ACK_TIMEOUT, InboundResult, SlackDriver
from sandbox.slackfake.server import FakeSlack
from sandbox.slackfake.state import Channel, User
from storage.db import init_db, make_engine
from storage.models import AuditEvent, OrderVersion, PendingEffect, ServiceOrder
from storage.scope import serving
from workflow.catalog import import_csv
from workflow.people import grant
from workflow.vocabulary import Role, order_number

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CATALOG = ROOT / "sandbox" / "sample" / "catalog.csv"
CLI = str(Path(sys.executable).parent / "service-orders")
SECRET = "load-bench-secret"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/load_bench"
CHAOS_KINDS = ("500", "429", "drop")
TARGET_P99_MS = 250.0
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()

# what the requesters type into the pickers: (client, site), taken in turn; two catalog items each order
CLIENT_SITES = [("acme", "hq"), ("pena", "presidentes"), ("orst", "substation")]
ITEMS = [("hvac", "2"), ("cement", "3")]
WORKER = "U0FW01"  # the field worker every approval assigns
KIND_ORDER = ["/order command", "options request", "submit_order form", "order_approve click", "approve form"]
CHANNEL_NUMBER = re.compile(r"^so-(\d{6})(?:-|$)")
SLOWEST = 5  # the slowest acks listed per run
T = TypeVar("T")


def requester(n: int) -> str:
    return f"U0RQ{n + 1:02d}"


def supervisor(n: int) -> str:
    return f"U0SV{n + 1:02d}"


# --- timed requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    body: bytes  # the request, classified after the run (parsing it on the clock costs the bots CPU)
    start: float  # time.perf_counter() when the request went out
    seconds: float
    status: int
    bot: int  # which bot process (1, 2)
    text: str  # the ack's body (the first 200 characters)

    @cached_property
    def kind(self) -> str:
        return request_kind(self.body)


class TimedDriver(SlackDriver):
    """SlackDriver that times every request it sends (its payloads unchanged) and records it by kind."""

    def __init__(self, bot_url: str, fake: FakeSlack, bot: int) -> None:
        super().__init__(bot_url, SECRET, fake)
        self.bot = bot
        self.acks: list[Ack] = []

    def post(self, raw_body: bytes, content_type: str = "application/json", signed: bool = True,
             timestamp: int | None = None, headers: dict[str, str] | None = None) -> InboundResult:
        start = time.perf_counter()
        result = super().post(raw_body, content_type, signed, timestamp, headers)
        seconds = time.perf_counter() - start
        self.acks.append(Ack(raw_body, start, seconds, result.status, self.bot, result.text[:200]))
        return result


def request_kind(body: bytes) -> str:
    """'/order command', 'options request', '<callback_id> form' or '<action_id> click'."""
    fields = parse_qs(body.decode())
    if "payload" not in fields:
        return f"{fields.get('command', ['?'])[0]} command"
    payload = json.loads(fields["payload"][0])
    kind = payload.get("type")
    if kind == "block_suggestion":
        return "options request"
    if kind == "view_submission":
        return f"{payload['view'].get('callback_id')} form"
    if kind == "block_actions":
        return f"{payload['actions'][0].get('action_id')} click"
    return str(kind)


class CopyOnRead(Mapping[str, T]):
    """One of the fake's dicts, read-only, copying only the entries read (under the fake's lock)."""

    def __init__(self, lock: threading.RLock, source: dict[str, T]) -> None:
        self.lock, self.source = lock, source

    def __getitem__(self, key: str) -> T:
        with self.lock:
            return copy.deepcopy(self.source[key])

    def __iter__(self) -> Iterator[str]:
        with self.lock:
            return iter(list(self.source))

    def __len__(self) -> int:
        with self.lock:
            return len(self.source)


class LeanFake(FakeSlack):
    """FakeSlack whose `views` and `channels` copy only what is read. FakeSlack's own copy every view or
    every channel (with its messages) on each read, and SlackDriver and LocalWorkspace read one per request
    and poll for a modal every 20 ms: with 20 clients and a few hundred orders those copies took most of
    this process's CPU, which the bots share (and the GIL, which the timing threads wait for)."""

    @property
    def views(self) -> Mapping[str, dict[str, Any]]:  # type: ignore[override]
        return CopyOnRead(self._lock, self._ws.views)

    @property
    def channels(self) -> Mapping[str, Channel]:  # type: ignore[override]
        return CopyOnRead(self._lock, self._ws.channels)

    @property
    def users(self) -> Mapping[str, User]:  # type: ignore[override]
        return CopyOnRead(self._lock, self._ws.users)


class Person(LocalWorkspace):
    """LocalWorkspace's way of acting as a person in Slack (open a form, type into its pickers, submit it;
    click a card's button), with a driver of its own aimed at one bot process. It starts no bot and no
    fake: only the person's side of LocalWorkspace is used."""

    def __init__(self, engine: Engine, fake: FakeSlack, driver: TimedDriver) -> None:
        self.engine, self.fake, self.slack = engine, fake, driver


# --- the clients -------------------------------------------------------------------------------------------


@dataclass
class ClientResult:
    acks: list[Ack] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)  # ids of the orders its acked submissions stored
    approved: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def stored_order(engine: Engine, view_id: str) -> int:
    with Session(engine) as session:
        order_id = session.exec(select(ServiceOrder.id).where(ServiceOrder.submitted_view_id == view_id)).first()
    if order_id is None:
        raise LookupError(f"the submission of view {view_id} was acked but stored no order")
    return order_id


def wait_for_card(engine: Engine, order_id: int, timeout: float) -> None:
    """Until the order's card is posted and recorded (the click is on it), polling the database every 0.2 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if session.exec(select(ServiceOrder.card_ts).where(ServiceOrder.id == order_id)).first():
                return
        time.sleep(0.2)
    raise TimeoutError(f"{order_number(order_id)} had no card after {timeout:g} s")


def run_client(index: int, person: Person, count: int, approve: bool, card_timeout: float,
               start: threading.Barrier, result: ClientResult) -> None:
    start.wait()
    try:
        for n in range(count):
            client, site = CLIENT_SITES[(index + n) % len(CLIENT_SITES)]
            answer = person.submit_order(requester(index), client=client, site=site, items=ITEMS, requested=SOON,
                                         description=f"Load test: order {n + 1} of client {index + 1}")
            if answer.status != 200 or answer.text:
                result.problems.append(f"client {index + 1}: submission answered HTTP {answer.status} "
                                       f"{answer.text[:200]!r}")
                continue
            assert answer.sent is not None
            result.orders.append(stored_order(person.engine, answer.sent["view"]["id"]))
        if approve:
            for order_id in result.orders:
                wait_for_card(person.engine, order_id, card_timeout)
                answer = person.approve(supervisor(index), order_id, workers=[WORKER], scheduled=SOON)
                if answer.status != 200 or answer.text:
                    result.problems.append(f"client {index + 1}: approval of {order_number(order_id)} answered "
                                           f"HTTP {answer.status} {answer.text[:200]!r}")
                    continue
                result.approved.append(order_id)
    except Exception as error:  # this client stops; the others go on, and the run says so
        result.problems.append(f"client {index + 1}: {type(error).__name__}: {error}")
    finally:
        assert isinstance(person.slack, TimedDriver)
        result.acks = person.slack.acks


def shares(orders: int, clients: int) -> list[int]:
    return [orders // clients + (1 if n < orders % clients else 0) for n in range(clients)]


# --- the database, the fake and the bot processes -----------------------------------------------------------


def seed(url: str, clients: int) -> Engine:
    """Fresh tables (dropped and recreated, as tests/conftest.py does), the sample catalog, the people. Every
    table the database has is dropped, not only ours: a schema-version table too."""
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    everything = MetaData()
    everything.reflect(engine)
    everything.drop_all(engine)
    init_db(engine)
    import_csv(engine, SAMPLE_CATALOG)
    for n in range(clients):
        grant(engine, requester(n), [Role.REQUESTER])
        grant(engine, supervisor(n), [Role.SUPERVISOR])
    grant(engine, WORKER, [Role.FIELD_WORKER])
    return engine


def people(clients: int) -> dict[str, str]:
    found = {requester(n): f"Requester {n + 1:02d}" for n in range(clients)}
    found |= {supervisor(n): f"Supervisor {n + 1:02d}" for n in range(clients)}
    return found | {WORKER: "Jürgen Müller"}


def start_fake(clients: int) -> FakeSlack:
    """The fake with the people and #general, as tests/test_processes.py sets it up; it grants the bot the
    scopes manifest.yml asks for, as LocalWorkspace does."""
    fake = LeanFake(scopes=manifest_scopes()).start()
    for user, name in people(clients).items():
        fake.add_user(user, name.lower().replace(" ", ""), real_name=name)
    fake.add_channel("general", members=list(people(clients)))
    return fake


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotProcess:
    port: int
    process: subprocess.Popen[str]
    log_path: Path
    log: TextIO

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"


@contextmanager
def bot_processes(url: str, fake: FakeSlack, log_dir: Path, run: int, count: int = 2,
                  settings: Mapping[str, str] | None = None, secret: str = SECRET,
                  worker: bool = False) -> Iterator[list[BotProcess]]:
    """`service-orders run --http` processes on one database, as tests/test_processes.py starts them; their
    output (INFO logs) goes to files in log_dir. Stopped with SIGTERM; a non-zero exit is reported. `settings`:
    environment variables over ours (EFFECT_RETRY_SECONDS is 1 unless it says otherwise). `worker`: one
    `service-orders effects work` process beside them (not yielded; give them EFFECT_WORKERS=0 to leave it
    every effect). The processes run this checkout's code (PYTHONPATH): the venv's editable install may be
    another checkout's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "DATABASE_URL": url, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": fake.api_url, "EFFECT_RETRY_SECONDS": "1"} | dict(settings or {})
    started: list[BotProcess] = []
    try:
        for n in range(count + worker):
            port = free_port()
            name, command = (f"bot{n + 1}", ["run", "--http"]) if n < count else ("worker", ["effects", "work"])
            log_path = log_dir / f"run{run}-{name}.log"
            log = log_path.open("w")
            process = subprocess.Popen([CLI, *command, "--host", "127.0.0.1", "--port", str(port)], env=env,
                                       stdout=log, stderr=subprocess.STDOUT, text=True)
            started.append(BotProcess(port, process, log_path, log))
        for bot in started:
            wait_healthy(bot)
        yield started[:count]
    finally:
        for bot in started:
            bot.process.send_signal(signal.SIGTERM)
        for bot in started:
            try:
                code = bot.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.process.kill()
                code = bot.process.wait()
            bot.log.close()
            if code != 0:
                print(f"  bot on port {bot.port} exited with status {code} (log: {bot.log_path})")


def wait_healthy(bot: BotProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.process.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/healthz", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the bot on port {bot.port} did not come up:\n{bot.log_path.read_text()[-2000:]}")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (pid None) or of a child still running."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    return _proc_cpu(Path(f"/proc/{pid}/stat"))[1]


def postgres_cpu_seconds() -> float:
    """User + system CPU seconds of the PostgreSQL server processes running now (on this machine)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, seconds = _proc_cpu(stat)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        total += seconds if name == "postgres" else 0.0
    return total


def _proc_cpu(stat: Path) -> tuple[str, float]:
    """(command name, user + system CPU seconds) of a process, from its /proc/PID/stat."""
    name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- after the last ack: the drain and the checks ----------------------------------------------------------


def pending_effects(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(PendingEffect)
                            .where(PendingEffect.status == "pending")).one()


def drain(engine: Engine, since: float, timeout: float) -> float | None:
    """Seconds from `since` (perf_counter) until no effect is pending; None if some still are after timeout."""
    while True:
        if pending_effects(engine) == 0:
            return time.perf_counter() - since
        if time.perf_counter() - since > timeout:
            return None
        time.sleep(0.05)


@dataclass
class Check:
    name: str
    lost: int = 0
    repeated: int = 0
    other: int = 0  # wrong in another way (not a lost or repeated effect)
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.repeated or self.other)

    def count(self, what: str, expected: int, got: int, where: str) -> None:
        """`got` of something that should be `expected`: the shortfall is lost, the excess repeated."""
        if got < expected:
            self.lost += expected - got
        elif got > expected:
            self.repeated += got - expected
        if got != expected:
            self.details.append(f"{where}: {got} {what}, expected {expected}")


def verify(engine: Engine, fake: FakeSlack, results: list[ClientResult], clients: int) -> list[Check]:
    """Every order against the fake's workspace and the database."""
    submitted = [o for r in results for o in r.orders]
    approved = {o for r in results for o in r.approved}
    supervisors = {supervisor(n) for n in range(clients)}
    channels = fake.channels
    files = fake.files
    by_number: dict[int, list[str]] = {}
    for channel in channels.values():
        match = CHANNEL_NUMBER.match(channel.name)
        if match:
            by_number.setdefault(int(match.group(1)), []).append(channel.id)
    with Session(engine) as session:
        orders = {o.id: o for o in session.exec(select(ServiceOrder))}
        versions = Counter(v.order_id for v in session.exec(select(OrderVersion)))
        audit = Counter((e.order_id, e.action) for e in session.exec(select(AuditEvent)))
        effects = list(session.exec(select(PendingEffect)))
    message_effects = Counter(e.order_id for e in effects if e.kind == "message")

    stored = Check("orders stored, one per acked submission")
    stored.count("orders", len(submitted), len(orders), "database")
    if len(set(submitted)) != len(submitted):
        stored.repeated += len(submitted) - len(set(submitted))
        stored.details.append("two acked submissions were answered with the same order")

    channel = Check("one channel per order (so-NNNNNN…), its people in it")
    card = Check("one card per order")
    message = Check("one message per message effect")
    pdf = Check("one PDF per issued version")
    for order_id in sorted(orders):
        order, number = orders[order_id], order_number(order_id)
        found = by_number.get(order_id, [])
        channel.count("channels", 1, len(found), number)
        if order.channel_id not in found:
            channel.other += 1
            channel.details.append(f"{number}: its channel_id {order.channel_id} is not one of {found}")
            continue
        ch = channels[order.channel_id]
        expected_people = {order.requester_id, *supervisors} | ({WORKER} if order_id in approved else set())
        missing = expected_people - set(ch.members)
        if missing:
            channel.lost += len(missing)
            channel.details.append(f"{number}: {len(missing)} people not in its channel ({sorted(missing)[:3]}…)")
        bot_messages = [m for m in ch.messages if m.user == fake.bot_user_id and not m.deleted]
        cards = [m for m in bot_messages if any(b.get("type") == "header" for b in m.blocks or [])]
        card.count("cards", 1, len(cards), number)
        if len(cards) == 1 and cards[0].ts != order.card_ts:
            card.other += 1
            card.details.append(f"{number}: card_ts {order.card_ts} is not the card's ts {cards[0].ts}")
        texts = [m for m in bot_messages if m not in cards and not m.files]
        message.count("messages", message_effects[order_id], len(texts), number)
        names = Counter(files[f].name for m in ch.messages for f in m.files)
        expected_pdfs = {f"{number}-v{v}.pdf" for v in range(1, order.current_version + 1)}
        for name in sorted(expected_pdfs | set(names)):
            pdf.count(f"× {name}", 1 if name in expected_pdfs else 0, names[name], number)
    completed = Counter(f.name for f in files.values() if f.completed)
    for name, got in sorted(completed.items()):
        if got > 1:  # completed twice, even if only one copy is in the channel
            pdf.repeated += got - 1
            pdf.details.append(f"{name}: {got} uploads completed")
    abandoned = [f for f in files.values() if not f.completed]
    if abandoned:  # a failed attempt leaves its upload URL unused or its file uncompleted; not a repeat
        pdf.details.append(f"(not an error) {len(abandoned)} upload attempts were never completed, "
                           f"{sum(1 for f in abandoned if f.content is not None)} of them after the bytes were sent")

    done = Check("every PendingEffect done")
    statuses = Counter(e.status for e in effects)
    done.lost = len(effects) - statuses["done"]
    if done.lost:
        done.details.append(f"statuses: {dict(statuses)}")
        done.details += [f"{order_number(e.order_id)} {e.kind} ({e.key}) {e.status} after {e.attempts} attempts: "
                         f"{e.last_error}" for e in effects if e.status != "done"][:5]

    trail = Check("versions and audit events, one per acked step")
    for order_id in submitted:
        number = order_number(order_id)
        steps = 2 if order_id in approved else 1
        trail.count("versions", steps, versions[order_id], number)
        trail.count("submit events", 1, audit[order_id, "submit"], number)
        trail.count("approve events", steps - 1, audit[order_id, "approve"], number)
    return [stored, channel, card, message, pdf, done, trail]


# --- the report ----------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    orders: int
    acks_per_second: float
    stats: dict[str, Stats]
    drain: float | None
    lost: int
    repeated: int
    client_problems: list[str]
    late_acks: int
    bad_acks: int

    @property
    def worst_p99(self) -> tuple[str, float]:
        kind = max(self.stats, key=lambda k: self.stats[k].p99)
        return kind, self.stats[kind].p99

    @property
    def p99_met(self) -> bool:
        return self.worst_p99[1] < TARGET_P99_MS

    @property
    def effects_met(self) -> bool:
        return self.lost == 0 and self.repeated == 0 and self.drain is not None


def print_header(args: argparse.Namespace, engine: Engine) -> None:
    db = engine.url.render_as_string(hide_password=True)
    version = engine.dialect.server_version_info
    print(f"Load: {args.orders} orders, {args.clients} clients, two bot processes · {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine  : {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {platform.platform()}")
    print(f"software : Python {platform.python_version()}")
    print(f"database : {db} ({engine.dialect.name} {'.'.join(map(str, version or ()))})")
    steps = "/order, pick client, site and 2 items, submit" + ("" if args.skip_approve else
                                                                 "; wait for the card, Approve, submit the form")
    print(f"steps    : {steps}")
    chaos = (f"run 2 with {args.failure_rate:.0%} of Slack calls failing ({'/'.join(args.chaos_kinds)}, seed "
             f"{args.seed})" if args.failure_rate else "no run 2")
    print(f"method   : {args.clients} clients back to back, client n on bot n % 2; {args.warmup} untimed "
          f"`/order help` per client first; {chaos}")


def sort_kinds(kinds: list[str]) -> list[str]:
    return sorted(kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))


def print_table(runs: list[RunResult]) -> None:
    w = max(len(run.name) for run in runs) + 2
    print(f"\n{'run':<{w}}{'orders':>7}{'acks/s':>8}  {'request':<21}{'count':>6}{'median':>8}{'p90':>8}{'p99':>8}"
          f"{'max':>9}  {'drain s':>8}{'lost':>6}{'repeated':>9}")
    print(f"{'':<{w + 15}}  {'':<21}{'':>6}{'(ms)':>8}")
    for run in runs:
        for position, kind in enumerate(sort_kinds(list(run.stats))):
            s = run.stats[kind]
            head = f"{run.name:<{w}}{run.orders:>7}{run.acks_per_second:>8.1f}" if position == 0 else " " * (w + 15)
            tail = ""
            if position == 0:
                drain = f"{run.drain:.1f}" if run.drain is not None else "timeout"
                tail = f"  {drain:>8}{run.lost:>6}{run.repeated:>9}"
            print(f"{head}  {kind:<21}{s.count:>6}{s.median:>8.1f}{s.p90:>8.1f}{s.p99:>8.1f}{s.max:>9.1f}{tail}")


def print_targets(runs: list[RunResult]) -> bool:
    """The verdicts; True when every target is met and the run itself went through."""
    w = max(len(run.name) for run in runs) + 2
    print(f"\nTargets (p99 ack under {TARGET_P99_MS:g} ms for every request kind; no effect lost or repeated):")
    all_met = True
    for run in runs:
        kind, p99 = run.worst_p99
        in_time = not (run.client_problems or run.late_acks or run.bad_acks)
        all_met &= run.p99_met and run.effects_met and in_time
        drained = "" if run.drain is not None else ", effects still pending at the timeout"
        print(f"  {run.name:<{w}}{'p99 under ' + format(TARGET_P99_MS, 'g') + ' ms':<24}"
              f"{'MET' if run.p99_met else 'NOT MET':<9}(worst: {kind}, {p99:.1f} ms)")
        print(f"  {'':<{w}}{'none lost or repeated':<24}{'MET' if run.effects_met else 'NOT MET':<9}"
              f"({run.lost} lost, {run.repeated} repeated{drained})")
        if not in_time:
            print(f"  {'':<{w}}{'every order acked':<24}{'NOT MET':<9}(clients stopped: {len(run.client_problems)}, "
                  f"acks over {ACK_TIMEOUT:g} s: {run.late_acks}, acks not 200 or with a message: {run.bad_acks})")
    return all_met


def log_problems(path: Path) -> tuple[int, list[str]]:
    lines = path.read_text(errors="replace").splitlines()
    warnings = sum(1 for line in lines if " WARNING " in line)
    return warnings, [line for line in lines if " ERROR " in line or "Traceback" in line]


def slack_summary(fake: FakeSlack) -> str:
    calls = fake.calls
    failed = Counter("lost" if c.status == 0 and "lost" in c.response else "drop" if c.status == 0 else str(c.status)
                     for c in calls if c.status in (0, 429, 500))
    by_method = Counter(c.method for c in calls)
    top = ", ".join(f"{m} {n}" for m, n in by_method.most_common(6))
    kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(failed.items()))
    return f"{len(calls)} calls from the bots, {sum(failed.values())} failed ({kinds or 'none'}); most: {top}"


# --- a run -------------------------------------------------------------------------------------------------


def warm_up(persons: list[Person], rounds: int) -> None:
    """`rounds` untimed `/order help` commands from every client at once: each bot process's first requests
    (Bolt's auth.test on the first one, waitress threads, imports) are then done before the clock starts."""
    def commands(person: Person, n: int) -> None:
        for _ in range(rounds):
            person.slack.command(requester(n), "/order", "help")

    threads = [threading.Thread(target=commands, args=(person, n)) for n, person in enumerate(persons)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for person in persons:
        assert isinstance(person.slack, TimedDriver)
        person.slack.acks.clear()


def run_clients(args: argparse.Namespace, engine: Engine, fake: FakeSlack, bots: list[BotProcess],
                failure_rate: float) -> list[ClientResult]:
    """The clients, client n on bot n % 2: the warm-up if asked for, Slack's failures switched on, then all
    the clients started at once (a barrier). Returns when all are done."""
    persons = [Person(engine, fake, TimedDriver(bots[n % len(bots)].url, fake, n % len(bots) + 1))
               for n in range(args.clients)]
    if args.warmup:
        warm_up(persons, args.warmup)
    if failure_rate:
        fake.chaos(failure_rate, seed=args.seed, kinds=args.chaos_kinds)
    results = [ClientResult() for _ in range(args.clients)]
    barrier = threading.Barrier(args.clients)
    threads = [threading.Thread(target=run_client, name=f"client-{n + 1}", args=(
        n, person, count, not args.skip_approve, args.card_timeout, barrier, results[n]))
        for n, (person, count) in enumerate(zip(persons, shares(args.orders, args.clients), strict=True))]
    # This process's garbage collector is off while the clients run, as timeit turns it off: a full
    # collection of the fake's state stops every client thread at once (up to 140 ms seen), and that pause
    # is this harness's, not the bots'. The bots keep theirs.
    gc.disable()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.enable()
        gc.collect()
    return results


def print_checks(checks: list[Check]) -> None:
    for check in checks:
        counts = f"{check.lost} lost, {check.repeated} repeated" + (f", {check.other} other" if check.other else "")
        print(f"  check    : {check.name:<55}{'OK' if check.ok else 'FAIL':<6}{counts}")
        for detail in check.details[:8]:
            print(f"               {detail}")
        if len(check.details) > 8:
            print(f"               … and {len(check.details) - 8} more")


def one_run(args: argparse.Namespace, number: int, name: str, failure_rate: float, log_dir: Path) -> RunResult:
    print(f"\nrun {number}: {name}", flush=True)
    engine = seed(args.database_url, args.clients)
    print(f"  seeded   : fresh tables, sample catalog, {args.clients} requesters, {args.clients} supervisors, "
          "1 field worker", flush=True)
    fake = start_fake(args.clients)
    try:
        with bot_processes(args.database_url, fake, log_dir, number) as bots:
            print("  bots     : " + ", ".join(f"bot {n} on port {b.port}" for n, b in enumerate(bots, 1)), flush=True)
            cpu_before = [cpu_seconds(), *(cpu_seconds(b.process.pid) for b in bots), postgres_cpu_seconds()]
            machine_before = machine_ticks()
            results = run_clients(args, engine, fake, bots, failure_rate)
            machine_after = machine_ticks()
            acks = [a for r in results for a in r.acks]
            first, last = min(a.start for a in acks), max(a.start + a.seconds for a in acks)
            print(f"  clients  : {len(acks)} requests acked in {last - first:.1f} s; "
                  f"{len(orders_of(results))} orders submitted, {sum(len(r.approved) for r in results)} approved",
                  flush=True)
            drained = drain(engine, last, args.drain_timeout)
            cpu_after = [cpu_seconds(), *(cpu_seconds(b.process.pid) for b in bots), postgres_cpu_seconds()]
            if drained is None:
                print(f"  effects  : {pending_effects(engine)} still pending {args.drain_timeout:g} s after the "
                      "last ack", flush=True)
            else:
                print(f"  effects  : none pending {drained:.1f} s after the last ack", flush=True)
            time.sleep(2)  # a second runner doing something again would show now
            fake.chaos(0)
            cpu = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
            busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
            print(f"  cpu      : {busy:.0%} of the machine's CPUs busy while the clients ran; CPU seconds from the "
                  f"first request to the drain's end: this process (clients + fake) {cpu[0]:.1f}, bots "
                  + ", ".join(f"{c:.1f}" for c in cpu[1:-1]) + f", PostgreSQL {cpu[-1]:.1f}")
            print(f"  slack    : {slack_summary(fake)}")
            checks = verify(engine, fake, results, args.clients)
        print_checks(checks)
        for n, bot in enumerate(bots, 1):
            warnings, errors = log_problems(bot.log_path)
            print(f"  bot log  : bot {n}: {warnings} warnings, {len(errors)} errors"
                  + "".join(f"\n               {e[:200]}" for e in errors[:3]))
        slowest = sorted(acks, key=lambda a: a.seconds, reverse=True)[:SLOWEST]
        print("  slowest  : " + ", ".join(
            f"{a.kind} {a.seconds * 1000:.0f} ms (bot {a.bot}, at {a.start - first:.1f} s)" for a in slowest))
        problems = [p for r in results for p in r.problems]
        for problem in problems[:10]:
            print(f"  problem  : {problem}")
        bad = [a for a in acks if not good_ack(a)]
        for ack in bad[:5]:
            print(f"  bad ack  : {ack.kind} (bot {ack.bot}, at {ack.start - first:.1f} s, "
                  f"{ack.seconds * 1000:.0f} ms): HTTP {ack.status} {ack.text[:120]!r}")
    finally:
        fake.stop()
        engine.dispose()
    by_kind: dict[str, list[float]] = {}
    for ack in acks:
        by_kind.setdefault(ack.kind, []).append(ack.seconds)
    return RunResult(
        name=name, orders=len(orders_of(results)), acks_per_second=len(acks) / (last - first),
        stats={kind: Stats.of(seconds) for kind, seconds in by_kind.items()}, drain=drained,
        lost=sum(c.lost for c in checks), repeated=sum(c.repeated for c in checks), client_problems=problems,
        late_acks=sum(1 for a in acks if a.seconds > ACK_TIMEOUT), bad_acks=len(bad))


def good_ack(ack: Ack) -> bool:
    """A 200, and empty (a command that opens the form, a form that closes, a click) except for options."""
    return ack.status == 200 and (ack.kind == "options request" or not ack.text.strip())


def orders_of(results: list[ClientResult]) -> list[int]:
    return [o for r in results for o in r.orders]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders submitted in each run (default 200)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"SQLAlchemy URL; its tables are dropped! (default {DEFAULT_URL})")
    parser.add_argument("--failure-rate", type=float, default=0.3,
                        help="share of Slack calls that fail in run 2 (default 0.3; 0 skips run 2)")
    parser.add_argument("--seed", type=int, default=4, help="the chaos' random seed (default 4)")
    parser.add_argument("--chaos-kinds", default=",".join(CHAOS_KINDS),
                        help=f"how Slack calls fail in run 2, among the fake's chaos kinds (default "
                             f"{','.join(CHAOS_KINDS)})")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed `/order help` commands per client before the clock starts (default 2)")
    parser.add_argument("--skip-approve", action="store_true", help="submit only; no approvals, no PDFs")
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="seconds to wait for the effects after the last ack (default 600)")
    parser.add_argument("--card-timeout", type=float, default=300.0,
                        help="seconds a client waits for an order's card before approving (default 300)")
    parser.add_argument("--log-dir", type=Path, help="keep the bots' logs there (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.orders < args.clients or args.warmup < 0:
        parser.error("--clients must be at least 1, --orders at least --clients, --warmup at least 0")
    args.chaos_kinds = tuple(k.strip() for k in args.chaos_kinds.split(",") if k.strip())
    try:
        FakeSlack().chaos(args.failure_rate, kinds=args.chaos_kinds)  # the fake says what it accepts
    except ValueError as error:
        parser.error(f"--failure-rate or --chaos-kinds: {error}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engine = make_engine(args.database_url)
    with engine.connect():  # fails early on a wrong URL; and the header can name the server's version
        print_header(args, engine)
    engine.dispose()
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="load-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plan = [("no Slack failures", 0.0)]
    if args.failure_rate:
        kinds = "" if args.chaos_kinds == CHAOS_KINDS else f" ({'/'.join(args.chaos_kinds)})"
        plan.append((f"{args.failure_rate:.0%} Slack failures{kinds}", args.failure_rate))
    try:
        runs = [one_run(args, n, name, rate, log_dir) for n, (name, rate) in enumerate(plan, 1)]
    finally:
        if args.log_dir is None:
            shutil.rmtree(log_dir, ignore_errors=True)
    print_table(runs)
    met = print_targets(runs)
    print(f"\n{time.perf_counter() - started:.0f} s in all" + (f"; bot logs in {log_dir}" if args.log_dir else ""))
    return 0 if met else 1


if __name__ == "__main__":
    with serving(TEAM):  # what it seeds and reads is the fake workspace's
        sys.exit(main())
