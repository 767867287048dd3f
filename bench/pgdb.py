"""A throwaway PostgreSQL database on the machine's server, the production store of the app."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def temporary_pg_database(*, prefix: str = "jit_bench") -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards (its sessions ended first)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()
