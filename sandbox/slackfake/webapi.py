"""Web API methods of the fake (everything but views.*, which live in views.py).

Each method is registered with the error codes it can answer, so tests can check them against Slack's
documentation, and with the bot scopes of which it needs any one (missing_scope otherwise).
Handlers run under FakeSlack's lock and either return the success body (without "ok") or raise ApiError.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .state import Channel, FakeFile, JoinEvent, Message, MessageVersion, User, Workspace
from .validation import BlocksFormatError, coerce_json, fill_ids, validate_blocks

# Errors the transport layer can answer for any method (Slack's "common errors").
TRANSPORT_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "invalid_json",
        "json_not_object",
        "invalid_post_type",
        "missing_scope",
        "not_allowed_token_type",
        "ratelimited",
        "invalid_arguments",
        "internal_error",
    }
)


class ApiError(Exception):
    """An `{"ok": false, "error": code, ...}` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> ApiError:
    return ApiError("invalid_arguments", response_metadata={"messages": list(messages)})


Handler = Callable[[Workspace, "Args"], dict[str, Any]]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    handler: Handler
    errors: frozenset[str]
    scopes: tuple[str, ...]  # any one of these bot scopes suffices; empty = no scope needed


REGISTRY: dict[str, MethodSpec] = {}


def method(
    name: str, errors: tuple[str, ...] = (), scopes: tuple[str, ...] = ()
) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        REGISTRY[name] = MethodSpec(name, fn, frozenset(errors), scopes)
        return fn

    return deco


