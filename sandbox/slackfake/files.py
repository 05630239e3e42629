"""files.* methods and the upload leg of files_upload_v2.

Flow (platform-notes §5, slack_sdk WebClient.files_upload_v2): files.getUploadURLExternal(filename, length)
-> raw POST of the bytes to upload_url -> files.completeUploadExternal(files=[{id,title}], channel_id, ...).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .state import FakeFile, Workspace
from .validation import BlocksFormatError, coerce_json, fill_ids, validate_blocks
from .webapi import ApiError, Args, file_json, invalid_arguments, method, post_message, visible_channel


@method(
    "files.getUploadURLExternal",
    errors=("missing_argument", "alt_txt_too_large", "snippet_too_large"),
    scopes=("files:write",),
)
def files_get_upload_url(ws: Workspace, args: Args) -> dict[str, Any]:
    filename = args.required("filename")
    if not args.has("length"):
        raise invalid_arguments("[ERROR] missing required field: length")
    length = args.int("length")
    if length == 0:  # documented: missing_argument "typically only occurs when the length provided is 0"
        raise ApiError("missing_argument")
    if length is None or length < 0:
        raise invalid_arguments("[ERROR] must be at least 1 [json-pointer:/length]")
    alt_txt = args.str("alt_txt")
    if alt_txt and len(alt_txt) > 1000:
        raise ApiError("alt_txt_too_large")
    snippet_type = args.str("snippet_type")
    if snippet_type and length > 1024 * 1024:
        raise ApiError("snippet_too_large")
    f = FakeFile(ws.minter.id("F"), filename, filename, length, ws.bot_user_id, int(ws.now()))
    f.alt_txt, f.snippet_type = alt_txt, snippet_type
    ws.files[f.id] = f
    return {"upload_url": f"{ws.base_url}/upload/v1/{f.id}", "file_id": f.id}


def receive_upload(ws: Workspace, file_id: str, data: bytes) -> tuple[int, str]:
    """The upload leg: raw bytes POSTed to upload_url (no auth, urllib's default form content type)."""
    f = ws.files.get(file_id)
    if f is None:
        return 404, "file not found"
    if f.completed:
        return 400, "upload already completed"
    f.content = data
    return 200, f"OK - {len(data)}"


@method(
    "files.completeUploadExternal",
    errors=(
        "file_not_found",
        "channel_not_found",
        "not_in_channel",
        "invalid_channel",
        "channels_limit_exceeded",
        "invalid_blocks",
    ),
    scopes=("files:write",),
)
def files_complete_upload(ws: Workspace, args: Args) -> dict[str, Any]:
    try:
        items = coerce_json(args.required("files"), "files")
    except BlocksFormatError as e:
        raise invalid_arguments(str(e)) from None
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(i, dict) and i.get("id") for i in items)
    ):
        raise invalid_arguments(
            "[ERROR] must be a non-empty array of objects with an id [json-pointer:/files]"
        )
    files: list[tuple[FakeFile, str | None]] = []
    for item in items:
        f = ws.files.get(str(item["id"]))
        # The upload ticket is single use and needs the bytes: otherwise "Could not find the file from the
        # upload ticket".
        if f is None or f.content is None or f.completed:
            raise ApiError("file_not_found")
        if len(f.content) != f.length:
            raise invalid_arguments(
                f"[ERROR] uploaded {len(f.content)} bytes for {f.id} but files.getUploadURLExternal declared "
                f"length {f.length}"
            )
        files.append((f, item.get("title")))
    refs = [c for c in [args.str("channel_id"), *(args.str("channels") or "").split(",")] if c and c.strip()]
    refs = list(dict.fromkeys(r.strip() for r in refs))
    if len(refs) > 100:
        raise ApiError("channels_limit_exceeded")
    thread_ts = args.str("thread_ts")
    if thread_ts and len(refs) > 1:
        raise invalid_arguments("[ERROR] only one channel may be given with thread_ts")
    targets = []
    for ref in refs:
        ch = visible_channel(ws, ref)
        if ch.archived:
            raise ApiError("invalid_channel")
        if ws.bot_user_id not in ch.members:
            raise ApiError("not_in_channel")
        targets.append(ch)
    comment = args.str("initial_comment") or ""
    blocks: list[dict[str, Any]] = []
    if not comment and args.has("blocks"):  # documented: blocks are ignored when initial_comment is given
        try:
            raw = coerce_json(args.data["blocks"], "blocks")
            problems = validate_blocks(raw)
        except BlocksFormatError as e:
            raise ApiError("invalid_blocks", response_metadata={"messages": [str(e)]}) from None
        if problems:
            raise ApiError("invalid_blocks", response_metadata={"messages": problems})
        blocks = fill_ids(raw, ws.minter.short)
    for f, title in files:
        f.completed = True
        if title:
            f.title = title
    for ch in targets:
        share = post_message(ws, ch, comment, blocks, thread_ts, [f.id for f, _ in files])
        share.shown_at = ws.now() + ws.share_delay
        for f, _ in files:
            f.channels.append(ch.id)
    # Documented output: id and title (+ created, user); sharing into channels happens after the call.
    return {
        "files": [
            {"id": f.id, "title": f.title, "name": f.name, "created": f.created, "user": f.user}
            for f, _ in files
        ]
    }


