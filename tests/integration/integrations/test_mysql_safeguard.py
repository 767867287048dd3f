"""The server-side safeguard: a one-shot event drops each temporary user at its end by itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pymysql
import pytest

from app.integrations._mysql_plan import SAFEGUARD_EVENT_PREFIX
from app.integrations.base import GrantItem, GrantUncertain, IntegrationError
from app.integrations.mysql import MySQLIntegration
from domain.connections import RESOLVED, MySQLConnection
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    RUN,
    MySQLDatabases,
    eventually,
    in_one_hour,
    mysql_login,
    mysql_root,
    mysql_root_query,
    mysql_session_dead,
    mysql_user_exists,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def safeguard_db() -> Iterator[str]:
    name = f"jit_t{RUN}_safeguard"
    mysql_root_query(f"CREATE DATABASE `{name}`")
    yield name
    mysql_root_query(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def guarded(mysql_dbs: MySQLDatabases, safeguard_db: str) -> MySQLIntegration:
    connection = MySQLConnection.model_validate(
        {
            "host": MYSQL_HOST,
            "port": MYSQL_PORT,
            "user": "root",
            "ssl_mode": "disabled",
            "safeguard_database": safeguard_db,
        },
        context={RESOLVED: True},
    )
    return MySQLIntegration(name="guarded-mariadb", connection=connection)


@pytest.fixture
def event_scheduler() -> Iterator[Callable[[str], None]]:
    """Sets the server's event scheduler for the test and puts the old state back after."""
    ((before,),) = mysql_root_query("SELECT @@GLOBAL.event_scheduler")

    def set_to(state: str) -> None:
        mysql_root_query(f"SET GLOBAL event_scheduler = {state}")

    yield set_to
    set_to(str(before))


def events(database: str, account: str) -> list[datetime]:
    """When the safeguard event of ``account`` runs (UTC), if there is one."""
    rows = mysql_root_query(
        "SELECT EXECUTE_AT FROM information_schema.EVENTS"
        " WHERE EVENT_SCHEMA = %s AND EVENT_NAME = %s",
        (database, SAFEGUARD_EVENT_PREFIX + account),
    )
    return [value.replace(tzinfo=UTC) for (value,) in rows if isinstance(value, datetime)]


def test_the_server_drops_the_user_and_ends_its_sessions_at_the_end_without_a_revoke(
    guarded: MySQLIntegration,
    mysql_dbs: MySQLDatabases,
    mysql_account: str,
    safeguard_db: str,
    event_scheduler: Callable[[str], None],
) -> None:
    event_scheduler("ON")
    details = guarded.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=datetime.now(UTC) + timedelta(seconds=2),
    )
    session = mysql_login(details)
    assert guarded.safeguard_problem() is None

    assert eventually(lambda: not mysql_user_exists(mysql_account), seconds=15)

    assert eventually(lambda: mysql_session_dead(session))
    with pytest.raises(pymysql.err.OperationalError):
        mysql_login(details)
    assert events(safeguard_db, mysql_account) == []  # one-shot: gone once it ran


def test_the_event_runs_at_the_end_of_access_and_revoke_drops_it(
    guarded: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, safeguard_db: str
) -> None:
    until = in_one_hour()
    guarded.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=until,
    )
    assert events(safeguard_db, mysql_account) == [until.replace(microsecond=0)]

    guarded.revoke(account=mysql_account)

    assert events(safeguard_db, mysql_account) == []


def test_extend_moves_the_event_to_the_new_end_and_keeps_the_user(
    guarded: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, safeguard_db: str
) -> None:
    items = [GrantItem(f"{mysql_dbs.shop}.orders", "read_only")]
    details = guarded.grant(account=mysql_account, items=items, until=in_one_hour())
    later = in_one_hour() + timedelta(hours=2)

    guarded.extend(account=mysql_account, until=later)

    assert events(safeguard_db, mysql_account) == [later.replace(microsecond=0)]
    mysql_login(details).close()
    with pytest.raises(IntegrationError, match="does not exist"):
        guarded.extend(account=mysql_account + "x", until=later)


