"""The audit log: append-only, each event chained to the previous one by a keyed link.

A link is HMAC-SHA256 over the previous link and the canonical event, with a key the database
does not hold (``domain.audit.AuditKey``); each row names its key by fingerprint (``key_id``).
Rows from before the chain was keyed have no key ID and a plain SHA-256 link; they are accepted
only below the ``audit_keyed_from`` marker the migration wrote (README, "Audit log").
Editing, deleting or reordering any row breaks the chain at that row, which
:func:`verify_chain` finds. Appends are serialised (SQLite's write lock; a transaction-scoped
advisory lock on PostgreSQL) so two instances never chain onto the same predecessor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from domain.audit import GENESIS, AuditEvent, AuditKeys, AuditKind, plain_link
from domain.ids import RequestId, UserId
from store.models import AuditEventRow, MetaRow
from store.statements import Prepared

_CHAIN_LOCK: Final = 0x6A69_7461  # any constant; names the advisory lock of the chain
_EVENTS: Final = cast(Table, AuditEventRow.__table__)
# Built once: every status change runs them.
_TAKE_CHAIN_LOCK: Final = Prepared(text("SELECT pg_advisory_xact_lock(:k)"))
_LAST_HASH: Final = Prepared(select(_EVENTS.c.hash).order_by(_EVENTS.c.id.desc()).limit(1))
_INSERT_EVENTS: Final = Prepared(insert(_EVENTS))
KEYED_FROM: Final = "audit_keyed_from"
"""Meta key: rows with this ID or a higher one must be keyed (written by migration 0009)."""

__all__ = ["GENESIS", "KEYED_FROM", "AuditRepository", "ChainBreak", "StoredEvent", "verify_chain"]


def event_digest(*, prev_hash: str, event: AuditEvent) -> str:
    """The plain link of an unkeyed (pre-0009) row."""
    return plain_link(prev=prev_hash, event=event)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event: AuditEvent
    prev_hash: str
    hash: str
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditMark:
    appended: int
    written: int
    last: str | None


class AuditRepository:
    """Appends are buffered and chained in one go by :meth:`write_pending`, which the unit of
    work calls right before COMMIT: the chain's lock is then held only for one bulk INSERT and
    the commit, not for the whole transaction (docs/architecture.md, "Lifecycle")."""

    def __init__(self, session: Session, *, keys: AuditKeys | None = None) -> None:
        self._session = session
        # Without keys (tests, tools that only read) rows are written unkeyed, as before 0009.
        self._keys = keys
        # Once this transaction holds the chain, its own last hash is the chain's last hash.
        self._last_hash: str | None = None
        self._events: list[AuditEvent] = []
        """Every event this transaction appended, in order; those from ``_written`` on wait."""
        self._written = 0

    def append(self, event: AuditEvent) -> None:
        self._events.append(event)

    def extend(self, events: Iterable[AuditEvent]) -> None:
        self._events.extend(events)

    @property
    def mark(self) -> AuditMark:
        """Where the transaction stands; :meth:`undo_since` goes back there."""
        return AuditMark(appended=len(self._events), written=self._written, last=self._last_hash)

    def undo_since(self, mark: AuditMark) -> None:
        """After a savepoint rolled back: forget the events appended since ``mark``, and the
        rows the database just took back if some were written meanwhile."""
        del self._events[mark.appended :]
        self._written = min(self._written, mark.written)
        self._last_hash = mark.last

    def write_pending(self) -> None:
        """Chain the buffered events onto the log's end and insert them in one statement."""
        pending = self._events[self._written :]
        if not pending:
            return
        if self._last_hash is None:
            # Two statements: the end of the log must be read after the lock is held, with a
            # snapshot taken then, not when a statement that waited for it began.
            if self._session.get_bind().dialect.name == "postgresql":
                _TAKE_CHAIN_LOCK.run(self._session, {"k": _CHAIN_LOCK})
            self._last_hash = _LAST_HASH.scalar(self._session) or GENESIS
        key = self._keys.current if self._keys is not None else None
        rows: list[dict[str, Any]] = []
        prev_hash = self._last_hash
        for event in pending:
            digest = (
                key.link(prev=prev_hash, event=event)
                if key is not None
                else plain_link(prev=prev_hash, event=event)
            )
            rows.append(
                {
                    "at": event.at,
                    "kind": event.kind.value,
                    "actor": event.actor,
                    "request_id": event.request_id,
                    "data": event.data,
                    "prev_hash": prev_hash,
                    "hash": digest,
                    "key_id": key.key_id if key is not None else None,
                }
            )
            prev_hash = digest
        _INSERT_EVENTS.many(self._session, rows)
        self._last_hash = prev_hash
        self._written = len(self._events)

    def iter_all(self, *, batch: int = 5_000, after: int = 0) -> Iterator[StoredEvent]:
        self.write_pending()  # what this transaction appended is part of what it reads
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
                    key_id=row.key_id,
                )
            last_id = rows[-1].id

    def head(self) -> StoredEvent | None:
        """The last row of the chain, or ``None`` for an empty log."""
        self.write_pending()  # what this transaction appended is part of what it reads
        row = self._session.scalars(
            select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        return StoredEvent(
            id=row.id,
            event=_to_event(row),
            prev_hash=row.prev_hash or "",
            hash=row.hash or "",
            key_id=row.key_id,
        )

    def link_of(self, event_id: int) -> str | None:
        self.write_pending()  # what this transaction appended is part of what it reads
        return self._session.scalar(select(AuditEventRow.hash).where(AuditEventRow.id == event_id))

    def id_with_link(self, link: str) -> int | None:
        """The row whose link is ``link`` (a scan; only used to explain a break)."""
        return self._session.scalar(
            select(func.min(AuditEventRow.id)).where(AuditEventRow.hash == link)
        )

    def keyed_from(self) -> int:
        """Rows from this ID on must be keyed. A marker someone deleted counts as 1 (all keyed),
        so removing it makes verification stricter, never looser."""
        value = self._session.scalar(select(MetaRow.value).where(MetaRow.key == KEYED_FROM))
        try:
            return int(value) if value is not None else 1
        except ValueError:
            return 1

    def for_request(self, request_id: RequestId) -> list[AuditEvent]:
        self.write_pending()  # what this transaction appended is part of what it reads
        rows = self._session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.request_id == request_id)
            .order_by(AuditEventRow.id)
        )
        return [_to_event(r) for r in rows]

    def kinds(self, *, kind: AuditKind) -> list[AuditEvent]:
        self.write_pending()  # what this transaction appended is part of what it reads
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


