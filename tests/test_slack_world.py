"""Slack's answers lost, and Slack's world changing under the bot: nothing is done twice, and an order
keeps working or says what an admin must do.

A "lost" answer is Slack doing the call and the connection then closing without an answer (a timeout): the
bot cannot tell whether the channel was made, the card posted or the PDF shared, so it looks before it
tries again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from sandbox.local import LocalWorkspace, manifest_scopes
from sandbox.slackfake.server import LOST
from storage.models import OrderVersion, PendingEffect
from tests.conftest import COORDINATOR, REQUESTER, SUPERVISOR, WORKER, WORKER2
from tests.test_end_to_end import PEOPLE

SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


class Clocked(LocalWorkspace):
    """A workspace whose clock the test moves, so effect backoffs pass without sleeping."""

    def __init__(self, engine, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.now = datetime.now(UTC)
        super().__init__(engine, PEOPLE, clock=lambda: self.now, **kwargs)

    def settle(self, timeout: float = 30.0) -> None:
        for _ in range(12):  # past each backoff, as the retry job would
            assert self.bot is not None and self.bot.ctx.effects.wait_idle(timeout)
            if self.pending_effects() == 0:
                return
            self.now += timedelta(minutes=6)
            self.bot.ctx.effects.kick()
        raise TimeoutError(f"{self.pending_effects()} effects still pending")


@pytest.fixture
def ws(seeded) -> Iterator[Clocked]:  # type: ignore[no-untyped-def]
    with Clocked(seeded) as workspace:
        yield workspace


def submit(ws: Clocked, description: str = "Lost answers") -> int:
    ack = ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "2")], requested=SOON,
                          description=description)
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    return ws.latest_order_id()


def order_channels(ws: Clocked, order_id: int) -> list[str]:
    prefix = f"so-{order_id:06d}"
    return [c.id for c in ws.fake.channels.values() if c.name.startswith(prefix)]


def cards(ws: Clocked, channel_id: str) -> list[str]:
    return [m.ts for m in ws.fake.channels[channel_id].messages if m.blocks and m.blocks[0].get("type") == "header"]


def shared_pdfs(ws: Clocked, channel_id: str) -> list[str]:
    return [ws.fake.files[f].name for m in ws.fake.channels[channel_id].messages for f in m.files]


def effects(ws: Clocked) -> list[PendingEffect]:
    with Session(ws.engine) as session:
        return list(session.exec(select(PendingEffect).order_by(PendingEffect.id)))


# --- lost answers ----------------------------------------------------------------------------------------

def test_a_channel_made_but_not_answered_is_found_not_made_again(ws: Clocked) -> None:
    ws.fake.fail_next("conversations.create", "lost", status=LOST)
    order_id = submit(ws)
    assert [c.status for c in ws.fake.calls_to("conversations.create")] == [0]  # made once, answered never
    assert order_channels(ws, order_id) == [ws.order(order_id).channel_id]
    assert ws.order(order_id).channel_name == "so-000001-acme-facilities-ltd"
    assert len(cards(ws, ws.order(order_id).channel_id)) == 1


def test_a_taken_name_of_someone_elses_channel_is_not_adopted(ws: Clocked) -> None:
    ws.fake.add_channel("so-000001-acme-facilities-ltd")  # a person's channel, which the bot is not in
    ws.fake.fail_next("conversations.create", "lost", status=LOST)  # the answer for -2 is lost
    order_id = submit(ws)
    assert ws.order(order_id).channel_name == "so-000001-acme-facilities-ltd-2"
    assert len(order_channels(ws, order_id)) == 2  # the person's and ours: no third


def test_a_card_posted_but_not_answered_is_not_posted_again(ws: Clocked) -> None:
    ws.fake.fail_next("chat.postMessage", "lost", status=LOST)
    order_id = submit(ws)
    channel = ws.order(order_id).channel_id
    assert cards(ws, channel) == [ws.order(order_id).card_ts]
    assert [c.status for c in ws.fake.calls_to("chat.postMessage")][:1] == [0]


def test_a_pdf_shared_but_not_answered_is_not_shared_again(ws: Clocked) -> None:
    order_id = submit(ws)
    ws.fake.fail_next("files.completeUploadExternal", "lost", status=LOST)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    channel = ws.order(order_id).channel_id
    assert shared_pdfs(ws, channel) == ["SO-000001-v1.pdf"]
    with Session(ws.engine) as session:
        version = session.exec(select(OrderVersion).where(OrderVersion.number == 1)).one()
    assert version.pdf_file_id == ws.fake.channels[channel].messages[-1].files[0]
    assert [e.status for e in effects(ws)] == ["done"] * len(effects(ws))


def test_a_pdf_shared_late_and_not_answered_is_not_shared_again(ws: Clocked) -> None:
    # Slack shares a file after answering: when the answer is lost, the channel's history does not show the
    # share yet, however long the bot waits (here: past every retry's backoff)
    order_id = submit(ws)
    ws.fake.delay_shares(600)
    ws.fake.fail_next("files.completeUploadExternal", "lost", status=LOST)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    channel = ws.order(order_id).channel_id
    assert shared_pdfs(ws, channel) == ["SO-000001-v1.pdf"]
    assert len(ws.fake.calls_to("files.getUploadURLExternal")) == 1
    with Session(ws.engine) as session:
        version = session.exec(select(OrderVersion).where(OrderVersion.number == 1)).one()
    assert version.pdf_file_id == ws.fake.channels[channel].messages[-1].files[0]


def test_a_pdf_shared_before_a_failure_is_not_shared_again_by_the_next_try(ws: Clocked) -> None:
    # the share's answer is lost, and Slack cannot say whether it happened (files.info failing) before the
    # share shows in the channel: the effect fails; its next try asks about the same file, by its id
    order_id = submit(ws)
    ws.fake.delay_shares(600)
    ws.fake.fail_next("files.completeUploadExternal", "lost", status=LOST)
    ws.fake.fail_next("files.info", "internal_error", status=500, times=3)  # the client's retries too
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    upload = next(e for e in effects(ws) if e.kind == "upload_pdf")
    assert (upload.status, upload.attempts) == ("done", 2)
    channel = ws.order(order_id).channel_id
    assert shared_pdfs(ws, channel) == ["SO-000001-v1.pdf"]
    assert len(ws.fake.calls_to("files.getUploadURLExternal")) == 1
    assert [c.status for c in ws.fake.calls_to("files.info")] == [500, 500, 500, 200]


def test_an_upload_whose_share_never_happened_is_shared_once(ws: Clocked) -> None:
    order_id = submit(ws)
    ws.fake.fail_next("files.completeUploadExternal", "dropped", status=0)  # no answer, and nothing done
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    assert shared_pdfs(ws, ws.order(order_id).channel_id) == ["SO-000001-v1.pdf"]
    assert [c.status for c in ws.fake.calls_to("files.completeUploadExternal")] == [0, 200]
    assert [c.response.get("error") for c in ws.fake.calls_to("files.info")] == ["file_not_found"]


def test_a_post_whose_answer_is_lost_twice_in_a_row_is_still_posted_once(ws: Clocked) -> None:
    ws.fake.fail_next("chat.postMessage", "lost", status=LOST, times=2)
    order_id = submit(ws)
    channel = ws.fake.channels[ws.order(order_id).channel_id]
    assert len(cards(ws, channel.id)) == 1
    texts = [m.text for m in channel.messages if not m.blocks]
    assert len(texts) == len(set(texts))  # the step's message once too


# --- Slack's world changes ---------------------------------------------------------------------------------

def test_an_archived_channel_moves_the_order_to_a_new_one(ws: Clocked) -> None:
    order_id = submit(ws)
    old = ws.order(order_id).channel_id
    ws.fake.archive(old)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    order = ws.order(order_id)
    assert order.state == "approved" and order.channel_id != old
    assert order.channel_name == "so-000001-acme-facilities-ltd-2"
    new = ws.fake.channels[order.channel_id]
    assert {REQUESTER, SUPERVISOR, WORKER} <= new.members
    assert cards(ws, new.id) == [order.card_ts]
    assert shared_pdfs(ws, new.id) == ["SO-000001-v1.pdf"]
    assert any("continues here" in m.text and old in m.text and "archived" in m.text for m in new.messages)
    assert shared_pdfs(ws, old) == []  # nothing went into the archived one
    assert {e.status for e in effects(ws)} == {"done"}


def test_a_private_channel_the_bot_was_removed_from_is_replaced(ws: Clocked) -> None:
    order_id = submit(ws)
    old = ws.order(order_id).channel_id
    ws.fake.remove_member(old, ws.fake.bot_user_id)
    ws.approve(COORDINATOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    new = ws.order(order_id).channel_id
    assert new != old and shared_pdfs(ws, new) == ["SO-000001-v1.pdf"]
    assert any("no longer lets the app in" in m.text for m in ws.fake.channels[new].messages)


def test_a_renamed_channel_keeps_working(ws: Clocked) -> None:
    order_id = submit(ws)
    channel = ws.order(order_id).channel_id
    ws.fake.rename(channel, "acme-hvac-job")
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
    ws.settle()
    assert ws.order(order_id).channel_id == channel
    assert shared_pdfs(ws, channel) == ["SO-000001-v1.pdf"] and len(cards(ws, channel)) == 1
    assert len(ws.fake.calls_to("conversations.create")) == 1


def test_a_deactivated_field_worker_is_named_in_the_channel(ws: Clocked) -> None:
    order_id = submit(ws)
    ws.fake.set_user(WORKER2, deleted=True)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER, WORKER2], scheduled=SOON)
    ws.settle()
    channel = ws.fake.channels[ws.order(order_id).channel_id]
    assert WORKER in channel.members and WORKER2 not in channel.members
    notices = [m.text for m in channel.messages if m.text.startswith("Could not add")]
    assert len(notices) == 1 and f"<@{WORKER2}>: their Slack account is deactivated" in notices[0]
    assert ws.order(order_id).state == "approved" and shared_pdfs(ws, channel.id) == ["SO-000001-v1.pdf"]


def test_a_missing_scope_fails_at_once_and_says_what_an_admin_must_do(seeded) -> None:  # type: ignore[no-untyped-def]
    scopes = [s for s in manifest_scopes() if s != "files:write"]
    with Clocked(seeded, scopes=scopes) as ws:
        order_id = submit(ws)
        ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
        ws.bot.ctx.effects.wait_idle(10)
        failed = [e for e in effects(ws) if e.status == "failed"]
        assert [e.kind for e in failed] == ["upload_pdf"] and failed[0].attempts == 1
        assert "lacks the scope files:write" in failed[0].last_error
        assert "reinstall the app, then run `service-orders effects retry`" in failed[0].last_error
        assert ws.order(order_id).state == "approved"  # the step stands; only the PDF waits


# --- Slack slow for one order ----------------------------------------------------------------------------

def test_a_call_slack_is_slow_to_answer_holds_up_its_own_order_only(ws: Clocked) -> None:
    # Slack makes order 1's channel and holds the answer (a slow Slack, or slack_sdk waiting out a
    # Retry-After): order 2, submitted meanwhile, gets its channel and card from another effect worker
    stall = ws.fake.stall("conversations.create")
    for description in ("First", "Second"):
        ack = ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "2")], requested=SOON,
                              description=description)
        assert ack.status == 200 and ack.text == "", ack.text
    assert stall.reached.wait(10)
    assert ws.fake.wait_for(lambda: ws.order(2).card_ts is not None, timeout=10)
    assert ws.order(1).channel_id is None  # still waiting for Slack's answer
    stall.release.set()
    ws.settle()
    assert ws.order(1).channel_id is not None and len(cards(ws, ws.order(1).channel_id)) == 1
    assert order_channels(ws, 1) == [ws.order(1).channel_id]


@pytest.mark.parametrize("value, workers", [("", 2), ("1", 1), ("32", 32), ("0", 0), ("00", 0), ("33", None),
                                            ("2.5", None), ("four", None), ("-1", None)])
def test_effect_workers_setting(value: str, workers: int | None) -> None:
    from bot.settings import Settings, SettingsError

    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "EFFECT_WORKERS": value}
    if workers is not None:
        assert Settings.from_env(env).effect_workers == workers
        return
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == f"EFFECT_WORKERS must be a whole number from 0 to 32, not '{value}'"