def test_a_grant_reset_replaces_the_event_with_one_for_the_new_end(
    guarded: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str, safeguard_db: str
) -> None:
    items = [GrantItem(f"{mysql_dbs.shop}.orders", "read_only")]
    guarded.grant(account=mysql_account, items=items, until=in_one_hour())
    later = in_one_hour() + timedelta(hours=1)

    guarded.grant(account=mysql_account, items=items, until=later)

    assert events(safeguard_db, mysql_account) == [later.replace(microsecond=0)]


def test_the_safeguard_database_is_never_offered_nor_granted(
    guarded: MySQLIntegration, mysql_account: str, safeguard_db: str
) -> None:
    assert not [r for r in guarded.discover() if r.name.startswith(safeguard_db)]
    with pytest.raises(IntegrationError, match="never granted"):
        guarded.grant(
            account=mysql_account,
            items=[GrantItem(f"{safeguard_db}.*", "admin")],
            until=in_one_hour(),
        )
    assert not mysql_user_exists(mysql_account)


def test_the_safeguard_problem_says_when_the_scheduler_is_off_or_no_database_is_set(
    guarded: MySQLIntegration,
    mysql: MySQLIntegration,
    safeguard_db: str,
    event_scheduler: Callable[[str], None],
) -> None:
    event_scheduler("OFF")

    assert guarded.safeguard_problem() == (
        "The server-side safeguard is off: the event scheduler is OFF, so the end-of-access"
        f" events in {safeguard_db} never run; turn it on with SET GLOBAL event_scheduler = ON"
        " and event_scheduler = ON in the server's configuration."
    )
    assert mysql.safeguard_problem() == (
        "The server-side safeguard is off: no safeguard_database is set, so only the bot's"
        " revoke ends access on this server."
    )
    assert guarded.preflight() == []  # grant and revoke work all the same


def test_a_grant_cut_off_after_its_statements_were_sent_is_uncertain(
    guarded: MySQLIntegration, mysql_dbs: MySQLDatabases, mysql_account: str
) -> None:
    """The grant's round trip stalls at DROP EVENT (mysql.event is locked) after CREATE USER;
    the connection is then killed, as a network cut would end it."""
    locker = mysql_root()
    try:
        with locker.cursor() as cursor:
            cursor.execute("LOCK TABLES mysql.event READ")
        with ThreadPoolExecutor(max_workers=1) as pool:
            grant = pool.submit(
                guarded.grant,
                account=mysql_account,
                items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
                until=in_one_hour(),
            )
            assert eventually(lambda: bool(stalled_on_the_lock(mysql_account)), seconds=10)
            for (thread,) in stalled_on_the_lock(mysql_account):
                mysql_root_query(f"KILL CONNECTION {int(str(thread))}")
            with pytest.raises(GrantUncertain, match="may have been applied"):
                grant.result(timeout=30)
    finally:
        locker.close()  # releases the table lock
    assert mysql_user_exists(mysql_account)  # it was created: uncertain was the right answer


def stalled_on_the_lock(account: str) -> tuple[tuple[object, ...], ...]:
    return mysql_root_query(
        "SELECT ID FROM information_schema.PROCESSLIST"
        " WHERE STATE LIKE 'Waiting for table level lock' AND INFO LIKE %s",
        (f"%{SAFEGUARD_EVENT_PREFIX}{account}%",),
    )


def test_a_connection_refused_before_sending_is_a_plain_error(mysql_account: str) -> None:
    connection = MySQLConnection.model_validate(
        {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "password": "not-it-2468"},
        context={RESOLVED: True},
    )
    with pytest.raises(IntegrationError) as caught:
        MySQLIntegration(name="broken", connection=connection).grant(
            account=mysql_account,
            items=[GrantItem("shop.orders", "read_only")],
            until=in_one_hour(),
        )
    assert not isinstance(caught.value, GrantUncertain)
