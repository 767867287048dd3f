"""The admin login with exactly the privileges the docs list, and preflight naming what it lacks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pymysql
import pytest

from app.integrations.base import GrantItem, IntegrationError
from app.integrations.mysql import ADMIN_GRANTS, MySQLIntegration
from domain.connections import RESOLVED, MySQLConnection
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    MySQLDatabases,
    MySQLSession,
    eventually,
    in_one_hour,
    mysql_admin_login,
    mysql_login,
    mysql_root_query,
    mysql_session_dead,
    mysql_sessions,
    mysql_user_exists,
    new_mysql_admin,
)

pytestmark = pytest.mark.integration


@contextmanager
def admin_integration(
    grants: Sequence[str], *, permissions: Sequence[str] | None = None, **connection: object
) -> Iterator[MySQLIntegration]:
    user, password = new_mysql_admin(), secrets.token_urlsafe(12)
    with mysql_admin_login(user, password, grants):
        settings = MySQLConnection.model_validate(
            {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": user, "password": password}
            | connection,
            context={RESOLVED: True},
        )
        yield MySQLIntegration(name="admin-mariadb", connection=settings, permissions=permissions)


def edited(old: str, new: str) -> list[str]:
    """The documented grants with ``old`` replaced (a statement left empty is dropped)."""
    assert any(old in grant for grant in ADMIN_GRANTS), old
    return [grant.replace(old, new) for grant in ADMIN_GRANTS if grant.replace(old, new)]


def test_the_documented_admin_login_passes_preflight_and_its_revoke_ends_an_open_session(
    mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    with admin_integration(ADMIN_GRANTS) as admin:
        assert admin.preflight() == []
        details = admin.grant(
            account=mysql_account,
            items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
            until=in_one_hour(),
        )
        session = mysql_login(details)
        with session.cursor() as cursor:
            cursor.execute(f"SELECT item FROM `{mysql_dbs.shop}`.orders")

        admin.revoke(account=mysql_account)

        assert mysql_session_dead(session)
        with pytest.raises(pymysql.err.OperationalError):
            mysql_login(details)
        assert not mysql_user_exists(mysql_account)


def test_without_process_preflight_names_it_and_revoke_fails_loudly_as_it_cannot_see_sessions(
    mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    with admin_integration(edited(", PROCESS", "")) as admin:
        problems = admin.preflight()
        details = admin.grant(
            account=mysql_account,
            items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
            until=in_one_hour(),
        )
        session = mysql_login(details)

        with pytest.raises(IntegrationError, match="lacks PROCESS") as caught:
            admin.revoke(account=mysql_account)

    assert len(problems) == 1
    assert "lacks PROCESS" in problems[0]
    assert str(caught.value).startswith("admin-mariadb: revoke failed: cannot confirm")
    assert not mysql_user_exists(mysql_account)  # dropped all the same: no new login
    session.close()


@pytest.mark.parametrize(
    ("old", "new", "sentence"),
    [
        (", CONNECTION ADMIN", "", "lacks CONNECTION ADMIN on *.* (SUPER before"),
        ("CREATE USER, ", "", "lacks CREATE USER on *.*"),
        ("TRIGGER, ALTER ROUTINE, EVENT, ", "", "lacks TRIGGER, ALTER ROUTINE, EVENT on *.*"),
        (" WITH GRANT OPTION", "", "cannot hand out SELECT, INSERT, UPDATE, DELETE, CREATE,"),
    ],
)
def test_preflight_names_the_one_privilege_group_the_admin_login_lacks(
    mysql_dbs: MySQLDatabases, old: str, new: str, sentence: str
) -> None:
    with admin_integration(edited(old, new)) as admin:
        problems = admin.preflight()

    assert len(problems) == 1, problems
    assert sentence in problems[0]


def test_preflight_names_the_databases_where_grants_cannot_be_handed_out_and_mysql_user(
    mysql_dbs: MySQLDatabases,
) -> None:
    """Privileges per database instead of on *.*: then SELECT on mysql.user is its own grant."""
    shop, other = f"`{mysql_dbs.shop}`.*", f"`{mysql_dbs.other}`.*"
    grants = [
        "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO {admin}",
        f"GRANT SELECT ON {shop} TO {{admin}} WITH GRANT OPTION",
        f"GRANT SELECT ON {other} TO {{admin}}",
    ]
    with admin_integration(grants, permissions=["read_only"]) as admin:
        problems = admin.preflight()

    assert problems == [
        "The admin login lacks SELECT on mysql.user, so it can neither list temporary users nor"
        " confirm that a revoke removed one.",
        "The admin login lacks TRIGGER, ALTER ROUTINE, EVENT, DROP on *.*, so revoke cannot find"
        " and drop the triggers, routines, events and views a temporary user defined.",
        f"The admin login cannot hand out SELECT on {mysql_dbs.other}: grant them to it WITH"
        " GRANT OPTION on *.* (or on each database).",
    ]


def test_preflight_says_when_the_safeguard_database_does_not_exist(
    mysql_dbs: MySQLDatabases,
) -> None:
    with admin_integration(ADMIN_GRANTS, safeguard_database=f"{mysql_dbs.shop}_gone") as admin:
        problems = admin.preflight()

    assert problems == [
        f"The safeguard database {mysql_dbs.shop}_gone does not exist (or the admin login cannot"
        " see it), so every grant would fail to create its end-of-access event."
    ]


def test_preflight_fails_when_the_admin_login_cannot_connect() -> None:
    connection = MySQLConnection.model_validate(
        {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "password": "wrong-pw-9876"},
        context={RESOLVED: True},
    )

    with pytest.raises(IntegrationError, match=r"^broken: preflight failed") as caught:
        MySQLIntegration(name="broken", connection=connection).preflight()
    assert "wrong-pw-9876" not in str(caught.value)


def test_the_documented_admin_login_finds_and_drops_objects_the_temporary_user_defined(
    mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    """As on a server where the user could define them: a trigger would then break every INSERT
    into its table once the user is gone (error 1449), even for root."""
    db, definer = f"`{mysql_dbs.other}`", f"`{mysql_account}`@`%`"
    table = f"{db}.`t_{mysql_account}`"
    with admin_integration(ADMIN_GRANTS) as admin:
        admin.grant(
            account=mysql_account,
            items=[GrantItem(f"{mysql_dbs.other}.*", "read_write")],
            until=in_one_hour(),
        )
        for statement in [
            f"CREATE TABLE {table} (id int)",
            f"CREATE DEFINER = {definer} TRIGGER {db}.`tr_{mysql_account}` BEFORE INSERT"
            f" ON {table} FOR EACH ROW SET NEW.id = NEW.id",
            f"CREATE DEFINER = {definer} PROCEDURE {db}.`p_{mysql_account}`() SELECT 1",
            f"CREATE DEFINER = {definer} FUNCTION {db}.`f_{mysql_account}`() RETURNS int RETURN 1",
            f"CREATE DEFINER = {definer} EVENT {db}.`e_{mysql_account}`"
            " ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 DAY DO SELECT 1",
            f"CREATE DEFINER = {definer} SQL SECURITY DEFINER VIEW {db}.`v_{mysql_account}`"
            f" AS SELECT id FROM {table}",
        ]:
            mysql_root_query(statement)

        admin.revoke(account=mysql_account)

    assert defined_by(mysql_account) == []
    mysql_root_query(f"INSERT INTO {table} VALUES (1)")
    assert mysql_root_query(f"SELECT id FROM {table}") == ((1,),)
    mysql_root_query(f"DROP TABLE {table}")


def defined_by(account: str) -> list[object]:
    definer = f"{account}@%"
    rows = mysql_root_query(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE DEFINER = %s"
        " UNION ALL SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE DEFINER = %s"
        " UNION ALL SELECT EVENT_NAME FROM information_schema.EVENTS WHERE DEFINER = %s"
        " UNION ALL SELECT TABLE_NAME FROM information_schema.VIEWS WHERE DEFINER = %s",
        (definer,) * 4,
    )
    return [name for (name,) in rows]


def test_revoke_ends_a_session_busy_in_a_long_query_before_it_returns(
    mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    with admin_integration(ADMIN_GRANTS) as admin:
        details = admin.grant(
            account=mysql_account,
            items=[GrantItem(f"{mysql_dbs.shop}.*", "read_only")],
            until=in_one_hour(),
        )
        busy = mysql_login(details)
        with ThreadPoolExecutor(max_workers=1) as pool:
            query = pool.submit(lambda: fetch(busy, "SELECT SLEEP(60)"))
            assert eventually(lambda: query.running() and busy_in_sleep(mysql_account))

            admin.revoke(account=mysql_account)

            assert mysql_sessions(mysql_account) == 0  # confirmed before revoke returned
            with pytest.raises(pymysql.err.OperationalError):
                query.result(timeout=10)


def fetch(conn: MySQLSession, query: str) -> tuple[tuple[object, ...], ...]:
    with conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def busy_in_sleep(account: str) -> bool:
    return bool(
        mysql_root_query(
            "SELECT 1 FROM information_schema.PROCESSLIST"
            " WHERE USER = %s AND INFO LIKE 'SELECT SLEEP%%'",
            (account,),
        )
    )
