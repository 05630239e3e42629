"""Effects under Slack's rate limits (issue 19 item 1): each method paced per workspace to its tier, a 429
putting the effect back in the queue for its Retry-After (no try counted, no worker asleep), the rest going on,
and App Home refreshes after the chain, one publish per viewer for all that are due."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.effects import EffectRunner
from bot.pacing import PER_CHANNEL, PER_MINUTE, REFILL, TIERS, Pacer
from sandbox.local import LocalWorkspace
from sandbox.slackfake import tiers as fake_tiers
from storage.models import PendingEffect
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE

SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
METHOD_PAGES = Path(__file__).parent / "reference" / "slack" / "slack-api-ref-methods"


class Clock:
    """The pacer's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the table ---------------------------------------------------------------------------------------------


def test_each_method_has_the_tier_slacks_method_page_gives() -> None:
    for method, tier in TIERS.items():
        page = METHOD_PAGES / f"{method}.json"
        if page.exists():  # the four the copy lacks are cited in bot/pacing.py
            published = json.loads(page.read_text())["rate_limits"]
            assert (tier if tier.startswith("t") else "t5") == published, method
    # the fake enforces the same figures
    assert all(PER_MINUTE[tier] == fake_tiers.per_minute(method) for method, tier in TIERS.items())
    assert PER_CHANNEL == fake_tiers.PER_CHANNEL


def test_the_effects_call_no_method_the_table_lacks() -> None:
    called = set()
    for source in Path(__file__).parent.parent.joinpath("bot").rglob("gateway.py"):
        for line in source.read_text().splitlines():
            if '_call("' in line:
                called.add(line.split('_call("', 1)[1].split('"', 1)[0])
    assert called - {"auth.test", "views.open", "views.update"} <= set(TIERS), called - set(TIERS)


# --- the buckets -------------------------------------------------------------------------------------------


def test_a_burst_of_the_tiers_count_then_a_token_every_60_over_count_seconds() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert [pacer.take("T1", "conversations.create") for _ in range(20)] == [0.0] * 20  # Tier 2: 20 a minute
    gap = 3.0 / REFILL  # a hair over 3 s: see REFILL
    assert pacer.take("T1", "conversations.create") == pytest.approx(gap)
    clock.now += gap
    assert pacer.take("T1", "conversations.create") == 0.0
    assert pacer.take("T1", "conversations.create") == pytest.approx(gap)


def test_per_workspace_per_method_and_chat_post_message_per_channel() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(20):
        pacer.take("T1", "conversations.create")
    assert pacer.take("T1", "conversations.create") > 0
    assert pacer.take("T2", "conversations.create") == 0.0  # another workspace
    assert pacer.take("T1", "chat.update") == 0.0  # another method
    for _ in range(60):
        assert pacer.take("T1", "chat.postMessage", "C1") == 0.0
    assert pacer.take("T1", "chat.postMessage", "C1") == pytest.approx(1.0 / REFILL)  # one a second in a channel
    assert pacer.take("T1", "chat.postMessage", "C2") == 0.0


def test_deferred_calls_book_one_slot_each_and_find_their_token_there() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(20):
        pacer.take("T1", "conversations.create")
    gap = 3.0 / REFILL
    waits = [pacer.take("T1", "conversations.create", ticket=effect) for effect in (7, 8, 9)]
    assert waits == pytest.approx([gap, 2 * gap, 3 * gap])
    assert pacer.take("T1", "conversations.create", ticket=8) == pytest.approx(2 * gap)  # early: still its slot
    clock.now += 2 * gap
    assert pacer.take("T1", "conversations.create", ticket=8) == 0.0  # its own token, taken when booked
    assert pacer.take("T1", "conversations.create", ticket=7) == 0.0
    assert pacer.take("T1", "conversations.create") == pytest.approx(2 * gap)  # after 9's slot


