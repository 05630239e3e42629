"""Ack latency: how fast the bot acknowledges Slack's requests, next to a bare Bolt app.

Slack gives an app 3 s to acknowledge a slash command or an interaction. This measures the HTTP round trip
(signed request in, ack out) of three request kinds, with `time.perf_counter` in one sequential client (a
process of its own, as Slack's edge is not in the fake Slack's interpreter):

  /order command       a slash command from a requester: our ack checks the requester role; the modal
                       opens in a lazy listener after the ack
  order_approve click  a click on an order card's Approve button (block_actions), by a supervisor, on an
                       order pending approval: our ack is bare; the approve form opens after it
  submit_order form    a view_submission of the new-order form with valid values: our ack validates the
                       form and commits the new order (order, version, lines, audit, pending effects)

against the bare apps (served by waitress in this process) and ours (served by waitress as deployed):

  bare default   a bare slack-bolt App with plain `ack()` listeners and Bolt's defaults: the ack is polled
                 for every 10 ms (~11 ms)
  bare floor     the same app with process_before_response=True: the ack is the listener's return (~1 ms)
  ours           the real bot on a database seeded with --orders orders, talking to the loopback fake Slack
                 (slackfake, in this process), deployed one of three ways (--ours, one or more):
                   one     `service-orders run --http` in a process of its own, running its effects itself
                           (EFFECT_WORKERS=2, the default)
                   split   the same with EFFECT_WORKERS=0, beside a `service-orders effects work` process that
                           runs every effect (the effects out of the acks' interpreter)
                   local   in this process, as sandbox.local.LocalWorkspace runs it, with its effect runner
                           (the figures of earlier sessions: the client, the fake and the bot share one GIL)
                 one and split may repeat (one,split,split,one: neither always goes first); each gets --settle
                 seconds for its effects, then what is left is cancelled

The requests are the ones slackfake's SlackDriver builds (recorded, then signed and sent here), identical
for every app. The form submitted is the real form, opened once through /order and filled in; each
sample sends it from a fresh view id (the same view again is a retry to the bot, not a new order).
Requests go out round-robin (one of each kind per round), back to back unless --gap-ms; the first
--warmup rounds are discarded. A non-empty or non-200 ack stops the run, and so does a submission that
stored no order.

Run (from the project root):

  .venv/bin/python bench/ack_latency.py                  # SQLite in a temp dir, 300 samples per kind
  .venv/bin/python bench/ack_latency.py --orders 100000 --samples 500 --ours one,split
  .venv/bin/python bench/ack_latency.py --samples 1000 --fresh-connections
  .venv/bin/python bench/ack_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

--database-url drops and recreates every table of that database (as tests/conftest.py does).
"""

from __future__ import annotations

import argparse
import http.client
import inspect
import itertools
import json
import logging
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection as PipeEnd
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import slack_bolt
from load import bot_processes, pending_effects  # bench/load.py, beside this script
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Connection, Engine, func, insert, text, update
from sqlmodel import Session, SQLModel, select
from stats import Stats  # bench/stats.py, beside this script
from waitress import wasyncore
from waitress.server import create_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: sandbox/ is not installed

from bot.channels import channel_name
from bot.server import EVENTS_PATH, HttpServer
from bot.settings import Settings
from sandbox.local import SIGNING_SECRET, TEAM, LocalWorkspace
from sandbox.slackfake.inbound import InboundResult, SlackDriver
from sandbox.slackfake.state_values import date, number, plain_text, static
from storage.db import init_db, make_engine
from storage.models import (
    Assignment,
    AuditEvent,
    CatalogEntry,
    LineItem,
    OrderNumbering,
    OrderVersion,
    PendingEffect,
    Person,
    RoleGrant,
    ServiceOrder,
)
from storage.scope import serving
from workflow.catalog import import_csv
from workflow.effects import Message
from workflow.facts import StepFacts
from workflow.transitions import BY_ACTION
from workflow.vocabulary import PRIORITIES, Action, Role, State, order_number

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CATALOG = ROOT / "sandbox" / "sample" / "catalog.csv"
WAITRESS_THREADS: int = inspect.signature(HttpServer).parameters["threads"].default  # as the bot is served
TARGET_RATIO = 1.5
TARGET_P99_MS = 50.0  # issue 19: at 100,000 orders too

