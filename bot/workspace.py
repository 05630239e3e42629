"""The Slack workspace the bot serves. At start-up auth.test names it (Slack is given a while to answer); the
database belongs to that workspace from its first start on, and a request naming any other is refused before
a listener sees it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.internals import extract_enterprise_id, extract_team_id
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from bot.gateway import TOKEN_REFUSED, Gateway, Identity, SlackError
from bot.listeners.views import not_saved
from bot.settings import DEFAULT_API_URL, SettingsError
from i18n import N_, Language
from storage.db import session_scope
from storage.models import SlackWorkspace
from storage.scope import adopt_unclaimed
from workflow.clock import Clock

log = logging.getLogger(__name__)

# said to a person of another workspace, whose language we do not know: in the provider's
ANOTHER_WORKSPACE = N_("This app is installed in another workspace.")
# pg_advisory_xact_lock's key while a process claims the database ("SOSLACKW" in ASCII): two first starts
# with different tokens cannot both find it unclaimed
CLAIM_LOCK_ID = 0x534F_534C_4143_4B57


def connect(gateway: Gateway, engine: Engine, api_url: str, wait: float, clock: Clock) -> Identity:
    """The workspace of the bot token, recorded as the database's. SettingsError, saying what to do, when
    Slack cannot be reached within `wait` seconds, refuses the token, or the database is another workspace's."""
    shown = _without_credentials(api_url)

    def waiting(error: SlackError) -> None:
        log.warning("Slack is not answering at %s (%s); trying again for %g s", shown, error.code, wait)

    try:
        identity = gateway.reach(wait, waiting)
    except SlackError as error:
        raise _why_not(error, shown, wait) from None
    _claim(engine, identity, clock)
    return identity


def _why_not(error: SlackError, api_url: str, wait: float) -> SettingsError:
    """Said on the command line, in the operator's language (SettingsError.text). The wait is written as
    SLACK_STARTUP_WAIT_SECONDS is set: with a dot."""
    if error.not_answering:
        return SettingsError(N_("Slack did not answer at {url} for {wait} s ({code}).\nCheck SLACK_API_URL "
                                "(Slack's is {default}) and that this machine can reach it."),
                             url=api_url, wait=f"{wait:g}", code=error.code, default=DEFAULT_API_URL)
    if error.code in TOKEN_REFUSED:
        return SettingsError(N_("Slack did not accept SLACK_BOT_TOKEN ({code}).\nSet it to the app's Bot User OAuth "
                                "Token (xoxb-…, under OAuth & Permissions); if the app was removed or its token "
                                "revoked, reinstall it first."), code=error.code)
    return SettingsError(N_("Slack's auth.test at {url} answered {code}.\nCheck that SLACK_API_URL is Slack's Web "
                            "API ({default})."), url=api_url, code=error.code, default=DEFAULT_API_URL)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _claim(engine: Engine, identity: Identity, clock: Clock) -> None:
    """The database is the token's workspace's: recorded at the first start, checked at every later one."""
    with session_scope(engine) as session:
        if session.get_bind().dialect.name == "postgresql":  # SQLite: the write transaction is the lock
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": CLAIM_LOCK_ID})
        rows = session.exec(select(SlackWorkspace)).all()
        other = next((row for row in rows if row.team_id != identity.team_id), None)
        if other is not None:
            raise SettingsError(
                N_("This database belongs to the Slack workspace {theirs} ({their_name}), but SLACK_BOT_TOKEN is "
                   "{ours}'s ({our_name}).\nUse the bot token of the app installed in {theirs}, or give {ours} a "
                   "database of its own (DATABASE_URL)."),
                theirs=other.team_id, their_name=other.team_name, ours=identity.team_id, our_name=identity.team_name)
        row = rows[0] if rows else SlackWorkspace(team_id=identity.team_id, team_name=identity.team_name,
                                                  bot_user_id=identity.bot_user_id, connected_at=clock())
        # a renamed workspace or a reinstalled bot: the same workspace (unchanged values write nothing)
        row.team_name, row.enterprise_id = identity.team_name, identity.enterprise_id
        row.bot_user_id = identity.bot_user_id
        session.add(row)
        taken = adopt_unclaimed(session, identity.team_id)
        if taken:
            log.info("%d rows recorded before any start are workspace %s's", taken, identity.team_id)


def served(engine: Engine) -> list[str]:
    """The workspaces the bot serves now (installed, not uninstalled): what background work goes through."""
    with Session(engine) as session:
        return list(session.exec(select(SlackWorkspace.team_id).where(
            SlackWorkspace.uninstalled_at.is_(None)).order_by(SlackWorkspace.team_id)))  # type: ignore[union-attr]


def authorization(identity: Identity, token: str) -> Callable[..., AuthorizeResult]:
    """Bolt's `authorize`: every request is the one installation's, as auth.test said at start-up (without
    it Bolt would call auth.test again, inside the first request's ack)."""
    def authorize(user_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=identity.enterprise_id, team_id=identity.team_id,
                               bot_user_id=identity.bot_user_id, bot_id=identity.bot_id, bot_token=token,
                               user_id=user_id)

    return authorize


def installation_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The workspace and org a request is for, read as Bolt reads them (the view's `app_installed_team_id`,
    `team.id`, `authorizations[0]`, `team_id`, ...): the installation, not the person acting, who in a Slack
    Connect channel may belong to another workspace."""
    try:
        return extract_team_id(body), extract_enterprise_id(body)
    except (AttributeError, KeyError, TypeError, IndexError):  # a body of a shape Slack never sends
        return None, None


def _inner(body: dict[str, Any], outer: str, key: str) -> Any:
    value = body.get(outer)
    return value.get(key) if isinstance(value, dict) else None


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return f"slash command {str(body['command'])[:40]}"
    if body.get("type") == "event_callback":
        return f"{str(_inner(body, 'event', 'type'))[:40]} event"
    return str(body.get("type"))[:40]


def only_this_workspace(identity: Identity, lang: Language) -> Callable[..., BoltResponse]:
    """Bolt middleware, after Bolt's own (ssl_check, the signature, url_verification are answered before it):
    a request for another workspace or org is answered at once and goes no further (nothing stored, no Slack
    call); one that names no workspace, which Slack never sends, is a bad request (as the HTTP front answers
    other bodies Slack never sends). The refusal is in `lang`, the provider's: the person is not one of ours,
    so we know no language of theirs."""

    def refuse_others(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        team, org = installation_of(body)
        if team == identity.team_id and org in (None, identity.enterprise_id):
            return next()
        if not team:
            log.warning("refused a %s that names no workspace", _kind(body))
            return BoltResponse(status=400, body={"error": "no workspace named"})
        log.warning("refused a %s from workspace %s%s: this bot serves %s", _kind(body), str(team)[:32],
                    f" (org {str(org)[:32]})" if org else "", identity.team_id)
        return refusal(body, lang, lang._(ANOTHER_WORKSPACE))

    return refuse_others


def refusal(body: dict[str, Any], lang: Language, said: str) -> BoltResponse:
    """The ack that refuses a person's request, by its kind, saying `said` where Slack can show it: an ephemeral
    line for a command (to them alone), no options for a picker, "not saved" in a form (an empty answer would
    close it as if it were saved), an empty ack elsewhere."""
    if "command" in body:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": said})
    if body.get("type") == "block_suggestion":
        return BoltResponse(status=200, body={"options": []})
    if body.get("type") == "view_submission":
        view = not_saved(lang, said + " " + lang._("Nothing was saved."))
        return BoltResponse(status=200, body={"response_action": "update", "view": view})
    return BoltResponse(status=200, body="")