NOT_LINKED: Final = "does not link to the event before it"


def verify_chain(
    events: Iterable[StoredEvent], *, keys: AuditKeys | None = None, keyed_from: int = 1
) -> ChainBreak | None:
    """The first event whose link does not hold, or ``None`` for an intact log.

    With ``keys``, rows from ``keyed_from`` on must carry a key ID among ``keys`` and a link made
    with that key; unkeyed rows are accepted only below it. Without keys (nothing configured),
    the plain links are checked as before and a keyed row cannot be checked at all."""
    expected_prev = GENESIS
    keyed_seen = False
    for stored in events:
        if stored.prev_hash != expected_prev:
            return ChainBreak(stored.id, f"{NOT_LINKED} (deleted or reordered)")
        if stored.key_id is None:
            if keys is not None and (keyed_seen or stored.id >= keyed_from):
                return ChainBreak(
                    stored.id,
                    "is not keyed (written or rewritten without the audit key)",
                )
            if event_digest(prev_hash=stored.prev_hash, event=stored.event) != stored.hash:
                return ChainBreak(stored.id, "content does not match its hash (edited)")
        else:
            keyed_seen = True
            key = keys.find(stored.key_id) if keys is not None else None
            if key is None:
                return ChainBreak(
                    stored.id,
                    f"is keyed with key ID {stored.key_id}, which is not configured "
                    "(AUDIT_KEY, AUDIT_KEYS_OLD)",
                )
            if key.link(prev=stored.prev_hash, event=stored.event) != stored.hash:
                return ChainBreak(
                    stored.id,
                    "content does not match its keyed link (edited, or rewritten without the key)",
                )
        expected_prev = stored.hash
    return None
