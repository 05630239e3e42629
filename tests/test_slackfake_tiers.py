"""The fake Slack at Slack's rate-limit tiers (`FakeSlack.enforce_tiers`), driven through slack_sdk's real
WebClient: a burst of the tier's count, then HTTP 429 with Retry-After; tokens back at the tier's rate, per
workspace and method (chat.postMessage per channel), on a clock the test drives."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler

from sandbox.slackfake import FakeSlack
from sandbox.slackfake.socket_mode import APP_LEVEL_METHODS
from sandbox.slackfake.tiers import PER_MINUTE, TIERS
from sandbox.slackfake.webapi import REGISTRY
from tests.conftest import SLACK_REFERENCE

TOKEN = "xoxb-test-token"


class Clock:
    """A clock the test moves by hand (seconds); `follow_real_time` lets it run with time.monotonic."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._real_from: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            if self._real_from is None:
                return self._now
            return self._now + time.monotonic() - self._real_from

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def follow_real_time(self) -> None:
        with self._lock:
            self._real_from = time.monotonic()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN, team_id="T0001") as f:
        f.add_user("U1", "sam", "Sam Supervisor")
        f.add_channel("general", members=["U1", "U0BOT"])
        f.add_channel("random", members=["U1", "U0BOT"])
        yield f


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url)


def create(client: WebClient, name: str) -> int:
    """conversations.create's HTTP status."""
    try:
        return client.conversations_create(name=name).status_code
    except SlackApiError as e:
        return e.response.status_code


def test_every_method_has_the_tier_slacks_method_page_gives(fake: FakeSlack) -> None:
    ref = SLACK_REFERENCE / "slack-api-ref-methods"
    limited = (set(REGISTRY) | set(APP_LEVEL_METHODS)) - {"oauth.v2.access"}
    assert limited == set(TIERS)
    for method, tier in TIERS.items():
        page = ref / f"{method}.json"
        if page.exists():  # "t5" is Slack's Special tier: a figure of its own, keyed by the method
            documented = json.loads(page.read_text())["rate_limits"]
            assert tier == (documented if documented != "t5" else method), method
        assert PER_MINUTE[tier] >= 1


def test_off_by_default(fake: FakeSlack, client: WebClient) -> None:
    assert [create(client, f"order-{i}") for i in range(25)] == [200] * 25
    assert fake.tier_429s() == {} and fake.tier_refusals == []


def test_a_burst_of_the_tiers_count_then_429_as_slack_answers(fake: FakeSlack, client: WebClient,
                                                             clock: Clock) -> None:
    fake.enforce_tiers(clock=clock)
    assert [create(client, f"order-{i}") for i in range(20)] == [200] * 20  # Tier 2: 20 a minute, at once
    with pytest.raises(SlackApiError) as refused:
        client.conversations_create(name="order-20")
    response = refused.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"  # a token every 60/20 s
    assert fake.channel_by_name("order-20") is None  # refused before Slack acts

    request = urllib.request.Request(fake.api_url + "conversations.create", data=b"name=order-20",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request)
    assert raw.value.code == 429 and json.loads(raw.value.read()) == {"ok": False, "error": "ratelimited"}
    assert [c.status for c in fake.calls_to("conversations.create")][-2:] == [429, 429]
    assert fake.tier_429s() == {"conversations.create": 2}
    assert [(r.team_id, r.method, r.retry_after) for r in fake.tier_refusals] == [
        ("T0001", "conversations.create", 3)] * 2


def test_tokens_come_back_at_the_tiers_rate_up_to_the_burst(fake: FakeSlack, client: WebClient,
                                                            clock: Clock) -> None:
    fake.enforce_tiers(clock=clock)
    assert [create(client, f"a-{i}") for i in range(21)] == [200] * 20 + [429]
    clock.advance(2)  # two thirds of a token
    assert create(client, "b-0") == 429
    assert fake.tier_refusals[-1].retry_after == 1  # the third left, rounded up
    clock.advance(1)
    assert [create(client, f"b-{i}") for i in range(1, 3)] == [200, 429]
    clock.advance(3600)  # an idle hour refills the bucket, no further than the burst
    assert [create(client, f"c-{i}") for i in range(21)] == [200] * 20 + [429]


