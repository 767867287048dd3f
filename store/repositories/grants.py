"""What each integration actually did for a request, and the work claims on requests.

Claims give one instance at a time the right to provision or end a request: a conditional
UPDATE sets a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL keeps instances off each other's
rows), and a lease that lapses (the instance died) makes the request claimable again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, cast

from sqlalchemy import Row, Select, Table, bindparam, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from store.models import GrantRow, RequestRow
from store.statements import Prepared


class GrantStatus(StrEnum):
    UNCERTAIN = "uncertain"
    """Asked for, not confirmed: the call is running, timed out or the bot died during it. Treated
    as granted until a revoke is confirmed."""
    GRANTED = "granted"
    REVOKED = "revoked"
    FAILED = "failed"
    """The integration said it granted nothing."""

    @property
    def live(self) -> bool:
        """Access may exist on the server: it must be revoked before it can be forgotten."""
        return self in (GrantStatus.UNCERTAIN, GrantStatus.GRANTED)


_LIVE: Final = (GrantStatus.UNCERTAIN.value, GrantStatus.GRANTED.value)
_AT_WORK: Final = (Status.APPROVED.value, Status.GRANTING.value, Status.ACTIVE.value)


@dataclass(frozen=True, slots=True)
class Grant:
    request_id: RequestId
    integration: str
    account: str
    status: GrantStatus
    granted_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class RevokeAsk:
    by: UserId
    at: datetime


_GRANTS: Final = cast(Table, GrantRow.__table__)
_SET_ALWAYS: Final = ("account", "status", "error")
_SET_ALSO: Final = {
    "granted": ("granted_at", "revoked_at"),  # granted (again): no longer revoked
    "revoked": ("revoked_at",),
    "other": (),
}


def _changes(status: GrantStatus) -> str:
    """Which columns besides the status a record of ``status`` sets (a key of _SET_ALSO)."""
    if status is GrantStatus.GRANTED:
        return "granted"
    return "revoked" if status is GrantStatus.REVOKED else "other"


def _record_statement(insert: Any, changes: str) -> Any:
    """Insert a request's grant on an integration, or update the one there is: one statement,
    built once per dialect and kind of change (a grant records one or two per integration)."""
    statement = insert(_GRANTS)
    return statement.on_conflict_do_update(
        index_elements=[_GRANTS.c.request_id, _GRANTS.c.integration],
        set_={name: statement.excluded[name] for name in (*_SET_ALWAYS, *_SET_ALSO[changes])},
    )


# Read as rows, not objects: grants are written with Core statements (_RECORD), which leave
# objects the ORM loaded before as they were.
_GRANTS_OF: Final = Prepared(
    select(_GRANTS).where(_GRANTS.c.request_id == bindparam("id")).order_by(_GRANTS.c.id)
)
_LIVE_OF_MANY: Final = Prepared(
    select(_GRANTS)
    .where(_GRANTS.c.request_id.in_(bindparam("ids", expanding=True)))
    .where(_GRANTS.c.status.in_(_LIVE))
    .order_by(_GRANTS.c.request_id, _GRANTS.c.id)
)
_REQUESTS: Final = cast(Table, RequestRow.__table__)
_REQUEST: Final = _REQUESTS.c
_UNLEASED: Final = or_(_REQUEST.lease_until.is_(None), _REQUEST.lease_until < bindparam("now"))
"""No instance works on the request, or the one that did let its lease lapse."""
_CLAIM: Final = Prepared(
    update(_REQUESTS)
    .where(_REQUEST.id.in_(bindparam("ids", expanding=True)), _UNLEASED)
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
    .returning(_REQUEST.id)
)


def _per_dialect(candidates: Select[Any]) -> dict[str, Prepared]:
    """A sweep's candidates, built once: PostgreSQL skips rows another instance has locked."""
    limited = candidates.limit(bindparam("limit"))
    return {
        "postgresql": Prepared(limited.with_for_update(skip_locked=True)),
        "sqlite": Prepared(limited),
    }


