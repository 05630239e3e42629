"""Settings from the environment. Every setting is listed in the README's table.

A setting that cannot be used is a SettingsError: an English message id and its values, said in the
operator's language where one is known (the command line), in English otherwise (str())."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import yaml

from bot.logs import LogFormat
from bot.metrics import Access
from i18n import N_, Language, english
from storage.db import DEFAULT_DATABASE_URL
from workflow.document import Provider
from workflow.letterhead import Letterhead, LetterheadError, Trouble, letterhead_from_env
from workflow.limits import DEFAULT_CEILING, DEFAULT_HORIZON_DAYS, MAX_CEILING, Limits
from workflow.numbers import parse_decimal, parse_id
from workflow.policy import APPROVING_ROLES, MAX_LEVELS, ApprovalPolicy, Level, ReapprovalThreshold, Separation
from workflow.reminders import QuietHours, QuietHoursError, QuietTrouble, ReminderPolicy
from workflow.sla import (
    COMPLETION_DAYS,
    ESCALATE_AFTER,
    REMIND_AFTER,
    ByPriority,
    QuietOverride,
    SlaError,
    SlaTrouble,
    days_from,
    hours_from,
    hours_text,
    parse_by_priority,
)
from workflow.vocabulary import PRIORITIES, Role

DEFAULT_API_URL = "https://slack.com/api/"
T = TypeVar("T")
Choice = TypeVar("Choice", bound=StrEnum)


class SettingsError(Exception):
    def __init__(self, message: str, **values: object) -> None:
        self.message, self.values = message, values
        super().__init__(self.text(english()))

    def text(self, lang: Language) -> str:
        # a message without values may be a finished sentence with braces in it: it is not formatted
        return lang._(self.message).format(**self.values) if self.values else lang._(self.message)


# What is wrong with a letterhead setting (workflow/letterhead.py says which, with the value as set)
LETTERHEAD = {
    Trouble.TIMEZONE: N_("PROVIDER_TIMEZONE '{value}' is not a time zone (like Europe/Madrid)"),
    Trouble.CURRENCY: N_("CURRENCY '{value}' is not an ISO 4217 code (like EUR, USD, CLP)"),
    Trouble.TAX_RATE: N_("TAX_RATE_PERCENT '{value}' must be a percentage from 0 to 100 (like 19 or 7.5)"),
    Trouble.LOCALE: N_("LOCALE '{value}' is not a locale (examples: en-US, es-CL, es)"),
    Trouble.LOCALE_NOT_SHIPPED: N_("LOCALE '{value}' is a language we do not ship yet (we ship {shipped}; a new "
                                   "one is a new .po file, see the README)"),
    Trouble.LOGO_UNREADABLE: N_("PROVIDER_LOGO '{value}' cannot be read ({reason})"),
    Trouble.LOGO_KIND: N_("PROVIDER_LOGO '{value}' must be a PNG or JPEG file of at most 2 MB"),
}


def letterhead_problem(error: LetterheadError) -> SettingsError:
    return SettingsError(LETTERHEAD[error.trouble], value=error.value, **error.details)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(N_("{name} must be true or false, not {value}"), name=name, value=repr(raw))


def _choice(env: Mapping[str, str], name: str, default: Choice, refusal: str) -> Choice:
    """One of `default`'s enum values, in any case; `default` when unset. `refusal` names the choices."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    try:
        return type(default)(raw)
    except ValueError:
        raise SettingsError(refusal, value=repr(raw[:40])) from None


