"""Statements run through ``store.statements.Prepared`` behave as if SQLAlchemy ran them: the same
rows and types come back, they belong to the session's transaction, driver errors become
SQLAlchemy's, and the engine's listeners still see them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, event, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import Select

from app.operations.committed import count_committed
from app.operations.metrics import Metrics
from domain.audit import AuditKind
from store.models import (
    AuditEventRow,
    DecisionRow,
    RequestRow,
    SlackMessageRow,
    StatusChangeRow,
)
from store.statements import Prepared
from store.unit_of_work import Store, UnitOfWork

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PARTS = [
    {"integration": "db", "count": 2, "permissions": ["read_only"], "resources": ["a", "b"]},
    {"integration": "cache", "count": 1, "permissions": ["read_write"], "resources": ["k:*"]},
]

REQUESTS = cast(Table, RequestRow.__table__)
DECISIONS = cast(Table, DecisionRow.__table__)
STATUS_CHANGES = cast(Table, StatusChangeRow.__table__)
AUDIT = cast(Table, AuditEventRow.__table__)

READ_REQUEST = Prepared(select(REQUESTS).where(REQUESTS.c.id == bindparam("id")))
INSERT_REQUEST = Prepared(insert(REQUESTS))
INSERT_DECISION = Prepared(insert(DECISIONS))
INSERT_STATUS_CHANGE = Prepared(insert(STATUS_CHANGES))
REQUEST_EXISTS = Prepared(select(REQUESTS.c.id).where(REQUESTS.c.id == bindparam("id")))
SET_STATUS = Prepared(
    update(REQUESTS)
    .where(REQUESTS.c.id == bindparam("the_request"), REQUESTS.c.status == bindparam("old"))
    .values(status=bindparam("new"), last_change_at=bindparam("at"))
)
SET_STATUS_RETURNING = Prepared(
    update(REQUESTS)
    .where(REQUESTS.c.id == bindparam("the_request"), REQUESTS.c.status == bindparam("old"))
    .values(status=bindparam("new"), last_change_at=bindparam("at"))
    .returning(REQUESTS.c.id, REQUESTS.c.status, REQUESTS.c.last_change_at, REQUESTS.c.automatic)
)
AMONG: Select[Any] = (
    select(REQUESTS.c.id, REQUESTS.c.created_at)
    .where(REQUESTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(REQUESTS.c.id)
)
REQUESTS_AMONG = Prepared(AMONG)


def request_values(request_id: str, **changes: Any) -> dict[str, Any]:
    """Every column of a request, none left to a default: aware datetimes, JSON, booleans and
    NULLs among them."""
    values: dict[str, Any] = {
        "id": request_id,
        "requester_id": "U_ALICE",
        "requester_name": "Alice Doe",
        "requester_email": None,
        "flow": "developers",
        "bundle": "analytics",
        "bundle_version": 3,
        "form_key": None,
        "automatic": True,
        "duration_seconds": 7200,
        "justification": "INC-42",
        "object_count": 3,
        "status": "pending",
        "created_at": T0,
        "last_actor": "U_ALICE",
        "last_change_at": T0 + timedelta(minutes=5),
        "decided_by": None,
        "decided_at": None,
        "reason": None,
        "granted_at": None,
        "expires_at": T0 + timedelta(hours=2),
        "ended_at": None,
        "lease_owner": None,
        "lease_until": None,
        "timeout_at": T0 + timedelta(hours=1),
        "next_reminder_at": None,
        "reminders_sent": 0,
        "revoke_requested_by": None,
        "revoke_requested_at": None,
        "current_step": 0,
        "extensions": 0,
        "end_reminder_at": None,
        "end_reminder_for": None,
        "trigger": "normal",
        "acknowledged_by": None,
        "acknowledged_at": None,
        "grantee_id": None,
        "grantee_name": None,
        "grantee_email": None,
        "parts": PARTS,
    }
    assert set(values) == set(REQUESTS.c.keys())
    values.update(changes)
    return values


def decision_values(request_id: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "request_id": request_id,
        "step": 0,
        "approver_id": "U_BOB",
        "approver_name": "Bob",
        "approved": True,
        "reason": None,
        "at": T0,
    }
    values.update(changes)
    return values


def stored_with_sqlalchemy(store: Store, *request_ids: str) -> None:
    """Requests written by SQLAlchemy's own execution, to read through ``Prepared``."""
    with store.write() as uow:
        for request_id in request_ids:
            uow.session.execute(insert(REQUESTS), request_values(request_id))


