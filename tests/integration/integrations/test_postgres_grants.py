"""The PostgreSQL integration against a cluster that really checks passwords."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.integrations.base import AccessDetails, GrantItem, IntegrationError, Resource
from app.integrations.postgresql import PostgresIntegration
from domain.connections import RESOLVED, PostgresConnection
from tests.integration.integrations.integration_servers import (
    PG_DATABASE,
    PgCluster,
    PgSession,
    in_one_hour,
    new_account,
    pg_login,
    pg_role_exists,
)

pytestmark = pytest.mark.integration


def refused(conn: PgSession, query: str) -> bool:
    try:
        conn.execute(query)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_throwaway_cluster_refuses_a_wrong_password(pg_cluster: PgCluster) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=pg_cluster.port, dbname=PG_DATABASE, user="postgres",
            password="wrong",
        )  # fmt: skip


def test_check_passes_with_the_admin_login(pg: PostgresIntegration) -> None:
    pg.check()


def test_check_with_a_wrong_admin_password_fails_without_showing_it(pg_cluster: PgCluster) -> None:
    connection = PostgresConnection.model_validate(
        {"host": "127.0.0.1", "port": pg_cluster.port, "database": PG_DATABASE,
         "user": "postgres", "password": "not-the-password-123"},
        context={RESOLVED: True},
    )  # fmt: skip
    broken = PostgresIntegration(name="broken-postgres", connection=connection)

    with pytest.raises(IntegrationError) as caught:
        broken.check()

    assert str(caught.value).startswith("broken-postgres: check failed")
    assert "not-the-password-123" not in str(caught.value)
    assert "not-the-password-123" not in repr(broken)


def test_discovery_lists_schemas_tables_and_views_but_no_system_schema(
    pg: PostgresIntegration,
) -> None:
    found = pg.discover()

    assert Resource(name="sales", kind="schema") in found
    assert Resource(name="sales.orders", kind="table") in found
    assert Resource(name="sales.order_items", kind="table") in found
    assert Resource(name="hr.salaries", kind="table") in found
    assert not [r for r in found if r.name.split(".")[0] in ("pg_catalog", "information_schema")]


def test_a_read_only_grant_can_select_but_not_insert(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )

    with pg_login(details, pg_cluster) as conn:
        assert conn.execute("SELECT count(*) FROM sales.orders").fetchone() == (2,)
        assert refused(conn, "INSERT INTO sales.orders (item) VALUES ('plums')")


def test_a_read_write_grant_can_insert_into_a_table_with_a_serial_key(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_write")], until=in_one_hour()
    )

    with pg_login(details, pg_cluster) as conn:
        conn.execute("INSERT INTO sales.orders (item) VALUES ('plums')")
        conn.execute("DELETE FROM sales.orders WHERE item = 'plums'")
        assert refused(conn, "TRUNCATE sales.orders")


def test_tables_outside_the_grant_are_refused(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_write")], until=in_one_hour()
    )

    with pg_login(details, pg_cluster) as conn:
        assert refused(conn, "SELECT * FROM sales.customers")
        assert refused(conn, "SELECT * FROM hr.salaries")


@pytest.mark.parametrize("resource", ["sales.*", "sales"])
def test_a_schema_grant_covers_its_tables_and_views_only(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, resource: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem(resource, "read_only")], until=in_one_hour()
    )

    with pg_login(details, pg_cluster) as conn:
        conn.execute("SELECT * FROM sales.orders, sales.customers, sales.order_items")
        assert refused(conn, "SELECT * FROM hr.salaries")
        assert refused(conn, "CREATE TABLE sales.mine (id int)")


def test_admin_on_a_schema_may_create_tables_and_revoke_drops_them(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())
    with pg_login(details, pg_cluster) as conn:
        conn.execute(f"CREATE TABLE hr.notes_{pg_account} (body text)")
        conn.execute("TRUNCATE hr.salaries")
        conn.execute("INSERT INTO hr.salaries VALUES ('alice', 100)")

    pg.revoke(account=pg_account)

    with pg_cluster.connect() as admin:
        left = admin.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'hr' AND tablename = %s",
            (f"notes_{pg_account}",),
        ).fetchone()
        kept = admin.execute("SELECT count(*) FROM hr.salaries").fetchone()
    assert left == (0,)
    assert kept == (1,)  # the tables it was granted on stay, with what it wrote


def test_different_permissions_on_different_tables_in_one_grant(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account,
        items=[GrantItem("sales.orders", "read_only"), GrantItem("sales.customers", "read_write")],
        until=in_one_hour(),
    )

    with pg_login(details, pg_cluster) as conn:
        conn.execute("INSERT INTO sales.customers (name) VALUES ('bob')")
        assert refused(conn, "INSERT INTO sales.orders (item) VALUES ('plums')")


def test_the_role_carries_valid_until_and_a_scram_hashed_password(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    until = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=until
    )

    with pg_cluster.connect() as admin:
        row = admin.execute(
            "SELECT rolvaliduntil, rolpassword FROM pg_authid WHERE rolname = %s", (pg_account,)
        ).fetchone()
    assert row is not None
    valid_until, stored = row
    assert valid_until == until
    assert str(stored).startswith("SCRAM-SHA-256$")
    assert details.fields["password"] not in str(stored)
    assert details.valid_until == until


def test_extend_moves_valid_until_and_keeps_the_password_working(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    # Granted with an end already passed: only the extension lets the login in again.
    details = pg.grant(
        account=pg_account,
        items=[GrantItem("sales.orders", "read_only")],
        until=datetime.now(UTC) - timedelta(minutes=1),
    )
    later = datetime(2099, 5, 6, 7, 8, 9, tzinfo=UTC)

    pg.extend(account=pg_account, until=later)

    with pg_cluster.connect() as admin:
        row = admin.execute(
            "SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (pg_account,)
        ).fetchone()
    assert row == (later,)
    with pg_login(details, pg_cluster) as conn:
        assert conn.execute("SELECT count(*) FROM sales.orders").fetchone() is not None


def test_extending_an_account_that_is_gone_fails_with_a_safe_message(
    pg: PostgresIntegration, pg_account: str
) -> None:
    with pytest.raises(IntegrationError, match="does not exist"):
        pg.extend(account=pg_account, until=in_one_hour())


def test_access_details_are_labelled_and_use_the_public_host(
    pg: PostgresIntegration, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )

    assert list(details.fields) == ["host", "port", "database", "user", "password", "psql"]
    assert details.fields["host"] == "db.example.com"
    assert details.fields["user"] == pg_account
    assert details.secret_fields == {"password"}
    assert details.fields["password"] not in repr(details)
    assert details.fields["password"] not in details.fields["psql"]
    assert len(details.fields["password"]) >= 32


def test_a_role_whose_until_has_passed_cannot_log_in(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account,
        items=[GrantItem("sales.orders", "read_only")],
        until=datetime.now(UTC) - timedelta(minutes=1),
    )

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_login(details, pg_cluster)


def test_a_wrong_password_for_the_granted_role_is_refused(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_login(details, pg_cluster, password="guess")


def test_revoke_ends_open_sessions_and_refuses_new_logins(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    session = pg_login(details, pg_cluster)

    pg.revoke(account=pg_account)

    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    session.close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_login(details, pg_cluster)
    assert not pg_role_exists(pg_cluster, pg_account)


def test_revoking_twice_or_revoking_an_unknown_account_succeeds(
    pg: PostgresIntegration, pg_account: str
) -> None:
    pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )

    pg.revoke(account=pg_account)
    pg.revoke(account=pg_account)
    unknown = new_account()
    pg.revoke(account=unknown)

    left = pg.accounts()
    assert left is not None
    assert pg_account not in left
    assert unknown not in left


def test_granting_twice_leaves_one_account_that_only_takes_the_second_password(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    first = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_write")], until=in_one_hour()
    )
    second = pg.grant(
        account=pg_account, items=[GrantItem("sales.customers", "read_only")], until=in_one_hour()
    )

    assert first.fields["password"] != second.fields["password"]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_login(first, pg_cluster)
    with pg_login(second, pg_cluster) as conn:
        conn.execute("SELECT * FROM sales.customers")
        assert refused(conn, "SELECT * FROM sales.orders")  # reset to exactly the new items


def test_a_missing_table_fails_with_a_safe_message_and_leaves_no_role(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    with pytest.raises(IntegrationError) as caught:
        pg.grant(
            account=pg_account,
            items=[GrantItem("sales.orders", "read_only"), GrantItem("sales.nope", "read_only")],
            until=in_one_hour(),
        )

    message = str(caught.value)
    assert message.startswith("test-postgres: grant failed")
    assert "sales.nope" in message
    assert pg_cluster.password not in message
    assert "SCRAM" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert not pg_role_exists(pg_cluster, pg_account)


@pytest.mark.parametrize(
    "resource", ["pg_catalog.pg_authid", "pg_catalog", "information_schema.*", "sales.", ".x"]
)
def test_system_schemas_and_malformed_resources_are_refused(
    pg: PostgresIntegration, pg_account: str, resource: str
) -> None:
    with pytest.raises(IntegrationError, match="bad resource"):
        pg.grant(account=pg_account, items=[GrantItem(resource, "read_only")], until=in_one_hour())


@pytest.mark.parametrize("account", ["postgres", "app_rw", "jit_UPPER", "jit_x; DROP ROLE y"])
def test_accounts_that_are_not_temporary_ones_are_never_touched(
    pg: PostgresIntegration, account: str
) -> None:
    with pytest.raises(IntegrationError, match="refusing account"):
        pg.revoke(account=account)


def test_unknown_permissions_and_naive_times_are_refused(
    pg: PostgresIntegration, pg_account: str
) -> None:
    with pytest.raises(IntegrationError, match="unknown permission owner"):
        pg.grant(account=pg_account, items=[GrantItem("sales", "owner")], until=in_one_hour())
    with pytest.raises(IntegrationError, match="time zone"):
        pg.grant(
            account=pg_account, items=[GrantItem("sales", "read_only")], until=datetime(2099, 1, 1)
        )


def test_parallel_grants_and_revokes_of_different_accounts_all_work(
    pg: PostgresIntegration, pg_cluster: PgCluster
) -> None:
    accounts = [new_account() for _ in range(6)]

    def grant_and_use(account: str) -> object:
        details = pg.grant(
            account=account, items=[GrantItem("sales", "read_only")], until=in_one_hour()
        )
        with pg_login(details, pg_cluster) as conn:
            return conn.execute("SELECT count(*) FROM sales.orders").fetchone()

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(grant_and_use, accounts)) == [(2,)] * 6
    finally:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda a: pg.revoke(account=a), accounts))
    with pg_cluster.connect() as admin:
        left = admin.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (accounts,)
        ).fetchone()
    assert left == (0,)


def test_a_retried_grant_racing_the_first_ends_with_one_working_account(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    def grant() -> AccessDetails:
        return pg.grant(
            account=pg_account, items=[GrantItem("sales", "read_only")], until=in_one_hour()
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: grant(), range(2)))

    working = [details for details in results if _logs_in(details, pg_cluster)]
    assert len(working) == 1


def _logs_in(details: AccessDetails, pg_cluster: PgCluster) -> bool:
    try:
        pg_login(details, pg_cluster).close()
    except psycopg.OperationalError:
        return False
    return True
