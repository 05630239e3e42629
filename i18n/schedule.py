"""A scheduled date with its optional time window, in words: "Dec 9, 2026, 8:00 AM – 12:00 PM"."""

from __future__ import annotations

from datetime import date, time

from i18n import Language


def scheduled(lang: Language, day: date, start: time | None = None, end: time | None = None) -> str:
    when = lang.date(day)
    if start and end:
        return lang._("{date}, {start} – {end}").format(date=when, start=lang.time(start), end=lang.time(end))
    if start:
        return lang._("{date}, from {start}").format(date=when, start=lang.time(start))
    if end:
        return lang._("{date}, until {end}").format(date=when, end=lang.time(end))
    return when