def stored_row(store: Store, request_id: str) -> Any:
    """The request's row, read through ``Prepared`` in a transaction of its own."""
    with store.read() as uow:
        row = READ_REQUEST.first(uow.session, {"id": request_id})
    assert row is not None
    return row


def found(store: Store, request_id: str) -> bool:
    """Whether the request is stored, as SQLAlchemy's own execution sees it."""
    with store.read() as uow:
        statement = select(REQUESTS.c.id).where(REQUESTS.c.id == request_id)
        return uow.session.execute(statement).first() is not None


@contextmanager
def through_session_execute(session: Session) -> Iterator[list[Any]]:
    """The statements that went through ``session.execute`` while the block ran: none for a
    statement that ``Prepared`` runs on the driver's cursor itself."""
    seen: list[Any] = []

    def executed(state: ORMExecuteState) -> None:
        seen.append(state.statement)

    event.listen(session, "do_orm_execute", executed)
    try:
        yield seen
    finally:
        event.remove(session, "do_orm_execute", executed)


@dataclass
class CursorCall:
    sql: str
    parameters: Any
    executemany: bool


@dataclass
class ExecuteCall:
    statement: Any
    multiparams: list[Mapping[str, Any]]
    params: Mapping[str, Any]


@dataclass
class Heard:
    cursor: list[CursorCall] = field(default_factory=list)
    executed: list[ExecuteCall] = field(default_factory=list)