@method("files.info", errors=("file_not_found",), scopes=("files:read",))
def files_info(ws: Workspace, args: Args) -> dict[str, Any]:
    f = ws.files.get(args.str("file") or "")
    if f is None or not f.completed or f.deleted:
        raise ApiError("file_not_found")
    out = file_json(ws, f)
    out["channels"] = [c for c in f.channels if not ws.channels[c].is_private]
    out["groups"] = [c for c in f.channels if ws.channels[c].is_private and not ws.channels[c].is_im]
    out["ims"] = [c for c in f.channels if ws.channels[c].is_im]
    shares: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for cid in f.channels:
        ch = ws.channels[cid]
        kind = "private" if ch.is_private else "public"
        for m in ch.messages:
            if f.id in m.files:
                share = {"ts": m.ts, "channel_name": ch.name, "team_id": ws.team_id, "share_user_id": m.user}
                shares.setdefault(kind, {}).setdefault(cid, []).append(share)
    out["shares"] = shares
    return {"file": out, "comments": [], "response_metadata": {"next_cursor": ""}}


@method("files.upload", errors=("method_deprecated",), scopes=("files:write",))
def files_upload(ws: Workspace, args: Args) -> dict[str, Any]:
    # Sunset for all apps on 2025-11-12 (platform-notes §0.1); files.upload.json lists method_deprecated.
    raise ApiError("method_deprecated")


def serve_private(ws: Workspace, path: str, authorization: str) -> tuple[int, bytes, dict[str, str]]:
    """GET of a file's url_private (/files-pri/<team>-<file id>/<name>), as Slack answers it: with a token it
    refuses (or none) a redirect to the workspace's sign-in page; with a good token that lacks files:read, that
    page itself (HTTP 200, HTML), not the file; a file deleted or unknown, 404. Else the bytes."""
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    if not (ws.installed and token and token == ws.bot_token):
        return 302, b"", {"Location": f"{ws.base_url}/?redir={quote(path)}"}
    if "files:read" not in ws.scopes:
        return 200, SIGN_IN_PAGE, {"Content-Type": "text/html; charset=utf-8"}
    ref = path.split("/")[2] if path.count("/") >= 3 else ""
    f = ws.files.get(ref.rpartition("-")[2])
    if f is None or f.deleted or f.content is None or not f.completed:
        return 404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"}
    return 200, f.content, {"Content-Type": file_json(ws, f)["mimetype"]}


SIGN_IN_PAGE = (b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Slack</title></head>"
                b"<body><h1>Sign in to Fake Workspace</h1></body></html>")
