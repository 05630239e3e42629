"""Step messages and audit details are Slack mrkdwn (they mention people as <@U…>). Whatever a person
typed is escaped first, so a note cannot ping the channel (<!channel>) or disguise a link (<url|text>)."""

from __future__ import annotations


def esc(text: str) -> str:
    """Slack's three control characters, as its formatting docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unesc(text: str) -> str:
    """Back to the typed text, for places that are not Slack (files, terminals)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
