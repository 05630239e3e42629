"""FakeSlack: a loopback HTTP server that answers Slack's Web API like Slack does.

Transport rules (shared/slack/platform-notes.md §9.1): `POST|GET /api/<method>`; JSON, form and query
arguments; errors are HTTP 200 `{"ok": false, "error": code}`; an unknown method is HTTP 404
`unknown_method`; rate limits are HTTP 429 with Retry-After. Besides /api/ it serves the file upload leg
(/upload/v1/<file id>), response_url targets (/response/<team>/<token>) and, for a person's browser, the
OAuth authorize page (/oauth/v2/authorize, see oauth.py).
"""

from __future__ import annotations

import copy
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import files as _files  # registers files.* methods
from . import oauth as _oauth  # registers oauth.v2.access
from . import views as _views  # registers views.* methods
from .blocks_text import blocks_to_text, iso, mrkdwn_to_plain, view_to_text
from .replies import apply_reply
from .socket_mode import APP_LEVEL_METHODS, APP_TOKEN_SCOPES, SocketModeServer
from .state import Call, Channel, FakeFile, JoinEvent, Message, ResponseUrl, User, Workspace
from .tiers import Refusal, TierLimiter
from .webapi import (
    REGISTRY,
    TRANSPORT_ERRORS,
    ApiError,
    Args,
    add_member,
    file_json,
    message_json,
)

DEFAULT_SCOPES = (
    "channels:manage",
    "channels:read",
    "channels:join",
    "channels:write.invites",
    "groups:write",
    "groups:read",
    "groups:write.invites",
    "channels:history",
    "groups:history",
    "im:write",
    "im:history",
    "chat:write",
    "commands",
    "users:read",
    "users:read.email",
    "files:write",
    "files:read",
)
RESPONSE_URL_USES = 5  # docs: a response_url works up to 5 times within 30 minutes
RESPONSE_URL_TTL = 30 * 60


# chaos kinds: (error, HTTP status); status 0 drops the connection without an answer, before Slack acts;
# LOST acts on the call, then drops the connection: the caller cannot tell it happened (a timeout)
LOST = -1
_CHAOS = {"500": ("internal_error", 500), "429": ("ratelimited", 429), "drop": ("dropped", 0),
          "lost": ("lost", LOST)}


# The words Slack's own client shows around messages (not the app's: those come from its catalogs), in the two
# languages the demo runs in.
SLACK_CLIENT_WORDS = {
    "en": {"channel": "channel", "private channel": "private channel",
           "created": "#{name} ({id}, {kind}) created {at} by {by}", "joined": "{who} joined{by}",
           "invited by": " (invited by {by})", "updated": " (updated {at})",
           "removed": "{who} was removed from #{channel} by {by}",
           "(message deleted)": "(message deleted)", "(channel archived)": "(channel archived)"},
    "es": {"channel": "canal", "private channel": "canal privado",
           "created": "#{name} ({id}, {kind}) creado el {at} por {by}", "joined": "{who} se unió{by}",
           "invited by": " (invitado por {by})", "updated": " (editado {at})",
           "removed": "{who} fue eliminado de #{channel} por {by}",
           "(message deleted)": "(mensaje eliminado)", "(channel archived)": "(canal archivado)"},
}


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int


@dataclass(frozen=True)
class Stall:
    reached: threading.Event  # the call was done; its answer waits
    release: threading.Event


