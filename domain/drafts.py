"""A request being put together in the modal; the selection lives server-side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Mode(StrEnum):
    INTEGRATIONS = "integrations"
    BUNDLE = "bundle"
    BUNDLE_EDIT = "bundle_edit"
    """An admin editing a bundle: the items are its objects as written (patterns unexpanded)."""


@dataclass(frozen=True, slots=True)
class Draft:
    key: str
    user_id: str
    mode: Mode
    bundle: str | None = None
    bundle_version: int | None = None
    flow: str | None = None
    flow_version: int | None = None
    integration: str | None = None
    resource: str | None = None
    duration: timedelta | None = None
    justification: str | None = None
    notice: str | None = None
