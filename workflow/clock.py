"""Time as the code reads it: timezone-aware UTC, injectable so tests drive it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def earliest_today(now: datetime) -> date:
    """Today where the calendar is furthest behind (UTC-12): a date before this is past for everyone,
    so nobody is refused a date that is still today where they are."""
    return (now - timedelta(hours=12)).date()


def latest_today(now: datetime) -> date:
    """Today where the calendar is furthest ahead (UTC+14)."""
    return (now + timedelta(hours=14)).date()


def aware(moment: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