def test_a_429_near_the_tier_holds_the_method_for_its_retry_after_and_keeps_its_tokens() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(60):  # Tier 4: 100 a minute, 40 left
        pacer.take("T1", "views.publish")
    assert pacer.hold("T1", "views.publish", None, 30) is True
    assert pacer.take("T1", "views.publish") == pytest.approx(30.0)
    assert pacer.take("T1", "chat.update") == 0.0 and pacer.take("T2", "views.publish") == 0.0
    clock.now += 30
    # a 429 says when, not how many: 40 left, the refused call's back, and 30 s of refill (47.5 tokens)
    assert [pacer.take("T1", "views.publish") for _ in range(88)] == [0.0] * 88
    assert pacer.take("T1", "views.publish") > 0


def test_a_429_far_from_the_tier_is_about_that_call_only() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(5):
        pacer.take("T1", "conversations.create")  # 15 of Tier 2's 20 left: Slack refused for a reason of its own
    assert pacer.hold("T1", "conversations.create", None, 30) is False
    assert pacer.take("T1", "conversations.create") == 0.0  # the method goes on; the refused call waits 30 s


def test_a_deferred_effect_books_what_it_will_make_again() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(49):  # Tier 3: 50 a minute, one left
        pacer.take("T1", "conversations.open")
    assert pacer.take("T1", "conversations.open", ticket=7) == 0.0  # its first person's direct message
    wait = pacer.take("T1", "conversations.open", ticket=7, need=2)  # the second: none left, put back
    assert wait == pytest.approx(2 * 1.2 / REFILL)  # two tokens: the first call is made again when it comes back
    clock.now += wait
    assert [pacer.take("T1", "conversations.open", ticket=7) for _ in range(2)] == [0.0, 0.0]
    assert pacer.take("T1", "conversations.open") > 0  # they were booked, not free


def test_429s_in_a_row_hold_the_method() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    # refused now and then (Slack busy): each refused call waits alone
    assert [pacer.hold("T1", "conversations.invite", None, 5) for _ in range(3)] == [False] * 3
    pacer.answered("T1", "conversations.invite")
    assert [pacer.hold("T1", "conversations.invite", None, 5) for _ in range(3)] == [False] * 3
    # a fourth in a row: the tier, spent elsewhere (another process): the method waits
    assert pacer.hold("T1", "conversations.invite", None, 5) is True
    assert pacer.take("T1", "conversations.invite") == pytest.approx(5.0)


def test_a_faster_slack_refills_faster() -> None:
    clock = Clock()
    pacer = Pacer(speed=60, clock=clock)  # a Slack minute a second
    for _ in range(20):
        pacer.take("T1", "conversations.create")
    assert pacer.take("T1", "conversations.create") == pytest.approx(3.0 / REFILL / 60)
    with pytest.raises(ValueError):
        Pacer(speed=0)


# --- the bot ------------------------------------------------------------------------------------------------


@pytest.fixture
def ws(seeded: Engine) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def submit(ws: LocalWorkspace, description: str) -> int:
    ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=SOON,
                    description=description)
    return ws.latest_order_id()


def effect(ws: LocalWorkspace, order_id: int, kind: str) -> PendingEffect:
    with Session(ws.engine) as session:
        return session.exec(select(PendingEffect).where(PendingEffect.order_id == order_id,
                                                        PendingEffect.kind == kind)).one()


def test_a_429_puts_the_effect_back_for_its_retry_after_and_other_methods_go_on(ws: LocalWorkspace) -> None:
    first = submit(ws, "One")
    ws.settle()
    ws.fake.fail_next("conversations.create", retry_after=30)  # Slack: not for 30 s
    second = submit(ws, "Two")
    ws.wait(lambda: ws.fake.calls_to("conversations.create")[-1].status == 429, "the 429")
    ws.approve(SUPERVISOR, first, workers=[WORKER], scheduled=SOON)  # its card, message and PDF: other methods
    ws.wait(lambda: effect(ws, first, "upload_pdf").status == "done", "the first order's PDF")
    waiting = effect(ws, second, "open_channel")
    # back in the queue, not in a worker's hands: no try counted, due when Slack said, claimed by nobody
    assert (waiting.status, waiting.attempts, waiting.claimed_until, waiting.claimed_by) == ("pending", 0, None,
                                                                                            None)
    assert len(ws.fake.calls_to("conversations.create")) == 2  # held: not asked again meanwhile
    card = effect(ws, second, "card")  # claimed with it, let go untried: it waits, and will be tried as new
    assert (card.status, card.claimed_by, card.attempts) == ("pending", None, 0)


