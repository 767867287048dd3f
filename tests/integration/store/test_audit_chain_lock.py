"""The audit chain's lock is held only from the moment a transaction writes its events to its
COMMIT: a long transaction never makes another instance wait, and the chain stays one chain
(issue 13, "one lock held briefly"). On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from domain.audit import AuditEvent, AuditKeys, AuditKind, parse_key
from domain.ids import RequestId, UserId
from store.engine import make_engine
from store.migrate import upgrade
from store.repositories.audit import verify_chain
from store.unit_of_work import Store, UnitOfWork
from tests.conftest import ADMIN_PG_URL

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
KEYS = AuditKeys(current=parse_key(secrets.token_hex(32)), old=())


class Boom(Exception):
    pass


def event(n: int) -> AuditEvent:
    return AuditEvent(
        kind=AuditKind.REVOKE_REFUSED,
        at=T0 + timedelta(seconds=n),
        actor=UserId("U0BOB"),
        request_id=RequestId("AR-AAAAAA"),
        data={"n": n},
    )


@pytest.fixture(scope="module")
def lock_pg_url() -> Iterator[str]:
    name = f"jit_chainlock_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("lock_pg_url")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine=engine, audit_keys=KEYS)
    yield store
    store.dispose()


def numbers(store: Store) -> list[int]:
    with store.read() as uow:
        return [int(stored.event.data["n"]) for stored in uow.audit.iter_all()]


def intact(store: Store) -> bool:
    with store.read() as uow:
        return verify_chain(uow.audit.iter_all(), keys=KEYS) is None


# SQLite has one writer at a time whatever the chain does; PostgreSQL is where it shows.
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_an_open_transaction_holding_events_does_not_make_another_wait(store: Store) -> None:
    appended = threading.Event()
    other_committed = threading.Event()
    failures: list[BaseException] = []

    def slow_transaction() -> None:
        try:
            with store.write() as uow:
                uow.audit.append(event(1))
                appended.set()
                # Still open, its event appended: the other instance must get through now.
                if not other_committed.wait(timeout=10):
                    raise AssertionError("the other transaction waited on this one")
        except BaseException as error:  # reported to the test thread below
            failures.append(error)

    slow = threading.Thread(target=slow_transaction)
    slow.start()
    assert appended.wait(timeout=10)
    with store.write() as uow:
        uow.audit.append(event(2))
    other_committed.set()
    slow.join(timeout=20)

    assert failures == []
    assert numbers(store) == [2, 1]
    assert intact(store)


def test_many_writers_at_once_make_one_intact_chain(store: Store) -> None:
    def writer(base: int) -> None:
        for i in range(10):
            with store.write() as uow:
                uow.audit.extend([event(base + 2 * i), event(base + 2 * i + 1)])

    threads = [threading.Thread(target=writer, args=(1000 * t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    written = numbers(store)
    assert len(written) == 80
    # Each transaction's two events stay next to each other, in the order appended.
    assert all(written[i] + 1 == written[i + 1] for i in range(0, 80, 2))
    assert intact(store)


def test_a_rolled_back_savepoint_takes_only_its_own_events(store: Store) -> None:
    def fail_after(uow: UnitOfWork) -> None:
        with uow.savepoint():
            uow.audit.append(event(2))
            raise Boom

    with store.write() as uow:
        uow.audit.append(event(1))
        with pytest.raises(Boom):
            fail_after(uow)
        uow.audit.append(event(3))

    assert numbers(store) == [1, 3]
    assert intact(store)


def test_a_savepoint_that_read_the_log_then_rolled_back_loses_nothing_before_it(
    store: Store,
) -> None:
    seen: list[object] = []

    def read_then_fail(uow: UnitOfWork) -> None:
        with uow.savepoint():
            uow.audit.append(event(2))
            # Reading writes what is pending, inside the savepoint that is about to roll back.
            seen.extend(e.data["n"] for e in uow.audit.for_request(RequestId("AR-AAAAAA")))
            raise Boom

    with store.write() as uow:
        uow.audit.append(event(1))
        with pytest.raises(Boom):
            read_then_fail(uow)
        uow.audit.append(event(3))

    assert seen == [1, 2]

    assert numbers(store) == [1, 3]
    assert intact(store)


def test_a_transaction_that_fails_writes_no_event(store: Store) -> None:
    def fail() -> None:
        with store.write() as uow:
            uow.audit.append(event(1))
            raise Boom

    with pytest.raises(Boom):
        fail()
    with store.write() as uow:
        uow.audit.append(event(2))

    assert numbers(store) == [2]
    assert intact(store)
