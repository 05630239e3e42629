"""Effects paced to Slack's rate-limit tiers, so that they seldom meet a 429, and held back by one when they do.

Slack limits each Web API method per workspace and app (docs.slack.dev/apis/web-api/rate-limits): Tier 1 allows
1+ calls a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, "brief bursts allowed"; chat.postMessage allows one
message a second per channel. Over the limit Slack answers HTTP 429 with `Retry-After: <seconds>`.

The pacer keeps a token bucket per (workspace, method), per channel for chat.postMessage: its burst is the tier's
count a minute, so ten orders at once do not wait three seconds each for conversations.create, and it refills at
that count a minute. A call that would go over is not made: it is `Deferred` by the seconds until a token is due.
A call Slack answers 429 is deferred by its `Retry-After`, and so is every call of its method when the tier looks
like what Slack refuses: our pace near it, or several 429s in a row (`hold`). The effect runner then puts
the effect back in the queue for that moment; no worker sleeps, and other methods and orders go on. A deferred
call books its token (by its effect's id, the `ticket`), so a hundred deferred effects come back one slot apart
and each finds its token waiting, rather than all at once to be deferred again.

Each process paces on its own: two processes may together go over a tier, and each learns of it from its 429s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Calls a minute per tier: Slack's published floors ("20+"), and for chat.postMessage its "1 message per second"
# to a channel. auth.test is "hundreds a minute" (Special): 600, as slackapi/java-slack-sdk's
# MethodsRateLimitTier.java reads it.
PER_MINUTE: dict[str, int] = {"t1": 1, "t2": 20, "t3": 50, "t4": 100, "auth.test": 600, "chat.postMessage": 60}

# The tier of each method the effects call, from the `rate_limits` field of Slack's method pages
# (tests/reference/slack/slack-api-ref-methods/<method>.json; tests/test_pacing.py checks they agree, and for
# the four methods that copy lacks, conversations.history, .open, .kick and users.conversations, Tier 3 as
# slack-ruby/slack-api-ref's docs.slack.dev/methods/<method>.json gives them).
TIERS: dict[str, str] = {
    "auth.test": "auth.test",
    "chat.postEphemeral": "t4",
    "chat.postMessage": "chat.postMessage",
    "chat.update": "t3",
    "conversations.archive": "t2",
    "conversations.create": "t2",
    "conversations.history": "t3",
    "conversations.info": "t3",
    "conversations.invite": "t3",
    "conversations.kick": "t3",
    "conversations.members": "t4",
    "conversations.open": "t3",
    "files.completeUploadExternal": "t4",
    "files.getUploadURLExternal": "t4",
    "files.info": "t4",
    "users.conversations": "t3",
    "users.info": "t4",
    "users.lookupByEmail": "t3",
    "views.publish": "t4",
}
PER_CHANNEL = frozenset({"chat.postMessage"})  # limited per channel, not per workspace
# Refill a little under the tier: Slack's bucket started when our first call reached it, a moment after ours did,
# and a call that reaches it sooner than the one before it (a new connection is slower) must still find a token.
REFILL = 0.95


class Deferred(Exception):
    """A call not made now: its method is over its pace, or Slack answered 429. `wait`: real seconds until it
    may be made."""

    def __init__(self, method: str, wait: float, refused: bool = False) -> None:
        super().__init__(f"{method}: {'ratelimited by Slack' if refused else 'paced'}, due in {wait:.2f} s")
        self.method = method
        self.wait = wait
        self.refused = refused  # Slack answered 429 (rather than the pacer holding it back)


_EPSILON = 1e-9  # float noise in clock arithmetic must not cost a slot
ROOMY = 0.5  # a 429 while more than this share of the burst is left is about the call, not the tier (`hold`)
IN_A_ROW = 4  # 429s in a row that say the tier is spent after all (`hold`): 1 in 120 when Slack refuses 30 % at random
FORGET_EVERY = 1000  # buckets made between two sweeps of the idle ones
BOOKING_KEPT = 60.0  # real seconds a booked token waits past its slot for its effect (another process may run it)


@dataclass
class _Bucket:
    tokens: float  # below 0: tokens booked ahead
    at: float  # Slack time of the last refill
    held_until: float = 0.0  # real time before which nothing goes (a 429's Retry-After)
    booked: dict[int, tuple[float, int]] = field(default_factory=dict)  # ticket: when its tokens are due, how many
    refused: int = 0  # 429s in a row, since Slack last answered a call


class Pacer:
    """Token buckets per workspace and method. `speed`: Slack seconds per real second, for a bench against a
    fake Slack whose tiers run faster (sandbox/slackfake/tiers.py); 1 in production."""

    def __init__(self, speed: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._created = 0  # buckets made: every FORGET_EVERY, the idle ones are dropped
        self._lock = threading.Lock()

    @staticmethod
    def _key(workspace: str, method: str, channel: object) -> tuple[str, str, str]:
        return workspace, method, str(channel or "") if method in PER_CHANNEL else ""

    def take(self, workspace: str, method: str, channel: object = None, ticket: int | None = None,
             need: int = 1) -> float:
        """Take a token for one call: 0 when it may go now, else the real seconds until it may. With a `ticket`
        the tokens are booked for then, `need` of them (an effect that made calls of this method before the one
        deferred makes them again when it comes back), and the same ticket's calls find them."""
        tier = TIERS.get(method)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key := self._key(workspace, method, channel))
            if bucket is not None and bucket.held_until > now + _EPSILON:
                return bucket.held_until - now
            if tier is None:  # no figure: only a 429 holds it back
                return 0.0
            rate = PER_MINUTE[tier] / 60 * REFILL  # tokens a Slack second
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=PER_MINUTE[tier], at=now * self.speed)
                self._forget_idle(now)
            if ticket is not None and (booking := bucket.booked.get(ticket)) is not None:
                due, left = booking
                if due > now + _EPSILON:
                    return due - now
                if left > 1:
                    bucket.booked[ticket] = (due, left - 1)
                else:
                    del bucket.booked[ticket]
                return 0.0  # its token was taken when it was booked
            self._refill(bucket, PER_MINUTE[tier], now)
            if bucket.tokens >= 1 - _EPSILON:
                bucket.tokens -= 1
                return 0.0
            need = max(1, need)
            wait = (need - bucket.tokens) / rate / self.speed
            if ticket is not None:
                bucket.tokens -= need
                bucket.booked[ticket] = (now + wait, need)
                if len(bucket.booked) > 100:  # bookings whose effect never came back (another process ran it)
                    for stale, (due, _) in list(bucket.booked.items()):
                        if due + BOOKING_KEPT < now:
                            del bucket.booked[stale]
            return wait

    def _refill(self, bucket: _Bucket, burst: int, now: float) -> None:
        bucket.tokens = min(burst, bucket.tokens + (now * self.speed - bucket.at) * burst / 60 * REFILL)
        bucket.at = now * self.speed

    def _forget_idle(self, now: float) -> None:
        """Now and then, the buckets that are back to a full burst with nothing held or booked: one per channel
        posted in would otherwise stay for the life of the process."""
        self._created += 1
        if self._created % FORGET_EVERY:
            return
        for key, bucket in list(self._buckets.items()):
            tier = TIERS.get(key[1])
            if tier is None or bucket.booked or bucket.held_until > now:
                continue
            self._refill(bucket, PER_MINUTE[tier], now)
            if bucket.tokens >= PER_MINUTE[tier] - _EPSILON:
                del self._buckets[key]

    def answered(self, workspace: str, method: str, channel: object = None) -> None:
        """Slack answered a call (not 429): the 429s in a row end."""
        with self._lock:
            if (bucket := self._buckets.get(self._key(workspace, method, channel))) is not None:
                bucket.refused = 0

    def hold(self, workspace: str, method: str, channel: object, seconds: float) -> bool:
        """Slack answered a call 429, to ask again in `seconds` (its Retry-After); the refused call's token comes
        back (Slack did not count it). The whole method waits those seconds (True) when the tier looks like what
        Slack refuses: our own pace has used half the burst or more, or Slack has refused IN_A_ROW of its calls in
        a row (another process spending the same tier). Otherwise Slack refused that call for a reason of its
        own (busy): that call waits and the method goes on (False). Either way the bucket keeps its tokens and
        bookings: a 429 says when to ask again, not how many calls are left."""
        now = self._clock()
        tier = TIERS.get(method)
        with self._lock:
            key = self._key(workspace, method, channel)
            bucket = self._buckets.setdefault(key, _Bucket(tokens=PER_MINUTE[tier] if tier else 0.0,
                                                           at=now * self.speed))
            bucket.refused += 1
            spent_elsewhere = bucket.refused >= IN_A_ROW
            if tier is not None:
                burst = PER_MINUTE[tier]
                if bucket.held_until <= now:  # refilled to now, as `take` does
                    self._refill(bucket, burst, now)
                bucket.tokens = min(burst, bucket.tokens + 1)
                if bucket.tokens > burst * ROOMY and not spent_elsewhere:
                    return False
            bucket.held_until = max(bucket.held_until, now + seconds)
            return True
