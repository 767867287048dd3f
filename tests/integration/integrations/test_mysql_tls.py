"""MariaDB over TLS: ``ssl_mode`` required, verify_ca and verify_identity with ``ssl_ca``
(docs/integrations/mysql.md, "TLS").

The shared MariaDB runs without TLS and cannot get it without a restart, so these tests start a
throwaway MariaDB that offers TLS with a self-signed CA's certificate (issued to 127.0.0.1 only);
its admin login is created ``REQUIRE SSL``, so everything that works here went over TLS. Against
the shared server, TLS that is required fails clearly."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from app.integrations.base import GrantItem, IntegrationError
from app.integrations.mysql import MySQLIntegration
from domain.connections import RESOLVED, MySQLConnection
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    in_one_hour,
    new_account,
)
from tests.integration.integrations.tls_servers import (
    TlsMariaDB,
    tls_contexts_built,
    tls_mariadb,
)

pytestmark = pytest.mark.integration

ADMIN = "jit_tls_admin"
ADMIN_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def server() -> Iterator[TlsMariaDB]:
    with tls_mariadb(localhost=False) as started:
        conn = pymysql.connect(host="127.0.0.1", port=started.port, user="root", autocommit=True)
        with conn, conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE shop")
            cursor.execute("CREATE TABLE shop.orders (item text)")
            cursor.execute("INSERT INTO shop.orders VALUES ('apples')")
            cursor.execute(
                "CREATE USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (ADMIN, ADMIN_PASSWORD)
            )
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'%' WITH GRANT OPTION")
        yield started


def integration(port: int, *, user: str = ADMIN, **tls: Any) -> MySQLIntegration:
    """``tls``: more connection fields (ssl_mode, ssl_ca, host)."""
    connection = MySQLConnection.model_validate(
        {"host": "127.0.0.1", "port": port, "user": user, "password": ADMIN_PASSWORD, **tls},
        context={RESOLVED: True},
    )
    return MySQLIntegration(name="tls-mariadb", connection=connection)


def test_verify_identity_with_the_servers_ca_grants_over_tls(server: TlsMariaDB) -> None:
    mysql = integration(server.port, ssl_mode="verify_identity", ssl_ca=str(server.certificates.ca))
    account = new_account()

    mysql.check()
    details = mysql.grant(
        account=account, items=[GrantItem("shop.orders", "read_only")], until=in_one_hour()
    )

    login = pymysql.connect(
        host="127.0.0.1",
        port=server.port,
        user=account,
        password=details.fields["password"],
        ssl_ca=str(server.certificates.ca),
    )
    with login, login.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        row = cursor.fetchone()
        assert row is not None
        assert row[1].startswith("TLS")
    mysql.revoke(account=account)


def test_a_server_whose_certificate_another_ca_signed_is_refused(server: TlsMariaDB) -> None:
    for mode in ("verify_ca", "verify_identity"):
        mysql = integration(server.port, ssl_mode=mode, ssl_ca=str(server.certificates.other_ca))

        with pytest.raises(IntegrationError, match="certificate verify failed"):
            mysql.check()


def test_verify_identity_checks_the_name_and_verify_ca_does_not(server: TlsMariaDB) -> None:
    ca = str(server.certificates.ca)
    # The certificate is issued to 127.0.0.1 only; "localhost" reaches the same server.
    by_name = integration(server.port, ssl_mode="verify_identity", ssl_ca=ca, host="localhost")
    by_name_ca_only = integration(server.port, ssl_mode="verify_ca", ssl_ca=ca, host="localhost")

    by_name_ca_only.check()
    with pytest.raises(IntegrationError, match="certificate verify failed"):
        by_name.check()


def test_required_encrypts_without_checking_the_certificate(server: TlsMariaDB) -> None:
    integration(server.port, ssl_mode="required").check()


def test_without_tls_the_admin_login_is_refused_so_the_tests_above_used_it(
    server: TlsMariaDB,
) -> None:
    with pytest.raises(IntegrationError, match="Access denied"):
        integration(server.port, ssl_mode="disabled").check()


def test_required_against_a_server_without_tls_fails_clearly() -> None:
    mysql = integration(MYSQL_PORT, user="root", ssl_mode="required")

    with pytest.raises(IntegrationError, match="SSL is required but the server doesn't support"):
        mysql.check()


def test_a_ca_file_that_cannot_be_read_fails_clearly() -> None:
    mysql = integration(
        MYSQL_PORT, user="root", ssl_mode="verify_identity", ssl_ca="/nonexistent/ca.pem"
    )

    with pytest.raises(IntegrationError, match="cannot load ssl_ca: No such file"):
        mysql.check()


def test_ssl_ca_without_a_verifying_mode_is_refused_by_the_policy() -> None:
    with pytest.raises(ValueError, match="ssl_ca is only used to verify the server"):
        MySQLConnection.model_validate(
            {"host": MYSQL_HOST, "user": "root", "ssl_mode": "required", "ssl_ca": "/ca.pem"}
        )


def _tls_sessions(port: int) -> int:
    """How many sessions the TLS server holds for the admin login."""
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (ADMIN,)
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def test_preferred_encrypts_when_the_server_offers_tls(server: TlsMariaDB) -> None:
    # The admin login is REQUIRE SSL: a plain-text fallback would be refused.
    integration(server.port, ssl_mode="preferred").check()


def test_one_tls_context_and_one_kept_session_serve_calls_one_after_another(
    server: TlsMariaDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    mysql = integration(server.port, ssl_mode="verify_identity", ssl_ca=str(server.certificates.ca))
    before = _tls_sessions(server.port)

    with tls_contexts_built(monkeypatch) as built:
        for _ in range(3):
            mysql.check()
    kept = _tls_sessions(server.port) - before
    with tls_contexts_built(monkeypatch) as built_later:
        mysql.close()
        mysql.check()  # after close: a new session, over the same context

    assert kept == 1
    assert len(built) == 1
    assert built_later == []
    assert built[0].verify_mode is ssl.CERT_REQUIRED
    assert built[0].check_hostname


def test_a_wrong_ca_fails_on_every_call_not_only_the_first(server: TlsMariaDB) -> None:
    mysql = integration(server.port, ssl_mode="verify_ca", ssl_ca=str(server.certificates.other_ca))

    for _ in range(2):
        with pytest.raises(IntegrationError, match="certificate verify failed"):
            mysql.check()
