"""The one gateway for every Slack Web API call: one retry policy, typed errors, benign errors tolerated."""

from __future__ import annotations

import itertools
import logging
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from bot.metrics import SLACK_CALLS, SLACK_DEFERRED, SLACK_ERRORS
from bot.pacing import PER_CHANNEL, Deferred, Pacer
from storage.scope import current

log = logging.getLogger(__name__)
# slack_sdk logs every failed try as an error; while Slack is awaited at start-up, the caller says it once
_QUIET = logging.getLogger(f"{__name__}.awaiting_slack")
_QUIET.setLevel(logging.CRITICAL)


class ErrorCode(StrEnum):
    NAME_TAKEN = "name_taken"
    ALREADY_IN_CHANNEL = "already_in_channel"
    CANT_INVITE_SELF = "cant_invite_self"
    MESSAGE_NOT_FOUND = "message_not_found"
    CANT_UPDATE_MESSAGE = "cant_update_message"
    NOT_IN_CHANNEL = "not_in_channel"
    CHANNEL_NOT_FOUND = "channel_not_found"
    IS_ARCHIVED = "is_archived"
    USER_NOT_FOUND = "user_not_found"
    USERS_NOT_FOUND = "users_not_found"  # users.lookupByEmail: no one in the workspace has that e-mail
    USER_DISABLED = "user_disabled"  # conversations.open with a deactivated user
    USER_NOT_IN_CHANNEL = "user_not_in_channel"
    HASH_CONFLICT = "hash_conflict"
    FILE_NOT_FOUND = "file_not_found"  # files.info: an upload never completed
    FILE_DELETED = "file_deleted"
    EXPIRED_TRIGGER = "expired_trigger_id"
    MISSING_SCOPE = "missing_scope"
    RATELIMITED = "ratelimited"
    CANT_INVITE = "cant_invite"
    IS_INACTIVE = "is_inactive"  # chat.update in an archived channel
    INVALID_CHANNEL = "invalid_channel"  # files.completeUploadExternal into an archived channel
    ALREADY_ARCHIVED = "already_archived"  # conversations.archive: someone (or an earlier try) archived it
    CONNECTION_ERROR = "connection_error"
    # Slack's own words for "not now": the call may work a moment later
    INTERNAL_ERROR = "internal_error"
    FATAL_ERROR = "fatal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    REQUEST_TIMEOUT = "request_timeout"
    # the token itself is no good: nothing will work until an admin reinstalls the app
    INVALID_AUTH = "invalid_auth"
    NOT_AUTHED = "not_authed"
    TOKEN_REVOKED = "token_revoked"
    ACCOUNT_INACTIVE = "account_inactive"
    # the app's Messages tab, where its direct messages show, is turned off in its settings
    MESSAGES_TAB_DISABLED = "messages_tab_disabled"


# Codes that retrying cannot fix: an admin must act (add a scope and reinstall, or a new token).
NEEDS_ADMIN = frozenset({ErrorCode.MISSING_SCOPE, ErrorCode.INVALID_AUTH, ErrorCode.NOT_AUTHED,
                         ErrorCode.TOKEN_REVOKED, ErrorCode.ACCOUNT_INACTIVE, ErrorCode.MESSAGES_TAB_DISABLED})
# The channel can no longer be used by the bot: archived, or the bot was removed (a private channel it is
# not in does not exist for it).
CHANNEL_GONE = frozenset({ErrorCode.IS_ARCHIVED, ErrorCode.CHANNEL_NOT_FOUND, ErrorCode.NOT_IN_CHANNEL,
                          ErrorCode.IS_INACTIVE, ErrorCode.INVALID_CHANNEL})
# Slack is down, overloaded or out of reach: worth asking again in a while.
NOT_ANSWERING = frozenset({ErrorCode.RATELIMITED, ErrorCode.INTERNAL_ERROR, ErrorCode.FATAL_ERROR,
                           ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.REQUEST_TIMEOUT})
METADATA_TYPE = "service_order_effect"  # marks what the bot posted, so a lost answer can be looked up


