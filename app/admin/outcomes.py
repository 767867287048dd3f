"""What an admin use case answers, besides the view models themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from blocks.admin import EXPIRED, NOT_ADMIN, FlowEditor
from blocks.limits import SUGGESTIONS as ANSWER_SIZE

__all__ = [
    "EXPIRED",
    "NOT_ADMIN",
    "SUGGESTIONS",
    "Changed",
    "FlowChanged",
    "Invalid",
    "Rejected",
]
SUGGESTIONS: Final = ANSWER_SIZE
"""The most options a typeahead answers with (Slack's limit)."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """The editor's form is not right yet: field (``name``, ``objects``) → what to fix."""

    errors: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Not done, for a reason the admin can act on (changed meanwhile, nothing to offer...)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Changed:
    """Done: ``summary`` is what the audit channel was told (without who did it)."""

    summary: str


@dataclass(frozen=True, slots=True)
class FlowChanged:
    """The flow as it is now; ``changed`` is false when there was nothing to do (``summary``
    then says why)."""

    editor: FlowEditor
    summary: str
    changed: bool
