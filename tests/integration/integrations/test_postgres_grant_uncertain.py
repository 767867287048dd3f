"""GrantUncertain: raised only once the grant's statements were sent, never before."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from app.integrations.base import AccessDetails, GrantItem, GrantUncertain, IntegrationError
from app.integrations.postgresql import _ACCOUNT_LOCK, _PRIVILEGES_LOCK, PostgresIntegration
from domain.connections import RESOLVED, PostgresConnection
from tests.integration.integrations.integration_servers import (
    PG_DATABASE,
    PgCluster,
    PgSession,
    eventually,
    in_one_hour,
    pg_role_exists,
)

pytestmark = pytest.mark.integration

_WAITING_BOT = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'jit-access-bot'"
    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
)


def grant_cut_while_waiting(
    pg: PostgresIntegration, blocker: PgSession, account: str
) -> Future[AccessDetails]:
    """Start a grant, let it block on the lock ``blocker`` holds, then end the bot's session."""
    pool = ThreadPoolExecutor(max_workers=1)
    granting = pool.submit(
        pg.grant, account=account, items=[GrantItem("sales", "read_only")], until=in_one_hour()
    )
    pool.shutdown(wait=False)
    assert eventually(lambda: blocker.execute(_WAITING_BOT).fetchone() is not None, seconds=10)
    blocker.execute(f"SELECT pg_terminate_backend(pid) FROM ({_WAITING_BOT}) AS waiting")
    return granting


def test_a_connection_lost_after_the_statements_were_sent_is_uncertain(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    with pg_cluster.connect() as blocker:
        blocker.execute("SELECT pg_advisory_lock(%s, %s)", _PRIVILEGES_LOCK)  # first in the batch
        granting = grant_cut_while_waiting(pg, blocker, pg_account)

        with pytest.raises(GrantUncertain, match="may have been applied"):
            granting.result(timeout=30)
    assert not pg_role_exists(pg_cluster, pg_account)  # here it was not: one transaction


def test_a_connection_lost_before_the_statements_were_sent_is_a_plain_failure(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    with pg_cluster.connect() as blocker:
        blocker.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_ACCOUNT_LOCK, pg_account))
        granting = grant_cut_while_waiting(pg, blocker, pg_account)

        with pytest.raises(IntegrationError) as caught:
            granting.result(timeout=30)
    assert not isinstance(caught.value, GrantUncertain)


def test_a_grant_that_cannot_connect_is_a_plain_failure(
    pg_cluster: PgCluster, pg_account: str
) -> None:
    connection = PostgresConnection.model_validate(
        {"host": "127.0.0.1", "port": pg_cluster.port, "database": PG_DATABASE,
         "user": "postgres", "password": "wrong-password"},
        context={RESOLVED: True},
    )  # fmt: skip
    broken = PostgresIntegration(name="broken-postgres", connection=connection)

    with pytest.raises(IntegrationError) as caught:
        broken.grant(
            account=pg_account, items=[GrantItem("sales", "read_only")], until=in_one_hour()
        )
    assert not isinstance(caught.value, GrantUncertain)
