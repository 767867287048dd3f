"""``revoke_many`` on a real PostgreSQL: a batch of roles cut off and dropped together, each
confirmed; one role that cannot be dropped leaves the others revoked."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import psycopg
import pytest
from psycopg import sql

from app.integrations.base import GrantItem
from app.integrations.postgresql import PostgresIntegration
from tests.integration.integrations.integration_servers import (
    RUN,
    PgCluster,
    drop_pg_role,
    eventually,
    in_one_hour,
    new_account,
    pg_groups_of,
    pg_login,
    pg_role_exists,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def accounts(pg_cluster: PgCluster) -> Iterator[list[str]]:
    names = [new_account() for _ in range(5)]
    yield names
    for name in names:
        drop_pg_role(pg_cluster, name)


def session_dead(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return True
    return False


def test_a_batch_is_revoked_and_confirmed_but_for_the_role_that_cannot_be_dropped(
    pg: PostgresIntegration, pg_cluster: PgCluster, accounts: list[str]
) -> None:
    sessions = []
    for account in accounts:
        details = pg.grant(
            account=account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
        )
        sessions.append(pg_login(details, pg_cluster))
    stuck, *others = accounts
    # A database it owns: DROP OWNED leaves databases alone, so DROP ROLE is refused.
    owned = f"owned_{RUN}_{stuck}"
    with pg_cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(owned), sql.Identifier(stuck)
            )
        )
    try:
        outcome = pg.revoke_many(accounts=accounts)

        assert set(outcome) == set(accounts)
        assert all(outcome[a] is None for a in others), outcome
        error = outcome[stuck]
        assert error is not None
        assert f"role {stuck} still exists" in str(error)
        assert not any(pg_role_exists(pg_cluster, a) for a in others)
        assert pg_role_exists(pg_cluster, stuck)
        # Every session is cut, the stuck role's too, and it cannot log in again.
        assert all(eventually(partial(session_dead, s)) for s in sessions)
        with pg_cluster.connect() as conn:
            row = conn.execute(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (stuck,)
            ).fetchone()
        assert row == (False,)
        # Cut off means out of its group too, though the role itself is still there.
        assert pg_groups_of(pg_cluster, stuck) == []
    finally:
        for s in sessions:
            s.close()
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(owned)))

    assert pg.revoke_many(accounts=[stuck]) == {stuck: None}
    assert not pg_role_exists(pg_cluster, stuck)


def test_accounts_already_gone_and_names_the_bot_never_gives_are_told_apart(
    pg: PostgresIntegration, accounts: list[str]
) -> None:
    outcome = pg.revoke_many(accounts=[*accounts[:2], "postgres"])

    assert outcome[accounts[0]] is None
    assert outcome[accounts[1]] is None
    assert outcome["postgres"] is not None