def _positive(env: Mapping[str, str], name: str, default: float, refusal: str, most: int) -> float:
    """ASCII digits with at most one decimal point (no sign, exponent, nan or inf), above 0 and at most `most`;
    `refusal` says so in the setting's unit."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = parse_decimal(raw)
    if value is None or not 0 < value <= most:
        raise SettingsError(refusal, name=name, most=most, value=repr(raw[:40]))
    return float(value)


def _count(env: Mapping[str, str], name: str, default: int, most: int, least: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = parse_id(raw, least=least, most=most)
    if value is None:
        raise SettingsError(N_("{name} must be a whole number from {least} to {most}, not {value}"), name=name,
                            least=least, most=most, value=repr(raw[:40]))
    return value


# a day: longer between tries, sweeps or lease renewals leaves the bot's work undone for longer than anyone waits
MAX_SECONDS = 86_400


def _seconds(env: Mapping[str, str], name: str, default: float, most: int = MAX_SECONDS) -> float:
    return _positive(env, name, default, N_("{name} must be a number of seconds above 0 and at most {most}, not "
                                            "{value}"), most)


def _token(env: Mapping[str, str], name: str) -> str | None:
    """A token or secret as set, None when unset or blank; one with whitespace in or around it (a pasted line
    break) is refused. Its value is never repeated."""
    value = env.get(name, "")
    if not value.strip():
        return None
    if any(character.isspace() for character in value):
        raise SettingsError(N_("{name} has a space or a line break in or around it (a copy-paste?); set it again "
                               "without them"), name=name)
    return value


def _api_url(env: Mapping[str, str]) -> str:
    """SLACK_API_URL: an http(s) URL with a host (a valid port if one is given), ending in a slash."""
    raw = env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
    scheme, sep, rest = raw.partition("://")
    shown = scheme + sep + rest.rpartition("@")[2] if sep else raw  # never a user:password@ it may carry
    refused = SettingsError(N_("SLACK_API_URL must be an http(s) URL like {example}, not {value}"),
                            example=DEFAULT_API_URL, value=repr(shown[:200]))
    if any(character.isspace() for character in raw):
        raise refused
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - reading it checks it: ValueError when it is not a number from 0 to 65535
    except ValueError:
        raise refused from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port == 0:
        raise refused
    return raw if raw.endswith("/") else raw + "/"


def slack_access(env: Mapping[str, str]) -> tuple[str | None, str]:
    """SLACK_BOT_TOKEN (None when unset) and SLACK_API_URL, for a command that calls Slack only when it must
    (the catalog import, for the people a file names by e-mail)."""
    return _token(env, "SLACK_BOT_TOKEN"), _api_url(env)


MANIFEST = Path(__file__).with_name("manifest.yml")  # the repository's manifest.yml links to it
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


def manifest_scopes() -> tuple[str, ...]:
    """The bot scopes manifest.yml asks for: what an install from a link asks for too (one list)."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


@dataclass(frozen=True)
class OAuthApp:
    """Installed from a link (Slack's OAuth v2 flow) into any number of workspaces: the app's credentials, where
    Slack sends the browser back, and the bot scopes asked for."""

    client_id: str  # SLACK_CLIENT_ID
    client_secret: str  # SLACK_CLIENT_SECRET
    redirect_uri: str | None  # SLACK_REDIRECT_URI, or PUBLIC_URL + REDIRECT_PATH; None: the app's only one
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r}, ...)"

    @property
    def redirect_path(self) -> str:
        """The path the bot serves Slack's redirect at: the redirect URI's own."""
        return urlsplit(self.redirect_uri).path if self.redirect_uri else REDIRECT_PATH


def _redirect_uri(env: Mapping[str, str], public_url: str | None) -> str | None:
    """SLACK_REDIRECT_URI: an https URL (http only for localhost) with a path, no query or fragment, as the app's
    settings list it (Slack compares them exactly); unset, PUBLIC_URL's REDIRECT_PATH."""
    raw = env.get("SLACK_REDIRECT_URI", "").strip()
    if not raw:
        return public_url + REDIRECT_PATH if public_url else None
    refused = SettingsError(N_("SLACK_REDIRECT_URI must be the https address of the bot's {path}, as the app's "
                               "OAuth & Permissions page lists it (like https://orders.example.com{path}; http "
                               "only for localhost), not {value}"), path=REDIRECT_PATH, value=repr(raw[:200]))
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise refused from None
    if (any(character.isspace() for character in raw) or not parts.hostname or parts.username or parts.password
            or parts.query or parts.fragment or parts.path in ("", "/") or parts.port == 0
            or not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS))):
        raise refused
    return raw


