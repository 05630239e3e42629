"""Slack's side of installing an app from a link (OAuth v2): the authorize page a person allows or cancels,
and oauth.v2.access, which trades the code for the workspace's bot token.

Rules (oauth.v2.access.json; api.slack.com/authentication/oauth-v2): the authorize page redirects to
`redirect_uri?code=…&state=…` (or `?error=access_denied&state=…` when the person cancels); a redirect_uri the
app's settings do not list, or an unknown client_id, gets Slack's error page, not a redirect. A code works once,
for 10 minutes; oauth.v2.access takes client_id and client_secret by HTTP Basic or as form fields, and a
redirect_uri that must equal the one the authorize request carried (if it carried one)."""

from __future__ import annotations

import base64
import html
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .state import Workspace
from .webapi import ApiError, method

AUTHORIZE_PATH = "/oauth/v2/authorize"
CODE_SECONDS = 600  # docs: a code expires ten minutes after it is issued
ACCESS = "oauth.v2.access"


@dataclass
class OAuthApp:
    """The app's OAuth settings as its settings page holds them."""

    client_id: str
    client_secret: str
    redirect_urls: tuple[str, ...]


@dataclass
class Consent:
    """What the next person at the authorize page does: allow it into their workspace, or cancel."""

    team_id: str
    user_id: str
    allow: bool = True
    org_wide: bool = False  # an Enterprise Grid admin installs it for the workspace's whole org


@dataclass
class Grant:
    code: str
    client_id: str
    redirect_uri: str | None  # as the authorize request sent it (None: not sent)
    team_id: str
    user_id: str
    scopes: tuple[str, ...]
    issued_at: float
    used: bool = False
    org_wide: bool = False


@dataclass
class OAuthState:
    app: OAuthApp | None = None
    consents: list[Consent] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)
    # the manifest's settings.org_deploy_enabled: off, Slack offers an Enterprise Grid admin no org-wide install
    org_deploy_enabled: bool = False


@method(ACCESS, errors=("invalid_client_id", "bad_client_secret", "invalid_code", "bad_redirect_uri"))
def _registered(ws: Workspace, args: Any) -> dict[str, Any]:
    """Listed with its errors like every method; FakeSlack answers it itself (it takes no bot token)."""
    raise AssertionError("oauth.v2.access is answered by FakeSlack.handle_access")


def _allowed_redirect(app: OAuthApp, redirect_uri: str) -> bool:
    """Slack takes a redirect_uri equal to one of the app's Redirect URLs or under one of them."""
    return any(redirect_uri == url or redirect_uri.startswith(url.rstrip("/") + "/") for url in app.redirect_urls)


def error_page(code: str) -> tuple[int, str, dict[str, str]]:
    body = (f"<!DOCTYPE html><html lang=\"en\"><head><title>Slack</title></head><body><h1>Something's not right"
            f"</h1><p>{html.escape(code)}</p></body></html>")
    return 400, body, {}


def authorize(oauth: OAuthState, query: str, workspaces: dict[str, Workspace],
              now: float) -> tuple[int, str, dict[str, str]]:
    """GET /oauth/v2/authorize: the next queued Consent plays the person (HTML error pages for a bad request,
    as Slack shows them; a page asking someone to sign in when nobody is queued)."""
    args = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    app = oauth.app
    if app is None or args.get("client_id") != app.client_id:
        return error_page("invalid_client_id")
    sent = args.get("redirect_uri") or None
    if sent is not None and not _allowed_redirect(app, sent):
        return error_page("bad_redirect_uri")
    target = sent or (app.redirect_urls[0] if app.redirect_urls else None)
    if target is None:
        return error_page("no_redirect_uri")
    scopes = tuple(s for s in (args.get("scope") or "").split(",") if s)
    if not scopes:
        return error_page("invalid_scope")
    if not oauth.consents:
        return 200, "<!DOCTYPE html><html><body><h1>Sign in to your workspace</h1></body></html>", {}
    consent = oauth.consents.pop(0)
    if consent.team_id not in workspaces:
        raise ValueError(f"no workspace {consent.team_id}: add it with FakeSlack.add_workspace first")
    answer: dict[str, str]
    if consent.allow:
        code = f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**12)}.{secrets.token_hex(32)}"
        oauth.grants[code] = Grant(code, app.client_id, sent, consent.team_id, consent.user_id, scopes, now,
                                   org_wide=consent.org_wide)
        answer = {"code": code}
    else:
        answer = {"error": "access_denied"}
    if "state" in args:
        answer["state"] = args["state"]
    glue = "&" if urlsplit(target).query else "?"
    return 302, "", {"Location": f"{target}{glue}{urlencode(answer)}"}


def credentials(headers: dict[str, str], args: dict[str, Any]) -> tuple[str | None, str | None]:
    """client_id and client_secret: HTTP Basic (what Slack recommends), else the form fields."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            return client_id, secret
        except (ValueError, UnicodeDecodeError):
            return None, None
    client_id, secret = args.get("client_id"), args.get("client_secret")
    return (str(client_id) if client_id else None), (str(secret) if secret else None)


def redeem(oauth: OAuthState, headers: dict[str, str], args: dict[str, Any], now: float) -> Grant:
    """The grant a good oauth.v2.access call is for (marked used), or ApiError with Slack's code."""
    client_id, secret = credentials(headers, args)
    app = oauth.app
    if app is None or client_id != app.client_id:
        raise ApiError("invalid_client_id")
    if secret != app.client_secret:
        raise ApiError("bad_client_secret")
    grant = oauth.grants.get(str(args.get("code") or ""))
    if grant is None or grant.used or now - grant.issued_at > CODE_SECONDS:
        raise ApiError("invalid_code")
    if grant.redirect_uri is not None and args.get("redirect_uri") != grant.redirect_uri:
        raise ApiError("bad_redirect_uri")
    grant.used = True
    return grant


def access_answer(ws: Workspace, grant: Grant) -> dict[str, Any]:
    """oauth.v2.access's success, as Slack documents it for a bot token (no user token asked for); for an org-wide
    install, the org and no team."""
    if grant.org_wide:
        org = {"id": ws.enterprise_id, "name": f"{ws.team_name} org"}
        return {"ok": True, "access_token": ws.bot_token, "token_type": "bot", "scope": ",".join(grant.scopes),
                "bot_user_id": ws.bot_user_id, "app_id": ws.app_id, "team": None, "enterprise": org,
                "authed_user": {"id": grant.user_id}, "is_enterprise_install": True}
    return {
        "ok": True,
        "access_token": ws.bot_token,
        "token_type": "bot",
        "scope": ",".join(grant.scopes),
        "bot_user_id": ws.bot_user_id,
        "app_id": ws.app_id,
        "team": {"id": ws.team_id, "name": ws.team_name},
        "enterprise": {"id": ws.enterprise_id, "name": f"{ws.team_name} org"} if ws.enterprise_id else None,
        "authed_user": {"id": grant.user_id},
        "is_enterprise_install": False,
    }
