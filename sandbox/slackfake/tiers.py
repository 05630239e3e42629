"""Slack's Web API rate-limit tiers, enforced by the fake only when a test or bench asks (`FakeSlack.enforce_tiers`).

Slack (docs.slack.dev/apis/web-api/rate-limits): limits are per method, per workspace, per app; Tier 1 is 1+
calls a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, "brief bursts allowed"; over the limit Slack answers HTTP
429 with `Retry-After: <seconds>` and `{"ok": false, "error": "ratelimited"}`. Modelled as a token bucket per
(workspace, method): its capacity is the tier's count a minute (the burst), it refills at count/60 a second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# Calls a minute per tier. The numbered tiers are Slack's published floors ("20+"); the special ones are the
# figures slackapi/java-slack-sdk's MethodsRateLimitTier.java uses for Slack's words "hundreds of requests per
# minute" (auth.test, chat.getPermalink) and "1 message per second to a specific channel" (chat.postMessage).
PER_MINUTE: dict[str, int] = {
    "t1": 1,
    "t2": 20,
    "t3": 50,
    "t4": 100,
    "auth.test": 600,
    "chat.getPermalink": 600,
    "chat.postMessage": 60,  # per channel
}

# Each method the fake implements and its tier, as the `rate_limits` field of Slack's method pages gives it
# (tests/reference/slack/slack-api-ref-methods/<method>.json, "t5" meaning Special; a test checks they agree).
# The four methods that copy lacks are t3 in the same scrape, slack-ruby/slack-api-ref
# docs.slack.dev/methods/<method>.json: conversations.history and .open (@ 0ae4e98), conversations.kick and
# users.conversations (@ 14d2f36).
# oauth.v2.access (Special, no figure published) is called with the app's credentials and is not limited here.
TIERS: dict[str, str] = {
    "apps.connections.open": "t3",  # per app: an app-level token belongs to no workspace
    "auth.test": "auth.test",
    "chat.getPermalink": "chat.getPermalink",
    "chat.postEphemeral": "t4",
    "chat.postMessage": "chat.postMessage",
    "chat.update": "t3",
    "conversations.archive": "t2",
    "conversations.create": "t2",
    "conversations.history": "t3",  # since 2025-05-29 1 a minute for commercially distributed non-Marketplace
    # apps (docs.slack.dev rate-limits page); ours is customer-built, which keeps Tier 3
    "conversations.info": "t3",
    "conversations.invite": "t3",
    "conversations.join": "t3",
    "conversations.kick": "t3",
    "conversations.members": "t4",
    "conversations.open": "t3",
    "files.completeUploadExternal": "t4",
    "files.getUploadURLExternal": "t4",
    "files.info": "t4",
    "files.upload": "t2",
    "users.conversations": "t3",
    "users.info": "t4",
    "users.lookupByEmail": "t3",
    "views.open": "t4",
    "views.publish": "t4",
    "views.push": "t4",
    "views.update": "t4",
}

# Methods whose limit is per channel rather than per workspace. Slack also caps chat.postMessage across a
# workspace at "several hundred messages per minute", a figure it does not publish, so the fake leaves it out.
PER_CHANNEL = frozenset({"chat.postMessage"})

_EPSILON = 1e-9  # float noise in clock arithmetic must not cost a token or add a second


def per_minute(method: str) -> int | None:
    """The method's calls a minute, or None for a method Slack publishes no figure for."""
    tier = TIERS.get(method)
    return PER_MINUTE[tier] if tier else None


@dataclass(frozen=True)
class Refusal:
    """A call the tiers answered 429: kept so tests and benches can count them."""

    team_id: str
    method: str
    channel: str | None
    retry_after: int  # seconds of the limiter's clock, as sent


@dataclass
class _Bucket:
    tokens: float
    at: float  # Slack time of the last refill


@dataclass
class TierLimiter:
    """Token buckets for every (workspace, method[, channel]), on a clock that can run `speed` times faster
    than `clock` (real seconds by default), so a bench can spend many minutes of Slack time in seconds.
    `Retry-After` is in the caller's seconds, not Slack's: the time until a token, divided by `speed`, rounded
    up and at least 1, because a client sleeps it on its own clock. Thread-safe."""

    speed: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str, str | None], _Bucket] = field(default_factory=dict)
    _refusals: list[Refusal] = field(default_factory=list)
    _start: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("speed must be above 0")
        self._start = self.clock()

    def _slack_now(self) -> float:
        return (self.clock() - self._start) * self.speed

    def admit(self, team_id: str, method: str, channel: str | None = None) -> int | None:
        """Takes a token for the call: None when there was one, else the Retry-After (seconds) to answer."""
        count = per_minute(method)
        if count is None:
            return None
        key = (team_id, method, channel if method in PER_CHANNEL else None)
        rate = count / 60  # tokens per second of Slack time
        with self._lock:
            now = self._slack_now()
            bucket = self._buckets.setdefault(key, _Bucket(float(count), now))
            bucket.tokens = min(float(count), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1 - _EPSILON:  # a token due at exactly this instant is there
                bucket.tokens = max(0.0, bucket.tokens - 1)
                return None
            wait = (1 - bucket.tokens) / rate / self.speed
            retry_after = max(1, math.ceil(wait - _EPSILON))  # float noise must not add a second
            self._refusals.append(Refusal(team_id, method, key[2], retry_after))
            return retry_after

    @property
    def refusals(self) -> list[Refusal]:
        with self._lock:
            return list(self._refusals)

    def refused(self) -> Counter[str]:
        """429s the tiers answered, by method."""
        with self._lock:
            return Counter(r.method for r in self._refusals)
