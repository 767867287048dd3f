"""Schema objects that live outside the models (search indexes made by migrations)."""

from __future__ import annotations

from typing import Final

OUTSIDE_MODELS: Final = ("bundle_objects_fts", "ix_bundle_objects_search_trgm")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic's comparison: these are deliberate, not drift from the models."""
    return not (name or "").startswith(OUTSIDE_MODELS)