class Args:
    """Arguments as Slack reads them: form values are strings, JSON values keep their types."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def str(self, key: str) -> str | None:
        v = self.data.get(key)
        if v is None:
            return None
        return v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict | list) else str(v)

    def required(self, key: str) -> str:
        v = self.str(key)
        if v is None or v == "":
            raise invalid_arguments(f"[ERROR] missing required field: {key}")
        return v

    def bool(self, key: str, default: bool = False) -> bool:
        v = self.data.get(key)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        return str(v).lower() in ("1", "true", "yes")

    def int(self, key: str) -> int | None:
        v = self.data.get(key)
        if v is None or v == "":
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            raise invalid_arguments(f"[ERROR] expected an integer [json-pointer:/{key}]") from None

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None


# ----------------------------------------------------------------------------------------------------------
# Shapes (required keys from slack_web_openapi_v2.json definitions + ref examples)


def conversation_json(ws: Workspace, ch: Channel) -> dict[str, Any]:
    return {
        "id": ch.id,
        "name": ch.name,
        "is_channel": not ch.is_im,  # post-2021 private channels are C… with is_channel true
        "is_group": False,
        "is_im": ch.is_im,
        "is_mpim": False,
        "is_private": ch.is_private,
        "created": ch.created,
        "creator": ch.creator,
        "is_archived": ch.archived,
        "is_general": ch.is_general,
        "unlinked": 0,
        "name_normalized": ch.name,
        "is_shared": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "pending_shared": [],
        "is_pending_ext_shared": False,
        "is_member": ws.bot_user_id in ch.members,
        "topic": {"value": ch.topic, "creator": ch.creator if ch.topic else "", "last_set": 0},
        "purpose": {"value": ch.purpose, "creator": ch.creator if ch.purpose else "", "last_set": 0},
        "previous_names": [],
        "context_team_id": ws.team_id,
        "updated": ch.created * 1000,
        **({"user": next(iter(ch.members - {ws.bot_user_id}), ""), "priority": 0} if ch.is_im else {}),
    }


def user_json(ws: Workspace, u: User) -> dict[str, Any]:
    profile = {
        "real_name": u.real_name,
        "real_name_normalized": u.real_name,
        "display_name": u.name,
        "display_name_normalized": u.name,
        "team": ws.team_id,
    }
    if u.email and not u.is_bot:
        profile["email"] = u.email
    return {
        "id": u.id,
        "team_id": ws.team_id,
        "name": u.name,
        "deleted": u.deleted,
        "real_name": u.real_name,
        "tz": u.tz,
        "tz_label": u.tz,
        "tz_offset": 0,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": u.is_bot,
        "is_app_user": False,
        "updated": u.updated,
    }


def message_json(ws: Workspace, m: Message, *, include_metadata: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message", "user": m.user, "text": m.text, "ts": m.ts, "team": ws.team_id}
    if m.bot_id:
        out["bot_id"] = m.bot_id
        out["app_id"] = m.app_id
    out["blocks"] = m.blocks
    if m.thread_ts:
        out["thread_ts"] = m.thread_ts
    if m.files:
        out["files"] = [file_json(ws, ws.files[f]) for f in m.files if f in ws.files]
        out["upload"] = False
    if m.edited:
        out["edited"] = {"user": m.user, "ts": m.edited_ts}
    if include_metadata and m.metadata is not None:
        out["metadata"] = m.metadata
    return out


def file_json(ws: Workspace, f: FakeFile) -> dict[str, Any]:
    mimetype = f.mimetype or mimetypes.guess_type(f.name)[0] or "application/octet-stream"
    filetype = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else "binary"
    # Slack's is https://files.slack.com/files-pri/…; the fake serves its own (server.py: the bot token with
    # files:read gets the bytes, anyone else a sign-in page)
    url = f"{ws.base_url}/files-pri/{ws.team_id}-{f.id}/{quote(f.name)}"
    return {
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.name,
        "title": f.title,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": f.user,
        "user_team": ws.team_id,
        "editable": False,
        "size": len(f.content or b""),
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": False,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": url,
        "url_private_download": url + "?download=1",
        "permalink": f"https://{ws.team_domain}.slack.com/files/{f.user}/{f.id}/{f.name}",
        "has_rich_preview": False,
        "alt_txt": f.alt_txt,
    }


# ----------------------------------------------------------------------------------------------------------
# Lookups shared by methods


def visible_channel(ws: Workspace, ref: str | None, *, by_name: bool = False) -> Channel:
    """A channel the bot can see: public ones, and private ones it belongs to (others don't exist for it)."""
    ch = ws.channels.get(ref or "")
    if ch is None and by_name and ref:
        ch = ws.channel_by_name(ref)
    if ch is None or (ch.is_private and ws.bot_user_id not in ch.members):
        raise ApiError("channel_not_found")
    return ch


def _im_with(ws: Workspace, user_id: str) -> Channel:
    """chat.postMessage to a user id lands in the app's DM with that user."""
    for ch in ws.channels.values():
        if ch.is_im and ch.members == {ws.bot_user_id, user_id}:
            return ch
    ch = Channel(ws.minter.id("D"), user_id, True, int(ws.now()), ws.bot_user_id, {ws.bot_user_id, user_id})
    ch.is_im = True
    ws.channels[ch.id] = ch
    return ch


@method(
    "conversations.open",
    errors=("channel_not_found", "user_not_found", "user_disabled", "users_list_not_supplied",
            "method_not_supported_for_channel_type"),
    scopes=("channels:manage", "groups:write", "im:write", "mpim:write"),
)
def conversations_open(ws: Workspace, args: Args) -> dict[str, Any]:
    """The app's direct message with one user (made the first time; the same one after that), or an existing
    one resumed by `channel`. Group DMs (several users) are not modelled: the fake refuses them by name."""
    if "im:write" not in ws.scopes:
        raise ApiError("missing_scope", needed="im:write", provided=",".join(ws.scopes))
    known = len(ws.channels)
    ch = _resumed_im(ws, args.str("channel") or "") if args.has("channel") else _im_with(ws, _dm_user(ws, args))
    again = {} if len(ws.channels) > known else {"no_op": True, "already_open": True}
    return {"channel": conversation_json(ws, ch) if args.bool("return_im") else {"id": ch.id}, **again}


def _resumed_im(ws: Workspace, channel_id: str) -> Channel:
    ch = ws.channels.get(channel_id)
    if ch is None or not ch.is_im or ws.bot_user_id not in ch.members:
        raise ApiError("channel_not_found")
    return ch


def _dm_user(ws: Workspace, args: Args) -> str:
    """The one user conversations.open's `users` names, who can be messaged."""
    users = [u for u in (args.str("users") or "").split(",") if u]
    if not users:
        raise ApiError("users_list_not_supplied")
    if len(users) > 1:
        raise invalid_arguments("[FAKE] group DMs (conversations.open with several users) are not modelled")
    user = ws.users.get(users[0])
    if user is None:
        raise ApiError("user_not_found")
    if user.deleted:
        raise ApiError("user_disabled")
    return user.id


def add_member(ws: Workspace, ch: Channel, user_id: str, inviter: str | None) -> None:
    ch.members.add(user_id)
    ch.joins.append(JoinEvent(ws.minter.ts(), user_id, inviter))


def _blocks_arg(ws: Workspace, args: Args, limit: int = 50) -> list[dict[str, Any]] | None:
    if not args.has("blocks"):
        return None
    try:
        blocks = coerce_json(args.data["blocks"], "blocks")
        problems = validate_blocks(blocks, limit)
    except BlocksFormatError as e:
        raise ApiError("invalid_blocks_format", response_metadata={"messages": [str(e)]}) from None
    if problems:
        raise ApiError("invalid_blocks", errors=problems, response_metadata={"messages": problems})
    return fill_ids(blocks, ws.minter.short)


def _check_text(ws: Workspace, text: str | None, blocks: list[Any] | None, attachments: bool) -> None:
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    if text and len(text) > ws.max_text_length:
        raise ApiError("msg_too_long")


# ----------------------------------------------------------------------------------------------------------
# auth / users


@method("auth.test", errors=())
def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    bot = ws.users[ws.bot_user_id]
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        **({"enterprise_id": ws.enterprise_id} if ws.enterprise_id else {}),
        "is_enterprise_install": False,
    }