def test_a_put_back_effect_runs_when_due_though_a_later_one_waits_longer(ws: LocalWorkspace) -> None:
    # no retry pass runs here (LocalWorkspace starts none): only the runner's own alarm brings effects back
    ws.fake.fail_next("conversations.create", retry_after=30)
    first = submit(ws, "One")
    ws.wait(lambda: effect(ws, first, "open_channel").claimed_until is None
            and ws.fake.calls_to("conversations.create"), "the first order's channel put back for 30 s")
    ws.fake.fail_next("conversations.invite", retry_after=1)
    second = submit(ws, "Two")
    ws.wait(lambda: effect(ws, second, "card").status == "done", "the second order's card, a second after its 429")
    assert effect(ws, second, "invite").attempts == 1 and effect(ws, first, "open_channel").status == "pending"


def test_an_order_waiting_for_its_put_back_effect_gives_a_worker_nothing_to_claim(ws: LocalWorkspace) -> None:
    # `effects work` on SQLite looks with due() four times a second; a drain (a write transaction, SQLite's one
    # writer lock, which acks need) only when it would claim something
    ws.fake.fail_next("conversations.create", retry_after=30)
    order = submit(ws, "One")
    ws.wait(lambda: effect(ws, order, "open_channel").claimed_until is None and effect(ws, order, "home").status
            == "done" and ws.fake.calls_to("conversations.create"), "the channel put back, App Home published")
    assert ws.bot is not None and ws.bot.ctx.effects.wait_idle(10)
    pending = {e.kind for e in effects_of(ws, order) if e.status == "pending"}
    assert {"open_channel", "invite", "card"} <= pending  # due by their time, but waiting for the channel
    assert not ws.bot.ctx.effects.due()


def effects_of(ws: LocalWorkspace, order_id: int) -> list[PendingEffect]:
    with Session(ws.engine) as session:
        return list(session.exec(select(PendingEffect).where(PendingEffect.order_id == order_id)))


def test_a_refused_look_up_of_who_was_invited_does_not_hold_up_the_card(ws: LocalWorkspace) -> None:
    # the invite learns who it brought in as a head start; Slack refusing that for a minute changes nothing now.
    # The requester is learnt first (opening the form), so the refused look-up is one of the invite's.
    assert ws.slack.command(REQUESTER, "/order").status == 200
    ws.slack.close(REQUESTER, ws.wait_for_view(REQUESTER, "submit_order"))
    ws.wait(lambda: [c for c in ws.fake.calls_to("users.info") if c.args.get("user") == REQUESTER], "the requester")
    looked_up = len(ws.fake.calls_to("users.info"))
    ws.fake.fail_next("users.info", retry_after=60)
    order = submit(ws, "One")
    ws.wait(lambda: effect(ws, order, "card").status == "done", "the card, without waiting out the 429")
    invite = effect(ws, order, "invite")
    assert (invite.status, invite.attempts) == ("done", 1)
    later = ws.fake.calls_to("users.info")[looked_up:]
    assert [c.status for c in later][:1] == [429]  # the invite's first look-up, refused
    assert later[0].args.get("user") in {SUPERVISOR, COORDINATOR}  # one of the invited reviewers
    invited = ws.fake.calls_to("conversations.invite")
    assert invited and ws.fake.calls.index(invited[-1]) < ws.fake.calls.index(later[0])


