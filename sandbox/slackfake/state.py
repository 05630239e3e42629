"""Data model of the fake workspace: users, channels, messages, files, recorded calls, id/ts minting.

Everything here is plain data; `FakeSlack` guards it with one lock. Snapshots handed to tests are deep
copies, so a test never races the server thread.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One request the fake answered: a Web API method, the upload leg ("upload") or a response_url
    POST ("response_url")."""

    method: str
    args: dict[str, Any]
    status: int
    response: dict[str, Any]


@dataclass
class User:
    id: str
    name: str
    real_name: str
    tz: str = "America/Santiago"
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None
    updated: int = 0
    locale: str = "en-US"  # what users.info says with include_locale=true (Slack's names: "es-LA", "pt-BR")

    @property
    def display(self) -> str:
        return self.real_name or self.name


@dataclass
class MessageVersion:
    """A superseded version of a message, kept when chat.update or replace_original changes it."""

    text: str
    blocks: list[dict[str, Any]]
    replaced_at: str  # ts of the edit that superseded it


@dataclass
class Message:
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    files: list[str] = field(default_factory=list)
    edited: bool = False
    edited_ts: str | None = None
    history: list[MessageVersion] = field(default_factory=list)
    bot_id: str | None = None
    app_id: str | None = None
    deleted: bool = False  # delete_original via response_url; kept so the transcript can say so
    metadata: dict[str, Any] | None = None  # chat.postMessage's {event_type, event_payload}
    shown_at: float = 0.0  # clock time from which conversations.history shows it (a file share shows late)
    # time.monotonic() when the fake stored it, whatever the fake's clock: benches time the bot's effects by it
    stored_at: float = field(default_factory=time.monotonic, compare=False)


@dataclass
class JoinEvent:
    """A member joining, or removed (`removed`: conversations.kick, by `inviter`). Slack shows these as
    channel_join and channel_leave messages; kept apart so `messages` holds only what was posted, which is
    what tests count."""

    ts: str
    user: str
    inviter: str | None
    removed: bool = False


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool
    created: int
    creator: str
    members: set[str] = field(default_factory=set)
    archived: bool = False
    messages: list[Message] = field(default_factory=list)
    topic: str = ""
    purpose: str = ""
    is_general: bool = False
    is_im: bool = False
    joins: list[JoinEvent] = field(default_factory=list)

    def message(self, ts: str) -> Message | None:
        for m in self.messages:
            if m.ts == ts and not m.deleted:
                return m
        return None


@dataclass
class FakeFile:
    id: str
    name: str
    title: str
    length: int  # declared in files.getUploadURLExternal
    user: str
    created: int
    content: bytes | None = None  # None until the upload leg arrives
    channels: list[str] = field(default_factory=list)
    completed: bool = False
    alt_txt: str | None = None
    snippet_type: str | None = None
    mimetype: str | None = None  # as Slack reports it; None: from the name, as Slack does for an upload
    deleted: bool = False  # its owner deleted it: files.info says file_not_found, url_private 404

    @property
    def filename(self) -> str:
        return self.name


@dataclass
class Trigger:
    user_id: str
    issued_at: float
    view_id: str | None  # the modal the interaction came from (needed by views.push)
    used: bool = False


@dataclass
class ResponseUrl:
    """Where Slack lets the app answer an interaction; usable 5 times within 30 minutes."""

    channel_id: str | None
    user_id: str
    message_ts: str | None
    issued_at: float
    uses: int = 0


@dataclass
class ModalStack:
    user_id: str
    view_ids: list[str]
    closed: bool = False


class Minter:
    """Slack-looking ids (C…, F…, V…) and strictly increasing message ts strings ("1700000000.000100")."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._counters: dict[str, int] = {}
        self._last_us = 0
        self._lock = threading.Lock()

    def id(self, prefix: str) -> str:
        with self._lock:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
        # Real ids are 9-11 upper-case base36 chars after the type letter.
        return f"{prefix}0{_base36(n).rjust(8, '0')}"

    def ts(self) -> str:
        # Slack ts doubles as a per-channel message key, so it must never repeat even within a microsecond.
        with self._lock:
            us = max(int(self._clock() * 1_000_000), self._last_us + 1)
            self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def trigger_id(self) -> str:
        # Documented format "132456.7890123.abcdef" (views.open.json, invalid_trigger_id).
        with self._lock:
            n = self._counters.get("trigger", 0) + 1
            self._counters["trigger"] = n
        return f"{int(self._clock())}{n:04d}.{secrets.randbelow(10**9):09d}.{secrets.token_hex(16)}"

    def view_hash(self) -> str:
        return f"{int(self._clock())}.{secrets.token_urlsafe(6)[:8]}"

    def short(self) -> str:
        """Slack fills missing block_id / action_id with short random strings like "2WGp9"."""
        return secrets.token_urlsafe(4)[:5]


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class Workspace:
    """All mutable state of the fake; guarded by FakeSlack's lock."""

    team_id: str
    team_name: str
    team_domain: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str
    scopes: tuple[str, ...]
    clock: Callable[[], float]
    home_tab_enabled: bool = True
    messages_tab_enabled: bool = True  # the app's Messages tab, where its DMs show
    max_text_length: int = 40_000
    installed: bool = True  # the app is installed here: its bot token works
    enterprise_id: str | None = None  # its Enterprise Grid org, if any
    revoked: set[str] = field(default_factory=set)  # bot tokens an uninstall revoked
    # Slack shares a completed upload into its channels after files.completeUploadExternal answers: the
    # share's message reaches conversations.history this many seconds later
    share_delay: float = 0.0
    base_url: str = ""  # "http://127.0.0.1:PORT", known once the server is bound
    minter: Minter = field(init=False)
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    view_owner: dict[str, str] = field(default_factory=dict)  # view id -> user id
    stacks: dict[str, ModalStack] = field(default_factory=dict)  # root view id -> stack
    home_views: dict[str, str] = field(default_factory=dict)  # user id -> view id
    opened_views: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.minter = Minter(self.clock)

    def now(self) -> float:
        return self.clock()

    def name_of(self, user_id: str) -> str:
        u = self.users.get(user_id)
        return u.display if u else user_id

    def channel_name(self, channel_id: str) -> str:
        c = self.channels.get(channel_id)
        return c.name if c else channel_id

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        for c in self.channels.values():
            if c.name == name and not c.is_im:
                return c
        return None

    def open_stack_of(self, user_id: str) -> ModalStack | None:
        """The user's most recently opened modal that is still on screen."""
        for stack in reversed(list(self.stacks.values())):
            if stack.user_id == user_id and not stack.closed:
                return stack
        return None

    def stack_of_view(self, view_id: str) -> ModalStack | None:
        for stack in self.stacks.values():
            if view_id in stack.view_ids:
                return stack
        return None