@method("users.info", errors=("user_not_found",), scopes=("users:read",))
def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    u = ws.users.get(args.str("user") or "")
    if u is None:
        raise ApiError("user_not_found")
    user = user_json(ws, u)
    if args.bool("include_locale"):  # Slack says a user's locale only when asked
        user["locale"] = u.locale
    return {"user": user}


@method("users.lookupByEmail", errors=("users_not_found",), scopes=("users:read.email",))
def users_lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    """The user whose profile has this e-mail (Slack compares it without case); a bot has none to find."""
    email = args.required("email").strip().lower()
    for u in ws.users.values():
        if u.email and u.email.lower() == email and not u.deleted:
            return {"user": user_json(ws, u)}
    raise ApiError("users_not_found")


# ----------------------------------------------------------------------------------------------------------
# conversations

_NAME_OK = re.compile(r"[a-z0-9_-]+")


@method(
    "conversations.create",
    errors=(
        "name_taken",
        "invalid_name_required",
        "invalid_name_maxlength",
        "invalid_name_specials",
        "invalid_name_punctuation",
    ),
    scopes=("channels:manage", "groups:write"),
)
def conversations_create(ws: Workspace, args: Args) -> dict[str, Any]:
    name = args.str("name") or ""
    is_private = args.bool("is_private")
    need = "groups:write" if is_private else "channels:manage"
    if need not in ws.scopes:
        raise ApiError("missing_scope", needed=need, provided=",".join(ws.scopes))
    if not name:
        raise ApiError("invalid_name_required")
    if len(name) > 80:
        raise ApiError("invalid_name_maxlength")
    if not _NAME_OK.fullmatch(name):
        raise ApiError("invalid_name_specials")
    if set(name) <= {"-", "_"}:
        raise ApiError("invalid_name_punctuation")
    if ws.channel_by_name(name) is not None:  # archived channels keep their names
        raise ApiError("name_taken")
    ch = Channel(ws.minter.id("C"), name, is_private, int(ws.now()), ws.bot_user_id)
    ws.channels[ch.id] = ch
    add_member(ws, ch, ws.bot_user_id, None)
    return {"channel": conversation_json(ws, ch)}


@method("conversations.info", errors=("channel_not_found",), scopes=("channels:read", "groups:read"))
def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = visible_channel(ws, args.str("channel"))
    out = conversation_json(ws, ch)
    if args.bool("include_num_members"):
        out["num_members"] = len(ch.members)
    return {"channel": out}


def _limit(args: Args, default: int, maximum: int) -> int:
    limit = args.int("limit") or default
    if not 1 <= limit <= maximum:
        raise ApiError("invalid_limit")
    return limit


