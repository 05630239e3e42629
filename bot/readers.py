"""Who reads which language: what one person sees follows their Slack locale; what a channel shares (and the
documents) follows the provider's LOCALE."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from i18n import Language, language
from storage.models import Person


def reader_locale(engine: Engine, user: str, provider_locale: str) -> str:
    """The locale `user` reads Slack in, as last learnt from users.info; the provider's when Slack never said."""
    with Session(engine) as session:
        known = session.exec(select(Person.locale).where(Person.user_id == user)).first()
    return known or provider_locale


def reader_language(engine: Engine, user: str, provider_locale: str) -> Language:
    return language(reader_locale(engine, user, provider_locale))
