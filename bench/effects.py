"""Effects at Slack's rate limits: how close the bot's Slack work for a burst of orders comes to the fastest
Slack's tiers allow.

Issue 19's benchmark. The fake Slack (slackfake) enforces Slack's rate-limit tiers (`FakeSlack.enforce_tiers`:
per workspace and method, a burst of the tier's count a minute, then HTTP 429 with Retry-After), on a clock
--speed times faster than real time (60: a Slack minute a second), and the bot paces its effects on the same
clock (`bot.pacing.Pacer(speed=--speed)`, when the checkout has it). The bot runs in this process as
`service-orders run --http` runs it (bot.app.build_bot, bot.server.HttpServer, the effect runner with its retry
timer), on SQLite in a temp dir or --database-url.

Two runs, each on fresh tables, a fresh fake and a fresh bot: run 1 with Slack unlimited (the fake enforces
nothing, the pacer's speed is 10^9), this machine's own floor (--no-baseline skips it); run 2 at the tiers.
In each, before the clock starts, --home-viewers supervisors open App Home (so the steps refresh it), and
each of --clients requesters opens the real new-order form with /order and fills it in
(through its pickers, as sandbox.local.LocalWorkspace does). The clock starts when --orders (200) submissions
of those forms, each from a modal of its own, are sent at once by --clients threads. As each order's card is
posted, a supervisor approves it as a person does (clicks Approve on the card, fills in the approve form), so
that version 1 is issued and its PDF uploaded. The clock stops when every order has its card and its PDF in the
fake, as the fake timed them (`Message.stored_at`: the moment it stored each message).

It prints:

  time          from the first submission to the last card or PDF in the fake, in real and in Slack seconds
  lower bound   for each method the bot called until then: its calls (429s not counted) divided by its tier's
                rate (chat.postMessage: its busiest channel's, as its limit is per channel); the largest is
                the bound. Beside it, the same with the tier's burst taken off (the calls past the burst,
                divided by the rate): the least any client could take
  ratio         bound / time (goal: at least 90 %); and run 1's time beside the bound
  429s          the calls the tiers refused, by method (goal: none after the first)
  check         every order's channel, people, card, messages and PDF, as bench/load.py checks them

Run (from the project root):

  .venv/bin/python bench/effects.py                     # SQLite in a temp dir, 200 orders, speed 60
  .venv/bin/python bench/effects.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/effects_bench

--database-url drops every table of that database and recreates ours (as tests/conftest.py does).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import queue
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from ack_latency import Payload, PayloadRecorder  # beside this script
from load import (
    CLIENT_SITES,
    ITEMS,
    SOON,
    WORKER,
    Check,
    ClientResult,
    LeanFake,
    Person,
    pending_effects,
    people,
    print_checks,
    requester,
    seed,
    stored_order,
    supervisor,
    verify,
)
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.app import build_bot
from bot.server import HttpServer
from bot.settings import Settings
from sandbox.local import SIGNING_SECRET, TEAM, manifest_scopes
from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import FakeSlack
from sandbox.slackfake.state import Call, Message
from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import number, plain_text, static
from sandbox.slackfake.tiers import PER_CHANNEL, PER_MINUTE, TIERS
from storage.db import make_engine
from storage.models import PendingEffect, ServiceOrder
from storage.scope import serving
from workflow.effects import ASIDE, EffectKind
from workflow.vocabulary import order_number

ROOT = Path(__file__).resolve().parents[1]
# Issue 19 item 1: the bot paces its effects to the tiers. Before it, the effect workers sleep through each
# Retry-After. Looked for in this checkout only: the venv's editable install would find another's bot/pacing.py.
if (ROOT / "bot" / "pacing.py").exists():
    from bot.pacing import Pacer
else:
    Pacer = None  # type: ignore[assignment,misc]

TARGET_RATIO = 0.9
# the effects every order's card and PDF wait for (App Home refreshes, beside the chain, are not among them)
CHAIN = tuple(kind.value for kind in EffectKind if kind not in ASIDE)


# --- the requesters' forms: filled in before the clock, then sent at once -----------------------------------


def recorded_submission(person: Person, user: str, n: int) -> Payload:
    """`user` opens the real new-order form with /order and fills it in (the bot answers its pickers' options
    requests); the view_submission is recorded, not sent."""
    client, site = CLIENT_SITES[n % len(CLIENT_SITES)]
    ack = person.slack.command(user, "/order")
    if ack.status != 200 or ack.text:
        raise RuntimeError(f"/order from {user} answered HTTP {ack.status} {ack.text[:200]!r}")
    view = person.wait_for_view(user, "submit_order")
    values: dict[str, Any] = {
        "client": person.pick(user, view, "client", client),
        "site": person.pick(user, view, "site", site),
        "requested_date": {"requested_date": date_value(SOON)},
        "priority": {"priority": static("normal")},
        "description": {"description": plain_text(f"Effects bench: an order of requester {n + 1}")},
        "free_items": {"free_items": plain_text("")},
    }
    for row, (typed, quantity) in enumerate(ITEMS):
        values[f"item_{row}"] = person.pick(user, view, f"item_{row}", typed)
        values[f"qty_{row}"] = {"quantity": number(quantity)}
    recorder = PayloadRecorder(person.slack.bot_url, "unused: a recorder sends nothing", person.fake)
    return recorder.record(lambda: recorder.submit(user, view, values))


def from_modal(submission: Payload, view_id: str) -> bytes:
    """The recorded submission as if from a modal of its own (the bot keys a new order on the view id: the same
    id again is Slack retrying), encoded as SlackDriver encodes an interaction."""
    payload = json.loads(parse_qs(submission.body.decode())["payload"][0])
    fresh = {**payload, "view": {**payload["view"], "id": view_id, "root_view_id": view_id}}
    return f"payload={quote(json.dumps(fresh))}".encode()


@dataclass(frozen=True)
class Submitted:
    view_id: str
    sent: float  # time.monotonic() as the request went out
    acked: float  # time.monotonic() as the ack was read
    status: int
    text: str


def submit_at_once(drivers: list[SlackDriver], forms: list[Payload], orders: int, prefix: str = "VFX"
                   ) -> list[Submitted]:
    """`orders` submissions, sent by one thread per driver (driver n sends form n's), all starting at once
    (a barrier); returns them in the order they were sent. Their view ids start with `prefix`."""
    shares = [orders // len(drivers) + (1 if n < orders % len(drivers) else 0) for n in range(len(drivers))]
    bodies = [[from_modal(form, f"{prefix}{n:03d}{k:05d}") for k in range(share)]
              for n, (form, share) in enumerate(zip(forms, shares, strict=True))]
    barrier = threading.Barrier(len(drivers))
    done: list[Submitted] = []
    lock = threading.Lock()

    def client(driver: SlackDriver, mine: list[bytes]) -> None:
        barrier.wait()
        for body in mine:
            sent = time.monotonic()
            answer = driver.post(body, "application/x-www-form-urlencoded")
            submitted = Submitted(view_id_of(body), sent, time.monotonic(), answer.status, answer.text[:200])
            with lock:
                done.append(submitted)

    threads = [threading.Thread(target=client, args=(d, b), name=f"client-{n + 1}")
               for n, (d, b) in enumerate(zip(drivers, bodies, strict=True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bad = [s for s in done if s.status != 200 or s.text.strip()]
    if bad:
        raise RuntimeError(f"{len(bad)} submissions not acked as they should be, e.g. HTTP {bad[0].status} "
                           f"{bad[0].text!r}")
    return sorted(done, key=lambda s: s.sent)


def view_id_of(body: bytes) -> str:
    return str(json.loads(parse_qs(body.decode())["payload"][0])["view"]["id"])


# --- what the fake holds: each order's card and PDF, with the moment the fake stored them -----------------


@dataclass(frozen=True)
class Arrival:
    card: float | None  # time.monotonic() when the fake stored the order's first card
    pdf: float | None  # ... and its version 1 PDF's share


def arrivals(engine: Engine, fake: FakeSlack, order_ids: list[int]) -> dict[int, Arrival]:
    with Session(engine) as session:
        channels = dict(session.exec(select(ServiceOrder.id, ServiceOrder.channel_id)
                                     .where(col(ServiceOrder.id).in_(order_ids))).all())
    found: dict[int, Arrival] = {}
    files = fake.files
    for order_id in order_ids:
        channel = fake.channels.get(channels.get(order_id) or "")
        messages: list[Message] = channel.messages if channel else []
        cards = [m.stored_at for m in messages if m.user == fake.bot_user_id
                 and any(b.get("type") == "header" for b in m.blocks or [])]
        pdf_name = f"{order_number(order_id)}-v1.pdf"
        pdfs = [m.stored_at for m in messages if any(files[f].name == pdf_name for f in m.files if f in files)]
        found[order_id] = Arrival(min(cards, default=None), min(pdfs, default=None))
    return found


def chain_pending(engine: Engine) -> int:
    """Effects of an order's chain (channel, invites, card, message, PDF) not done yet."""
    with Session(engine) as session:
        return len(session.exec(select(PendingEffect.id).where(col(PendingEffect.kind).in_(CHAIN),
                                                               PendingEffect.status != "done")).all())


# --- the supervisors: approve each order once its card is posted -------------------------------------------


class Approvals:
    """One thread per supervisor; a dispatcher hands them the orders whose card the bot has recorded (the
    click is on it), in that order. Each approval is a person's: the Approve click, its form, its submission."""

    def __init__(self, engine: Engine, persons: list[Person]) -> None:
        self.engine, self.persons = engine, persons
        self.todo: queue.Queue[int | None] = queue.Queue()
        self.approved: list[int] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def run(self, order_ids: list[int], timeout: float) -> None:
        self._threads = [threading.Thread(target=self._approve, args=(n, person), name=f"supervisor-{n + 1}")
                         for n, person in enumerate(self.persons)]
        for thread in self._threads:
            thread.start()
        waiting, deadline = set(order_ids), time.monotonic() + timeout
        try:
            while waiting and time.monotonic() < deadline:
                with Session(self.engine) as session:
                    carded = session.exec(select(ServiceOrder.id).where(
                        col(ServiceOrder.id).in_(waiting), col(ServiceOrder.card_ts).is_not(None))).all()
                for order_id in sorted(carded):
                    self.todo.put(order_id)
                waiting -= set(carded)
                time.sleep(0.05)
            if waiting:
                self.problems.append(f"{len(waiting)} orders had no card after {timeout:g} s")
        finally:
            for _ in self._threads:
                self.todo.put(None)
            for thread in self._threads:
                thread.join()

    def _approve(self, n: int, person: Person) -> None:
        with serving(TEAM):  # a thread starts outside the main thread's workspace
            self._approve_each(n, person)

    def _approve_each(self, n: int, person: Person) -> None:
        while (order_id := self.todo.get()) is not None:
            try:
                answer = person.approve(supervisor(n), order_id, workers=[WORKER], scheduled=SOON)
            except Exception as error:  # noqa: BLE001 - said in the report; the other approvals go on
                with self._lock:
                    self.problems.append(f"{order_number(order_id)}: {type(error).__name__}: {error}")
                continue
            with self._lock:
                if answer.status == 200 and not answer.text.strip():
                    self.approved.append(order_id)
                else:
                    self.problems.append(f"{order_number(order_id)}: approval answered HTTP {answer.status} "
                                         f"{answer.text[:200]!r}")


# --- the lower bound the tiers allow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodBound:
    method: str
    calls: int  # answered (not refused by the tiers); chat.postMessage: in its busiest channel
    per_minute: int
    refused: int

    @property
    def seconds(self) -> float:
        """Slack seconds the tier needs for these calls at its rate."""
        return self.calls / self.per_minute * 60

    @property
    def past_burst(self) -> float:
        """Slack seconds for the calls past the burst (the bucket starts full)."""
        return max(0, self.calls - self.per_minute) / self.per_minute * 60


def bounds(calls: list[Call]) -> list[MethodBound]:
    """Per method the bot called, slowest first. Calls the tiers refused (429) took no token."""
    answered: Counter[tuple[str, str | None]] = Counter()
    refused: Counter[str] = Counter()
    for call in calls:
        if call.method not in TIERS:
            continue
        if call.status == 429:
            refused[call.method] += 1
            continue
        channel = call.args.get("channel") if call.method in PER_CHANNEL else None
        answered[call.method, channel if isinstance(channel, str) else None] += 1
    busiest: dict[str, int] = {}
    for (method, _), count in answered.items():
        busiest[method] = max(busiest.get(method, 0), count)
    found = [MethodBound(m, busiest.get(m, 0), PER_MINUTE[TIERS[m]], refused[m]) for m in set(busiest) | set(refused)]
    return sorted(found, key=lambda b: (-b.seconds, b.method))


# --- the bot in this process -----------------------------------------------------------------------------------

UNLIMITED = 1e9  # the pacer's speed in the run without limits: its buckets never empty


@contextmanager
def bot_serving(engine: Engine, fake: FakeSlack, speed: float) -> Iterator[str]:
    """The bot as `service-orders run --http` runs it (its HTTP server, its effect runner and retry timer, at
    the default settings), paced at `speed` when the checkout has bot.pacing. Yields its events URL."""
    settings = Settings(bot_token=fake.bot_token, signing_secret=SIGNING_SECRET, api_url=fake.api_url)
    extra: dict[str, Any] = {"pacer": Pacer(speed=speed)} if Pacer is not None else {}
    bot = build_bot(settings, engine, **extra)
    server = HttpServer(bot, engine, SIGNING_SECRET, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, name="bot-http", daemon=True)
    thread.start()
    bot.start_background(settings.effect_retry_seconds)
    try:
        yield f"http://127.0.0.1:{server.port}/slack/events"
    finally:
        server.stop()
        thread.join(timeout=10)
        bot.stop()


def start_fake(clients: int, speed: float | None) -> FakeSlack:
    """The fake with the people and #general (bench/load.py's), at Slack's tiers (unless speed is None) from
    the start, so the bot's pacer and the fake's buckets see the same calls."""
    fake = LeanFake(team_id=TEAM, scopes=manifest_scopes()).start()
    for user, name in people(clients).items():
        fake.add_user(user, name.lower().replace(" ", ""), real_name=name)
    fake.add_channel("general", members=list(people(clients)))
    fake.enforce_tiers(speed=speed)
    return fake


# --- a run ---------------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    seconds: float  # real seconds from the first submission to the last card or PDF in the fake
    missing: int  # orders without their card or PDF at the timeout
    bounds: list[MethodBound]
    refusals: Counter[str]  # the tiers' 429s by method
    checks: list[Check]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and all(c.ok for c in self.checks)


def one_run(args: argparse.Namespace, name: str, speed: float | None) -> Run:
    """Fresh tables, a fresh fake (at the tiers at `speed`, or unlimited when None) and a fresh bot; the orders
    submitted at once and approved as their cards come; then what the fake holds."""
    print(f"\n{name}", flush=True)
    engine = seed(args.database_url, args.clients)
    fake = start_fake(args.clients, speed)
    try:
        with bot_serving(engine, fake, speed or UNLIMITED) as events_url:
            persons = [Person(engine, fake, SlackDriver(events_url, SIGNING_SECRET, fake)) for _ in range(args.clients)]
            forms = [recorded_submission(person, requester(n), n) for n, person in enumerate(persons)]
            for n in range(args.home_viewers):  # their App Home is then refreshed as orders change
                answer = persons[n].slack.event({"type": "app_home_opened", "user": supervisor(n), "tab": "home"})
                if answer.status != 200:
                    raise RuntimeError(f"app_home_opened answered HTTP {answer.status}")
            calls_before, refused_before = len(fake.calls), len(fake.tier_refusals)
            start = time.monotonic()
            submitted = submit_at_once([p.slack for p in persons], forms, args.orders)
            order_ids = [stored_order(engine, s.view_id) for s in submitted]
            print(f"  submit   : {len(order_ids)} orders acked in {submitted[-1].acked - start:.2f} s", flush=True)
            approvals = Approvals(engine, persons)
            approvals.run(order_ids, args.timeout)
            print(f"  approve  : {len(approvals.approved)} approved, the last {time.monotonic() - start:.1f} s after "
                  "the first submission", flush=True)
            while chain_pending(engine) and time.monotonic() < start + args.timeout:
                time.sleep(0.05)
            calls = fake.calls[calls_before:]
            refusals = Counter(r.method for r in fake.tier_refusals[refused_before:])
            arrived = arrivals(engine, fake, order_ids)
            drained = time.monotonic()  # the rest (App Home refreshes, coalesced) before the checks
            while pending_effects(engine) and time.monotonic() < drained + args.timeout:
                time.sleep(0.1)
            print(f"  drain    : the other effects (App Home) done {time.monotonic() - drained:.1f} s later",
                  flush=True)
            checks = verify(engine, fake, [ClientResult(orders=order_ids, approved=approvals.approved)],
                            args.clients)
    finally:
        fake.stop()
        engine.dispose()
    last = max((t for a in arrived.values() for t in (a.card, a.pdf) if t is not None), default=start)
    missing = sum(1 for a in arrived.values() if a.card is None or a.pdf is None)
    print(f"  done     : every card and PDF in the fake {last - start:.2f} s after the first submission"
          + (f"; {missing} orders without one at the timeout" if missing else ""), flush=True)
    print_checks(checks)
    for problem in approvals.problems[:5]:
        print(f"  problem  : {problem}")
    return Run(name, last - start, missing, [b for b in bounds(calls) if b.calls or b.refused], refusals, checks,
               approvals.problems)


# --- the report ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders submitted at once (default 200)")
    parser.add_argument("--speed", type=float, default=60.0,
                        help="Slack seconds per real second, for the fake's tiers and the bot's pacer (default 60)")
    parser.add_argument("--clients", type=int, default=20,
                        help="requesters submitting at once, and supervisors approving (default 20)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (its tables are dropped!); default: SQLite, temp")
    parser.add_argument("--home-viewers", type=int, default=0,
                        help="supervisors who open App Home before the clock, so it is refreshed (default 0)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without limits")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="real seconds to wait for every card and PDF, per run (default 900)")
    parser.add_argument("--log", type=Path, help="the bot's log (INFO) goes there (default: a temp file, removed)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.orders < args.clients or not args.speed > 0 or not args.timeout > 0:
        parser.error("--clients must be at least 1, --orders at least --clients, --speed and --timeout above 0")
    if not 0 <= args.home_viewers <= args.clients:
        parser.error("--home-viewers must be from 0 to --clients")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="effects-bench-") as tmp_dir:
        log = args.log or Path(tmp_dir) / "bot.log"
        logging.basicConfig(level=logging.INFO, filename=log, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        args.database_url = args.database_url or f"sqlite:///{tmp_dir}/effects.db"
        print_header(args)
        baseline = None if args.no_baseline else one_run(args, "run 1: Slack without limits (the baseline)", None)
        tiers = one_run(args, f"run {1 if args.no_baseline else 2}: Slack at its tiers, {args.speed:g} Slack s a "
                              "second", args.speed)
        met = report(args, tiers, baseline)
        errors = [line for line in log.read_text(errors="replace").splitlines()
                  if " ERROR " in line or "Traceback" in line]
        print(f"bot log  : {len(errors)} errors" + "".join(f"\n    {e[:200]}" for e in errors[:3]))
    return 0 if met else 1


def print_header(args: argparse.Namespace) -> None:
    engine = make_engine(args.database_url)
    with engine.connect():
        version = ".".join(map(str, engine.dialect.server_version_info or ()))
    engine.dispose()
    pacing = (f"bot.pacing.Pacer(speed={args.speed:g})" if Pacer is not None
              else "none (no bot/pacing.py here: the effect workers sleep through each Retry-After)")
    print(f"Effects: {args.orders} orders at once against Slack's tiers · {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine  : {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    print(f"database : {engine.url.render_as_string(hide_password=True)} ({engine.dialect.name} {version})")
    print(f"slack    : the fake at the tiers, {args.speed:g} Slack seconds a second; the bot's pacing: {pacing}")
    print(f"people   : {args.clients} requesters submit at once, {args.clients} supervisors approve each order "
          f"once its card is posted; {args.home_viewers} of them opened App Home", flush=True)


def report(args: argparse.Namespace, tiers: Run, baseline: Run | None) -> bool:
    """The per-method table and the figures; True when the goals are met."""
    speed = args.speed
    unlimited = {b.method: b.calls for b in baseline.bounds} if baseline else {}
    print(f"\n{'method':<30}{'calls':>7}{'a minute':>10}{'Slack s':>9}{'past burst':>12}{'real s':>8}{'429s':>6}"
          f"{'calls unlimited':>17}")
    for b in tiers.bounds:
        note = "  (its busiest channel)" if b.method in PER_CHANNEL else ""
        print(f"{b.method:<30}{b.calls:>7}{b.per_minute:>10}{b.seconds:>9.0f}{b.past_burst:>12.0f}"
              f"{b.seconds / speed:>8.2f}{b.refused:>6}{unlimited.get(b.method, 0) if baseline else '-':>17}{note}")
    bound = max(tiers.bounds, key=lambda b: b.seconds)
    tight = max(tiers.bounds, key=lambda b: b.past_burst)
    slack_seconds = tiers.seconds * speed
    ratio = bound.seconds / slack_seconds
    print(f"\ntime     : every card and PDF in the fake {tiers.seconds:.2f} s after the first submission = "
          f"{slack_seconds:.0f} Slack s" + (f" ({tiers.missing} orders without one)" if tiers.missing else ""))
    print(f"bound    : {bound.seconds:.0f} Slack s = {bound.seconds / speed:.2f} s ({bound.method}: {bound.calls} "
          f"calls at {bound.per_minute} a minute); past the burst {tight.past_burst:.0f} Slack s ({tight.method})")
    print(f"ratio    : bound / time = {ratio:.0%} (goal at least {TARGET_RATIO:.0%}); past the burst "
          f"{tight.past_burst / slack_seconds:.0%}")
    if baseline is not None:
        floor = max(bound.seconds / speed, baseline.seconds)
        print(f"baseline : the same orders with Slack unlimited took {baseline.seconds:.2f} s (this machine's own "
              f"floor); the larger of it and the bound, {floor:.2f} s, is {floor / tiers.seconds:.0%} of the time")
    after_first = sum(max(0, n - 1) for n in tiers.refusals.values())
    refused = ", ".join(f"{m} {n}" for m, n in tiers.refusals.most_common())
    print(f"429s     : {sum(tiers.refusals.values())} from the tiers" + (f" ({refused})" if refused else "")
          + f"; after each method's first: {after_first} (goal 0)")
    met = tiers.ok and ratio >= TARGET_RATIO and after_first == 0
    print(f"target   : {'MET' if met else 'NOT MET'} (every card and PDF, nothing lost or repeated; at least "
          f"{TARGET_RATIO:.0%} of the bound's speed; no 429 after a method's first)")
    return met


if __name__ == "__main__":
    with serving(TEAM):  # what it seeds and reads is the fake workspace's
        sys.exit(main())
