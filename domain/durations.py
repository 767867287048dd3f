"""Durations as people write them in a policy (``90m``, ``1h``, ``2d``)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
MAX_TEXT = 64
"""No duration anyone means is longer to write; a longer text is refused before it is read, so
a forged value cannot make the parser build a huge number."""
_LONGEST = int(timedelta.max.total_seconds())


class DurationError(ValueError):
    """A duration string that cannot be read."""


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → ``timedelta(hours=1, minutes=30)``; zero and junk are refused."""
    lowered = text.lower()
    if len(lowered) > MAX_TEXT or not _WHOLE.match(lowered):
        raise DurationError(f"{_shown(text)} is not a duration; write e.g. 30m, 1h, 2d or 1h30m")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(lowered))
    if seconds <= 0:
        raise DurationError(f"{text!r} is zero; a duration must be positive")
    if seconds > _LONGEST:
        raise DurationError(f"{text!r} is longer than any date can reach")
    return timedelta(seconds=seconds)


def _shown(text: str) -> str:
    return repr(text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…")


def format_duration(value: timedelta) -> str:
    """The shortest exact form: 3600 s → ``1h``, 5400 s → ``1h30m``."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        raise DurationError("a duration must be positive")
    parts: list[str] = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
