"""The outbox: Slack calls written with the change that causes them, sent later by the relay.

Messages to one ``ordering_key`` go out strictly in order: a message is only claimable when no
earlier message with its key is still pending. Claims take a lease, so a relay that dies mid-send
is replaced by any other instance once the lease lapses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Table, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.ids import REQUEST_ID_PREFIX, RequestId, parse_request_id
from store.models import OutboxRow, RequestRow, SlackMessageRow
from store.repositories.bulk import insert_rows
from store.statements import Prepared

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
STRANDED = "stranded"
"""A sealed (credentials) message the relay could not deliver: its payload opens with no
configured key, or Slack refused it for good. The granting worker takes it over
(``app/granting/redelivery.py``) and then marks it dead."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    ordering_key: str
    channel: str
    kind: str
    payload: dict[str, Any] | None
    sealed: bytes | None
    ref: str | None
    attempts: int

    @classmethod
    def of(cls, row: Any) -> OutboxMessage:
        """From an outbox row, or a result row with the same columns."""
        return cls(
            id=row.id,
            ordering_key=row.ordering_key,
            channel=row.channel,
            kind=row.kind,
            payload=row.payload,
            sealed=row.sealed,
            ref=row.ref,
            attempts=row.attempts,
        )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One row for :meth:`OutboxRepository.add_many`, as :meth:`~OutboxRepository.add` takes it."""

    ordering_key: str
    channel: str
    kind: str
    payload: dict[str, Any] | None = None
    sealed: bytes | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class StrandedMessage:
    """A stranded credentials message; its payload is gone (wiped when it was stranded)."""

    id: int
    request_id: RequestId
    ref: str | None
    """``credentials:<request>:<integration>``; ``None`` for rows queued by older versions."""
    error: str


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    request_id: RequestId | None
    ref: str | None
    error: str


@dataclass(frozen=True, slots=True)
class PostedMessage:
    channel: str
    ts: str


_OUTBOX: Final = cast(Table, OutboxRow.__table__)
_POSTS: Final = cast(Table, SlackMessageRow.__table__)
# Built once, like the claim: the relay runs them for every round.
_INSERT: Final = Prepared(insert(_OUTBOX))
_MARK_SENT: Final = Prepared(
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id.in_(bindparam("ids", expanding=True)),
        _OUTBOX.c.lease_owner == bindparam("owner"),
    )
    .values(status=SENT, sent_at=bindparam("at"), lease_until=None, sealed=None, last_error=None)
)
_POSTED: Final = Prepared(
    select(_POSTS.c.ref, _POSTS.c.channel, _POSTS.c.ts).where(
        _POSTS.c.ref.in_(bindparam("refs", expanding=True))
    )
)


def _upsert_post(insert: Any) -> Any:
    """Insert or replace where a message landed (PostgreSQL and SQLite spell it alike)."""
    statement = insert(_POSTS)
    return statement.on_conflict_do_update(
        index_elements=[_POSTS.c.ref],
        set_={
            "channel": statement.excluded.channel,
            "ts": statement.excluded.ts,
            "posted_at": statement.excluded.posted_at,
        },
    )


_REMEMBER_POSTS: Final = {
    "postgresql": Prepared(_upsert_post(postgresql_insert), distinct_keys=True),
    "sqlite": Prepared(_upsert_post(sqlite_insert), distinct_keys=True),
}


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self.added = 0
        """Rows queued in this transaction (the store wakes the relay after commit)."""
        self._queued: list[dict[str, Any]] = []
        """Rows :meth:`add` took and :meth:`write_queued` has not written yet."""

    def write_queued(self) -> None:
        """Write what :meth:`add` took, in one statement: a status change queues a message to
        every person and channel it concerns. The store calls it before commit and before any
        statement of the transaction on the outbox, so the transaction sees its own rows."""
        if self._queued:
            queued, self._queued = self._queued, []
            _INSERT.many(self._session, queued)

    def drop_queued(self) -> None:
        """Forget what :meth:`add` took since the last write (a savepoint rolled back)."""
        self._queued = []

    def add(
        self,
        *,
        at: datetime,
        ordering_key: str,
        channel: str,
        kind: str,
        payload: dict[str, Any] | None = None,
        sealed: bytes | None = None,
        ref: str | None = None,
    ) -> None:
        self._queued.append(
            {
                "created_at": at,
                "ordering_key": ordering_key,
                "channel": channel,
                "kind": kind,
                "payload": payload,
                "sealed": sealed,
                "ref": ref,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": at,
            }
        )
        self.added += 1

    def add_many(self, *, at: datetime, messages: Sequence[NewMessage]) -> None:
        """:meth:`add` for a batch, in one INSERT, queued after whatever this transaction
        added before (ids keep the order of each key)."""
        if not messages:
            return
        self.write_queued()
        self._session.flush()
        insert_rows(
            self._session,
            OutboxRow,
            [
                {
                    "created_at": at,
                    "ordering_key": m.ordering_key,
                    "channel": m.channel,
                    "kind": m.kind,
                    "payload": m.payload,
                    "sealed": m.sealed,
                    "ref": m.ref,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": at,
                }
                for m in messages
            ],
        )
        self.added += len(messages)

    def claim(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        per_channel: int | None = None,
        held_channels: Sequence[str] = (),
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages, oldest first, at most ``per_channel`` of each
        channel (so one channel's backlog never fills a round), none of ``held_channels``; in
        one statement, built once (a relay claims many times a second under load)."""
        self.write_queued()  # a Core statement: the store's hook sees ORM ones only
        rows = _CLAIM.all(
            self._session,
            {
                "owner": owner,
                "now": now,
                "until": now + lease,
                "limit": limit,
                "per_channel": limit if per_channel is None else per_channel,
                "held": list(held_channels),
            },
        )
        return sorted(map(OutboxMessage.of, rows), key=lambda m: m.id)

    def mark_sent(self, *, message_id: int, owner: str, at: datetime) -> bool:
        """Record delivery; ``False`` if our lease was lost (another relay took over)."""
        result = self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.lease_owner == owner)
            .values(status=SENT, sent_at=at, lease_until=None, sealed=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def mark_sent_many(self, *, message_ids: Sequence[int], owner: str, at: datetime) -> int:
        """:meth:`mark_sent` for a channel's share, in one UPDATE; how many were still ours."""
        if not message_ids:
            return 0
        return _MARK_SENT.run(self._session, {"ids": list(message_ids), "owner": owner, "at": at})

    def retry_later(self, *, message_id: int, owner: str, not_before: datetime, error: str) -> None:
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.lease_owner == owner)
            .values(next_attempt_at=not_before, lease_until=None, last_error=error[:500])
            .execution_options(synchronize_session=False)
        )

    def give_up(self, *, message_id: int, owner: str, error: str) -> None:
        """A permanent failure (e.g. ``channel_not_found``): keep the row, stop trying."""
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.lease_owner == owner)
            .values(status=DEAD, lease_until=None, sealed=None, last_error=error[:500])
            .execution_options(synchronize_session=False)
        )

    def strand(self, *, message_id: int, owner: str, error: str) -> bool:
        """A sealed message that cannot be delivered: wipe the payload and hand it over;
        ``False`` if our lease was lost."""
        result = self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.lease_owner == owner)
            .values(status=STRANDED, lease_until=None, sealed=None, last_error=error[:500])
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def claim_stranded(
        self, *, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[StrandedMessage]:
        """Stranded messages whose request this call claimed (the request's own lease, the one
        granting and ending take, so nothing else works on the request meanwhile)."""
        found = self._stranded(limit=limit)
        wanted = sorted({m.request_id for m in found if m.request_id is not None})
        existing = set(
            self._session.scalars(select(RequestRow.id).where(RequestRow.id.in_(wanted)))
        )
        # About no request (or one deleted since): nothing to redo, it only stops being stranded.
        orphans = [m.id for m in found if m.request_id not in existing]
        if orphans:
            self._session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(orphans))
                .values(status=DEAD)
                .execution_options(synchronize_session=False)
            )
        if not existing:
            return []
        claimed = set(
            self._session.scalars(
                update(RequestRow)
                .where(RequestRow.id.in_(sorted(existing)))
                .where((RequestRow.lease_until.is_(None)) | (RequestRow.lease_until < now))
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(RequestRow.id)
                .execution_options(synchronize_session=False)
            )
        )
        # Read again after the claim: another instance may have dealt with some meanwhile.
        return [
            StrandedMessage(m.id, m.request_id, m.ref, m.error)
            for m in self._stranded(limit=limit)
            if m.request_id is not None and m.request_id in claimed
        ]

    def _stranded(self, *, limit: int) -> list[_Row]:
        rows = self._session.execute(
            select(OutboxRow.id, OutboxRow.ordering_key, OutboxRow.ref, OutboxRow.last_error)
            .where(OutboxRow.status == STRANDED)
            .order_by(OutboxRow.id)
            .limit(limit)
        ).all()
        found: list[_Row] = []
        for id_, key, ref, error in rows:
            # A request's messages are keyed "<request ID>:<recipient>" (app/core/notifier.py).
            head = key.split(":", 1)[0]
            request_id = parse_request_id(head) if head.startswith(REQUEST_ID_PREFIX) else None
            found.append(_Row(id_, request_id, ref, error or ""))
        return found

    def retire(self, *, message_id: int) -> None:
        """A stranded message was dealt with (sent again, or its request ended): dead now."""
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.status == STRANDED)
            .values(status=DEAD)
            .execution_options(synchronize_session=False)
        )

    def retired_count(self, *, ref: str) -> int:
        """How many messages with ``ref`` were stranded and dealt with before."""
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.ref == ref, OutboxRow.status == DEAD)
            )
            or 0
        )

    def next_due(self) -> datetime | None:
        return self._session.scalar(
            select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == PENDING)
        )

    def pending_count(self) -> int:
        return int(
            self._session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.status == PENDING)
            )
            or 0
        )

    def remember_post(self, *, ref: str, channel: str, ts: str, at: datetime) -> None:
        """Insert or replace, in one statement (the relay records every post it makes)."""
        self.remember_posts(posts={ref: PostedMessage(channel=channel, ts=ts)}, at=at)

    def remember_posts(self, *, posts: Mapping[str, PostedMessage], at: datetime) -> None:
        """:meth:`remember_post` for a relay round's posts (ref → where it landed), in one
        statement."""
        if not posts:
            return
        _REMEMBER_POSTS[self._session.get_bind().dialect.name].many(
            self._session,
            [
                {"ref": ref, "channel": p.channel, "ts": p.ts, "posted_at": at}
                for ref, p in posts.items()
            ],
        )

    def posted(self, ref: str) -> PostedMessage | None:
        return self.posted_many([ref]).get(ref)

    def posted_many(self, refs: Sequence[str]) -> dict[str, PostedMessage]:
        """Where the messages ``refs`` name landed (those never posted are left out)."""
        if not refs:
            return {}
        rows = _POSTED.all(self._session, {"refs": sorted(set(refs))})
        return {ref: PostedMessage(channel=channel, ts=ts) for ref, channel, ts in rows}

    def posted_with_prefix(self, prefix: str) -> dict[str, PostedMessage]:
        rows = self._session.scalars(
            select(SlackMessageRow).where(SlackMessageRow.ref.startswith(prefix, autoescape=True))
        )
        return {r.ref: PostedMessage(channel=r.channel, ts=r.ts) for r in rows}

    def purge_sent(self, *, before: datetime) -> int:
        result = self._session.execute(
            delete(OutboxRow).where(OutboxRow.status == SENT, OutboxRow.sent_at < before)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _claim_statement() -> Any:
    """The relay's claim, with bound parameters only, so SQLAlchemy builds and keys it once.

    Ranking a channel's due messages needs a window function, which ``FOR UPDATE`` refuses;
    so the ranked ids are chosen first and the due conditions checked again on the locked
    rows (another relay may have taken one since). ``SKIP LOCKED`` lets relays of several
    instances claim side by side; SQLite, which writes one transaction at a time, has no
    row locks and ignores it."""
    row = _OUTBOX.c
    earlier = _OUTBOX.alias("earlier").c
    now = bindparam("now", type_=row.next_attempt_at.type)
    due = (
        row.status == PENDING,
        row.next_attempt_at <= now,
        (row.lease_until.is_(None)) | (row.lease_until < now),
    )
    first_of_its_key = ~exists().where(
        and_(
            earlier.ordering_key == row.ordering_key,
            earlier.status == PENDING,
            earlier.id < row.id,
        )
    )
    ranked = (
        select(
            row.id,
            func.row_number().over(partition_by=row.channel, order_by=row.id).label("rank"),
        )
        .where(*due, first_of_its_key, row.channel.not_in(bindparam("held", expanding=True)))
        .subquery()
    )
    chosen = (
        select(ranked.c.id)
        .where(ranked.c.rank <= bindparam("per_channel"))
        .order_by(ranked.c.id)
        .limit(bindparam("limit"))
    )
    locked = (
        select(row.id).where(row.id.in_(chosen), *due).with_for_update(skip_locked=True)
    ).scalar_subquery()
    # On the table, not the model: an ORM statement is keyed again on every execution.
    return (
        update(_OUTBOX)
        .where(row.id.in_(locked))
        .values(
            lease_owner=bindparam("owner"),
            lease_until=bindparam("until", type_=row.lease_until.type),
            attempts=row.attempts + 1,
        )
        .returning(
            row.id,
            row.ordering_key,
            row.channel,
            row.kind,
            row.payload,
            row.sealed,
            row.ref,
            row.attempts,
        )
    )


_CLAIM: Final = Prepared(_claim_statement())
