"""The MySQL/MariaDB integration against this machine's MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pymysql
import pytest

from app.integrations.base import GrantItem, IntegrationError, Resource
from app.integrations.mysql import MySQLIntegration
from domain.connections import RESOLVED, MySQLConnection
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    MySQLDatabases,
    MySQLSession,
    eventually,
    in_one_hour,
    mysql_login,
    mysql_root,
    mysql_root_query,
    mysql_user_exists,
    new_account,
)

pytestmark = pytest.mark.integration

ACCESS_DENIED = (1044, 1045, 1142, 1143)


def refused(conn: MySQLSession, query: str) -> bool:
    try:
        with conn.cursor() as cursor:
            cursor.execute(query)
    except pymysql.err.OperationalError as exc:
        if exc.args[0] in ACCESS_DENIED:
            return True
        raise
    except pymysql.err.ProgrammingError as exc:
        if exc.args[0] in ACCESS_DENIED:
            return True
        raise
    return False


def fetch(conn: MySQLSession, query: str) -> tuple[tuple[object, ...], ...]:
    with conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def test_mariadb_refuses_a_wrong_password_for_a_granted_account(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )

    with pytest.raises(pymysql.err.OperationalError) as caught:
        mysql_login(details, password="guess")
    assert caught.value.args[0] == 1045


def test_check_passes_and_a_wrong_admin_password_fails_without_showing_it(
    mysql: MySQLIntegration,
) -> None:
    mysql.check()
    connection = MySQLConnection.model_validate(
        {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "password": "not-it-4567"},
        context={RESOLVED: True},
    )
    broken = MySQLIntegration(name="broken-mariadb", connection=connection)

    with pytest.raises(IntegrationError) as caught:
        broken.check()

    assert str(caught.value).startswith("broken-mariadb: check failed")
    assert "not-it-4567" not in str(caught.value)
    assert "not-it-4567" not in repr(broken)


def test_discovery_lists_databases_and_tables_but_no_system_database(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases
) -> None:
    found = mysql.discover()

    assert Resource(name=f"{mysql_dbs.shop}.*", kind="database") in found
    assert Resource(name=f"{mysql_dbs.shop}.orders", kind="table") in found
    assert Resource(name=f"{mysql_dbs.other}.secrets", kind="table") in found
    assert not [r for r in found if r.name.split(".")[0] in ("mysql", "sys", "information_schema")]


def test_a_read_only_grant_can_select_but_not_insert(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    assert fetch(conn, f"SELECT item FROM `{mysql_dbs.shop}`.orders") == (("apples",),)
    assert refused(conn, f"INSERT INTO `{mysql_dbs.shop}`.orders (item) VALUES ('plums')")
    conn.close()


def test_a_read_write_grant_can_insert_but_not_drop(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_write")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    fetch(conn, f"INSERT INTO `{mysql_dbs.shop}`.orders (item) VALUES ('plums')")
    fetch(conn, f"DELETE FROM `{mysql_dbs.shop}`.orders WHERE item = 'plums'")
    assert refused(conn, f"DROP TABLE `{mysql_dbs.shop}`.orders")
    conn.close()


def test_tables_and_databases_outside_the_grant_are_refused(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_write")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    assert refused(conn, f"SELECT * FROM `{mysql_dbs.shop}`.customers")
    assert refused(conn, f"SELECT * FROM `{mysql_dbs.other}`.secrets")
    assert refused(conn, "SELECT * FROM mysql.user")
    conn.close()


@pytest.mark.parametrize("suffix", [".*", ""])
def test_a_database_grant_covers_its_tables_and_no_lookalike_database(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, suffix: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(mysql_dbs.shop + suffix, "read_only")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    fetch(conn, f"SELECT * FROM `{mysql_dbs.shop}`.orders, `{mysql_dbs.shop}`.customers")
    # "_" in the granted name must not act as a wildcard that also matches this database.
    assert refused(conn, f"SELECT * FROM `{mysql_dbs.lookalike}`.secrets")
    conn.close()


def test_admin_on_a_database_may_create_and_drop_tables_there(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.other}.*", "admin")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    fetch(conn, f"CREATE TABLE `{mysql_dbs.other}`.scratch (id int)")
    fetch(conn, f"DROP TABLE `{mysql_dbs.other}`.scratch")
    assert refused(conn, f"SELECT * FROM `{mysql_dbs.shop}`.orders")
    conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TRIGGER {db}.tr_{n} BEFORE INSERT ON {db}.secrets FOR EACH ROW SET NEW.value = 1",
        "CREATE PROCEDURE {db}.p_{n}() SELECT 1",
        "CREATE FUNCTION {db}.f_{n}() RETURNS int RETURN 1",
        "CREATE EVENT {db}.e_{n} ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 DAY DO SELECT 1",
        "CREATE VIEW {db}.v_{n} AS SELECT 1",
        "GRANT SELECT ON {db}.* TO root@localhost",
    ],
)
def test_admin_on_a_database_cannot_define_objects_that_outlive_the_user_or_pass_access_on(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, statement: str
) -> None:
    """Triggers, routines, events and views run as their DEFINER and survive DROP USER."""
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.other}.*", "admin")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    assert refused(conn, statement.format(db=f"`{mysql_dbs.other}`", n=mysql_account))
    conn.close()


def test_admin_on_one_table_may_alter_and_index_it_but_not_add_a_trigger(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    mysql_root_query(f"CREATE TABLE `{mysql_dbs.other}`.`t_{mysql_account}` (id int)")
    table = f"`{mysql_dbs.other}`.`t_{mysql_account}`"
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.other}.t_{mysql_account}", "admin")],
        until=in_one_hour(),
    )

    conn = mysql_login(details)
    fetch(conn, f"ALTER TABLE {table} ADD COLUMN note text")
    fetch(conn, f"CREATE INDEX by_id ON {table} (id)")
    fetch(conn, f"INSERT INTO {table} (id) VALUES (1)")
    assert refused(
        conn,
        f"CREATE TRIGGER `{mysql_dbs.other}`.tr_{mysql_account} BEFORE INSERT ON {table}"
        " FOR EACH ROW SET @x = 1",
    )
    assert refused(conn, f"SELECT * FROM `{mysql_dbs.other}`.secrets")
    conn.close()
    mysql_root_query(f"DROP TABLE {table}")


def test_access_details_are_labelled_and_name_the_database(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )

    assert list(details.fields) == ["host", "port", "database", "user", "password", "mysql"]
    assert details.fields["database"] == mysql_dbs.shop
    assert details.secret_fields == {"password"}
    assert details.fields["password"] not in repr(details)
    assert details.fields["password"] not in details.fields["mysql"]


def test_revoke_ends_open_sessions_and_refuses_new_logins(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )
    session = mysql_login(details)

    mysql.revoke(account=mysql_account)

    assert eventually(lambda: not session.open or _dead(session))
    with pytest.raises(pymysql.err.OperationalError):
        mysql_login(details)
    assert not mysql_user_exists(mysql_account)


def _dead(session: MySQLSession) -> bool:
    try:
        session.ping(reconnect=False)
    except pymysql.err.Error:
        return True
    return False


def test_revoking_twice_or_revoking_an_unknown_account_succeeds(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )

    mysql.revoke(account=mysql_account)
    mysql.revoke(account=mysql_account)
    unknown = new_account()
    mysql.revoke(account=unknown)

    left = mysql.accounts()
    assert left is not None
    assert mysql_account not in left
    assert unknown not in left


def test_granting_twice_leaves_one_account_that_only_takes_the_second_password(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    first = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_write")],
        until=in_one_hour(),
    )
    second = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.customers", "read_only")],
        until=in_one_hour(),
    )

    with pytest.raises(pymysql.err.OperationalError):
        mysql_login(first)
    conn = mysql_login(second)
    fetch(conn, f"SELECT * FROM `{mysql_dbs.shop}`.customers")
    assert refused(conn, f"SELECT * FROM `{mysql_dbs.shop}`.orders")  # reset to the new items
    conn.close()


@pytest.mark.parametrize("permission", ["read_only", "admin"])
def test_a_missing_table_fails_with_a_safe_message_and_leaves_no_user(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, permission: str
) -> None:
    with pytest.raises(IntegrationError) as caught:
        mysql.grant(
            account=mysql_account,
            items=[
                GrantItem(f"{mysql_dbs.shop}.orders", "read_only"),
                GrantItem(f"{mysql_dbs.shop}.nope", permission),
            ],
            until=in_one_hour(),
        )

    message = str(caught.value)
    assert (
        message == f"test-mariadb: grant failed: no such database or table: {mysql_dbs.shop}.nope"
    )
    assert not mysql_user_exists(mysql_account)


@pytest.fixture
def limited_admin(mysql_dbs: MySQLDatabases) -> Iterator[MySQLIntegration]:
    """An admin login that may create users but may not hand out ``other.secrets``."""
    user, password = new_account(), "limited-admin-pw-5678"
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cursor.execute("GRANT CREATE USER ON *.* TO %s@'%%'", (user,))
            cursor.execute(
                f"GRANT SELECT ON `{mysql_dbs.shop}`.* TO %s@'%%' WITH GRANT OPTION", (user,)
            )
            cursor.execute(f"GRANT SELECT ON `{mysql_dbs.other}`.secrets TO %s@'%%'", (user,))
        connection = MySQLConnection.model_validate(
            {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": user, "password": password},
            context={RESOLVED: True},
        )
        yield MySQLIntegration(name="limited-mariadb", connection=connection)
    finally:
        with conn.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        conn.close()


def test_a_grant_refused_halfway_drops_the_half_made_user_and_hides_passwords(
    limited_admin: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    with pytest.raises(IntegrationError) as caught:
        limited_admin.grant(
            account=mysql_account,
            items=[
                GrantItem(f"{mysql_dbs.shop}.orders", "read_only"),
                GrantItem(f"{mysql_dbs.other}.secrets", "read_only"),
            ],
            until=in_one_hour(),
        )

    message = str(caught.value)
    assert message.startswith("limited-mariadb: grant failed: GRANT command denied")
    assert "limited-admin-pw-5678" not in message
    assert "IDENTIFIED" not in message
    assert not mysql_user_exists(mysql_account)


@pytest.mark.parametrize("resource", ["mysql.user", "mysql.*", "sys", "performance_schema.x"])
def test_system_databases_are_refused(
    mysql: MySQLIntegration, mysql_account: str, resource: str
) -> None:
    with pytest.raises(IntegrationError, match="bad resource"):
        mysql.grant(
            account=mysql_account, items=[GrantItem(resource, "read_only")], until=in_one_hour()
        )


@pytest.mark.parametrize("account", ["root", "mysql", "jit_x'@'%"])
def test_accounts_that_are_not_temporary_ones_are_never_touched(
    mysql: MySQLIntegration, account: str
) -> None:
    with pytest.raises(IntegrationError, match="refusing account"):
        mysql.revoke(account=account)


def test_parallel_grants_of_different_accounts_all_work(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases
) -> None:
    accounts = [new_account() for _ in range(6)]

    def grant_and_use(account: str) -> object:
        details = mysql.grant(
            account=account, items=[GrantItem(mysql_dbs.shop, "read_only")], until=in_one_hour()
        )
        conn = mysql_login(details)
        try:
            return fetch(conn, f"SELECT count(*) FROM `{mysql_dbs.shop}`.orders")
        finally:
            conn.close()

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(grant_and_use, accounts)) == [((1,),)] * 6
    finally:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda a: mysql.revoke(account=a), accounts))
    assert not any(mysql_user_exists(account) for account in accounts)
