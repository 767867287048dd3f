"""The "leave this column as it is" marker of typed writes, where ``None`` is a real value (it
clears the column)."""

from __future__ import annotations

from enum import Enum
from typing import Final, TypeVar

T = TypeVar("T")


class Unchanged(Enum):
    UNCHANGED = "unchanged"

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED


def given_or(value: T | Unchanged, default: T | Unchanged) -> T | Unchanged:
    """``value`` if it was given, else ``default``."""
    return default if value is UNCHANGED else value
