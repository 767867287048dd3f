"""Break-glass access (README, "Break-glass"): access at once, without an approver, loudly.

Pure rules only: what started a request, the hard ceiling of a break-glass grant, the reason's
length, and the day a use counts against (UTC calendar days: the cap resets at midnight UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final


class Trigger(StrEnum):
    """What started a request: the normal path (approval or an automatic flow) or break-glass."""

    NORMAL = "normal"
    BREAK_GLASS = "break_glass"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-")


BREAK_GLASS_CAP: Final = timedelta(hours=4)
"""No flow may let break-glass access last longer, whatever its own maximum: an emergency that
needs more asks for approval meanwhile."""

MAX_REASON: Final = 500
"""Characters of a break-glass reason at most (it is quoted in every alarm message)."""


def clamp_duration(*, requested: timedelta, ceiling: timedelta) -> timedelta:
    """A break-glass grant lasts what was asked for, but never beyond the flow's ceiling."""
    return min(requested, ceiling)


def day_of(at: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar day holding ``at``, as [start, end): what one daily limit counts."""
    start = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def over_daily_limit(*, used_today: int, limit: int) -> bool:
    """Whether one more use would exceed ``limit`` uses a day."""
    return used_today >= limit
