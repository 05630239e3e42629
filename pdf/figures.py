"""How a document writes its values: numbers, money, dates and times as its provider's CLDR locale writes
them (Babel, through `i18n.Language`), in the provider's time zone.

es_CL writes 1.234,56 and es_MX 1,234.56; en 'Nov 26, 2026, 11:05 AM', es '26 nov 2026 11:05'. Money is
Decimal throughout, rounded half-up to the currency's minor unit (`workflow.document.money`, the rounding
the totals were computed with), never through float.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel.units import format_unit

from i18n import Language
from workflow.document import minor_units, money

DASH = "\u2014"


class Figures:
    """Values of one document: its language, currency and time zone."""

    def __init__(self, lang: Language, currency: str, timezone: str) -> None:
        self.lang = lang
        self.currency = currency
        self.places = minor_units(currency)
        self.zone, self.zone_name = zone(timezone)

    # -- numbers

    def money(self, value: Decimal | None) -> str:
        return DASH if value is None else self.lang.number(money(value, self.currency), self.places)

    def signed_money(self, value: Decimal) -> str:
        """A change of amount: '+270', '-225.50'; none that rounds to zero carries a sign."""
        text = self.money(value)
        if value <= 0 or text == self.money(Decimal(0)):
            return text
        return self.lang.locale.number_symbols["latn"]["plusSign"] + text

    def price(self, value: Decimal | None) -> str:
        """A unit price keeps any extra decimals (0.335 stays 0.335) so the line total can be checked."""
        if value is None:
            return DASH
        return self.lang.number(value, max(self.places, _decimals(value)))

    def quantity(self, value: Decimal) -> str:
        return self.lang.number(value)  # every decimal it has, none padded: 2.500 -> 2.5

    def percent(self, rate: Decimal) -> str:
        """0.19 -> '19%' (en), '19 %' (es), 0.075 -> '7.5%'."""
        return self.lang.percent(rate)

    def size(self, count: int) -> str:
        """A file's size as CLDR writes it, in decimal units: '830 byte', '340 kB', '1.2 MB' ('1,2 MB' in es)."""
        # from 999.5 kB on, kilobytes would round to 1,000: megabytes
        for unit, scale, starts, places in (("digital-megabyte", 10**6, 999_500, 1),
                                            ("digital-kilobyte", 10**3, 1000, 0)):
            if count >= starts:
                value = (Decimal(count) / scale).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
                return format_unit(value, unit, length="short", format="#,##0" + ".#" * places,
                                   locale=self.lang.locale)
        return format_unit(count, "digital-byte", length="short", locale=self.lang.locale)

    # -- dates and times

    def date(self, value: date | None) -> str:
        return DASH if value is None else self.lang.date(value)

    def when(self, value: datetime | None) -> str:
        """A moment in the provider's time zone: 'Nov 26, 2026 11:05 AM', '26-11-2026 11:05' (es_CL)."""
        return DASH if value is None else self.lang.datetime(utc(value), self.zone)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def utc(value: datetime) -> datetime:
    """Aware UTC; naive values are taken to be UTC already (never the server's local zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def zone(name: str) -> tuple[tzinfo, str]:
    """The IANA zone, or UTC if this machine does not know it (a document must still render)."""
    try:
        return ZoneInfo(name), name
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return UTC, "UTC"