@contextmanager
def listening(store: Store) -> Iterator[Heard]:
    """What ``before_cursor_execute`` and ``after_execute`` listeners on the engine are given."""
    heard = Heard()

    def before_cursor_execute(
        _conn: Connection,
        _cursor: Any,
        sql: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if not sql.lstrip().upper().startswith("BEGIN"):
            heard.cursor.append(CursorCall(sql, parameters, executemany))

    def after_execute(
        _conn: Connection,
        statement: Any,
        multiparams: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        *_options_and_result: Any,
    ) -> None:
        heard.executed.append(ExecuteCall(statement, list(multiparams), params))

    event.listen(store.engine, "before_cursor_execute", before_cursor_execute)
    event.listen(store.engine, "after_execute", after_execute)
    try:
        yield heard
    finally:
        event.remove(store.engine, "before_cursor_execute", before_cursor_execute)
        event.remove(store.engine, "after_execute", after_execute)


def in_another_time_zone(session: Session) -> None:
    """PostgreSQL hands back ``timestamptz`` values in the session's zone: make it not UTC, so
    only the column type's result processing can give UTC back."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))


# -- reading ------------------------------------------------------------------------------------


def test_a_row_read_through_prepared_equals_the_row_session_execute_returns(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1")
    with store.read() as uow:
        in_another_time_zone(uow.session)
        expected = uow.session.execute(READ_REQUEST.statement, {"id": "R1"}).one()
        with through_session_execute(uow.session) as executed:
            row = READ_REQUEST.first(uow.session, {"id": "R1"})
        assert executed == []  # run on the driver's cursor, not through SQLAlchemy
    assert row is not None
    assert row._fields == tuple(expected._fields)
    for name, value in expected._mapping.items():
        got = getattr(row, name)
        assert (name, got, type(got)) == (name, value, type(value))
    assert tuple(row) == tuple(expected)
    # What SQLAlchemy gives back, and so Prepared too: aware UTC datetimes (SQLite included),
    # the JSON decoded, real booleans, NULLs as None.
    assert row.created_at == T0
    assert row.created_at.tzinfo is UTC
    assert row.last_change_at.tzinfo is UTC
    assert row.parts == PARTS
    assert row.automatic is True
    assert row.grantee_id is None
    assert row.decided_at is None
    # A named tuple: index and attribute access agree.
    assert row[0] == row.id == "R1"
    assert row[REQUESTS.c.keys().index("created_at")] == row.created_at


def test_a_row_written_through_prepared_is_stored_as_session_execute_stores_it(
    store: Store,
) -> None:
    # Given in another zone: the column type turns it into UTC before the driver sees it.
    two_hours_east = timezone(timedelta(hours=2))
    changes = {"created_at": T0.astimezone(two_hours_east), "automatic": False}
    with store.write() as uow, through_session_execute(uow.session) as executed:
        INSERT_REQUEST.run(uow.session, request_values("PREPARED", **changes))
        assert executed == []
    reference = request_values("REFERENCE", **changes)
    with store.write() as uow:
        uow.session.execute(insert(REQUESTS), reference)
    columns = [c.name for c in REQUESTS.c if c.name != "id"]
    quote = store.engine.dialect.identifier_preparer.quote
    raw = text(f"SELECT {', '.join(map(quote, columns))} FROM requests WHERE id = :id")
    with store.read() as uow:
        # The driver's values, as stored: no column type in between.
        stored_raw = uow.session.execute(raw, {"id": "PREPARED"}).one()
        reference_raw = uow.session.execute(raw, {"id": "REFERENCE"}).one()
        read_back = uow.session.execute(READ_REQUEST.statement, {"id": "PREPARED"}).one()
    assert dict(zip(columns, stored_raw, strict=True)) == dict(
        zip(columns, reference_raw, strict=True)
    )
    assert read_back.created_at == T0
    assert read_back.created_at.tzinfo is UTC
    assert read_back.automatic is False
    assert read_back.parts == PARTS
    assert read_back.requester_email is None


def test_all_scalar_and_scalars_return_what_session_execute_returns(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1", "R2", "R3")
    ids = Prepared(select(REQUESTS.c.id).order_by(REQUESTS.c.id))
    counted = Prepared(select(func.count()).select_from(REQUESTS))
    with store.read() as uow:
        rows = ids.all(uow.session)
        assert [tuple(r) for r in rows] == [("R1",), ("R2",), ("R3",)]
        assert [r.id for r in rows] == ["R1", "R2", "R3"]
        assert ids.scalars(uow.session) == list(uow.session.scalars(ids.statement))
        assert counted.scalar(uow.session) == 3
        assert REQUEST_EXISTS.scalar(uow.session, {"id": "R2"}) == "R2"
        assert REQUEST_EXISTS.scalar(uow.session, {"id": "NOPE"}) is None
        assert REQUEST_EXISTS.first(uow.session, {"id": "NOPE"}) is None
        assert READ_REQUEST.all(uow.session, {"id": "NOPE"}) == []


# -- the session's transaction -------------------------------------------------------------------


class Abandoned(Exception):
    pass


def abandoned(store: Store, work: Callable[[Session], object]) -> None:
    """Do ``work`` in a write transaction that then fails."""
    with store.write() as uow:
        work(uow.session)
        raise Abandoned


def test_a_write_through_prepared_is_rolled_back_with_the_transaction_it_ran_in(
    store: Store,
) -> None:
    seen_inside: list[Any] = []

    def insert_and_look(session: Session) -> None:
        INSERT_REQUEST.run(session, request_values("R1"))
        # The session's own execution sees it: the same connection, the same transaction.
        seen_inside.extend(session.execute(REQUEST_EXISTS.statement, {"id": "R1"}).scalars())

    with pytest.raises(Abandoned):
        abandoned(store, insert_and_look)
    assert seen_inside == ["R1"]
    assert not found(store, "R1")


def test_a_committed_write_through_prepared_is_found_afterwards(store: Store) -> None:
    with store.write() as uow:
        INSERT_REQUEST.run(uow.session, request_values("R1"))
    assert found(store, "R1")


def test_an_update_through_prepared_is_undone_with_its_transaction(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1")
    params = {"the_request": "R1", "old": "pending", "new": "approved", "at": T0}
    matched: list[int] = []
    with pytest.raises(Abandoned):
        abandoned(store, lambda session: matched.append(SET_STATUS.run(session, params)))
    assert matched == [1]
    assert stored_row(store, "R1").status == "pending"


def test_objects_added_to_the_session_are_flushed_before_a_prepared_read(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1")
    with store.write() as uow:
        uow.session.add(
            RequestRow(**{k: v for k, v in request_values("R2").items() if k != "parts"})
        )
        uow.session.add(
            StatusChangeRow(request_id="R1", from_status=None, to_status="pending", at=T0)
        )
        assert uow.session.new  # pending, not yet sent to the database
        row = READ_REQUEST.first(uow.session, {"id": "R2"})
        changes = Prepared(
            select(STATUS_CHANGES.c.to_status).where(STATUS_CHANGES.c.request_id == bindparam("id"))
        ).scalars(uow.session, {"id": "R1"})
    assert row is not None
    assert row.id == "R2"
    assert row.created_at == T0
    assert changes == ["pending"]


# -- driver errors ------------------------------------------------------------------------------


def test_a_duplicate_request_id_surfaces_as_integrity_error_and_the_transaction_rolls_back(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")

    def insert_r2_then_r1_again() -> None:
        with store.write() as uow:
            INSERT_REQUEST.run(uow.session, request_values("R2"))
            INSERT_REQUEST.run(uow.session, request_values("R1", requester_id="U_MALLORY"))

    with pytest.raises(IntegrityError) as raised:
        insert_r2_then_r1_again()
    assert isinstance(raised.value.orig, store.engine.dialect.loaded_dbapi.IntegrityError)
    assert "INSERT INTO requests" in str(raised.value.statement)
    # Rolled back whole: the first insert too; the row already there is left as it was.
    assert not found(store, "R2")
    assert stored_row(store, "R1").requester_id == "U_ALICE"
    # And the store goes on working.
    with store.write() as uow:
        INSERT_REQUEST.run(uow.session, request_values("R3"))
    assert found(store, "R3")


def test_a_duplicate_decision_in_a_savepoint_is_undone_and_the_transaction_goes_on(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")

    def vote_again_in_a_savepoint(uow: UnitOfWork) -> None:
        with uow.savepoint():
            INSERT_DECISION.run(uow.session, decision_values("R1", step=1, approver_id="U_CAROL"))
            INSERT_DECISION.run(uow.session, decision_values("R1", approved=False))

    with store.write() as uow:
        INSERT_DECISION.run(uow.session, decision_values("R1"))
        with pytest.raises(IntegrityError):
            vote_again_in_a_savepoint(uow)
        # The savepoint rolled back: a PostgreSQL transaction is usable again, and the
        # decision made inside it is gone.
        INSERT_DECISION.run(uow.session, decision_values("R1", approver_id="U_DAVE"))
    decisions = Prepared(
        select(DECISIONS.c.step, DECISIONS.c.approver_id, DECISIONS.c.approved).order_by(
            DECISIONS.c.id
        )
    )
    with store.read() as uow:
        assert [tuple(r) for r in decisions.all(uow.session)] == [
            (0, "U_BOB", True),
            (0, "U_DAVE", True),
        ]


# -- updates and batches ------------------------------------------------------------------------


def test_run_returns_how_many_rows_an_update_matched(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1", "R2")
    everyone = Prepared(
        update(REQUESTS)
        .where(REQUESTS.c.requester_id == bindparam("requester"))
        .values(reminders_sent=REQUESTS.c.reminders_sent + 1)
    )
    with store.write() as uow, through_session_execute(uow.session) as executed:
        approve = {"the_request": "R1", "old": "pending", "new": "approved", "at": T0}
        assert SET_STATUS.run(uow.session, {**approve, "the_request": "NOPE"}) == 0
        assert SET_STATUS.run(uow.session, approve) == 1
        # The compare-and-swap: the status moved on, so the same change matches nothing.
        assert SET_STATUS.run(uow.session, approve) == 0
        assert everyone.run(uow.session, {"requester": "U_ALICE"}) == 2
        assert executed == []
    assert stored_row(store, "R1").status == "approved"
    assert stored_row(store, "R2").status == "pending"


def test_an_update_returning_read_through_first_gives_the_new_values(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1")
    later = T0 + timedelta(hours=3)
    with store.write() as uow:
        in_another_time_zone(uow.session)
        row = SET_STATUS_RETURNING.first(
            uow.session, {"the_request": "R1", "old": "pending", "new": "denied", "at": later}
        )
        missed = SET_STATUS_RETURNING.first(
            uow.session, {"the_request": "R1", "old": "pending", "new": "approved", "at": later}
        )
    assert row is not None
    assert tuple(row) == ("R1", "denied", later, True)
    assert (row.id, row.status, row.last_change_at, row.automatic) == tuple(row)
    assert row.last_change_at.tzinfo is UTC
    assert row.automatic is True
    assert missed is None
    stored = stored_row(store, "R1")
    assert (stored.status, stored.last_change_at) == ("denied", later)


def test_many_inserts_every_parameter_set(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1")
    changes = [
        {
            "request_id": "R1",
            "from_status": None if i == 0 else f"s{i - 1}",
            "to_status": f"s{i}",
            "actor": None if i % 2 else "U_ALICE",
            "at": T0 + timedelta(minutes=i),
            "reason": f"step {i}",
        }
        for i in range(5)
    ]
    with store.write() as uow, through_session_execute(uow.session) as executed:
        INSERT_STATUS_CHANGE.many(uow.session, changes)
        INSERT_STATUS_CHANGE.many(uow.session, [])  # nothing to do
        assert executed == []
    written = select(
        STATUS_CHANGES.c.request_id,
        STATUS_CHANGES.c.from_status,
        STATUS_CHANGES.c.to_status,
        STATUS_CHANGES.c.actor,
        STATUS_CHANGES.c.at,
        STATUS_CHANGES.c.reason,
    ).order_by(STATUS_CHANGES.c.at)
    with store.read() as uow:
        rows = [dict(r._mapping) for r in uow.session.execute(written)]
    assert rows == changes
    assert all(r["at"].tzinfo is UTC for r in rows)


def status_changes(count: int) -> list[dict[str, Any]]:
    return [
        {
            "request_id": "R1",
            "from_status": None,
            "to_status": f"s{i}",
            "actor": None,
            "at": T0,
            "reason": f"step {i}",
        }
        for i in range(count)
    ]


def reasons_in_key_order(store: Store) -> list[str]:
    """The stored status changes' reasons, by key: the audit chain reads its last link so."""
    by_key = select(STATUS_CHANGES.c.reason).order_by(STATUS_CHANGES.c.id)
    with store.read() as uow:
        return list(uow.session.scalars(by_key))


def test_many_writes_a_plain_insert_as_one_statement_and_the_rows_keep_their_order(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")
    with listening(store) as heard, store.write() as uow:
        INSERT_STATUS_CHANGE.many(uow.session, status_changes(7))
    assert [call.executemany for call in heard.cursor] == [False]
    assert reasons_in_key_order(store) == [f"step {i}" for i in range(7)]


def test_many_splits_rows_beyond_the_parameter_limit_into_several_statements(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_with_sqlalchemy(store, "R1")
    monkeypatch.setattr("store.statements.ROW_PARAMETERS", 12)  # two rows of six columns
    with listening(store) as heard, store.write() as uow:
        INSERT_STATUS_CHANGE.many(uow.session, status_changes(5))
    assert len(heard.cursor) == 3
    assert reasons_in_key_order(store) == [f"step {i}" for i in range(5)]


def test_a_batch_whose_sql_psycopg_would_parse_again_each_time_is_pipelined_on_postgresql(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_with_sqlalchemy(store, "R1")
    monkeypatch.setattr("store.statements.NAMED_SQL_KEPT", 900)  # room for a few rows only
    with listening(store) as heard, store.write() as uow:
        INSERT_STATUS_CHANGE.many(uow.session, status_changes(2))
        INSERT_STATUS_CHANGE.many(uow.session, status_changes(40))
    pipelined = store.engine.dialect.name == "postgresql"
    assert [call.executemany for call in heard.cursor] == [False, pipelined]
    assert reasons_in_key_order(store) == [f"step {i}" for i in (*range(2), *range(40))]


def test_a_duplicate_among_many_rows_fails_the_whole_statement_as_integrity_error(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")
    rows = [decision_values("R1", approver_id="U_A"), decision_values("R1", approver_id="U_A")]
    with pytest.raises(IntegrityError), store.write() as uow:
        INSERT_DECISION.many(uow.session, rows)
    with store.read() as uow:
        assert uow.session.scalars(select(DECISIONS.c.id)).all() == []


def test_an_upsert_runs_once_per_row_so_a_key_met_twice_is_updated_not_refused(
    store: Store,
) -> None:
    posts = cast(Table, SlackMessageRow.__table__)
    statement = (
        postgresql_insert(posts)
        if store.engine.dialect.name == "postgresql"
        else (sqlite_insert(posts))
    )
    upsert = Prepared(
        statement.on_conflict_do_update(
            index_elements=[posts.c.ref], set_={"ts": statement.excluded.ts}
        )
    )
    rows = [{"ref": "m1", "channel": "C1", "ts": ts, "posted_at": T0} for ts in ("1.0", "2.0")]
    with listening(store) as heard, store.write() as uow:
        upsert.many(uow.session, rows)
    assert [call.executemany for call in heard.cursor] == [True]
    with store.read() as uow:
        assert uow.session.scalars(select(posts.c.ts)).all() == ["2.0"]


def test_an_upsert_promised_distinct_keys_writes_its_rows_in_one_statement(store: Store) -> None:
    posts = cast(Table, SlackMessageRow.__table__)
    statement = (
        postgresql_insert(posts)
        if store.engine.dialect.name == "postgresql"
        else sqlite_insert(posts)
    )
    upsert = Prepared(
        statement.on_conflict_do_update(
            index_elements=[posts.c.ref], set_={"ts": statement.excluded.ts}
        ),
        distinct_keys=True,
    )
    with store.write() as uow:
        upsert.many(uow.session, [{"ref": "m1", "channel": "C1", "ts": "1.0", "posted_at": T0}])
    rows = [{"ref": ref, "channel": "C1", "ts": "2.0", "posted_at": T0} for ref in ("m1", "m2")]
    with listening(store) as heard, store.write() as uow:
        upsert.many(uow.session, rows)
    assert [call.executemany for call in heard.cursor] == [False]
    with store.read() as uow:
        stored = uow.session.execute(select(posts.c.ref, posts.c.ts).order_by(posts.c.ref))
        assert [tuple(row) for row in stored] == [("m1", "2.0"), ("m2", "2.0")]


# -- the engine's listeners ---------------------------------------------------------------------


def test_a_before_cursor_execute_listener_on_the_engine_sees_the_prepared_sql(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")
    rows = [decision_values("R1", approver_id=f"U_{i}") for i in range(3)]
    with listening(store) as heard, store.write() as uow:
        READ_REQUEST.first(uow.session, {"id": "R1"})
        INSERT_DECISION.many(uow.session, rows)
    read, inserted = heard.cursor
    assert "FROM requests" in read.sql
    assert read.sql.lstrip().upper().startswith("SELECT")
    assert "R1" in (
        read.parameters.values() if isinstance(read.parameters, dict) else read.parameters
    )
    assert read.executemany is False
    assert inserted.sql.startswith("INSERT INTO approval_decisions")
    assert inserted.executemany is False  # one statement for the three rows
    bound = (
        inserted.parameters.values()
        if isinstance(inserted.parameters, dict)
        else inserted.parameters
    )
    assert {"U_0", "U_1", "U_2"} <= set(bound)


def test_an_after_execute_listener_receives_the_core_statement_and_the_callers_parameters(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")
    approve = {"the_request": "R1", "old": "pending", "new": "approved", "at": T0}
    rows = [decision_values("R1", approver_id=f"U_{i}") for i in range(2)]
    with listening(store) as heard, store.write() as uow:
        SET_STATUS.run(uow.session, approve)
        INSERT_DECISION.many(uow.session, rows)
    one, batch = heard.executed
    assert one.statement is SET_STATUS.statement
    assert (one.multiparams, dict(one.params)) == ([], approve)
    assert batch.statement is INSERT_DECISION.statement
    assert (batch.multiparams, dict(batch.params)) == (rows, {})


def test_the_committed_metrics_count_audit_events_written_through_prepared(store: Store) -> None:
    metrics = Metrics()
    count_committed(store.engine, metrics=metrics)
    insert_events = Prepared(insert(AUDIT))

    def event_row(request_id: str) -> dict[str, Any]:
        return {
            "at": T0,
            "kind": AuditKind.REQUEST_STATUS.value,
            "actor": "U_BOB",
            "request_id": request_id,
            "data": {"from": "pending", "to": "approved"},
            "prev_hash": None,
            "hash": None,
            "key_id": None,
        }

    def approved() -> float:
        value = metrics.registry.get_sample_value("jit_decisions_total", {"outcome": "approved"})
        return value or 0.0

    with store.write() as uow:
        insert_events.run(uow.session, event_row("R1"))
        insert_events.many(uow.session, [event_row("R2"), event_row("R3")])
    assert approved() == 3
    with pytest.raises(Abandoned):
        abandoned(store, lambda session: insert_events.run(session, event_row("R4")))
    assert approved() == 3  # a rolled-back transaction counts nothing


# -- what needs SQLAlchemy at run time ----------------------------------------------------------


def test_an_expanding_in_list_returns_the_rows_of_the_ids_given(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1", "R2", "R3", "R4")
    with store.read() as uow:
        among = REQUESTS_AMONG.all(uow.session, {"ids": ["R4", "R2", "NOPE"]})
        assert [tuple(r) for r in among] == [
            tuple(r) for r in uow.session.execute(REQUESTS_AMONG.statement, {"ids": ["R4", "R2"]})
        ]
        # The same statement with lists of other lengths, the empty one too.
        one = REQUESTS_AMONG.all(uow.session, {"ids": ["R3"]})
        none = REQUESTS_AMONG.all(uow.session, {"ids": []})
        ids = Prepared(AMONG.with_only_columns(REQUESTS.c.id))
        four = ids.scalars(uow.session, {"ids": ["R1", "R2", "R3", "R4"]})
    assert [(r.id, r.created_at) for r in among] == [("R2", T0), ("R4", T0)]
    assert among[0].created_at.tzinfo is UTC
    assert [r.id for r in one] == ["R3"]
    assert none == []
    assert four == ["R1", "R2", "R3", "R4"]


def test_an_update_of_an_expanding_in_list_counts_the_rows_it_matched(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1", "R2", "R3")
    lease = Prepared(
        update(REQUESTS)
        .where(REQUESTS.c.id.in_(bindparam("ids", expanding=True)))
        .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
    )
    until = T0 + timedelta(minutes=1)
    with store.write() as uow:
        assert (
            lease.run(uow.session, {"ids": ["R1", "R3", "NOPE"], "owner": "i-1", "until": until})
            == 2
        )
        assert lease.run(uow.session, {"ids": [], "owner": "i-2", "until": until}) == 0
    with store.read() as uow:
        rows = uow.session.execute(
            select(REQUESTS.c.id, REQUESTS.c.lease_owner, REQUESTS.c.lease_until).order_by(
                REQUESTS.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("R1", "i-1", until),
        ("R2", None, None),
        ("R3", "i-1", until),
    ]


def test_not_in_and_lists_of_datetimes_select_what_session_execute_selects(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1", "R2", "R3")
    with store.write() as uow:
        uow.session.execute(
            update(REQUESTS).where(REQUESTS.c.id == "R3").values(created_at=T0 + timedelta(days=1))
        )
    outside = select(REQUESTS.c.id).where(
        REQUESTS.c.id.not_in(bindparam("ids", expanding=True)),
        REQUESTS.c.created_at.in_(bindparam("at", expanding=True)),
    )
    with store.read() as uow:
        for ids, at in (
            (("R1",), (T0,)),
            ((), (T0,)),
            (("R1",), ()),
            ((), (T0, T0 + timedelta(days=1))),
        ):
            given = {"ids": ids, "at": at}  # tuples, as callers pass them too
            assert sorted(Prepared(outside).scalars(uow.session, given)) == sorted(
                uow.session.scalars(outside, {"ids": list(ids), "at": list(at)})
            )


def test_a_value_longer_than_its_column_matches_nothing_rather_than_its_prefix(
    store: Store,
) -> None:
    """An id column is VARCHAR(16): were the list cast to VARCHAR(16)[], the server would cut
    each element to 16 characters and find the row of that prefix."""
    stored_with_sqlalchemy(store, "R1234567890ABCDE")
    with store.read() as uow:
        assert REQUESTS_AMONG.all(uow.session, {"ids": ["R1234567890ABCDEF"]}) == []


def test_an_in_list_is_one_array_on_postgresql_and_one_placeholder_per_element_on_sqlite(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1", "R2")
    with listening(store) as heard, store.read() as uow:
        REQUESTS_AMONG.all(uow.session, {"ids": ["R1"]})
        REQUESTS_AMONG.all(uow.session, {"ids": [f"R{i}" for i in range(500)]})
    one, five_hundred = heard.cursor
    if store.engine.dialect.name == "postgresql":
        assert one.sql == five_hundred.sql  # psycopg parses it once
        assert "= ANY (" in one.sql
        assert one.parameters == {"ids": ["R1"]}
    else:
        assert five_hundred.sql.count("?") == 500


def test_a_tuple_in_list_on_postgresql_is_still_expanded_and_selects_the_pairs_given(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1", "R2")
    pairs = select(REQUESTS.c.id).where(
        tuple_(REQUESTS.c.id, REQUESTS.c.status).in_(bindparam("pairs", expanding=True))
    )
    with store.read() as uow:
        found = Prepared(pairs).scalars(
            uow.session, {"pairs": [("R1", "pending"), ("R2", "active")]}
        )
    assert found == ["R1"]


def test_an_insert_that_leaves_columns_to_python_defaults_falls_back_and_gets_them(
    store: Store,
) -> None:
    values = request_values("R1")
    # Python-side defaults (``default=""``, ``default=False``...): SQLAlchemy computes them.
    for name in ("requester_name", "justification", "automatic", "reminders_sent"):
        del values[name]
    with store.write() as uow, through_session_execute(uow.session) as executed:
        INSERT_REQUEST.run(uow.session, values)
        assert len(executed) == 1
    row = stored_row(store, "R1")
    assert (row.requester_name, row.justification, row.automatic, row.reminders_sent) == (
        "",
        "",
        False,
        0,
    )


# -- what SQLAlchemy refuses or renames, the prepared path does alike -------------------------


def test_a_parameter_whose_name_sqlalchemy_escapes_is_bound_as_session_execute_binds_it(
    store: Store,
) -> None:
    stored_with_sqlalchemy(store, "R1")
    created = Prepared(
        select(REQUESTS.c.id).where(REQUESTS.c.created_at == bindparam("created.at"))
    )
    with store.read() as uow:
        expected = uow.session.execute(created.statement, {"created.at": T0}).scalars().all()
        assert expected == ["R1"]
        assert created.scalars(uow.session, {"created.at": T0}) == expected


def test_a_parameter_left_out_is_refused_as_session_execute_refuses_it(store: Store) -> None:
    stored_with_sqlalchemy(store, "R1")
    misspelt = {"the_request": "R1", "olld": "pending", "new": "approved", "at": T0}
    with store.write() as uow:
        with pytest.raises(SQLAlchemyError, match="A value is required for bind parameter 'old'"):
            uow.session.execute(SET_STATUS.statement, misspelt)
        with pytest.raises(SQLAlchemyError, match="A value is required for bind parameter 'old'"):
            SET_STATUS.run(uow.session, misspelt)