class SlackError(Exception):
    """A Web API call failed for good (after the retries): `code` is Slack's error code; `needed` the scope
    Slack said was missing."""

    def __init__(self, method: str, code: str, detail: str = "", needed: str | None = None) -> None:
        super().__init__(f"{method}: {code}{f' ({detail})' if detail else ''}")
        self.method = method
        self.code = code
        self.needed = needed

    @property
    def ambiguous(self) -> bool:
        """No answer, or a server error: Slack may or may not have done it."""
        return self.code == ErrorCode.CONNECTION_ERROR or self.code.startswith("http_5")

    @property
    def not_answering(self) -> bool:
        """Slack could not be reached or could not serve the call now (as opposed to refusing it)."""
        return self.ambiguous or self.code in NOT_ANSWERING

    @property
    def admin_action(self) -> str | None:
        """What an admin must do, when retrying cannot help."""
        if self.code == ErrorCode.MISSING_SCOPE:
            return (f"the Slack app lacks the scope {self.needed or '(unnamed)'} that {self.method} needs: add it "
                    "(manifest.yml lists every scope), reinstall the app, then run `service-orders effects retry`")
        if self.code == ErrorCode.MESSAGES_TAB_DISABLED:
            return ("the app's Messages tab is off, and the app's direct messages show there: turn it on (read-only "
                    "is enough; manifest.yml has it), then run `service-orders effects retry`")
        if self.code in NEEDS_ADMIN:
            return (f"Slack refused the bot token ({self.code}): reinstall the app (from /slack/install when installed "
                    "from a link; else set SLACK_BOT_TOKEN to the new token), then run `service-orders effects retry`")
        return None


def _typed(method: str, error: SlackApiError) -> SlackError:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    code = str(data.get("error") or "")
    detail = "; ".join(data.get("response_metadata", {}).get("messages", []))
    if not code or " " in code:  # not a Slack error code: slack_sdk's words for a non-JSON answer (a 5xx page)
        code, detail = f"http_{error.response.status_code}", code or detail
    return SlackError(method, code, detail, needed=data.get("needed"))


@dataclass(frozen=True)
class Identity:
    """Who the bot token is, as auth.test says: the workspace (team), its Enterprise Grid org if any, the bot."""

    team_id: str
    team_name: str
    enterprise_id: str | None
    bot_user_id: str
    bot_id: str | None


@dataclass(frozen=True)
class Profile:
    """What users.info says of a person: the name to show, their IANA time zone, and the locale their Slack
    client is in (Slack's name, like 'en-US' or 'es-LA'; asked for with include_locale)."""

    name: str
    tz: str | None
    locale: str | None


def _counted(failure: SlackError) -> SlackError:
    SLACK_ERRORS.labels(failure.method, failure.code).inc()
    return failure


