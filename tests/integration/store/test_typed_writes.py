"""Typed store writes: a change names its columns (mypy refuses any other), writes exactly the
ones given, and ``None`` clears a column where leaving it out keeps it."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from domain.drafts import Mode
from domain.ids import UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.models import DraftRow, RequestRow
from store.repositories.drafts import DraftChanges
from store.repositories.requests import RequestColumns, RequesterSnapshot
from store.repositories.unchanged import UNCHANGED
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U_ALICE"), name="Alice Doe", email=None)


def _pending(store: Store) -> AccessRequest:
    request = AccessRequest(
        id=new_request_id(),
        requester=ALICE.id,
        flow="developers",
        bundle=None,
        duration=timedelta(hours=1),
        justification="INC-7",
        status=Status.PENDING,
        created_at=T0,
    )
    with store.write() as uow:
        uow.requests.add(
            request=request,
            requester=ALICE,
            objects=[AccessObject("prod-redis", "cache:*", "read_only")],
            timeout_at=T0 + timedelta(hours=1),
            next_reminder_at=T0 + timedelta(minutes=30),
        )
        uow.session.execute(
            update(RequestRow)
            .where(RequestRow.id == request.id)
            .values(lease_owner="instance-1", lease_until=T0 + timedelta(minutes=1))
        )
    return request


def _row(store: Store, model: type[RequestRow] | type[DraftRow], key: str) -> Any:
    """The row's columns as stored, by name."""
    with store.read() as uow:
        row = uow.session.get(model, key)
        assert row is not None
        return {c.key: getattr(row, c.key) for c in model.__table__.columns}


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@pytest.mark.parametrize("name", ["lease_ownr", "duration_seconds", "status"])
def test_a_change_cannot_carry_a_column_it_does_not_name(name: str) -> None:
    # mypy refuses these calls; at run time the constructors refuse them too.
    unknown: dict[str, Any] = {name: None}
    with pytest.raises(TypeError):
        RequestColumns(**unknown)
    with pytest.raises(TypeError):
        DraftChanges(**unknown)


def test_a_status_change_writes_the_columns_given_and_keeps_the_others(store: Store) -> None:
    request = _pending(store)
    timed_out, change = request.time_out(at=T0 + timedelta(hours=1))
    with store.write() as uow:
        uow.requests.apply(
            change=change,
            request=timed_out,
            columns=RequestColumns(ended_at=change.at, next_reminder_at=None),
        )
    row = _row(store, RequestRow, request.id)
    assert row["status"] == Status.TIMED_OUT.value
    assert _utc(row["ended_at"]) == change.at
    assert row["next_reminder_at"] is None  # None clears
    assert row["lease_owner"] == "instance-1"  # not given: kept
    assert _utc(row["lease_until"]) == T0 + timedelta(minutes=1)
    assert row["granted_at"] is None


def test_every_request_column_a_change_names_is_written(store: Store) -> None:
    request = _pending(store)
    approved, change = request.approve(by=UserId("U_BOB"), at=T0 + timedelta(minutes=2))
    given = RequestColumns(
        granted_at=T0 + timedelta(minutes=3),
        ended_at=T0 + timedelta(minutes=4),
        lease_owner="instance-2",
        lease_until=T0 + timedelta(minutes=5),
        next_reminder_at=T0 + timedelta(minutes=6),
    )
    with store.write() as uow:
        uow.requests.apply(change=change, request=approved, columns=given)
    row = _row(store, RequestRow, request.id)
    for field in fields(RequestColumns):
        stored = row[field.name]
        assert (_utc(stored) if isinstance(stored, datetime) else stored) == getattr(
            given, field.name
        ), field.name


def test_defaults_fill_only_the_columns_not_given() -> None:
    mine = RequestColumns(lease_owner=None, next_reminder_at=None)
    merged = mine.or_else(RequestColumns(ended_at=T0, lease_owner="x", lease_until=None))
    assert merged == RequestColumns(
        ended_at=T0, lease_owner=None, lease_until=None, next_reminder_at=None
    )
    assert merged.granted_at is UNCHANGED


def test_a_draft_change_writes_the_fields_given_and_keeps_the_others(store: Store) -> None:
    with store.write() as uow:
        draft = uow.drafts.create(user_id="U_ALICE", mode=Mode.BUNDLE, at=T0)
        uow.drafts.update(
            draft.key,
            at=T0,
            changes=DraftChanges(
                bundle="prod-incident",
                bundle_version=3,
                flow="developers",
                flow_version=2,
                resource="cache:*",
                duration=timedelta(hours=2),
                justification="INC-9",
                notice="Pick a flow.",
            ),
        )
    later = T0 + timedelta(minutes=1)
    with store.write() as uow:
        uow.drafts.update(
            draft.key,
            at=later,
            changes=DraftChanges(mode=Mode.INTEGRATIONS, bundle=None, integration="prod-redis"),
        )
        uow.drafts.update(draft.key, at=later, changes=DraftChanges(notice=None, duration=None))
        changed = uow.drafts.get(draft.key)
    assert changed is not None
    assert (changed.mode, changed.bundle, changed.integration) == (
        Mode.INTEGRATIONS,
        None,
        "prod-redis",
    )
    assert (changed.bundle_version, changed.flow, changed.flow_version, changed.resource) == (
        3,
        "developers",
        2,
        "cache:*",
    )
    assert (changed.justification, changed.notice, changed.duration) == ("INC-9", None, None)
    assert _utc(_row(store, DraftRow, draft.key)["updated_at"]) == later


def test_a_draft_update_without_changes_only_marks_it_used(store: Store) -> None:
    with store.write() as uow:
        draft = uow.drafts.create(user_id="U_ALICE", mode=Mode.BUNDLE_EDIT, at=T0)
        uow.drafts.update(draft.key, at=T0, changes=DraftChanges(bundle="b", bundle_version=1))
        uow.drafts.update(draft.key, at=T0 + timedelta(minutes=5))
        kept = uow.drafts.get(draft.key)
    assert kept is not None
    assert (kept.mode, kept.bundle, kept.bundle_version) == (Mode.BUNDLE_EDIT, "b", 1)
    assert _utc(_row(store, DraftRow, draft.key)["updated_at"]) == T0 + timedelta(minutes=5)
