"""Roles and display names of the people who use the app (Slack user ids)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.db import session_scope, upsert
from storage.models import HomeViewer, Person, RoleGrant
from storage.scope import current
from workflow.clock import aware, earliest_today, utcnow
from workflow.visibility import staff
from workflow.vocabulary import Role

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")


class Trouble(StrEnum):
    ROLE = "role"  # not one of Role's values
    USER_ID = "user_id"  # not a Slack user id (U… or W…)


class PeopleError(Exception):
    """A role or a user id, as typed, that is none: which trouble, with the value (the command line words it)."""

    def __init__(self, trouble: Trouble, value: str) -> None:
        super().__init__(f"{trouble}: {value!r}")
        self.trouble, self.value = trouble, value


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise PeopleError(Trouble.ROLE, text) from None


def is_user_id(text: str) -> bool:
    """Whether `text` has the shape of a Slack member id (U… or W…)."""
    return _USER_ID.fullmatch(text) is not None  # not match(): its $ lets a trailing line break through


def check_user_id(user_id: str) -> str:
    if not is_user_id(user_id):
        raise PeopleError(Trouble.USER_ID, user_id)
    return user_id


def grant(engine: Engine, user_id: str, roles: list[Role]) -> list[Role]:
    """Grant roles; returns those that were new. Granting a role twice is harmless."""
    check_user_id(user_id)
    with session_scope(engine) as session:
        have = {Role(r) for r in session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user_id))}
        new = [r for r in dict.fromkeys(roles) if r not in have]
        session.add_all(RoleGrant(user_id=user_id, role=r) for r in new)
    return new


def revoke(engine: Engine, user_id: str, role: Role) -> bool:
    check_user_id(user_id)
    with session_scope(engine) as session:
        row = session.get(RoleGrant, (current(), user_id, role.value))
        if row:
            session.delete(row)
        return row is not None


def roles_by_user(engine: Engine) -> dict[str, list[str]]:
    with Session(engine) as session:
        out: dict[str, list[str]] = {}
        for row in session.exec(select(RoleGrant).order_by(RoleGrant.user_id, RoleGrant.role)):
            out.setdefault(row.user_id, []).append(row.role)
        return out


@dataclass(frozen=True)
class Known:
    """What Slack last said of a person: their time zone and locale (None: it did not say), and when."""

    tz: str | None
    locale: str | None
    learnt: datetime

    def today(self, now: datetime) -> date:
        return today_in(self.tz, now)


def remember(engine: Engine, user_id: str, name: str, tz: str | None, locale: str | None = None,
             now: datetime | None = None) -> Known:
    """Store what Slack says of a user: the name PDFs show, the time zone their "today" is in, and the CLDR
    locale they read in (None: Slack did not say, or we do not ship their language: they read the
    provider's). `now` is when it was learnt: a day later it is asked again."""
    known = Known(_zone(tz), locale, (now or utcnow()).astimezone(UTC))
    with session_scope(engine) as session:
        row = {"user_id": user_id, "name": name[:200], "tz": known.tz, "locale": locale, "updated_at": known.learnt}
        upsert(session, Person, row, "user_id")
    return known


def known(engine: Engine, user_id: str) -> Known | None:
    """What Slack last said of `user_id`, in one read; None for someone never learnt."""
    with Session(engine) as session:
        row = session.exec(select(Person.tz, Person.locale, Person.updated_at).where(
            Person.user_id == user_id)).first()
    return Known(row.tz, row.locale, aware(row.updated_at)) if row else None


def _zone(tz: str | None) -> str | None:
    try:
        return tz if tz and ZoneInfo(tz) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_today(session: Session, user_id: str, now: datetime) -> date:
    """Today where the user is (their Slack time zone)."""
    return today_in(session.exec(select(Person.tz).where(Person.user_id == user_id)).first(), now)


def today_in(tz: str | None, now: datetime) -> date:
    """Today in the time zone `tz`; when unknown, the earliest today on earth, so nobody is refused a date that
    is still today where they are."""
    return earliest_today(now) if tz is None else now.astimezone(ZoneInfo(tz)).date()


def known_since(engine: Engine, user_ids: list[str], since: datetime) -> set[str]:
    """Those of `user_ids` whose profile was learnt at or after `since`: the rest are asked of Slack again."""
    with Session(engine) as session:
        return set(session.exec(select(Person.user_id).where(
            Person.user_id.in_(user_ids), Person.updated_at >= since.astimezone(UTC))))  # type: ignore[attr-defined]


def saw_home(engine: Engine, user_id: str, now: datetime) -> None:
    """`user_id` opened the app's Home tab: from now on, a step that changes their lists refreshes it."""
    with session_scope(engine) as session:
        upsert(session, HomeViewer, {"user_id": user_id, "opened_at": now}, "user_id")


def whose_home_to_refresh(session: Session, involved: list[str]) -> list[str]:
    """After a step: the people involved and everyone who sees every order (their lists and counts change with
    any order; workflow/visibility.py), among those who have ever opened the Home tab."""
    wanted = set(involved) | set(staff(session))
    viewers = session.exec(select(HomeViewer.user_id).where(HomeViewer.user_id.in_(wanted))).all()  # type: ignore[attr-defined]
    return sorted(viewers)
