"""Small named values."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import MetaRow


class MetaRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> str | None:
        return self._session.scalar(select(MetaRow.value).where(MetaRow.key == key))

    def put(self, key: str, value: str) -> None:
        self._session.merge(MetaRow(key=key, value=value))
