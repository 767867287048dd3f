"""Text helpers: escaping, shortening, counting and time tokens shown in each reader's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Final

ELLIPSIS: Final = "…"


def escape(text: str) -> str:
    """Make user-typed text inert in mrkdwn (no mentions, links or broadcasts)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut in the middle so both ends of a long name stay readable."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    head = (keep + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head) :]


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at the end."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    word = noun if count == 1 else (plural_noun or noun + "s")
    return f"{count:,} {word}"


def date_token(when: datetime, *, style: str = "{date_short_pretty} at {time}") -> str:
    """Slack renders this in the reader's own time zone; the fallback is UTC ISO 8601."""
    stamp = int(when.timestamp())
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{style}|{fallback}>"


def mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "the system"
