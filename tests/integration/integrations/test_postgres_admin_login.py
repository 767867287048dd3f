"""A non-superuser admin login with exactly the documented privileges, and preflight() on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from app.integrations.base import GrantItem, IntegrationError
from app.integrations.postgresql import PostgresIntegration
from domain.connections import RESOLVED, PostgresConnection
from tests.integration.integrations.integration_servers import (
    PG_DATABASE,
    PgAdminLogin,
    PgCluster,
    create_pg_admin_login,
    drop_pg_admin_login,
    in_one_hour,
    pg_login,
    pg_login_to,
    pg_other_database,
    pg_owned_by,
    pg_role_exists,
    pg_role_oid,
    pg_sessions_of,
)

pytestmark = pytest.mark.integration

MakeLogin = Callable[..., PostgresIntegration]
ident = sql.Identifier


def integration_for(pg_cluster: PgCluster, user: str, password: str) -> PostgresIntegration:
    connection = PostgresConnection.model_validate(
        {"host": "127.0.0.1", "port": pg_cluster.port, "database": PG_DATABASE,
         "user": user, "password": password},
        context={RESOLVED: True},
    )  # fmt: skip
    return PostgresIntegration(name="limited-postgres", connection=connection)


@pytest.fixture
def admin_login(pg_cluster: PgCluster) -> Iterator[MakeLogin]:
    """Builds integrations on fresh non-superuser admin logins, dropped afterwards."""
    made: list[PgAdminLogin] = []

    def make(**lacking: bool) -> PostgresIntegration:
        login = create_pg_admin_login(pg_cluster, **lacking)
        made.append(login)
        return integration_for(pg_cluster, login.user, login.password)

    yield make
    for login in made:
        drop_pg_admin_login(pg_cluster, login)


def test_a_createrole_login_with_the_documented_privileges_grants_and_revokes_completely(
    admin_login: MakeLogin, pg_cluster: PgCluster, pg_account: str
) -> None:
    limited = admin_login()
    assert limited.preflight() == []

    first = limited.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())
    with pg_login(first, pg_cluster) as conn:
        conn.execute(f"CREATE TABLE hr.first_{pg_account} (id int)")
    details = limited.grant(  # a retry: the reset path drops what the first grant's user made
        account=pg_account,
        items=[GrantItem("sales.orders", "read_write"), GrantItem("hr", "admin")],
        until=in_one_hour(),
    )
    session = pg_login(details, pg_cluster)
    session.execute("INSERT INTO sales.orders (item) VALUES ('plums')")
    session.execute("DELETE FROM sales.orders WHERE item = 'plums'")
    session.execute(f"CREATE TABLE hr.mine_{pg_account} (id int)")
    session.execute("SELECT lo_create(0)")
    oid = pg_role_oid(pg_cluster, pg_account)
    assert pg_owned_by(pg_cluster, oid)["relations"] == 1  # hr.mine_..., not hr.first_...

    limited.revoke(account=pg_account)

    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    session.close()
    assert pg_sessions_of(pg_cluster, oid) == 0
    assert not pg_role_exists(pg_cluster, pg_account)
    assert pg_owned_by(pg_cluster, oid)["relations"] == 0
    assert pg_owned_by(pg_cluster, oid)["large_objects"] == 0


def test_a_createrole_login_drops_what_the_account_made_in_another_database(
    admin_login: MakeLogin, pg_cluster: PgCluster, pg_account: str
) -> None:
    limited = admin_login()
    details = limited.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    with pg_other_database(pg_cluster) as other:
        with pg_login_to(details, pg_cluster, other) as conn:
            conn.execute("SELECT lo_create(0)")
        oid = pg_role_oid(pg_cluster, pg_account)

        limited.revoke(account=pg_account)

        assert pg_owned_by(pg_cluster, oid, database=other)["large_objects"] == 0
    assert not pg_role_exists(pg_cluster, pg_account)


@pytest.mark.parametrize(
    ("lacking", "named"),
    [
        ({"createrole": False}, "CREATEROLE"),
        ({"inherit": False}, "NOINHERIT"),
        ({"grant_options": False}, "WITH GRANT OPTION on schema sales"),
        ({"grant_options": False}, "CONNECT WITH GRANT OPTION on database shop"),
    ],
)
def test_preflight_names_what_a_login_with_a_privilege_less_lacks(
    admin_login: MakeLogin, lacking: dict[str, bool], named: str
) -> None:
    missing = admin_login(**lacking).preflight()

    assert any(named in sentence for sentence in missing), missing
    assert all(sentence.endswith(".") for sentence in missing)


def test_preflight_names_a_database_holding_temporary_objects_the_login_cannot_enter(
    admin_login: MakeLogin, pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    limited = admin_login()
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    with pg_other_database(pg_cluster) as other, pg_cluster.connect() as admin:
        with pg_login_to(details, pg_cluster, other) as conn:
            conn.execute("SELECT lo_create(0)")
        assert limited.preflight() == []

        admin.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(ident(other)))
        assert any(other in sentence for sentence in limited.preflight())
        assert pg.preflight() == []  # a superuser may still connect

        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident(other)))
        assert any(other in sentence for sentence in pg.preflight())


def test_preflight_of_a_superuser_finds_nothing_missing(pg: PostgresIntegration) -> None:
    assert pg.preflight() == []


def test_preflight_raises_when_it_cannot_connect(pg_cluster: PgCluster) -> None:
    with pytest.raises(IntegrationError, match="preflight failed"):
        integration_for(pg_cluster, "postgres", "wrong-password").preflight()
