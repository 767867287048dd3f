"""The request modal's server-side selection (filled in by the request-modal work)."""

from __future__ import annotations

from sqlalchemy.orm import Session


class DraftRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