def link_client_id(env: Mapping[str, str]) -> str | None:
    """SLACK_CLIENT_ID: set, the app is installed from a link, in any number of workspaces."""
    return _token(env, "SLACK_CLIENT_ID")


def _oauth(env: Mapping[str, str], bot_token: str | None, socket_mode: bool) -> OAuthApp | None:
    """OAuth mode: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET both set (and then no SLACK_BOT_TOKEN)."""
    client_id, client_secret = _token(env, "SLACK_CLIENT_ID"), _token(env, "SLACK_CLIENT_SECRET")
    if not client_id and not client_secret:
        return None
    if not (client_id and client_secret):
        raise SettingsError(N_("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: set both to install the app "
                               "from a link, or neither to serve one workspace with SLACK_BOT_TOKEN"))
    if bot_token:
        raise SettingsError(N_("set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                               "(installed from a link, in any number of workspaces), not both"))
    if socket_mode and not env.get("WEB_PORT", "").strip():
        raise SettingsError(N_("in Socket Mode, installing from a link needs WEB_PORT: the install pages ({install} "
                               "and {redirect}) are served there"), install=INSTALL_PATH, redirect=REDIRECT_PATH)
    return OAuthApp(client_id, client_secret, _redirect_uri(env, _public_url(env)), manifest_scopes())


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MIN_LINK_SECRET = 32
MAX_LINK_HOURS = 720  # thirty days: a link that lives longer is one nobody remembers handing over


@dataclass(frozen=True)
class ClientSigning:
    """The client's signing page: where the client's phone reaches the bot, the links' own secret, how long a
    link lives, the port of the small web listener in Socket Mode, and whether a proxy says who the client is."""

    public_url: str | None = None  # PUBLIC_URL, without its trailing slash
    secret: str | None = None  # SIGNATURE_LINK_SECRET
    link_hours: int = 72  # SIGNATURE_LINK_HOURS
    web_port: int | None = None  # WEB_PORT: Socket Mode's web listener (HTTP mode serves the page itself)
    trust_forwarded_for: bool = False  # TRUST_X_FORWARDED_FOR: behind a proxy that sets it
    socket_mode: bool = False  # then only the web listener on WEB_PORT serves the page

    def __repr__(self) -> str:
        return f"ClientSigning(public_url={self.public_url!r}, ...)"

    @property
    def missing(self) -> tuple[str, ...]:
        """The settings an admin must set before a link can be made."""
        return tuple(name for name, value in (("PUBLIC_URL", self.public_url),
                                              ("SIGNATURE_LINK_SECRET", self.secret),
                                              ("WEB_PORT", self.web_port is not None or not self.socket_mode))
                     if not value)


def _public_url(env: Mapping[str, str]) -> str | None:
    """PUBLIC_URL: an https URL with a host (http only for this machine: localhost, 127.0.0.1, ::1), no user,
    path, query or fragment, as a browser's Origin says it (lower case, no default port): the page's paths are
    absolute (/sign/…) and its form checks the Origin against it."""
    raw = env.get("PUBLIC_URL", "").strip()
    if not raw:
        return None
    refused = SettingsError(N_("PUBLIC_URL must be the https address clients' phones reach the bot at, like "
                               "https://orders.example.com (http only for localhost), not {value}"),
                            value=repr(raw[:200]))
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise refused from None
    loopback = parts.hostname in LOOPBACK_HOSTS
    if (any(character.isspace() for character in raw) or not parts.hostname or parts.username or parts.password
            or parts.query or parts.fragment or parts.port == 0
            or not (parts.scheme == "https" or (parts.scheme == "http" and loopback))):
        raise refused
    if parts.path not in ("", "/"):
        raise SettingsError(N_("PUBLIC_URL must be the bot's address without a path, like https://orders.example.com "
                               "(the signing page is at /sign/ on it), not {value}"), value=repr(raw[:200]))
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = "" if parts.port in (None, {"https": 443, "http": 80}[parts.scheme]) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


def _link_secret(env: Mapping[str, str], signing_secret: str | None) -> str | None:
    secret = _token(env, "SIGNATURE_LINK_SECRET")
    if secret is not None and len(secret) < MIN_LINK_SECRET:
        raise SettingsError(N_("SIGNATURE_LINK_SECRET must be at least {least} characters (a random one: "
                               "python -c 'import secrets; print(secrets.token_urlsafe(32))')"),
                            least=MIN_LINK_SECRET)
    if secret is not None and secret == signing_secret:
        raise SettingsError(N_("SIGNATURE_LINK_SECRET must not be the Slack signing secret: give the links a "
                               "secret of their own"))
    return secret


def client_signing(env: Mapping[str, str], signing_secret: str | None = None,
                   socket_mode: bool = False) -> ClientSigning:
    raw_port = env.get("WEB_PORT", "").strip()
    return ClientSigning(public_url=_public_url(env), secret=_link_secret(env, signing_secret),
                         link_hours=_count(env, "SIGNATURE_LINK_HOURS", 72, most=MAX_LINK_HOURS),
                         web_port=_count(env, "WEB_PORT", 0, most=65535) if raw_port else None,
                         trust_forwarded_for=_flag(env, "TRUST_X_FORWARDED_FOR", False), socket_mode=socket_mode)


@dataclass(frozen=True)
class Settings:
    bot_token: str | None  # None: installed from a link (oauth)
    signing_secret: str
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    private_channels: bool = True
    effect_retry_seconds: float = 15.0
    effect_lease_seconds: float = 120.0
    effect_workers: int = 2  # 0: this process queues effects, `service-orders effects work` runs them
    effect_poll_seconds: float = 0.25  # how often `effects work` looks for due effects on SQLite (no NOTIFY there)
    # one App Home publish per viewer per this window, per workspace and process; HOME_REFRESH_SECONDS is above 0,
    # 0 here (sandbox/local.py) publishes at once, for tests
    home_refresh_seconds: float = 2.0
    letterhead: Letterhead = Letterhead(Provider(name="Service Orders"))
    reminders: ReminderPolicy = ReminderPolicy()
    reminder_sweep_seconds: float = 60.0
    limits: Limits = Limits()
    policy: ApprovalPolicy = ApprovalPolicy()
    startup_wait_seconds: float = 30.0
    shutdown_seconds: float = 20.0  # SIGTERM: how long in-flight requests and effects get to finish
    signing: ClientSigning = ClientSigning()
    metrics: Access = Access.LOOPBACK
    log_format: LogFormat = LogFormat.TEXT
    oauth: OAuthApp | None = None  # installed from a link into any number of workspaces

    def __repr__(self) -> str:  # tokens and secrets never reach a log line
        return f"Settings(api_url={self.api_url!r}, database_url={self.database_url.split('@')[-1]!r}, ...)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, socket_mode: bool = False) -> Settings:
        env = os.environ if env is None else env
        tokens = {name: _token(env, name) for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")}
        oauth = _oauth(env, tokens["SLACK_BOT_TOKEN"], socket_mode)
        required = ("SLACK_SIGNING_SECRET",) if oauth else ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
        missing = [name for name in required if not tokens[name]]
        if socket_mode and not tokens["SLACK_APP_TOKEN"]:
            missing.append("SLACK_APP_TOKEN")
        if missing:
            raise SettingsError(N_("missing setting(s): {names} (see the README's settings table)"),
                                names=", ".join(missing))
        bot_token, signing_secret, app_token = tokens.values()
        if not oauth and not (bot_token or "").startswith("xoxb-"):
            raise SettingsError(N_("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)"))
        if socket_mode and not (app_token or "").startswith("xapp-"):
            raise SettingsError(N_("SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)"))
        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret or "",
            app_token=app_token,
            api_url=_api_url(env),
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            private_channels=_flag(env, "ORDER_CHANNELS_PRIVATE", True),
            effect_retry_seconds=_seconds(env, "EFFECT_RETRY_SECONDS", 15.0),
            effect_lease_seconds=_seconds(env, "EFFECT_LEASE_SECONDS", 120.0),
            effect_workers=_count(env, "EFFECT_WORKERS", 2, most=32, least=0),
            effect_poll_seconds=_seconds(env, "EFFECT_POLL_SECONDS", 0.25, most=60),
            home_refresh_seconds=_seconds(env, "HOME_REFRESH_SECONDS", 2.0, most=60),
            letterhead=(letterhead := _letterhead(env)),
            reminders=_reminders(env, letterhead.provider.timezone),
            reminder_sweep_seconds=_seconds(env, "REMINDER_SWEEP_SECONDS", 60.0),
            limits=_limits(env, letterhead),
            policy=_policy(env),
            startup_wait_seconds=_seconds(env, "SLACK_STARTUP_WAIT_SECONDS", 30.0),
            shutdown_seconds=_seconds(env, "SHUTDOWN_SECONDS", 20.0),
            signing=client_signing(env, signing_secret, socket_mode),
            metrics=_choice(env, "METRICS", Access.LOOPBACK, N_("METRICS must be on, loopback or off, not {value}")),
            log_format=_choice(env, "LOG_FORMAT", LogFormat.TEXT, N_("LOG_FORMAT must be text or json, not {value}")),
            oauth=oauth,
        )


def order_rules(env: Mapping[str, str]) -> tuple[str, Limits, ApprovalPolicy]:
    """The currency, limits and approval policy an order is checked and routed by, as the bot reads them: for
    commands that create orders without serving Slack (`orders import`)."""
    letterhead = _letterhead(env)
    return letterhead.provider.currency, _limits(env, letterhead), _policy(env)


def _letterhead(env: Mapping[str, str]) -> Letterhead:
    try:
        return letterhead_from_env(env)
    except LetterheadError as error:
        raise letterhead_problem(error) from None


def _limits(env: Mapping[str, str], letterhead: Letterhead) -> Limits:
    raw = env.get("AMOUNT_CEILING", "").strip()
    ceiling = parse_decimal(raw) if raw else DEFAULT_CEILING
    if ceiling is None or not 0 < ceiling <= MAX_CEILING:
        raise SettingsError(N_("AMOUNT_CEILING must be an amount in digits above 0 and at most {most} (a dot for "
                               "decimals), not {value}"), most=f"{MAX_CEILING:,}", value=repr(raw[:40]))
    return Limits(ceiling=ceiling, tax_rate=letterhead.provider.tax_rate,
                  horizon_days=_count(env, "DATE_HORIZON_DAYS", DEFAULT_HORIZON_DAYS, most=3650))


MAX_HOURS = 8_760  # a year


def _clock_time(env: Mapping[str, str], name: str, default: time) -> time:
    raw = env.get(name, "").strip()
    try:
        return time.fromisoformat(raw) if raw else default
    except ValueError:
        raise SettingsError(N_("{name} must be a time of day like 07:30, not {value}"), name=name,
                            value=repr(raw)) from None


QUIET_HOURS = {
    QuietTrouble.SHAPE: N_("QUIET_HOURS: '{value}' is not a span of hours like 20:00-07:00"),
    QuietTrouble.EMPTY: N_("QUIET_HOURS: '{value}' starts and ends at the same time"),
}


# What is wrong with a per-priority setting (workflow/sla.py says which, with the part at fault)
BY_PRIORITY = {
    SlaTrouble.PRIORITY: N_("{name}: '{value}' is not a priority with its number, like {example} (the priorities: "
                            "{priorities})"),
    SlaTrouble.TWICE: N_("{name} gives {value} twice"),
}
HOURS_BY_PRIORITY = N_("{name} must be a number of hours from 0 to {most}, for every priority or per priority "
                       "(like {example}), not '{value}'")
DAYS_BY_PRIORITY = N_("{name} must be a whole number of days from 0 to {most}, for every priority or per priority "
                      "(like {example}), not '{value}'")
MAX_COMPLETION_DAYS = 3_650  # ten years, as DATE_HORIZON_DAYS


def _by_priority(env: Mapping[str, str], name: str, defaults: ByPriority[T], value: Callable[[str], T | None],
                 refusal: str, example: str, most: int) -> ByPriority[T]:
    raw = env.get(name, "").strip()
    if not raw:
        return defaults
    try:
        return parse_by_priority(raw, defaults, value)
    except SlaError as error:
        message = BY_PRIORITY.get(error.trouble, refusal)
        raise SettingsError(message, name=name, value=error.value, example=example, most=most,
                            priorities=", ".join(PRIORITIES)) from None


def _approval_sla(env: Mapping[str, str]) -> tuple[ByPriority[timedelta], ByPriority[timedelta]]:
    """APPROVAL_REMINDER_HOURS and APPROVAL_ESCALATION_HOURS. Both unset: the per-priority defaults. Either set
    to one number (as before SLAs had priorities): an unset other keeps its former default for every priority
    (24 h / 48 h), so a setting that worked before still does."""
    names = ("APPROVAL_REMINDER_HOURS", "APPROVAL_ESCALATION_HOURS")
    single = any(env.get(name, "").strip() and "=" not in env[name] for name in names)
    defaults = (ByPriority.same(timedelta(hours=24)), ByPriority.same(timedelta(hours=48))) if single else (
        REMIND_AFTER, ESCALATE_AFTER)
    remind, escalate = (_by_priority(env, name, default, lambda text: hours_from(text, MAX_HOURS),
                                     HOURS_BY_PRIORITY, "urgent=0,high=8,normal=24,low=48", MAX_HOURS)
                        for name, default in zip(names, defaults, strict=True))
    for priority, after in escalate.items():
        if after <= remind.of(priority):
            raise SettingsError(N_("APPROVAL_ESCALATION_HOURS must be more than APPROVAL_REMINDER_HOURS for each "
                                   "priority ({priority}: {escalate} h is not more than {remind} h)"),
                                priority=priority, escalate=hours_text(after), remind=hours_text(remind.of(priority)))
    return remind, escalate


def _reminders(env: Mapping[str, str], timezone: str) -> ReminderPolicy:
    default = ReminderPolicy()
    remind, escalate = _approval_sla(env)
    completion = _by_priority(env, "COMPLETION_DAYS", COMPLETION_DAYS,
                              lambda text: days_from(text, MAX_COMPLETION_DAYS), DAYS_BY_PRIORITY,
                              "urgent=0,high=2,normal=7,low=14", MAX_COMPLETION_DAYS)
    try:
        quiet = QuietHours.parse(env["QUIET_HOURS"]) if "QUIET_HOURS" in env else default.quiet
    except QuietHoursError as error:
        raise SettingsError(QUIET_HOURS[error.trouble], value=error.value) from None
    urgent = _choice(env, "URGENT_OVERRIDES_QUIET_HOURS", QuietOverride.OFF,
                     N_("URGENT_OVERRIDES_QUIET_HOURS must be off or coordinators, not {value}"))
    return ReminderPolicy(remind_after=remind, escalate_after=escalate,
                          morning=_clock_time(env, "FIELD_REMINDER_TIME", default.morning),
                          digest=_clock_time(env, "DIGEST_TIME", default.digest), quiet=quiet, timezone=timezone,
                          urgent_overrides_quiet=urgent, completion=completion,
                          archive_after=_archive_after(env, default.archive_after))


MAX_ARCHIVE_DAYS = 3650  # ten years: past that, "off" says what is meant


def _archive_after(env: Mapping[str, str], default: timedelta | None) -> timedelta | None:
    """ARCHIVE_AFTER_DAYS: whole days from 0 (at the first sweep after closing) to MAX_ARCHIVE_DAYS, or off."""
    raw = env.get("ARCHIVE_AFTER_DAYS", "").strip()
    if not raw:
        return default
    if raw.lower() == "off":
        return None
    days = parse_id(raw, least=0, most=MAX_ARCHIVE_DAYS)
    if days is None:
        raise SettingsError(N_("ARCHIVE_AFTER_DAYS must be a whole number of days from 0 to {most}, or off, not "
                               "{value}"), most=MAX_ARCHIVE_DAYS, value=repr(raw[:40]))
    return timedelta(days=days)


def _policy(env: Mapping[str, str]) -> ApprovalPolicy:
    """The approval policy: APPROVAL_LEVELS, SEPARATION_OF_DUTIES, REAPPROVAL_OVER (workflow/policy.py)."""
    separation = _choice(env, "SEPARATION_OF_DUTIES", Separation.ON,
                         N_("SEPARATION_OF_DUTIES must be on, strict or off, not {value}"))
    return ApprovalPolicy(levels=_approval_levels(env), separation=separation, reapproval=_reapproval(env))


_LEVELS_SHAPE = N_("APPROVAL_LEVELS must be 1 to {most} levels like supervisor,coordinator>5000,admin>50000 (a role "
                   "of supervisor, coordinator or admin; each level after the first with the amount, with tax, "
                   "above which it is needed, each amount larger than the one before), not {value}")


def _approval_levels(env: Mapping[str, str]) -> tuple[Level, ...]:
    """APPROVAL_LEVELS: 'supervisor' (the default), or e.g. 'supervisor,coordinator>5000,admin>50000'. The same
    role may come twice (four eyes: two different supervisors above an amount)."""
    raw = env.get("APPROVAL_LEVELS", "").strip()
    if not raw:
        return ApprovalPolicy().levels
    refused = SettingsError(_LEVELS_SHAPE, most=MAX_LEVELS, value=repr(raw[:120]))
    parts = [part.strip().lower() for part in raw.split(",")]
    if not 1 <= len(parts) <= MAX_LEVELS:
        raise refused
    levels: list[Level] = []
    for index, part in enumerate(parts):
        role_name, sep, above = (piece.strip() for piece in part.partition(">"))
        role = next((r for r in Role if r.value == role_name and r in APPROVING_ROLES), None)
        amount = parse_decimal(above) if sep else None
        first = index == 0
        if role is None or (first and sep) or (not first and (amount is None or amount <= 0)):
            raise refused
        if not first and amount is not None and len(levels) > 1 and amount <= levels[-1].above:
            raise refused
        levels.append(Level(role, amount or Decimal(0)))
    return tuple(levels)


def _reapproval(env: Mapping[str, str]) -> ReapprovalThreshold:
    """REAPPROVAL_OVER: `10%` (the default), a percentage above 0 and at most 1000, an amount in the provider's
    currency above 0 and at most the largest ceiling, or `off` (no change waits for approval)."""
    raw = env.get("REAPPROVAL_OVER", "").strip()
    if not raw:
        return ApprovalPolicy().reapproval
    if raw.lower() == "off":
        return ReapprovalThreshold()
    percent = raw.endswith("%")
    value = parse_decimal(raw.removesuffix("%").strip())
    if value is None or not 0 < value <= (MAX_REAPPROVAL_PERCENT if percent else MAX_CEILING):
        raise SettingsError(N_("REAPPROVAL_OVER must be a percentage like 10% (above 0, at most {percent}%), an "
                               "amount in digits like 500 (above 0, at most {most}) or off, not {value}"),
                            percent=MAX_REAPPROVAL_PERCENT, most=f"{MAX_CEILING:,}", value=repr(raw[:40]))
    return ReapprovalThreshold(percent=value) if percent else ReapprovalThreshold(amount=value)


MAX_REAPPROVAL_PERCENT = 1000  # a rise to eleven times the total: past that, "off" says what is meant
