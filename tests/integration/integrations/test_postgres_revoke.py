"""Revoke against a temporary user who attacks it: nothing it made or holds may outlive the end."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
import pytest
from psycopg import sql

from app.integrations._pg_plan import CONNECTION_LIMIT
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.postgresql import (
    _ACCOUNT_LOCK,
    _PRIVILEGES_LOCK,
    PostgresIntegration,
    confirm_revoked,
)
from tests.integration.integrations.integration_servers import (
    RUN,
    PgCluster,
    drop_pg_role,
    eventually,
    in_one_hour,
    new_account,
    pg_login,
    pg_login_to,
    pg_other_database,
    pg_owned_by,
    pg_role_exists,
    pg_role_oid,
    pg_sessions_of,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def other_database(pg_cluster: PgCluster) -> Iterator[str]:
    with pg_other_database(pg_cluster) as name:
        yield name


@pytest.fixture
def superuser_name(pg_cluster: PgCluster) -> Iterator[str]:
    """A role name an attack would create as superuser; dropped if the attack worked."""
    name = f"evil_{RUN}{secrets.token_hex(3)}"
    yield name
    with pg_cluster.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def promote_function(schema: str, account: str, superuser_name: str) -> str:
    """SQL for a SECURITY DEFINER function that creates a superuser when its owner may."""
    return (
        f"CREATE FUNCTION {schema}.promote_{account}() RETURNS void LANGUAGE plpgsql"
        f" SECURITY DEFINER AS $$ BEGIN"
        f" EXECUTE 'CREATE ROLE {superuser_name} LOGIN SUPERUSER'; END $$"
    )


def function_exists(pg_cluster: PgCluster, name: str) -> bool:
    with pg_cluster.connect() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_proc WHERE proname = %s", (name,)).fetchone() is not None
        )


def test_a_security_definer_function_of_a_temporary_admin_is_dropped_not_handed_to_the_bot(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, superuser_name: str
) -> None:
    details = pg.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())
    with pg_login(details, pg_cluster) as conn:
        conn.execute(promote_function("hr", pg_account, superuser_name))

    pg.revoke(account=pg_account)

    later = new_account()
    try:
        reader = pg.grant(
            account=later, items=[GrantItem("hr.salaries", "read_only")], until=in_one_hour()
        )
        with pg_login(reader, pg_cluster) as conn, pytest.raises(psycopg.errors.UndefinedFunction):
            conn.execute(f"SELECT hr.promote_{pg_account}()")
    finally:
        drop_pg_role(pg_cluster, later)
    assert not pg_role_exists(pg_cluster, superuser_name)


def test_a_retried_grant_drops_what_the_account_made_instead_of_handing_it_to_the_bot(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, superuser_name: str
) -> None:
    first = pg.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())
    with pg_login(first, pg_cluster) as conn:
        conn.execute(promote_function("hr", pg_account, superuser_name))

    pg.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())

    assert not function_exists(pg_cluster, f"promote_{pg_account}")


def test_a_large_object_in_another_database_is_dropped_and_the_role_with_it(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, other_database: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    with pg_login_to(details, pg_cluster, other_database) as conn:
        conn.execute("SELECT lo_create(0)")
    oid = pg_role_oid(pg_cluster, pg_account)
    assert pg_owned_by(pg_cluster, oid, database=other_database)["large_objects"] == 1

    pg.revoke(account=pg_account)

    assert not pg_role_exists(pg_cluster, pg_account)
    assert pg_owned_by(pg_cluster, oid, database=other_database)["large_objects"] == 0


def test_a_database_the_bot_cannot_enter_fails_the_revoke_by_name_with_the_account_cut_off(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, other_database: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    with pg_login_to(details, pg_cluster, other_database) as conn:
        conn.execute("SELECT lo_create(0)")
    closed = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
    with pg_cluster.connect() as admin:
        admin.execute(closed.format(sql.Identifier(other_database), sql.SQL("false")))

    with pytest.raises(IntegrationError, match=other_database):
        pg.revoke(account=pg_account)

    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        pg_login(details, pg_cluster)
    with pg_cluster.connect() as admin:
        admin.execute(closed.format(sql.Identifier(other_database), sql.SQL("true")))
    pg.revoke(account=pg_account)
    assert not pg_role_exists(pg_cluster, pg_account)


def test_nothing_the_account_created_in_any_database_survives_the_revoke(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, other_database: str
) -> None:
    details = pg.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())
    mine = f"hr.mine_{pg_account}"
    with pg_login(details, pg_cluster) as conn:
        conn.execute(f"CREATE TABLE {mine} (id serial, body text)")
        conn.execute(f"CREATE VIEW hr.view_{pg_account} AS SELECT * FROM hr.salaries")
        conn.execute(
            f"CREATE FUNCTION hr.stamp_{pg_account}() RETURNS trigger LANGUAGE plpgsql"
            " SECURITY DEFINER AS $$ BEGIN RETURN NEW; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER stamp BEFORE INSERT ON {mine}"
            f" FOR EACH ROW EXECUTE FUNCTION hr.stamp_{pg_account}()"
        )
        conn.execute("SELECT lo_create(0)")
    with pg_login_to(details, pg_cluster, other_database) as conn:
        conn.execute("SELECT lo_create(0)")
    with pg_cluster.connect() as admin:  # someone else hangs a view on the account's table
        admin.execute(f"CREATE VIEW hr.theirs_{pg_account} AS SELECT body FROM {mine}")
    oid = pg_role_oid(pg_cluster, pg_account)
    before = pg_owned_by(pg_cluster, oid)
    assert before["relations"] >= 3  # the table, its sequence, the view
    assert before["functions"] == 1
    assert before["large_objects"] == 1
    assert pg_owned_by(pg_cluster, oid, database=other_database)["large_objects"] == 1

    pg.revoke(account=pg_account)

    gone = {"relations": 0, "functions": 0, "large_objects": 0, "dependencies": 0}
    assert pg_owned_by(pg_cluster, oid) == gone
    assert pg_owned_by(pg_cluster, oid, database=other_database) == gone
    with pg_cluster.connect() as admin:
        hung = admin.execute(
            "SELECT count(*) FROM pg_views WHERE viewname = %s", (f"theirs_{pg_account}",)
        ).fetchone()
    assert hung == (0,)  # CASCADE: nothing built on what it made outlives it either
    assert not pg_role_exists(pg_cluster, pg_account)


def test_sessions_in_every_database_end_at_revoke(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, other_database: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    here, there = pg_login(details, pg_cluster), pg_login_to(details, pg_cluster, other_database)
    oid = pg_role_oid(pg_cluster, pg_account)
    assert pg_sessions_of(pg_cluster, oid) == 2

    pg.revoke(account=pg_account)

    assert pg_sessions_of(pg_cluster, oid) == 0
    for session in (here, there):
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
        session.close()


def test_the_account_holding_the_bots_own_locks_cannot_block_its_revoke(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    attacker = pg_login(details, pg_cluster)
    attacker.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_ACCOUNT_LOCK, pg_account))
    attacker.execute("SELECT pg_advisory_lock(%s, %s)", _PRIVILEGES_LOCK)

    pg.revoke(account=pg_account)

    assert not pg_role_exists(pg_cluster, pg_account)
    attacker.close()


def test_a_temporary_role_may_hold_only_a_bounded_number_of_sessions(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    items = [GrantItem("sales.orders", "read_only")]
    pg.grant(account=pg_account, items=items, until=in_one_hour())
    details = pg.grant(account=pg_account, items=items, until=in_one_hour())  # the reset path too

    with ExitStack() as sessions:
        for _ in range(CONNECTION_LIMIT):
            sessions.enter_context(pg_login(details, pg_cluster))
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            pg_login(details, pg_cluster)


def test_a_temporary_admin_cannot_attach_a_trigger_to_a_table_it_does_not_own(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(account=pg_account, items=[GrantItem("hr", "admin")], until=in_one_hour())

    with pg_login(details, pg_cluster) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            f"CREATE TRIGGER t_{pg_account} BEFORE UPDATE ON hr.salaries"
            " FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"
        )


def test_a_temporary_admin_keeps_what_admin_promises_on_tables_it_does_not_own(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "admin")], until=in_one_hour()
    )

    with pg_login(details, pg_cluster) as conn:
        conn.execute("BEGIN")
        conn.execute("TRUNCATE sales.orders")
        conn.execute("INSERT INTO sales.orders (item) VALUES ('figs')")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT count(*) FROM sales.orders").fetchone() == (2,)


def test_a_function_planted_under_a_catalog_name_is_never_run_by_the_bot(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, superuser_name: str
) -> None:
    """The admin login's search_path has ``public``; an exact-signature function there would
    beat pg_catalog's ``pg_terminate_backend(int4, int8)`` for a call with a small integer."""
    details = pg.grant(
        account=pg_account, items=[GrantItem("public", "admin")], until=in_one_hour()
    )
    attacker = pg_login(details, pg_cluster)
    for second in ("smallint", "integer", "bigint"):
        attacker.execute(
            f"CREATE FUNCTION public.pg_terminate_backend(integer, {second}) RETURNS boolean"
            f" LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'CREATE ROLE {superuser_name} SUPERUSER';"
            " RETURN false; END $$"
        )

    pg.revoke(account=pg_account)

    assert not pg_role_exists(pg_cluster, superuser_name)
    assert not pg_role_exists(pg_cluster, pg_account)
    attacker.close()


def test_the_confirmation_refuses_a_role_or_a_session_that_remains(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )
    session = pg_login(details, pg_cluster)
    oid = pg_role_oid(pg_cluster, pg_account)

    with pg_cluster.connect() as admin:
        with pytest.raises(IntegrationError, match="still exists; 1 session"):
            confirm_revoked(admin, integration="test-postgres", account=pg_account, oid=oid)
        role = sql.Identifier(pg_account)
        admin.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(role, role))
        with pytest.raises(IntegrationError, match="1 session"):  # found by oid, not by name
            confirm_revoked(admin, integration="test-postgres", account=pg_account, oid=oid)
        session.close()
        assert eventually(lambda: pg_sessions_of(pg_cluster, oid) == 0)
        confirm_revoked(admin, integration="test-postgres", account=pg_account, oid=oid)