# the people in the fake workspace (Slack user ids), as in the end-to-end tests
REQUESTER, SUPERVISOR, COORDINATOR, WORKER, WORKER2 = "U0REQ", "U0SUP", "U0COORD", "U0FW1", "U0FW2"
PEOPLE = {REQUESTER: "Rosa Requester", SUPERVISOR: "Sam Supervisor", COORDINATOR: "Carla Coordinator",
          WORKER: "Jürgen Müller", WORKER2: "Ana Peñalolén"}
ROLES = {REQUESTER: Role.REQUESTER, SUPERVISOR: Role.SUPERVISOR, COORDINATOR: Role.COORDINATOR,
         WORKER: Role.FIELD_WORKER, WORKER2: Role.FIELD_WORKER}
# people of the seeded history only (never in a timed request)
PAST_REQUESTERS = [f"U0RQ{n:02d}" for n in range(1, 20)] + [REQUESTER]
PAST_WORKERS = [f"U0FW{n:02d}" for n in range(10, 20)] + [WORKER, WORKER2]

CARD_TS = "1700000000.000001"  # a card message the fake does not know: the driver sends a minimal payload
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()

BARE = ("bare default", "bare floor")
# how "ours" is deployed (--ours): the settings of its `run` process, and whether an `effects work` runs beside it
DEPLOYMENTS: dict[str, tuple[dict[str, str], bool]] = {"one": ({}, False), "split": ({"EFFECT_WORKERS": "0"}, True)}


# --- the database: schema, catalog, people and --orders orders of history ------------------------------------


def open_database(url: str | None, tmp: Path) -> Engine:
    engine = make_engine(url or f"sqlite:///{tmp / 'ack-latency.db'}")
    if url:
        SQLModel.metadata.drop_all(engine)
    init_db(engine)
    import_csv(engine, SAMPLE_CATALOG)
    return engine


