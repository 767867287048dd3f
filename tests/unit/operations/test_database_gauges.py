"""Gauges read from the database at scrape time: requests by status and flow, the outbox's
depth and age, the most overdue expiry; a database that cannot be read fails no scrape."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from app.operations.database import DatabaseGauges
from domain.clock import ManualClock
from store.engine import make_engine
from store.unit_of_work import Store
from tests.unit.operations.conftest import active_request


def gauges(store: Store, clock: ManualClock) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseGauges(store=store, clock=clock))
    return registry


def test_an_empty_database_reads_as_zeros(sqlite_store: Store) -> None:
    registry = gauges(sqlite_store, ManualClock())
    assert registry.get_sample_value("jit_database_up") == 1
    assert registry.get_sample_value("jit_outbox_pending") == 0
    assert registry.get_sample_value("jit_outbox_oldest_pending_age_seconds") == 0
    assert registry.get_sample_value("jit_outbox_dead") == 0
    assert registry.get_sample_value("jit_expiry_overdue_seconds") == 0


def test_the_outbox_depth_and_its_oldest_unsent_message_age_as_the_clock_moves(
    sqlite_store: Store,
) -> None:
    clock = ManualClock()
    with sqlite_store.write() as uow:
        for minutes in (0, 1):
            uow.outbox.add(
                at=clock.now() + timedelta(minutes=minutes),
                ordering_key="k",
                channel="C0AUDIT",
                kind="post",
                payload={"text": "hi"},
            )
    clock.advance(timedelta(minutes=5))
    registry = gauges(sqlite_store, clock)
    assert registry.get_sample_value("jit_outbox_pending") == 2
    assert registry.get_sample_value("jit_outbox_oldest_pending_age_seconds") == 300


def test_requests_are_counted_by_status_and_flow_and_the_overdue_one_shows_its_delay(
    sqlite_store: Store,
) -> None:
    clock = ManualClock()
    active_request(sqlite_store, expires_at=clock.now() - timedelta(seconds=90))
    active_request(sqlite_store, expires_at=clock.now() + timedelta(minutes=30))
    registry = gauges(sqlite_store, clock)
    labels = {"status": "active", "flow": "developers"}
    assert registry.get_sample_value("jit_requests", labels) == 2
    assert registry.get_sample_value("jit_expiry_overdue_seconds") == 90


def test_a_database_that_cannot_be_read_reports_down_instead_of_failing_the_scrape(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    registry = gauges(Store(engine=engine), ManualClock())
    assert registry.get_sample_value("jit_database_up") == 0
    assert registry.get_sample_value("jit_outbox_pending") is None
    engine.dispose()