def test_a_faster_clock_gives_a_minute_a_second_and_retry_after_in_real_seconds(
        fake: FakeSlack, client: WebClient, clock: Clock) -> None:
    fake.enforce_tiers(speed=60, clock=clock)
    assert [create(client, f"a-{i}") for i in range(21)] == [200] * 20 + [429]
    assert fake.tier_refusals[-1].retry_after == 1  # 3 Slack seconds are 0.05 s: at least 1
    clock.advance(0.05)
    assert [create(client, f"b-{i}") for i in range(2)] == [200, 429]
    clock.advance(1)  # a Slack minute: the whole burst again
    assert [create(client, f"c-{i}") for i in range(21)] == [200] * 20 + [429]


def test_limits_are_per_workspace_and_per_method(fake: FakeSlack, client: WebClient, clock: Clock) -> None:
    other = fake.add_workspace("T0002", "Second", installed=True)
    fake.enforce_tiers(clock=clock)
    assert [create(client, f"a-{i}") for i in range(21)] == [200] * 20 + [429]
    assert client.conversations_info(channel=fake.channel_by_name("a-0").id)["ok"]  # another method: its own
    second = WebClient(token=other.bot_token, base_url=fake.api_url)
    assert [create(second, f"a-{i}") for i in range(21)] == [200] * 20 + [429]  # its own workspace's bucket
    assert [(r.team_id, r.method) for r in fake.tier_refusals] == [("T0001", "conversations.create"),
                                                                    ("T0002", "conversations.create")]
    assert [c.status for c in other.calls_to("conversations.create")][-1] == 429


def test_chat_post_message_is_limited_per_channel(fake: FakeSlack, client: WebClient, clock: Clock) -> None:
    fake.enforce_tiers(clock=clock)
    general, random = fake.channel_by_name("general").id, fake.channel_by_name("random").id

    def post(channel: str) -> int:
        try:
            return client.chat_postMessage(channel=channel, text="hi").status_code
        except SlackApiError as e:
            return e.response.status_code

    assert [post(general) for _ in range(61)] == [200] * 60 + [429]  # 1 a second, bursts allowed
    assert fake.tier_refusals[-1].channel == general and fake.tier_refusals[-1].retry_after == 1
    assert post(random) == 200
    clock.advance(1)
    assert [post(general) for _ in range(2)] == [200, 429]


def test_slack_sdks_rate_limit_handler_waits_out_retry_after(fake: FakeSlack, clock: Clock) -> None:
    fake.enforce_tiers(clock=clock)
    plain = WebClient(token=TOKEN, base_url=fake.api_url)
    for _ in range(100):  # Tier 4
        plain.users_info(user="U1")
    retrying = WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler()])
    clock.follow_real_time()  # the handler sleeps real seconds, so the tiers' clock must run
    assert retrying.users_info(user="U1")["ok"] is True
    assert [c.status for c in fake.calls_to("users.info")][100:] == [429, 200]
    assert fake.tier_refusals[0].retry_after == 1  # 0.6 s to a token, rounded up


def test_faults_still_apply_to_the_calls_the_tiers_let_by(fake: FakeSlack, client: WebClient,
                                                          clock: Clock) -> None:
    fake.enforce_tiers(clock=clock)
    fake.fail_next("conversations.create", status=500)
    assert create(client, "a-0") == 500  # spent a token: Slack counted the call
    assert [create(client, f"a-{i}") for i in range(1, 21)] == [200] * 19 + [429]
    assert fake.tier_429s() == {"conversations.create": 1}
    fake.enforce_tiers(None)
    assert create(client, "b-0") == 200


def test_apps_connections_open_is_limited_per_app(clock: Clock) -> None:
    with FakeSlack(app_token="xapp-1") as fake:
        fake.enforce_tiers(clock=clock)
        app = WebClient(base_url=fake.api_url)
        for _ in range(50):  # Tier 3
            app.apps_connections_open(app_token="xapp-1")
        with pytest.raises(SlackApiError) as refused:
            app.apps_connections_open(app_token="xapp-1")
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers["Retry-After"] == "2"  # 1.2 s to a token
