"""Installing the app from a link: Bolt's OAuth flow (GET /slack/install sends the browser to Slack's authorize
page, GET /slack/oauth_redirect takes the code back) on slack-sdk's SQLAlchemy stores, with our own short pages
for how it ended, in the provider's language. One workspace at a time: an install for a whole Enterprise Grid
org is refused (every row belongs to one workspace, and an org-wide token serves many)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit, urlunsplit

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.error import BoltError
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, delete, select

from bot.installs import Installations
from bot.settings import INSTALL_PATH, OAuthApp
from i18n import N_, Language
from workflow.clock import Clock

log = logging.getLogger(__name__)

STATE_SECONDS = 600  # the person has ten minutes between the install link and Allow
PURGE_BATCH = 100  # expired states deleted per install link: each link adds one, so the table stays small

INSTALLED = N_("Installed")
INSTALLED_IN = N_("The app is installed in {workspace}. In Slack, type /order to begin.")
NOT_INSTALLED = N_("Not installed")
CANCELLED = N_("The app was not installed: the installation was cancelled in Slack.")
START_AGAIN = N_("This installation link has expired or was opened in another browser. Start again from {link}.")
NOT_CONFIRMED = N_("Slack did not confirm this installation. Start again from {link}.")
ORG_WIDE = N_("This app is installed one workspace at a time, not for a whole Enterprise Grid organization. Install "
              "it from a workspace of the organization.")
NOT_SAVED = N_("The installation could not be saved. Try again in a moment from {link}.")
SLACK_SAID = N_("The app was not installed (Slack said: {reason}). Start again from {link}.")
# the install link and the redirect back answer GET only (a browser's visit); a POST gets this page
OPEN_IN_BROWSER = N_("Open the installation link in your browser: {link}")
# the database or Slack failed mid-install (bot/server.py): the person starts again
INSTALL_FAILED = N_("Something went wrong while installing the app. Try again in a moment from {link}.")
# answered in the ack of a request from a workspace the app is not installed in (Bolt's authorize found none)
NOT_INSTALLED_HERE = N_("This app is not installed in this workspace.")


class OrgWideInstall(BoltError):
    """An install for a whole Enterprise Grid org, which we do not take."""


def authorize_url(api_url: str) -> str:
    """Slack's authorize page on the host of SLACK_API_URL (https://slack.com/oauth/v2/authorize for Slack's)."""
    parts = urlsplit(api_url)
    return urlunsplit((parts.scheme, parts.netloc, "/oauth/v2/authorize", "", ""))


def page(lang: Language, status: int, title: str, text: str, link: str | None = None) -> BoltResponse:
    """A short HTML page: a title and one line (`{link}` in it becomes a link to start again)."""
    line = escape(text)
    if link is not None:
        line = line.replace(escape("{link}"), f'<a href="{escape(link)}">{escape(link)}</a>')
    tag = str(lang.locale).replace("_", "-")
    body = (f'<!doctype html>\n<html lang="{escape(tag)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'</head>\n<body><main><h1>{escape(title)}</h1><p>{line}</p></main></body></html>')
    return BoltResponse(status=status, body=body, headers={"Content-Type": "text/html; charset=utf-8",
                                                           "Cache-Control": "no-store"})


class InstallFlow(OAuthFlow):
    """Bolt's flow; an install is stored only for one workspace, and then recorded as served."""

    def __init__(self, *, client: WebClient, settings: OAuthSettings, installations: Installations,
                 clock: Clock) -> None:
        super().__init__(client=client, logger=log, settings=settings)
        self.installations = installations
        self.clock = clock

    def issue_new_state(self, request: BoltRequest) -> str:
        """A new state, after deleting a few expired ones: slack-sdk's store deletes only those consumed, and
        every visit to the public install link adds one."""
        store = self.settings.state_store
        if isinstance(store, SQLAlchemyOAuthStateStore):
            states = store.oauth_states
            now = normalize_datetime_for_db(datetime.now(tz=UTC))  # as the store writes and reads expire_at
            expired = select(states.c.id).where(states.c.expire_at < now).limit(PURGE_BATCH).scalar_subquery()
            with store.engine.begin() as connection:
                connection.execute(delete(states).where(states.c.id.in_(expired)))
        return super().issue_new_state(request)

    def store_installation(self, request: BoltRequest, installation: Installation) -> None:
        if installation.is_enterprise_install or not installation.team_id:
            raise OrgWideInstall(f"an org-wide install for {installation.enterprise_id}")
        super().store_installation(request, installation)
        self.installations.installed(installation, self.clock())


def _pages(lang: Language) -> CallbackOptions:
    _ = lang._

    def success(args: SuccessArgs) -> BoltResponse:
        name = args.installation.team_name or args.installation.team_id or ""
        return page(lang, 200, _(INSTALLED), _(INSTALLED_IN).format(workspace=name))

    def failure(args: FailureArgs) -> BoltResponse:
        status, link = args.suggested_status_code, INSTALL_PATH
        log.warning("an install from a link failed: %s%s", args.reason, f" ({args.error})" if args.error else "")
        if args.reason == "access_denied":
            return page(lang, 200, _(NOT_INSTALLED), _(CANCELLED))
        if args.reason in ("invalid_state", "invalid_browser"):
            return page(lang, status, _(NOT_INSTALLED), _(START_AGAIN), link)
        if args.reason in ("invalid_code", "missing_code"):
            return page(lang, status, _(NOT_INSTALLED), _(NOT_CONFIRMED), link)
        if isinstance(args.error, OrgWideInstall):
            return page(lang, 400, _(NOT_INSTALLED), _(ORG_WIDE))
        if args.reason == "storage_error":
            return page(lang, 503, _(NOT_INSTALLED), _(NOT_SAVED), link)
        reason = "".join(c for c in args.reason[:40] if c.isalnum() or c in "_-")  # Slack's code, from the query
        return page(lang, status, _(NOT_INSTALLED), _(SLACK_SAID).replace("{reason}", reason), link)

    return CallbackOptions(success=success, failure=failure)


def install_flow(oauth: OAuthApp, api_url: str, engine: Engine, installations: Installations, lang: Language,
                 clock: Clock) -> InstallFlow:
    """The flow at INSTALL_PATH and the redirect URI's path; its state kept in the database, so the redirect may
    reach any bot process."""
    settings = OAuthSettings(
        client_id=oauth.client_id, client_secret=oauth.client_secret, scopes=list(oauth.scopes), user_scopes=[],
        redirect_uri=oauth.redirect_uri, install_path=INSTALL_PATH, redirect_uri_path=oauth.redirect_path,
        # straight to Slack: Bolt's own install page is English only
        install_page_rendering_enabled=False, authorization_url=authorize_url(api_url),
        installation_store=installations.store, installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine, logger=log),
        state_expiration_seconds=STATE_SECONDS, callback_options=_pages(lang), logger=log)
    # oauth.v2.access works once per code: a dropped answer is not retried (the person starts again)
    client = WebClient(base_url=api_url, timeout=15, retry_handlers=[])
    return InstallFlow(client=client, settings=settings, installations=installations, clock=clock)
