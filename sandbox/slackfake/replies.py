"""What Slack does with an app's reply to an interaction: a response_url POST or a slash command's ack body.

Documented behaviour (docs.slack.dev/interactivity/handling-user-interaction): `response_type: in_channel`
posts to the channel (no membership needed, the reply rides on the user's interaction), otherwise the
reply is ephemeral to the user; `replace_original` / `delete_original` act on the message that held the
clicked element. A response_url works 5 times within 30 minutes.
"""

from __future__ import annotations

from typing import Any

from .state import Workspace
from .validation import BlocksFormatError, coerce_json, fill_ids, validate_blocks
from .webapi import post_message, replace_message


def apply_reply(
    ws: Workspace, channel_id: str | None, user_id: str, message_ts: str | None, body: dict[str, Any]
) -> str | None:
    """What Slack does with a response_url POST or a command's ack body. Returns an error code or None."""
    ch = ws.channels.get(channel_id or "")
    if body.get("delete_original"):
        m = ch.message(message_ts) if ch and message_ts else None
        if m is None:
            return "message_not_found"
        m.deleted = True
        return None
    blocks = None
    if "blocks" in body:
        try:
            blocks = coerce_json(body["blocks"], "blocks")
            if validate_blocks(blocks):
                return "invalid_blocks"
        except BlocksFormatError:
            return "invalid_blocks"
        blocks = fill_ids(blocks, ws.minter.short)
    text = str(body.get("text") or "")
    if not text and not blocks:
        return "no_text"
    if body.get("replace_original") and ch and message_ts:
        m = ch.message(message_ts)
        if m is not None:
            replace_message(ws, m, text, blocks if blocks is not None else [])
            return None
        for ephemeral in ws.ephemerals:  # an ephemeral message is replaced for the one user who sees it
            if ephemeral["ts"] == message_ts and ephemeral["user"] == user_id and ephemeral["channel"] == ch.id:
                ephemeral["text"], ephemeral["blocks"] = text, blocks if blocks is not None else []
                return None
        return "message_not_found"
    if ch is None:
        return "channel_not_found"
    if body.get("response_type") == "in_channel":
        # Works without membership: the reply rides on the user's interaction.
        post_message(ws, ch, text, blocks or [], body.get("thread_ts"), [])
    else:
        ws.ephemerals.append(
            {"channel": ch.id, "user": user_id, "text": text, "blocks": blocks or [], "ts": ws.minter.ts()}
        )
    return None
