"""Numbers, money, dates and times as a locale writes them, with the standard library only.

en: 1,234.56 and 26 Nov 2026 14:05; es: 1.234,56 and 26 nov 2026 14:05. Money is Decimal throughout and
rounded half-up to the currency's minor unit (`workflow.document.money`), never through float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from workflow.document import minor_units, money

DASH = "\u2014"


@dataclass(frozen=True)
class NumberStyle:
    decimal: str
    group: str
    months: tuple[str, ...]


STYLES = {
    "en": NumberStyle(".", ",", ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")),
    "es": NumberStyle(",", ".", ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")),
}


def style_for(locale: str) -> NumberStyle:
    return STYLES.get(locale, STYLES["en"])


class Formatter:
    """Formats values for one document: its locale, currency and time zone."""

    def __init__(self, locale: str, currency: str, timezone: str) -> None:
        self.style = style_for(locale)
        self.currency = currency
        self.places = minor_units(currency)
        self.zone, self.zone_name = zone(timezone)

    # -- numbers

    def number(self, value: Decimal, places: int | None = None) -> str:
        """Grouped digits and the locale's decimal mark; `places` pads (never rounds: quantize first)."""
        if places is not None:
            value = value.quantize(Decimal(1).scaleb(-places))
        if value == 0:
            value = abs(value)  # no "-0.00"
        text = f"{value:,f}"
        return text.translate({ord(","): self.style.group, ord("."): self.style.decimal})

    def money(self, value: Decimal | None) -> str:
        return DASH if value is None else self.number(money(value, self.currency), self.places)

    def signed_money(self, value: Decimal) -> str:
        text = self.money(value)
        return text if value < 0 or text == self.money(Decimal(0)) else f"+{text}"

    def price(self, value: Decimal | None) -> str:
        """A unit price keeps any extra decimals (0.335 stays 0.335) so the line total can be checked."""
        if value is None:
            return DASH
        exponent = value.normalize().as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return self.number(value, max(self.places, decimals))

    def quantity(self, value: Decimal) -> str:
        normal = value.normalize()
        exponent = normal.as_tuple().exponent
        return self.number(normal, -exponent if isinstance(exponent, int) and exponent < 0 else 0)

    def percent(self, rate: Decimal) -> str:
        """0.19 -> '19 %', 0.075 -> '7.5 %' (es: '7,5 %')."""
        return f"{self.quantity(rate * 100)} %"

    # -- dates and times

    def date(self, value: date | None) -> str:
        if value is None:
            return DASH
        return f"{value.day} {self.style.months[value.month - 1]} {value.year}"

    def when(self, value: datetime | None) -> str:
        """A moment in the provider's time zone: '26 Nov 2026 11:05'."""
        if value is None:
            return DASH
        local = utc(value).astimezone(self.zone)
        return f"{self.date(local.date())} {local:%H:%M}"


def utc(value: datetime) -> datetime:
    """Aware UTC; naive values are taken to be UTC already (never the server's local zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def zone(name: str) -> tuple[tzinfo, str]:
    """The IANA zone, or UTC if this machine does not know it (a document must still render)."""
    try:
        return ZoneInfo(name), name
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return UTC, "UTC"