class FakeSlack:
    """Slack's Web API on 127.0.0.1 with inspectable, thread-safe workspaces. The one made with it is its
    own; `add_workspace` adds more, each with its own team, bot token, users and channels, and a call is served
    in the workspace its token belongs to, as Slack does. `workspace(team_id)` is a FakeSlack for one of them
    (the same server): its seeding, inspection and test controls are that workspace's."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        team_id: str = "T0001",
        bot_user_id: str = "U0BOT",
        *,
        bot_id: str = "B0BOT",
        app_id: str = "A0001",
        bot_name: str = "service-orders",
        team_name: str = "Fake Workspace",
        team_domain: str = "fake",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        clock: Callable[[], float] = time.time,
        home_tab_enabled: bool = True,
        messages_tab_enabled: bool = True,
        max_text_length: int = 40_000,
        app_token: str = "xapp-test-token",
    ) -> None:
        self._lock = threading.RLock()
        self._ws = Workspace(
            team_id=team_id,
            team_name=team_name,
            team_domain=team_domain,
            bot_token=bot_token,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            scopes=tuple(scopes),
            clock=clock,
            home_tab_enabled=home_tab_enabled,
            messages_tab_enabled=messages_tab_enabled,
            max_text_length=max_text_length,
        )
        self._ws.users[bot_user_id] = User(bot_user_id, bot_name, bot_name, is_bot=True, updated=int(clock()))
        self._workspaces: dict[str, Workspace] = {team_id: self._ws}  # shared by every view of this server
        self._oauth = _oauth.OAuthState()
        self._unknown_token_calls: list[Call] = []  # shared by every view, as the workspaces are
        # the app's settings.event_subscriptions.bot_events; [None]: every event (a fake not told the manifest)
        self._bot_events: list[frozenset[str] | None] = [None]  # a holder, shared by every view
        self._faults: dict[str, list[_Fault]] = {}
        self._stalls: dict[str, Stall] = {}
        self._chaos: tuple[float, random.Random, tuple[str, ...], int] | None = None
        self._tiers: list[TierLimiter | None] = [None]  # a holder, shared by every view; None: tiers off
        self._app_token = app_token  # app-level token: apps.connections.open only
        self.socket_mode = SocketModeServer(app_id)  # Slack's Socket Mode side, served on the same port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------------------
    # lifecycle

    def start(self) -> FakeSlack:
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        for ws in self._workspaces.values():
            ws.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeSlack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.socket_mode.close_links()  # a link holds a server thread until it closes
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if not self._ws.base_url:
            raise RuntimeError("FakeSlack is not started")
        return self._ws.base_url

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    # identity, for drivers and assertions
    @property
    def team_id(self) -> str:
        return self._ws.team_id

    @property
    def team_domain(self) -> str:
        return self._ws.team_domain

    @property
    def bot_user_id(self) -> str:
        return self._ws.bot_user_id

    @property
    def bot_id(self) -> str:
        return self._ws.bot_id

    @property
    def app_id(self) -> str:
        return self._ws.app_id

    @property
    def bot_token(self) -> str:
        return self._ws.bot_token

    @property
    def app_token(self) -> str:
        return self._app_token

    @property
    def team_name(self) -> str:
        return self._ws.team_name

    @property
    def enterprise_id(self) -> str | None:
        """The Enterprise Grid org the workspace belongs to (None: a standalone workspace)."""
        return self._ws.enterprise_id

    @property
    def installed(self) -> bool:
        return self._ws.installed

    # ------------------------------------------------------------------------------------------------------
    # several workspaces, and installing the app into them

    def add_workspace(self, team_id: str, team_name: str, *, team_domain: str | None = None,
                      bot_user_id: str | None = None, bot_name: str = "service-orders",
                      installed: bool = False, enterprise_id: str | None = None) -> FakeSlack:
        """Another workspace on this Slack, for the same app (its app id and scopes), with a bot user of its
        own. Not `installed`: its bot token comes from an install (`consent`, then oauth.v2.access). Returns
        the FakeSlack for it. Ids (channels, files, views) are minted across workspaces, unique as Slack's."""
        with self._lock:
            if team_id in self._workspaces:
                raise ValueError(f"workspace {team_id} exists")
            primary = self._ws
            bot = bot_user_id or f"U0B{team_id[-6:]}"
            ws = Workspace(team_id=team_id, team_name=team_name, team_domain=team_domain or team_id.lower(),
                           bot_token="", bot_user_id=bot, bot_id=f"B0{team_id[-6:]}", app_id=primary.app_id,
                           scopes=primary.scopes, clock=primary.clock, installed=False, base_url=primary.base_url,
                           enterprise_id=enterprise_id)
            ws.minter = primary.minter
            ws.users[bot] = User(bot, bot_name, bot_name, is_bot=True, updated=int(ws.now()))
            self._workspaces[team_id] = ws
            if installed:
                self._install(ws, primary.scopes)
        return self.workspace(team_id)

    def workspace(self, team_id: str) -> FakeSlack:
        """This server, seen from one of its workspaces."""
        view = copy.copy(self)  # shares the lock, the server, the faults and every workspace
        with self._lock:
            view._ws = self._workspaces[team_id]
        return view

    @property
    def team_ids(self) -> list[str]:
        with self._lock:
            return list(self._workspaces)

    def set_oauth_app(self, client_id: str, client_secret: str, redirect_urls: Iterable[str], *,
                      org_deploy_enabled: bool = False) -> None:
        """The app's credentials and Redirect URLs, as its OAuth & Permissions settings hold them;
        `org_deploy_enabled` as its manifest's settings say (ours: false), which decides whether an Enterprise Grid
        admin may install it for the whole org."""
        with self._lock:
            self._oauth.app = _oauth.OAuthApp(client_id, client_secret, tuple(redirect_urls))
            self._oauth.org_deploy_enabled = org_deploy_enabled

    def subscribe(self, bot_events: Iterable[str]) -> None:
        """The bot events the app subscribes to (its manifest's settings.event_subscriptions.bot_events): Slack
        sends an app those alone, so SlackDriver.event refuses any other."""
        with self._lock:
            self._bot_events[0] = frozenset(bot_events)

    def subscribed_to(self, event: dict[str, Any]) -> bool:
        """Whether Slack would send the app this event: its type is subscribed to (a message by where it was
        posted: message.channels, message.groups, message.im, message.mpim), or the app was told no list."""
        with self._lock:
            events = self._bot_events[0]
        if events is None:
            return True
        kind = str(event.get("type", ""))
        if kind == "message":
            where = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}
            kind = f"message.{where.get(str(event.get('channel_type', '')), '')}"
        return kind in events

    @property
    def authorize_url(self) -> str:
        """Slack's authorize page (https://slack.com/oauth/v2/authorize), here."""
        return self.base_url + _oauth.AUTHORIZE_PATH

    def consent(self, user_id: str, allow: bool = True, org_wide: bool = False) -> None:
        """The next visit to the authorize page is this workspace's `user_id`, who clicks Allow (or Cancel);
        `org_wide`: an admin of its Enterprise Grid org installs the app for the whole org."""
        with self._lock:
            if user_id not in self._ws.users:
                raise ValueError(f"unknown user {user_id}: add it with add_user first")
            if org_wide and not self._ws.enterprise_id:
                raise ValueError("an org-wide install needs a workspace of an org (add_workspace(enterprise_id=…))")
            if org_wide and not self._oauth.org_deploy_enabled:
                raise ValueError("Slack offers no org-wide install to an app with org_deploy_enabled false (the "
                                 "manifest's): set_oauth_app(..., org_deploy_enabled=True) plays one that has it")
            self._oauth.consents.append(_oauth.Consent(self._ws.team_id, user_id, allow, org_wide))

    def uninstall(self) -> None:
        """Someone removes the app from this workspace: its bot token is revoked at once (Slack then sends
        app_uninstalled and tokens_revoked: SlackDriver.uninstalled)."""
        with self._lock:
            ws = self._ws
            if ws.bot_token:
                ws.revoked.add(ws.bot_token)
            ws.installed, ws.bot_token = False, ""

    def _install(self, ws: Workspace, scopes: Iterable[str]) -> None:
        """The app installed (again) in `ws`: a bot token, kept across reinstalls, new after an uninstall."""
        if not ws.bot_token:
            ws.bot_token = f"xoxb-{secrets.randbelow(10**12)}-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}"
        ws.installed, ws.scopes = True, tuple(scopes)

    def _holding(self, file_id: str) -> FakeSlack:
        """The view of the workspace a file was made in (the first one when none was)."""
        with self._lock:
            team = next((t for t, ws in self._workspaces.items() if file_id in ws.files), None)
        return self.workspace(team) if team else self

    def _workspace_of(self, token: str | None) -> Workspace | None:
        """The workspace a bot token works in, if any."""
        with self._lock:
            return next((ws for ws in self._workspaces.values() if token and ws.installed and ws.bot_token == token),
                        None)

    def _revoked(self, token: str) -> bool:
        with self._lock:
            return any(token in ws.revoked for ws in self._workspaces.values())

    # ------------------------------------------------------------------------------------------------------
    # seeding

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str | None = None,
        tz: str = "America/Santiago",
        is_bot: bool = False,
        deleted: bool = False,
        email: str | None = None,
        locale: str = "en-US",
    ) -> User:
        with self._lock:
            user = User(
                user_id,
                name,
                real_name or name,
                tz,
                is_bot,
                deleted,
                email if email is not None else (None if is_bot else f"{name}@example.com"),
                int(self._ws.now()),
                locale,
            )
            self._ws.users[user_id] = user
            return copy.deepcopy(user)

    def add_channel(
        self,
        name: str,
        is_private: bool = False,
        members: Iterable[str] = (),
        *,
        is_general: bool | None = None,
    ) -> str:
        """A channel that exists before the bot acts, e.g. the #general a slash command comes from.
        The bot is a member only if its user id is in `members`."""
        with self._lock:
            if self._ws.channel_by_name(name) is not None:
                raise ValueError(f"channel name taken: {name}")
            members = list(members)
            ws = self._ws
            ch = Channel(
                ws.minter.id("C"), name, is_private, int(ws.now()), members[0] if members else "USLACKBOT"
            )
            ch.is_general = name == "general" if is_general is None else is_general
            ws.channels[ch.id] = ch
            for m in members:
                add_member(ws, ch, m, None)
            return ch.id

    def post_as(self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None) -> str:
        """A person's message in a channel they belong to (no event is sent; use SlackDriver.event)."""
        with self._lock:
            ch = self._ws.channels[channel_id]
            if user_id not in ch.members:
                raise ValueError(f"{user_id} is not a member of {channel_id}")
            m = Message(self._ws.minter.ts(), user_id, text, [], thread_ts)
            ch.messages.append(m)
            return m.ts

    def upload_as(self, user_id: str, name: str, content: bytes, mimetype: str | None = None) -> dict[str, Any]:
        """A person uploads a file (into a form's file_input, or before sharing it): Slack's file object for it,
        its type from its name unless `mimetype` says otherwise (Slack reports what it was told, not what the
        bytes are). Shared nowhere yet."""
        with self._lock:
            ws = self._ws
            if user_id not in ws.users:
                raise ValueError(f"unknown user {user_id}")
            f = FakeFile(ws.minter.id("F"), name, name, len(content), user_id, int(ws.now()), content,
                         completed=True, mimetype=mimetype)
            ws.files[f.id] = f
            return file_json(ws, f)

    def share_as(self, user_id: str, channel_id: str, file_ids: list[str], text: str = "",
                 thread_ts: str | None = None) -> str:
        """A person shares their uploaded files in a channel they belong to (a `file_share` message; no event
        is sent: use SlackDriver.share_files). Returns the message's ts."""
        with self._lock:
            ws = self._ws
            ch = ws.channels[channel_id]
            if user_id not in ch.members:
                raise ValueError(f"{user_id} is not a member of {channel_id}")
            files = [ws.files[f] for f in file_ids]
            if any(f.user != user_id for f in files):
                raise ValueError("a person shares their own uploads")
            m = Message(ws.minter.ts(), user_id, text, [], thread_ts, list(file_ids))
            ch.messages.append(m)
            for f in files:
                f.channels.append(ch.id)
            return m.ts

    def delete_file(self, file_id: str) -> None:
        """Its owner deletes a file: Slack no longer has it."""
        with self._lock:
            self._ws.files[file_id].deleted = True

    def file_payload(self, file_id: str) -> dict[str, Any]:
        """The file as Slack puts it in payloads (a file_input's state, a message's `files`)."""
        with self._lock:
            return copy.deepcopy(file_json(self._ws, self._ws.files[file_id]))

    def stall(self, method: str) -> Stall:
        """The next call of `method` is done, then its answer waits until `release` is set (or 60 s): a test
        kills the caller in between, when Slack has acted and nobody has heard."""
        stall = Stall(threading.Event(), threading.Event())
        with self._lock:
            self._stalls[method] = stall
        return stall

    def archive(self, channel_id: str) -> None:
        """A person archives a channel (its name stays taken; nobody can post in it)."""
        with self._lock:
            self._ws.channels[channel_id].archived = True

    def rename(self, channel_id: str, name: str) -> None:
        """A person renames a channel (its id stays)."""
        with self._lock:
            if self._ws.channel_by_name(name) is not None:
                raise ValueError(f"#{name} is taken")
            self._ws.channels[channel_id].name = name

    def invite_by_hand(self, channel_id: str, user_id: str, inviter: str | None = None) -> None:
        """A person brings someone into a channel (not the app)."""
        with self._lock:
            add_member(self._ws, self._ws.channels[channel_id], user_id, inviter)

    def remove_member(self, channel_id: str, user_id: str) -> None:
        """A person removes someone (the app, say) from a channel."""
        with self._lock:
            self._ws.channels[channel_id].members.discard(user_id)

    def set_user(self, user_id: str, **changes: Any) -> None:
        """Change a seeded user, e.g. `set_user("U1", deleted=True)` to deactivate them, or
        `set_user("U1", locale="es-LA")` to switch their Slack language."""
        with self._lock:
            u = self._ws.users[user_id]
            for k, v in changes.items():
                setattr(u, k, v)

    # ------------------------------------------------------------------------------------------------------
    # inspection (deep copies: the server thread keeps mutating the originals)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._ws.calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def channels(self) -> dict[str, Channel]:
        with self._lock:
            return copy.deepcopy(self._ws.channels)

    def channel_by_name(self, name: str) -> Channel | None:
        with self._lock:
            return copy.deepcopy(self._ws.channel_by_name(name))

    def message(self, channel_id: str, ts: str) -> Message | None:
        with self._lock:
            ch = self._ws.channels.get(channel_id)
            return copy.deepcopy(ch.message(ts)) if ch else None

    def message_payload(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        """The message as Slack renders it into API responses and interaction payloads."""
        with self._lock:
            ch = self._ws.channels.get(channel_id)
            m = ch.message(ts) if ch else None
            return copy.deepcopy(message_json(self._ws, m)) if m else None

    @property
    def users(self) -> dict[str, User]:
        with self._lock:
            return copy.deepcopy(self._ws.users)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._ws.ephemerals)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._ws.views)

    @property
    def opened_views(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return copy.deepcopy(self._ws.opened_views)

    def open_view_ids(self, user_id: str) -> list[str]:
        """The user's modal stack as on screen (root first); [] when no modal is open."""
        with self._lock:
            stack = self._ws.open_stack_of(user_id)
            return list(stack.view_ids) if stack else []

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            vid = self._ws.home_views.get(user_id)
            return copy.deepcopy(self._ws.views[vid]) if vid else None

    @property
    def files(self) -> dict[str, FakeFile]:
        with self._lock:
            return copy.deepcopy(self._ws.files)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    # ------------------------------------------------------------------------------------------------------
    # test controls

    def new_trigger_id(
        self, user_id: str, *, view_id: str | None = None, issued_at: float | None = None
    ) -> str:
        """A trigger as an interaction hands it out. `view_id`: the modal it came from (views.push target);
        `issued_at`: backdate it (clock seconds) to test expiry without sleeping."""
        with self._lock:
            return _views.issue_trigger(self._ws, user_id, view_id, issued_at)

    def new_response_url(self, channel_id: str | None, user_id: str, message_ts: str | None = None) -> str:
        with self._lock:
            token = secrets.token_hex(12)
            self._ws.response_urls[token] = ResponseUrl(channel_id, user_id, message_ts, self._ws.now())
            return f"{self.base_url}/response/{self._ws.team_id}/{token}"

    def set_tabs(self, *, home: bool | None = None, messages: bool | None = None) -> None:
        """Turn the app's App Home tabs on or off, as an admin does in the app's settings."""
        with self._lock:
            if home is not None:
                self._ws.home_tab_enabled = home
            if messages is not None:
                self._ws.messages_tab_enabled = messages

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """The bot token's scopes from now on, as after an admin changes them and reinstalls the app (the
        token stays the same)."""
        with self._lock:
            self._ws.scopes = tuple(scopes)

    def delay_shares(self, seconds: float) -> None:
        """From now on, a completed upload's share reaches conversations.history `seconds` after the call, as
        Slack's can (it shares after answering). Tests see it at once in `channels`."""
        with self._lock:
            self._ws.share_delay = seconds

    def fail_next(
        self, method: str, error: str = "ratelimited", status: int = 429, retry_after: int = 1, times: int = 1
    ) -> None:
        """The next `times` calls of `method` ("upload" for the upload leg, "url_private" for a file's download)
        fail like that: 429 carries Retry-After and `{"ok": false, "error": "ratelimited"}`, 5xx a plain-text
        body, 200 the error code."""
        if method not in ("upload", "url_private") and method not in REGISTRY and method not in APP_LEVEL_METHODS:
            raise ValueError(f"{method} is not a method the fake implements; the fault would never fire")
        with self._lock:
            self._faults.setdefault(method, []).extend(
                _Fault(error, status, retry_after) for _ in range(times)
            )

    def chaos(self, rate: float, *, seed: int = 0, kinds: tuple[str, ...] = ("500", "429", "drop"),
              retry_after: int = 1) -> None:
        """From now on, each Web API call (upload leg included) fails with probability `rate`, before Slack
        acts on it: "500" an error page, "429" ratelimited with Retry-After, "drop" the connection closed
        without an answer; or "lost": Slack acts on the call, then the connection closes without an answer
        (a timeout: the caller cannot know the channel was made or the message posted). Seeded, so a
        failing run can be replayed. rate 0 turns it off."""
        unknown = set(kinds) - set(_CHAOS)
        if unknown or not 0 <= rate <= 1:
            raise ValueError(f"chaos: rate must be 0..1 and kinds among {sorted(_CHAOS)}, not {sorted(unknown)}")
        with self._lock:
            self._chaos = (rate, random.Random(seed), kinds, retry_after) if rate else None

    def enforce_tiers(self, speed: float | None = 1.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        """From now on, answer as Slack does at its rate-limit tiers (tiers.py): each workspace's calls of a
        method (chat.postMessage: to a channel) may burst to the tier's count a minute, then get HTTP 429,
        `Retry-After` and `{"ok": false, "error": "ratelimited"}` until tokens come back at count/60 a second.
        `speed` runs Slack's clock that many times faster than `clock` (60: a minute a second); Retry-After
        is in `clock`'s seconds, rounded up, at least 1, since the client sleeps it on its own clock. Starts
        with full buckets; None turns it off. Chaos and `fail_next` still apply to the calls the tiers let by."""
        with self._lock:
            self._tiers[0] = TierLimiter(speed, clock) if speed is not None else None

    @property
    def tier_refusals(self) -> list[Refusal]:
        """Every call the tiers answered 429, in every workspace, in order (chaos and fail_next 429s are not)."""
        limiter = self._tiers[0]
        return limiter.refusals if limiter else []

    def tier_429s(self) -> dict[str, int]:
        """The tiers' 429s by method, across workspaces."""
        limiter = self._tiers[0]
        return dict(limiter.refused()) if limiter else {}

    def _tier_retry_after(self, team_id: str, method: str, channel: Any) -> int | None:
        limiter = self._tiers[0]
        if limiter is None:
            return None
        return limiter.admit(team_id, method, channel if isinstance(channel, str) else None)

    def method_errors(self) -> dict[str, frozenset[str]]:
        """Every implemented method with the error codes it can answer (its own plus transport ones)."""
        return {name: spec.errors | TRANSPORT_ERRORS for name, spec in REGISTRY.items()}

    # ------------------------------------------------------------------------------------------------------
    # the user's side of Slack, driven by SlackDriver

    def apply_command_ack(self, channel_id: str, user_id: str, body: dict[str, Any]) -> str | None:
        with self._lock:
            return apply_reply(self._ws, channel_id, user_id, None, body)

    def apply_submission_ack(self, view_id: str, body: dict[str, Any] | None) -> list[str]:
        with self._lock:
            return _views.apply_submission_ack(self._ws, view_id, body)

    def set_view_state(self, view_id: str, values: dict[str, Any]) -> None:
        with self._lock:
            _views.set_state(self._ws, view_id, values)

    def close_view(self, view_id: str) -> bool:
        """The user closes `view_id`; returns True when that cleared a stack of several views."""
        with self._lock:
            return _views.close_view(self._ws, view_id)

    # ------------------------------------------------------------------------------------------------------
    # transcript

    def transcript(self, channel_id: str, language: str = "en") -> str:
        """The channel as a person would read it, oldest first; times UTC. Slack's own lines (who joined, who
        made the channel) in the words of its English or Spanish client (`language`)."""
        ui = SLACK_CLIENT_WORDS.get(language[:2], SLACK_CLIENT_WORDS["en"])
        with self._lock:
            ws = self._ws
            ch = ws.channels[channel_id]

            def names(some_id: str) -> str:
                return ws.channel_name(some_id) if some_id[:1] in "CGD" else ws.name_of(some_id)

            def plain(text: str) -> str:
                return mrkdwn_to_plain(text, names, ws.channel_name)

            kind = ui["private channel"] if ch.is_private else ui["channel"]
            lines = [ui["created"].format(name=ch.name, id=ch.id, kind=kind, at=iso(ch.created),
                                          by=names(ch.creator))]
            entries: list[tuple[str, JoinEvent | Message]] = [(j.ts, j) for j in ch.joins]
            entries += [(m.ts, m) for m in ch.messages]
            for ts, item in sorted(entries, key=lambda e: float(e[0])):
                if isinstance(item, JoinEvent) and item.removed:
                    lines.append(f"{iso(ts)}  ← " + ui["removed"].format(who=names(item.user), channel=ch.name,
                                                                          by=names(item.inviter or "")))
                    continue
                if isinstance(item, JoinEvent):
                    by = ui["invited by"].format(by=names(item.inviter)) if item.inviter else ""
                    lines.append(f"{iso(ts)}  → " + ui["joined"].format(who=names(item.user), by=by))
                    continue
                indent = "    ↳ " if item.thread_ts and item.thread_ts != item.ts else ""
                if item.deleted:
                    lines.append(f"{iso(ts)}  {indent}{names(item.user)}: {ui['(message deleted)']}")
                    continue
                tag = ui["updated"].format(at=iso(item.edited_ts)) if item.edited and item.edited_ts else ""
                body = blocks_to_text(item.blocks, names) if item.blocks else plain(item.text)
                for fid in item.files:
                    f = ws.files.get(fid)
                    body += ("\n" if body else "") + f"📎 {f.name if f else fid}"
                lines.append(f"{iso(ts)}  {indent}{names(item.user)}{tag}:")
                lines.extend(f"{' ' * (4 + len(indent))}{line}" for line in body.splitlines() or [""])
            if ch.archived:
                lines.append(ui["(channel archived)"])
            return "\n".join(lines)

    def plain_text(self, mrkdwn: str) -> str:
        """A message's mrkdwn as a person reads it: names for mentions, dates for date tokens."""
        with self._lock:
            ws = self._ws
            return mrkdwn_to_plain(mrkdwn, ws.name_of, ws.channel_name)

    def view_text(self, view_id: str) -> str:
        with self._lock:
            return view_to_text(self._ws.views[view_id], self._ws.name_of)

    # ------------------------------------------------------------------------------------------------------
    # request handling (called from server threads)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if queue:
                return queue.pop(0)
            if self._chaos is not None and method not in APP_LEVEL_METHODS:
                rate, rng, kinds, retry_after = self._chaos
                if rng.random() < rate:
                    error, status = _CHAOS[rng.choice(kinds)]
                    return _Fault(error, status, retry_after)
            return None

    def _record(self, method: str, args: dict[str, Any], status: int, response: dict[str, Any],
                headers: dict[str, str] | None = None) -> None:
        """Kept with the workspace the call's token is for (the first one's when it sends none, or the app-level
        token); a token no workspace holds (revoked by an uninstall, or never issued) is in no workspace's calls,
        so `workspace(X).calls_to(...) == []` can fail: such calls are kept in `unknown_token_calls`."""
        auth = (headers or {}).get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        ws = self._workspace_of(token) if token else None
        if ws is None and method == _oauth.ACCESS and response.get("ok"):  # the install's workspace
            ws = next((w for w in self._workspaces.values() if w.bot_token == response.get("access_token")), None)
        with self._lock:
            if ws is None and token and token != self._app_token:
                self._unknown_token_calls.append(Call(method, args, status, response))
            else:
                (ws or self._ws).calls.append(Call(method, args, status, response))

    @property
    def unknown_token_calls(self) -> list[Call]:
        """Calls made with a bearer token no workspace holds (any workspace's view shows them all)."""
        with self._lock:
            return list(self._unknown_token_calls)

    def _handle_api(
        self, method: str, headers: dict[str, str], args: dict[str, Any] | ApiError, body_token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        extra_headers: dict[str, str] = {}
        spec = REGISTRY.get(method)
        if spec is None and method not in APP_LEVEL_METHODS:
            return 404, {"ok": False, "error": "unknown_method", "req_method": method}, extra_headers
        if isinstance(args, ApiError):
            return 200, args.body(), extra_headers
        if method == _oauth.ACCESS:  # the app's credentials, not a token
            return self._handle_access(headers, args)
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else body_token
        if spec is None:
            return self._handle_app_level(method, token)
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, extra_headers
        if token == self._app_token:  # an app-level token is good for apps.connections.* only
            return 200, {"ok": False, "error": "not_allowed_token_type"}, extra_headers
        ws = self._workspace_of(token)
        if ws is None:
            error = "token_revoked" if self._revoked(token) else "invalid_auth"  # an uninstall revoked it
            return 200, {"ok": False, "error": error}, extra_headers
        extra_headers["x-oauth-scopes"] = ",".join(ws.scopes)
        extra_headers["x-accepted-oauth-scopes"] = ",".join(spec.scopes)
        retry_after = self._tier_retry_after(ws.team_id, method, args.get("channel"))
        if retry_after is not None:  # over the limit: refused before Slack looks at anything else
            extra_headers["Retry-After"] = str(retry_after)
            return 429, {"ok": False, "error": "ratelimited"}, extra_headers
        fault = self._take_fault(method)
        if fault is not None and fault.status != LOST:
            if fault.status == 429:
                extra_headers["Retry-After"] = str(fault.retry_after)
            return fault.status, {"ok": False, "error": fault.error}, extra_headers
        if spec.scopes and not set(spec.scopes) & set(ws.scopes):
            body = {
                "ok": False,
                "error": "missing_scope",
                "needed": spec.scopes[0],
                "provided": ",".join(ws.scopes),
            }
            return 200, body, extra_headers
        with self._lock:
            try:
                result = {"ok": True, **spec.handler(ws, Args(args))}
            except ApiError as e:
                if e.error not in spec.errors | TRANSPORT_ERRORS:
                    # A code not declared for the method would slip past the documentation check.
                    raise AssertionError(f"{method} answered undeclared error {e.error}") from e
                result = e.body()
        if fault is not None:  # LOST: done, but the answer never arrives
            return 0, {"lost": result}, extra_headers
        with self._lock:
            stall = self._stalls.pop(method, None)
        if stall is not None:
            stall.reached.set()
            stall.release.wait(60)
        return 200, result, extra_headers

    def _handle_access(self, headers: dict[str, str],
                       args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """oauth.v2.access: the code the authorize page gave, for the workspace's bot token (installing it)."""
        with self._lock:
            try:
                grant = _oauth.redeem(self._oauth, headers, args, self._ws.now())
            except ApiError as e:
                return 200, e.body(), {}
            ws = self._workspaces[grant.team_id]
            self._install(ws, grant.scopes)
            return 200, _oauth.access_answer(ws, grant), {}

    def _handle_app_level(self, method: str, token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        """apps.connections.open: the app-level token only (REF: missing_args without one, invalid_auth for
        a bad one; a bot token is the wrong type, Slack's common not_allowed_token_type)."""
        if not token:
            return 200, {"ok": False, "error": "missing_args"}, {}
        if token != self._app_token:
            error = "not_allowed_token_type" if self._workspace_of(token) else "invalid_auth"
            return 200, {"ok": False, "error": error}, {}
        headers = {"x-oauth-scopes": ",".join(APP_TOKEN_SCOPES), "x-accepted-oauth-scopes": ",".join(APP_TOKEN_SCOPES)}
        retry_after = self._tier_retry_after(self._ws.app_id, method, None)  # per app: no workspace here
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
            return 429, {"ok": False, "error": "ratelimited"}, headers
        fault = self._take_fault(method)
        if fault is not None and fault.status != LOST:
            if fault.status == 429:
                headers["Retry-After"] = str(fault.retry_after)
            return fault.status, {"ok": False, "error": fault.error}, headers
        return 200, {"ok": True, "url": self.socket_mode.issue_url(self.base_url)}, headers

    def _handle_response_url(self, team_id: str, token: str, body: bytes) -> tuple[int, str]:
        with self._lock:
            ws = self._workspaces.get(team_id)
            ru = ws.response_urls.get(token) if ws else None
            if ru is None:
                return 404, "no_service"
            if ws is None or ws.now() - ru.issued_at > RESPONSE_URL_TTL:
                return 404, "expired_url"
            if ru.uses >= RESPONSE_URL_USES:
                return 404, "used_url"
            try:
                payload = json.loads(body or b"{}")
            except json.JSONDecodeError:
                return 400, "invalid_payload"
            if not isinstance(payload, dict):
                return 400, "invalid_payload"
            ru.uses += 1
            problem = apply_reply(ws, ru.channel_id, ru.user_id, ru.message_ts, payload)
            ws.calls.append(Call("response_url", payload, 400 if problem else 200, {"error": problem}))
            return (400, problem) if problem else (200, "ok")


def _parse_args(content_type: str, body: bytes, query: str) -> tuple[dict[str, Any] | ApiError, str | None]:
    """Merge query-string and body arguments the way Slack reads them.

    Returns (args or a transport error, token given as a form-body parameter). Slack accepts a token in a
    form POST body; not in a JSON body (header only) and, for apps since 2021, not in the query string.
    """
    args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    args.pop("token", None)
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return args, None
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return ApiError("invalid_json"), None
        if not isinstance(data, dict):
            return ApiError("json_not_object"), None
        data.pop("token", None)
        return {**args, **data}, None
    form: dict[str, Any] = {}
    if ctype == "application/x-www-form-urlencoded":
        form = {
            k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
    elif ctype == "multipart/form-data":
        msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                raw = part.get_payload(decode=True) or b""
                form[str(name)] = raw if part.get_filename() else raw.decode("utf-8", "replace")
    else:
        return ApiError("invalid_post_type"), None
    token = form.pop("token", None)
    return {**args, **form}, token if isinstance(token, str) else None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack
    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            headers = {k.lower(): v for k, v in self.headers.items()}
            args, body_token = _parse_args(self.headers.get("Content-Type", ""), body, parts.query)
            try:
                status, payload, extra = self.fake._handle_api(method, headers, args, body_token)
            except Exception as e:  # a fake bug must be loud, not a hung client
                self.fake._record(method, {}, 500, {"exception": repr(e)}, headers)
                self._send(500, b"Internal Server Error", "text/plain; charset=utf-8")
                raise
            recorded = args if isinstance(args, dict) else {}
            if status == 0:  # a dropped connection: no answer at all
                self.fake._record(method, recorded, 0, payload if "lost" in payload else {"dropped": True}, headers)
                self.close_connection = True
                return
            if status >= 500:
                self.fake._record(method, recorded, status, payload, headers)
                self._send(status, b"Internal Server Error", "text/plain; charset=utf-8")
                return
            self.fake._record(method, recorded, status, payload, headers)
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", extra)
            return
        if path.startswith("/upload/v1/") and self.command == "POST":
            file_id = path.rsplit("/", 1)[-1]
            fake = self.fake._holding(file_id)
            fault = fake._take_fault("upload")
            if fault is not None and fault.status == LOST:
                with fake._lock:
                    _files.receive_upload(fake._ws, file_id, body)
                fake._record("upload", {"file_id": file_id, "length": len(body)}, 0, {"lost": True})
                self.close_connection = True
                return
            if fault is not None:
                fake._record("upload", {"file_id": file_id, "length": len(body)}, fault.status, {})
                if fault.status == 0:
                    self.close_connection = True
                    return
                self._send(fault.status, fault.error.encode(), "text/plain; charset=utf-8")
                return
            with fake._lock:
                status, text = _files.receive_upload(fake._ws, file_id, body)
            ctype = self.headers.get("Content-Type", "")
            fake._record(
                "upload",
                {"file_id": file_id, "length": len(body), "content_type": ctype},
                status,
                {"body": text},
            )
            self._send(status, text.encode(), "text/plain; charset=utf-8")
            return
        if path.startswith("/files-pri/") and self.command == "GET":
            team = path.split("/")[2].partition("-")[0] if path.count("/") >= 3 else ""
            fake = self.fake.workspace(team) if team in self.fake.team_ids else self.fake
            fault = fake._take_fault("url_private")
            if fault is not None and fault.status in (0, LOST):
                fake._record("url_private", {"path": path}, 0, {"dropped": True})
                self.close_connection = True
                return
            if fault is not None:
                fake._record("url_private", {"path": path}, fault.status, {})
                self._send(fault.status, fault.error.encode(), "text/plain; charset=utf-8")
                return
            with fake._lock:
                status, data, headers = _files.serve_private(fake._ws, path,
                                                             self.headers.get("Authorization", ""))
                fake._ws.calls.append(Call("url_private", {"path": path}, status, {"length": len(data)}))
            ctype = headers.pop("Content-Type", "text/plain; charset=utf-8")
            self._send(status, data, ctype, headers)
            return
        if path == "/" and self.command == "GET":  # where a refused file download is sent: the sign-in page
            self._send(200, _files.SIGN_IN_PAGE, "text/html; charset=utf-8")
            return
        if path == _oauth.AUTHORIZE_PATH and self.command == "GET":  # a person's browser, not the app
            with self.fake._lock:
                status, page, headers = _oauth.authorize(self.fake._oauth, parts.query, self.fake._workspaces,
                                                         self.fake._ws.now())
            self._send(status, page.encode(), "text/html; charset=utf-8", headers)
            return
        if path in ("/link", "/link/"):  # the Socket Mode WebSocket URL apps.connections.open hands out
            self.fake.socket_mode.serve(self)
            return
        if path.startswith("/response/") and self.command == "POST":
            team, _, token = path[len("/response/"):].partition("/")
            status, text = self.fake._handle_response_url(team, token, body)
            self._send(status, text.encode(), "text/plain; charset=utf-8")
            return
        self._send(404, b"Not Found", "text/plain; charset=utf-8")

    def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
