"""Revoke against a temporary user that fights back, the connection cap, and accounts()."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pymysql
import pytest

from app.integrations._mysql_plan import MAX_USER_CONNECTIONS
from app.integrations.base import AccessDetails, GrantItem
from app.integrations.mysql import LOCK_PREFIX, LOCK_WAIT_SECONDS, MySQLIntegration
from tests.integration.integrations.integration_servers import (
    MySQLDatabases,
    MySQLSession,
    drop_mysql_user,
    in_one_hour,
    mysql_login,
    mysql_session_dead,
    mysql_user_exists,
    new_account,
)

pytestmark = pytest.mark.integration


def grant_orders(mysql: MySQLIntegration, dbs: MySQLDatabases, account: str) -> AccessDetails:
    return mysql.grant(
        account=account, items=[GrantItem(f"{dbs.shop}.orders", "read_only")], until=in_one_hour()
    )


def take_lock(session: MySQLSession, account: str) -> None:
    with session.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", (LOCK_PREFIX + account,))
        assert cursor.fetchone() == (1,)


@pytest.fixture
def second_account() -> Iterator[str]:
    account = new_account()
    yield account
    drop_mysql_user(account)


def test_a_temporary_user_holding_the_bots_lock_on_itself_cannot_delay_its_revoke(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = grant_orders(mysql, mysql_dbs, mysql_account)
    session = mysql_login(details)
    take_lock(session, mysql_account)

    started = time.monotonic()
    mysql.revoke(account=mysql_account)

    assert time.monotonic() - started < LOCK_WAIT_SECONDS / 3
    assert mysql_session_dead(session)
    assert not mysql_user_exists(mysql_account)


def test_another_temporary_user_holding_the_lock_is_cut_off_and_the_revoke_goes_on(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, second_account: str
) -> None:
    grant_orders(mysql, mysql_dbs, mysql_account)
    accomplice = mysql_login(grant_orders(mysql, mysql_dbs, second_account))
    take_lock(accomplice, mysql_account)

    started = time.monotonic()
    mysql.revoke(account=mysql_account)

    assert time.monotonic() - started < LOCK_WAIT_SECONDS / 3
    assert not mysql_user_exists(mysql_account)
    assert mysql_session_dead(accomplice)
    assert mysql_user_exists(second_account)  # only its session ended; its own revoke is apart


def test_a_temporary_user_cannot_open_more_sessions_than_the_cap(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    details = grant_orders(mysql, mysql_dbs, mysql_account)
    sessions = [mysql_login(details) for _ in range(MAX_USER_CONNECTIONS)]

    with pytest.raises(pymysql.err.OperationalError) as caught:
        mysql_login(details)

    assert caught.value.args[0] == 1226  # ER_USER_LIMIT_REACHED: max_user_connections
    for session in sessions:
        session.close()


def test_granting_again_ends_the_sessions_of_the_previous_grant(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    old = mysql_login(grant_orders(mysql, mysql_dbs, mysql_account))

    mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.customers", "read_only")],
        until=in_one_hour(),
    )

    assert mysql_session_dead(old)


def test_accounts_lists_the_temporary_users_until_they_are_revoked(
    mysql: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, second_account: str
) -> None:
    grant_orders(mysql, mysql_dbs, mysql_account)
    grant_orders(mysql, mysql_dbs, second_account)

    listed = mysql.accounts()
    assert {mysql_account, second_account} <= set(listed)
    assert "root" not in listed
    assert all(name.startswith("jit_") for name in listed)

    mysql.revoke(account=mysql_account)

    listed = mysql.accounts()
    assert mysql_account not in listed
    assert second_account in listed
