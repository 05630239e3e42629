"""The provider's letterhead on every document (name, address, tax id, logo, currency, tax, locale, time
zone), from settings. Checked once at start-up, so a typo is an error, not a wrong PDF."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from i18n import LocaleError, shipped
from workflow.document import Provider

MAX_LOGO_BYTES = 2 * 1024 * 1024


class LetterheadError(Exception):
    pass


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
        raise LetterheadError(f"PROVIDER_TIMEZONE '{timezone}' is not a time zone (like Europe/Madrid)") from None
    currency = env.get("CURRENCY", "").strip().upper() or "USD"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise LetterheadError(f"CURRENCY '{currency}' is not an ISO 4217 code (like EUR, USD, CLP)")
    raw_rate = env.get("TAX_RATE_PERCENT", "").strip() or "0"
    try:
        rate = Decimal(raw_rate)
    except InvalidOperation:
        rate = Decimal(-1)
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise LetterheadError(f"TAX_RATE_PERCENT '{raw_rate}' must be a percentage from 0 to 100 (like 19 or 7.5)")
    # the provider's language and formats (CLDR: es-CL writes 1.234,56, es-MX 1,234.56): channels and documents
    try:
        locale = str(shipped(env.get("LOCALE", "").strip() or "en"))
    except LocaleError as error:
        raise LetterheadError(f"LOCALE {error}") from None
    logo, media_type, sha = None, None, None
    if path := env.get("PROVIDER_LOGO", "").strip():
        try:
            logo = Path(path).expanduser().read_bytes()
        except OSError as error:
            raise LetterheadError(f"PROVIDER_LOGO '{path}' cannot be read ({error.strerror})") from None
        media_type = logo_type(logo)
        if media_type is None or len(logo) > MAX_LOGO_BYTES:
            raise LetterheadError(f"PROVIDER_LOGO '{path}' must be a PNG or JPEG file of at most 2 MB")
        sha = hashlib.sha256(logo).hexdigest()
    provider = Provider(
        name=env.get("PROVIDER_NAME", "").strip()[:200] or "Service Orders",
        address=env.get("PROVIDER_ADDRESS", "").strip()[:300],
        tax_id=env.get("PROVIDER_TAX_ID", "").strip()[:64],
        logo_sha256=sha, timezone=timezone, currency=currency,
        tax_rate=(rate / 100).normalize(), locale=locale,
    )
    return Letterhead(provider, logo, media_type)
