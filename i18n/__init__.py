"""Every word a person reads, in their language: gettext catalogs for the words, Babel (CLDR) for numbers,
money, dates and lists.

`language("es_CL")` gives a `Language`: its `_`, `n_` and `p_` translate (the English text is the message
id, so an English reader gets the source text), its `number`, `money`, `date`… format as CLDR says that
locale writes them (es_CL writes 1.234,56 and es_MX 1,234.56, from one Spanish catalog). Tables written at
import time mark their words with `N_` and translate them when they are shown: `lang._(STATE_LABELS[s])`.

The catalogs are `i18n/locales/<language>/LC_MESSAGES/messages.po`, kept with `scripts/catalogs` (Babel's
pybabel extract and update) and compiled in memory when a language is first used. A new language is a new
.po file and nothing else.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import lists as babel_lists
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
SOURCE = "en"  # the language the message ids are written in
DEFAULT_LOCALE = "en_US"


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "translate later")
    """Mark a word for the catalogs where it is written (a table at import time); translate it when shown."""
    return message


def languages() -> tuple[str, ...]:
    """The languages we ship: one folder each under i18n/locales."""
    return tuple(sorted(p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/messages.po")))


class LocaleError(ValueError):
    """A locale name neither CLDR nor Slack knows, said in one line."""


def parse_locale(name: str) -> Locale:
    """'es_CL', 'es-CL', 'es' or Slack's 'es-LA' → a CLDR Locale; raise LocaleError for anything else."""
    text = name.strip()
    text = SLACK_NAMES.get(text.lower(), text)
    try:
        return Locale.parse(text.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise LocaleError(f"'{name}' is not a locale (examples: en-US, es-CL, es)") from None


# Slack names some locales its own way: es-LA is Latin American Spanish, CLDR's es_419.
SLACK_NAMES = {"es-la": "es_419", "es_la": "es_419"}


def shipped(name: str) -> Locale:
    """A locale whose language we ship a catalog for; raise LocaleError naming the ones we do."""
    locale = parse_locale(name)
    if locale.language not in languages():
        raise LocaleError(f"'{name}' is a language we do not ship yet (we ship {', '.join(languages())}; "
                          "a new one is a new .po file, see the README)")
    return locale


def from_slack(name: str | None) -> str | None:
    """A Slack user's locale (users.info include_locale: 'en-US', 'es-LA', 'pt-BR') as a CLDR name, or None
    when Slack gave none, or one whose language we do not ship (the reader then gets the provider's locale)."""
    if not name:
        return None
    try:
        return str(shipped(name))
    except LocaleError:
        return None


def _catalog(locale: Locale) -> gettext.NullTranslations:
    """The catalog of the locale's language with its territory ('es_CL'), else of its language ('es'),
    else the English source text."""
    for name in (str(locale), locale.language):
        po = LOCALES / name / "LC_MESSAGES" / "messages.po"
        if name != SOURCE and po.is_file():
            with po.open("rb") as file:
                catalog = read_po(file, locale=name)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)  # fuzzy entries are left out: an unchecked translation is not shown
            compiled.seek(0)
            return gettext.GNUTranslations(compiled)
    return gettext.NullTranslations()


@dataclass(frozen=True)
class Language:
    """One reader's words and formats. Build it with `language()`."""

    locale: Locale
    catalog: gettext.NullTranslations

    @property
    def code(self) -> str:
        return str(self.locale)

    # --- words --------------------------------------------------------------------------------------

    def _(self, message: str) -> str:
        return self.catalog.gettext(message)

    def n_(self, singular: str, plural: str, count: int) -> str:
        """The form for `count` ('1 item' / '3 items'); format it with `count` afterwards."""
        return self.catalog.ngettext(singular, plural, count)

    def p_(self, context: str, message: str) -> str:
        """A word whose translation depends on where it stands ('Approve' on a button, in a title)."""
        return self.catalog.pgettext(context, message)

    # --- numbers and money ----------------------------------------------------------------------------

    def number(self, value: Decimal | int, places: int | None = None) -> str:
        """Grouped digits and the locale's marks. `places` pads and rounds half-up to that many decimals;
        without it every decimal the value has is kept (2.500 → 2.5, 0.335 → 0.335)."""
        if places is None:
            value = Decimal(value).normalize()
            exponent = value.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        value = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        pattern = "#,##0" + ("." + "0" * places if places else "")
        text = babel_numbers.format_decimal(value, format=pattern, locale=self.locale)
        return text.removeprefix("-") if _is_zero(text) else text  # never "-0.00"

    def money(self, value: Decimal, currency: str) -> str:
        """An amount in the currency's minor unit, without its symbol (tables that say the currency once)."""
        return self.number(value, babel_numbers.get_currency_precision(currency))

    def amount(self, value: Decimal, currency: str) -> str:
        """An amount with its currency, as the locale writes it: '$1,234.56', '1.234,56 US$'."""
        return babel_numbers.format_currency(value, currency, locale=self.locale)

    def signed_amount(self, value: Decimal, currency: str) -> str:
        text = self.amount(value, currency)
        return text if value <= 0 else self.locale.number_symbols["latn"]["plusSign"] + text

    def percent(self, rate: Decimal) -> str:
        """0.19 → a percentage as the locale writes it (en '19%', es '19 %'), every decimal kept (7.5 %)."""
        return babel_numbers.format_percent(rate, locale=self.locale, decimal_quantization=False)

    # --- dates and times ------------------------------------------------------------------------------

    def date(self, value: date, length: str = "medium") -> str:
        """'Nov 26, 2026' (en_US), '26 nov 2026' (es)."""
        return babel_dates.format_date(value, format=length, locale=self.locale)

    def time(self, value: time | datetime, zone: tzinfo | None = None) -> str:
        return babel_dates.format_time(value, format="short", tzinfo=zone, locale=self.locale)

    def datetime(self, value: datetime, zone: tzinfo | None = None, length: str = "medium") -> str:
        """A moment in a time zone: 'Nov 26, 2026, 11:05 AM', '26 nov 2026, 11:05'."""
        day = babel_dates.format_date(value.astimezone(zone) if zone else value, format=length, locale=self.locale)
        return f"{day} {self.time(value, zone)}"

    def weekday(self, value: date) -> str:
        return babel_dates.format_date(value, format="EEEE", locale=self.locale)

    def list(self, items: list[str], style: str = "standard") -> str:
        """'A, B and C' / 'A, B y C'; style 'or' for alternatives."""
        return babel_lists.format_list(items, style=style, locale=self.locale) if items else ""


def _is_zero(text: str) -> bool:
    return not any(ch.isdigit() and ch != "0" for ch in text)


@cache
def language(locale: str | None = None) -> Language:
    """The Language of a CLDR or Slack locale name; None or '' is the default (English, US)."""
    parsed = parse_locale(locale or DEFAULT_LOCALE)
    return Language(parsed, _catalog(parsed))


def english() -> Language:
    """The source language: for logs an operator reads, and tests that pin a wording."""
    return language(DEFAULT_LOCALE)
