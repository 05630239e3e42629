"""The one gateway for every Slack Web API call: one retry policy, typed errors, benign errors tolerated."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

log = logging.getLogger(__name__)


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
    USER_NOT_IN_CHANNEL = "user_not_in_channel"
    HASH_CONFLICT = "hash_conflict"
    EXPIRED_TRIGGER = "expired_trigger_id"
    MISSING_SCOPE = "missing_scope"
    RATELIMITED = "ratelimited"


class SlackError(Exception):
    """A Web API call failed for good (after the retries): `code` is Slack's error code."""

    def __init__(self, method: str, code: str, detail: str = "") -> None:
        super().__init__(f"{method}: {code}{f' ({detail})' if detail else ''}")
        self.method = method
        self.code = code


def _typed(method: str, error: SlackApiError) -> SlackError:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    code = str(data.get("error") or "")
    detail = "; ".join(data.get("response_metadata", {}).get("messages", []))
    if not code or " " in code:  # not a Slack error code: slack_sdk's words for a non-JSON answer (a 5xx page)
        code, detail = f"http_{error.response.status_code}", code or detail
    return SlackError(method, code, detail)


def make_client(token: str, api_url: str, timeout: int = 15) -> WebClient:
    """A WebClient with our retry policy: 429s honour Retry-After, 5xx and dropped connections retry."""
    client = WebClient(token=token, base_url=api_url, timeout=timeout)
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


class Gateway:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._bot_user_id: str | None = None

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, method.replace(".", "_"))(**kwargs).data  # type: ignore[no-any-return]
        except SlackApiError as error:
            raise _typed(method, error) from error
        except (SlackClientError, OSError) as error:
            raise SlackError(method, "connection_error", str(error)) from error

    @property
    def bot_user_id(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = self._call("auth.test")["user_id"]
        return self._bot_user_id

    def create_channel(self, name: str, private: bool) -> str:
        return self._call("conversations.create", name=name, is_private=private)["channel"]["id"]

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

    def post(self, channel: str, text: str, blocks: list[dict] | None = None) -> str:
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if blocks is not None:
            kwargs["blocks"] = blocks
        return self._call("chat.postMessage", **kwargs)["ts"]

    def update(self, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat.postEphemeral", channel=channel, user=user, text=text)

    def open_view(self, trigger_id: str, view: dict) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def update_view(self, view_id: str, view: dict, view_hash: str | None = None) -> None:
        kwargs: dict[str, Any] = {"view_id": view_id, "view": view}
        if view_hash:
            kwargs["hash"] = view_hash
        self._call("views.update", **kwargs)

    def publish_home(self, user: str, view: dict) -> None:
        self._call("views.publish", user_id=user, view=view)

    def profile(self, user: str) -> tuple[str, str | None] | None:
        """(name to show, IANA time zone) of a user, or None when Slack does not know them."""
        try:
            data = self._call("users.info", user=user)["user"]
        except SlackError as error:
            if error.code == ErrorCode.USER_NOT_FOUND:
                return None
            raise
        profile = data.get("profile") or {}
        name = profile.get("real_name") or data.get("real_name") or profile.get("display_name") or data.get("name")
        return str(name or user), data.get("tz")

    def upload_pdf(self, channel: str, filename: str, content: bytes, title: str, comment: str) -> str:
        """files_upload_v2 (files.upload is retired): the file lands in the channel's files tab."""
        try:
            response = self.client.files_upload_v2(channel=channel, content=content, filename=filename,
                                                   title=title, initial_comment=comment)
        except SlackApiError as error:
            raise _typed("files_upload_v2", error) from error
        except (SlackClientError, OSError) as error:
            raise SlackError("files_upload_v2", "connection_error", str(error)) from error
        files = response.get("files") or [response.get("file") or {}]
        return str(files[0].get("id", ""))
