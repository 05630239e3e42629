"""The provider's letterhead on every document (name, address, tax id, logo, currency, tax, locale, time
zone), from settings. Checked once at start-up, so a typo is an error, not a wrong PDF. What is wrong is
typed (the setting, the trouble, the value): bot/settings.py words it."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from i18n import LocaleError, languages, parse_locale
from workflow.document import Provider

MAX_LOGO_BYTES = 2 * 1024 * 1024


class Trouble(StrEnum):
    TIMEZONE = "timezone"  # PROVIDER_TIMEZONE is no IANA zone
    CURRENCY = "currency"  # CURRENCY is no ISO 4217 code
    TAX_RATE = "tax_rate"  # TAX_RATE_PERCENT is no percentage from 0 to 100
    LOCALE = "locale"  # LOCALE is no locale
    LOCALE_NOT_SHIPPED = "locale_not_shipped"  # LOCALE's language has no catalog (values: shipped)
    LOGO_UNREADABLE = "logo_unreadable"  # PROVIDER_LOGO cannot be read (values: reason)
    LOGO_KIND = "logo_kind"  # PROVIDER_LOGO is no PNG or JPEG of at most 2 MB


class LetterheadError(Exception):
    """A letterhead setting that cannot be used: which trouble, with the value as set and any detail."""

    def __init__(self, trouble: Trouble, value: str, **details: str) -> None:
        super().__init__(f"{trouble}: {value!r}")
        self.trouble, self.value, self.details = trouble, value, details


@dataclass(frozen=True)
class Letterhead:
    provider: Provider
    logo: bytes | None = None
    logo_type: str | None = None  # image/png or image/jpeg


def logo_type(content: bytes) -> str | None:
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def letterhead_from_env(env: Mapping[str, str] | None = None) -> Letterhead:
    env = os.environ if env is None else env
    timezone = env.get("PROVIDER_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise LetterheadError(Trouble.TIMEZONE, timezone) from None
    currency = env.get("CURRENCY", "").strip().upper() or "USD"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise LetterheadError(Trouble.CURRENCY, currency)
    raw_rate = env.get("TAX_RATE_PERCENT", "").strip() or "0"
    try:
        rate = Decimal(raw_rate)
    except InvalidOperation:
        rate = Decimal(-1)
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise LetterheadError(Trouble.TAX_RATE, raw_rate)
    # the provider's language and formats (CLDR: es-CL writes 1.234,56, es-MX 1,234.56): channels and documents
    name = env.get("LOCALE", "").strip() or "en"
    try:
        locale = parse_locale(name)
    except LocaleError:
        raise LetterheadError(Trouble.LOCALE, name) from None
    if locale.language not in languages():
        raise LetterheadError(Trouble.LOCALE_NOT_SHIPPED, name, shipped=", ".join(languages()))
    logo, media_type, sha = None, None, None
    if path := env.get("PROVIDER_LOGO", "").strip():
        try:
            logo = Path(path).expanduser().read_bytes()
        except OSError as error:
            raise LetterheadError(Trouble.LOGO_UNREADABLE, path, reason=error.strerror or "") from None
        media_type = logo_type(logo)
        if media_type is None or len(logo) > MAX_LOGO_BYTES:
            raise LetterheadError(Trouble.LOGO_KIND, path)
        sha = hashlib.sha256(logo).hexdigest()
    provider = Provider(
        name=env.get("PROVIDER_NAME", "").strip()[:200] or "Service Orders",
        address=env.get("PROVIDER_ADDRESS", "").strip()[:300],
        tax_id=env.get("PROVIDER_TAX_ID", "").strip()[:64],
        logo_sha256=sha, timezone=timezone, currency=currency,
        tax_rate=(rate / 100).normalize(), locale=str(locale),
    )
    return Letterhead(provider, logo, media_type)
