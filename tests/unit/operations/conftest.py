"""A migrated SQLite store and a fresh registry per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.operations.metrics import Metrics
from domain.ids import UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.engine import make_engine
from store.migrate import upgrade
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    yield Store(engine=engine)
    engine.dispose()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def active_request(store: Store, *, expires_at: datetime) -> AccessRequest:
    """An active request of the developers flow that ends at ``expires_at``."""
    request_id = new_request_id()
    created = expires_at - timedelta(hours=2)
    request = AccessRequest(
        id=request_id, requester=UserId("U0ALICE"), flow="developers", bundle=None,
        duration=timedelta(hours=1), justification="", status=Status.PENDING,
        created_at=created, last_actor=UserId("U0ALICE"), last_change_at=created,
    )  # fmt: skip
    with store.write() as uow:
        uow.requests.add(
            request=request,
            requester=RequesterSnapshot(id=UserId("U0ALICE"), name="Alice", email=None),
            objects=[AccessObject("prod-redis", "orders:*", "read_only")],
        )
        for step, kwargs in (
            ("approve", {"by": UserId("U0BOB"), "at": created}),
            ("start_granting", {"at": created}),
            ("activate", {"at": expires_at - timedelta(hours=1)}),
        ):
            request, change = getattr(request, step)(**kwargs)
            uow.requests.apply(change=change, request=request)
    return request
