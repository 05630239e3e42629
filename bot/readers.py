"""Who reads which language: what one person sees follows their Slack locale; what a channel shares (and the
documents) follows the provider's LOCALE."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from i18n import Language, language, parse_locale
from storage.models import Person

# Slack's locales that name a language for a whole region, not a country: es-LA (es_419) is any Latin American
# Spanish. CLDR writes es_419 with a decimal point, while Chile or Argentina write a comma.
_REGIONS = frozenset({"419"})


def reader_locale(engine: Engine, user: str, provider_locale: str) -> str:
    """The locale `user` reads Slack in, as last learnt from users.info; the provider's when Slack never said."""
    with Session(engine) as session:
        known = session.exec(select(Person.locale).where(Person.user_id == user)).first()
    return locale_for(known, provider_locale)


def locale_for(known: str | None, provider_locale: str) -> str:
    """The locale someone reads in, from the one Slack last said (`known`) and the provider's. A reader of the
    provider's language whose Slack names no country (es, es-LA) reads numbers and dates as the provider's
    country writes them: a field crew in Chile on Slack's Latin American Spanish types 2,5."""
    if not known:
        return provider_locale
    reader, provider = parse_locale(known), parse_locale(provider_locale)
    if reader.language == provider.language and provider.territory and (
            not reader.territory or reader.territory in _REGIONS):
        return provider_locale
    return known


def reader_language(engine: Engine, user: str, provider_locale: str) -> Language:
    return language(reader_locale(engine, user, provider_locale))