class _CountedRateLimits(RateLimitErrorRetryHandler):
    """Honours Retry-After, and counts each 429 it retries (the last one, not retried, the gateway counts)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        limited = super()._can_retry(state=state, request=request, response=response, error=error)
        if limited:
            SLACK_ERRORS.labels(request.url.rsplit("/", 1)[-1], ErrorCode.RATELIMITED).inc()
        return limited


def make_client(token: str | None, api_url: str, timeout: int = 15) -> WebClient:
    """A WebClient with our retry policy: 429s honour Retry-After, 5xx and dropped connections retry."""
    client = WebClient(token=token, base_url=api_url, timeout=timeout)
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=2),
        _CountedRateLimits(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


def once_client(client: WebClient) -> WebClient:
    """The same client for calls that must not run twice (create a channel, post, share a file): only 429s
    are retried here, since Slack did nothing then. After a dropped connection or a 5xx Slack may have acted,
    so the caller looks before it tries again."""
    once = WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout)
    once.retry_handlers = [_CountedRateLimits(max_retry_count=3)]
    return once


def _unwaiting(client: WebClient) -> WebClient:
    """The same client with the 429 retry taken out: an effect's 429 is `Deferred`, never slept through."""
    paced = WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout)
    paced.retry_handlers = [h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
    return paced


@dataclass
class _Clients:
    """A workspace's clients: for the calls of a request or a command (a 429 waited through, briefly, as a person
    is waiting), and for effects' (paced, and a 429 deferred); each with its `once` twin."""

    token: str | None
    client: WebClient
    once: WebClient
    paced: WebClient
    paced_once: WebClient

    @classmethod
    def of(cls, client: WebClient) -> _Clients:
        once = once_client(client)
        return cls(client.token, client, once, _unwaiting(client), _unwaiting(once))


@dataclass
class _EffectCalls:
    """The calls of the effect being run: its id books paced tokens (bot/pacing.py); `acted` counts the calls
    that must not run twice (`once`: create a channel, post, share a file) that reached Slack and were not
    refused with a 429. 0: whatever Slack saw changed nothing, and the effect's next try need not look
    before it acts."""

    ticket: int
    acted: int = 0
    made: Counter[tuple[str, str]] = field(default_factory=Counter)  # calls made, by the pacer's bucket
    optional: bool = False  # inside `Gateway.optional()`: a deferred call is skipped, not waited for


_EFFECT: ContextVar[_EffectCalls | None] = ContextVar("effect_calls", default=None)


def _retry_after(error: SlackApiError) -> float:
    try:
        return max(1.0, float(error.response.headers.get("Retry-After") or error.response.headers.get(
            "retry-after") or 1))
    except (TypeError, ValueError):
        return 1.0


class _Refuse(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the error it is: the bot token goes to Slack's file URL and nowhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_Refuse)


# Codes that say the token itself is dead: a cached one is dropped, so the next call reads it afresh
TOKEN_REFUSED = frozenset({ErrorCode.INVALID_AUTH, ErrorCode.NOT_AUTHED, ErrorCode.ACCOUNT_INACTIVE,
                           ErrorCode.TOKEN_REVOKED})


@dataclass(frozen=True)
class InstalledBot:
    """A workspace's bot as its installation recorded it."""

    team_id: str
    bot_token: str
    bot_user_id: str
    bot_id: str | None = None
    enterprise_id: str | None = None
    scopes: tuple[str, ...] = ()


class Installed(Protocol):
    """Each workspace's bot, installed from a link (bot/installs.py)."""

    def bot(self, team_id: str) -> InstalledBot | None: ...

    def forget(self, team_id: str) -> None: ...


class Gateway:
    """Every Slack call goes through here, with the bot token of the workspace being served: the one
    SLACK_BOT_TOKEN's, or, installed from a link (`installed`), that of the workspace in scope
    (storage/scope.py). Its callers never know which."""

    def __init__(self, client: WebClient, installed: Installed | None = None, pacer: Pacer | None = None) -> None:
        self._client = client  # with `installed`: the settings (API URL, timeout) each workspace's client copies
        self._own = _Clients.of(client)
        self._installed = installed
        self._clients: dict[str, _Clients] = {}  # team: its clients, with its token
        self._bot_user_id: str | None = None
        self.pacer = pacer or Pacer()  # effects' calls, per workspace and method (bot/pacing.py)

    @property
    def client(self) -> WebClient:
        return self._clients_now().client

    @property
    def once(self) -> WebClient:
        return self._clients_now().once

    def _clients_now(self) -> _Clients:
        if self._installed is None:
            return self._own
        team = current()
        bot = self._installed.bot(team)
        if bot is None:  # uninstalled (or never installed): as Slack would answer a token it does not know
            raise _counted(SlackError("auth", ErrorCode.NOT_AUTHED, f"the app is not installed in {team}"))
        known = self._clients.get(team)
        if known is None or known.token != bot.bot_token:
            known = self._clients[team] = _Clients.of(make_client(bot.bot_token, self._client.base_url,
                                                                  self._client.timeout))
        return known

    @contextmanager
    def paced(self, ticket: int) -> Iterator[_EffectCalls]:
        """The calls made inside are an effect's (`ticket`: its id): paced to the tiers, and a 429 is `Deferred`
        rather than waited through. What it yields counts the calls that may have changed something in Slack."""
        calls = _EffectCalls(ticket)
        token = _EFFECT.set(calls)
        try:
            yield calls
        finally:
            _EFFECT.reset(token)

    @contextmanager
    def optional(self) -> Iterator[None]:
        """An effect's calls it can do without (a head start): paced as any, but one over the pace books no token
        for the effect's return, as the caller skips what is `Deferred` (or fails) rather than putting the effect
        back, and a 5xx or a dropped connection is not retried (no sleep in the effect for what it skips).
        Outside an effect, nothing changes."""
        effect = _EFFECT.get()
        before = effect.optional if effect is not None else False
        if effect is not None:
            effect.optional = True
        try:
            yield
        finally:
            if effect is not None:
                effect.optional = before

    def _call(self, method: str, *, once: bool = False, **kwargs: Any) -> dict[str, Any]:
        clients = self._clients_now()
        effect = _EFFECT.get()
        if effect is None:
            client = clients.once if once else clients.client
        else:  # an effect's: paced, its 429 deferred (the runner puts it back in the queue); one it can do
            # without is asked once, its 5xx not retried after a sleep (the caller skips whatever fails)
            client = clients.paced_once if once or effect.optional else clients.paced
            channel = kwargs.get("channel")
            made = (method, str(channel or "") if method in PER_CHANNEL else "")  # as the pacer's buckets
            # deferred, it will make this method's calls of this try again: their tokens are booked with it
            ticket = None if effect.optional else effect.ticket
            if (wait := self.pacer.take(current(), method, channel, ticket, need=effect.made[made] + 1)) > 0:
                SLACK_DEFERRED.labels(method, "paced").inc()
                raise Deferred(method, wait)
            effect.made[made] += 1
            effect.acted += once
        SLACK_CALLS.labels(method).inc()
        try:
            answer: dict[str, Any] = getattr(client, method.replace(".", "_"))(**kwargs).data
            if effect is not None:
                self.pacer.answered(current(), method, kwargs.get("channel"))
            return answer
        except SlackApiError as error:
            failure = _typed(method, error)
            if effect is not None and error.response.status_code == 429:
                effect.acted -= once  # Slack did nothing
                wait = _retry_after(error)
                self.pacer.hold(current(), method, kwargs.get("channel"), wait)  # the method too, near the tier
                _counted(failure)
                SLACK_DEFERRED.labels(method, ErrorCode.RATELIMITED).inc()
                raise Deferred(method, wait, refused=True) from error
            if self._installed is not None and failure.code in TOKEN_REFUSED:
                self._installed.forget(current())  # revoked, or replaced by a reinstall: read it again next time
            raise _counted(failure) from error
        except (SlackClientError, OSError) as error:
            raise _counted(SlackError(method, ErrorCode.CONNECTION_ERROR, str(error))) from error

    def identity(self) -> Identity:
        answer = self._call("auth.test")
        identity = Identity(team_id=str(answer["team_id"]), team_name=str(answer.get("team") or ""),
                            enterprise_id=answer.get("enterprise_id") or None, bot_user_id=str(answer["user_id"]),
                            bot_id=answer.get("bot_id"))
        self._bot_user_id = identity.bot_user_id
        return identity

    def reach(self, wait: float, waiting: Callable[[SlackError], None]) -> Identity:
        """auth.test, asked again while Slack is not answering (out of reach, 5xx, 429) for up to `wait`
        seconds; `waiting` hears of the first miss. This loop is the retry policy here: each try goes through
        a client of its own that does not retry, with a timeout within `wait`."""
        probe = Gateway(WebClient(token=self.client.token, base_url=self.client.base_url, retry_handlers=[],
                                  timeout=max(1, min(self.client.timeout, int(wait))), logger=_QUIET))
        deadline = time.monotonic() + wait
        for attempt in itertools.count():
            try:
                identity = probe.identity()
                self._bot_user_id = identity.bot_user_id
                return identity
            except SlackError as error:
                left = deadline - time.monotonic()
                if not error.not_answering or left <= 0:
                    raise
                if attempt == 0:
                    waiting(error)
                time.sleep(min(0.5 * 2 ** min(attempt, 4), left))  # 0.5 s, 1 s, 2 s, 4 s, then every 8 s
        raise AssertionError("unreachable")

    @property
    def bot_user_id(self) -> str:
        """The bot's own user id in the workspace being served."""
        if self._installed is not None:
            bot = self._installed.bot(current())
            if bot is None:
                raise _counted(SlackError("auth", ErrorCode.NOT_AUTHED, "the app is not installed here"))
            return bot.bot_user_id
        if self._bot_user_id is None:
            self._bot_user_id = self._call("auth.test")["user_id"]
        return self._bot_user_id

    def create_channel(self, name: str, private: bool) -> str:
        return self._call("conversations.create", once=True, name=name, is_private=private)["channel"]["id"]

    def my_channel(self, name: str) -> dict[str, Any] | None:
        """The channel called `name` that the bot is a member of (it created it), archived or not."""
        cursor = None
        while True:
            answer = self._call("users.conversations", types="public_channel,private_channel", limit=200,
                                **({"cursor": cursor} if cursor else {}))
            for channel in answer.get("channels") or []:
                if channel.get("name") == name:
                    return dict(channel)
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def channel_info(self, channel: str) -> dict[str, Any]:
        return dict(self._call("conversations.info", channel=channel)["channel"])

    def invite(self, channel: str, users: list[str]) -> list[tuple[str, str]]:
        """Bring people into a channel. force=true invites everyone who can be (without it, one unknown or
        deactivated id keeps everybody out); returns who could not be, with why. Already there is fine."""
        users = [u for u in dict.fromkeys(users) if u != self.bot_user_id]
        if not users:
            return []
        answer = self._call("conversations.invite", channel=channel, users=",".join(users), force=True)
        refused = [(e.get("user", "?"), e.get("error", "?")) for e in answer.get("errors") or []
                   if e.get("error") not in (ErrorCode.ALREADY_IN_CHANNEL, ErrorCode.CANT_INVITE_SELF)]
        for user, code in refused:
            log.warning("could not invite %s to %s: %s", user, channel, code)
        return refused

    def kick(self, channel: str, user: str) -> None:
        """Take someone out of a channel. Already gone (not_in_channel: they left, or a retry whose first
        answer was lost) is fine."""
        try:
            self._call("conversations.kick", channel=channel, user=user)
        except SlackError as error:
            if error.code != ErrorCode.NOT_IN_CHANNEL:
                raise

    def archive(self, channel: str) -> None:
        """Archive a channel (channels:manage for a public one, groups:write for a private one). Already
        archived (by a person, or a try whose answer was lost) is fine."""
        try:
            self._call("conversations.archive", channel=channel)
        except SlackError as error:
            if error.code != ErrorCode.ALREADY_ARCHIVED:
                raise

    def post(self, channel: str, text: str, blocks: list[dict] | None = None, key: str | None = None,
             thread_ts: str | None = None) -> str:
        """Post a message (a reply in a thread, given its `thread_ts`). With a `key`, at most once: the message
        carries the key as metadata, and after an answer that never came the channel's history says whether it
        was posted."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if blocks is not None:
            kwargs["blocks"] = blocks
        if key is None:
            return str(self._call("chat.postMessage", **kwargs)["ts"])
        kwargs["metadata"] = {"event_type": METADATA_TYPE, "event_payload": {"key": key}}
        for attempt in range(3):
            try:
                return str(self._call("chat.postMessage", once=True, **kwargs)["ts"])
            except SlackError as error:
                if not error.ambiguous or attempt == 2:
                    raise
                if (ts := self.find_post(channel, key)) is not None:
                    return ts
        raise AssertionError("unreachable")

    def is_member(self, channel: str, user: str, pages: int = 10) -> bool:
        """Whether `user` is in `channel` now (conversations.members, a page at a time: a person may have left
        since the bot invited them)."""
        cursor: str | None = None
        for _ in range(pages):
            answer = self._call("conversations.members", channel=channel, limit=200,
                                **({"cursor": cursor} if cursor else {}))
            if user in answer.get("members", []):
                return True
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False
        return False

    def open_dm(self, user: str) -> str:
        """The app's direct message with `user` (its Messages tab): the same conversation every time."""
        return str(self._call("conversations.open", users=user)["channel"]["id"])

    def find_post(self, channel: str, key: str, pages: int = 5) -> str | None:
        """The ts of the bot's message carrying `key`, among the channel's latest messages (an order's
        channel is short; a lost answer is about a message just posted)."""
        for message in self._history(channel, pages):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_TYPE and payload.get("key") == key:
                return str(message["ts"])
        return None

    def find_file(self, channel: str, filename: str, pages: int = 5) -> str | None:
        """The id of a file called `filename` the bot shared in the channel."""
        for message in self._history(channel, pages):
            for file in message.get("files") or []:
                if file.get("name") == filename and file.get("user") == self.bot_user_id:
                    return str(file["id"])
        return None

    def _history(self, channel: str, pages: int) -> Iterator[dict[str, Any]]:
        cursor = None
        for _ in range(pages):
            answer = self._call("conversations.history", channel=channel, limit=200, include_all_metadata=True,
                                **({"cursor": cursor} if cursor else {}))
            yield from answer.get("messages") or []
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def update(self, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat.postEphemeral", channel=channel, user=user, text=text)

    def respond(self, response_url: str, text: str) -> None:
        """An ephemeral reply through an interaction's response_url (not a Web API method): it rides on the
        person's own click, so it reaches them where the bot cannot post to them (a channel they are not in)."""
        try:
            answer = WebhookClient(response_url, timeout=self.client.timeout, proxy=self.client.proxy).send(
                text=text, response_type="ephemeral", replace_original=False)
        except (SlackClientError, OSError, ValueError) as error:  # ValueError: not a URL urllib can post to
            raise SlackError("response_url", ErrorCode.CONNECTION_ERROR, str(error)) from error
        if answer.status_code != 200:
            code = answer.body if answer.body and " " not in answer.body else f"http_{answer.status_code}"
            raise SlackError("response_url", code[:64])

    def open_view(self, trigger_id: str, view: dict) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def update_view(self, view_id: str, view: dict, view_hash: str | None = None) -> None:
        kwargs: dict[str, Any] = {"view_id": view_id, "view": view}
        if view_hash:
            kwargs["hash"] = view_hash
        self._call("views.update", **kwargs)

    def publish_home(self, user: str, view: dict) -> None:
        self._call("views.publish", user_id=user, view=view)

    def profile(self, user: str) -> Profile | None:
        """What Slack says of a user (name, time zone, locale), or None when Slack does not know them."""
        try:
            data = self._call("users.info", user=user, include_locale=True)["user"]
        except SlackError as error:
            if error.code == ErrorCode.USER_NOT_FOUND:
                return None
            raise
        profile = data.get("profile") or {}
        name = profile.get("real_name") or data.get("real_name") or profile.get("display_name") or data.get("name")
        locale = data.get("locale")
        return Profile(str(name or user), data.get("tz"), locale if isinstance(locale, str) else None)

    def user_by_email(self, email: str) -> str | None:
        """The member id of whoever in the workspace has this e-mail (users.lookupByEmail), None for no one;
        anything else (out of reach, a scope missing) is a SlackError."""
        try:
            return str(self._call("users.lookupByEmail", email=email)["user"]["id"])
        except SlackError as error:
            if error.code == ErrorCode.USERS_NOT_FOUND:
                return None
            raise

    def upload_pdf(self, channel: str | list[str], filename: str, content: bytes, title: str, comment: str,
                   ticketed: Callable[[str], None] = lambda file_id: None) -> str:
        """A file shared in a channel, in Slack's three legs (files.upload is retired): ask for an upload
        URL, send the bytes there, complete (share) it. The first two do nothing anyone sees, so they retry;
        the share must not happen twice; one share may reach several conversations (a list of ids: a closed
        order's people, by direct message, once its channel is archived). `ticketed(file_id)` is told the
        file's id before the share is asked for, so that a later try can ask Slack about this very file.
        After a share whose answer never came, Slack is asked whether the file was completed (files.info)
        before the share is asked again: Slack shares a file after it answers, so the channel's history may
        not show it yet."""
        ticket = self._call("files.getUploadURLExternal", filename=filename, length=len(content))
        file_id, url = str(ticket["file_id"]), str(ticket["upload_url"])
        self._send_bytes(url, content)
        ticketed(file_id)
        files = [{"id": file_id, "title": title}]
        where = {"channel_id": channel} if isinstance(channel, str) else {"channels": list(channel)}
        for attempt in range(3):
            try:
                self._call("files.completeUploadExternal", once=True, files=files, initial_comment=comment, **where)
                return file_id
            except SlackError as error:
                if not error.ambiguous or attempt == 2:
                    raise
                if self.completed(file_id):
                    return file_id  # the answer was lost, not the share
        raise AssertionError("unreachable")

    def completed(self, file_id: str) -> bool:
        """Whether the upload of `file_id` was completed: Slack knows a file once it is (files.info)."""
        try:
            self._call("files.info", file=file_id)
            return True
        except SlackError as error:
            if error.code in (ErrorCode.FILE_NOT_FOUND, ErrorCode.FILE_DELETED):
                return False
            raise

    def file_info(self, file_id: str) -> dict[str, Any] | None:
        """What Slack says of a file now (files.info, files:read), or None when it no longer has it."""
        try:
            return dict(self._call("files.info", file=file_id)["file"])
        except SlackError as error:
            if error.code in (ErrorCode.FILE_NOT_FOUND, ErrorCode.FILE_DELETED):
                return None
            raise

    def download(self, url: str, limit: int, expected: str) -> bytes | None:
        """A file's bytes from its url_private, with the bot token (not a Web API method), read as they come
        and never more than `limit`: None when there are more. A file Slack no longer has is FILE_NOT_FOUND.
        Slack answers a token it refuses with a redirect to its sign-in page, and a token without files:read
        with that page itself (HTTP 200, HTML): both mean an admin must act, so neither is taken for the file
        (`expected`: the type Slack reported; an HTML file is read as such)."""
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.client.token}"})
        try:
            with _NO_REDIRECTS.open(request, timeout=self.client.timeout) as answer:
                html = answer.headers.get_content_type() == "text/html" and expected != "text/html"
                if html:
                    raise SlackError("download", ErrorCode.MISSING_SCOPE, "a sign-in page, not the file",
                                     needed="files:read")
                content = answer.read(limit + 1)
        except urllib.error.HTTPError as error:
            if error.code in (404, 410):
                raise SlackError("download", ErrorCode.FILE_NOT_FOUND) from error
            if 300 <= error.code < 400:  # to the sign-in page: the token was refused
                raise SlackError("download", ErrorCode.NOT_AUTHED, "redirected to sign in") from error
            raise SlackError("download", f"http_{error.code}", error.reason) from error
        except OSError as error:
            raise SlackError("download", ErrorCode.CONNECTION_ERROR, str(error)) from error
        return None if len(content) > limit else content

    def _send_bytes(self, url: str, content: bytes, tries: int = 3) -> None:
        """The upload leg: a plain POST of the bytes to the URL Slack gave (not a Web API method)."""
        for attempt in range(tries):
            try:
                request = urllib.request.Request(url, data=content, method="POST")
                with urllib.request.urlopen(request, timeout=self.client.timeout) as answer:
                    answer.read()
                return
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 429 or attempt == tries - 1:
                    raise SlackError("upload", f"http_{error.code}", error.reason) from error
            except OSError as error:
                if attempt == tries - 1:
                    raise SlackError("upload", ErrorCode.CONNECTION_ERROR, str(error)) from error
            time.sleep(0.5 * (attempt + 1))