_TO_PROVISION: Final = _per_dialect(
    select(_REQUEST.id)
    .where(_REQUEST.status.in_([Status.APPROVED.value, Status.GRANTING.value]), _UNLEASED)
    .order_by(_REQUEST.last_change_at)
)
_TO_END: Final = _per_dialect(
    select(_REQUEST.id)
    .where(_REQUEST.status == Status.ACTIVE.value, _UNLEASED)
    .where(or_(_REQUEST.expires_at <= bindparam("now"), _REQUEST.revoke_requested_at.is_not(None)))
    .order_by(_REQUEST.expires_at)
)
_LEFTOVERS: Final = _per_dialect(
    select(_REQUEST.id)
    .where(_REQUEST.status.not_in(_AT_WORK), _UNLEASED)
    .where(exists().where(_GRANTS.c.request_id == _REQUEST.id, _GRANTS.c.status.in_(_LIVE)))
    .order_by(_REQUEST.last_change_at)
)
_REVOKED_ON: Final = Prepared(
    update(_GRANTS)
    .where(
        _GRANTS.c.integration == bindparam("on_integration"),
        _GRANTS.c.request_id.in_(bindparam("ids", expanding=True)),
    )
    .values(status=GrantStatus.REVOKED.value, error=None, revoked_at=bindparam("at"))
)
_REVOKE_ASKS: Final = Prepared(
    select(_REQUEST.id, _REQUEST.revoke_requested_by, _REQUEST.revoke_requested_at).where(
        _REQUEST.id.in_(bindparam("ids", expanding=True)), _REQUEST.revoke_requested_at.is_not(None)
    )
)
_RECORD: Final = {
    dialect: {changes: Prepared(_record_statement(insert, changes)) for changes in _SET_ALSO}
    for dialect, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


class GrantRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- grants -----------------------------------------------------------------------------------

    def record(
        self,
        *,
        request_id: RequestId,
        integration: str,
        account: str,
        status: GrantStatus,
        at: datetime,
        error: str | None = None,
    ) -> None:
        self._upsert(
            status,
            [
                {
                    "request_id": request_id,
                    "integration": integration,
                    "account": account,
                    "status": status.value,
                    "error": error,
                    "granted_at": at if status is GrantStatus.GRANTED else None,
                    "revoked_at": at if status is GrantStatus.REVOKED else None,
                }
            ],
        )

    def _upsert(self, status: GrantStatus, rows: list[dict[str, object]]) -> None:
        dialect = self._session.get_bind().dialect.name
        _RECORD[dialect][_changes(status)].many(self._session, rows)

    def expect(
        self, *, request_id: RequestId, integrations: Sequence[str], account: str, at: datetime
    ) -> None:
        """Written before any integration is called: if the bot dies during a grant, the row
        says "maybe granted", so the access is revoked rather than forgotten."""
        if not integrations:
            return
        self._upsert(
            GrantStatus.UNCERTAIN,
            [
                {
                    "request_id": request_id,
                    "integration": integration,
                    "account": account,
                    "status": GrantStatus.UNCERTAIN.value,
                    "error": None,
                    "granted_at": None,
                    "revoked_at": None,
                }
                for integration in integrations
            ],
        )

    def live(self, request_id: RequestId) -> list[Grant]:
        """Grants whose access may still exist on their server."""
        return [g for g in self.for_request(request_id) if g.status.live]

    def live_many(self, request_ids: Sequence[RequestId]) -> dict[RequestId, list[Grant]]:
        """:meth:`live` of a whole batch in one query; requests without one are left out."""
        found: dict[RequestId, list[Grant]] = {}
        if not request_ids:
            return found
        rows = _LIVE_OF_MANY.all(self._session, {"ids": list(request_ids)})
        for grant in map(_grant, rows):
            found.setdefault(grant.request_id, []).append(grant)
        return found

    def mark_revoked(self, grants: Iterable[Grant], *, at: datetime) -> None:
        """Each of ``grants`` confirmed gone: one UPDATE per integration (the set-wise
        :meth:`record`), since a request holds at most one grant on each."""
        by_integration: dict[str, list[RequestId]] = {}
        for grant in grants:
            by_integration.setdefault(grant.integration, []).append(grant.request_id)
        for integration, request_ids in by_integration.items():
            _REVOKED_ON.run(
                self._session, {"on_integration": integration, "ids": request_ids, "at": at}
            )

    def protected(self, *, integration: str, request_ids: Sequence[RequestId]) -> set[RequestId]:
        """Of ``request_ids``, those whose account on ``integration`` must stay: the request is
        being granted or is active (the ending sweeper ends it when due) and holds a live grant
        there."""
        if not request_ids:
            return set()
        rows = self._session.scalars(
            select(RequestRow.id)
            .join(GrantRow, GrantRow.request_id == RequestRow.id)
            .where(RequestRow.id.in_(request_ids), GrantRow.integration == integration)
            .where(GrantRow.status.in_(_LIVE))
            .where(RequestRow.status.in_([Status.GRANTING.value, Status.ACTIVE.value]))
        )
        return {RequestId(r) for r in rows}

    def for_request(self, request_id: RequestId) -> list[Grant]:
        rows = _GRANTS_OF.all(self._session, {"id": request_id})
        return [_grant(r) for r in rows]

    # -- claims -----------------------------------------------------------------------------------

    def _claim(
        self, *, candidates: Sequence[RequestId], owner: str, now: datetime, lease: timedelta
    ) -> list[RequestId]:
        if not candidates:
            return []
        claimed = _CLAIM.scalars(
            self._session,
            {"ids": list(candidates), "now": now, "owner": owner, "until": now + lease},
        )
        return [RequestId(r) for r in claimed]

    def _candidates(self, statements: Mapping[str, Prepared], **params: object) -> list[RequestId]:
        dialect = self._session.get_bind().dialect.name
        return [RequestId(r) for r in statements[dialect].scalars(self._session, params)]

    def claim_to_provision(
        self, *, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[RequestId]:
        """Approved requests, and granting ones whose worker died (lease lapsed)."""
        candidates = self._candidates(_TO_PROVISION, now=now, limit=limit)
        return self._claim(candidates=candidates, owner=owner, now=now, lease=lease)

    def claim_to_end(
        self, *, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[RequestId]:
        """Active requests that are due, or whose revoke someone asked for."""
        candidates = self._candidates(_TO_END, now=now, limit=limit)
        return self._claim(candidates=candidates, owner=owner, now=now, lease=lease)

    def claim_leftovers(
        self, *, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[RequestId]:
        """Ended requests that still hold live grants: a rollback or an end whose revoke failed.
        A failed attempt keeps its lease, so the next try comes one lease later."""
        candidates = self._candidates(_LEFTOVERS, now=now, limit=limit)
        return self._claim(candidates=candidates, owner=owner, now=now, lease=lease)

    def release(self, *, request_id: RequestId, owner: str) -> None:
        self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == request_id, RequestRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    def release_many(self, *, request_ids: Sequence[RequestId], owner: str) -> None:
        if not request_ids:
            return
        self._session.execute(
            update(RequestRow)
            .where(RequestRow.id.in_(request_ids), RequestRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    def renew(self, *, request_id: RequestId, owner: str, now: datetime, lease: timedelta) -> bool:
        result = self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == request_id, RequestRow.lease_owner == owner)
            .values(lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def holds(self, *, request_id: RequestId, owner: str, now: datetime) -> bool:
        return (
            self._session.scalar(
                select(RequestRow.id).where(
                    RequestRow.id == request_id,
                    RequestRow.lease_owner == owner,
                    RequestRow.lease_until >= now,
                )
            )
            is not None
        )

    def ask_revoke(self, *, request_id: RequestId, by: UserId, at: datetime) -> bool:
        """Record a revoke for the sweeper; ``False`` if the request is not active."""
        result = self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == request_id, RequestRow.status == Status.ACTIVE.value)
            .where(RequestRow.revoke_requested_at.is_(None))
            .values(revoke_requested_by=by, revoke_requested_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_asks(self, request_ids: Sequence[RequestId]) -> dict[RequestId, RevokeAsk]:
        """:meth:`revoke_ask` of a whole batch in one query (only those that were asked)."""
        if not request_ids:
            return {}
        rows = _REVOKE_ASKS.all(self._session, {"ids": request_ids})
        return {
            RequestId(i): RevokeAsk(by=UserId(by), at=at)
            for i, by, at in rows
            if by is not None and at is not None
        }

    def revoke_ask(self, request_id: RequestId) -> RevokeAsk | None:
        row = self._session.execute(
            select(RequestRow.revoke_requested_by, RequestRow.revoke_requested_at).where(
                RequestRow.id == request_id
            )
        ).first()
        if row is None or row[0] is None or row[1] is None:
            return None
        return RevokeAsk(by=UserId(row[0]), at=row[1])

    def next_expiry(self) -> datetime | None:
        return self._session.scalar(
            select(RequestRow.expires_at)
            .where(RequestRow.status == Status.ACTIVE.value)
            .order_by(RequestRow.expires_at)
            .limit(1)
        )


def _grant(row: Row[Any]) -> Grant:
    return Grant(
        request_id=RequestId(row.request_id),
        integration=row.integration,
        account=row.account,
        status=GrantStatus(row.status),
        granted_at=row.granted_at,
        revoked_at=row.revoked_at,
    )
