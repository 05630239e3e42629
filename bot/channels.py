"""Order channel names within Slack's rules: lower-case letters, digits, '-' and '_', at most 80."""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 80


def channel_name(number: str, client: str, suffix: int = 1) -> str:
    """'SO-000001' + 'Constructora Peñalolén S.A.' -> 'so-000001-constructora-penalolen-s-a'."""
    ascii_client = unicodedata.normalize("NFKD", client).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_client.lower()).strip("-_")
    tail = f"-{suffix}" if suffix > 1 else ""
    base = number.lower() + (f"-{slug}" if slug else "")
    return base[: MAX_LENGTH - len(tail)].rstrip("-_") + tail
