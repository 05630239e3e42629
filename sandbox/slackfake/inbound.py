"""SlackDriver: signed requests into a bot, shaped like the ones Slack sends.

Signing (platform-notes §2): `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{raw body}"))` and
`X-Slack-Request-Timestamp`. Slash commands are form bodies; interactions are `payload=<url-quoted JSON>`;
events are JSON. With `transport="socket_mode"` the same payloads go to an app connected to the fake's Socket
Mode link instead, as envelopes; the app's ack payload then plays the part of the HTTP response body.
The driver also does what Slack's side does with the bot's answer (the ack body of a command or a
view_submission), acting on the FakeSlack workspace, and refuses to send what Slack's client never would
(a submission for a closed modal, a required input left empty, an unknown option).
"""

from __future__ import annotations

import json
import math
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier

from .server import FakeSlack
from .socket_mode import EnvelopeType
from .state_values import (  # noqa: F401  re-exported: `from sandbox.slackfake.inbound import plain_text`
    channel,
    checkboxes,
    complete_values,
    conversation,
    date,
    email,
    external,
    files,
    multi_external,
    multi_static,
    number,
    option,
    plain_text,
    radio,
    static,
    timepicker,
    url,
    user,
    users,
)

ACK_TIMEOUT = 3.0  # Slack gives up on an interaction/command ack after 3 s
Transport = Literal["http", "socket_mode"]


@dataclass
class InboundResult:
    """The bot's answer. Over Socket Mode: status 200 with the ack's payload as `text` (JSON; "" for a bare
    ack), or status 0 with `timed_out` when no ack came within 3 s (Slack stops waiting then)."""

    status: int
    headers: dict[str, str]
    text: str
    elapsed: float
    sent: dict[str, Any] | None = field(default=None, repr=False)  # the payload/envelope as sent

    def json(self) -> Any:
        """Parsed body; None when the body is empty (a bare ack)."""
        if not self.text.strip():
            return None
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"bot answered HTTP {self.status} with a non-JSON body: {self.text[:200]!r}"
            ) from e

    @property
    def timed_out(self) -> bool:
        """Slack would have shown the user an error and ignored this answer."""
        return self.elapsed > ACK_TIMEOUT


class NotSubscribed(ValueError):
    """An event Slack would not send: the app's manifest does not subscribe to it (FakeSlack.subscribe)."""


class SlackRefused(AssertionError):
    """Slack would not accept the bot's answer (e.g. an invalid view in response_action=update)."""

    def __init__(self, message: str, result: InboundResult) -> None:
        super().__init__(message)
        self.result = result


