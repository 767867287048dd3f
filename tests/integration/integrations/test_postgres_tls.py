"""PostgreSQL over verified TLS: a throwaway cluster with ``ssl=on`` and a self-signed CA that
accepts TCP logins only over TLS (``hostssl``); ``sslmode: verify-full`` with ``sslrootcert``
works against it, and a certificate from another CA is refused (docs/integrations/postgresql.md)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.integrations.base import GrantItem, IntegrationError
from app.integrations.postgresql import PostgresIntegration
from domain.connections import RESOLVED, PostgresConnection
from tests.integration.integrations.integration_servers import (
    PG_DATABASE,
    PG_SUPERUSER,
    PgCluster,
    drop_pg_role,
    in_one_hour,
    new_account,
    pg_login,
    scram_cluster,
)
from tests.integration.integrations.tls_servers import Certificates, make_certificates

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificates() -> Iterator[Certificates]:
    base = Path(tempfile.mkdtemp(prefix="jit-pg-tls-"))
    try:
        # Issued to 127.0.0.1 only: "localhost" reaches the server under a name it lacks.
        yield make_certificates(base, owner="postgres", localhost=False)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_cluster(certificates: Certificates) -> Iterator[PgCluster]:
    hba = certificates.ca.parent / "pg_hba.conf"
    hba.write_text(
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"  # TCP: TLS only
    )
    shutil.chown(hba, "postgres", "postgres")
    options = (
        f"-c ssl=on -c ssl_cert_file={certificates.cert} -c ssl_key_file={certificates.key}"
        f" -c hba_file={hba}"
    )
    with scram_cluster(server_options=options) as cluster:
        yield cluster


def integration(cluster: PgCluster, **tls: str) -> PostgresIntegration:
    """``tls`` are more connection fields (sslmode, sslrootcert, host)."""
    connection = PostgresConnection.model_validate(
        {
            "host": "127.0.0.1",
            "port": cluster.port,
            "database": PG_DATABASE,
            "user": PG_SUPERUSER,
            "password": cluster.password,
            **tls,
        },
        context={RESOLVED: True},
    )
    return PostgresIntegration(name="tls-pg", connection=connection)


@pytest.fixture
def account(tls_cluster: PgCluster) -> Iterator[str]:
    name = new_account()
    yield name
    drop_pg_role(tls_cluster, name)


def test_verify_full_with_the_servers_ca_grants_and_the_grantee_logs_in_over_tls(
    tls_cluster: PgCluster, certificates: Certificates, account: str
) -> None:
    pg = integration(tls_cluster, sslmode="verify-full", sslrootcert=str(certificates.ca))

    pg.check()
    details = pg.grant(
        account=account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
    )

    with pg_login(details, tls_cluster) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)
    assert "sslmode=verify-full" in details.fields["psql"]
    pg.revoke(account=account)


def test_verify_full_refuses_a_server_whose_certificate_another_ca_signed(
    tls_cluster: PgCluster, certificates: Certificates, account: str
) -> None:
    pg = integration(tls_cluster, sslmode="verify-full", sslrootcert=str(certificates.other_ca))

    with pytest.raises(IntegrationError, match="certificate verify failed"):
        pg.grant(
            account=account, items=[GrantItem("sales.orders", "read_only")], until=in_one_hour()
        )

    with tls_cluster.connect() as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (account,)).fetchone() is None
        )


def test_verify_full_checks_the_name_too(
    tls_cluster: PgCluster, certificates: Certificates
) -> None:
    by_ip = integration(tls_cluster, sslmode="verify-full", sslrootcert=str(certificates.ca))
    by_name = integration(
        tls_cluster, sslmode="verify-full", sslrootcert=str(certificates.ca), host="localhost"
    )
    by_name_ca_only = integration(
        tls_cluster, sslmode="verify-ca", sslrootcert=str(certificates.ca), host="localhost"
    )

    by_ip.check()
    by_name_ca_only.check()  # verify-ca checks the signature, not the name
    with pytest.raises(IntegrationError, match="does not match host name"):
        by_name.check()


def test_the_server_takes_no_plain_tcp_login_so_the_tests_above_ran_over_tls(
    tls_cluster: PgCluster,
) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(
            host="127.0.0.1",
            port=tls_cluster.port,
            dbname=PG_DATABASE,
            user=PG_SUPERUSER,
            password=tls_cluster.password,
            sslmode="disable",
        ).close()
