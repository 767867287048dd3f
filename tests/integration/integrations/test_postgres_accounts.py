"""accounts(): what the reconciler sees, and only names a revoke would accept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg import sql

from app.integrations.base import GrantItem
from app.integrations.postgresql import PostgresIntegration
from tests.integration.integrations.integration_servers import (
    RUN,
    PgCluster,
    drop_pg_role,
    in_one_hour,
    new_account,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def two_accounts(pg_cluster: PgCluster) -> Iterator[list[str]]:
    accounts = [new_account(), new_account()]
    yield accounts
    for account in accounts:
        drop_pg_role(pg_cluster, account)


@pytest.fixture
def lookalike_roles(pg_cluster: PgCluster) -> Iterator[list[str]]:
    """Roles that start like temporary ones but do not pass require_account."""
    names = [f"jit_Upper{RUN}", f"jit_{RUN}{'x' * 30}", f"jit_{RUN}-dash", f"jitx_{RUN}"]
    with pg_cluster.connect() as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield names
    with pg_cluster.connect() as conn:
        for name in names:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_granted_accounts_are_listed_until_they_are_revoked(
    pg: PostgresIntegration, two_accounts: list[str]
) -> None:
    for account in two_accounts:
        pg.grant(account=account, items=[GrantItem("sales", "read_only")], until=in_one_hour())

    listed = pg.accounts()
    assert listed is not None
    assert set(two_accounts) <= set(listed)

    for account in two_accounts:
        pg.revoke(account=account)
    after = pg.accounts()
    assert after is not None
    assert not set(two_accounts) & set(after)


def test_roles_whose_names_a_revoke_would_refuse_are_never_listed(
    pg: PostgresIntegration, lookalike_roles: list[str]
) -> None:
    listed = pg.accounts()

    assert listed is not None
    assert not set(lookalike_roles) & set(listed)
    assert "postgres" not in listed