class SlackDriver:
    def __init__(
        self,
        bot_url: str | None,
        signing_secret: str | None,
        fake: FakeSlack,
        team_id: str | None = None,
        api_app_id: str | None = None,
        *,
        timeout: float = 10.0,
        verification_token: str = "fake-verification-token",
        transport: Transport = "http",
    ) -> None:
        """`transport="socket_mode"`: deliver over `fake.socket_mode` to a connected SocketModeHandler;
        `bot_url` and `signing_secret` are then unused (pass None): Socket Mode requests are not signed."""
        if transport not in ("http", "socket_mode"):
            raise ValueError(f"unknown transport {transport!r}")
        if transport == "http" and (not bot_url or signing_secret is None):
            raise ValueError("HTTP transport needs the bot's URL and signing secret")
        self.transport = transport
        self.bot_url = bot_url or ""
        self.fake = fake
        self.team_id = team_id or fake.team_id
        self.api_app_id = api_app_id or fake.app_id
        self.timeout = timeout
        self.verification_token = verification_token  # deprecated field Slack still sends
        self._verifier = SignatureVerifier(signing_secret) if signing_secret is not None else None

    # ------------------------------------------------------------------------------------------------------
    # transport

    def post(
        self,
        raw_body: bytes,
        content_type: str = "application/json",
        signed: bool = True,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> InboundResult:
        """A raw HTTP request to the bot (HTTP transport only)."""
        if self._verifier is None:
            raise ValueError("post() sends raw HTTP; this driver delivers over Socket Mode")
        ts = str(int(time.time()) if timestamp is None else timestamp)
        hdrs = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if signed:
            hdrs["X-Slack-Request-Timestamp"] = ts
            hdrs["X-Slack-Signature"] = self._verifier.generate_signature(timestamp=ts, body=raw_body)
        hdrs.update(headers or {})
        req = urllib.request.Request(self.bot_url, data=raw_body, headers=hdrs, method="POST")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, rh, data = resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            status, rh, data = e.code, dict(e.headers.items()), e.read()
        return InboundResult(status, rh, data.decode("utf-8", "replace"), time.monotonic() - start)

    def _deliver(
        self, kind: EnvelopeType, payload: dict[str, Any], retry: tuple[int, str] | None = None
    ) -> InboundResult:
        """The one transport switch: the same payload as Slack's signed HTTP request or as a Socket Mode
        envelope. `retry`: (attempt number, reason) of a redelivered event."""
        if self.transport == "socket_mode":
            r = self._over_socket_mode(kind, payload, retry)
        elif kind == "slash_commands":
            r = self.post(urlencode(payload).encode(), "application/x-www-form-urlencoded")
        elif kind == "interactive":
            r = self.post(f"payload={quote(json.dumps(payload))}".encode(), "application/x-www-form-urlencoded")
        else:
            headers = {"X-Slack-Retry-Num": str(retry[0]), "X-Slack-Retry-Reason": retry[1]} if retry else {}
            r = self.post(json.dumps(payload).encode(), "application/json", headers=headers)
        r.sent = payload
        return r

    def _over_socket_mode(
        self, kind: EnvelopeType, payload: dict[str, Any], retry: tuple[int, str] | None
    ) -> InboundResult:
        # Slack marks every events_api envelope: retry_attempt 0 and an empty reason on first delivery.
        attempt, reason = retry if retry else (0, "")
        envelope = self.fake.socket_mode.send(
            kind,
            payload,
            retry_attempt=attempt if kind == "events_api" else None,
            retry_reason=reason if kind == "events_api" else None,
            connect_timeout=self.timeout,
        )
        if not envelope.wait(ACK_TIMEOUT) or envelope.ack is None or envelope.elapsed is None:
            # No ack in time: Slack has given up (the user sees an error; an event would be retried).
            elapsed = max(time.monotonic() - envelope.sent_at, math.nextafter(ACK_TIMEOUT, math.inf))
            return InboundResult(0, {}, "", elapsed)
        answer = envelope.ack.get("payload")
        return InboundResult(200, {}, "" if answer is None else json.dumps(answer), envelope.elapsed)

    def _post_form(self, fields: dict[str, str]) -> InboundResult:
        return self._deliver("slash_commands", fields)

    def _post_payload(self, payload: dict[str, Any]) -> InboundResult:
        return self._deliver("interactive", payload)

    # ------------------------------------------------------------------------------------------------------
    # payload parts

    def _user(self, user_id: str) -> dict[str, Any]:
        u = self.fake.users.get(user_id)
        if u is None:
            raise ValueError(f"unknown user {user_id}: add it with fake.add_user first")
        return {"id": u.id, "username": u.name, "name": u.name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        team: dict[str, Any] = {"id": self.team_id, "domain": self.fake.team_domain}
        if self.fake.enterprise_id:  # a workspace of an Enterprise Grid org names its org
            team["enterprise_id"] = self.fake.enterprise_id
        return team

    def _enterprise(self) -> dict[str, Any] | None:
        org = self.fake.enterprise_id
        return {"id": org, "name": f"{self.fake.team_name} org"} if org else None

    def _common(self, kind: str, user_id: str) -> dict[str, Any]:
        return {
            "type": kind,
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "team": self._team(),
            "enterprise": self._enterprise(),
            "is_enterprise_install": False,
        }

    def _view(self, view: dict[str, Any] | str) -> dict[str, Any]:
        vid = view if isinstance(view, str) else view.get("id")
        stored = self.fake.views.get(str(vid))
        if stored is None:
            raise ValueError(f"view {vid} is not known to the fake")
        return stored

    def _require_on_screen(self, user_id: str, stored: dict[str, Any]) -> None:
        if stored["type"] == "home":
            return
        stack = self.fake.open_view_ids(user_id)
        if not stack or stack[-1] != stored["id"]:
            raise ValueError(
                f"view {stored['id']} is not the top view of {user_id}'s open modal; "
                "Slack's client can't interact with it"
            )

    @staticmethod
    def _find_element(
        blocks: list[dict[str, Any]], action_id: str, block_id: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for block in blocks:
            if block_id is not None and block.get("block_id") != block_id:
                continue
            els = []
            for key in ("accessory", "element"):
                if isinstance(block.get(key), dict):
                    els.append(block[key])
            if block.get("type") == "actions":
                els.extend(block.get("elements") or [])
            for el in els:
                if el.get("action_id") == action_id:
                    return block, el
        return None

    @staticmethod
    def _action(block: dict[str, Any], el: dict[str, Any], value: str | None) -> dict[str, Any]:
        etype = el.get("type", "button")
        action: dict[str, Any] = {
            "action_id": el.get("action_id"),
            "block_id": block.get("block_id"),
            "type": etype,
            "action_ts": f"{time.time():.6f}",
        }
        if etype == "button":
            action["text"] = el.get("text")
            action["value"] = el.get("value") if value is None else value
            if el.get("style"):
                action["style"] = el["style"]
        elif etype in ("static_select", "overflow", "radio_buttons"):
            opts = {o.get("value"): o for o in (el.get("options") or [])}
            for g in el.get("option_groups") or []:
                opts.update({o.get("value"): o for o in g.get("options") or []})
            if value not in opts:
                raise ValueError(f"{value!r} is not an option of {el.get('action_id')}")
            action["selected_option"] = opts[value]
        elif etype == "users_select":
            action["selected_user"] = value
        elif etype == "datepicker":
            action["selected_date"] = value
        else:
            action["value"] = value
        return action

    # ------------------------------------------------------------------------------------------------------
    # what users do

    def command(
        self, user_id: str, command: str, text: str = "", channel_id: str | None = None
    ) -> InboundResult:
        """A slash command typed in `channel_id` (default: #general). The bot need not be a member."""
        if channel_id is None:
            general = self.fake.channel_by_name("general")
            if general is None:
                raise ValueError("no channel_id given and the fake has no #general")
            channel_id = general.id
        ch = self.fake.channels.get(channel_id)
        if ch is None:
            raise ValueError(f"unknown channel {channel_id}")
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.fake.team_domain,
            "channel_id": channel_id,
            "channel_name": "directmessage" if ch.is_im else ("privategroup" if ch.is_private else ch.name),
            "user_id": user_id,
            "user_name": self._user(user_id)["name"],
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            **({"enterprise_id": self.fake.enterprise_id, "enterprise_name": f"{self.fake.team_name} org"}
               if self.fake.enterprise_id else {}),
            "is_enterprise_install": "false",
            "response_url": self.fake.new_response_url(channel_id, user_id),
            "trigger_id": self.fake.new_trigger_id(user_id),
        }
        r = self._post_form(fields)
        r.sent = dict(fields)
        if r.status == 200 and r.text.strip() and not r.timed_out:
            try:
                body = r.json()
            except ValueError:
                body = {"text": r.text}  # a plain-text ack is shown to the user as is
            problem = self.fake.apply_command_ack(channel_id, user_id, body if isinstance(body, dict) else {})
            if problem:
                raise SlackRefused(f"Slack rejects the command's ack body: {problem}", r)
        return r

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> InboundResult:
        """A click on an element of a channel message. Element, block_id and default value come from the
        stored message; a message the fake does not know is sent with a minimal body."""
        message = self.fake.message_payload(channel_id, message_ts)
        if message is not None:
            found = self._find_element(message.get("blocks") or [], action_id, block_id)
            if found is None:
                raise ValueError(f"message {message_ts} has no element with action_id {action_id!r}")
            action = self._action(*found, value)
        else:
            message = {"type": "message", "ts": message_ts, "text": "", "user": self.fake.bot_user_id}
            action = {
                "action_id": action_id,
                "block_id": block_id or "b",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": f"{time.time():.6f}",
            }
        ch = self.fake.channels.get(channel_id)
        payload = self._common("block_actions", user_id) | {
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": self.fake.new_trigger_id(user_id),
            "channel": {"id": channel_id, "name": ch.name if ch else channel_id},
            "message": message,
            "state": {"values": {}},
            "response_url": self.fake.new_response_url(channel_id, user_id, message_ts),
            "actions": [action],
        }
        return self._post_payload(payload)

    def click_ephemeral(self, user_id: str, ephemeral: dict[str, Any], action_id: str) -> InboundResult:
        """A click on a button of an ephemeral message (one from `FakeSlack.ephemerals`): Slack sends no
        `message` for those, only the container and a response_url that can replace it."""
        found = self._find_element(ephemeral.get("blocks") or [], action_id, None)
        if found is None:
            raise ValueError(f"the ephemeral message has no element with action_id {action_id!r}")
        channel_id = ephemeral["channel"]
        ch = self.fake.channels.get(channel_id)
        payload = self._common("block_actions", user_id) | {
            "container": {"type": "message", "message_ts": ephemeral["ts"], "channel_id": channel_id,
                          "is_ephemeral": True},
            "trigger_id": self.fake.new_trigger_id(user_id),
            "channel": {"id": channel_id, "name": ch.name if ch else channel_id},
            "state": {"values": {}},
            "response_url": self.fake.new_response_url(channel_id, user_id, ephemeral["ts"]),
            "actions": [self._action(*found, None)],
        }
        return self._post_payload(payload)

    def click_in_view(
        self,
        user_id: str,
        view: dict[str, Any] | str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> InboundResult:
        """An interaction inside a modal (or home tab). Input elements only send this with dispatch_action."""
        stored = self._view(view)
        self._require_on_screen(user_id, stored)
        found = self._find_element(stored["blocks"], action_id, block_id)
        if found is None:
            raise ValueError(f"view {stored['id']} has no element with action_id {action_id!r}")
        block, el = found
        if block.get("type") == "input" and not block.get("dispatch_action"):
            raise ValueError(
                f"{action_id!r} is in an input block without dispatch_action: Slack sends no "
                "block_actions for it"
            )
        payload = self._common("block_actions", user_id) | {
            "container": {"type": "view", "view_id": stored["id"]},
            "trigger_id": self.fake.new_trigger_id(user_id, view_id=stored["id"]),
            "view": stored,
            "actions": [self._action(block, el, value)],
        }
        return self._post_payload(payload)

    def submit(
        self,
        user_id: str,
        view: dict[str, Any] | str,
        values: dict[str, dict[str, Any]],
        *,
        check_required: bool = True,
    ) -> InboundResult:
        """Press the modal's submit button with `values` (block_id -> action_id -> entry) typed in, then
        apply the ack (close / update / push / clear / errors) to the fake's modal stack."""
        stored = self._view(view)
        self._require_on_screen(user_id, stored)
        if not stored.get("submit"):
            raise ValueError(f"view {stored['id']} has no submit button")
        full = complete_values(stored, values, check_required)
        self.fake.set_view_state(stored["id"], full)
        stored["state"] = {"values": full}
        payload = self._common("view_submission", user_id) | {
            "trigger_id": self.fake.new_trigger_id(user_id, view_id=stored["id"]),
            "view": stored,
            "response_urls": [],
        }
        r = self._post_payload(payload)
        if r.status == 200 and not r.timed_out:
            body = r.json()
            problems = self.fake.apply_submission_ack(stored["id"], body if isinstance(body, dict) else None)
            if problems:
                raise SlackRefused("Slack rejects the view_submission ack: " + "; ".join(problems), r)
        return r

    def suggest(
        self, user_id: str, view: dict[str, Any] | str, action_id: str, block_id: str, value: str
    ) -> InboundResult:
        """Typing into an external_select: Slack asks the Options Load URL for options."""
        stored = self._view(view)
        found = self._find_element(stored["blocks"], action_id, block_id)
        if found is None or found[1].get("type") not in ("external_select", "multi_external_select"):
            raise ValueError(f"no external select {block_id}/{action_id} in view {stored['id']}")
        min_len = found[1].get("min_query_length", 3)
        if len(value) < min_len:
            raise ValueError(f"Slack only asks for options after {min_len} typed characters")
        payload = self._common("block_suggestion", user_id) | {
            "container": {"type": "view", "view_id": stored["id"]},
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "view": stored,
        }
        r = self._post_payload(payload)
        if r.status == 200 and not r.timed_out:
            body = r.json()
            ok = isinstance(body, dict) and (
                isinstance(body.get("options"), list) or isinstance(body.get("option_groups"), list)
            )
            if not ok:
                raise SlackRefused("options response needs `options` or `option_groups`", r)
        return r

    def close(self, user_id: str, view: dict[str, Any] | str) -> InboundResult | None:
        """The user closes the modal's top view (its X / close button). Slack tells the app only when the
        view has notify_on_close: true; otherwise nothing is sent and this returns None."""
        stored = self._view(view)
        self._require_on_screen(user_id, stored)
        is_cleared = self.fake.close_view(stored["id"])
        if not stored.get("notify_on_close"):
            return None
        payload = self._common("view_closed", user_id) | {"view": stored, "is_cleared": is_cleared}
        return self._post_payload(payload)

    def event(
        self,
        event: dict[str, Any],
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        *,
        authorized: bool = True,
    ) -> InboundResult:
        """An Events API delivery; a retry repeats the same event_id with X-Slack-Retry-* headers. In a
        workspace of an Enterprise Grid org, the envelope and its authorizations name the org. `authorized`
        False: an event about the app's own install (app_uninstalled, tokens_revoked), which Slack sends for the
        team alone, with no authorizations and no org (nothing is left installed to authorize)."""
        if not self.fake.subscribed_to(event):
            raise NotSubscribed(f"Slack sends no {event.get('type')} event to an app that does not subscribe to "
                                "it (the manifest's settings.event_subscriptions.bot_events)")
        now = time.time()
        event = {"event_ts": f"{now:.6f}", **event}
        org = self.fake.enterprise_id
        envelope: dict[str, Any] = {
            "token": self.verification_token,
            "team_id": self.team_id,
            **({"enterprise_id": org} if org and authorized else {}),
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(now),
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        if authorized:
            envelope["authorizations"] = [
                {
                    "enterprise_id": org,
                    "team_id": self.team_id,
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ]
        return self._deliver("events_api", envelope, None if retry_num is None else (retry_num, retry_reason))

    def uninstalled(self) -> tuple[InboundResult, InboundResult]:
        """Someone removes the app from the driver's workspace: Slack revokes its bot token (FakeSlack.uninstall)
        and sends `tokens_revoked` (the bot's user id under `bot`) and `app_uninstalled` (docs: each an Events
        API callback for the workspace, with no authorizations to look up: Bolt skips authorize for them)."""
        bot = self.fake.bot_user_id
        self.fake.uninstall()
        revoked = self.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [bot]}}, authorized=False)
        return revoked, self.event({"type": "app_uninstalled"}, authorized=False)

    def share_files(
        self,
        user_id: str,
        channel_id: str,
        file_ids: list[str],
        text: str = "",
        thread_ts: str | None = None,
        event_id: str | None = None,
        slack_connect: bool = False,
    ) -> tuple[str, InboundResult]:
        """A person shares files they uploaded in a channel: the message is posted (FakeSlack.share_as), and
        the Events API delivers it as Slack does to an app subscribed to message.channels / message.groups
        (subtype file_share, with the files' objects). In a Slack Connect channel (`slack_connect`) Slack
        sends each file as its id alone, `file_access: check_file_info`: the app must ask files.info for the
        rest. Returns the message's ts and the bot's answer."""
        ts = self.fake.share_as(user_id, channel_id, file_ids, text, thread_ts)
        ch = self.fake.channels[channel_id]
        event: dict[str, Any] = {
            "type": "message",
            "subtype": "file_share",
            "text": text,
            "files": [{"id": f, "mode": "file_access", "file_access": "check_file_info", "created": 0,
                       "timestamp": 0, "user": ""} if slack_connect else self.fake.file_payload(f)
                      for f in file_ids],
            "upload": False,
            "user": user_id,
            "display_as_bot": False,
            "ts": ts,
            "channel": channel_id,
            "channel_type": "group" if ch.is_private else "channel",
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, self.event(event, event_id)

    def url_verification(self, challenge: str) -> InboundResult:
        if self.transport == "socket_mode":
            raise ValueError("url_verification is HTTP-only: Slack never sends it to a Socket Mode app")
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        r = self.post(json.dumps(body).encode(), "application/json")
        r.sent = body
        return r
