"""The provider's letterhead from settings: sane defaults, and a clear error for each bad value."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import letterhead_problem
from i18n import english, language
from workflow.letterhead import LetterheadError, letterhead_from_env

LOGO = Path(__file__).resolve().parents[1] / "sandbox" / "sample" / "logo.png"


def test_defaults() -> None:
    letterhead = letterhead_from_env({})
    provider = letterhead.provider
    assert (provider.name, provider.currency, provider.tax_rate, provider.locale, provider.timezone) == (
        "Service Orders", "USD", Decimal(0), "en", "UTC")
    assert letterhead.logo is None and provider.logo_sha256 is None


def test_a_full_letterhead() -> None:
    letterhead = letterhead_from_env({
        "PROVIDER_NAME": "Técnicos Ñandú S.L.", "PROVIDER_ADDRESS": "Calle de Alcalá 123", "PROVIDER_TAX_ID": "B-1",
        "PROVIDER_LOGO": str(LOGO), "PROVIDER_TIMEZONE": "Europe/Madrid", "CURRENCY": "eur",
        "TAX_RATE_PERCENT": "21", "LOCALE": "ES"})
    provider = letterhead.provider
    assert provider.currency == "EUR" and provider.tax_rate == Decimal("0.21") and provider.locale == "es"
    assert letterhead.logo_type == "image/png"
    assert provider.logo_sha256 == hashlib.sha256(LOGO.read_bytes()).hexdigest()


@pytest.mark.parametrize("env, message", [
    ({"PROVIDER_TIMEZONE": "Mars/Olympus"}, "PROVIDER_TIMEZONE 'Mars/Olympus' is not a time zone"),
    ({"CURRENCY": "euro"}, "CURRENCY 'EURO' is not an ISO 4217 code"),
    ({"TAX_RATE_PERCENT": "abc"}, "TAX_RATE_PERCENT 'abc' must be a percentage from 0 to 100"),
    ({"TAX_RATE_PERCENT": "150"}, "TAX_RATE_PERCENT '150' must be a percentage from 0 to 100"),
    ({"LOCALE": "fr"}, "LOCALE 'fr' is a language we do not ship yet (we ship en, es; a new one is a new .po "
                       "file, see the README)"),
    ({"PROVIDER_LOGO": "/nonexistent/logo.png"}, "PROVIDER_LOGO '/nonexistent/logo.png' cannot be read"),
    ({"PROVIDER_LOGO": __file__}, "must be a PNG or JPEG file of at most 2 MB"),
])
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(LetterheadError) as caught:
        letterhead_from_env(env)
    assert message in letterhead_problem(caught.value).text(english())  # as the command line says it


def test_a_bad_setting_is_named_in_the_providers_language() -> None:
    with pytest.raises(LetterheadError) as caught:
        letterhead_from_env({"CURRENCY": "peso", "LOCALE": "es_CL"})
    assert letterhead_problem(caught.value).text(language("es_CL")) == (
        "CURRENCY 'PESO' no es un código ISO 4217 (como EUR, USD, CLP)")
