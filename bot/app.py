"""The app factory: builds a Bolt app from its settings, Web API client and database. Nothing here runs
at import time, so tests build as many apps as they like."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.context import BotContext
from bot.effects import EffectRunner, lower_priority
from bot.gateway import Gateway, make_client
from bot.install_flow import NOT_INSTALLED_HERE, install_flow
from bot.installs import Installations, InstalledAuthorize
from bot.listeners import actions, commands, dedup, events, history, options, signing, uninstall, views
from bot.listeners.views import not_saved
from bot.not_installed import not_installed_here
from bot.observed import ObservedApp
from bot.pacing import Pacer
from bot.refusals import reader_of, sorry
from bot.settings import Settings
from bot.signing_links import Links
from bot.signing_page import SigningPage
from bot.workspace import authorization, connect, only_this_workspace, served
from i18n import Language, language
from storage.db import refresh_statistics
from storage.scope import serving
from workflow.clock import Clock, utcnow
from workflow.reminders import ReminderPolicy, Sweep, sweep
from workflow.service import OrderService

log = logging.getLogger(__name__)
STATISTICS_HOURS = 6  # how often SQLite's query statistics are gathered again (storage/db.refresh_statistics)


@dataclass
class Bot:
    app: App
    ctx: BotContext
    scheduler: BackgroundScheduler | None = None
    signing_page: SigningPage | None = None  # the client's signing page, when SIGNATURE_LINK_SECRET is set
    # set by stop(): a sweep running then ends after its round (each is its own short transaction), so the
    # process exits within SHUTDOWN_SECONDS rather than when a backlog of rounds is through
    stopping: threading.Event = field(default_factory=threading.Event)

    def start_background(self, retry_seconds: float, sweep_seconds: float | None = None,
                         reminders: ReminderPolicy | None = None) -> None:
        """Retry effects that failed (and any left by a previous run) on a timer; and, given a policy, sweep
        for due reminders on another (every process does: each reminder is queued once, see
        workflow/reminders.py)."""
        # the sweep is background work, like the effects: at a lower priority than acks
        self.scheduler = BackgroundScheduler(daemon=True, executors={"default": ThreadPoolExecutor(
            max_workers=2, pool_kwargs={"initializer": lower_priority})})
        self.scheduler.add_job(self.ctx.effects.kick, "interval", seconds=retry_seconds, id="effects",
                               max_instances=1, coalesce=True)
        if reminders is not None and sweep_seconds:
            self.scheduler.add_job(self.sweep, "interval", seconds=sweep_seconds, id="reminders", args=[reminders],
                                   max_instances=1, coalesce=True)
        # SQLite's query statistics, a minute after start (out of the first requests' way), then every few hours
        self.scheduler.add_job(refresh_statistics, "interval", hours=STATISTICS_HOURS, id="statistics",
                               args=[self.ctx.engine], max_instances=1, coalesce=True,
                               next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        self.scheduler.start()
        self.ctx.effects.kick()

    def sweep(self, policy: ReminderPolicy) -> Sweep:
        """Queue the reminders due now in every workspace served (in rounds of at most SWEEP_LIMIT, each its
        own short transaction), and send them."""
        total = Sweep()
        try:
            for team in served(self.ctx.engine):
                if self.stopping.is_set():
                    break
                with serving(team):
                    total = total.beside(self._sweep(policy))
        except Exception:
            log.exception("reminder sweep failed; the next one tries again")
            raise
        if total.total:
            log.info("reminders queued: %s", total)
            self.ctx.effects.kick()
        return total

    def _sweep(self, policy: ReminderPolicy) -> Sweep:
        found = sweep(self.ctx.engine, self.ctx.clock(), policy)
        total = found
        for _ in range(100):
            if not found.backlog or self.stopping.is_set():
                break
            self.ctx.effects.kick()
            found = sweep(self.ctx.engine, self.ctx.clock(), policy)
            total = total.plus(found)
        return total

    def stop(self, deadline: float | None = None) -> bool:
        """Stop the timers and the effect runner: with a deadline (seconds), gracefully (EffectRunner.stop);
        without, after every pass queued has run. False if an effect was still running at the deadline."""
        self.stopping.set()
        if self.scheduler:
            self.scheduler.shutdown(wait=False)
        if deadline is None:
            self.ctx.effects.shutdown()
            return True
        return self.ctx.effects.stop(deadline)


def _user_of(body: dict) -> str | None:
    user = body.get("user")
    found = body.get("user_id") or (user.get("id") if isinstance(user, dict) else None)
    return found if isinstance(found, str) else None


def _sorry(body: dict, lang: Language) -> BoltResponse:
    """What Slack is answered when a listener failed unexpectedly: a line the person can read (in their
    language) where the surface has room for one, never an HTTP 500 (Slack would show its own vague error, or
    nothing)."""
    kind = body.get("type")
    if "command" in body:
        answer: dict = {"response_type": "ephemeral", "text": f":warning: {sorry(lang)}"}
    elif kind == "view_submission":
        answer = {"response_action": "update", "view": not_saved(lang, sorry(lang))}
    elif kind == "block_suggestion":
        answer = {"options": []}
    else:
        return BoltResponse(status=200, body="")
    return BoltResponse(status=200, body=json.dumps(answer), headers={"content-type": "application/json"})


_SAME_TOKEN_WARNINGS = ("`token` will be unused", "SLACK_BOT_TOKEN env variable) will be ignored")


class _SameToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself, and then warns at every start that the client's
    token, or our `authorize`, wins over it: it is the same token (Settings read it from there), so the warning
    only misleads."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(words in message for words in _SAME_TOKEN_WARNINGS)


_SAME_TOKEN = _SameToken()


def build_bot(settings: Settings, engine: Engine, *, client: WebClient | None = None,
              clock: Clock = utcnow, pacer: Pacer | None = None) -> Bot:
    """The bot, ready to serve. With SLACK_BOT_TOKEN it first asks Slack who the token is (auth.test, waiting up
    to `startup_wait_seconds` for Slack to answer) and records that workspace as the database's: SettingsError,
    saying what to do, when Slack cannot be reached, refuses the token, or the database is another
    workspace's. Installed from a link (settings.oauth), it serves every workspace that installs it, each with
    the token its installation stored. Requests are authorized without a Slack call inside an ack. `pacer`: the
    effects' pace (bot/pacing.py), Slack's tiers in real time unless a bench runs a faster Slack."""
    oauth = settings.oauth
    client = client or make_client(settings.bot_token, settings.api_url)
    installations = Installations(engine, oauth.client_id) if oauth else None
    gateway = Gateway(client, installations, pacer)
    # one workspace: who its token is, asked once at start-up (None: installed from a link)
    identity = None if oauth else connect(gateway, engine, settings.api_url, settings.startup_wait_seconds, clock)
    currency = settings.letterhead.provider.currency
    # links can be read whenever their secret is set (links made before PUBLIC_URL was unset still open)
    links = Links(settings.signing.public_url or "", settings.signing.secret) if settings.signing.secret else None
    ctx = BotContext(
        engine=engine, gateway=gateway, service=OrderService(engine, clock, currency, settings.limits,
                                                                 settings.policy),
        effects=EffectRunner(engine, gateway, settings.letterhead, private_channels=settings.private_channels,
                             clock=clock, lease=timedelta(seconds=settings.effect_lease_seconds),
                             workers=settings.effect_workers, completion=settings.reminders.completion,
                             home_window=settings.home_refresh_seconds,
                             links=links),
        clock=clock, timezone=settings.letterhead.provider.timezone, currency=currency,
        locale=settings.letterhead.provider.locale, completion=settings.reminders.completion,
        signing=settings.signing,
    )
    provider = language(ctx.locale)
    # process_before_response: the ack is the listener's return, with no 10 ms polling; slow work runs in
    # lazy listeners and the effect runner, after the ack.
    if identity is None:  # installed from a link
        assert oauth is not None and installations is not None  # identity is None only then
        app = ObservedApp(client=client, signing_secret=settings.signing_secret, process_before_response=True,
                          oauth_flow=install_flow(oauth, settings.api_url, engine, installations, provider, clock),
                          authorize=InstalledAuthorize(installations),
                          # a person's request from a workspace with no installation: our answer, in the ack
                          before_authorize=not_installed_here(installations, provider),
                          user_facing_authorize_error_message=provider._(NOT_INSTALLED_HERE))
        uninstall.register(app, ctx, installations)
    else:
        logging.getLogger("slack_bolt.App").addFilter(_SAME_TOKEN)  # once: the same filter is not added twice
        app = ObservedApp(client=client, signing_secret=settings.signing_secret, process_before_response=True,
                          authorize=authorization(identity, settings.bot_token or ""))
        # ours run after Bolt's own, before any listener
        app.middleware(only_this_workspace(identity, provider))
    for listeners in (dedup, commands, actions, views, options, events, history, signing):
        listeners.register(app, ctx)

    @app.error
    def on_error(error: Exception, body: dict) -> BoltResponse:
        log.exception("unhandled error in a listener (%s)", body.get("type") or body.get("command"),
                      exc_info=error)
        return _sorry(body, reader_of(ctx.engine, ctx.locale, _user_of(body)))

    page = SigningPage(engine, settings.letterhead, links, clock, ctx.effects.kick,
                       settings.signing.trust_forwarded_for) if links else None
    return Bot(app, ctx, signing_page=page)
