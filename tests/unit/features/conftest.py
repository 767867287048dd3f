"""Fixtures of the feature unit tests: one migrated SQLite database for the session, emptied
before each test, and the world on it.

One engine serves every test, because building a new one costs more than most tests (SQLAlchemy
compiles each statement once per engine); migrating once saves a fraction of a second per test
too. An in-memory database will not do: the services open a read transaction inside a write
one in places, which needs two connections to one database, and SQLite's shared cache would
lock tables against each other instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from store.engine import make_engine
from store.migrate import upgrade
from store.models import Base
from store.unit_of_work import Store
from tests.unit.features.world import World


@pytest.fixture(scope="session")
def feature_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('features') / 'jit.db'}")
    upgrade(engine)
    # The typeahead's full-text index follows bundle_objects by triggers (migration 0005).
    tables = {
        t
        for t in inspect(engine).get_table_names()
        if t != "alembic_version" and not t.startswith("bundle_objects_fts")
    }
    assert tables == set(Base.metadata.tables), "a table the reset below would not empty"
    yield engine
    engine.dispose()


@pytest.fixture
def feature_store(feature_engine: Engine) -> Store:
    """The database as a fresh migration leaves it: every row of the last test deleted."""
    with feature_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    return Store(engine=feature_engine)


@pytest.fixture
def make_world(feature_store: Store) -> Callable[..., World]:
    """A world with options (limits, integrations of its own, ...)."""

    def make(**options: Any) -> World:
        return World(store=feature_store, **options)

    return make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
