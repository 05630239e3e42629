"""Slack's markup, built here and nowhere else: mentions, channel links, dates each reader sees in their own
time zone, bold, and the escaping of whatever a person typed, so a note cannot ping the channel (<!channel>)
or disguise a link (<url|text>).

Renderers take `Marks`: `SLACK` for Slack, `plain(names)` for places that are not Slack (the demo's files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


def esc(text: str) -> str:
    """Slack's three control characters, as its formatting docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unesc(text: str) -> str:
    """Back to the typed text, for places that are not Slack (files, terminals)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(user: str) -> str:
    return f"<@{user}>"


def channel_link(channel: str) -> str:
    return f"<#{channel}>"


def bold(text: str) -> str:
    return f"*{text}*"


def slack_date(when: datetime, fallback: str) -> str:
    """A moment Slack shows in each reader's own time zone; `fallback` where it cannot."""
    stamp = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


@dataclass(frozen=True)
class Marks:
    """How a renderer names people and channels, shows typed text and stresses words."""

    person: Callable[[str], str]
    channel: Callable[[str], str]
    text: Callable[[str], str]  # what a person typed
    bold: Callable[[str], str]


SLACK = Marks(mention, channel_link, esc, bold)


def plain(names: Callable[[str], str]) -> Marks:
    """Plain text: people by name (`names(user_id)`), channels by id, typed text as typed."""
    return Marks(names, lambda channel: f"#{channel}", lambda text: text, lambda text: text)