def test_a_failed_look_up_of_who_was_invited_is_skipped_not_retried(ws: LocalWorkspace) -> None:
    # a 500 on a look-up the invite can do without: skipped at once, where the SDK's handler would sleep and ask
    # again (0.5 s and more) while the card waits
    assert ws.slack.command(REQUESTER, "/order").status == 200
    ws.slack.close(REQUESTER, ws.wait_for_view(REQUESTER, "submit_order"))
    ws.wait(lambda: [c for c in ws.fake.calls_to("users.info") if c.args.get("user") == REQUESTER], "the requester")
    looked_up = len(ws.fake.calls_to("users.info"))
    ws.fake.fail_next("users.info", status=500, error="internal_error")
    order = submit(ws, "One")
    ws.wait(lambda: effect(ws, order, "card").status == "done", "the card")
    assert (effect(ws, order, "invite").status, effect(ws, order, "invite").attempts) == ("done", 1)
    later = ws.fake.calls_to("users.info")[looked_up:]
    failed = later[0]
    assert failed.status == 500
    assert [c.args.get("user") for c in later[1:]].count(failed.args.get("user")) == 0  # not asked again


def test_paced_to_the_tiers_no_429_and_every_card_posted(seeded: Engine) -> None:
    speed = 60  # a Slack minute a second
    with LocalWorkspace(seeded, PEOPLE, pacer=Pacer(speed=speed)) as ws:
        ws.fake.enforce_tiers(speed=speed)
        orders = [submit(ws, f"Order {n}") for n in range(25)]  # conversations.create: a burst of 20, then 3 s each
        ws.settle(timeout=30)
        # paced: at most one 429 as Slack's bucket and ours settle (our first call reached it a moment late)
        assert sum(ws.fake.tier_429s().values()) <= 1
        assert all(effect(ws, order, "card").status == "done" for order in orders)
        assert len(ws.fake.calls_to("conversations.create")) == 25


def test_app_home_refreshes_wait_for_the_chain_and_each_viewer_is_published_once(ws: LocalWorkspace) -> None:
    assert ws.slack.event({"type": "app_home_opened", "user": SUPERVISOR, "tab": "home"}).status == 200
    ws.settle()
    assert ws.bot is not None
    ws.bot.ctx.effects.stop(5)  # the bot's runner stops; the steps below only queue their effects
    orders = [submit(ws, f"Order {n}") for n in range(5)]
    before = len(ws.fake.calls)
    runner = EffectRunner(ws.engine, ws.bot.ctx.gateway, ws.letterhead, workers=1)  # one at a time: an order
    try:  # is never in flight in another worker while this one finds no chain effect due
        runner.kick()
        assert runner.wait_idle(30)
    finally:
        runner.shutdown()
    methods = [call.method for call in ws.fake.calls[before:]]
    publishes = [call for call in ws.fake.calls[before:] if call.method == "views.publish"]
    assert [call.args["user_id"] for call in publishes] == [SUPERVISOR]  # one, for five orders' refreshes
    assert methods.index("views.publish") > max(i for i, m in enumerate(methods) if m == "chat.postMessage")
    assert all(effect(ws, order, "home").status == "done" for order in orders)
    assert f"home_pending_{orders[-1]}" in json.dumps(ws.fake.home_view(SUPERVISOR))  # the latest state


def test_within_the_window_a_step_waits_for_its_app_home_refresh(ws: LocalWorkspace) -> None:
    assert ws.slack.event({"type": "app_home_opened", "user": SUPERVISOR, "tab": "home"}).status == 200
    ws.settle()
    assert ws.bot is not None
    ws.bot.ctx.effects.stop(5)  # the steps below only queue their effects, for the runner made here
    runner = EffectRunner(ws.engine, ws.bot.ctx.gateway, ws.letterhead, workers=1, home_window=60)
    try:
        first = submit(ws, "One")
        before = len(ws.fake.calls_to("views.publish"))
        runner.kick()
        assert runner.wait_idle(30)
        assert len(ws.fake.calls_to("views.publish")) == before + 1  # the window opens with a publish
        second = submit(ws, "Two")
        runner.kick()
        assert runner.wait_idle(30)
        assert effect(ws, second, "card").status == "done"  # its chain runs
        assert effect(ws, second, "home").status == "pending"  # its refresh waits for the window to end
        assert len(ws.fake.calls_to("views.publish")) == before + 1
        assert effect(ws, first, "home").status == "done"
    finally:
        runner.stop(5)
