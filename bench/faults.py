"""Faults: how late each order's card is when Slack answers 30 % of calls 429 (Retry-After: 1) and 5 % 500.

Issue 19's fault benchmark. Two real bot processes (`service-orders run --http`, started by bench/load.py's
bot_processes, as tests/test_processes.py starts them) share one PostgreSQL database and make their Web API
calls to a FakeSlack in this process. The fake does not enforce the tiers: the bots run at Slack's real rates
(their own pacing, if they have it, at speed 1), so the bursts are sized to what the real tiers allow.

Before the clock, each of --clients requesters opens the real new-order form with /order (on bot n % 2) and
fills it in; the fake is healthy then. Then the fake starts failing the bots' calls (`FakeSlack.chaos`, seeded:
--rate-429 answered 429 with Retry-After: 1, --rate-500 answered HTTP 500, the upload leg included), and
--rounds times, --orders submissions of those forms go out at once (each from a modal of its own, client n to
bot n % 2). A round ends when every order's card is in the fake; the next one starts --gap seconds (60) after the
round began, as Slack's tiers allow: conversations.create is Tier 2, 20 a minute per workspace, so a burst of 20
orders a minute is what Slack lets any app make channels for (back to back, the later rounds would measure the
tier, not the faults).

Each card's delay is from its submission's ack (read by the client) to the moment the fake stored the card
(`Message.stored_at`; the fake runs in this process, so both are this process's time.monotonic()). It prints
p50, p95 and max per round and over every round (goal: p95 at most 5 s), the 429s and 500s the fake gave,
and, once every effect is done (Slack healthy again), bench/load.py's checks: nothing lost or repeated. The
`floor` line counts the 429s in each card's chain (its conversations.create, conversations.invite, posts and
their looks up to the card): each asks for Retry-After (1 s) before that call again, time no client that obeys
Slack saves; then the delays less those seconds, at most the bot's own part (a lower bound of the 429s' cost:
a wait for a method held after other orders' 429s is not counted). Last, for the --explain slowest cards, their 429s and
each effect of the order's chain up to its card, with how long after the step it was done and its failed tries.

Run (from the project root, PostgreSQL on 127.0.0.1:5432):

  psql -h 127.0.0.1 -U postgres -c 'create database faults_bench'   # once
  .venv/bin/python bench/faults.py                                   # 3 rounds of 20 orders
  .venv/bin/python bench/faults.py --rounds 10 --log-dir /tmp/faults-logs

--database-url drops every table of that database and recreates ours (as tests/conftest.py does).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

from effects import arrivals, recorded_submission, submit_at_once  # beside this script
from load import (
    SECRET,
    BotProcess,
    ClientResult,
    Person,
    bot_processes,
    log_problems,
    pending_effects,
    print_checks,
    requester,
    seed,
    start_fake,
    stored_order,
    verify,
)
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.settings import Settings
from sandbox.local import TEAM
from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import FakeSlack
from storage.models import PendingEffect, ServiceOrder
from storage.scope import serving
from workflow.vocabulary import order_number

RETRY_AFTER = 1  # seconds, in each 429 the fake answers
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/faults_bench"
TARGET_P95 = 5.0


def chaos_kinds(rate_429: float, rate_500: float) -> tuple[str, ...]:
    """The fake's chaos kinds, each as many times as its share: FakeSlack.chaos picks one of them at random
    for each call that fails (30 % and 5 %: six "429" for each "500")."""
    if not rate_500:
        return ("429",)
    if not rate_429:
        return ("500",)
    weight = Fraction(rate_429 / rate_500).limit_denominator(20)
    return ("429",) * weight.numerator + ("500",) * weight.denominator


def cards_in(engine: Engine, order_ids: list[int], timeout: float) -> bool:
    """Until every order's card is recorded (the fake stored it just before), polling every 50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            carded = session.exec(select(ServiceOrder.id).where(col(ServiceOrder.id).in_(order_ids),
                                                                col(ServiceOrder.card_ts).is_not(None))).all()
        if len(carded) == len(order_ids):
            return True
        time.sleep(0.05)
    return False


