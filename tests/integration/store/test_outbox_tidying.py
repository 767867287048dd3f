"""Tidying the outbox: on PostgreSQL a VACUUM of it, which clears the dead index entries that
every sent message leaves in the index the relay's claim scans (docs/architecture.md, "Durable
time"); SQLite has nothing to tidy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from store.unit_of_work import Store

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def vacuums_of_the_outbox(store: Store) -> int:
    with store.engine.connect() as connection:
        count = connection.execute(
            text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'")
        ).scalar_one()
    return int(count)


def test_tidying_a_postgresql_outbox_vacuums_it_and_keeps_what_is_still_to_send(
    pg_store: Store,
) -> None:
    with pg_store.write() as uow:
        for i in range(3):
            uow.outbox.add(at=T0, ordering_key=f"k{i}", channel="C0X", kind="post", payload={})
    with pg_store.write() as uow:
        [first] = uow.outbox.claim(owner="r", now=T0, lease=timedelta(seconds=30), limit=1)
        uow.outbox.mark_sent(message_id=first.id, owner="r", at=T0)
    before = vacuums_of_the_outbox(pg_store)

    pg_store.tidy_outbox()

    assert vacuums_of_the_outbox(pg_store) == before + 1
    with pg_store.read() as uow:
        assert uow.outbox.pending_count() == 2


def test_tidying_a_sqlite_outbox_leaves_its_messages_as_they_were(sqlite_store: Store) -> None:
    with sqlite_store.write() as uow:
        uow.outbox.add(at=T0, ordering_key="k", channel="C0X", kind="post", payload={})

    sqlite_store.tidy_outbox()

    with sqlite_store.read() as uow:
        assert uow.outbox.pending_count() == 1
