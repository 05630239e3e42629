"""A Slack workspace on loopback: the fake Web API, the real bot serving HTTP, and a driver that sends
the bot signed requests as Slack would. The demo, the end-to-end tests and the benchmarks run on it,
through exactly the code path production uses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.app import Bot, build_bot
from bot.pacing import Pacer
from bot.server import HttpServer
from bot.settings import ClientSigning, Settings
from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import DEFAULT_SCOPES, FakeSlack
from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import external, number, plain_text, static, timepicker, users
from sandbox.slackfake.state_values import files as files_value
from storage.models import PendingEffect, ServiceOrder
from workflow.clock import Clock, utcnow
from workflow.document import Provider
from workflow.letterhead import Letterhead
from workflow.limits import Limits
from workflow.policy import ApprovalPolicy

SIGNING_SECRET = "local-signing-secret"
TEAM = "T0001"  # the fake workspace's team id: the scripts that seed it work in it (storage/scope.py)
# a file a person attaches: its name and bytes, and the type Slack reports if not the one its name implies
Upload = tuple[str, bytes] | tuple[str, bytes, str]
OWN_URL = "local"  # LocalWorkspace(signing=ClientSigning(public_url=OWN_URL, …)): links to this workspace's bot
MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"


def _manifest() -> dict[str, Any] | None:
    """manifest.yml, or None outside a checkout."""
    import yaml

    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else None


def manifest_tabs() -> dict[str, bool]:
    """The App Home tabs manifest.yml turns on, as the fake's settings (the fake's, both on, outside a
    checkout)."""
    manifest = _manifest()
    if manifest is None:
        return {}
    app_home = manifest["features"]["app_home"]
    return {"home_tab_enabled": bool(app_home.get("home_tab_enabled")),
            "messages_tab_enabled": bool(app_home.get("messages_tab_enabled"))}


def manifest_events() -> list[str] | None:
    """The bot events manifest.yml subscribes to (None outside a checkout: the fake delivers every event)."""
    manifest = _manifest()
    return None if manifest is None else list(manifest["settings"]["event_subscriptions"]["bot_events"])


def manifest_scopes() -> tuple[str, ...]:
    """The bot scopes manifest.yml asks for (the fake's defaults when run outside a checkout)."""
    manifest = _manifest()
    return DEFAULT_SCOPES if manifest is None else tuple(manifest["oauth_config"]["scopes"]["bot"])


class LocalWorkspace:
    def __init__(self, engine: Engine, people: dict[str, str], *, clock: Clock = utcnow,
                 private_channels: bool = True, scopes: Iterable[str] | None = None,
                 transport: Literal["http", "socket_mode"] = "http", letterhead: Letterhead | None = None,
                 fake: FakeSlack | None = None, slack_on_clock: bool = False,
                 limits: Limits | None = None, locales: dict[str, str] | None = None,
                 policy: ApprovalPolicy | None = None, signing: ClientSigning | None = None,
                 pacer: Pacer | None = None, home_refresh_seconds: float = 0.0) -> None:
        """`fake`: a Slack already running (with its people), e.g. one a previous bot process talked to.
        `slack_on_clock`: the fake made here reads `clock` too, not the machine's, for a test that moves the
        bot's clock by days: the bot compares Slack's times (a channel's `created`) with its own.
        `locales`: people's Slack locales as Slack names them ('es-LA', 'en-US', the default); `set_locale`
        changes one later.
        `signing`: the client-signing settings; a PUBLIC_URL of `OWN_URL` is this workspace's own address (the
        page is served by the bot's HTTP server, on a port chosen before the bot is built).
        `pacer`: the bot's pace for Slack's tiers (bot/pacing.py), for a fake that enforces them faster.
        `home_refresh_seconds`: App Home's window (HOME_REFRESH_SECONDS); none here, so a step's Home is
        published at once and a test settles without waiting for a window."""
        self.engine = engine
        self.people = people
        self.locales = locales or {}
        self.clock = clock
        self.private_channels = private_channels
        self.transport = transport
        self.letterhead = letterhead or Letterhead(Provider(name="Service Orders"))
        self.limits = limits or Limits(tax_rate=self.letterhead.provider.tax_rate)
        self.policy = policy or ApprovalPolicy()
        self.signing = signing or ClientSigning()
        self._socket_mode: Any = None
        self.pacer = pacer
        self.home_refresh_seconds = home_refresh_seconds
        # the fake grants the bot the scopes and App Home tabs of our manifest (a missing one fails like
        # Slack does)
        self._own_fake = fake is None
        self.fake = fake or FakeSlack(team_id=TEAM, scopes=tuple(scopes) if scopes is not None else manifest_scopes(),
                                      clock=(lambda: clock().timestamp()) if slack_on_clock else time.time,
                                      **manifest_tabs())
        self.bot: Bot | None = None
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.slack: SlackDriver

    def __enter__(self) -> LocalWorkspace:
        if self._own_fake:
            self.fake.start()
            events = manifest_events()
            if events is not None:  # Slack delivers only the events the app subscribes to
                self.fake.subscribe(events)
            for user_id, name in self.people.items():
                self.fake.add_user(user_id, name.split()[0].lower(), real_name=name,
                                   locale=self.locales.get(user_id, "en-US"))
            self.fake.add_channel("general", members=list(self.people))
        general = self.fake.channel_by_name("general")
        assert general is not None, "the workspace has no #general"
        self.general = general.id
        port = free_port() if self.signing.public_url == OWN_URL else 0
        if port:  # the links name the address the bot is about to serve at
            self.signing = replace(self.signing, public_url=f"http://127.0.0.1:{port}")
        settings = Settings(bot_token=self.fake.bot_token, signing_secret=SIGNING_SECRET,
                            api_url=self.fake.api_url, private_channels=self.private_channels,
                            letterhead=self.letterhead, limits=self.limits,
                            policy=self.policy, signing=self.signing,
                            home_refresh_seconds=self.home_refresh_seconds)
        self.bot = build_bot(settings, self.engine, clock=self.clock, pacer=self.pacer)
        # HTTP mode is always served (health checks); Socket Mode is how Slack's requests arrive if chosen
        self._server = HttpServer(self.bot, self.engine, SIGNING_SECRET, host="127.0.0.1", port=port)
        self._thread = threading.Thread(target=self._server.run, name="bot-http", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.port}"
        if self.transport == "socket_mode":
            from bot.socket_mode import GracefulSocketModeHandler

            self._socket_mode = GracefulSocketModeHandler(self.bot.app, self.fake.app_token)
            self._socket_mode.connect()
            if not self.fake.socket_mode.wait_connected(20):
                raise TimeoutError("the bot did not connect in Socket Mode")
            self.slack = SlackDriver(None, None, self.fake, transport="socket_mode")
        else:
            self.slack = SlackDriver(f"{self.url}/slack/events", SIGNING_SECRET, self.fake)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._socket_mode is not None:
            self.fake.socket_mode.close_links()  # slack_sdk's client never closes first; see slackfake
            self._socket_mode.close()
        if self._server is not None and self._thread is not None:
            self._server.stop()
            self._thread.join(timeout=10)
        if self.bot is not None:
            self.bot.stop()
        if self._own_fake:
            self.fake.stop()

    def set_locale(self, user: str, locale: str) -> None:
        """The person switches Slack's language (Slack's name: 'es-LA', 'en-US'); the bot hears of it when it
        next asks users.info."""
        self.fake.set_user(user, locale=locale)

    # --- waiting for the work that follows an ack ---------------------------------------------------

    def pending_effects(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(PendingEffect)
                                .where(PendingEffect.status == "pending")).one()

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until every pending effect has run (the bot kicks its runner after each step)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.bot is not None
            self.bot.ctx.effects.wait_idle(max(0.0, deadline - time.monotonic()))
            if self.pending_effects() == 0:
                return
            self.bot.ctx.effects.kick()
            time.sleep(0.02)
        raise TimeoutError(f"{self.pending_effects()} effects still pending after {timeout} s")

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
        if not self.fake.wait_for(lambda: bool(predicate()), timeout=timeout):
            raise TimeoutError(f"timed out waiting for {what}")

    # --- acting as a person in Slack -----------------------------------------------------------------

    def top_view(self, user: str) -> dict[str, Any] | None:
        stack = self.fake.open_view_ids(user)
        return self.fake.views.get(stack[-1]) if stack else None

    def wait_for_view(self, user: str, callback_id: str, timeout: float = 10.0) -> dict[str, Any]:
        self.wait(lambda: (self.top_view(user) or {}).get("callback_id") == callback_id,
                  f"{user}'s '{callback_id}' form to open", timeout)
        view = self.top_view(user)
        assert view is not None
        return view

    def pick(self, user: str, view: dict[str, Any], block_id: str, typed: str, action_id: str | None = None,
             choose: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """Type into an external select, as a person would, and pick the first option (or the first that
        `choose` likes). Returns the state entry Slack then submits."""
        action = action_id or _action_of(view, block_id)
        answer = self.slack.suggest(user, view, action, block_id, typed).json() or {}
        options = answer.get("options") or [o for g in answer.get("option_groups", []) for o in g["options"]]
        chosen = next((o for o in options if choose is None or choose(o)), None)
        if chosen is None:
            raise LookupError(f"no option for '{typed}' in {block_id}: {options}")
        entry = {action: external(chosen["value"], chosen["text"]["text"])}
        # the choice is now part of the view's state, as in Slack's client (later suggestions see it)
        self.fake.set_view_state(view["id"], {**self._state(view), block_id: entry})
        return entry

    def _state(self, view: dict[str, Any]) -> dict[str, Any]:
        stored = self.fake.views.get(view["id"]) or {}
        return dict((stored.get("state") or {}).get("values") or {})

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any], **kwargs: Any) -> Any:
        """Submit the form with what was picked so far plus `values` (block_id -> action_id -> entry)."""
        return self.slack.submit(user, view, {**self._state(view), **values}, **kwargs)

    def order(self, order_id: int) -> ServiceOrder:
        with Session(self.engine, expire_on_commit=False) as session:
            order = session.get(ServiceOrder, order_id)
            assert order is not None
            return order

    def click_step(self, user: str, order_id: int, action_id: str) -> Any:
        """Click a button on the order's card, in its channel."""
        order = self.order(order_id)
        assert order.channel_id and order.card_ts, "the order has no card yet"
        return self.slack.click(user, order.channel_id, order.card_ts, action_id)


    # --- the workflow's steps, each as a person does it: open the form, fill it in, submit ------------

    def upload(self, user: str, files: list[Upload]) -> list[dict[str, Any]]:
        """The person uploads files (into a form's file input, or to share them): Slack's file objects."""
        return [self.fake.upload_as(user, f[0], f[1], f[2] if len(f) > 2 else None) for f in files]  # type: ignore[misc]

    def _files(self, user: str, files: list[Upload] | None) -> dict[str, Any]:
        """The form's "Photos and files" input with `files` chosen (nothing when None)."""
        return {"files": {"files": files_value(self.upload(user, files))}} if files else {}

    def share_photos(self, user: str, order_id: int, files: list[Upload], text: str = "",
                     event_id: str | None = None, slack_connect: bool = False) -> tuple[str, Any]:
        """The person shares photos in the order's channel (a file_share message and its event; in a Slack
        Connect channel, the event names each file by its id alone)."""
        order = self.order(order_id)
        assert order.channel_id, "the order has no channel yet"
        uploaded = self.upload(user, files)
        return self.slack.share_files(user, order.channel_id, [f["id"] for f in uploaded], text, event_id=event_id,
                                      slack_connect=slack_connect)

    def submit_order(self, user: str, *, client: str, site: str, items: list[tuple[str, str]], requested: str,
                     description: str, priority: str = "normal", free_items: str = "",
                     files: list[Upload] | None = None) -> Any:
        """/order, then the submit form. `items` are (what to type in the picker, quantity)."""
        view = self._open(user, "submit_order", lambda: self.slack.command(user, "/order"))
        view = self._rows_for(user, view, len(items))
        values: dict[str, Any] = {
            "client": self.pick(user, view, "client", client),
            "site": self.pick(user, view, "site", site),
            "requested_date": {"requested_date": date_value(requested)},
            "priority": {"priority": static(priority)},
            "description": {"description": plain_text(description)},
            "free_items": {"free_items": plain_text(free_items)},
            **self._files(user, files),
        }
        values.update(self._item_values(user, view, items))
        return self.submit(user, view, values)

    def open_step(self, user: str, order_id: int, step: str) -> dict[str, Any]:
        return self._open(user, step, lambda: self.click_step(user, order_id, f"order_{step}"))

    def _open(self, user: str, callback_id: str, act: Callable[[], Any], tries: int = 4) -> dict[str, Any]:
        """Do what opens a form; if it does not open (Slack failed to show it), do it again, as a person
        would after the bot's "please click again"."""
        for attempt in range(tries):
            ack = act()
            assert ack.status == 200, ack.text
            try:
                return self.wait_for_view(user, callback_id, timeout=8.0)
            except TimeoutError:
                if attempt == tries - 1:
                    raise
        raise AssertionError("unreachable")

    def approve(self, user: str, order_id: int, *, workers: list[str], scheduled: str, notes: str = "") -> Any:
        view = self.open_step(user, order_id, "approve")
        return self.submit(user, view, {"field_workers": {"field_workers": users(workers)},
                                        "scheduled_date": {"scheduled_date": date_value(scheduled)},
                                        "notes": {"notes": plain_text(notes)}})

    def reject(self, user: str, order_id: int, reason: str) -> Any:
        view = self.open_step(user, order_id, "reject")
        return self.submit(user, view, {"reason": {"reason": plain_text(reason)}})

    def confirm(self, user: str, order_id: int, *, changes: list[tuple[str, str]], note: str,
                free_items: str = "", workers: list[str] | None = None, files: list[Upload] | None = None) -> Any:
        """A confirmation: `changes` are (what to type in the picker, new quantity; 0 removes)."""
        view = self.open_step(user, order_id, "confirm")
        view = self._rows_for(user, view, len(changes))
        values: dict[str, Any] = {"note": {"note": plain_text(note)},
                                  "free_items": {"free_items": plain_text(free_items)},
                                  "field_workers": {"field_workers": users(workers or [])},
                                  **self._files(user, files)}
        values.update(self._item_values(user, view, changes))
        return self.submit(user, view, values)

    def complete(self, user: str, order_id: int, note: str = "", files: list[Upload] | None = None) -> Any:
        view = self.open_step(user, order_id, "complete")
        return self.submit(user, view, {"note": {"note": plain_text(note)}, **self._files(user, files)})

    def not_perform(self, user: str, order_id: int, reason: str, files: list[Upload] | None = None) -> Any:
        view = self.open_step(user, order_id, "not_perform")
        return self.submit(user, view, {"reason": {"reason": plain_text(reason)}, **self._files(user, files)})

    def set_prices(self, user: str, order_id: int, *, prices: dict[str, str], reason: str) -> Any:
        """The "Set prices" form: `prices` maps a line's description to the unit price typed on it."""
        view = self.open_step(user, order_id, "set_prices")
        values: dict[str, Any] = {"reason": {"reason": plain_text(reason)}}
        for block in view["blocks"]:
            label = (block.get("label") or {}).get("text", "")
            typed = next((p for d, p in prices.items() if d in label), None)
            if block.get("block_id", "").startswith("price:") and typed is not None:
                values[block["block_id"]] = {block["element"]["action_id"]: plain_text(typed)}
        return self.submit(user, view, values)

    def _rows_for(self, user: str, view: dict[str, Any], needed: int) -> dict[str, Any]:
        """Click "Add more rows" until the form has `needed` item rows."""
        while sum(1 for b in view["blocks"] if b.get("block_id", "").startswith("item_")) < needed:
            before = view["hash"]
            self.slack.click_in_view(user, view, "add_item_rows")
            self.wait(lambda old=before: (self.top_view(user) or {}).get("hash") != old, "more item rows")
            view = self.top_view(user) or view
        return view

    def _item_values(self, user: str, view: dict[str, Any], items: list[tuple[str, str]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for row, (typed, quantity) in enumerate(items):
            values[f"item_{row}"] = self.pick(user, view, f"item_{row}", typed)
            values[f"qty_{row}"] = {"quantity": number(quantity)}
        return values

    def reschedule(self, user: str, order_id: int, *, scheduled: str, reason: str, start: str | None = None,
                   end: str | None = None) -> Any:
        """Reschedule: a new date, an optional window ("08:00", "12:00"), and why."""
        view = self.open_step(user, order_id, "reschedule")
        return self.submit(user, view, {"scheduled_date": {"scheduled_date": date_value(scheduled)},
                                        "start_time": {"start_time": timepicker(start)},
                                        "end_time": {"end_time": timepicker(end)},
                                        "reason": {"reason": plain_text(reason)}})

    def change_crew(self, user: str, order_id: int, *, workers: list[str], note: str = "") -> Any:
        """Change crew: `workers` is the whole crew from now on."""
        view = self.open_step(user, order_id, "change_crew")
        return self.submit(user, view, {"field_workers": {"field_workers": users(workers)},
                                        "note": {"note": plain_text(note)}})

    def send_back(self, user: str, order_id: int, note: str) -> Any:
        """Send back for changes, with a note for the requester."""
        view = self.open_step(user, order_id, "send_back")
        return self.submit(user, view, {"note": {"note": plain_text(note)}})

    def resubmit(self, user: str, order_id: int, *, description: str) -> Any:
        """Edit and resubmit: the request's form comes filled in; this changes its description."""
        view = self._open(user, "resubmit_order", lambda: self.click_step(user, order_id, "order_resubmit"))
        return self.submit(user, view, {"description": {"description": plain_text(description)}})

    def approve_change(self, user: str, order_id: int) -> Any:
        """Approve the change waiting on the order (a rise in its total past REAPPROVAL_OVER)."""
        return self.submit(user, self.open_step(user, order_id, "approve_change"), {})

    def reject_change(self, user: str, order_id: int, reason: str) -> Any:
        view = self.open_step(user, order_id, "reject_change")
        return self.submit(user, view, {"reason": {"reason": plain_text(reason)}})

    def ask_to_sign(self, user: str, order_id: int) -> Any:
        """Click "Ask the client to sign" on the order's card."""
        order = self.order(order_id)
        assert order.channel_id and order.card_ts, "the order has no card yet"
        return self.slack.click(user, order.channel_id, order.card_ts, "ask_signature")

    def latest_order_id(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.max(ServiceOrder.id))).one() or 0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _action_of(view: dict[str, Any], block_id: str) -> str:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            element = block.get("element") or {}
            return str(element.get("action_id"))
    raise LookupError(f"no block {block_id} in the view")
