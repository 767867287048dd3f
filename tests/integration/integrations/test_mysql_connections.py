"""The MariaDB integration's sessions, on the shared server (which runs without TLS): no TLS
context per connection, and a small pool of sessions that are reset before they go back,
checked before they are used again and closed on shutdown (docs/architecture.md, "MariaDB and
MySQL sessions"). TLS itself is in test_mysql_tls.py.

Each test logs in as an admin login of its own, so what the pool keeps open is seen on the
server: the sessions of that user in the process list."""

from __future__ import annotations

import secrets
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap import build_application
from app.integrations._mysql_sessions import POOL_SIZE
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.mysql import LOCK_PREFIX, MySQLIntegration
from app.settings import Settings
from domain.connections import RESOLVED, MySQLConnection
from domain.policy import Policy
from slacksim import Simulator, Workspace
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    MySQLDatabases,
    eventually,
    in_one_hour,
    mysql_root,
)
from tests.integration.integrations.tls_servers import tls_contexts_built

pytestmark = pytest.mark.integration


@pytest.fixture
def admin() -> Iterator[tuple[str, str]]:
    """A throwaway admin login (user, password) with every privilege, dropped afterwards."""
    user, password = f"jit_pool_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with mysql_root() as root, root.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (user,))
    yield user, password
    with mysql_root() as root, root.cursor() as cursor:
        cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        for (thread,) in _sessions_of(user):
            cursor.execute(f"KILL CONNECTION {int(thread)}")


def integration(admin: tuple[str, str], *, ssl_mode: str = "preferred") -> MySQLIntegration:
    user, password = admin
    connection = MySQLConnection.model_validate(
        {
            "host": MYSQL_HOST,
            "port": MYSQL_PORT,
            "user": user,
            "password": password,
            "ssl_mode": ssl_mode,
        },
        context={RESOLVED: True},
    )
    return MySQLIntegration(name="pooled-mariadb", connection=connection)


def _sessions_of(user: str) -> tuple[tuple[Any, ...], ...]:
    with mysql_root() as root, root.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return cursor.fetchall()


def server_sessions(admin: tuple[str, str]) -> set[int]:
    """The ids of the sessions the server holds for the admin login."""
    return {int(thread) for (thread,) in _sessions_of(admin[0])}


def test_with_tls_disabled_a_connection_is_made_without_any_tls_context(
    admin: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mysql = integration(admin, ssl_mode="disabled")
    arguments = mysql.connect_arguments()
    tls = {key: arguments[key] for key in ("ssl_disabled", "ssl", "preferred")}

    with tls_contexts_built(monkeypatch) as built:
        for _ in range(3):
            mysql.check()
            mysql.close()  # each call after this one connects anew

    assert tls == {"ssl_disabled": True, "ssl": None, "preferred": None}
    assert built == []


def test_with_tls_preferred_no_connection_builds_a_context_or_loads_a_ca_bundle(
    admin: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mysql = integration(admin, ssl_mode="preferred")

    with tls_contexts_built(monkeypatch) as built:
        for _ in range(5):
            mysql.check()
            mysql.close()

    assert len(built) == 1, "one context for the integration, none per connection"
    assert mysql.connect_arguments()["preferred"] is built[0]
    assert built[0].verify_mode is ssl.CERT_NONE  # as PyMySQL's preferred mode: nothing checked
    assert built[0].cert_store_stats()["x509_ca"] == 0


def test_calls_one_after_another_reuse_one_server_session(admin: tuple[str, str]) -> None:
    mysql = integration(admin)

    mysql.check()
    first = server_sessions(admin)
    mysql.discover()
    mysql.check()

    assert len(first) == 1
    assert server_sessions(admin) == first


def test_threads_at_work_together_never_share_a_session_and_only_a_few_are_kept(
    admin: tuple[str, str],
) -> None:
    mysql = integration(admin)
    threads = POOL_SIZE + 2
    together = threading.Barrier(threads, timeout=30)
    seen: list[int] = []

    def work() -> None:
        with mysql._connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            row = cursor.fetchone()
            assert row is not None
            seen.append(int(row[0]))
            together.wait()  # every thread holds its session at this moment

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(set(seen)) == threads
    assert eventually(lambda: len(server_sessions(admin)) == POOL_SIZE)
    assert server_sessions(admin) <= set(seen)


def test_a_session_the_server_ended_while_idle_is_replaced_before_use(
    admin: tuple[str, str],
) -> None:
    mysql = integration(admin)
    mysql.check()
    (idle,) = server_sessions(admin)
    with mysql_root() as root, root.cursor() as cursor:
        cursor.execute(f"KILL CONNECTION {idle}")
    assert eventually(lambda: idle not in server_sessions(admin))

    mysql.check()

    assert len(server_sessions(admin)) == 1
    assert idle not in server_sessions(admin)


def test_a_session_goes_back_without_the_grants_lock_or_its_session_settings(
    admin: tuple[str, str], mysql_dbs: MySQLDatabases
) -> None:
    mysql = integration(admin)
    account = f"jit_{secrets.token_hex(6)}"
    mysql.grant(
        account=account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )
    try:
        (kept,) = server_sessions(admin)
        with mysql_root() as root, root.cursor() as cursor:
            cursor.execute("SELECT IS_FREE_LOCK(%s)", (LOCK_PREFIX + account,))
            assert cursor.fetchone() == (1,), "the grant's lock outlived its call"
        with mysql._connect() as conn, conn.cursor() as cursor:
            cursor.execute("SET time_zone = '+05:00', @left_behind = 1")
        with mysql._connect() as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT CONNECTION_ID(), @@session.time_zone = @@global.time_zone,"
                " @left_behind IS NULL, @@character_set_client, @@autocommit"
            )
            row = cursor.fetchone()
    finally:
        mysql.revoke(account=account)

    assert row == (kept, 1, 1, "utf8mb4", 1)


def test_a_call_that_failed_does_not_give_its_session_back(
    admin: tuple[str, str], mysql_dbs: MySQLDatabases
) -> None:
    mysql = integration(admin)
    mysql.check()
    (before,) = server_sessions(admin)

    with pytest.raises(IntegrationError, match="no such database or table"):
        mysql.grant(
            account=f"jit_{secrets.token_hex(6)}",
            items=[GrantItem(f"{mysql_dbs.shop}.nothing_here", "read_only")],
            until=in_one_hour(),
        )

    assert eventually(lambda: before not in server_sessions(admin))
    assert not server_sessions(admin)


def test_close_ends_the_kept_sessions_and_later_calls_keep_none(admin: tuple[str, str]) -> None:
    mysql = integration(admin)
    mysql.check()
    assert len(server_sessions(admin)) == 1

    mysql.close()
    assert eventually(lambda: not server_sessions(admin))
    mysql.check()

    assert eventually(lambda: not server_sessions(admin))


def test_the_app_stopping_closes_the_sessions_its_mariadb_integration_kept(
    admin: tuple[str, str], tmp_path: Path
) -> None:
    mysql = integration(admin)
    policy = Policy.model_validate(
        {"integrations": [{"name": "pooled-mariadb", "type": "mysql", "connection": {}}]}
    )
    with Simulator(workspace=Workspace()) as sim:
        app = build_application(
            settings=Settings(
                _env_file=None,
                slack_bot_token=sim.bot_token,
                slack_app_token=sim.app_token,
                slack_api_url=sim.api_url,
                database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            ),
            policy=policy,
            integrations={"pooled-mariadb": mysql},
        )
        mysql.check()
        assert len(server_sessions(admin)) == 1

        app.stop(wait_for_socket=False)

    assert eventually(lambda: not server_sessions(admin))
