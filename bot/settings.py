"""Settings from the environment. Every setting is listed in the README's table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta

from storage.db import DEFAULT_DATABASE_URL
from workflow.document import Provider
from workflow.letterhead import Letterhead, LetterheadError, letterhead_from_env
from workflow.reminders import QuietHours, ReminderPolicy

DEFAULT_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    pass


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not '{raw}'")


def _positive(env: Mapping[str, str], name: str, default: float, unit: str) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a number of {unit}, not '{raw}'") from None
    if value <= 0:
        raise SettingsError(f"{name} must be above 0")
    return value


def _count(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = env.get(name, "").strip()
    if raw and not (raw.isdigit() and 1 <= int(raw) <= most):
        raise SettingsError(f"{name} must be a whole number from 1 to {most}, not '{raw}'")
    return int(raw) if raw else default


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _positive(env, name, default, "seconds")


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    private_channels: bool = True
    effect_retry_seconds: float = 15.0
    effect_lease_seconds: float = 120.0
    effect_workers: int = 2
    letterhead: Letterhead = Letterhead(Provider(name="Service Orders"))
    reminders: ReminderPolicy = ReminderPolicy()
    reminder_sweep_seconds: float = 60.0
    startup_wait_seconds: float = 30.0

    def __repr__(self) -> str:  # tokens and secrets never reach a log line
        return f"Settings(api_url={self.api_url!r}, database_url={self.database_url.split('@')[-1]!r}, ...)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, socket_mode: bool = False) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET") if not env.get(name)]
        if socket_mode and not env.get("SLACK_APP_TOKEN"):
            missing.append("SLACK_APP_TOKEN")
        if missing:
            raise SettingsError(f"missing setting(s): {', '.join(missing)} (see the README's settings table)")
        if not env["SLACK_BOT_TOKEN"].startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)")
        if socket_mode and not env["SLACK_APP_TOKEN"].startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)")
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        if not api_url.startswith(("http://", "https://")):
            raise SettingsError(f"SLACK_API_URL must be an http(s) URL, not '{api_url}'")
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"],
            signing_secret=env["SLACK_SIGNING_SECRET"],
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            private_channels=_flag(env, "ORDER_CHANNELS_PRIVATE", True),
            effect_retry_seconds=_seconds(env, "EFFECT_RETRY_SECONDS", 15.0),
            effect_lease_seconds=_seconds(env, "EFFECT_LEASE_SECONDS", 120.0),
            effect_workers=_count(env, "EFFECT_WORKERS", 2, most=32),
            letterhead=(letterhead := _letterhead(env)),
            reminders=_reminders(env, letterhead.provider.timezone),
            reminder_sweep_seconds=_seconds(env, "REMINDER_SWEEP_SECONDS", 60.0),
            startup_wait_seconds=_seconds(env, "SLACK_STARTUP_WAIT_SECONDS", 30.0),
        )


def _letterhead(env: Mapping[str, str]) -> Letterhead:
    try:
        return letterhead_from_env(env)
    except LetterheadError as error:
        raise SettingsError(str(error)) from None


def _hours(env: Mapping[str, str], name: str, default: float) -> timedelta:
    return timedelta(hours=_positive(env, name, default, "hours"))


def _clock_time(env: Mapping[str, str], name: str, default: time) -> time:
    raw = env.get(name, "").strip()
    try:
        return time.fromisoformat(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a time of day like 07:30, not '{raw}'") from None


def _reminders(env: Mapping[str, str], timezone: str) -> ReminderPolicy:
    default = ReminderPolicy()
    remind = _hours(env, "APPROVAL_REMINDER_HOURS", 24)
    escalate = _hours(env, "APPROVAL_ESCALATION_HOURS", 48)
    if escalate <= remind:
        raise SettingsError("APPROVAL_ESCALATION_HOURS must be more than APPROVAL_REMINDER_HOURS")
    try:
        quiet = QuietHours.parse(env["QUIET_HOURS"]) if "QUIET_HOURS" in env else default.quiet
    except ValueError as error:
        raise SettingsError(f"QUIET_HOURS: {error}") from None
    return ReminderPolicy(remind_after=remind, escalate_after=escalate,
                          morning=_clock_time(env, "FIELD_REMINDER_TIME", default.morning),
                          digest=_clock_time(env, "DIGEST_TIME", default.digest), quiet=quiet, timezone=timezone)
