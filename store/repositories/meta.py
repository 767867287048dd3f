"""Small named values."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import MetaRow


class MetaRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> str | None:
        return self._session.scalar(select(MetaRow.value).where(MetaRow.key == key))

    def put(self, key: str, value: str) -> None:
        self._session.merge(MetaRow(key=key, value=value))

    def keys(self, *, prefix: str) -> list[str]:
        return list(
            self._session.scalars(
                select(MetaRow.key).where(MetaRow.key.startswith(prefix, autoescape=True))
            )
        )

    def delete(self, key: str) -> None:
        self._session.execute(delete(MetaRow).where(MetaRow.key == key))

    def swap(self, key: str, *, expected: str | None, value: str) -> bool:
        """Set ``key`` to ``value`` only if it still holds ``expected`` (``None``: absent)."""
        if expected is None:
            if self.get(key) is not None:
                return False
            self._session.add(MetaRow(key=key, value=value))
            try:
                with self._session.begin_nested():
                    self._session.flush()
            except IntegrityError:
                return False
            return True
        result = self._session.execute(
            update(MetaRow).where(MetaRow.key == key, MetaRow.value == expected).values(value=value)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
