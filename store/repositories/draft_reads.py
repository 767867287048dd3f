"""A draft read without the ORM: the request modal reads one on every click.

``session.get`` puts the row in the session's identity map, and the UPDATE that follows a click
then searches and patches it there; a plain row read costs neither (app/requesting/modal.py,
``pick_bundle``).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from domain.drafts import Draft
from store.models import DraftRow
from store.repositories.drafts import _to_domain

_DRAFT = select(DraftRow.__table__).where(DraftRow.key == bindparam("key"))


def read_draft(session: Session, key: str) -> Draft | None:
    row = session.execute(_DRAFT, {"key": key}).first()
    # The row's columns carry the model's attribute names, which is all _to_domain reads.
    return _to_domain(cast(Any, row)) if row is not None else None