@dataclass
class SeedRows:
    """Rows for every table an order touches, by model."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> list[tuple[type[SQLModel], list[dict[str, Any]]]]:
        return [(ServiceOrder, self.orders), (OrderVersion, self.versions), (LineItem, self.lines),
                (Assignment, self.assignments), (AuditEvent, self.audits), (PendingEffect, self.effects)]


# the states the seeded orders end in, with weights: most are closed, a fifth await approval
STATE_MIX = {State.COMPLETED: 45, State.APPROVED: 20, State.PENDING_APPROVAL: 20, State.REJECTED: 8,
             State.NOT_PERFORMED: 7}
CONFIRMED_SHARE = 0.3  # approved orders that got a confirmation (a version 2)


class OrderHistory:
    """Rows of orders with the histories the workflow gives them: version 0 as submitted, 1 when approved,
    2 for a confirmation; the line items of each version; field workers; an audit event per step; and every
    Slack effect of every step, done (the channel, card and PDFs exist)."""

    def __init__(self, catalog: list[CatalogEntry], rng: random.Random, now: datetime) -> None:
        clients = {e.code: e for e in catalog if e.kind == "client"}
        self.sites = [(clients[e.parent_code], e) for e in catalog if e.kind == "site" and e.parent_code]
        self.items = [e for e in catalog if e.kind in ("service", "material")]
        self.rng = rng
        self.now = now
        self.rows = SeedRows()

    def build(self, count: int) -> SeedRows:
        states, weights = list(STATE_MIX), list(STATE_MIX.values())
        for order_id in range(1, count + 1):
            at = self.now - timedelta(days=365) * (1 - order_id / count) - timedelta(days=4)  # history ends now
            self._order(order_id, self.rng.choices(states, weights)[0], at)
        return self.rows

    def _order(self, order_id: int, final: State, at: datetime) -> None:
        rng = self.rng
        client, site = rng.choice(self.sites)
        requester = rng.choice(PAST_REQUESTERS)
        order: dict[str, Any] = {
            "id": order_id, "number": order_id, "state": State.PENDING_APPROVAL.value, "revision": 0,
            "requester_id": requester,
            "client_code": client.code, "site_code": site.code,
            "requested_date": (at + timedelta(days=rng.randint(1, 20))).date(), "priority": rng.choice(PRIORITIES),
            "description": f"Job {order_id}: " + rng.choice(["replace the HVAC filters", "patch the slab",
                                                             "fix the leak in the basement", "rewire bay 4"]),
            "scheduled_date": None, "approval_notes": None, "approved_by": None, "approved_at": None,
            "closed_by": None, "closed_at": None, "close_reason": None, "current_version": 0,
            "channel_archived_at": None,
            "channel_id": f"C{order_id:010d}", "channel_name": channel_name(order_number(order_id), client.name),
            "card_ts": f"{at.timestamp():.6f}", "created_at": at, "updated_at": at,
            "pending_since": at, "pending_round": 1, "approval_level": 1, "approval_role": "supervisor",
            "approval_levels": 1,
        }
        self.rows.orders.append(order)
        lines = self._lines()
        self._version(order, Action.SUBMIT, requester, at, None, lines)
        self._step(order, Action.SUBMIT, requester, at, f"{client.name}, {site.name}; {len(lines)} item(s).",
                   [("open_channel", "channel", {}), ("invite", "invite:submit", {"users": [requester]})])
        if final == State.PENDING_APPROVAL:
            return
        reviewer = rng.choice([SUPERVISOR, COORDINATOR])
        at += timedelta(hours=3)
        if final == State.REJECTED:
            order.update(closed_by=reviewer, closed_at=at, close_reason="Duplicate of an open order",
                         channel_archived_at=self._archived(at))
            self._step(order, Action.REJECT, reviewer, at, "Reason: Duplicate of an open order")
            return
        self._approve(order, reviewer, at, lines)
        if rng.random() < CONFIRMED_SHARE:
            at += timedelta(days=1)
            lines = [{**lines[0], "quantity": lines[0]["quantity"] + 2}, *lines[1:]]
            self._version(order, Action.CONFIRM, COORDINATOR, at, "More needed on site", lines)
            self._step(order, Action.CONFIRM, COORDINATOR, at, "Version 2: more needed on site.",
                       [("upload_pdf", "pdf:v2", {"version": 2})])
        if final in (State.COMPLETED, State.NOT_PERFORMED):
            at += timedelta(days=2)
            action = Action.COMPLETE if final == State.COMPLETED else Action.NOT_PERFORM
            order.update(closed_by=COORDINATOR, closed_at=at, close_reason="Done, site clean",
                         channel_archived_at=self._archived(at))
            self._step(order, action, COORDINATOR, at, "Note: Done, site clean")

    def _archived(self, closed_at: datetime) -> datetime | None:
        """When the bot archived the channel of an order closed then (ARCHIVE_AFTER_DAYS' default), if by now:
        the history as the bot leaves it, so its first reminder sweep has no years of channels to archive."""
        archived = closed_at + timedelta(days=7)
        return archived if archived <= self.now else None

    def _approve(self, order: dict[str, Any], reviewer: str, at: datetime, lines: list[dict[str, Any]]) -> None:
        workers = self.rng.sample(PAST_WORKERS, self.rng.randint(1, 2))
        order.update(scheduled_date=(at + timedelta(days=2)).date(), approval_notes="Gate code 4521",
                     approved_by=reviewer, approved_at=at)
        self._version(order, Action.APPROVE, reviewer, at, "Gate code 4521", lines)
        self.rows.assignments += [{"order_id": order["id"], "user_id": w, "added_in_version": 1} for w in workers]
        self._step(order, Action.APPROVE, reviewer, at, f"Version 1. Field workers: {len(workers)}.",
                   [("invite", "invite:v1", {"users": workers}), ("upload_pdf", "pdf:v1", {"version": 1})])

    def _lines(self) -> list[dict[str, Any]]:
        picked = self.rng.sample(self.items, self.rng.randint(1, 4))
        lines = [{"kind": e.kind, "code": e.code, "description": e.name, "unit": e.unit, "unit_price": e.unit_price,
                  "quantity": Decimal(self.rng.randint(1, 20))} for e in picked]
        if self.rng.random() < 0.2:
            lines.append({"kind": "free", "code": None, "description": "Skip hire", "unit": "unit",
                          "unit_price": Decimal(80), "quantity": Decimal(1)})
        return lines

    def _version(self, order: dict[str, Any], action: Action, author: str, at: datetime, note: str | None,
                 lines: list[dict[str, Any]]) -> None:
        version_id = len(self.rows.versions) + 1
        number = 0 if action == Action.SUBMIT else order["current_version"] + 1
        self.rows.versions.append({
            "id": version_id, "order_id": order["id"], "number": number, "action": action.value,
            "author_id": author, "created_at": at, "note": note, "scheduled_date": order["scheduled_date"],
            "pdf_file_id": f"F{version_id:09d}" if number else None})
        fields = ("kind", "code", "description", "unit", "unit_price", "quantity")
        self.rows.lines += [{"version_id": version_id, "position": position, **{k: line[k] for k in fields}}
                            for position, line in enumerate(lines)]
        order["current_version"] = number

    def _step(self, order: dict[str, Any], action: Action, actor: str, at: datetime, detail: str,
              effects: list[tuple[str, str, dict[str, Any]]] | None = None) -> None:
        transition = BY_ACTION[action]
        source = None if action == Action.SUBMIT else order["state"]
        if action != Action.SUBMIT:
            order["revision"] += 1
        order.update(state=transition.target.value, updated_at=at)
        self.rows.audits.append({
            "order_id": order["id"], "at": at, "actor_id": actor, "action": action.value, "from_state": source,
            "to_state": transition.target.value, "version": order["current_version"],
            "detail": StepFacts(action, actor, legacy=detail).dumps()})
        revision = order["revision"]
        message_key = "message:review" if action == Action.SUBMIT else f"message:{revision}"
        for kind, key, payload in [*(effects or []), ("card", f"card:{revision}", {}),
                                   ("message", message_key, Message(StepFacts(action, actor)).to_json())]:
            self.rows.effects.append({
                "order_id": order["id"], "kind": kind, "key": f"{order['id']}:{key}", "payload": json.dumps(payload),
                "status": "done", "attempts": 1, "last_error": None, "not_before": at, "created_at": at,
                "done_at": at + timedelta(seconds=1)})


def seed(engine: Engine, count: int) -> tuple[SeedRows, float]:
    """People, roles and `count` orders, in bulk inserts (one transaction). Returns the rows and the seconds."""
    start = time.perf_counter()
    with Session(engine) as session:
        catalog = list(session.exec(select(CatalogEntry)))
    rows = OrderHistory(catalog, random.Random(42), datetime.now(UTC)).build(count)
    people = {**PEOPLE, **{u: f"Past Person {u[-2:]}" for u in PAST_REQUESTERS + PAST_WORKERS if u not in PEOPLE}}
    grants = [*ROLES.items(), *((u, Role.REQUESTER) for u in PAST_REQUESTERS if u not in ROLES),
              *((u, Role.FIELD_WORKER) for u in PAST_WORKERS if u not in ROLES)]
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(Person), [{"user_id": u, "name": n, "updated_at": now} for u, n in people.items()])
        connection.execute(insert(RoleGrant), [{"user_id": u, "role": r.value} for u, r in grants])
        for model, table_rows in rows.tables():
            if table_rows and engine.dialect.name == "postgresql":
                copy_rows(connection, model, table_rows)
            elif table_rows:
                connection.execute(insert(model), table_rows)
        # the workspace's numbering counts on from the seeded orders, as if it had given their numbers
        connection.execute(insert(OrderNumbering), [{"last": len(rows.orders)}])
        if engine.dialect.name == "postgresql":  # explicit ids: move the id sequences past them
            for model in (ServiceOrder, OrderVersion):
                table = model.__tablename__
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
    analyze(engine)
    return rows, time.perf_counter() - start


def analyze(engine: Engine) -> None:
    """The planner's statistics for the seeded rows, before any app is measured: otherwise the bot's own ANALYZE
    (SQLite, a minute after it starts) or autovacuum (PostgreSQL) would come in the middle of one deployment's
    run and leave the next one the better plans."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def copy_rows(connection: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Rows of one shape into `model`'s table by PostgreSQL's COPY, each column the rows lack at its Core default
    (an id they lack is the sequence's). Seeding 100,000 orders took 133 s with INSERTs, 65 s with COPY."""
    table = model.__table__  # type: ignore[attr-defined]
    columns = [c for c in table.columns if c.name in rows[0] or c.default is not None]
    absent = {c.name: c.default.arg(None) if c.default.is_callable else c.default.arg
              for c in columns if c.name not in rows[0]}
    names = ", ".join(f'"{c.name}"' for c in columns)
    with connection.connection.dbapi_connection.cursor() as cursor, \
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([row[c.name] if c.name in row else absent[c.name] for c in columns])


def count_orders(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(ServiceOrder)).one()


# --- the requests: SlackDriver's payloads, recorded, then signed and sent by one client ----------------------


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str


class PayloadRecorder(SlackDriver):
    """A SlackDriver that keeps the request it would send instead of sending it."""

    recorded: Payload

    def post(self, raw_body: bytes, content_type: str = "application/json", signed: bool = True,
             timestamp: int | None = None, headers: dict[str, str] | None = None) -> InboundResult:
        self.recorded = Payload(raw_body, content_type)
        return InboundResult(200, {}, "", 0.0)

    def record(self, send: Callable[[], object]) -> Payload:
        send()
        return self.recorded


@dataclass(frozen=True)
class Kind:
    name: str
    next_payload: Callable[[], Payload]


def request_kinds(recorder: PayloadRecorder, pending: list[tuple[int, str]],
                  submissions: Callable[[], Payload]) -> list[Kind]:
    """The three kinds; each command and click gets a fresh trigger_id and response_url, each click the next
    order pending approval (so each app sees the same sequence)."""
    if not pending:
        raise SystemExit("no seeded order is pending approval, so there is no card to click: seed more orders")
    cards = itertools.cycle(pending)

    def command() -> Payload:
        return recorder.record(lambda: recorder.command(REQUESTER, "/order"))

    def click() -> Payload:
        order_id, channel_id = next(cards)
        return recorder.record(lambda: recorder.click(SUPERVISOR, channel_id, CARD_TS, "order_approve",
                                                      value=f"{order_id}:0", block_id="order_steps"))

    return [Kind("/order command", command), Kind("order_approve click", click),
            Kind("submit_order form", submissions)]


def from_new_modals(submission: Payload) -> Callable[[], Payload]:
    """The recorded submission as if each came from a modal of its own. The bot keys a new order on the view
    id (the same view again is Slack retrying, answered with the order it already made), so each sample gets
    a fresh id; the rest of the payload is the same form with the same values."""
    payload = json.loads(parse_qs(submission.body.decode())["payload"][0])
    numbers = itertools.count(1)

    def next_payload() -> Payload:
        view_id = f"VBENCH{next(numbers):06d}"
        fresh = {**payload, "view": {**payload["view"], "id": view_id, "root_view_id": view_id}}
        # encoded as SlackDriver encodes an interaction payload
        return Payload(f"payload={quote(json.dumps(fresh))}".encode(), submission.content_type)

    return next_payload


def submission_payload(ws: LocalWorkspace, recorder: PayloadRecorder) -> Payload:
    """Open the real form with /order, fill it in as a person does, and record its view_submission."""
    ack = ws.slack.command(REQUESTER, "/order")
    assert ack.status == 200 and not ack.text, ack.text
    view = ws.wait_for_view(REQUESTER, "submit_order")
    values = {
        "client": ws.pick(REQUESTER, view, "client", "peñ"),
        "site": ws.pick(REQUESTER, view, "site", "presidentes"),
        "requested_date": {"requested_date": date(SOON)},
        "priority": {"priority": static("normal")},
        "description": {"description": plain_text("Replace the HVAC filters; patch the slab.")},
        "free_items": {"free_items": plain_text("1 | Skip hire | unit | 80")},
        "item_0": ws.pick(REQUESTER, view, "item_0", "hvac"),
        "qty_0": {"quantity": number("3")},
        "item_1": ws.pick(REQUESTER, view, "item_1", "cement"),
        "qty_1": {"quantity": number("10")},
    }
    return recorder.record(lambda: recorder.submit(REQUESTER, view, values))


def pending_cards(rows: SeedRows) -> list[tuple[int, str]]:
    return [(o["id"], o["channel_id"]) for o in rows.orders if o["state"] == State.PENDING_APPROVAL]


class AckError(RuntimeError):
    pass


class Client:
    """Sequential signed POSTs to one server: one keep-alive connection, or a new one per request."""

    def __init__(self, port: int, fresh_connections: bool) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.fresh_connections = fresh_connections
        self.connects = 0
        self.verifier = SignatureVerifier(SIGNING_SECRET)

    def headers(self, payload: Payload) -> dict[str, str]:
        ts = str(int(time.time()))
        return {"Content-Type": payload.content_type, "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": self.verifier.generate_signature(timestamp=ts, body=payload.body)}

    def ack_seconds(self, payload: Payload) -> float:
        """Send one request; the seconds from sending it to having read the whole ack."""
        headers = self.headers(payload)
        if self.connection.sock is None:
            self.connects += 1
        start = time.perf_counter()
        self.connection.request("POST", EVENTS_PATH, body=payload.body, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if self.fresh_connections:
            self.connection.close()
        if response.status != 200 or body:
            raise AckError(f"expected an empty 200 ack, got HTTP {response.status}: {body[:300]!r}")
        return elapsed


def send_each(port: int, fresh: bool, gap: float, requests: PipeEnd) -> None:
    """The client process: each payload `requests` brings is sent, and the ack's seconds (or the AckError)
    sent back; None ends it, answered with the connections opened."""
    client = Client(port, fresh)
    try:
        while (payload := requests.recv()) is not None:
            try:
                requests.send(client.ack_seconds(payload))
            except (AckError, OSError, http.client.HTTPException) as error:
                requests.send(AckError(f"{type(error).__name__}: {error}"))
                return
            if gap:
                time.sleep(gap)
        requests.send(client.connects)
    except EOFError:  # the bench stopped early
        pass
    finally:
        client.connection.close()


def measure(port: int, kinds: list[Kind], samples: int, warmup: int, fresh: bool, gap: float
            ) -> tuple[dict[str, list[float]], int]:
    """Round-robin over the kinds; returns the kept seconds per kind and how many connections were opened.
    Each request is built here when it is due (its trigger_id lives 3 s) and sent from a process of its own,
    as Slack sends them from its own machines: in this one the fake Slack answers the bot's effects meanwhile,
    and a client sharing its GIL would time the fake's work too (up to a 5 ms switch interval per wait)."""
    spawn = multiprocessing.get_context("spawn")
    here, there = spawn.Pipe()
    client = spawn.Process(target=send_each, args=(port, fresh, gap, there), name="ack-client", daemon=True)
    client.start()
    there.close()  # the child's end: if the child dies, reading here ends instead of waiting for ever

    def answer() -> Any:
        if not here.poll(30):
            raise AckError("the client process answered nothing in 30 s")
        return here.recv()

    kept: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    try:
        for round_number in range(warmup + samples):
            for kind in kinds:
                here.send(kind.next_payload())
                if isinstance(seconds := answer(), AckError):
                    raise seconds
                if round_number >= warmup:
                    kept[kind.name].append(seconds)
        here.send(None)
        connects = answer()
    except EOFError:
        client.join(timeout=5)
        raise AckError(f"the client process ended (exit code {client.exitcode})") from None
    finally:
        here.close()  # a client still waiting for a request ends
        client.join(timeout=10)
        if client.is_alive():
            client.terminate()
    return kept, connects


# --- the apps --------------------------------------------------------------------------------------------


def _ack_only(ack: Ack) -> None:
    ack()


def bare_app(api_url: str, token: str, process_before_response: bool) -> App:
    app = App(signing_secret=SIGNING_SECRET, client=WebClient(base_url=api_url, token=token),
              token_verification_enabled=False, process_before_response=process_before_response)
    app.command("/order")(_ack_only)
    app.action("order_approve")(_ack_only)
    app.view("submit_order")(_ack_only)
    return app


@contextmanager
def served(app: App) -> Iterator[int]:
    """Serve a Bolt app the way bot.server.HttpServer serves ours (waitress, same thread count, stopped from
    inside its loop), through Bolt's own WSGI adapter; yields the port."""
    sockets: dict[int, Any] = {}
    server = create_server(SlackRequestHandler(app, path=EVENTS_PATH), map=sockets, host="127.0.0.1", port=0,
                           threads=WAITRESS_THREADS)
    thread = threading.Thread(target=server.run, name="bare-http", daemon=True)
    thread.start()

    def close_all() -> None:
        server.task_dispatcher.shutdown()
        wasyncore.close_all(sockets)

    try:
        yield server.effective_port
    finally:
        server.trigger.pull_trigger(close_all)
        thread.join(timeout=10)


# --- the report ----------------------------------------------------------------------------------------------


Results = dict[str, dict[str, Stats]]  # app -> kind -> stats


def print_header(args: argparse.Namespace, engine: Engine) -> None:
    db = engine.url.render_as_string(hide_password=True) if args.database_url else "SQLite file in a temp dir"
    version = engine.dialect.server_version_info
    print(f"Ack latency: Service Orders vs bare Bolt · {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine  : {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {platform.platform()}")
    print(f"software : Python {platform.python_version()}, slack_bolt {slack_bolt.version.__version__}, "
          f"waitress {WAITRESS_THREADS} threads")
    print(f"database : {db} ({engine.dialect.name} {'.'.join(map(str, version or ()))})")
    connections = "a new connection per request" if args.fresh_connections else "one keep-alive connection"
    print(f"method   : {args.samples} samples per kind after {args.warmup} warm-up rounds, round-robin, "
          f"one client process, {connections}, gap {args.gap_ms:g} ms")


def print_table(results: Results, kinds: list[str]) -> None:
    print(f"\n{'request':<22}{'app':<14}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}   (ms)")
    for kind in kinds:
        for n, app in enumerate(results):
            s = results[app][kind]
            print(f"{kind if n == 0 else '':<22}{app:<14}"
                  f"{s.median:>9.2f}{s.p90:>9.2f}{s.p99:>9.2f}{s.max:>9.2f}")


def ours_of(results: Results) -> list[str]:
    return [app for app in results if app not in BARE]


def print_ratios(results: Results, kinds: list[str]) -> None:
    print(f"\n{'ours / baseline':<36}{'vs bare default':>24}{'vs bare floor':>24}")
    print(f"{'':<36}{'median':>12}{'p99':>12}{'median':>12}{'p99':>12}")
    for kind in kinds:
        default, floor = results["bare default"][kind], results["bare floor"][kind]
        for app in ours_of(results):
            ours = results[app][kind]
            print(f"{kind + ', ' + app:<36}{ours.median / default.median:>11.2f}x{ours.p99 / default.p99:>11.2f}x"
                  f"{ours.median / floor.median:>11.2f}x{ours.p99 / floor.p99:>11.2f}x")


def print_targets(results: Results, kinds: list[str]) -> None:
    print(f"\nTargets (ours within {TARGET_RATIO}x of the bare app, on the median; ours' p99 at most "
          f"{TARGET_P99_MS:g} ms):")
    for app in ours_of(results):
        for baseline, label in (("bare default", "bare Bolt, defaults"),
                                ("bare floor", "bare Bolt, process_before_response (the floor)")):
            ratios = {k: results[app][k].median / results[baseline][k].median for k in kinds}
            worst = max(ratios, key=ratios.__getitem__)
            verdict = "MET" if ratios[worst] <= TARGET_RATIO else "NOT MET"
            print(f"  {app:<13} within {TARGET_RATIO}x of {label:<48} {verdict:<8} (worst: {worst}, "
                  f"{ratios[worst]:.2f}x)")
        p99 = {k: results[app][k].p99 for k in kinds}
        worst = max(p99, key=p99.__getitem__)
        verdict = "MET" if p99[worst] <= TARGET_P99_MS else "NOT MET"
        print(f"  {app:<13} {'p99 at most ' + format(TARGET_P99_MS, 'g') + ' ms':<63} {verdict:<8} "
              f"(worst: {worst}, {p99[worst]:.2f} ms)")


def log_problems(log_file: Path) -> list[str]:
    return [line for line in log_file.read_text(errors="replace").splitlines()
            if " WARNING " in line or " ERROR " in line]


# --- the run ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="kept samples per request kind (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up rounds, discarded (default 30)")
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the database (default 10000)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (its tables are dropped!); default: SQLite, temp")
    parser.add_argument("--fresh-connections", action="store_true", help="a new TCP connection per request")
    parser.add_argument("--gap-ms", type=float, default=0.0, help="pause between requests (default 0)")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds each deployment gets to run its effects after its last ack (default 20)")
    parser.add_argument("--log-dir", type=Path, help="keep the bots' logs there (default: a temp dir, removed)")
    parser.add_argument("--ours", default="one,split",
                        help="how ours is deployed, one or more of one, split, local, comma-separated; one and split "
                             "may repeat, e.g. one,split,split,one (default one,split)")
    args = parser.parse_args(argv)
    if args.samples < 2 or args.warmup < 0:
        parser.error("--samples must be at least 2 and --warmup at least 0")
    args.ours = [name.strip() for name in args.ours.split(",") if name.strip()]
    unknown = [name for name in args.ours if name not in (*DEPLOYMENTS, "local")]
    if unknown or not args.ours or args.ours.count("local") > 1:
        parser.error(f"--ours takes one, split or local, comma-separated, local at most once (not "
                     f"{', '.join(unknown) or ','.join(args.ours) or 'nothing'})")
    return args


@dataclass
class Background:
    """What each deployment of ours did of its submissions' Slack effects. They are paced to Slack's real tiers
    (conversations.create: 20 a minute), so a run's hundreds of orders owe Slack many minutes of calls: each
    deployment gets --settle seconds after its last ack, then what is left is cancelled, so that none of it
    runs behind the next deployment's acks."""

    said: list[str] = field(default_factory=list)

    def settle(self, name: str, engine: Engine, since_order: int, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while pending_effects(engine) and time.perf_counter() < deadline:
            time.sleep(0.05)
        with Session(engine) as session:
            done, owed = (session.exec(select(func.count()).select_from(PendingEffect).where(
                PendingEffect.order_id > since_order, PendingEffect.status == status)).one()
                for status in ("done", "pending"))
        self.said.append(f"ours ({name}): {done} Slack effects done by {seconds:g} s after its last ack, "
                         f"{owed} still owed (paced to Slack's tiers), cancelled")

    @staticmethod
    def cancel(engine: Engine) -> None:
        with engine.begin() as connection:
            connection.execute(update(PendingEffect).where(PendingEffect.status == "pending")
                               .values(status="cancelled"))


def run_apps(ws: LocalWorkspace, args: argparse.Namespace, rows: SeedRows, log_dir: Path
             ) -> tuple[Results, list[str], Background]:
    recorder = PayloadRecorder(ws.slack.bot_url, SIGNING_SECRET, ws.fake)
    # one sequence of new modals for every app: a view id sent again is Slack retrying, not a new order
    submissions = from_new_modals(submission_payload(ws, recorder))
    pending = pending_cards(rows)
    results: Results = {}
    kinds: list[str] = []
    background = Background()

    def run(name: str, port: int) -> None:
        kept, connects = measure(port, request_kinds(recorder, pending, submissions), args.samples, args.warmup,
                                 args.fresh_connections, args.gap_ms / 1000)
        results[name] = {kind: Stats.of(seconds) for kind, seconds in kept.items()}
        kinds[:] = list(kept)
        print(f"  {name:<13} measured ({connects} connection(s))", flush=True)

    for name, before_response in (("bare default", False), ("bare floor", True)):
        with served(bare_app(ws.fake.api_url, ws.fake.bot_token, before_response)) as port:
            run(name, port)
    url = ws.engine.url.render_as_string(hide_password=False)
    assert ws.bot is not None
    if "local" not in args.ours:  # the workspace's bot runs nothing of the bot processes' effects
        ws.bot.ctx.effects.stop(10)
    # local last: its effect runner, once started, runs on in this process
    for position, name in enumerate(order := sorted(args.ours, key=lambda name: name == "local")):
        label = name if args.ours.count(name) == 1 else f"{name} #{order[:position + 1].count(name)}"
        before = count_orders(ws.engine)
        if name == "local":  # the workspace's own bot, its effect runner started only now
            ws.bot.start_background(Settings.effect_retry_seconds)
            run(label, urlsplit(ws.url).port or 0)
            background.settle(label, ws.engine, before, args.settle)
        else:
            settings, worker = DEPLOYMENTS[name]
            with bot_processes(url, ws.fake, log_dir, run=len(results), count=1, secret=SIGNING_SECRET,
                               worker=worker, settings={"EFFECT_RETRY_SECONDS": "15", **settings}) as (bot,):
                run(label, bot.port)
                background.settle(label, ws.engine, before, args.settle)
        background.cancel(ws.engine)
        if (submitted := count_orders(ws.engine) - before) != args.warmup + args.samples:
            raise AckError(f"ours ({label}) acked {args.warmup + args.samples} submissions but stored {submitted} "
                           "new orders")
    return results, kinds, background


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ack-latency-") as tmp_dir:
        tmp = Path(tmp_dir)
        log_file = tmp / "bot.log"  # the bot logs at INFO as `service-orders run` does, to a file here
        logging.basicConfig(level=logging.INFO, filename=log_file,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        engine = open_database(args.database_url, tmp)
        print_header(args, engine)
        rows, seconds = seed(engine, args.orders)
        print(f"seeding  : {len(rows.orders):,} orders ({len(rows.versions):,} versions, {len(rows.lines):,} line "
              f"items, {len(rows.audits):,} audit events, {len(rows.effects):,} done effects) in {seconds:.1f} s",
              flush=True)
        # the fake Slack, the people and the form to submit; its bot runs effects only for --ours local
        with LocalWorkspace(engine, PEOPLE) as ws:
            log_dir = args.log_dir or tmp
            log_dir.mkdir(parents=True, exist_ok=True)
            results, kinds, background = run_apps(ws, args, rows, log_dir)
            opened = len(ws.fake.opened_views)
        print_table(results, kinds)
        print_ratios(results, kinds)
        print_targets(results, kinds)
        print("\n" + "\n".join(background.said) + f"\n{opened} modals opened in the fake")
        problems = [p for log in (log_file, *sorted(log_dir.glob("run*.log"))) for p in log_problems(log)]
        print(f"bot logs : {len(problems)} warnings/errors" + "".join(f"\n    {p}" for p in problems[:5]))
        engine.dispose()
    return 0


if __name__ == "__main__":
    with serving(TEAM):  # what it seeds and reads is the fake workspace's
        sys.exit(main())