def quantiles(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max (NaN for none)."""
    ordered = sorted(seconds)
    if not ordered:
        return float("nan"), float("nan"), float("nan")
    if len(ordered) < 2:
        return ordered[0], ordered[0], ordered[0]
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return statistics.median(ordered), cuts[94], ordered[-1]


def failures(fake: FakeSlack, since: int) -> Counter[str]:
    """The calls since the `since`-th that the fake failed, by HTTP status."""
    return Counter(str(c.status) for c in fake.calls[since:] if c.status in (429, 500))


def refused_in_chain(engine: Engine, fake: FakeSlack, order_ids: list[int]) -> dict[int, int]:
    """How many 429s each order's chain got up to its card: its conversations.create calls (any of its names),
    and its conversations.invite, conversations.history (a look after a lost post) and chat.postMessage calls in
    its channel, up to the card. Each asks the bot to wait Retry-After (1 s here) before that call again. A
    lower bound of what Slack's 429s cost the card: a look-up with no channel (users.conversations) is not
    counted, nor a wait for the method held after other orders' 429s."""
    with Session(engine) as session:
        orders = session.exec(select(ServiceOrder).where(col(ServiceOrder.id).in_(order_ids))).all()
    by_prefix = {f"{order_number(o.number).lower()}-": o.id for o in orders}
    by_channel = {o.channel_id: o.id for o in orders}
    cards = {o.card_ts for o in orders}
    refused: Counter[int] = Counter()
    carded: set[int] = set()
    for call in fake.calls:
        if call.method == "conversations.create":
            name = str(call.args.get("name") or "")
            order_id = next((o for prefix, o in by_prefix.items() if name.startswith(prefix)), None)
        elif call.method in ("conversations.invite", "conversations.history", "chat.postMessage"):
            order_id = by_channel.get(call.args.get("channel"))
        else:
            continue
        if order_id is None or order_id in carded:
            continue
        refused[order_id] += call.status == 429
        if call.method == "chat.postMessage" and call.response.get("ts") in cards:
            carded.add(order_id)  # the card, as the order records it
    return {order_id: refused[order_id] for order_id in order_ids}


def explain(engine: Engine, delays: dict[int, float], refused: dict[int, int], count: int) -> None:
    """Where the slowest cards' time went: each effect of the order's chain up to its card, done how long after
    the step wrote it (deferrals for Slack's pace count no try; `tries` are failed tries), and its last error."""
    slowest = sorted(delays, key=delays.__getitem__, reverse=True)[:count]
    if not slowest:
        return
    print(f"slowest  : the {len(slowest)} slowest cards, the 429s in their chain, each chain effect's time to "
          "done and failed tries")
    with Session(engine) as session:
        for order_id in slowest:
            effects = session.exec(select(PendingEffect).where(PendingEffect.order_id == order_id)
                                   .order_by(col(PendingEffect.id))).all()
            chain = []
            for effect in effects:
                took = (effect.done_at - effect.created_at).total_seconds() if effect.done_at else float("nan")
                failed = effect.attempts - 1  # a done effect's count includes the try that did it
                tries = f", {failed} failed ({(effect.last_error or '')[:40]})" if failed > 0 else ""
                chain.append(f"{effect.kind} {took:.1f} s{tries}")
                if effect.kind == "card":
                    break
            print(f"    {order_number(order_id)} {delays[order_id]:.2f} s, {refused[order_id]} 429s: "
                  + "; ".join(chain))


def run_rounds(args: argparse.Namespace, engine: Engine, fake: FakeSlack, bots: list[BotProcess]) -> int:
    persons = [Person(engine, fake, SlackDriver(bots[n % len(bots)].url, SECRET, fake)) for n in range(args.clients)]
    forms = [recorded_submission(person, requester(n), n) for n, person in enumerate(persons)]
    since = len(fake.calls)
    kinds = chaos_kinds(args.rate_429, args.rate_500)
    fake.chaos(args.rate_429 + args.rate_500, seed=args.seed, kinds=kinds, retry_after=RETRY_AFTER)
    delays: list[float] = []
    all_orders: list[int] = []
    by_order: dict[int, float] = {}
    late = 0
    began = time.monotonic()
    for number in range(1, args.rounds + 1):
        if number > 1:  # the tiers' minute since the last round began
            time.sleep(max(0.0, began + args.gap - time.monotonic()))
            began = time.monotonic()
        submitted = submit_at_once([p.slack for p in persons], forms, args.orders, prefix=f"VR{number:03d}")
        order_ids = [stored_order(engine, s.view_id) for s in submitted]
        all_orders += order_ids
        complete = cards_in(engine, order_ids, args.timeout)
        arrived = arrivals(engine, fake, order_ids)
        found = [arrived[o].card - s.acked for o, s in zip(order_ids, submitted, strict=True)
                 if arrived[o].card is not None]
        by_order |= {o: arrived[o].card - s.acked for o, s in zip(order_ids, submitted, strict=True)
                     if arrived[o].card is not None}
        late += len(order_ids) - len(found)
        delays += found
        p50, p95, most = quantiles(found)
        print(f"  round {number:<3}: {len(order_ids)} orders acked in {submitted[-1].acked - submitted[0].sent:.2f} s;"
              f" card delay p50 {p50:.2f} s, p95 {p95:.2f} s, max {most:.2f} s"
              + ("" if complete else f"; {len(order_ids) - len(found)} cards not in after {args.timeout:g} s"),
              flush=True)
    failed = failures(fake, since)
    calls = len(fake.calls) - since
    start = time.monotonic()
    while pending_effects(engine) and time.monotonic() - start < args.timeout:
        time.sleep(0.1)
    fake.chaos(0)
    drained = time.monotonic() - start
    time.sleep(2)  # a second runner doing something again would show now
    checks = verify(engine, fake, [ClientResult(orders=all_orders)], args.clients)
    print(f"  effects  : none pending {drained:.1f} s after the last round's cards" if not pending_effects(engine)
          else f"  effects  : {pending_effects(engine)} still pending {args.timeout:g} s after the last round")
    print_checks(checks)
    p50, p95, most = quantiles(delays)
    print(f"\ncards    : {len(delays)} of {len(all_orders)} orders' cards, delay from the submission's ack: p50 "
          f"{p50:.2f} s, p95 {p95:.2f} s, max {most:.2f} s; {sum(1 for d in delays if d > TARGET_P95)} over "
          f"{TARGET_P95:g} s")
    refused = refused_in_chain(engine, fake, list(by_order))
    r50, r95, r_most = quantiles([float(n) for n in refused.values()])
    own = quantiles([by_order[o] - refused[o] * RETRY_AFTER for o in by_order])
    print(f"floor    : 429s in each card's chain (create, invite, card and their looks): p50 {r50:g}, p95 {r95:g}, "
          f"max {r_most:g}; the delay less {RETRY_AFTER:g} s for each (at most the bot's own part): p50 "
          f"{own[0]:.2f} s, p95 {own[1]:.2f} s, max {own[2]:.2f} s")
    print(f"slack    : {calls} calls from the bots while failing, {failed['429']} answered 429 "
          f"({failed['429'] / max(1, calls):.0%}), {failed['500']} answered 500 ({failed['500'] / max(1, calls):.0%})")
    explain(engine, by_order, refused, args.explain)
    met = not late and p95 <= TARGET_P95 and all(c.ok for c in checks)
    print(f"target   : {'MET' if met else 'NOT MET'} (p95 at most {TARGET_P95:g} s, every card in, nothing lost or "
          "repeated)")
    return 0 if met else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20, help="orders submitted at once in each round (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="bursts, one after the other's cards (default 3)")
    parser.add_argument("--gap", type=float, default=60.0,
                        help="seconds from one round's start to the next's, as the tiers allow (default 60)")
    parser.add_argument("--clients", type=int, default=20, help="requesters, client n on bot n %% 2 (default 20)")
    parser.add_argument("--rate-429", type=float, default=0.3, help="share of calls answered 429 (default 0.3)")
    parser.add_argument("--rate-500", type=float, default=0.05, help="share of calls answered 500 (default 0.05)")
    parser.add_argument("--seed", type=int, default=19, help="the failures' random seed (default 19)")
    parser.add_argument("--retry-seconds", type=float, default=Settings.effect_retry_seconds,
                        help="the bots' EFFECT_RETRY_SECONDS (default: the setting's default, "
                             f"{Settings.effect_retry_seconds:g})")
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"SQLAlchemy URL; its tables are dropped! (default {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for a round's cards, and for the effects at the end (default 300)")
    parser.add_argument("--explain", type=int, default=5, help="say where the N slowest cards' time went (default 5)")
    parser.add_argument("--log-dir", type=Path, help="keep the bots' logs there (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    if args.explain < 0 or args.clients < 1 or args.orders < 1 or args.rounds < 1 or not args.retry_seconds > 0:
        parser.error("--clients, --orders and --rounds must be at least 1, --retry-seconds above 0, --explain at "
                     "least 0")
    if min(args.rate_429, args.rate_500) < 0 or args.rate_429 + args.rate_500 > 1:
        parser.error("--rate-429 and --rate-500 must be at least 0, and at most 1 together")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="faults-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    engine = seed(args.database_url, args.clients)
    version = ".".join(map(str, engine.dialect.server_version_info or ()))
    print(f"Faults: {args.rounds} x {args.orders} orders at once, two bot processes · "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine  : {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    print(f"database : {engine.url.render_as_string(hide_password=True)} ({engine.dialect.name} {version})")
    print(f"slack    : tiers not enforced; {args.rate_429:.0%} of the bots' calls answered 429 "
          f"(Retry-After: {RETRY_AFTER}), "
          f"{args.rate_500:.0%} answered 500 (seed {args.seed}); EFFECT_RETRY_SECONDS={args.retry_seconds:g}",
          flush=True)
    fake = start_fake(args.clients)
    try:
        with bot_processes(args.database_url, fake, log_dir, 1,
                           settings={"EFFECT_RETRY_SECONDS": f"{args.retry_seconds:g}"}) as bots:
            code = run_rounds(args, engine, fake, bots)
        for n, bot in enumerate(bots, 1):
            warnings, errors = log_problems(bot.log_path)
            print(f"bot log  : bot {n}: {warnings} warnings, {len(errors)} errors (slack_sdk logs each failed call)")
    finally:
        fake.stop()
        engine.dispose()
        if args.log_dir is None:
            shutil.rmtree(log_dir, ignore_errors=True)
    return code


if __name__ == "__main__":
    with serving(TEAM):  # what it seeds and reads is the fake workspace's
        sys.exit(main())
