"""The audit log: append-only, each event chained to the previous one by a SHA-256 hash.

Editing, deleting or reordering any row breaks the chain at that row, which
:func:`verify_chain` finds. Appends are serialised (SQLite's write lock; a transaction-scoped
advisory lock on PostgreSQL) so two instances never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.audit import AuditEvent, AuditKind
from domain.ids import RequestId, UserId
from store.models import AuditEventRow

_CHAIN_LOCK: Final = 0x6A69_7461  # any constant; names the advisory lock of the chain
GENESIS: Final = "0" * 64


def event_digest(*, prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps(
        {
            "at": event.at.astimezone(UTC).isoformat(),
            "kind": event.kind.value,
            "actor": event.actor,
            "request_id": event.request_id,
            "data": event.data,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event: AuditEvent
    prev_hash: str
    hash: str


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        # Once this transaction holds the chain, its own last hash is the chain's last hash.
        self._last_hash: str | None = None

    def append(self, event: AuditEvent) -> None:
        if self._last_hash is None:
            if self._session.get_bind().dialect.name == "postgresql":
                self._session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
            prev = self._session.scalar(
                select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1)
            )
            self._last_hash = prev or GENESIS
        prev_hash = self._last_hash
        self._session.add(
            AuditEventRow(
                at=event.at,
                kind=event.kind.value,
                actor=event.actor,
                request_id=event.request_id,
                data=event.data,
                prev_hash=prev_hash,
                hash=(digest := event_digest(prev_hash=prev_hash, event=event)),
            )
        )
        self._session.flush()
        self._last_hash = digest

    def forget_position(self) -> None:
        """After a savepoint rolled back: read the chain's end again before the next append."""
        self._last_hash = None

    def extend(self, events: Iterable[AuditEvent]) -> None:
        for event in events:
            self.append(event)

    def iter_all(self, *, batch: int = 5_000, after: int = 0) -> Iterator[StoredEvent]:
        last_id = after
        while True:
            rows = self._session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.id > last_id)
                .order_by(AuditEventRow.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                yield StoredEvent(
                    id=row.id,
                    event=_to_event(row),
                    prev_hash=row.prev_hash or "",
                    hash=row.hash or "",
                )
            last_id = rows[-1].id

    def for_request(self, request_id: RequestId) -> list[AuditEvent]:
        rows = self._session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.request_id == request_id)
            .order_by(AuditEventRow.id)
        )
        return [_to_event(r) for r in rows]

    def kinds(self, *, kind: AuditKind) -> list[AuditEvent]:
        rows = self._session.scalars(
            select(AuditEventRow).where(AuditEventRow.kind == kind.value).order_by(AuditEventRow.id)
        )
        return [_to_event(r) for r in rows]


def _to_event(row: AuditEventRow) -> AuditEvent:
    data: dict[str, Any] = dict(row.data or {})
    return AuditEvent(
        kind=AuditKind(row.kind),
        at=row.at,
        actor=UserId(row.actor) if row.actor else None,
        request_id=RequestId(row.request_id) if row.request_id else None,
        data=data,
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    event_id: int
    reason: str


def verify_chain(events: Iterable[StoredEvent]) -> ChainBreak | None:
    """The first event whose hash or link does not hold, or ``None`` for an intact log."""
    expected_prev = GENESIS
    for stored in events:
        if stored.prev_hash != expected_prev:
            return ChainBreak(
                stored.id, "does not link to the event before it (deleted or reordered)"
            )
        if event_digest(prev_hash=stored.prev_hash, event=stored.event) != stored.hash:
            return ChainBreak(stored.id, "content does not match its hash (edited)")
        expected_prev = stored.hash
    return None