def _page(args: Args, items: list[Any], limit: int, bad_cursor: str = "invalid_cursor") -> tuple[list[Any], str]:
    """One page of `items` and the cursor of the next ("" at the end), as Slack paginates."""
    start = 0
    if cursor := args.str("cursor"):
        try:
            start = int(base64.b64decode(cursor).decode().removeprefix("offset:"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(bad_cursor) from None
    nxt = start + limit
    return items[start:nxt], base64.b64encode(f"offset:{nxt}".encode()).decode() if nxt < len(items) else ""


@method(
    "conversations.members",
    errors=("channel_not_found", "invalid_cursor", "invalid_limit"),
    scopes=("channels:read", "groups:read"),
)
def conversations_members(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = visible_channel(ws, args.str("channel"))
    page, next_cursor = _page(args, sorted(ch.members), _limit(args, 100, 1000))
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


@method(
    "conversations.history",
    errors=("channel_not_found", "invalid_ts_latest", "invalid_ts_oldest"),
    scopes=("channels:history", "groups:history", "im:history"),
)
def conversations_history(ws: Workspace, args: Args) -> dict[str, Any]:
    """Top-level messages, newest first; metadata only with include_all_metadata (as Slack does). A channel
    the bot is not in is channel_not_found (the documented errors have no not_in_channel here)."""
    ch = visible_channel(ws, args.str("channel"))
    need = "im:history" if ch.is_im else "groups:history" if ch.is_private else "channels:history"
    if need not in ws.scopes:
        raise ApiError("missing_scope", needed=need, provided=",".join(ws.scopes))
    if ws.bot_user_id not in ch.members:
        raise ApiError("channel_not_found")
    oldest, latest = _ts_arg(args, "oldest", 0.0), _ts_arg(args, "latest", float("inf"))
    inclusive = args.bool("inclusive")
    now = ws.now()
    shown = [m for m in reversed(ch.messages) if not m.deleted and (m.thread_ts is None or m.thread_ts == m.ts)
             and m.shown_at <= now
             and (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)]
    limit = min(max(args.int("limit") or 100, 1), 999)  # documented maximum 999
    page, next_cursor = _page(args, shown, limit, bad_cursor="invalid_arguments")
    with_metadata = args.bool("include_all_metadata")
    return {"messages": [message_json(ws, m, include_metadata=with_metadata) for m in page],
            "has_more": bool(next_cursor), "pin_count": 0, "channel_actions_ts": None,
            "channel_actions_count": 0, "response_metadata": {"next_cursor": next_cursor}}


def _ts_arg(args: Args, key: str, default: float) -> float:
    raw = args.str(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ApiError(f"invalid_ts_{key}") from None


_CONVERSATION_TYPES = {"public_channel", "private_channel", "mpim", "im"}


@method(
    "users.conversations",
    errors=("invalid_cursor", "invalid_limit", "invalid_types"),
    scopes=("channels:read", "groups:read", "im:read", "mpim:read"),
)
def users_conversations(ws: Workspace, args: Args) -> dict[str, Any]:
    """The conversations a user (the bot, by default) is a member of, oldest first."""
    types = {t.strip() for t in (args.str("types") or "public_channel").split(",") if t.strip()}
    if not types or types - _CONVERSATION_TYPES:
        raise ApiError("invalid_types")
    user = args.str("user") or ws.bot_user_id  # an unknown user is simply in no conversation
    exclude_archived = args.bool("exclude_archived")
    chosen = [ch for ch in ws.channels.values()
              if user in ch.members and not (exclude_archived and ch.archived)
              and ("im" if ch.is_im else "private_channel" if ch.is_private else "public_channel") in types]
    page, next_cursor = _page(args, sorted(chosen, key=lambda ch: (ch.created, ch.id)), _limit(args, 100, 1000))
    return {"channels": [conversation_json(ws, ch) for ch in page],
            "response_metadata": {"next_cursor": next_cursor}}


@method(
    "conversations.invite",
    errors=(
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "no_user",
        "too_many_users",
        "user_not_found",
        "cant_invite_self",
        "already_in_channel",
        "cant_invite",
    ),
    scopes=("channels:manage", "groups:write", "channels:write.invites", "groups:write.invites"),
)
def conversations_invite(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = visible_channel(ws, args.str("channel"))
    if ch.archived:
        raise ApiError("is_archived")
    if ws.bot_user_id not in ch.members:
        raise ApiError("not_in_channel")
    ids = [u.strip() for u in (args.str("users") or "").split(",") if u.strip()]
    if not ids:
        raise ApiError("no_user")
    if len(ids) > 1000:  # docs page: "invites 1-1000 users" (the ref's arg text still says 100)
        raise ApiError("too_many_users")
    invitable: list[str] = []
    removed: list[str] = []
    failures: list[dict[str, Any]] = []
    for uid in dict.fromkeys(ids):
        user = ws.users.get(uid)
        if uid == ws.bot_user_id:
            code = "cant_invite_self"
        elif user is None:
            code = "user_not_found"
        elif user.deleted:
            code = "cant_invite"
            removed.append(uid)
        elif uid in ch.members:
            code = "already_in_channel"
        else:
            invitable.append(uid)
            continue
        failures.append({"user": uid, "ok": False, "error": code})
    force = args.bool("force")
    # Docs: if any invite fails nobody is invited, except that users in a "removed" (deactivated) state
    # fail "silently": the others are invited and an error still comes back. force=true skips invalid ids.
    only_removed = bool(failures) and all(f["user"] in removed for f in failures)
    if force or not failures or only_removed:
        for uid in invitable:
            add_member(ws, ch, uid, ws.bot_user_id)
    if failures and not force:
        raise ApiError(failures[0]["error"], errors=failures)
    out: dict[str, Any] = {"channel": conversation_json(ws, ch)}
    if failures:
        out["errors"] = failures
    return out


@method(
    "conversations.kick",
    errors=("channel_not_found", "user_not_found", "cant_kick_self", "not_in_channel", "cant_kick_from_general",
            "method_not_supported_for_channel_type"),
    scopes=("channels:manage", "groups:write", "im:write", "mpim:write"),
)
def conversations_kick(ws: Workspace, args: Args) -> dict[str, Any]:
    """Removes a user from a conversation (the 2020 spec's errors; `not_in_channel`: the user was not in it)."""
    ch = visible_channel(ws, args.str("channel"))
    if ch.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    uid = args.str("user") or ""
    if uid == ws.bot_user_id:
        raise ApiError("cant_kick_self")
    if uid not in ws.users:
        raise ApiError("user_not_found")
    if ch.is_general:
        raise ApiError("cant_kick_from_general")
    if uid not in ch.members:
        raise ApiError("not_in_channel")
    ch.members.discard(uid)
    ch.joins.append(JoinEvent(ws.minter.ts(), uid, ws.bot_user_id, removed=True))
    return {}


@method(
    "conversations.archive",
    errors=("channel_not_found", "already_archived", "not_in_channel", "cant_archive_general",
            "method_not_supported_for_channel_type"),
    scopes=("channels:manage", "groups:write"),
)
def conversations_archive(ws: Workspace, args: Args) -> dict[str, Any]:
    """Archives a channel: a private one needs groups:write, a public one channels:manage (as creating them);
    a DM is not archived this way. Archived, it keeps its members, messages and files, and takes no posts."""
    ch = visible_channel(ws, args.str("channel"))
    if ch.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    need = "groups:write" if ch.is_private else "channels:manage"
    if need not in ws.scopes:
        raise ApiError("missing_scope", needed=need, provided=",".join(ws.scopes))
    if ch.archived:
        raise ApiError("already_archived")
    if ch.is_general:
        raise ApiError("cant_archive_general")
    if ws.bot_user_id not in ch.members:
        raise ApiError("not_in_channel")
    ch.archived = True
    return {}


@method(
    "conversations.join",
    errors=("channel_not_found", "is_archived", "method_not_supported_for_channel_type"),
    scopes=("channels:join",),
)
def conversations_join(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = visible_channel(ws, args.str("channel"))
    if ch.is_private or ch.is_im:  # joining is for public channels; private ones need an invite
        raise ApiError("method_not_supported_for_channel_type")
    if ch.archived:
        raise ApiError("is_archived")
    if ws.bot_user_id in ch.members:
        return {
            "channel": conversation_json(ws, ch),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    add_member(ws, ch, ws.bot_user_id, None)
    return {"channel": conversation_json(ws, ch)}


# ----------------------------------------------------------------------------------------------------------
# chat


def _postable(ws: Workspace, ref: str | None) -> Channel:
    to_user = ref is not None and ref[:1] in ("U", "W") and ref in ws.users
    ch = _im_with(ws, ref) if ref is not None and to_user else visible_channel(ws, ref, by_name=True)
    if ch.is_im and not ws.messages_tab_enabled:  # an app's DMs live in its Messages tab
        raise ApiError("messages_tab_disabled")
    if ch.archived:
        raise ApiError("is_archived")
    if ws.bot_user_id not in ch.members:  # no chat:write.public modelled
        raise ApiError("not_in_channel")
    return ch


def post_message(
    ws: Workspace,
    ch: Channel,
    text: str,
    blocks: list[dict[str, Any]],
    thread_ts: str | None,
    files: list[str],
) -> Message:
    if thread_ts:
        parent = ch.message(thread_ts)
        if parent is not None and parent.thread_ts:  # a reply's ts means its parent thread
            thread_ts = parent.thread_ts
    m = Message(
        ws.minter.ts(), ws.bot_user_id, text, blocks, thread_ts, files, bot_id=ws.bot_id, app_id=ws.app_id
    )
    ch.messages.append(m)
    return m


@method(
    "chat.postMessage",
    errors=(
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "messages_tab_disabled",
        "no_text",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
    ),
    scopes=("chat:write",),
)
def chat_post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = _postable(ws, args.str("channel"))
    blocks = _blocks_arg(ws, args)
    text = args.str("text") or ""
    _check_text(ws, text, blocks, args.has("attachments"))
    metadata = _metadata_arg(args)
    m = post_message(ws, ch, text, blocks or [], args.str("thread_ts"), [])
    m.metadata = metadata
    return {"channel": ch.id, "ts": m.ts, "message": message_json(ws, m, include_metadata=True)}


METADATA_LIMIT = 8000  # bytes of JSON; Slack documents a size limit without a figure, this is generous


def _metadata_arg(args: Args) -> dict[str, Any] | None:
    """Message metadata: a JSON object with a string event_type and an object event_payload."""
    if not args.has("metadata"):
        return None
    raw = args.data["metadata"]
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise ApiError("invalid_metadata_format") from None
    if not isinstance(value, dict):
        raise ApiError("invalid_metadata_format")
    if not isinstance(value.get("event_type"), str) or not isinstance(value.get("event_payload"), dict):
        raise ApiError("invalid_metadata_schema")
    if len(json.dumps(value)) > METADATA_LIMIT:
        raise ApiError("metadata_too_large")
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


@method(
    "chat.update",
    errors=(
        "channel_not_found",
        "message_not_found",
        "cant_update_message",
        "is_inactive",
        "no_text",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
    ),
    scopes=("chat:write",),
)
def chat_update(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = visible_channel(ws, args.str("channel"))
    m = ch.message(args.str("ts") or "")
    if m is None:
        raise ApiError("message_not_found")
    if m.user != ws.bot_user_id:
        raise ApiError("cant_update_message")
    if ch.archived:
        raise ApiError("is_inactive")
    blocks = _blocks_arg(ws, args)
    text = args.str("text")
    if not text and not blocks and not args.has("attachments"):
        raise ApiError("no_text")
    if text and len(text) > ws.max_text_length:
        raise ApiError("msg_too_long")
    replace_message(ws, m, text if text is not None else m.text, blocks)
    return {"channel": ch.id, "ts": m.ts, "text": m.text, "message": message_json(ws, m)}


def replace_message(ws: Workspace, m: Message, text: str, blocks: list[dict[str, Any]] | None) -> None:
    edit_ts = ws.minter.ts()
    m.history.append(MessageVersion(m.text, m.blocks, edit_ts))
    m.text = text
    if blocks is not None:  # documented: omitted blocks are retained, [] removes them
        m.blocks = blocks
    m.edited, m.edited_ts = True, edit_ts


@method(
    "chat.postEphemeral",
    errors=(
        "channel_not_found",
        "is_archived",
        "messages_tab_disabled",
        "not_in_channel",
        "user_not_in_channel",
        "no_text",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
    ),
    scopes=("chat:write",),
)
def chat_post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = _postable(ws, args.str("channel"))
    user = args.str("user") or ""
    if user not in ch.members:
        raise ApiError("user_not_in_channel")
    blocks = _blocks_arg(ws, args)
    text = args.str("text") or ""
    _check_text(ws, text, blocks, args.has("attachments"))
    ts = ws.minter.ts()
    ws.ephemerals.append({"channel": ch.id, "user": user, "text": text, "blocks": blocks or [], "ts": ts})
    return {"message_ts": ts}


@method("chat.getPermalink", errors=("channel_not_found", "message_not_found"))
def chat_get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    ch = visible_channel(ws, args.str("channel"))
    m = ch.message(args.str("message_ts") or "")
    if m is None:
        raise ApiError("message_not_found")
    link = f"https://{ws.team_domain}.slack.com/archives/{ch.id}/p{m.ts.replace('.', '')}"
    if m.thread_ts and m.thread_ts != m.ts:
        link += f"?thread_ts={m.thread_ts}&cid={ch.id}"
    return {"channel": ch.id, "permalink": link}
